//! Questions asked of the [`Store`]: trace lists and details, log lines, error groups, services
//! and their dependencies, metric series. The API serves these as JSON and the pages render them.
//!
//! ```
//! use watchpost_cli::console::{query, store::Store};
//! let store = Store::new(1 << 20);
//! assert!(query::traces(&store, &query::TraceFilter::default()).is_empty());
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::store::{attr, hex, Attrs, LogRecord, Span, SpanId, Store, TraceId, LEVELS};

mod metrics;
pub mod red;
pub use metrics::{metric_names, metric_series, ExemplarView, MetricSeries, MetricSummary, Series};

/// Attributes as a JSON object (in the order received).
pub fn attrs_json(attrs: &Attrs) -> serde_json::Map<String, serde_json::Value> {
    attrs
        .iter()
        .map(|(k, v)| {
            (
                k.to_string(),
                serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
            )
        })
        .collect()
}

/// Which traces to list.
#[derive(Debug, Clone)]
pub struct TraceFilter {
    /// Traces with a span of this service.
    pub service: Option<String>,
    /// Only traces with a failed span.
    pub errors: bool,
    /// Only traces at least this long (nanoseconds).
    pub min_duration: u64,
    /// Traces with a span whose `http.route` is this.
    pub route: Option<String>,
    /// At most this many (newest first).
    pub limit: usize,
}

impl Default for TraceFilter {
    fn default() -> Self {
        TraceFilter {
            service: None,
            errors: false,
            min_duration: 0,
            route: None,
            limit: 100,
        }
    }
}

/// One line of the trace list.
#[derive(Debug, Clone, Serialize)]
pub struct TraceSummary {
    /// Hex.
    pub trace_id: String,
    /// The root span's name (the earliest span without a parent in the trace).
    pub root: String,
    /// The root span's service.
    pub service: String,
    /// Every service with a span in the trace.
    pub services: Vec<String>,
    /// Earliest start, Unix nanoseconds.
    pub start_ns: u64,
    /// Latest end minus earliest start.
    pub duration_ns: u64,
    /// `error` when a span failed, else `ok`.
    pub status: &'static str,
    /// Spans held.
    pub spans: usize,
    /// Log records held.
    pub logs: usize,
    /// The `http.route` of the root (or of the first span that has one).
    pub route: Option<String>,
}

fn trace_spans<'a>(store: &'a Store, id: &TraceId) -> Vec<&'a Span> {
    store.traces.get(id).map_or_else(Vec::new, |e| {
        e.spans.iter().filter_map(|&n| store.spans.get(n)).collect()
    })
}

/// The summary of one trace (`None` when it has no span held).
pub fn summary(store: &Store, id: &TraceId) -> Option<TraceSummary> {
    let spans = trace_spans(store, id);
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let root = spans
        .iter()
        .filter(|s| s.parent.is_none_or(|p| !ids.contains(&p)))
        .min_by_key(|s| (s.parent.is_some(), s.start))?;
    let start = spans.iter().map(|s| s.start).min()?;
    let end = spans.iter().map(|s| s.end).max()?;
    let services: BTreeSet<&str> = spans.iter().map(|s| &*s.resource.service).collect();
    let route = attr(&root.attributes, "http.route")
        .or_else(|| spans.iter().find_map(|s| attr(&s.attributes, "http.route")))
        .map(|v| v.text());
    Some(TraceSummary {
        trace_id: hex(id),
        root: root.name.to_string(),
        service: root.resource.service.to_string(),
        services: services.into_iter().map(str::to_owned).collect(),
        start_ns: start,
        duration_ns: end - start,
        status: if spans.iter().any(|s| s.is_error()) {
            "error"
        } else {
            "ok"
        },
        spans: spans.len(),
        logs: store.traces.get(id).map_or(0, |e| e.logs.len()),
        route,
    })
}

