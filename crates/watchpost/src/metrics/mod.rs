//! Metrics: one OpenTelemetry `SdkMeterProvider` whose single reader feeds both the Prometheus /
//! OpenMetrics `/metrics` endpoint and (with the export issue) OTLP push, so every measurement is
//! aggregated once.
//!
//! * [`Metrics::meter`] gives the application a real `opentelemetry::metrics::Meter`.
//! * [`Metrics::encode`] collects and renders the exposition ([`exposition`]).
//! * [`router`] / [`crate::Telemetry::serve_metrics`] serve it over HTTP.
//! * Built-in metrics: see [`BUILTIN_METRICS`]; histogram bucket presets: [`buckets`].
//! * Cardinality guard: every instrument has a series budget (default 2000,
//!   [`ConfigBuilder::metric_series_budget`](crate::ConfigBuilder::metric_series_budget) per
//!   instrument). Over budget, new label sets are folded by the SDK into one series labelled
//!   `otel_metric_overflow="true"`; memory stays bounded. Each collection that finds new
//!   measurements in a metric's overflow series adds one to
//!   `<svc>_metric_series_overflow_total{metric}` (visible from the next collection on), and the
//!   first overflow of each metric logs one WARN. With cumulative aggregation (what Prometheus
//!   needs) a metric cannot leave overflow until the process restarts, so there is no recovery
//!   message.

pub mod buckets;
mod endpoint;
pub mod exposition;
mod process;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{Meter, MeterProvider as _};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    Instrument, InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Stream, Temporality,
};
use opentelemetry_sdk::Resource;

pub use endpoint::{router, MetricsServer};
pub use exposition::Format;

use crate::config::Config;

/// `(name suffix or full name, type, unit, labels, description)` of every built-in metric.
/// `<svc>` stands for the service name. The README's metrics table is checked against this list
/// and against a live scrape.
///
/// ```
/// assert!(watchpost::metrics::BUILTIN_METRICS.iter().any(|m| m.0 == "<svc>_uptime_seconds"));
/// ```
pub const BUILTIN_METRICS: &[(&str, &str, &str, &str, &str)] = &[
    (
        "<svc>_uptime_seconds",
        "gauge",
        "seconds",
        "",
        "Seconds since the process started",
    ),
    (
        "<svc>_info",
        "gauge",
        "",
        "version",
        "Build information; the value is always 1",
    ),
    (
        "<svc>_metric_series_overflow_total",
        "counter",
        "",
        "metric",
        "Collections that found new measurements folded into a metric's overflow series",
    ),
    (
        "<svc>_log_write_errors_total",
        "counter",
        "",
        "",
        "Log lines lost: the log output failed, or its buffer was full",
    ),
    (
        "<svc>_telemetry_dropped_total",
        "counter",
        "",
        "signal",
        "Telemetry items dropped: full export queue or failed export",
    ),
    (
        "<svc>_telemetry_export_errors_total",
        "counter",
        "",
        "signal",
        "Failed OTLP exports (errors and timeouts)",
    ),
    (
        "<svc>_trace_buffer_overflow_total",
        "counter",
        "",
        "",
        "Traces decided before their local root ended because the tail-sampling buffer was full",
    ),
    (
        "process_cpu_seconds_total",
        "counter",
        "seconds",
        "",
        "Total user and system CPU time spent",
    ),
    (
        "process_resident_memory_bytes",
        "gauge",
        "bytes",
        "",
        "Resident memory size",
    ),
    (
        "process_virtual_memory_bytes",
        "gauge",
        "bytes",
        "",
        "Virtual memory size",
    ),
    (
        "process_open_fds",
        "gauge",
        "",
        "",
        "Number of open file descriptors",
    ),
    (
        "process_max_fds",
        "gauge",
        "",
        "",
        "Maximum number of open file descriptors",
    ),
    (
        "process_start_time_seconds",
        "gauge",
        "seconds",
        "",
        "Start time of the process since the Unix epoch",
    ),
    (
        "process_threads",
        "gauge",
        "",
        "",
        "Number of OS threads in the process",
    ),
    (
        "tokio_runtime_workers",
        "gauge",
        "",
        "",
        "Worker threads of the Tokio runtime",
    ),
    (
        "tokio_runtime_alive_tasks",
        "gauge",
        "",
        "",
        "Tasks alive in the Tokio runtime",
    ),
    (
        "tokio_runtime_global_queue_depth",
        "gauge",
        "",
        "",
        "Tasks waiting in the Tokio runtime's global queue",
    ),
];

