//! Metrics: one OpenTelemetry `SdkMeterProvider` whose single reader feeds both the Prometheus /
//! OpenMetrics `/metrics` endpoint and (with the export issue) OTLP push, so every measurement is
//! aggregated once.
//!
//! * [`Metrics::meter`] gives the application a real `opentelemetry::metrics::Meter`.
//! * [`Metrics::encode`] collects and renders the exposition ([`exposition`]).
//! * [`router`] / [`crate::Telemetry::serve_metrics`] serve it over HTTP.
//! * Every metric is declared once in the [`catalogue`](crate::catalogue) and registered with
//!   [`Metrics::counter`], [`Metrics::histogram`], [`Metrics::up_down_counter`] or
//!   [`Metrics::observe_u64`] / [`Metrics::observe_f64`]; [`Metrics::catalogue`] lists what this
//!   pipeline has. Histogram bucket presets: [`buckets`].
//! * Cardinality guard: every instrument has a series budget (default 2000,
//!   [`ConfigBuilder::metric_series_budget`](crate::ConfigBuilder::metric_series_budget) per
//!   instrument; a catalogue declaration gets what its labels allow, capped by the default). Over
//!   budget, new label sets are folded by the SDK into one series labelled
//!   `otel_metric_overflow="true"`; memory stays bounded. Each collection that finds new
//!   measurements in a metric's overflow series adds one to
//!   `<svc>_metric_series_overflow_total{metric}` (visible from the next collection on), and the
//!   first overflow of each metric logs one WARN. With cumulative aggregation (what Prometheus
//!   needs) a metric cannot leave overflow until the process restarts, so there is no recovery
//!   message.

mod endpoint;
mod exemplars;
pub mod exposition;
pub mod function;
pub(crate) mod own;
mod process;
#[cfg(feature = "http")]
mod router;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{
    AsyncInstrument, Counter, Histogram, Meter, MeterProvider as _, UpDownCounter,
};
use opentelemetry::KeyValue;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};
use opentelemetry_sdk::metrics::reader::MetricReader;
use opentelemetry_sdk::metrics::{
    Instrument, InstrumentKind, ManualReader, Pipeline, SdkMeterProvider, Stream, Temporality,
};
use opentelemetry_sdk::Resource;

pub use crate::catalogue::buckets;
pub use endpoint::MetricsServer;
pub(crate) use endpoint::{ExtraRoutes, Reply};
#[cfg(feature = "otlp")]
pub(crate) use exemplars::ExemplarStore;
pub(crate) use exemplars::Series as ExemplarSeries;
pub use exemplars::{ExemplarHistogram, MAX_SERIES as MAX_EXEMPLAR_SERIES};
pub use exposition::Format;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use router::router;

use crate::catalogue::{self, Catalogue, Instrument as Kind, MetricDef};
use crate::config::Config;
use crate::internal::{ExportCounters, Signal, TailCounters};

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

/// Builds the observable counter or gauge `def` declares, with its name, help and unit (one
/// body for the `u64` and `f64` builders of the SDK).
/// The SDK builder of the synchronous instrument `def` declares, with its name, help and unit.
macro_rules! instrument {
    ($metrics:expr, $def:expr, $kind:expr, $builder:ident) => {{
        let name = $metrics.declare($def, &[$kind]);
        $metrics
            .pipeline
            .meter
            .$builder(name)
            .with_description($def.help())
            .with_unit($def.unit_of().ucum())
    }};
}

macro_rules! observe {
    ($metrics:expr, $def:expr, $callback:expr, $counter:ident, $gauge:ident) => {{
        let name = $metrics.declare($def, &[Kind::Counter, Kind::Gauge]);
        let m = &$metrics.pipeline.meter;
        let (help, unit) = ($def.help(), $def.unit_of().ucum());
        if $def.instrument() == Kind::Counter {
            m.$counter(name)
                .with_description(help)
                .with_unit(unit)
                .with_callback($callback)
                .build();
        } else {
            m.$gauge(name)
                .with_description(help)
                .with_unit(unit)
                .with_callback($callback)
                .build();
        }
    }};
}