/// Traces, as `filter` says: the `limit` with the latest arrivals, the latest start first.
pub fn traces(store: &Store, filter: &TraceFilter) -> Vec<TraceSummary> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for span in store.spans.iter().rev() {
        if out.len() >= filter.limit {
            break;
        }
        if !seen.insert(span.trace_id) {
            continue;
        }
        let Some(s) = summary(store, &span.trace_id) else {
            continue;
        };
        if filter.errors && s.status != "error"
            || s.duration_ns < filter.min_duration
            || filter
                .service
                .as_ref()
                .is_some_and(|svc| !s.services.contains(svc))
        {
            continue;
        }
        if let Some(route) = &filter.route {
            let spans = trace_spans(store, &span.trace_id);
            if !spans
                .iter()
                .any(|sp| attr(&sp.attributes, "http.route").is_some_and(|v| v.text() == *route))
            {
                continue;
            }
        }
        out.push(s);
    }
    // The newest arrivals, shown newest start first.
    out.sort_by_key(|t| std::cmp::Reverse(t.start_ns));
    out
}

/// A log record as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct LogView {
    /// Unix nanoseconds.
    pub time_ns: u64,
    /// The resource's `service.name`.
    pub service: String,
    /// `TRACE` … `FATAL`.
    pub level: &'static str,
    /// The `subsystem` attribute, or "".
    pub subsystem: String,
    /// The body.
    pub body: String,
    /// Hex, when the record belongs to a trace.
    pub trace_id: Option<String>,
    /// Hex, when the record belongs to a span.
    pub span_id: Option<String>,
    /// The record's attributes.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The resource's attributes.
    pub resource: serde_json::Map<String, serde_json::Value>,
}

fn log_view(r: &LogRecord) -> LogView {
    LogView {
        time_ns: r.time,
        service: r.resource.service.to_string(),
        level: r.level,
        subsystem: r.subsystem(),
        body: r.body.to_string(),
        trace_id: r.trace_id.map(|t| hex(&t)),
        span_id: r.span_id.map(|s| hex(&s)),
        attributes: attrs_json(&r.attributes),
        resource: attrs_json(&r.resource.attributes),
    }
}

/// One span of a trace's detail.
#[derive(Debug, Clone, Serialize)]
pub struct SpanView {
    /// Hex.
    pub span_id: String,
    /// Hex, if the span has a parent.
    pub parent_id: Option<String>,
    /// 0 for roots (and spans whose parent is not held), their children 1, …
    pub depth: usize,
    /// The span's name.
    pub name: String,
    /// Its service.
    pub service: String,
    /// `internal`, `server`, `client`, `producer`, `consumer` or `unspecified`.
    pub kind: &'static str,
    /// Start, Unix nanoseconds.
    pub start_ns: u64,
    /// From the trace's start.
    pub offset_ns: u64,
    /// Its duration.
    pub duration_ns: u64,
    /// `unset`, `ok` or `error`.
    pub status: &'static str,
    /// The status message.
    pub status_message: String,
    /// Its attributes.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Its events (`time_ns`, `name`, `attributes`).
    pub events: Vec<serde_json::Value>,
}

/// A trace: its spans in tree order (each after its parent, siblings by start) and its log
/// records by time.
#[derive(Debug, Clone, Serialize)]
pub struct TraceDetail {
    /// The summary.
    #[serde(flatten)]
    pub summary: TraceSummary,
    /// Spans, depth first.
    pub span_list: Vec<SpanView>,
    /// Log records, by time.
    pub log_list: Vec<LogView>,
}

/// The span kind's name.
pub fn kind_name(kind: i32) -> &'static str {
    match kind {
        1 => "internal",
        2 => "server",
        3 => "client",
        4 => "producer",
        5 => "consumer",
        _ => "unspecified",
    }
}