/// The single reader, shared between the provider (which owns a clone) and our collection.
#[derive(Debug, Clone)]
struct SharedReader(Arc<ManualReader>);

impl MetricReader for SharedReader {
    fn register_pipeline(&self, pipeline: Weak<Pipeline>) {
        self.0.register_pipeline(pipeline)
    }
    fn collect(&self, rm: &mut ResourceMetrics) -> OTelSdkResult {
        self.0.collect(rm)
    }
    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }
    fn temporality(&self, kind: InstrumentKind) -> Temporality {
        self.0.temporality(kind)
    }
}

#[derive(Debug, Default)]
struct OverflowState {
    /// Last seen fingerprint (count or value) of each metric's overflow series.
    last: HashMap<String, f64>,
    /// Per Prometheus metric name: collections that saw new overflow measurements.
    counts: BTreeMap<String, u64>,
}

#[derive(Debug)]
struct Inner {
    prefix: String,
    provider: SdkMeterProvider,
    reader: SharedReader,
    meter: Meter,
    /// Reused between collections so the SDK can reuse its buffers.
    scratch: Mutex<ResourceMetrics>,
    overflow: Arc<Mutex<OverflowState>>,
}

/// The metric pipeline: provider, reader, built-in metrics, exposition. Cheap to clone.
///
/// ```
/// use watchpost::metrics::Format;
///
/// let config = watchpost::Config::builder("demo").build().unwrap();
/// let (telemetry, _dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let metrics = telemetry.metrics();
/// let jobs = metrics.meter().u64_counter("demo_jobs_total").with_description("Jobs run").build();
/// jobs.add(2, &[opentelemetry::KeyValue::new("queue", "default")]);
/// let text = metrics.encode(Format::Text);
/// assert!(text.contains("# TYPE demo_jobs_total counter\ndemo_jobs_total{queue=\"default\"} 2\n"));
/// ```
#[derive(Debug, Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

