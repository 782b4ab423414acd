//! [`init`] and the [`Telemetry`] handle; the builder and the ways to install the pipeline are
//! in `builder`, the panic hook in `panic`.

mod builder;
mod export;
mod guard;
mod panic;

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use tracing::{Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Layer;
use tracing_subscriber::registry::LookupSpan;

pub use builder::TelemetryBuilder;

use crate::config::Config;
use crate::error::{Error, ErrorKind};
use crate::internal::SelfStats;
use crate::logs::{JsonLayer, LogHandle};
use crate::metrics::{Metrics, MetricsServer};

/// Installs Watchpost as the process's global `tracing` subscriber, writing JSON lines to stdout.
///
/// Call it once, early in `main`, and keep the returned handle.
///
/// # Errors
/// [`ErrorKind::AlreadyInitialized`] if a global subscriber is already installed (a second call
/// does not panic).
///
/// ```no_run
/// let config = watchpost::Config::builder("demo").from_env().build().unwrap();
/// let telemetry = watchpost::init(config).unwrap();
/// assert!(watchpost::init(watchpost::Config::builder("demo").build().unwrap()).is_err());
/// # drop(telemetry);
/// ```
pub fn init(config: Config) -> Result<Telemetry, Error> {
    Telemetry::builder(config).install()
}

/// The handle returned by [`init`]: changes levels at runtime, reports self-telemetry and shuts
/// the pipeline down. Cheap to clone; all clones control the same pipeline.
///
/// ```
/// use tracing::Level;
/// let config = watchpost::Config::builder("demo")
///     .subsystem(watchpost::Subsystem::new("INSTANCES"))
///     .build()
///     .unwrap();
/// let (telemetry, _dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// telemetry.set_level("INSTANCES", Level::DEBUG).unwrap();
/// assert_eq!(telemetry.level("instances"), Some(Level::DEBUG));
/// assert!(telemetry.set_level("INSTANCES", Level::TRACE).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct Telemetry {
    // One Arc: the handle is cloned per request when it sits in an axum `State`, and ten
    // reference counts bouncing between cores showed up in profiles.
    inner: Arc<Pipeline>,
}

#[derive(Debug)]
struct Pipeline {
    logs: LogHandle,
    metrics: Metrics,
    tracer_provider: opentelemetry_sdk::trace::SdkTracerProvider,
    tracer: opentelemetry_sdk::trace::Tracer,
    exporter: Option<export::Exporter>,
    metrics_listen: std::net::SocketAddr,
    unknown_level_vars: Arc<[String]>,
    /// Settings ignored in whole or in part ([`Config::warnings`] and what the process
    /// environment changes in the OTLP exporters); each logged once at start.
    config_warnings: Arc<[String]>,
    /// The W3C baggage keys the HTTP layer copies into request context.
    baggage_fields: Arc<[String]>,
    /// The background log writer, if the pipeline writes through one (flushed on shutdown).
    log_writer: Option<crate::logs::NonBlocking>,
    /// Readiness and the registered listeners.
    health: crate::health::Health,
    /// Panics seen by the panic hook (`<svc>_panics_total`).
    panics: Arc<AtomicU64>,
    /// [`Telemetry::install_globals`] ran.
    globals: std::sync::Once,
}

impl Telemetry {
    /// The W3C baggage keys copied into request context (`OTEL_BAGGAGE_FIELDS`).
    pub(crate) fn baggage_fields(&self) -> Arc<[String]> {
        self.inner.baggage_fields.clone()
    }

    /// Starts setting up a pipeline from `config`; see [`TelemetryBuilder`].
    ///
    /// ```
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let builder = watchpost::Telemetry::builder(config);
    /// # drop(builder);
    /// ```
    pub fn builder(config: Config) -> TelemetryBuilder<crate::logs::NonBlocking> {
        let make_writer = match &config.log_output {
            crate::config::LogOutput::File(file) => crate::logs::NonBlocking::file(file.clone()),
            crate::config::LogOutput::Stdout => crate::logs::NonBlocking::stdout(),
        };
        TelemetryBuilder {
            config,
            make_writer,
            layers: (),
        }
    }

