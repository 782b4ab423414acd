//! Exemplars: the step from a latency bucket to a trace that landed in it.
//!
//! A histogram that opts in ([`ExemplarHistogram`]) keeps, per series and per bucket, the newest
//! measurement made inside a span whose trace is exported — its value, time, trace id and span
//! id — and the OpenMetrics exposition writes it after the bucket's count
//! (`… 3 # {trace_id="…",span_id="…"} 0.042 1764500000.123`).
//! The OpenTelemetry Rust SDK
//! collects no exemplars (opentelemetry-rust#3369), so they are kept here, beside its data.
//!
//! The OTLP metric push carries them too, on the same histogram points (`export`).
//!
//! Cost: a measurement outside a kept trace pays one read of the bridge's note of the span it
//! runs in (`traces::current`: the top of a per-thread stack and one table entry, no lock) and
//! nothing else; one inside
//! pays an order-independent hash of its attributes (once per series for a bound histogram:
//! [`Series`]), a clock read and a lock-free write (a sequence lock per bucket slot: a writer that
//! finds the slot busy skips it, a reader retries). The HTTP layer, which knows its span's ids from
//! the span's creation and the instant the request ended, pays neither the lookup nor the clock
//! read ([`Series::keep_ids`]). Without trace export, nothing at all.
//! Memory: at most [`MAX_SERIES`] series per histogram, one exemplar per bucket.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::Histogram;
use opentelemetry::{KeyValue, Value};

/// Series per histogram that keep exemplars; measurements of further series keep none.
pub const MAX_SERIES: usize = 2048;

/// One exemplar: a measurement and the span it was made in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) value: f64,
    /// When it was made: nanoseconds since the Unix epoch.
    pub(crate) time_unix_nano: u64,
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
}

#[cfg(feature = "otlp")]
impl Exemplar {
    /// As an OTLP exemplar (for the metric push: the SDK's points and the library's own).
    pub(crate) fn to_otlp(self) -> opentelemetry_proto::tonic::metrics::v1::Exemplar {
        use opentelemetry_proto::tonic::metrics::v1::{exemplar, Exemplar};
        Exemplar {
            filtered_attributes: Vec::new(),
            time_unix_nano: self.time_unix_nano,
            span_id: self.span_id.to_vec(),
            trace_id: self.trace_id.to_vec(),
            value: Some(exemplar::Value::AsDouble(self.value)),
        }
    }
}

/// A hasher for keys that are hashes already.
#[derive(Default)]
struct Identity(u64);
impl Hasher for Identity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 << 8) | u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// One bucket's exemplar, written without a lock ([`SeqLock`](crate::util::SeqLock)). A writer
/// that finds another one mid-write leaves the slot to it — both exemplars are equally new, and
/// a measurement never waits.
#[derive(Debug, Default)]
pub(crate) struct Slot(crate::util::SeqLock<5>);

impl Slot {
    /// Writes `e`, unless another writer holds the slot.
    #[inline]
    fn put(&self, e: &Exemplar) {
        let [hi, lo] = crate::util::id_words(e.trace_id);
        self.0.write(&[
            e.value.to_bits(),
            e.time_unix_nano,
            hi,
            lo,
            u64::from_ne_bytes(e.span_id),
        ]);
    }

    /// The exemplar (`None` before the first write, or if writers kept it busy for a while).
    fn get(&self) -> Option<Exemplar> {
        let [value, time_unix_nano, hi, lo, span_id] = self.0.read(64)?;
        let trace_id = crate::util::id_bytes([hi, lo]);
        Some(Exemplar {
            value: f64::from_bits(value),
            time_unix_nano,
            trace_id,
            span_id: span_id.to_ne_bytes(),
        })
    }
}

/// One series' exemplars: one slot per bucket (`+Inf` last), each written without a lock, so a
/// bound series ([`Series`]) stores without the histogram-wide map and without waiting.
type SeriesSlots = Box<[Slot]>;