impl Metrics {
    pub(crate) fn new(
        config: &Config,
        log_counters: Arc<crate::logs::LayerState>,
        export: Arc<crate::internal::ExportCounters>,
        tail: Arc<crate::traces::TailCounters>,
    ) -> Metrics {
        let reader = SharedReader(Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Cumulative)
                .build(),
        ));
        let budgets: HashMap<String, usize> =
            config.metric_series_budgets.iter().cloned().collect();
        let default_budget = config.default_metric_series_budget;
        let provider = SdkMeterProvider::builder()
            .with_resource(resource(config))
            .with_reader(reader.clone())
            .with_view(move |i: &Instrument| {
                let limit = budgets.get(i.name()).copied().unwrap_or(default_budget);
                Stream::builder().with_cardinality_limit(limit).build().ok()
            })
            .build();
        let meter = provider.meter("watchpost");
        let overflow = Arc::new(Mutex::new(OverflowState::default()));
        let metrics = Metrics {
            inner: Arc::new(Inner {
                prefix: exposition::sanitize(&config.service_name, false),
                provider,
                reader,
                meter: meter.clone(),
                scratch: Mutex::new(ResourceMetrics::default()),
                overflow: overflow.clone(),
            }),
        };
        register_builtin(&meter, config, overflow, log_counters);
        register_pipeline_counters(&meter, config, export, tail);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            metrics.observe_tokio_runtime(&handle);
        }
        metrics
    }

    /// The metric name prefix: the service name, sanitized (`procman` → `procman_…`).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo-svc").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.metrics().prefix(), "demo_svc");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// A real OpenTelemetry `Meter` on this pipeline, for the application's instruments.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let meter = telemetry.metrics().meter();
    /// let h = meter
    ///     .f64_histogram("demo_task_duration_seconds")
    ///     .with_unit("s")
    ///     .with_boundaries(watchpost::metrics::buckets::DURATION_SECONDS.to_vec())
    ///     .build();
    /// h.record(0.042, &[]);
    /// ```
    pub fn meter(&self) -> Meter {
        self.inner.meter.clone()
    }

    /// The SDK provider behind the pipeline (e.g. to install it as the global provider, or to
    /// create meters with other instrumentation scopes).
    ///
    /// ```
    /// use opentelemetry::metrics::MeterProvider as _;
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let meter = telemetry.metrics().provider().meter("my_library");
    /// # drop(meter);
    /// ```
    pub fn provider(&self) -> &SdkMeterProvider {
        &self.inner.provider
    }

    /// Registers the Tokio runtime metrics (workers, alive tasks, global queue depth) of
    /// `handle`. Done automatically for the current runtime when Watchpost is set up inside one.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    /// telemetry.metrics().observe_tokio_runtime(rt.handle());
    /// assert!(telemetry.metrics().encode(watchpost::metrics::Format::Text).contains("tokio_runtime_workers 1"));
    /// ```
    pub fn observe_tokio_runtime(&self, handle: &tokio::runtime::Handle) {
        let m = &self.inner.meter;
        let h = handle.clone();
        m.u64_observable_gauge("tokio_runtime_workers")
            .with_description("Worker threads of the Tokio runtime")
            .with_callback(move |o| o.observe(h.metrics().num_workers() as u64, &[]))
            .build();
        let h = handle.clone();
        m.u64_observable_gauge("tokio_runtime_alive_tasks")
            .with_description("Tasks alive in the Tokio runtime")
            .with_callback(move |o| o.observe(h.metrics().num_alive_tasks() as u64, &[]))
            .build();
        let h = handle.clone();
        m.u64_observable_gauge("tokio_runtime_global_queue_depth")
            .with_description("Tasks waiting in the Tokio runtime's global queue")
            .with_callback(move |o| o.observe(h.metrics().global_queue_depth() as u64, &[]))
            .build();
    }

    /// Collects every instrument once and passes the result to `f` (the same aggregation the
    /// endpoint and OTLP push read). Collections are serialized; measurements are not blocked.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let n = telemetry.metrics().collect(|rm| rm.scope_metrics().count());
    /// assert!(n >= 1);
    /// ```
    pub fn collect<R>(&self, f: impl FnOnce(&ResourceMetrics) -> R) -> R {
        let mut rm = self
            .inner
            .scratch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = self.inner.reader.collect(&mut rm) {
            crate::internal::MetricsCollectFailed { error: &e }.emit();
        }
        self.track_overflow(&rm);
        f(&rm)
    }

    /// Collects into a fresh `ResourceMetrics` that the caller owns (for the OTLP push, which
    /// awaits the export and so cannot hold the collection lock).
    pub(crate) fn collect_owned(&self) -> Option<ResourceMetrics> {
        let mut rm = ResourceMetrics::default();
        let _guard = self
            .inner
            .scratch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Err(e) = self.inner.reader.collect(&mut rm) {
            crate::internal::MetricsCollectFailed { error: &e }.emit();
            return None;
        }
        self.track_overflow(&rm);
        Some(rm)
    }

    /// Collects and renders the exposition in `format`.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let om = telemetry.metrics().encode(watchpost::metrics::Format::OpenMetrics);
    /// assert!(om.ends_with("# EOF\n"));
    /// ```
    pub fn encode(&self, format: Format) -> String {
        let mut out = String::with_capacity(16 * 1024);
        self.encode_into(&mut out, format);
        out
    }

    /// Like [`encode`](Self::encode), appending to `out` (reuse a buffer across scrapes).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let mut buf = String::new();
    /// telemetry.metrics().encode_into(&mut buf, watchpost::metrics::Format::Text);
    /// assert!(buf.contains("target_info"));
    /// ```
    pub fn encode_into(&self, out: &mut String, format: Format) {
        self.collect(|rm| {
            let _ = exposition::encode(out, rm, format);
        });
    }

    /// Flushes and stops the provider; later collections are empty.
    pub(crate) fn shutdown(&self, timeout: Duration) {
        let _ = self.inner.provider.shutdown_with_timeout(timeout);
    }

    fn track_overflow(&self, rm: &ResourceMetrics) {
        let mut found = Vec::new();
        for m in rm.scope_metrics().flat_map(|s| s.metrics()) {
            let fp = match m.data() {
                AggregatedMetrics::F64(d) => overflow_fingerprint(d),
                AggregatedMetrics::U64(d) => overflow_fingerprint(d),
                AggregatedMetrics::I64(d) => overflow_fingerprint(d),
            };
            if let Some(fp) = fp {
                found.push((m.name().to_string(), fp));
            }
        }
        if found.is_empty() {
            return;
        }
        let mut state = self
            .inner
            .overflow
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        for (name, fp) in found {
            let first = !state.last.contains_key(&name);
            let changed = state.last.get(&name) != Some(&fp);
            if changed {
                state.last.insert(name.clone(), fp);
                *state.counts.entry(name.clone()).or_insert(0) += 1;
            }
            if first {
                crate::internal::MetricSeriesOverflow { metric: &name }.emit();
            }
        }
    }
}

/// The attribute the SDK puts on a metric's overflow series.
const OVERFLOW_KEY: &str = "otel.metric.overflow";