/// A trace's detail (`None` when no span of it is held).
pub fn trace(store: &Store, id: &TraceId) -> Option<TraceDetail> {
    let summary = summary(store, id)?;
    let mut spans = trace_spans(store, id);
    spans.sort_by_key(|s| (s.start, s.end));
    let ids: HashSet<SpanId> = spans.iter().map(|s| s.span_id).collect();
    let mut children: HashMap<Option<SpanId>, Vec<&Span>> = HashMap::new();
    for s in &spans {
        let parent = s.parent.filter(|p| ids.contains(p) && *p != s.span_id);
        children.entry(parent).or_default().push(s);
    }
    let mut list = Vec::new();
    let mut stack: Vec<(&Span, usize)> = children
        .get(&None)
        .map(|v| v.iter().rev().map(|s| (*s, 0)).collect())
        .unwrap_or_default();
    let mut visited = HashSet::new();
    while let Some((s, depth)) = stack.pop() {
        if !visited.insert(s.span_id) {
            continue;
        }
        list.push(span_view(s, depth, summary.start_ns));
        if let Some(kids) = children.get(&Some(s.span_id)) {
            stack.extend(kids.iter().rev().map(|k| (*k, depth + 1)));
        }
    }
    // Spans in a cycle of parents (a broken sender) are still shown, at the top level.
    for s in &spans {
        if !visited.contains(&s.span_id) {
            list.push(span_view(s, 0, summary.start_ns));
        }
    }
    let mut logs: Vec<LogView> = store.traces.get(id).map_or_else(Vec::new, |e| {
        e.logs
            .iter()
            .filter_map(|&n| store.logs.get(n))
            .map(log_view)
            .collect()
    });
    logs.sort_by_key(|l| l.time_ns);
    Some(TraceDetail {
        summary,
        span_list: list,
        log_list: logs,
    })
}

fn span_view(s: &Span, depth: usize, trace_start: u64) -> SpanView {
    SpanView {
        span_id: hex(&s.span_id),
        parent_id: s.parent.map(|p| hex(&p)),
        depth,
        name: s.name.to_string(),
        service: s.resource.service.to_string(),
        kind: kind_name(s.kind),
        start_ns: s.start,
        offset_ns: s.start.saturating_sub(trace_start),
        duration_ns: s.duration(),
        status: match s.status {
            1 => "ok",
            2 => "error",
            _ => "unset",
        },
        status_message: s.status_message.to_string(),
        attributes: attrs_json(&s.attributes),
        events: s
            .events
            .iter()
            .map(|e| {
                serde_json::json!({
                    "time_ns": e.time,
                    "name": &*e.name,
                    "attributes": attrs_json(&e.attributes),
                })
            })
            .collect(),
    }
}

/// Which log records to list.
#[derive(Debug, Clone)]
pub struct LogFilter {
    /// Records of this service.
    pub service: Option<String>,
    /// Records at this level or more severe (an entry of [`LEVELS`]).
    pub level: Option<&'static str>,
    /// Records whose `subsystem` attribute is this.
    pub subsystem: Option<String>,
    /// Records whose body contains this (case-insensitive).
    pub text: Option<String>,
    /// Records of this trace.
    pub trace_id: Option<TraceId>,
    /// Records with these attributes (on the record or its resource), values compared as text.
    pub attributes: Vec<(String, String)>,
    /// At most this many (newest first).
    pub limit: usize,
}

impl Default for LogFilter {
    fn default() -> Self {
        LogFilter {
            service: None,
            level: None,
            subsystem: None,
            text: None,
            trace_id: None,
            attributes: Vec::new(),
            limit: 200,
        }
    }
}