/// Series (by attribute hash) → its slots.
type SeriesMap = HashMap<u64, Arc<SeriesSlots>, BuildHasherDefault<Identity>>;

/// The exemplars of one histogram: per series (by attribute hash), one slot per bucket.
#[derive(Debug)]
pub(crate) struct Slots {
    /// The instrument's name, as the SDK reports it at collection.
    pub(crate) name: String,
    bounds: Arc<[f64]>,
    series: Mutex<SeriesMap>,
}

impl Slots {
    fn new(name: String, bounds: &[f64]) -> Self {
        Slots {
            name,
            bounds: bounds.into(),
            series: Mutex::new(HashMap::default()),
        }
    }

    /// The slots of the series `attrs_hash`, made if there are fewer than [`MAX_SERIES`].
    fn series_slots(&self, attrs_hash: u64) -> Option<Arc<SeriesSlots>> {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let len = series.len();
        match series.get(&attrs_hash) {
            Some(slots) => Some(slots.clone()),
            None if len < MAX_SERIES => {
                let slots: Arc<SeriesSlots> =
                    Arc::new((0..=self.bounds.len()).map(|_| Slot::default()).collect());
                series.insert(attrs_hash, slots.clone());
                Some(slots)
            }
            None => None,
        }
    }

    fn put(&self, attrs_hash: u64, e: Exemplar) {
        if let Some(slots) = self.series_slots(attrs_hash) {
            store(&self.bounds, &slots, e);
        }
    }

    /// The exemplars of the series with these attributes, by bucket (`+Inf` last).
    pub(crate) fn of<'a>(
        &self,
        attrs: impl Iterator<Item = &'a KeyValue>,
    ) -> Option<Box<[Option<Exemplar>]>> {
        let slots = {
            let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
            series.get(&attrs_hash(attrs)).cloned()
        }?;
        Some(slots.iter().map(Slot::get).collect())
    }
}

/// Stores `e` in the slot of its bucket: OpenTelemetry buckets are (previous bound, bound]; the
/// last is (last bound, +Inf). The newest wins.
#[inline]
fn store(bounds: &[f64], slots: &SeriesSlots, e: Exemplar) {
    let bucket = bounds.partition_point(|b| *b < e.value);
    if let Some(slot) = slots.get(bucket) {
        slot.put(&e);
    }
}

/// Every histogram's exemplars, for the exposition.
#[derive(Debug, Default)]
pub(crate) struct ExemplarStore {
    all: Mutex<Vec<Arc<Slots>>>,
}

impl ExemplarStore {
    pub(crate) fn slots(&self, name: &str, bounds: &[f64]) -> Arc<Slots> {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = all.iter().find(|s| s.name == name) {
            return s.clone();
        }
        let s = Arc::new(Slots::new(name.to_string(), bounds));
        all.push(s.clone());
        s
    }

    /// The slots of the histogram named `name`, if it keeps exemplars.
    pub(crate) fn find(&self, name: &str) -> Option<Arc<Slots>> {
        let all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        all.iter().find(|s| s.name == name).cloned()
    }
}

/// An order-independent hash of an attribute set (the SDK may hand the attributes back in
/// another order than they were recorded in): the sum of each pair's hash.
fn attrs_hash<'a>(attrs: impl Iterator<Item = &'a KeyValue>) -> u64 {
    attrs.fold(0u64, |acc, kv| acc.wrapping_add(pair_hash(kv)))
}