/// Whether a data point is the overflow series: its only attribute is [`OVERFLOW_KEY`].
fn is_overflow<'a>(mut attrs: impl Iterator<Item = &'a KeyValue>) -> bool {
    attrs
        .next()
        .is_some_and(|kv| kv.key.as_str() == OVERFLOW_KEY)
}

trait ToF64: Copy {
    fn to_f64(self) -> f64;
}
impl ToF64 for f64 {
    fn to_f64(self) -> f64 {
        self
    }
}
impl ToF64 for u64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}
impl ToF64 for i64 {
    fn to_f64(self) -> f64 {
        self as f64
    }
}

/// A number that changes whenever the overflow series of `d` receives measurements (its value or
/// count), `None` if it has no overflow series.
fn overflow_fingerprint<T: ToF64>(d: &MetricData<T>) -> Option<f64> {
    match d {
        MetricData::Sum(s) => s
            .data_points()
            .find(|p| is_overflow(p.attributes()))
            .map(|p| p.value().to_f64()),
        MetricData::Gauge(g) => g
            .data_points()
            .find(|p| is_overflow(p.attributes()))
            .map(|p| p.value().to_f64()),
        MetricData::Histogram(h) => h
            .data_points()
            .find(|p| is_overflow(p.attributes()))
            .map(|p| p.count() as f64),
        MetricData::ExponentialHistogram(_) => None,
    }
}

pub(crate) fn resource(config: &Config) -> Resource {
    Resource::builder_empty()
        .with_service_name(config.service_name.clone())
        .with_attributes([
            KeyValue::new("service.version", config.service_version.clone()),
            KeyValue::new("service.instance.id", config.service_instance_id.clone()),
            KeyValue::new("deployment.environment.name", config.environment.clone()),
        ])
        .build()
}

fn register_pipeline_counters(
    meter: &Meter,
    config: &Config,
    export: Arc<crate::internal::ExportCounters>,
    tail: Arc<crate::traces::TailCounters>,
) {
    use crate::internal::{ExportCounters, Signal};
    let svc = exposition::sanitize(&config.service_name, false);
    let per_signal =
        |name: &str, description: &'static str, read: fn(&ExportCounters, Signal) -> u64| {
            let counters = export.clone();
            meter
                .u64_observable_counter(format!("{svc}_{name}"))
                .with_description(description)
                .with_callback(move |o| {
                    for s in Signal::ALL {
                        o.observe(read(&counters, s), &[KeyValue::new("signal", s.as_str())]);
                    }
                })
                .build();
        };
    per_signal(
        "telemetry_dropped_total",
        "Telemetry items dropped: full export queue or failed export",
        ExportCounters::dropped,
    );
    per_signal(
        "telemetry_export_errors_total",
        "Failed OTLP exports (errors and timeouts)",
        ExportCounters::errors,
    );
    meter
        .u64_observable_counter(format!("{svc}_trace_buffer_overflow_total"))
        .with_description(
            "Traces decided before their local root ended because the tail-sampling buffer was full",
        )
        .with_callback(move |o| o.observe(tail.overflow.load(std::sync::atomic::Ordering::Relaxed), &[]))
        .build();
}

fn register_builtin(
    meter: &Meter,
    config: &Config,
    overflow: Arc<Mutex<OverflowState>>,
    logs: Arc<crate::logs::LayerState>,
) {
    let svc = exposition::sanitize(&config.service_name, false);
    let started = Instant::now();
    meter
        .f64_observable_gauge(format!("{svc}_uptime_seconds"))
        .with_unit("s")
        .with_description("Seconds since the process started")
        .with_callback(move |o| o.observe(started.elapsed().as_secs_f64(), &[]))
        .build();
    let version = [KeyValue::new("version", config.service_version.clone())];
    meter
        .u64_observable_gauge(format!("{svc}_info"))
        .with_description("Build information; the value is always 1")
        .with_callback(move |o| o.observe(1, &version))
        .build();
    meter
        .u64_observable_counter(format!("{svc}_metric_series_overflow_total"))
        .with_description(
            "Collections that found new measurements folded into a metric's overflow series",
        )
        .with_callback(move |o| {
            let state = overflow.lock().unwrap_or_else(|p| p.into_inner());
            for (metric, n) in &state.counts {
                o.observe(*n, &[KeyValue::new("metric", metric.clone())]);
            }
        })
        .build();
    meter
        .u64_observable_counter(format!("{svc}_log_write_errors_total"))
        .with_description("Log lines lost: the log output failed, or its buffer was full")
        .with_callback(move |o| o.observe(logs.counters.snapshot().log_write_errors, &[]))
        .build();
    process::register(meter);
}