/// Log records, newest first, as `filter` says.
pub fn logs(store: &Store, filter: &LogFilter) -> Vec<LogView> {
    let min_level = filter
        .level
        .and_then(|l| LEVELS.iter().position(|x| *x == l))
        .unwrap_or(0);
    let text = filter.text.as_ref().map(|t| t.to_lowercase());
    let matches = |r: &LogRecord| {
        LEVELS.iter().position(|x| *x == r.level).unwrap_or(0) >= min_level
            && filter
                .service
                .as_ref()
                .is_none_or(|s| *r.resource.service == **s)
            && filter
                .subsystem
                .as_ref()
                .is_none_or(|s| r.subsystem() == *s)
            && filter.trace_id.is_none_or(|t| r.trace_id == Some(t))
            && text
                .as_ref()
                .is_none_or(|t| r.body.to_lowercase().contains(t))
            && filter.attributes.iter().all(|(k, v)| {
                attr(&r.attributes, k)
                    .or_else(|| attr(&r.resource.attributes, k))
                    .is_some_and(|x| x.text() == *v)
            })
    };
    let mut out: Vec<LogView> = match filter.trace_id.and_then(|t| store.traces.get(&t)) {
        // A trace's records, from its index.
        Some(entry) => entry
            .logs
            .iter()
            .rev()
            .filter_map(|&n| store.logs.get(n))
            .filter(|r| matches(r))
            .take(filter.limit)
            .map(log_view)
            .collect(),
        None if filter.trace_id.is_some() => Vec::new(),
        None => store
            .logs
            .iter()
            .rev()
            .filter(|r| matches(r))
            .take(filter.limit)
            .map(log_view)
            .collect(),
    };
    out.sort_by_key(|l| std::cmp::Reverse(l.time_ns));
    out
}

/// Failed spans grouped by span name and `error.type` (else the status message).
#[derive(Debug, Clone, Serialize)]
pub struct ErrorGroup {
    /// The span name.
    pub name: String,
    /// `error.type`, or the status message.
    pub error: String,
    /// The service of the newest.
    pub service: String,
    /// Failed spans in the group.
    pub count: u64,
    /// Earliest end, Unix nanoseconds.
    pub first_seen_ns: u64,
    /// Latest end.
    pub last_seen_ns: u64,
    /// The trace of the newest, hex.
    pub sample_trace_id: String,
}

/// Error groups, most frequent first.
pub fn errors(store: &Store) -> Vec<ErrorGroup> {
    let mut groups: BTreeMap<(String, String), ErrorGroup> = BTreeMap::new();
    for s in store.spans.iter().filter(|s| s.is_error()) {
        let error = attr(&s.attributes, "error.type")
            .map(|v| v.text())
            .unwrap_or_else(|| s.status_message.to_string());
        let g = groups
            .entry((s.name.to_string(), error.clone()))
            .or_insert_with(|| ErrorGroup {
                name: s.name.to_string(),
                error,
                service: String::new(),
                count: 0,
                first_seen_ns: u64::MAX,
                last_seen_ns: 0,
                sample_trace_id: String::new(),
            });
        g.count += 1;
        g.first_seen_ns = g.first_seen_ns.min(s.end);
        if s.end >= g.last_seen_ns {
            g.last_seen_ns = s.end;
            g.sample_trace_id = hex(&s.trace_id);
            g.service = s.resource.service.to_string();
        }
    }
    let mut out: Vec<ErrorGroup> = groups.into_values().collect();
    out.sort_by(|a, b| {
        b.count
            .cmp(&a.count)
            .then(b.last_seen_ns.cmp(&a.last_seen_ns))
    });
    out
}

/// Spans of one name in one service, and how long they took.
#[derive(Debug, Clone, Serialize)]
pub struct Operation {
    /// The service.
    pub service: String,
    /// The span name.
    pub name: String,
    /// `server`, `client`, … (of the newest).
    pub kind: &'static str,
    /// Spans held.
    pub count: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median duration (nearest rank).
    pub p50_ns: u64,
    /// 99th percentile (nearest rank).
    pub p99_ns: u64,
    /// The longest.
    pub max_ns: u64,
    /// The trace of the longest, hex.
    pub slowest_trace_id: String,
}