    /// The pipeline's health: readiness as data, and the listeners it waits for (see
    /// [`crate::health`]).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let app: axum::Router = watchpost::health::router(telemetry.health().clone());
    /// # drop(app);
    /// ```
    pub fn health(&self) -> &crate::health::Health {
        &self.inner.health
    }

    /// Shorthand for [`Health::readiness`](crate::health::Health::readiness): whether the
    /// service should get traffic, and why (what `GET /readyz` answers).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let readiness = telemetry.readiness();
    /// assert!(readiness.ready);
    /// assert!(!readiness.exporter.enabled);
    /// ```
    pub fn readiness(&self) -> crate::health::Readiness {
        self.inner.health.readiness()
    }

    /// The log pipeline's handle (levels, self-stats).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.logs().level("APP"), Some(tracing::Level::INFO));
    /// ```
    pub fn logs(&self) -> &LogHandle {
        &self.inner.logs
    }

    /// The metric pipeline: a real OpenTelemetry `Meter`, collection and exposition.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let requests = telemetry.metrics().meter().u64_counter("demo_requests_total").build();
    /// requests.add(1, &[]);
    /// ```
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The per-resource log files, if configured with
    /// [`ConfigBuilder::resource_logs`](crate::ConfigBuilder::resource_logs).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert!(telemetry.resource_logs().is_none());
    /// ```
    pub fn resource_logs(&self) -> Option<&crate::logs::ResourceLogs> {
        self.inner.logs.shared.resources.as_ref()
    }

    /// A real OpenTelemetry tracer on this pipeline (spans made with it are sampled and exported
    /// like the ones bridged from `tracing`).
    ///
    /// ```
    /// use opentelemetry::trace::{Tracer as _, Span as _};
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let mut span = telemetry.tracer().start("manual");
    /// span.end();
    /// ```
    pub fn tracer(&self) -> &opentelemetry_sdk::trace::Tracer {
        &self.inner.tracer
    }

    /// The tracer provider (e.g. for tracers with other instrumentation scopes).
    ///
    /// ```
    /// use opentelemetry::trace::TracerProvider as _;
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let tracer = telemetry.tracer_provider().tracer("my_library");
    /// # drop(tracer);
    /// ```
    pub fn tracer_provider(&self) -> &opentelemetry_sdk::trace::SdkTracerProvider {
        &self.inner.tracer_provider
    }

    /// Shorthand for [`LogHandle::set_level`].
    ///
    /// # Errors
    /// As [`LogHandle::set_level`].
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.set_level("APP", tracing::Level::WARN).unwrap();
    /// assert!(telemetry.set_level("NOPE", tracing::Level::WARN).is_err());
    /// ```
    pub fn set_level(&self, subsystem: &str, level: Level) -> Result<(), Error> {
        self.inner.logs.set_level(subsystem, level)
    }

