//! The console's store: spans, log records and metric points in memory under a hard byte
//! budget. Each signal is a `VecDeque` in arrival order; when the estimated bytes exceed the
//! budget the oldest item of any signal (by a global arrival number) is evicted first, and every
//! eviction is counted. Indexes: traces by id (the arrival numbers of their spans and log
//! records), metric names, and the resources (interned: a service sends the same resource with
//! every export, so it is kept, and counted, once).
//!
//! The estimate is honest rather than exact: each item counts every allocation it owns as the
//! allocator sizes it ([`alloc`]: its box, strings, attribute and event lists), the ring's
//! pointer to it, [`INDEX_BYTES`] for its place in the indexes, and its scope's name; each
//! resource and metric name counts once while an item refers to it. Fragmentation is not counted.
//!
//! ```
//! use watchpost_cli::console::store::Store;
//! let store = Store::new(64 << 20);
//! assert_eq!(store.stats().bytes, 0);
//! ```

use std::collections::{HashMap, VecDeque};
use std::mem::size_of;
use std::sync::Arc;

use serde::Serialize;

mod ingest;

/// A trace id (16 bytes).
pub type TraceId = [u8; 16];
/// A span id (8 bytes).
pub type SpanId = [u8; 8];

/// What each item is charged besides itself for its place in the indexes (a slot in its trace's
/// list, the map's share).
pub const INDEX_BYTES: usize = 48;

/// An attribute value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// A string (arrays, maps and bytes are kept as their JSON text).
    Str(Box<str>),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Double(f64),
    /// A boolean.
    Bool(bool),
}

impl Value {
    fn heap(&self) -> usize {
        match self {
            Value::Str(s) => alloc(s.len()),
            _ => 0,
        }
    }

    /// The value as text (strings unquoted).
    pub fn text(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            Value::Int(i) => i.to_string(),
            Value::Double(d) => d.to_string(),
            Value::Bool(b) => b.to_string(),
        }
    }
}

/// Attributes in the order received.
pub type Attrs = Vec<(Box<str>, Value)>;

/// What the allocator takes for a block of `len` bytes (glibc's malloc: an 8-byte header,
/// 16-byte alignment, 32 bytes at least); 0 for an empty one, which is never allocated.
pub fn alloc(len: usize) -> usize {
    if len == 0 {
        0
    } else {
        ((len + 8 + 15) & !15).max(32)
    }
}

fn attrs_bytes(attrs: &Attrs) -> usize {
    alloc(attrs.len() * size_of::<(Box<str>, Value)>())
        + attrs
            .iter()
            .map(|(k, v)| alloc(k.len()) + v.heap())
            .sum::<usize>()
}

/// A metric's entry in the index: the entry, its name (shared), unit and description.
fn metric_info_bytes(name: &str, unit: &str, description: &str) -> usize {
    size_of::<MetricInfo>()
        + alloc(16 + name.len())
        + alloc(unit.len())
        + alloc(description.len())
        + INDEX_BYTES
}

/// The value of attribute `key`, if present.
pub fn attr<'a>(attrs: &'a Attrs, key: &str) -> Option<&'a Value> {
    attrs.iter().find(|(k, _)| &**k == key).map(|(_, v)| v)
}

/// Where telemetry came from: `service.name` and the other resource attributes.
#[derive(Debug)]
pub struct Resource {
    /// `service.name` (`unknown_service` when absent, as the SDKs say).
    pub service: Arc<str>,
    /// Every resource attribute.
    pub attributes: Attrs,
    key: Box<str>,
    bytes: usize,
}