/// Operations (service and span name), slowest p99 first.
pub fn operations(store: &Store) -> Vec<Operation> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Span>> = BTreeMap::new();
    for s in store.spans.iter() {
        groups
            .entry((&s.resource.service, &s.name))
            .or_default()
            .push(s);
    }
    let mut out: Vec<Operation> = groups
        .into_iter()
        .map(|((service, name), mut spans)| {
            spans.sort_by_key(|s| s.duration());
            let rank = |q: f64| {
                let i = ((q * spans.len() as f64).ceil() as usize).clamp(1, spans.len()) - 1;
                spans[i].duration()
            };
            let slowest = spans[spans.len() - 1];
            Operation {
                service: service.to_owned(),
                name: name.to_owned(),
                kind: kind_name(slowest.kind),
                count: spans.len() as u64,
                errors: spans.iter().filter(|s| s.is_error()).count() as u64,
                p50_ns: rank(0.5),
                p99_ns: rank(0.99),
                max_ns: slowest.duration(),
                slowest_trace_id: hex(&slowest.trace_id),
            }
        })
        .collect();
    out.sort_by_key(|o| std::cmp::Reverse((o.p99_ns, o.count)));
    out
}

/// A service and what the store holds of it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ServiceView {
    /// `service.name`.
    pub name: String,
    /// Spans held.
    pub spans: u64,
    /// Failed spans held.
    pub error_spans: u64,
    /// Log records held.
    pub logs: u64,
    /// Metric points held.
    pub metric_points: u64,
}

/// A dependency: spans of `from` whose child spans are in `to`.
#[derive(Debug, Clone, Serialize)]
pub struct Edge {
    /// The calling service.
    pub from: String,
    /// The called service.
    pub to: String,
    /// Parent/child span pairs across the two.
    pub calls: u64,
    /// Of which the child failed.
    pub errors: u64,
    /// Of which the parent is a client or producer span and the child a server or consumer span.
    pub client_server: u64,
}

/// Services by name, and the dependency edges between them (from parent/child span pairs across
/// services, e.g. a client span and the server span it caused).
pub fn services(store: &Store) -> (Vec<ServiceView>, Vec<Edge>) {
    let mut services: BTreeMap<String, ServiceView> = BTreeMap::new();
    fn entry<'a>(
        services: &'a mut BTreeMap<String, ServiceView>,
        name: &str,
    ) -> &'a mut ServiceView {
        services
            .entry(name.to_owned())
            .or_insert_with(|| ServiceView {
                name: name.to_owned(),
                ..ServiceView::default()
            })
    }
    for s in store.spans.iter() {
        let v = entry(&mut services, &s.resource.service);
        v.spans += 1;
        v.error_spans += u64::from(s.is_error());
    }
    for r in store.logs.iter() {
        entry(&mut services, &r.resource.service).logs += 1;
    }
    for p in store.points.iter() {
        entry(&mut services, &p.resource.service).metric_points += 1;
    }
    let mut edges: BTreeMap<(String, String), Edge> = BTreeMap::new();
    for e in store.traces.values() {
        let spans: Vec<&Span> = e.spans.iter().filter_map(|&n| store.spans.get(n)).collect();
        let by_id: HashMap<SpanId, &Span> = spans.iter().map(|s| (s.span_id, *s)).collect();
        for child in &spans {
            let Some(parent) = child.parent.and_then(|p| by_id.get(&p)) else {
                continue;
            };
            if parent.resource.service == child.resource.service {
                continue;
            }
            let edge = edges
                .entry((
                    parent.resource.service.to_string(),
                    child.resource.service.to_string(),
                ))
                .or_insert_with(|| Edge {
                    from: parent.resource.service.to_string(),
                    to: child.resource.service.to_string(),
                    calls: 0,
                    errors: 0,
                    client_server: 0,
                });
            edge.calls += 1;
            edge.errors += u64::from(child.is_error());
            edge.client_server +=
                u64::from(matches!(parent.kind, 3 | 4) && matches!(child.kind, 2 | 5));
        }
    }
    (
        services.into_values().collect(),
        edges.into_values().collect(),
    )
}