#[derive(Debug)]
struct MetricPipeline {
    prefix: String,
    provider: SdkMeterProvider,
    reader: SharedReader,
    meter: Meter,
    /// Reused between collections so the SDK can reuse its buffers.
    scratch: Mutex<ResourceMetrics>,
    overflow: Arc<Mutex<OverflowState>>,
    /// The definitions registered so far, by full name (read by the cardinality view).
    registered: Arc<Mutex<Vec<(String, MetricDef)>>>,
    /// The exemplars of the histograms that keep them.
    exemplars: exemplars::ExemplarStore,
    /// Whether traces are exported (exemplars point at exported traces only).
    /// The pipeline's trace bridge tag (`traces::current`); 0 when traces are not exported.
    trace_tag: u32,
    /// The tail sampler's slow threshold: a local root at least this long is kept.
    trace_slow: Duration,
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
    pipeline: Arc<MetricPipeline>,
}

impl Metrics {
    /// The tag the pipeline's trace bridge marks its spans with (`traces::current`); 0 when
    /// traces are not exported.
    pub(crate) fn trace_tag(&self) -> u32 {
        self.pipeline.trace_tag
    }

    pub(crate) fn new(config: &Config, sources: SelfCounters) -> Metrics {
        let reader = SharedReader(Arc::new(
            ManualReader::builder()
                .with_temporality(Temporality::Cumulative)
                .build(),
        ));
        let budgets: HashMap<String, usize> =
            config.metric_series_budgets.iter().cloned().collect();
        let default_budget = config.default_metric_series_budget;
        let registered: Arc<Mutex<Vec<(String, MetricDef)>>> = Arc::default();
        let declared = registered.clone();
        let provider = SdkMeterProvider::builder()
            .with_resource(sources.resource.clone())
            .with_reader(reader.clone())
            .with_view(move |i: &Instrument| {
                let limit = budgets.get(i.name()).copied().unwrap_or_else(|| {
                    // A declared metric gets the series its labels allow (the SDK adds the overflow
                    // series on top), never more than the default.
                    let declared = declared.lock().unwrap_or_else(|p| p.into_inner());
                    declared
                        .iter()
                        .find(|(name, _)| name == i.name())
                        .map_or(default_budget, |(_, d)| {
                            d.series_budget().min(default_budget)
                        })
                });
                Stream::builder().with_cardinality_limit(limit).build().ok()
            })
            .build();
        let meter = provider.meter("watchpost");
        let overflow = Arc::new(Mutex::new(OverflowState::default()));
        let metrics = Metrics {
            pipeline: Arc::new(MetricPipeline {
                prefix: exposition::sanitize(&config.service_name, false),
                provider,
                reader,
                meter,
                scratch: Mutex::new(ResourceMetrics::default()),
                overflow: overflow.clone(),
                registered,
                exemplars: exemplars::ExemplarStore::default(),
                trace_tag: if config.otel_enabled && config.export_traces {
                    crate::traces::new_trace_tag()
                } else {
                    0
                },
                trace_slow: config.trace_slow,
            }),
        };
        metrics.register_builtin(config, overflow, sources);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            metrics.observe_tokio_runtime(&handle);
        }
        metrics
    }

    /// A `u64` counter for `def` (a [`Instrument::Counter`](crate::catalogue::Instrument)).
    ///
    /// ```
    /// use watchpost::catalogue::MetricDef;
    /// const RUNS: MetricDef = MetricDef::counter("demo_runs_total", "Runs");
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.metrics().counter(&RUNS).add(1, &[]);
    /// assert!(telemetry.metrics().encode(watchpost::metrics::Format::Text).contains("demo_runs_total 1\n"));
    /// ```
    pub fn counter(&self, def: &MetricDef) -> Counter<u64> {
        instrument!(self, def, Kind::Counter, u64_counter).build()
    }

    /// An `i64` up-down counter for `def` (exposed as a gauge).
    ///
    /// ```
    /// use watchpost::catalogue::MetricDef;
    /// const QUEUED: MetricDef = MetricDef::up_down_counter("demo_queued", "Jobs waiting");
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.metrics().up_down_counter(&QUEUED).add(3, &[]);
    /// assert!(telemetry.metrics().encode(watchpost::metrics::Format::Text).contains("demo_queued 3\n"));
    /// ```
    pub fn up_down_counter(&self, def: &MetricDef) -> UpDownCounter<i64> {
        instrument!(self, def, Kind::UpDownCounter, i64_up_down_counter).build()
    }

    /// An `f64` histogram for `def`, with its buckets.
    ///
    /// ```
    /// use watchpost::catalogue::{MetricDef, Unit};
    /// const WAIT: MetricDef = MetricDef::histogram("demo_wait_seconds", "Wait", &[0.1, 1.0]).unit(Unit::Seconds);
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.metrics().histogram(&WAIT).record(0.5, &[]);
    /// assert!(telemetry.metrics().encode(watchpost::metrics::Format::Text).contains("demo_wait_seconds_bucket{le=\"1\"} 1\n"));
    /// ```
    pub fn histogram(&self, def: &MetricDef) -> Histogram<f64> {
        instrument!(self, def, Kind::Histogram, f64_histogram)
            .with_boundaries(def.buckets().to_vec())
            .build()
    }

    /// An `f64` histogram for `def` that keeps exemplars: per series and bucket, the trace and
    /// span of the newest measurement made in a sampled span, written in the OpenMetrics
    /// exposition (see [`ExemplarHistogram`]). Without trace export it keeps none.
    ///
    /// ```
    /// use watchpost::catalogue::{MetricDef, Unit};
    /// const WAIT: MetricDef = MetricDef::histogram("demo_wait_seconds", "Wait", &[0.1, 1.0]).unit(Unit::Seconds);
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.metrics().exemplar_histogram(&WAIT).record(0.5, &[]);
    /// assert!(telemetry.metrics().encode(watchpost::metrics::Format::Text).contains("demo_wait_seconds_bucket{le=\"1\"} 1\n"));
    /// ```
    pub fn exemplar_histogram(&self, def: &MetricDef) -> ExemplarHistogram {
        let inner = self.histogram(def);
        let name = def.name_for(&self.pipeline.prefix);
        let slots = self.pipeline.exemplars.slots(&name, def.buckets());
        ExemplarHistogram::new(inner, slots, self.pipeline.trace_tag)
    }

    /// The exemplars of the histograms that keep them (the OTLP push adds them to its points).
    #[cfg(feature = "otlp")]
    pub(crate) fn exemplars(&self) -> &ExemplarStore {
        &self.pipeline.exemplars
    }

    /// The tail sampler's slow threshold (a local root that took this long is kept whole).
    pub(crate) fn trace_slow(&self) -> Duration {
        self.pipeline.trace_slow
    }

    /// Registers `def` as an observable instrument (counter, up-down counter or gauge, as
    /// declared) whose `callback` reports `u64` values at each collection.
    ///
    /// ```
    /// use watchpost::catalogue::{Label, MetricDef};
    /// const POOL: MetricDef = MetricDef::gauge("demo_pool_size", "Connections").labels(&[Label::closed("pool", &["main"])]);
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.metrics().observe_u64(&POOL, |o| o.observe(4, &[opentelemetry::KeyValue::new("pool", "main")]));
    /// assert!(telemetry.metrics().encode(watchpost::metrics::Format::Text).contains("demo_pool_size{pool=\"main\"} 4\n"));
    /// ```
    pub fn observe_u64(
        &self,
        def: &MetricDef,
        callback: impl Fn(&dyn AsyncInstrument<u64>) + Send + Sync + 'static,
    ) {
        observe!(
            self,
            def,
            callback,
            u64_observable_counter,
            u64_observable_gauge
        )
    }

    /// Like [`observe_u64`](Self::observe_u64), for `f64` values.
    ///
    /// ```
    /// use watchpost::catalogue::{MetricDef, Unit};
    /// const TEMP: MetricDef = MetricDef::gauge("demo_load_ratio", "Load");
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.metrics().observe_f64(&TEMP, |o| o.observe(0.5, &[]));
    /// assert!(telemetry.metrics().encode(watchpost::metrics::Format::Text).contains("demo_load_ratio 0.5\n"));
    /// ```
    pub fn observe_f64(
        &self,
        def: &MetricDef,
        callback: impl Fn(&dyn AsyncInstrument<f64>) + Send + Sync + 'static,
    ) {
        observe!(
            self,
            def,
            callback,
            f64_observable_counter,
            f64_observable_gauge
        )
    }

    /// Every metric registered through the catalogue so far (the built-ins included): what the
    /// `watchpost` tools read, exportable as JSON or a Weaver-style YAML registry.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let catalogue = telemetry.metrics().catalogue();
    /// assert!(catalogue.get("demo_uptime_seconds").is_some());
    /// ```
    pub fn catalogue(&self) -> Catalogue {
        let registered = self
            .pipeline
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        Catalogue::new(
            self.pipeline.prefix.clone(),
            registered.iter().map(|(_, d)| *d).collect(),
        )
    }

    /// Records `def` in the catalogue (once per name) and returns its full name.
    ///
    /// Panics in debug builds if `def` is not of one of the `allowed` instruments: a definition
    /// registered as something else is a programming error.
    fn declare(&self, def: &MetricDef, allowed: &[Kind]) -> String {
        debug_assert!(
            allowed.contains(&def.instrument()),
            "metric {} is declared as {:?}",
            def.name(),
            def.instrument()
        );
        let name = def.name_for(&self.pipeline.prefix);
        let mut registered = self
            .pipeline
            .registered
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if !registered.iter().any(|(n, _)| *n == name) {
            registered.push((name.clone(), *def));
        }
        name
    }

    /// The metric name prefix: the service name, sanitized (`procman` → `procman_…`).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo-svc").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.metrics().prefix(), "demo_svc");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.pipeline.prefix
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
        self.pipeline.meter.clone()
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
        &self.pipeline.provider
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
        let h = handle.clone();
        self.observe_u64(&catalogue::TOKIO_WORKERS, move |o| {
            o.observe(h.metrics().num_workers() as u64, &[])
        });
        let h = handle.clone();
        self.observe_u64(&catalogue::TOKIO_ALIVE_TASKS, move |o| {
            o.observe(h.metrics().num_alive_tasks() as u64, &[])
        });
        let h = handle.clone();
        self.observe_u64(&catalogue::TOKIO_GLOBAL_QUEUE_DEPTH, move |o| {
            o.observe(h.metrics().global_queue_depth() as u64, &[])
        });
    }

    /// Collects every instrument once and passes the result to `f` (the same aggregation the
    /// endpoint and OTLP push read). Collections are serialized; measurements are not blocked.
    ///
    /// Only the SDK's instruments: the families the library keeps itself — the measured
    /// functions' `function_calls_total` and `function_calls_duration_seconds`
    /// ([`function`]) — are not in it (the SDK's data types cannot be given points from
    /// outside); the exposition ([`encode`](Self::encode)) and the OTLP push carry them.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let n = telemetry.metrics().collect(|rm| rm.scope_metrics().count());
    /// assert!(n >= 1);
    /// ```
    pub fn collect<R>(&self, f: impl FnOnce(&ResourceMetrics) -> R) -> R {
        let mut rm = self.scratch();
        self.collect_into(&mut rm);
        f(&rm)
    }

    /// Collects into a fresh `ResourceMetrics` that the caller owns (for the OTLP push, which
    /// awaits the export and so cannot hold the collection lock).
    pub(crate) fn collect_owned(&self) -> Option<ResourceMetrics> {
        let mut rm = ResourceMetrics::default();
        let _serialized = self.scratch();
        self.collect_into(&mut rm).then_some(rm)
    }

    /// The reused collection buffer; holding it serializes collections.
    fn scratch(&self) -> std::sync::MutexGuard<'_, ResourceMetrics> {
        self.pipeline
            .scratch
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One collection into `rm`, with overflow tracking; `false` if the SDK failed.
    fn collect_into(&self, rm: &mut ResourceMetrics) -> bool {
        if let Err(e) = self.pipeline.reader.collect(rm) {
            crate::internal::MetricsCollectFailed { error: &e }.emit();
            return false;
        }
        self.track_overflow(rm);
        true
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
        let mut rm = self.scratch();
        // The families the library keeps itself (measured functions'), unless collecting failed
        // (a pipeline shut down: nothing but what the SDK left).
        let own = match self.collect_into(&mut rm) {
            true => function::families(&self.pipeline.exemplars).map(|(f, _)| f),
            false => None,
        };
        let own = own.as_deref().unwrap_or_default();
        let _ = exposition::encode_with(out, &rm, format, Some(&self.pipeline.exemplars), own);
    }

    /// Flushes and stops the provider; later collections are empty.
    pub(crate) fn shutdown(&self, timeout: Duration) {
        let _ = self.pipeline.provider.shutdown_with_timeout(timeout);
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
            .pipeline
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

/// What the built-in metrics read: the pipeline's counters about itself, and the resource.
pub(crate) struct SelfCounters {
    pub(crate) resource: Resource,
    pub(crate) log_write_errors: Box<dyn Fn() -> u64 + Send + Sync>,
    pub(crate) export: Arc<ExportCounters>,
    pub(crate) tail: Arc<TailCounters>,
    pub(crate) resource_logs: Option<crate::logs::ResourceLogs>,
}

impl Metrics {
    fn register_builtin(
        &self,
        config: &Config,
        overflow: Arc<Mutex<OverflowState>>,
        sources: SelfCounters,
    ) {
        let started = Instant::now();
        self.observe_f64(&catalogue::UPTIME, move |o| {
            o.observe(started.elapsed().as_secs_f64(), &[])
        });
        let version = [KeyValue::new("version", config.service_version.clone())];
        self.observe_u64(&catalogue::INFO, move |o| o.observe(1, &version));
        self.observe_u64(&catalogue::METRIC_SERIES_OVERFLOW, move |o| {
            let state = overflow.lock().unwrap_or_else(|p| p.into_inner());
            for (metric, n) in &state.counts {
                o.observe(*n, &[KeyValue::new("metric", metric.clone())]);
            }
        });
        let log_write_errors = sources.log_write_errors;
        self.observe_u64(&catalogue::LOG_WRITE_ERRORS, move |o| {
            o.observe(log_write_errors(), &[])
        });
        let per_signal = |def: &MetricDef, read: fn(&ExportCounters, Signal) -> u64| {
            let counters = sources.export.clone();
            self.observe_u64(def, move |o| {
                for s in Signal::ALL {
                    o.observe(read(&counters, s), &[KeyValue::new("signal", s.as_str())]);
                }
            });
        };
        per_signal(&catalogue::TELEMETRY_DROPPED, ExportCounters::dropped);
        per_signal(&catalogue::TELEMETRY_EXPORT_ERRORS, ExportCounters::errors);
        let tail = sources.tail.clone();
        self.observe_u64(&catalogue::TRACE_BUFFER_OVERFLOW, move |o| {
            o.observe(tail.overflow(), &[])
        });
        let tail = sources.tail;
        self.observe_u64(&catalogue::TRACE_SAMPLED_SPANS, move |o| {
            o.observe(tail.kept(), &[KeyValue::new("decision", "kept")]);
            o.observe(tail.dropped(), &[KeyValue::new("decision", "dropped")]);
        });
        if let Some(r) = sources.resource_logs {
            self.register_resource_logs(r);
        }
        process::register(self);
    }

    fn register_resource_logs(&self, logs: crate::logs::ResourceLogs) {
        type Read = fn(&crate::logs::ResourceLogStats) -> u64;
        let counters: [(&MetricDef, Read); 4] = [
            (&catalogue::RESOURCE_LOG_LINES, |s| s.lines),
            (&catalogue::RESOURCE_LOG_IO_ERRORS, |s| s.io_errors),
            (&catalogue::RESOURCE_LOG_ROTATIONS, |s| s.rotations),
            (&catalogue::RESOURCE_LOG_FOLLOWER_GAPS, |s| s.follower_gaps),
        ];
        for (def, read) in counters {
            let logs = logs.clone();
            self.observe_u64(def, move |o| o.observe(read(&logs.stats()), &[]));
        }
        let r = logs.clone();
        self.observe_u64(&catalogue::RESOURCE_LOG_DISCARDED, move |o| {
            let s = r.stats();
            o.observe(s.unregistered, &[KeyValue::new("reason", "unregistered")]);
            o.observe(s.rejected_ids, &[KeyValue::new("reason", "rejected_id")]);
        });
        let r = logs.clone();
        self.observe_u64(&catalogue::RESOURCE_LOG_EVICTIONS, move |o| {
            let s = r.stats();
            o.observe(s.evicted_age, &[KeyValue::new("reason", "age")]);
            o.observe(s.evicted_budget, &[KeyValue::new("reason", "budget")]);
        });
        let r = logs.clone();
        self.observe_u64(&catalogue::RESOURCE_LOG_DISK_BYTES, move |o| {
            o.observe(r.disk_bytes(), &[])
        });
        self.observe_u64(&catalogue::RESOURCE_LOG_OPEN_FILES, move |o| {
            o.observe(logs.open_files() as u64, &[])
        });
    }
}