    /// Shorthand for [`LogHandle::level`].
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.level("APP"), Some(tracing::Level::INFO));
    /// ```
    pub fn level(&self, subsystem: &str) -> Option<Level> {
        self.inner.logs.level(subsystem)
    }

    /// Shorthand for [`LogHandle::levels`].
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.levels(), vec![("APP".to_string(), tracing::Level::INFO)]);
    /// ```
    pub fn levels(&self) -> Vec<(String, Level)> {
        self.inner.logs.levels()
    }

    /// Counters of the pipeline's own failures (e.g. log lines that could not be written).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.self_stats().log_write_errors, 0);
    /// assert_eq!(telemetry.self_stats().spans_dropped, 0);
    /// ```
    pub fn self_stats(&self) -> SelfStats {
        #[cfg_attr(not(feature = "otlp"), allow(unused_mut))]
        let mut stats = self.inner.logs.self_stats();
        #[cfg(feature = "otlp")]
        if let Some(exporter) = &self.inner.exporter {
            let c = &exporter.counters;
            stats.spans_dropped = c.dropped(crate::internal::Signal::Traces);
            stats.log_records_dropped = c.dropped(crate::internal::Signal::Logs);
            stats.span_exports_failed = c.errors(crate::internal::Signal::Traces);
        }
        stats
    }

    /// Starts the metrics listener on `METRICS_LISTEN` (default `127.0.0.1:9464`, loopback only)
    /// serving `GET /metrics`, `/metrics/catalogue`, and the probes `/healthz` and `/readyz`
    /// ([`crate::health`]), on hyper alone (no `http` feature needed). Request heads must arrive
    /// within 10 s; at most 256 connections are open at once. Needs a Tokio runtime.
    ///
    /// # Errors
    /// [`ErrorKind::Listen`] naming the address if it cannot be bound.
    ///
    /// ```no_run
    /// # async fn f(telemetry: watchpost::Telemetry) -> Result<(), watchpost::Error> {
    /// let server = telemetry.serve_metrics().await?;
    /// println!("metrics on http://{}/metrics", server.local_addr());
    /// # Ok(()) }
    /// ```
    pub async fn serve_metrics(&self) -> Result<MetricsServer, Error> {
        let health = self.inner.health.clone();
        // The probes, answered by the health module as on its axum router.
        let extra: crate::metrics::ExtraRoutes = Arc::new(move |path: &str| {
            let (status, body) = crate::health::answer(&health, path)?;
            let status = hyper::StatusCode::from_u16(status)
                .unwrap_or(hyper::StatusCode::SERVICE_UNAVAILABLE);
            Some(crate::metrics::Reply::json(status, body))
        });
        let started = MetricsServer::start_plain(
            self.inner.metrics_listen,
            self.inner.metrics.clone(),
            extra,
        )
        .await;
        self.listening(started)
    }

    /// The listener's result, or [`ErrorKind::Listen`] naming the address and `METRICS_LISTEN`.
    fn listening(&self, started: std::io::Result<MetricsServer>) -> Result<MetricsServer, Error> {
        started.map_err(|e| {
            Error::new(ErrorKind::Listen {
                address: self.inner.metrics_listen.to_string(),
                reason: e.to_string(),
            })
            .with_setting(crate::config::env::METRICS_LISTEN.name)
        })
    }

    /// Like [`serve_metrics`](Self::serve_metrics), with extra routes on the same listener
    /// (e.g. an admin API that must stay off the application's port).
    ///
    /// # Errors
    /// [`ErrorKind::Listen`] naming the address if it cannot be bound.
    ///
    /// ```no_run
    /// # async fn f(telemetry: watchpost::Telemetry) -> Result<(), watchpost::Error> {
    /// let admin = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok" }));
    /// let server = telemetry.serve_metrics_with(admin).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub async fn serve_metrics_with(&self, extra: axum::Router) -> Result<MetricsServer, Error> {
        self.serve_app(crate::metrics::router(self.inner.metrics.clone()).merge(extra))
            .await
    }

    /// Serves `app` as it is on the metrics listener (`METRICS_LISTEN`): build it from
    /// [`metrics::router`](crate::metrics::router) to put a layer — authentication, say — in
    /// front of `/metrics` and any admin routes.
    ///
    /// # Errors
    /// [`ErrorKind::Listen`] naming the address if it cannot be bound.
    ///
    /// ```no_run
    /// # async fn f(telemetry: watchpost::Telemetry) -> Result<(), watchpost::Error> {
    /// let app = watchpost::metrics::router(telemetry.metrics().clone())
    ///     .route("/admin/ping", axum::routing::get(|| async { "pong" }));
    /// // … .layer(your_auth_layer) …
    /// let server = telemetry.serve_app(app).await?;
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "http")]
    #[cfg_attr(docsrs, doc(cfg(feature = "http")))]
    pub async fn serve_app(&self, app: axum::Router) -> Result<MetricsServer, Error> {
        let service = hyper_util::service::TowerToHyperService::new(app);
        let started = MetricsServer::start(self.inner.metrics_listen, service).await;
        self.listening(started)
    }

    /// Exports everything queued so far (without stopping), waiting at most `timeout`.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.force_flush(std::time::Duration::from_secs(1));
    /// ```
    pub fn force_flush(&self, timeout: Duration) {
        if let Some(exporter) = &self.inner.exporter {
            exporter.flush(timeout);
        }
        if let Some(r) = self.resource_logs() {
            r.flush();
        }
        if let Some(w) = &self.inner.log_writer {
            w.flush(timeout);
        }
    }

    /// Flushes everything, waiting at most 5 seconds. Safe to call more than once.
    ///
    /// # Errors
    /// [`ErrorKind::ShutdownTimedOut`] if the export queues or the background log writer could
    /// not be emptied in time; what was left is dropped (and counted).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.shutdown().unwrap();
    /// ```
    pub fn shutdown(&self) -> Result<(), Error> {
        self.shutdown_with_timeout(Duration::from_secs(5))
    }

    /// Like [`shutdown`](Self::shutdown) with an explicit bound on the wait.
    ///
    /// # Errors
    /// [`ErrorKind::ShutdownTimedOut`] if the export queues or the background log writer could
    /// not be emptied in time; what was left is dropped (and counted).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.shutdown_with_timeout(std::time::Duration::from_millis(100)).unwrap();
    /// ```
    pub fn shutdown_with_timeout(&self, timeout: Duration) -> Result<(), Error> {
        let deadline = std::time::Instant::now() + timeout;
        let left = || deadline.saturating_duration_since(std::time::Instant::now());
        // Traces first: the tail sampler decides what is still buffered and queues it.
        let _ = self.inner.tracer_provider.shutdown_with_timeout(left());
        let mut complete = true;
        if let Some(exporter) = &self.inner.exporter {
            complete = exporter.shutdown(left());
        }
        self.inner.metrics.shutdown(left());
        if let Some(r) = self.resource_logs() {
            r.flush();
        }
        if let Some(w) = &self.inner.log_writer {
            complete &= w.flush(left().max(Duration::from_millis(100)));
        }
        // No `stdout().flush()` here: a writer blocked on a stalled stdout holds its lock, and
        // shutdown must keep its deadline. The background writer was flushed (bounded) above; a
        // plain stdout writer writes whole lines, which std's line buffering has passed on.
        if complete {
            Ok(())
        } else {
            Err(Error::new(ErrorKind::ShutdownTimedOut {
                timeout_ms: timeout.as_millis() as u64,
            }))
        }
    }

    /// Makes this pipeline the process's defaults beyond `tracing`: the global OpenTelemetry
    /// meter and tracer providers (for code that uses `opentelemetry::global`), Watchpost's W3C
    /// propagator as the global propagator, the bridge that turns records of the `log` crate
    /// into events, and the flush of buffered lines when the process exits; then reports
    /// configuration warnings (unknown `LOG_LEVEL_<X>` variables). [`init`] and
    /// [`TelemetryBuilder::install`] do this; call it yourself after installing the layer of
    /// [`TelemetryBuilder::into_layer`] in your own subscriber. Only the first call does
    /// anything.
    ///
    /// ```no_run
    /// use tracing_subscriber::layer::SubscriberExt as _;
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let (telemetry, layer) = watchpost::Telemetry::builder(config).into_layer();
    /// tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();
    /// telemetry.install_globals();
    /// ```
    pub fn install_globals(&self) {
        self.inner.globals.call_once(|| {
            opentelemetry::global::set_meter_provider(self.inner.metrics.provider().clone());
            opentelemetry::global::set_tracer_provider(self.inner.tracer_provider.clone());
            opentelemetry::global::set_text_map_propagator(crate::traces::new_propagator());
            self.install_log_bridge();
            if let Some(w) = &self.inner.log_writer {
                flush_at_exit(w.clone());
            }
            self.report_config_warnings();
        });
    }

    /// Records of the `log` crate (used by some dependencies) become events of this pipeline,
    /// filtered and routed by their own target like any event. If the application already
    /// installed a `log` logger, that one stays: when it is tracing-log's `LogTracer` (which
    /// tracing-subscriber's `init()` installs) records reach the pipeline all the same, and the
    /// pipeline's levels drive `log`'s maximum level as with its own; for any other a WARN says
    /// that `log` records do not reach Watchpost.
    fn install_log_bridge(&self) {
        let shared = &self.inner.logs.shared;
        let max = crate::logs::log_level_filter(shared.filter.max_verbosity());
        match tracing_log::LogTracer::builder().with_max_level(max).init() {
            Ok(()) => shared
                .log_crate
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Err(_) if guard::log_records_reach_the_pipeline() => {
                // Someone else's LogTracer: its maximum level was the pipeline's at the time
                // (or `trace`); from now on `set_level` keeps it.
                log::set_max_level(max);
                shared
                    .log_crate
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            Err(_) => tracing::warn!(
                target: crate::catalogue::targets::PIPELINE,
                "another `log` logger is installed: records of the `log` crate do not reach Watchpost"
            ),
        }
    }

    fn report_config_warnings(&self) {
        for warning in self.inner.config_warnings.iter() {
            tracing::warn!(
                target: crate::catalogue::targets::PIPELINE,
                warning = %warning,
                "a configuration value is not supported and is ignored, in whole or in part"
            );
        }
        if !self.inner.unknown_level_vars.is_empty() {
            tracing::warn!(
                target: crate::catalogue::targets::PIPELINE,
                variables = %self.inner.unknown_level_vars.join(", "),
                known_subsystems = %self.inner.logs.shared.filter.names.join(", "),
                "{} variables name no declared subsystem and are ignored",
                crate::config::env::LOG_LEVEL_SUBSYSTEM.prefix()
            );
        }
    }
}

