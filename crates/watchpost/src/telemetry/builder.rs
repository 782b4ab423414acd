//! [`TelemetryBuilder`]: the log writer, the application's own layers, and the three ways to
//! use the pipeline: installed as the global subscriber, as a `Dispatch`, or as a `Layer` in a
//! registry the application builds itself.

use tracing::Subscriber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Layer, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Registry;

use super::Telemetry;
use crate::config::Config;
use crate::error::{Error, ErrorKind};

/// The layers added with [`TelemetryBuilder::with_layer`].
type UserLayers = Vec<Box<dyn Layer<Registry> + Send + Sync + 'static>>;

/// Sets up a pipeline: choose the log writer, add layers of your own, then
/// [`install`](Self::install) it globally, get a [`tracing::Dispatch`] for scoped use
/// ([`into_dispatch`](Self::into_dispatch)), or get it as a `Layer` for a registry you build
/// yourself ([`into_layer`](Self::into_layer)).
///
/// `L` is `()` until [`with_layer`](Self::with_layer) adds a layer, then the list of layers
/// (`into_layer` is only there without them: add yours to your own registry instead).
///
/// ```
/// let config = watchpost::Config::builder("demo").build().unwrap();
/// let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
///     .writer(std::io::sink)
///     .into_dispatch();
/// tracing::dispatcher::with_default(&dispatch, || tracing::info!("scoped"));
/// # drop(telemetry);
/// ```
#[must_use = "a TelemetryBuilder does nothing until install(), into_dispatch() or into_layer()"]
pub struct TelemetryBuilder<W, L = ()> {
    pub(super) config: Config,
    pub(super) make_writer: W,
    pub(super) layers: L,
}

impl<W, L> std::fmt::Debug for TelemetryBuilder<W, L> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<W, L> TelemetryBuilder<W, L>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    /// Where log lines go. Default: [`NonBlocking::stdout`](crate::logs::NonBlocking::stdout)
    /// (a background thread writes to stdout; logging never waits for it), or
    /// [`NonBlocking::file`](crate::logs::NonBlocking::file) when the configuration's
    /// [`log_output`](crate::Config::log_output) is a file; this replaces either. Each line is one
    /// `write_all` call on a writer from `make_writer`: any other writer is written to by the
    /// thread that logs. Wrap it in a [`NonBlocking`](crate::logs::NonBlocking) to keep the
    /// guarantee; the pipeline then flushes it on shutdown.
    ///
    /// ```
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let b = watchpost::Telemetry::builder(config).writer(std::io::stderr);
    /// # drop(b);
    /// ```
    pub fn writer<W2>(self, make_writer: W2) -> TelemetryBuilder<W2, L>
    where
        W2: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        TelemetryBuilder {
            config: self.config,
            make_writer,
            layers: self.layers,
        }
    }
}

