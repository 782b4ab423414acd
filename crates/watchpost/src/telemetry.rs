//! [`init`] and the [`Telemetry`] handle.

use std::sync::Arc;
use std::time::Duration;

use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;

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
    exporter: Option<crate::export::Exporter>,
    metrics_listen: std::net::SocketAddr,
    unknown_level_vars: Arc<[String]>,
    /// The W3C baggage keys the HTTP layer copies into request context.
    baggage_fields: Arc<[String]>,
    /// The background log writer, if the pipeline writes through one (flushed on shutdown).
    log_writer: Option<crate::logs::NonBlocking>,
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
        }
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
    /// ```
    pub fn self_stats(&self) -> SelfStats {
        self.inner.logs.self_stats()
    }

    /// Starts the metrics listener on `METRICS_LISTEN` (default `127.0.0.1:9464`, loopback only)
    /// serving `GET /metrics`. Needs a Tokio runtime.
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
        self.serve_metrics_with(axum::Router::new()).await
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
    pub async fn serve_app(&self, app: axum::Router) -> Result<MetricsServer, Error> {
        MetricsServer::start(self.inner.metrics_listen, app)
            .await
            .map_err(|e| {
                Error::new(ErrorKind::Listen {
                    address: self.inner.metrics_listen.to_string(),
                    reason: e.to_string(),
                })
                .with_setting(crate::config::env::METRICS_LISTEN.name)
            })
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

    /// Records of the `log` crate (used by some dependencies) become events of this pipeline,
    /// filtered and routed by their own target like any event. If the application already
    /// installed a `log` logger, that one stays and a WARN says so.
    fn install_log_bridge(&self) {
        let shared = &self.inner.logs.shared;
        let max = crate::logs::log_level_filter(shared.filter.max_verbosity());
        match tracing_log::LogTracer::builder().with_max_level(max).init() {
            Ok(()) => shared
                .log_crate
                .store(true, std::sync::atomic::Ordering::Relaxed),
            Err(_) => tracing::warn!(
                target: crate::catalogue::targets::PIPELINE,
                "another `log` logger is installed: records of the `log` crate do not reach Watchpost"
            ),
        }
    }

    fn report_config_warnings(&self) {
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

/// Sets up a pipeline: choose the log writer, then [`install`](Self::install) it globally or get
/// a [`tracing::Dispatch`] for scoped use ([`into_dispatch`](Self::into_dispatch)).
///
/// ```
/// let config = watchpost::Config::builder("demo").build().unwrap();
/// let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
///     .writer(std::io::sink)
///     .into_dispatch();
/// tracing::dispatcher::with_default(&dispatch, || tracing::info!("scoped"));
/// # drop(telemetry);
/// ```
#[derive(Debug)]
#[must_use = "a TelemetryBuilder does nothing until install() or into_dispatch()"]
pub struct TelemetryBuilder<W> {
    config: Config,
    make_writer: W,
}

impl<W> TelemetryBuilder<W>
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
    pub fn writer<W2>(self, make_writer: W2) -> TelemetryBuilder<W2>
    where
        W2: for<'w> MakeWriter<'w> + Send + Sync + 'static,
    {
        TelemetryBuilder {
            config: self.config,
            make_writer,
        }
    }

    /// Installs the pipeline as the global default subscriber.
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
        let (telemetry, dispatch) = self.build();
        tracing::dispatcher::set_global_default(dispatch)
            .map_err(|_| Error::new(ErrorKind::AlreadyInitialized))?;
        opentelemetry::global::set_meter_provider(telemetry.inner.metrics.provider().clone());
        opentelemetry::global::set_tracer_provider(telemetry.inner.tracer_provider.clone());
        opentelemetry::global::set_text_map_propagator(crate::traces::new_propagator());
        telemetry.install_log_bridge();
        if let Some(w) = &telemetry.inner.log_writer {
            flush_at_exit(w.clone());
        }
        telemetry.report_config_warnings();
        Ok(telemetry)
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
        let (telemetry, dispatch) = self.build();
        tracing::dispatcher::with_default(&dispatch, || telemetry.report_config_warnings());
        (telemetry, dispatch)
    }

    fn build(self) -> (Telemetry, tracing::Dispatch) {
        use opentelemetry::trace::TracerProvider as _;
        let config = &self.config;
        let background = (&self.make_writer as &dyn std::any::Any)
            .downcast_ref::<crate::logs::NonBlocking>()
            .cloned();
        let (layer, logs) = JsonLayer::new(config, self.make_writer);
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

        let exporter = config.otel_enabled.then(|| {
            crate::export::start(
                crate::export::ExportSettings {
                    endpoint: config.otel_endpoint.clone(),
                    insecure: config.otel_insecure,
                    ca_file: config.otel_ca_file.clone(),
                    timeout: config.export_timeout,
                    metric_interval: config.metric_export_interval,
                    export_metrics: config.export_metrics,
                    priority: config.export_priority,
                    spans: config.span_batching,
                    logs: config.log_batching,
                },
                resource.clone(),
                metrics.clone(),
                export_counters,
                dispatch_slot.clone(),
            )
        });
        let mut provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
            .with_resource(resource)
            .with_sampler(crate::traces::MarkingSampler {
                ratio: config.trace_ratio,
            })
            .with_max_attributes_per_span(128);
        let mut tail = None;
        if let Some(exporter) = &exporter {
            let t = Arc::new(crate::traces::TailSampler::new(
                crate::traces::TailSettings {
                    ratio: config.trace_ratio,
                    slow: config.trace_slow,
                    max_traces: 4096,
                    max_spans: 65_536,
                    max_attribute_bytes: 1024,
                },
                Arc::new(exporter.clone()),
                crate::redact::Redactor::new(&config.redaction),
                tail_counters,
            ));
            provider = provider.with_span_processor(crate::traces::SharedTail(t.clone()));
            tail = Some(t);
            if config.export_logs {
                // The provider only makes records (no processors): the layer queues what the
                // JSON line has, and the export thread builds the records from it.
                let log_provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
                use opentelemetry::logs::LoggerProvider as _;
                exporter.set_log_maker(crate::export::LogMaker {
                    logger: log_provider.logger("watchpost"),
                    scope: opentelemetry::InstrumentationScope::builder("watchpost")
                        .with_version(env!("CARGO_PKG_VERSION"))
                        .build(),
                    subsystems: logs.shared.filter.names.clone(),
                });
                let _ = logs.shared.log_sink.set(Box::new(exporter.clone()));
            }
        }
        let tracer_provider = provider.build();
        let tracer = tracer_provider.tracer("watchpost");
        // The server span carries the access line's data (but the body size): not a span event.
        let otel_layer = crate::traces::Bridge::new(
            tail,
            config.trace_ratio,
            &[crate::catalogue::targets::HTTP_ACCESS],
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
                baggage_fields: config.baggage_fields.clone().into(),
                log_writer: background,
            }),
        };
        let subscriber = tracing_subscriber::registry().with(otel_layer).with(layer);
        let dispatch = tracing::Dispatch::new(subscriber);
        *dispatch_slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(dispatch.downgrade());
        if let Some(r) = telemetry.resource_logs() {
            r.set_dispatch(&dispatch);
        }
        (telemetry, dispatch)
    }
}

/// The OpenTelemetry resource of every signal (built here only): service name, version,
/// instance id and deployment environment.
fn otel_resource(config: &Config) -> opentelemetry_sdk::Resource {
    use opentelemetry::KeyValue;
    opentelemetry_sdk::Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", config.service_version.clone()),
            KeyValue::new("service.instance.id", config.service_instance_id.clone()),
            KeyValue::new("deployment.environment.name", config.environment.clone()),
        ])
        .build()
}