/// A word-at-a-time hash (FxHash's step) of `bytes` into `h`: whole words, then the last bytes
/// read as (overlapping) words, and the length, so that `"ab"` + `"c"` and `"a"` + `"bc"` differ.
#[inline]
fn feed(mut h: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut step = |w: u64| h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    let n = bytes.len();
    let word = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        u64::from_le_bytes(w)
    };
    let half = |at: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&bytes[at..at + 4]);
        u64::from(u32::from_le_bytes(w))
    };
    let mut at = 0;
    while at + 8 <= n {
        step(word(at));
        at += 8;
    }
    if at < n {
        step(if n >= 8 {
            word(n - 8)
        } else if n >= 4 {
            half(0) | (half(n - 4) << 32)
        } else {
            u64::from(bytes[0]) | (u64::from(bytes[n / 2]) << 8) | (u64::from(bytes[n - 1]) << 16)
        });
    }
    step(n as u64);
    h
}

#[inline]
fn pair_hash(kv: &KeyValue) -> u64 {
    let h = feed(0, kv.key.as_str().as_bytes());
    let mut h = match &kv.value {
        Value::String(s) => feed(h ^ 1, s.as_str().as_bytes()),
        Value::I64(i) => feed(h ^ 2, &i.to_le_bytes()),
        Value::F64(f) => feed(h ^ 3, &f.to_bits().to_le_bytes()),
        Value::Bool(b) => feed(h ^ 4, &[u8::from(*b)]),
        _ => feed(h ^ 5, &[]),
    };
    // Spread the bits so that sums of pair hashes do not cancel out.
    h ^= h >> 29;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^ (h >> 32)
}

/// A histogram that keeps exemplars: what [`Metrics::exemplar_histogram`] makes. Records like
/// the SDK's `Histogram<f64>` and, inside a span whose trace is exported, keeps that span's ids
/// as the exemplar of the bucket the value falls in (the newest wins). Cheap to clone.
///
/// ```
/// use watchpost::catalogue::{MetricDef, Unit};
/// const WAIT: MetricDef = MetricDef::histogram("demo_wait_seconds", "Wait", &[0.1, 1.0]).unit(Unit::Seconds);
/// # let config = watchpost::Config::builder("demo").otel_enabled(true).otel_endpoint("127.0.0.1:9").trace_sampler_ratio(1.0).build().unwrap();
/// # let (telemetry, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let wait = telemetry.metrics().exemplar_histogram(&WAIT);
/// tracing::dispatcher::with_default(&dispatch, || {
///     let span = tracing::info_span!("job");
///     let _in = span.enter();
///     wait.record(0.5, &[]);
/// });
/// let om = telemetry.metrics().encode(watchpost::metrics::Format::OpenMetrics);
/// let line = om.lines().find(|l| l.starts_with("demo_wait_seconds_bucket{le=\"1\"}")).unwrap();
/// assert!(line.starts_with("demo_wait_seconds_bucket{le=\"1\"} 1 # {trace_id=\""), "{line}");
/// # telemetry.shutdown_with_timeout(std::time::Duration::from_millis(100)).ok();
/// ```
///
/// [`Metrics::exemplar_histogram`]: super::Metrics::exemplar_histogram
#[derive(Debug, Clone)]
pub struct ExemplarHistogram {
    inner: Histogram<f64>,
    slots: Arc<Slots>,
    /// The pipeline's trace bridge tag: its spans are the ones exemplars come from; 0 when
    /// traces do not leave the process (no exemplar can point at a trace then).
    trace_tag: u32,
}

impl ExemplarHistogram {
    pub(crate) fn new(inner: Histogram<f64>, slots: Arc<Slots>, trace_tag: u32) -> Self {
        // The origin of [`unix_nanos_at`], before any measurement of this histogram starts.
        MONO_BASE.get_or_init(Instant::now);
        Self {
            inner,
            slots,
            trace_tag,
        }
    }

    /// Records `value` with `attributes`; the exemplar comes from the current `tracing` span, if
    /// its trace is sampled.
    pub fn record(&self, value: f64, attributes: &[KeyValue]) {
        self.inner.record(value, attributes);
        if self.trace_tag != 0 {
            keep(&self.slots, self.trace_tag, value, None, false, || {
                attrs_hash(attributes.iter())
            });
        }
    }