impl<W> TelemetryBuilder<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    /// Adds a layer of your own to the pipeline: a test writer, Sentry's, a `fmt` layer for
    /// humans… — any [`Layer`] of a [`Registry`]. Call it once per layer; they see events and
    /// spans in the order they were added, before Watchpost's layers, and each gets
    /// `on_register_dispatch` when the dispatcher is built.
    ///
    /// Your layers see every event and span the pipeline sees, and no other: Watchpost's
    /// per-subsystem levels (and [`Telemetry::set_level`]) filter for the whole subscriber, and
    /// `TRACE` is never enabled (the logging standard has no such level). So a layer that needs
    /// `TRACE` spans or events does not work here — tokio-console's, for one, reads the runtime's
    /// `TRACE` instrumentation, and sees nothing. A layer that filters on its own (implements
    /// `enabled` or `register_callsite`, such as `EnvFilter` used as a layer) filters for the
    /// whole subscriber too, Watchpost's lines included; give it a per-layer filter instead
    /// (`layer.with_filter(…)`), which only narrows what that layer sees.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// /// Counts events.
    /// struct Counter(Arc<AtomicUsize>);
    /// impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counter {
    ///     fn on_event(&self, _: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let (_telemetry, dispatch) = watchpost::Telemetry::builder(config)
    ///     .writer(std::io::sink)
    ///     .with_layer(Counter(seen.clone()))
    ///     .into_dispatch();
    /// tracing::dispatcher::with_default(&dispatch, || {
    ///     tracing::info!("counted");
    ///     tracing::debug!("below the level: nobody sees it");
    /// });
    /// assert_eq!(seen.load(Ordering::Relaxed), 1);
    /// ```
    pub fn with_layer<U>(self, layer: U) -> TelemetryBuilder<W, UserLayers>
    where
        U: Layer<Registry> + Send + Sync + 'static,
    {
        TelemetryBuilder {
            config: self.config,
            make_writer: self.make_writer,
            layers: vec![Box::new(layer)],
        }
    }

    /// Installs the pipeline as the global default subscriber, and makes it the process's
    /// OpenTelemetry and `log` defaults ([`Telemetry::install_globals`]).
    ///
    /// # Errors
    /// [`ErrorKind::AlreadyInitialized`] if a global subscriber is already set.
    ///
    /// ```no_run
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let telemetry = watchpost::Telemetry::builder(config).writer(std::io::stderr).install().unwrap();
    /// # drop(telemetry);
    /// ```
    pub fn install(self) -> Result<Telemetry, Error> {
        let (telemetry, dispatch) = self.into_dispatch_quietly();
        install(telemetry, dispatch)
    }

    /// Builds the pipeline without installing it: use the dispatch with
    /// [`tracing::dispatcher::with_default`] (tests, benchmarks, embedding).
    ///
    /// ```
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let (_telemetry, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// tracing::dispatcher::with_default(&dispatch, || tracing::warn!("only here"));
    /// ```
    pub fn into_dispatch(self) -> (Telemetry, tracing::Dispatch) {
        let (telemetry, dispatch) = self.into_dispatch_quietly();
        tracing::dispatcher::with_default(&dispatch, || telemetry.report_config_warnings());
        (telemetry, dispatch)
    }

    fn into_dispatch_quietly(self) -> (Telemetry, tracing::Dispatch) {
        let (telemetry, layer) = super::assemble(self.config, self.make_writer);
        let dispatch = tracing::Dispatch::new(tracing_subscriber::registry().with(layer));
        (telemetry, dispatch)
    }

    /// The whole pipeline as one [`Layer`], for a registry you build yourself (with your other
    /// layers, your own filters, your own `init`): the JSON lines, trace ids, the bridge to
    /// OpenTelemetry and its export, per-resource files, metrics, [`Telemetry::set_level`] all
    /// work as with [`install`](Self::install). Then call [`Telemetry::install_globals`] to make
    /// it the process's OpenTelemetry and `log` defaults too, as `install` does.
    ///
    /// The registry must be a [`tracing_subscriber::Registry`] (any layers around it): the span
    /// data lives in its extensions. Do not wrap the layer in a per-layer filter
    /// (`.with_filter(…)`): it must see every span enter, exit and close (a filtered layer misses
    /// the exit of a span closed while entered, and exemplars could then name a stale span); its
    /// own levels filter already. The pipeline's levels filter for the whole subscriber, and
    /// never enable `TRACE` (see [`with_layer`](Self::with_layer)). Installing it with
    /// tracing-subscriber's `init()` is fine: the `LogTracer` that `init()` installs hands `log`
    /// records to the pipeline, and `install_globals` keeps `log`'s maximum level in step with
    /// [`Telemetry::set_level`].
    ///
    /// ```
    /// use tracing_subscriber::layer::SubscriberExt as _;
    ///
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let (telemetry, layer) = watchpost::Telemetry::builder(config)
    ///     .writer(std::io::sink)
    ///     .into_layer();
    /// let subscriber = tracing_subscriber::registry()
    ///     .with(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
    ///     .with(layer);
    /// tracing::subscriber::with_default(subscriber, || {
    ///     let span = tracing::info_span!("work");
    ///     assert_eq!(watchpost::traces::trace_id(&span).unwrap().len(), 32);
    /// });
    /// // With `tracing::subscriber::set_global_default(subscriber)`, then:
    /// // telemetry.install_globals();
    /// # drop(telemetry);
    /// ```
    pub fn into_layer<S>(self) -> (Telemetry, impl Layer<S> + Send + Sync + 'static)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        super::assemble(self.config, self.make_writer)
    }
}