/// The configuration's warnings (reported once at start). The OTLP exporters read only the
/// configuration, so the process environment adds none.
fn start_warnings(config: &Config) -> Vec<String> {
    config.warnings.clone()
}

/// The globally installed pipeline's background log writer, flushed when the process exits.
static EXIT_FLUSH: std::sync::OnceLock<crate::logs::NonBlocking> = std::sync::OnceLock::new();

/// Makes `exit` (a return from `main`, `std::process::exit`) write the lines still buffered:
/// the last lines before an exit are often the ones that explain it. Not run on `abort` or a
/// fatal signal.
fn flush_at_exit(writer: crate::logs::NonBlocking) {
    extern "C" fn flush() {
        if let Some(w) = EXIT_FLUSH.get() {
            w.flush(Duration::from_secs(2));
        }
    }
    if EXIT_FLUSH.set(writer).is_ok() {
        // SAFETY: `flush` is a plain function that touches only a static; registering it has no
        // preconditions.
        unsafe {
            libc::atexit(flush);
        }
    }
}

/// Builds the pipeline: the [`Telemetry`] handle, and everything that goes into a subscriber as
/// one layer (what [`TelemetryBuilder`] installs, or hands out with `into_layer`).
fn assemble<W, S>(
    config: Config,
    make_writer: W,
) -> (Telemetry, impl Layer<S> + Send + Sync + 'static)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use opentelemetry::trace::TracerProvider as _;
    let config = &config;
    let background = (&make_writer as &dyn std::any::Any)
        .downcast_ref::<crate::logs::NonBlocking>()
        .cloned();
    let (layer, logs) = JsonLayer::new(config, make_writer);
    if let Some(b) = &background {
        logs.shared.counters.add_background(b.failed_counter());
    }
    let export_counters = Arc::new(crate::internal::ExportCounters::default());
    let tail_counters = Arc::new(crate::internal::TailCounters::default());
    let resource = otel_resource(config);
    let log_state = logs.shared.clone();
    let metrics = Metrics::new(
        config,
        crate::metrics::SelfCounters {
            resource: resource.clone(),
            log_write_errors: Box::new(move || log_state.counters.snapshot().log_write_errors),
            export: export_counters.clone(),
            tail: tail_counters.clone(),
            resource_logs: logs.shared.resources.clone(),
        },
    );
    // `#[measured]` functions: declared in this catalogue; recorded by the first pipeline.
    crate::metrics::function::attach(&metrics, &config.service_name);
    let dispatch_slot = Arc::new(std::sync::Mutex::new(None));

    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_resource(resource.clone())
        .with_sampler(crate::traces::MarkingSampler {
            ratio: config.trace_ratio,
        })
        // Fixed, as the OpenTelemetry variables table says: the SDK's builder would otherwise
        // read OTEL_SPAN_EVENT_COUNT_LIMIT / OTEL_SPAN_LINK_COUNT_LIMIT from the process.
        .with_max_attributes_per_span(128)
        .with_max_events_per_span(128)
        .with_max_links_per_span(128);
    let (exporter, provider, tail) = export::attach(
        config,
        resource,
        provider,
        &metrics,
        &logs,
        (
            export_counters.clone(),
            tail_counters,
            dispatch_slot.clone(),
        ),
    );
    let tracer_provider = provider.build();
    let tracer = tracer_provider.tracer("watchpost");
    // The server span carries the access line's data (but the body size): not a span event.
    // The bridge marks its spans with the tag the pipeline's exemplars look for.
    let otel_layer = crate::traces::Bridge::new(
        tail,
        config.trace_ratio,
        &[crate::catalogue::targets::HTTP_ACCESS],
        metrics.trace_tag(),
    );
    let panics = Arc::new(AtomicU64::new(0));
    let counted = panics.clone();
    metrics.observe_u64(&crate::catalogue::PANICS, move |o| {
        o.observe(counted.load(std::sync::atomic::Ordering::Relaxed), &[])
    });
    let health = crate::health::Health::new(
        exporter.is_some().then_some(export_counters),
        logs.clone(),
        config.readiness,
    );
    let telemetry = Telemetry {
        inner: Arc::new(Pipeline {
            logs,
            metrics,
            tracer_provider,
            tracer,
            exporter,
            metrics_listen: config.metrics_listen,
            unknown_level_vars: config.unknown_level_vars.clone().into(),
            config_warnings: start_warnings(config).into(),
            baggage_fields: config.baggage_fields.clone().into(),
            log_writer: background,
            health,
            panics,
            globals: std::sync::Once::new(),
        }),
    };
    let registered = Registered {
        dispatch: dispatch_slot,
        resources: telemetry.resource_logs().cloned(),
    };
    // Guarded: the panic hook must know when a panic happens inside these callbacks.
    let layers = registered.and_then(otel_layer).and_then(layer);
    (telemetry, guard::Guarded(layers))
}