    /// Records `value` with `attributes`; the exemplar comes from `span` if its trace is
    /// sampled, or whatever its sampling when `kept` says the tail sampler keeps the trace
    /// anyway (an error or a slow request: the HTTP layer knows).
    pub fn record_in(&self, value: f64, attributes: &[KeyValue], span: &tracing::Span, kept: bool) {
        self.inner.record(value, attributes);
        if self.trace_tag != 0 {
            keep(&self.slots, self.trace_tag, value, Some(span), kept, || {
                attrs_hash(attributes.iter())
            });
        }
    }

    /// The exemplars of the series with `attributes`, for a bound histogram (the attributes
    /// hashed once); `None` when traces are not exported.
    pub(crate) fn series(&self, attributes: &[KeyValue]) -> Option<Series> {
        (self.trace_tag != 0).then(|| Series {
            tag: self.trace_tag,
            bounds: self.slots.bounds.clone(),
            slots: self.slots.series_slots(attrs_hash(attributes.iter())),
        })
    }

    /// Whether it keeps exemplars at all: only when traces are exported.
    pub(crate) fn keeps_exemplars(&self) -> bool {
        self.trace_tag != 0
    }

    /// The SDK histogram underneath (records without exemplars).
    pub fn histogram(&self) -> &Histogram<f64> {
        &self.inner
    }
}

/// The exemplars of one series of an [`ExemplarHistogram`] (what a bound histogram records into:
/// see [`ExemplarHistogram::series`]): its slots resolved once, so a measurement stores into its
/// bucket's slot (lock-free), with no hash and no map.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    /// The pipeline's trace bridge tag (`traces::current`).
    tag: u32,
    bounds: Arc<[f64]>,
    /// `None` when the histogram had [`MAX_SERIES`] series with exemplars already.
    slots: Option<Arc<SeriesSlots>>,
}

impl Series {
    /// Keeps `value` as the exemplar of its bucket if `span` (the current span when `None`) is in
    /// a trace that is exported: sampled, or `kept` whatever its sampling (the caller knows the
    /// tail sampler keeps it: an error, a slow call).
    #[inline]
    pub(crate) fn keep(&self, value: f64, span: Option<&tracing::Span>, kept: bool) {
        let Some(slots) = &self.slots else { return };
        let ids = match span {
            Some(span) => crate::traces::span_ids(span),
            None => crate::traces::current_span_ids(self.tag),
        };
        if let Some(e) = exemplar(value, ids, kept, None) {
            store(&self.bounds, slots, e);
        }
    }

    /// This series' exemplars by bucket (`+Inf` last), read from its own slots (no hash, no
    /// map); `None` without slots.
    pub(crate) fn exemplars(&self) -> Option<Vec<Option<Exemplar>>> {
        (self.slots.as_ref()).map(|slots| slots.iter().map(Slot::get).collect())
    }

    /// [`keep`](Self::keep) for a caller that knows its span's ids already (the HTTP layer has
    /// them from the span's creation: no span lookup) and the instant the measurement ended
    /// (turned into wall time without a clock read: [`unix_nanos_at`]).
    #[inline]
    pub(crate) fn keep_ids(
        &self,
        value: f64,
        ids: Option<crate::traces::SpanIds>,
        kept: bool,
        at: Instant,
    ) {
        let Some(slots) = &self.slots else { return };
        if let Some(e) = exemplar(value, ids, kept, Some(at)) {
            store(&self.bounds, slots, e);
        }
    }
}