impl<W> TelemetryBuilder<W, UserLayers>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    /// Adds another layer of your own (see [`TelemetryBuilder::with_layer`]).
    ///
    /// ```
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let (_telemetry, dispatch) = watchpost::Telemetry::builder(config)
    ///     .writer(std::io::sink)
    ///     .with_layer(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
    ///     .with_layer(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
    ///     .into_dispatch();
    /// # drop(dispatch);
    /// ```
    pub fn with_layer<U>(mut self, layer: U) -> Self
    where
        U: Layer<Registry> + Send + Sync + 'static,
    {
        self.layers.push(Box::new(layer));
        self
    }

    /// Installs the pipeline, with your layers, as the global default subscriber (see
    /// [`TelemetryBuilder::install`]).
    ///
    /// # Errors
    /// [`ErrorKind::AlreadyInitialized`] if a global subscriber is already set.
    ///
    /// ```no_run
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let telemetry = watchpost::Telemetry::builder(config)
    ///     .with_layer(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
    ///     .install()
    ///     .unwrap();
    /// # drop(telemetry);
    /// ```
    pub fn install(self) -> Result<Telemetry, Error> {
        let (telemetry, dispatch) = self.into_dispatch_quietly();
        install(telemetry, dispatch)
    }

    /// Builds the pipeline, with your layers, without installing it (see
    /// [`TelemetryBuilder::into_dispatch`]).
    ///
    /// ```
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let (_telemetry, dispatch) = watchpost::Telemetry::builder(config)
    ///     .writer(std::io::sink)
    ///     .with_layer(tracing_subscriber::fmt::layer().with_writer(std::io::sink))
    ///     .into_dispatch();
    /// tracing::dispatcher::with_default(&dispatch, || tracing::warn!("both layers see this"));
    /// ```
    pub fn into_dispatch(self) -> (Telemetry, tracing::Dispatch) {
        let (telemetry, dispatch) = self.into_dispatch_quietly();
        tracing::dispatcher::with_default(&dispatch, || telemetry.report_config_warnings());
        (telemetry, dispatch)
    }

    fn into_dispatch_quietly(self) -> (Telemetry, tracing::Dispatch) {
        let (telemetry, layer) = super::assemble(self.config, self.make_writer);
        // The application's layers sit on the registry itself (what `Layer<Registry>` means),
        // Watchpost's around them: every event reaches them first, once Watchpost's filter let
        // it through. Chained with `and_then` rather than left a `Vec`: tracing-subscriber's
        // `Vec` layer does not pass `on_register_dispatch` on, `Layered` does. Guarded like
        // Watchpost's: a panic inside a layer's callback is left to the previous panic hook.
        // (Not an `Option` either: its layer impl does not pass it on.)
        let user = self
            .layers
            .into_iter()
            .reduce(|chain, next| Box::new(chain.and_then(next)))
            .unwrap_or_else(|| Box::new(tracing_subscriber::layer::Identity::new()));
        let subscriber = tracing_subscriber::registry()
            .with(super::guard::Guarded(user))
            .with(layer);
        (telemetry, tracing::Dispatch::new(subscriber))
    }
}

/// Sets `dispatch` as the global default, then the process-wide defaults of `telemetry`.
fn install(telemetry: Telemetry, dispatch: tracing::Dispatch) -> Result<Telemetry, Error> {
    tracing::dispatcher::set_global_default(dispatch)
        .map_err(|_| Error::new(ErrorKind::AlreadyInitialized))?;
    telemetry.install_globals();
    Ok(telemetry)
}