/// One span.
#[derive(Debug)]
pub struct Span {
    /// Its trace.
    pub trace_id: TraceId,
    /// Its id.
    pub span_id: SpanId,
    /// Its parent, if any.
    pub parent: Option<SpanId>,
    /// Its name.
    pub name: Box<str>,
    /// OTLP `SpanKind` (1 internal, 2 server, 3 client, 4 producer, 5 consumer).
    pub kind: i32,
    /// Start, Unix nanoseconds.
    pub start: u64,
    /// End, Unix nanoseconds.
    pub end: u64,
    /// OTLP status code (0 unset, 1 ok, 2 error).
    pub status: i32,
    /// The status message.
    pub status_message: Box<str>,
    /// Its attributes.
    pub attributes: Attrs,
    /// Its events.
    pub events: Vec<Event>,
    /// The instrumentation scope's name (shared by the items of one export's scope).
    pub scope: Arc<str>,
    /// Its resource.
    pub resource: Arc<Resource>,
    arrived: u64,
    bytes: usize,
}

impl Span {
    /// Whether the span failed (status ERROR).
    pub fn is_error(&self) -> bool {
        self.status == 2
    }

    /// Duration in nanoseconds.
    pub fn duration(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }
}

/// A span event.
#[derive(Debug)]
pub struct Event {
    /// Unix nanoseconds.
    pub time: u64,
    /// Its name.
    pub name: Box<str>,
    /// Its attributes.
    pub attributes: Attrs,
}

/// One log record.
#[derive(Debug)]
pub struct LogRecord {
    /// Unix nanoseconds (the observed time when the record has none).
    pub time: u64,
    /// OTLP severity number (0 when unset).
    pub severity: i32,
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `FATAL` (from the number, else the text).
    pub level: &'static str,
    /// The body as text.
    pub body: Box<str>,
    /// Its attributes.
    pub attributes: Attrs,
    /// Its trace, if any.
    pub trace_id: Option<TraceId>,
    /// Its span, if any.
    pub span_id: Option<SpanId>,
    /// The instrumentation scope's name (shared by the items of one export's scope).
    pub scope: Arc<str>,
    /// Its resource.
    pub resource: Arc<Resource>,
    arrived: u64,
    bytes: usize,
}

impl LogRecord {
    /// The `subsystem` attribute (Watchpost's), or "".
    pub fn subsystem(&self) -> String {
        attr(&self.attributes, "subsystem")
            .map(Value::text)
            .unwrap_or_default()
    }
}

/// The value of one metric point.
#[derive(Debug, Clone)]
pub enum PointValue {
    /// A gauge or sum value.
    Number(f64),
    /// A histogram: bucket upper bounds, counts per bucket (one more than bounds), count, sum.
    Histogram {
        /// Upper bounds.
        bounds: Box<[f64]>,
        /// Counts per bucket.
        counts: Box<[u64]>,
        /// Observations.
        count: u64,
        /// Their sum.
        sum: f64,
    },
}

/// One metric data point.
#[derive(Debug)]
pub struct MetricPoint {
    /// The metric's name (shared with the index).
    pub name: Arc<str>,
    /// Its attributes.
    pub attributes: Attrs,
    /// Start of the aggregation, Unix nanoseconds.
    pub start: u64,
    /// Unix nanoseconds.
    pub time: u64,
    /// The value.
    pub value: PointValue,
    /// Exemplars that name a trace: measurements made in it.
    pub exemplars: Box<[Exemplar]>,
    /// Its resource.
    pub resource: Arc<Resource>,
    arrived: u64,
    bytes: usize,
}

/// A measurement of a metric point made in a trace (OTLP exemplars without one are not kept).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exemplar {
    /// Unix nanoseconds.
    pub time: u64,
    /// The measurement.
    pub value: f64,
    /// Its trace.
    pub trace_id: TraceId,
    /// Its span, if given.
    pub span_id: Option<SpanId>,
}

/// What the store knows of a metric.
#[derive(Debug, Clone, Serialize)]
pub struct MetricInfo {
    /// `gauge`, `counter`, `updowncounter`, `histogram`, `exponential_histogram` or `summary`.
    pub kind: &'static str,
    /// Its unit.
    pub unit: String,
    /// Its description.
    pub description: String,
    /// Whether sums and histograms are cumulative (else delta).
    pub cumulative: bool,
    /// Points held (the entry goes with the last).
    pub points: usize,
    #[serde(skip)]
    name: Arc<str>,
}