/// The exemplar of `value` if `ids` are of a trace that is exported (sampled, or `kept`), made at
/// `at` (now when `None`).
#[inline]
fn exemplar(
    value: f64,
    ids: Option<crate::traces::SpanIds>,
    kept: bool,
    at: Option<Instant>,
) -> Option<Exemplar> {
    if !value.is_finite() {
        return None; // the SDK ignores it too
    }
    let ids = ids.filter(|ids| ids.sampled || kept)?;
    // The time of the measurement (not the span's start: Prometheus refuses an exemplar older
    // than the last one it stored for the series).
    let time_unix_nano = match at {
        Some(at) => unix_nanos_at(at),
        None => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    Some(Exemplar {
        value,
        time_unix_nano,
        trace_id: ids.trace_id,
        span_id: ids.span_id,
    })
}

/// How often [`unix_nanos_at`] reads the wall clock again, so that a stepped or slewed wall
/// clock (NTP) moves exemplar times within this long.
const REANCHOR_NANOS: u64 = 1_000_000_000;

/// The monotonic clock's origin for [`unix_nanos_at`].
static MONO_BASE: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
/// Wall time at [`MONO_BASE`] (nanoseconds since the epoch), as last read.
static WALL_AT_BASE: AtomicU64 = AtomicU64::new(0);
/// When (monotonic nanoseconds since [`MONO_BASE`]) the wall clock was last read; `u64::MAX`
/// before the first read.
static ANCHORED_AT: AtomicU64 = AtomicU64::new(u64::MAX);

/// The wall time of `at` (nanoseconds since the Unix epoch) from the monotonic instant a caller
/// read anyway: the wall clock is read at most once a second ([`REANCHOR_NANOS`]), not once per
/// measurement.
#[inline]
fn unix_nanos_at(at: Instant) -> u64 {
    let base = *MONO_BASE.get_or_init(Instant::now);
    let Some(since) = at.checked_duration_since(base) else {
        // An instant from before the origin was set: rare (the first requests), the slow way.
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        return wall.saturating_sub(at.elapsed().as_nanos() as u64);
    };
    let t = since.as_secs() * 1_000_000_000 + u64::from(since.subsec_nanos());
    let anchored = ANCHORED_AT.load(Ordering::Relaxed);
    if anchored == u64::MAX || t > anchored.saturating_add(REANCHOR_NANOS) {
        reanchor(base);
    }
    WALL_AT_BASE.load(Ordering::Relaxed).saturating_add(t)
}

/// Reads both clocks again: the wall time at [`MONO_BASE`].
#[cold]
fn reanchor(base: Instant) {
    let now = Instant::now();
    let wall = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let n = now.saturating_duration_since(base).as_nanos() as u64;
    WALL_AT_BASE.store(wall.saturating_sub(n), Ordering::Relaxed);
    ANCHORED_AT.store(n, Ordering::Relaxed);
}

/// Keeps `value` in `slots` (the series `hash` says) if its span's trace is exported; the hash is
/// computed only then.
fn keep(
    slots: &Slots,
    tag: u32,
    value: f64,
    span: Option<&tracing::Span>,
    kept: bool,
    hash: impl FnOnce() -> u64,
) {
    if !value.is_finite() {
        return;
    }
    let ids = match span {
        Some(span) => crate::traces::span_ids(span),
        None => crate::traces::current_span_ids(tag),
    };
    if let Some(e) = exemplar(value, ids, kept, None) {
        slots.put(hash(), e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(value: f64) -> Exemplar {
        Exemplar {
            value,
            time_unix_nano: 1,
            trace_id: [1; 16],
            span_id: [2; 8],
        }
    }

    #[test]
    fn the_hash_ignores_attribute_order_and_tells_values_apart() {
        let a = [
            KeyValue::new("method", "GET"),
            KeyValue::new("status", "200"),
        ];
        let b = [
            KeyValue::new("status", "200"),
            KeyValue::new("method", "GET"),
        ];
        assert_eq!(attrs_hash(a.iter()), attrs_hash(b.iter()));
        let c = [
            KeyValue::new("method", "GET"),
            KeyValue::new("status", "500"),
        ];
        assert_ne!(attrs_hash(a.iter()), attrs_hash(c.iter()));
        let swapped = [
            KeyValue::new("method", "200"),
            KeyValue::new("status", "GET"),
        ];
        assert_ne!(attrs_hash(a.iter()), attrs_hash(swapped.iter()));
        assert_ne!(
            attrs_hash([KeyValue::new("n", 1i64)].iter()),
            attrs_hash([KeyValue::new("n", "1")].iter())
        );
    }

    #[test]
    fn each_value_lands_in_its_bucket_and_the_newest_wins() {
        let s = Slots::new("h".into(), &[0.1, 1.0]);
        s.put(7, e(0.1)); // (.., 0.1]
        s.put(7, e(0.5));
        s.put(7, e(0.7)); // newest of (0.1, 1]
        s.put(7, e(5.0)); // +Inf
        let by_bucket = s.series.lock().unwrap()[&7].clone();
        let values: Vec<Option<f64>> = by_bucket.iter().map(|x| x.get().map(|e| e.value)).collect();
        assert_eq!(values, [Some(0.1), Some(0.7), Some(5.0)]);
    }

    #[test]
    fn a_slot_read_while_writers_race_is_always_one_whole_exemplar() {
        // Each writer writes exemplars whose every field derives from one number; a torn read
        // would mix two numbers.
        let slot = std::sync::Arc::new(Slot::default());
        let whole = |n: u64| Exemplar {
            value: n as f64,
            time_unix_nano: n,
            trace_id: [(n % 251) as u8; 16],
            span_id: n.to_ne_bytes(),
        };
        // The writers go on until the reader has checked enough reads (not for a fixed count:
        // on a busy machine they could be done before the reader ever ran).
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..2u64)
            .map(|w| {
                let (slot, stop) = (slot.clone(), stop.clone());
                std::thread::spawn(move || {
                    for i in 0..50_000_000u64 {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        slot.put(&whole(i * 2 + w));
                    }
                })
            })
            .collect();
        let mut seen = 0;
        while seen < 20_000 && writers.iter().any(|w| !w.is_finished()) {
            if let Some(e) = slot.get() {
                let n = e.time_unix_nano;
                assert_eq!(e, whole(n), "a torn exemplar");
                seen += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        assert!(seen > 0, "no read while the writers ran");
        assert!(slot.get().is_some());
    }

    #[test]
    fn a_series_keeps_the_exemplars_of_exported_traces_only() {
        use crate::catalogue::MetricDef;
        const H: MetricDef = MetricDef::histogram("demo_h_seconds", "H", &[1.0]);
        let off = crate::Config::builder("demo").build().unwrap();
        let (telemetry, _d) = crate::Telemetry::builder(off)
            .writer(std::io::sink)
            .into_dispatch();
        let h = telemetry.metrics().exemplar_histogram(&H);
        assert!(h.series(&[]).is_none(), "no trace export, no exemplars");

        let config = crate::Config::builder("demo")
            .otel_enabled(true)
            .otel_endpoint("127.0.0.1:9")
            .trace_sampler_ratio(0.0)
            .build()
            .unwrap();
        let (telemetry, dispatch) = crate::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        let h = telemetry.metrics().exemplar_histogram(&H);
        let series = h.series(&[]).expect("traces are exported");
        let attrs: [KeyValue; 0] = [];
        tracing::dispatcher::with_default(&dispatch, || {
            series.keep(0.5, None, false); // no span
            let span = tracing::info_span!("job"); // not sampled at ratio 0
            let _in = span.enter();
            series.keep(0.5, None, false);
            assert!(
                h.slots
                    .of(attrs.iter())
                    .is_none_or(|b| b.iter().all(Option::is_none)),
                "nothing from an unsampled trace"
            );
            series.keep(2.0, None, true); // kept by the tail sampler anyway
            let ids = crate::traces::span_ids(&span).unwrap();
            let kept = h.slots.of(attrs.iter()).expect("kept");
            assert_eq!(kept[0], None);
            let e = kept[1].expect("the +Inf bucket's");
            assert_eq!(
                (e.value, e.trace_id, e.span_id),
                (2.0, ids.trace_id, ids.span_id)
            );
        });
        telemetry
            .shutdown_with_timeout(std::time::Duration::from_millis(100))
            .ok();
    }

    #[test]
    fn the_wall_time_of_an_instant_is_read_off_the_monotonic_clock() {
        let wall = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        };
        let near = |a: u64, b: u64| a.abs_diff(b) < 100_000_000; // a slow, loaded machine
        unix_nanos_at(Instant::now()); // the origin is set
        let now = Instant::now();
        let got = unix_nanos_at(now);
        assert!(near(got, wall()), "{got} vs {}", wall());
        let later = unix_nanos_at(now + std::time::Duration::from_millis(300));
        assert!(near(later - got, 300_000_000), "{}", later - got);
        // Past the re-anchoring interval: the wall clock is read again; the same time comes out.
        let much_later = unix_nanos_at(now + std::time::Duration::from_secs(5));
        assert!(
            near(much_later - got, 5_000_000_000),
            "{}",
            much_later - got
        );
        // An instant from before the origin.
        let base = *MONO_BASE.get().unwrap();
        let before = unix_nanos_at(base - std::time::Duration::from_secs(2));
        let expected = 2_000_000_000 + base.elapsed().as_nanos() as u64;
        assert!(
            near(wall() - before, expected),
            "{} vs {expected}",
            wall() - before
        );
    }

    /// The ids the HTTP layer takes at a span's creation are the ids a lookup finds, also after
    /// the span continues a caller's trace, and on a second call (a lookup then).
    #[test]
    fn a_new_spans_ids_are_the_ones_a_lookup_finds() {
        use opentelemetry::trace::{SpanContext, TraceContextExt as _, TraceFlags, TraceState};
        let config = crate::Config::builder("demo")
            .otel_enabled(true)
            .otel_endpoint("127.0.0.1:9")
            .trace_sampler_ratio(1.0)
            .build()
            .unwrap();
        let (telemetry, dispatch) = crate::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("request");
            let ids = crate::traces::new_span_ids(&span).expect("ids");
            let looked_up = crate::traces::span_ids(&span).unwrap();
            assert_eq!(
                (ids.trace_id, ids.span_id, ids.sampled),
                (looked_up.trace_id, looked_up.span_id, true)
            );

            let other = tracing::info_span!("request");
            let remote = SpanContext::new(
                opentelemetry::trace::TraceId::from_bytes([7; 16]),
                opentelemetry::trace::SpanId::from_bytes([8; 8]),
                TraceFlags::default(),
                true,
                TraceState::default(),
            );
            let cx = opentelemetry::Context::new().with_remote_span_context(remote);
            crate::traces::set_parent(&other, &cx);
            let ids = crate::traces::new_span_ids(&other).expect("ids");
            assert_eq!(ids.trace_id, [7; 16], "the caller's trace");
            assert!(!ids.sampled, "the caller's decision");
            let again = crate::traces::new_span_ids(&other).expect("looked up");
            assert_eq!((again.trace_id, again.span_id), (ids.trace_id, ids.span_id));
            // Another span's note is not this span's ids.
            let _third = tracing::info_span!("third");
            let first = crate::traces::new_span_ids(&span).unwrap();
            assert_eq!(first.span_id, looked_up.span_id);
        });
        telemetry
            .shutdown_with_timeout(std::time::Duration::from_millis(100))
            .ok();
    }

    #[test]
    fn series_beyond_the_bound_keep_no_exemplar() {
        let s = Slots::new("h".into(), &[1.0]);
        for i in 0..MAX_SERIES as u64 + 10 {
            s.put(i, e(0.5));
        }
        assert_eq!(s.series.lock().unwrap().len(), MAX_SERIES);
    }
}