/// Learns the pipeline's dispatcher when its subscriber is built (in ours or in the
/// application's, with `into_layer`): the export thread's and the resource files' reports are
/// written through it (those threads have no default dispatcher of their own).
struct Registered {
    dispatch: crate::internal::DispatchSlot,
    resources: Option<crate::logs::ResourceLogs>,
}

impl<S: Subscriber> Layer<S> for Registered {
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        *self.dispatch.lock().unwrap_or_else(|p| p.into_inner()) = Some(dispatch.downgrade());
        if let Some(r) = &self.resources {
            r.set_dispatch(dispatch);
        }
    }
}

/// The OpenTelemetry resource of every signal (built here only): service name, version,
/// instance id and deployment environment, and the other resource attributes configured
/// (`OTEL_RESOURCE_ATTRIBUTES`).
fn otel_resource(config: &Config) -> opentelemetry_sdk::Resource {
    use opentelemetry::KeyValue;
    opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", config.service_version.clone()),
            KeyValue::new("service.instance.id", config.service_instance_id.clone()),
            KeyValue::new("deployment.environment.name", config.environment.clone()),
        ])
        .with_attributes(
            (config.resource_attributes.iter()).map(|(k, v)| KeyValue::new(k.clone(), v.clone())),
        )
        .build()
}