/// The spans and log records of one trace, by arrival number.
#[derive(Debug, Default)]
pub struct TraceEntry {
    /// Arrival numbers of the trace's spans (in `spans`' numbering), oldest first.
    pub spans: VecDeque<u64>,
    /// Arrival numbers of the trace's log records, oldest first.
    pub logs: VecDeque<u64>,
}

/// Counts per signal.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PerSignal {
    /// Spans.
    pub spans: u64,
    /// Log records.
    pub logs: u64,
    /// Metric points.
    pub metric_points: u64,
}

/// What the store holds and has evicted.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// The estimated bytes held.
    pub bytes: usize,
    /// The budget.
    pub budget: usize,
    /// Items held.
    pub stored: PerSignal,
    /// Items evicted to stay under the budget, since start.
    pub evicted: PerSignal,
    /// Items received, since start.
    pub received: PerSignal,
    /// Items received but not stored because they cannot be read: spans without a valid
    /// trace id, and metrics without data points (one per metric; `metric_points`).
    pub unreadable: PerSignal,
    /// Histogram points whose buckets could not be read (bounds and counts that do not match):
    /// kept with their count and sum only.
    pub malformed_histograms: u64,
    /// Traces with at least one span or log record held.
    pub traces: usize,
}

/// A deque whose items are addressed by a number that keeps counting (`base` is the front's).
#[derive(Debug)]
pub struct Numbered<T> {
    base: u64,
    // Boxed: the ring's slack (up to its length again) costs a pointer per slot, not an item.
    items: VecDeque<Box<T>>,
}

impl<T> Default for Numbered<T> {
    fn default() -> Self {
        Numbered {
            base: 0,
            items: VecDeque::new(),
        }
    }
}

impl<T> Numbered<T> {
    /// The item numbered `n`, if still held.
    pub fn get(&self, n: u64) -> Option<&T> {
        n.checked_sub(self.base)
            .and_then(|i| self.items.get(usize::try_from(i).ok()?))
            .map(|b| &**b)
    }

    /// Items, oldest first.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter().map(|b| &**b)
    }

    /// Items with their numbers, oldest first.
    pub fn numbered(&self) -> impl DoubleEndedIterator<Item = (u64, &T)> {
        let base = self.base;
        self.items
            .iter()
            .enumerate()
            .map(move |(i, t)| (base + i as u64, &**t))
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none are.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn push(&mut self, t: T) -> u64 {
        self.items.push_back(Box::new(t));
        self.base + self.items.len() as u64 - 1
    }

    fn pop(&mut self) -> Option<(u64, T)> {
        let t = self.items.pop_front()?;
        self.base += 1;
        Some((self.base - 1, *t))
    }
}

/// The store (see the module's documentation).
#[derive(Debug)]
pub struct Store {
    budget: usize,
    bytes: usize,
    arrivals: u64,
    /// Spans, in arrival order.
    pub spans: Numbered<Span>,
    /// Log records, in arrival order.
    pub logs: Numbered<LogRecord>,
    /// Metric points, in arrival order.
    pub points: Numbered<MetricPoint>,
    /// Traces by id.
    pub traces: HashMap<TraceId, TraceEntry>,
    /// Metrics by name.
    pub metrics: HashMap<Arc<str>, MetricInfo>,
    resources: HashMap<Box<str>, Arc<Resource>>,
    evicted: PerSignal,
    received: PerSignal,
    unreadable: PerSignal,
    malformed_histograms: u64,
}

/// Lower-case hexadecimal.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Reads `N` bytes of hexadecimal (either case); `None` if `s` is not exactly that.
pub fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    if s.len() != N * 2 || !s.is_ascii() {
        return None;
    }
    let mut out = [0; N];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(out)
}

/// The levels, least severe first.
pub const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

impl Store {
    /// An empty store holding at most `budget` bytes (estimated).
    pub fn new(budget: usize) -> Store {
        Store {
            budget,
            bytes: 0,
            arrivals: 0,
            spans: Numbered::default(),
            logs: Numbered::default(),
            points: Numbered::default(),
            traces: HashMap::new(),
            metrics: HashMap::new(),
            resources: HashMap::new(),
            evicted: PerSignal::default(),
            received: PerSignal::default(),
            unreadable: PerSignal::default(),
            malformed_histograms: 0,
        }
    }

    /// What the store holds and has evicted.
    pub fn stats(&self) -> Stats {
        Stats {
            bytes: self.bytes,
            budget: self.budget,
            stored: PerSignal {
                spans: self.spans.len() as u64,
                logs: self.logs.len() as u64,
                metric_points: self.points.len() as u64,
            },
            evicted: self.evicted,
            received: self.received,
            unreadable: self.unreadable,
            malformed_histograms: self.malformed_histograms,
            traces: self.traces.len(),
        }
    }

    fn resource(
        &mut self,
        r: Option<&opentelemetry_proto::tonic::resource::v1::Resource>,
    ) -> Arc<Resource> {
        let attributes = r.map(|r| ingest::attrs(&r.attributes)).unwrap_or_default();
        let key: Box<str> = attributes
            .iter()
            .map(|(k, v)| format!("{k}={}\n", v.text()))
            .collect::<String>()
            .into();
        if let Some(r) = self.resources.get(&key) {
            return r.clone();
        }
        let service: Arc<str> = attr(&attributes, "service.name")
            .map(|v| v.text().into())
            .unwrap_or_else(|| "unknown_service".into());
        // The Arc's block (two counts and the resource), its service name's, the key twice (the
        // resource's and the index's).
        let bytes = alloc(16 + size_of::<Resource>())
            + alloc(16 + service.len())
            + 2 * alloc(key.len())
            + attrs_bytes(&attributes)
            + INDEX_BYTES;
        let r = Arc::new(Resource {
            service,
            attributes,
            key: key.clone(),
            bytes,
        });
        self.bytes += bytes;
        self.resources.insert(key, r.clone());
        r
    }

    /// Releases a resource when the item being evicted was the last to hold it.
    fn release(&mut self, r: Arc<Resource>) {
        // The index holds one reference, `r` another.
        if Arc::strong_count(&r) == 2 {
            self.resources.remove(&r.key);
            self.bytes -= r.bytes;
        }
    }

    fn arrival(&mut self) -> u64 {
        self.arrivals += 1;
        self.arrivals
    }

    /// Evicts the oldest items, whatever their signal, until the bytes fit the budget.
    fn evict(&mut self) {
        while self.bytes > self.budget {
            let fronts = [
                self.spans.items.front().map(|s| s.arrived),
                self.logs.items.front().map(|l| l.arrived),
                self.points.items.front().map(|p| p.arrived),
            ];
            let Some((signal, _)) = fronts
                .iter()
                .enumerate()
                .filter_map(|(i, a)| a.map(|a| (i, a)))
                .min_by_key(|&(_, a)| a)
            else {
                return;
            };
            match signal {
                0 => {
                    let Some((n, span)) = self.spans.pop() else {
                        return;
                    };
                    self.bytes -= span.bytes;
                    self.evicted.spans += 1;
                    self.unindex(span.trace_id, |e| {
                        if e.spans.front() == Some(&n) {
                            e.spans.pop_front();
                        }
                    });
                    self.release(span.resource);
                }
                1 => {
                    let Some((n, rec)) = self.logs.pop() else {
                        return;
                    };
                    self.bytes -= rec.bytes;
                    self.evicted.logs += 1;
                    if let Some(t) = rec.trace_id {
                        self.unindex(t, |e| {
                            if e.logs.front() == Some(&n) {
                                e.logs.pop_front();
                            }
                        });
                    }
                    self.release(rec.resource);
                }
                _ => {
                    let Some((_, point)) = self.points.pop() else {
                        return;
                    };
                    self.bytes -= point.bytes;
                    self.evicted.metric_points += 1;
                    let gone = self.metrics.get_mut(&point.name).is_some_and(|info| {
                        info.points = info.points.saturating_sub(1);
                        info.points == 0
                    });
                    if gone {
                        if let Some(info) = self.metrics.remove(&point.name) {
                            self.bytes -=
                                metric_info_bytes(&info.name, &info.unit, &info.description);
                        }
                    }
                    self.release(point.resource);
                }
            }
        }
    }

    fn unindex(&mut self, trace: TraceId, f: impl FnOnce(&mut TraceEntry)) {
        if let Some(e) = self.traces.get_mut(&trace) {
            f(e);
            if e.spans.is_empty() && e.logs.is_empty() {
                self.traces.remove(&trace);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
    use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use opentelemetry_proto::tonic::resource::v1::Resource;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;

    fn resource() -> Option<Resource> {
        Some(Resource {
            attributes: vec![KeyValue {
                key: "service.name".into(),
                value: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("svc".into())),
                }),
                ..KeyValue::default()
            }],
            ..Resource::default()
        })
    }

    fn spans(trace: u8, n: u8) -> ExportTraceServiceRequest {
        ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                resource: resource(),
                scope_spans: vec![ScopeSpans {
                    spans: (1..=n)
                        .map(|i| Span {
                            trace_id: vec![trace; 16],
                            span_id: vec![i; 8],
                            name: "x".repeat(100),
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        }
    }

    fn log(trace: u8) -> ExportLogsServiceRequest {
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: resource(),
                scope_logs: vec![ScopeLogs {
                    log_records: vec![LogRecord {
                        trace_id: vec![trace; 16],
                        severity_number: 13,
                        ..LogRecord::default()
                    }],
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
    }

    #[test]
    fn the_oldest_item_of_any_signal_goes_first_and_the_budget_holds() {
        let mut store = Store::new(1 << 20);
        store.add_traces(spans(1, 3));
        store.add_logs(log(1));
        store.add_traces(spans(2, 3));
        let one_resource = store.resources.len();
        assert_eq!(one_resource, 1, "the same resource is kept once");
        let held = store.stats().bytes;
        // A budget that holds all but about one span: the first span goes, then nothing else.
        let mut small = Store::new(held - 10);
        small.add_traces(spans(1, 3));
        small.add_logs(log(1));
        small.add_traces(spans(2, 3));
        let stats = small.stats();
        assert_eq!((stats.evicted.spans, stats.evicted.logs), (1, 0));
        assert!(stats.bytes <= stats.budget);
        assert_eq!(small.traces[&[1; 16]].spans.len(), 2);
        assert_eq!(small.traces[&[1; 16]].logs.len(), 1);
        assert_eq!(small.spans.get(0).map(|s| s.span_id), None);
        assert_eq!(small.spans.get(1).map(|s| s.span_id), Some([2; 8]));
        assert_eq!(small.logs.iter().next().map(|l| l.level), Some("WARN"));
    }

    #[test]
    fn evicting_everything_releases_the_indexes_and_their_bytes() {
        // A budget smaller than one span evicts each as it arrives.
        let mut store = Store::new(100);
        store.add_traces(spans(1, 2));
        store.add_logs(log(1));
        let stats = store.stats();
        assert_eq!((stats.stored.spans, stats.stored.logs), (0, 0));
        assert_eq!((stats.evicted.spans, stats.evicted.logs), (2, 1));
        assert_eq!(
            stats.bytes, 0,
            "resources and indexes are released with the last item"
        );
        assert!(store.traces.is_empty() && store.resources.is_empty());
    }
}
