//! The span rules, applied to what the [OTLP receiver](crate::otlp) hands over, and the joins of
//! spans with log lines at the end of a check.
//!
//! Per span: `span.name-not-route`, `span.missing-status-code`, `span.missing-error-type` (HTTP
//! server spans: kind SERVER with `http.request.method`; server spans of the older HTTP semantic
//! conventions, with `http.method` instead, are not checked but counted in the span coverage as
//! `server spans (old HTTP conventions, not checked)`), `span.unbounded-attribute`, the privacy
//! rules (attributes, event attributes, the status message) and `otlp.invalid` (ids of the wrong
//! length or all zero). OTLP log records get `otlp.invalid` and the privacy rules (body and
//! attributes). At the end ([`SpanChecker::finish`]): `span.no-client-span`,
//! `trace.error-without-span` and `log.server-error-unlogged`.
//!
//! Memory stays bounded: per trace a few counters, at most [`MAX_TRACES`] traces (further ones
//! are counted as `traces untracked` and left out of the joins), span names interned up to
//! [`MAX_NAMES`].

mod attributes;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, HashMap, HashSet};

use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::Span;

pub use attributes::{has_id_like_segment, unbounded, MAX_VALUE_BYTES};

use crate::config::CheckSettings;
use crate::finding::{Finding, Signal};
use crate::logs::LogFacts;
use crate::otlp::Batch;
use crate::privacy::{self, Privacy};
use crate::report::Report;
use crate::rules;

/// Traces followed for the joins; spans of further traces are still checked one by one.
pub const MAX_TRACES: usize = 100_000;
/// Distinct span and service names remembered for the end-of-check findings; further names are
/// reported as `(other names)`.
pub const MAX_NAMES: usize = 10_000;
/// OTLP log records at WARN or above (severity number 13+).
const SEVERITY_WARN: i32 = 13;
/// OTLP log records at ERROR or above (severity number 17+).
const SEVERITY_ERROR: i32 = 17;

type TraceId = [u8; 16];

/// What one trace showed, as far as the joins need it.
#[derive(Debug, Default, Clone, Copy)]
struct TraceState {
    /// Spans received.
    spans: u32,
    /// The first HTTP server span that did not answer 4xx: (name, service), interned.
    server: Option<(u32, u32)>,
}

/// Names interned up to a cap; index 0 is `(other names)`.
#[derive(Debug)]
struct Names {
    index: HashMap<String, u32>,
    list: Vec<String>,
}

impl Names {
    fn new() -> Names {
        Names {
            index: HashMap::new(),
            list: vec!["(other names)".to_owned()],
        }
    }

    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        if self.list.len() > MAX_NAMES {
            return 0;
        }
        let i = self.list.len() as u32;
        self.list.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    fn get(&self, i: u32) -> &str {
        self.list.get(i as usize).map_or("", String::as_str)
    }
}

/// The span rules over one check. Feed it every [`Batch`], then call [`SpanChecker::finish`]
/// once with what the log checks learned.
#[derive(Debug)]
pub struct SpanChecker {
    traces: HashMap<TraceId, TraceState>,
    untracked_spans: u64,
    /// Services (interned) that sent a CLIENT span.
    client_services: HashSet<u32>,
    names: Names,
    /// 5xx server spans: trace and name (interned), at most [`MAX_TRACES`].
    server_errors: Vec<(TraceId, u32)>,
    untracked_server_errors: u64,
    /// Trace ids of OTLP log records at WARN or above, at most [`MAX_TRACES`].
    otlp_warn_traces: HashSet<TraceId>,
    /// Trace ids of OTLP log records at ERROR or above, at most [`MAX_TRACES`].
    otlp_error_traces: HashSet<TraceId>,
    untracked_warn_records: u64,
    trace_batches: u64,
    log_records: u64,
    /// Some exports were refused ([`SpanChecker::set_partial`]).
    partial: bool,
}

impl SpanChecker {
    /// A checker for one check. (No setting applies to spans yet; the argument keeps the
    /// checkers alike.)
    pub fn new(_settings: &CheckSettings) -> SpanChecker {
        SpanChecker {
            traces: HashMap::new(),
            untracked_spans: 0,
            client_services: HashSet::new(),
            names: Names::new(),
            server_errors: Vec::new(),
            untracked_server_errors: 0,
            otlp_warn_traces: HashSet::new(),
            otlp_error_traces: HashSet::new(),
            untracked_warn_records: 0,
            trace_batches: 0,
            log_records: 0,
            partial: false,
        }
    }

    /// Says that what arrived is not all that was sent: the receiver refused exports
    /// ([`crate::otlp::Receiver::dropped`] > 0). The joins that conclude from something missing
    /// — a span, a child span, a log record — are then skipped at [`SpanChecker::finish`], and
    /// what they would have judged is counted in the coverage instead.
    pub fn set_partial(&mut self) {
        self.partial = true;
    }

    /// Checks one export: spans, log records (`otlp log records` in the log coverage), metrics
    /// (counted as `otlp metrics`) or an unreadable export (`otlp.invalid`).
    pub fn batch(&mut self, batch: &Batch, report: &mut Report) {
        match batch {
            Batch::Traces(req) => {
                self.trace_batches += 1;
                let mut spans = 0;
                let mut server = 0;
                let mut old_server = 0;
                for rs in &req.resource_spans {
                    let service = rs
                        .resource
                        .as_ref()
                        .and_then(|r| find_str(&r.attributes, "service.name"))
                        .unwrap_or("unknown_service");
                    for ss in &rs.scope_spans {
                        for span in &ss.spans {
                            spans += 1;
                            match self.span(span, service, report) {
                                SpanSort::Server => server += 1,
                                SpanSort::OldServer => old_server += 1,
                                SpanSort::Other => {}
                            }
                        }
                    }
                }
                report.cover(Signal::Span, "spans", spans);
                report.cover(Signal::Span, "server spans", server);
                if old_server > 0 {
                    report.cover(
                        Signal::Span,
                        "server spans (old HTTP conventions, not checked)",
                        old_server,
                    );
                }
            }
            Batch::Logs(req) => {
                let mut n = 0;
                for rl in &req.resource_logs {
                    for sl in &rl.scope_logs {
                        for record in &sl.log_records {
                            n += 1;
                            self.log_record(record, report);
                        }
                    }
                }
                self.log_records += n;
                report.cover(Signal::Log, "otlp log records", n);
            }
            Batch::Metrics(req) => {
                let n = req
                    .resource_metrics
                    .iter()
                    .flat_map(|rm| &rm.scope_metrics)
                    .map(|sm| sm.metrics.len() as u64)
                    .sum();
                report.cover(Signal::Metric, "otlp metrics", n);
            }
            Batch::Invalid { transport, message } => {
                report.add(
                    Finding::new(
                        &rules::OTLP_INVALID,
                        format!("otlp/{transport}"),
                        "an OTLP export could not be read",
                    )
                    .with("transport", *transport)
                    .with("problem", message.as_str()),
                );
            }
        }
    }

    /// Checks one span; returns whether it is an HTTP server span (of either convention).
    fn span(&mut self, span: &Span, service: &str, report: &mut Report) -> SpanSort {
        let trace_ok = valid_id(&span.trace_id, 16);
        let span_ok = valid_id(&span.span_id, 8);
        let parent_ok = span.parent_span_id.is_empty() || span.parent_span_id.len() == 8;
        if !(trace_ok && span_ok && parent_ok) {
            let problem = if !trace_ok {
                "trace_id is not 16 bytes, or all zero"
            } else if !span_ok {
                "span_id is not 8 bytes, or all zero"
            } else {
                "parent_span_id is not 8 bytes"
            };
            report.add(
                Finding::new(
                    &rules::OTLP_INVALID,
                    span.name.as_str(),
                    "a span carries an invalid id",
                )
                .with("problem", problem)
                .with("trace_id", hex(&span.trace_id))
                .with("span_id", hex(&span.span_id))
                .with("service", service),
            );
        }

        let kind = span.kind;
        let mut method = None;
        let mut route = None;
        let mut status = None;
        let mut error_type = false;
        let mut old_method = false;
        for kv in &span.attributes {
            let Some(value) = kv.value.as_ref() else {
                continue;
            };
            match kv.key.as_str() {
                "http.request.method" => method = attributes::string(value),
                "http.route" => route = attributes::string(value),
                "http.response.status_code" => status = status_code(value),
                "error.type" => error_type = true,
                "http.method" => old_method = true,
                _ => {}
            }
            if let Some(p) = attributes::privacy(&kv.key, value) {
                report.add(
                    privacy_finding(p, &span.name, service).with("attribute", kv.key.as_str()),
                );
            }
            if let Some(s) = attributes::string(value) {
                if let Some(why) = attributes::unbounded(&kv.key, s) {
                    report.add(
                        Finding::new(
                            &rules::SPAN_UNBOUNDED_ATTRIBUTE,
                            span.name.as_str(),
                            format!("the attribute `{}` is unbounded: {why}", kv.key),
                        )
                        .with("attribute", kv.key.as_str())
                        .with("why", why)
                        .with("length", s.len())
                        .with("service", service),
                    );
                }
            }
        }
        for event in &span.events {
            for kv in &event.attributes {
                if let Some(p) = kv
                    .value
                    .as_ref()
                    .and_then(|v| attributes::privacy(&kv.key, v))
                {
                    report.add(
                        privacy_finding(p, &span.name, service)
                            .with("event", event.name.as_str())
                            .with("attribute", kv.key.as_str()),
                    );
                }
            }
        }
        if let Some(p) = span
            .status
            .as_ref()
            .and_then(|s| privacy::scan_value(&s.message))
        {
            report.add(privacy_finding(p, &span.name, service).with("field", "status.message"));
        }

        let server = kind == SpanKind::Server as i32 && method.is_some();
        let mut name_index = None;
        if let (true, Some(method)) = (server, method) {
            self.server_span(span, service, method, route, status, error_type, report);
            if status.is_some_and(|s| s >= 500) {
                let name = self.names.intern(&span.name);
                name_index = Some(name);
                if trace_ok {
                    if self.server_errors.len() < MAX_TRACES {
                        self.server_errors.push((id16(&span.trace_id), name));
                    } else {
                        self.untracked_server_errors += 1;
                    }
                }
            }
        }
        if kind == SpanKind::Client as i32 {
            let s = self.names.intern(service);
            self.client_services.insert(s);
        }
        if trace_ok {
            let id = id16(&span.trace_id);
            if self.traces.len() < MAX_TRACES || self.traces.contains_key(&id) {
                let state = self.traces.entry(id).or_default();
                state.spans = state.spans.saturating_add(1);
                let client_error = status.is_some_and(|s| (400..500).contains(&s));
                if server && !client_error && state.server.is_none() {
                    let name = match name_index {
                        Some(n) => n,
                        None => self.names.intern(&span.name),
                    };
                    state.server = Some((name, self.names.intern(service)));
                }
            } else {
                self.untracked_spans += 1;
            }
        }
        if server {
            SpanSort::Server
        } else if kind == SpanKind::Server as i32 && old_method {
            SpanSort::OldServer
        } else {
            SpanSort::Other
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn server_span(
        &mut self,
        span: &Span,
        service: &str,
        method: &str,
        route: Option<&str>,
        status: Option<i64>,
        error_type: bool,
        report: &mut Report,
    ) {
        let name = span.name.as_str();
        match route {
            None => {
                // The semantic conventions name a request that matched no route by its method
                // alone, without `http.route`.
                let unmatched = name == method && matches!(status, Some(404 | 405));
                if !unmatched {
                    report.add(
                        Finding::new(
                            &rules::SPAN_NAME_NOT_ROUTE,
                            name,
                            "the HTTP server span has no `http.route`",
                        )
                        .with("method", method)
                        .with("id_like_segment", has_id_like_segment(name, false))
                        .with("service", service),
                    );
                }
            }
            Some(route) => {
                let named_by_route = name.split_once(' ').is_some_and(|(m, r)| {
                    r == route && (m == method || (method == "_OTHER" && m == "HTTP"))
                });
                if !named_by_route {
                    report.add(
                        Finding::new(
                            &rules::SPAN_NAME_NOT_ROUTE,
                            name,
                            format!("the HTTP server span is not named `{method} {route}`"),
                        )
                        .with("http.route", route)
                        .with("method", method)
                        .with("id_like_segment", has_id_like_segment(name, false))
                        .with("service", service),
                    );
                }
            }
        }
        match status {
            None => report.add(
                Finding::new(
                    &rules::SPAN_MISSING_STATUS_CODE,
                    name,
                    "the HTTP server span has no `http.response.status_code`",
                )
                .with("service", service),
            ),
            Some(s) if s >= 500 && !error_type => report.add(
                Finding::new(
                    &rules::SPAN_MISSING_ERROR_TYPE,
                    name,
                    format!("the HTTP server span answered {s} and has no `error.type`"),
                )
                .with("http.response.status_code", s)
                .with("service", service),
            ),
            Some(_) => {}
        }
    }

    fn log_record(&mut self, record: &LogRecord, report: &mut Report) {
        // An absent id is fine (a record outside any request); a present one must be valid. The
        // all-zero ids some SDKs write for "no span" count as absent.
        let zero = |b: &[u8]| b.iter().all(|&x| x == 0);
        let trace_bad = !(record.trace_id.is_empty() || record.trace_id.len() == 16);
        let span_bad = !(record.span_id.is_empty() || record.span_id.len() == 8);
        let name = record
            .body
            .as_ref()
            .and_then(attributes::string)
            .filter(|b| b.len() <= 200 && privacy::scan_value(b).is_none())
            .unwrap_or("log record");
        if trace_bad || span_bad {
            report.add(
                Finding::new(
                    &rules::OTLP_INVALID,
                    name,
                    "a log record carries an invalid id",
                )
                .on(Signal::Log)
                .with(
                    "problem",
                    if trace_bad {
                        "trace_id is not 16 bytes"
                    } else {
                        "span_id is not 8 bytes"
                    },
                )
                .with("trace_id", hex(&record.trace_id)),
            );
        }
        if let Some(body) = &record.body {
            if let Some(p) = attributes::privacy("body", body) {
                report.add(
                    privacy_finding(p, name, "")
                        .on(Signal::Log)
                        .with("field", "body"),
                );
            }
        }
        for kv in &record.attributes {
            if let Some(p) = kv
                .value
                .as_ref()
                .and_then(|v| attributes::privacy(&kv.key, v))
            {
                report.add(
                    privacy_finding(p, name, "")
                        .on(Signal::Log)
                        .with("attribute", kv.key.as_str()),
                );
            }
        }
        if record.severity_number >= SEVERITY_WARN
            && record.trace_id.len() == 16
            && !zero(&record.trace_id)
        {
            let id = id16(&record.trace_id);
            if self.otlp_warn_traces.len() < MAX_TRACES || self.otlp_warn_traces.contains(&id) {
                self.otlp_warn_traces.insert(id);
                if record.severity_number >= SEVERITY_ERROR {
                    self.otlp_error_traces.insert(id);
                }
            } else {
                self.untracked_warn_records += 1;
            }
        }
    }

    /// The joins, once every batch is in: `span.no-client-span` (server spans that answered 4xx
    /// left out: a request refused by validation has nothing to call), `trace.error-without-span`
    /// (ERROR log lines and OTLP records at ERROR or above, severity number 17+; when any trace
    /// export arrived at all: a check without the trace plane joins nothing) and
    /// `log.server-error-unlogged` (when any log line or OTLP log record was read), and the
    /// `traces` coverage — which marks spans as checked, so call this only when the OTLP
    /// receiver ran.
    ///
    /// After [`SpanChecker::set_partial`] the three joins are skipped: what they would have
    /// looked at is counted in the coverage (`… not joined (exports refused)`) instead.
    ///
    /// `logs`' trace ids are 32 hex digits (the W3C format), matched in either case.
    pub fn finish(&mut self, logs: &LogFacts, report: &mut Report) {
        report.cover(Signal::Span, "traces", self.traces.len() as u64);
        if self.untracked_spans > 0 {
            report.cover(
                Signal::Span,
                "spans of untracked traces",
                self.untracked_spans,
            );
        }
        self.no_client_span(report);
        if self.trace_batches > 0 {
            self.error_without_span(logs, report);
        }
        if logs.read || self.log_records > 0 {
            self.server_error_unlogged(logs, report);
        }
    }

    fn no_client_span(&self, report: &mut Report) {
        // One finding per service and route: (traces, the first one's id).
        let mut lonely: BTreeMap<(u32, u32), (u64, TraceId)> = BTreeMap::new();
        for (id, t) in &self.traces {
            if let (1, Some((name, service))) = (t.spans, t.server) {
                if self.client_services.contains(&service) {
                    let e = lonely.entry((service, name)).or_insert((0, *id));
                    e.0 += 1;
                    e.1 = e.1.min(*id);
                }
            }
        }
        if self.partial {
            let n = lonely.values().map(|(n, _)| n).sum();
            if n > 0 {
                report.cover(
                    Signal::Span,
                    "lonely server spans not joined (exports refused)",
                    n,
                );
            }
            return;
        }
        for ((service, name), (n, id)) in lonely {
            report.add(
                Finding::new(
                    &rules::SPAN_NO_CLIENT_SPAN,
                    self.names.get(name),
                    "requests of this route trace no span below the server span, while the service traces its calls elsewhere",
                )
                .with("service", self.names.get(service))
                .with("traces", n)
                .with("trace_id", hex(&id)),
            );
        }
    }

    fn error_without_span(&self, logs: &LogFacts, report: &mut Report) {
        let mut ids: BTreeMap<TraceId, &'static str> = BTreeMap::new();
        for id in self.otlp_error_traces.iter() {
            ids.insert(*id, "OTLP log record");
        }
        for text in &logs.error_trace_ids {
            if let Some(id) = parse_hex16(text) {
                ids.insert(id, "log line");
            }
        }
        let untracked = self.untracked_spans > 0;
        let mut unknown = 0;
        for (id, source) in ids {
            if self.traces.contains_key(&id) {
                continue;
            }
            if untracked || self.partial {
                // Its spans may be among the untracked traces, or in a refused export.
                unknown += 1;
                continue;
            }
            report.add(
                Finding::new(
                    &rules::TRACE_ERROR_WITHOUT_SPAN,
                    source,
                    "an ERROR log line or record names a trace of which no span arrived",
                )
                .with("trace_id", hex(&id)),
            );
        }
        if unknown > 0 {
            let what = if self.partial {
                "error trace ids not joined (exports refused)"
            } else {
                "error trace ids not joined (too many traces)"
            };
            report.cover(Signal::Log, what, unknown);
        }
    }

    fn server_error_unlogged(&self, logs: &LogFacts, report: &mut Report) {
        if self.partial {
            if !self.server_errors.is_empty() {
                report.cover(
                    Signal::Span,
                    "5xx server spans not joined (exports refused)",
                    self.server_errors.len() as u64,
                );
            }
            return;
        }
        // The log side's ids as bytes, so that either case matches (as in `error_without_span`).
        let explained: HashSet<TraceId> = logs
            .warn_trace_ids
            .iter()
            .chain(&logs.server_error_trace_ids)
            .filter_map(|t| parse_hex16(t))
            .collect();
        let mut seen = HashSet::new();
        for (id, name) in &self.server_errors {
            let mut buf = [0u8; 32];
            let text = hex_into(id, &mut buf);
            // Explained by a line or record of its trace; or its access line was judged already
            // by the log checks (one request, one finding).
            if explained.contains(id) || self.otlp_warn_traces.contains(id) {
                continue;
            }
            if !seen.insert((*id, *name)) {
                continue;
            }
            report.add(
                Finding::new(
                    &rules::LOG_SERVER_ERROR_UNLOGGED,
                    self.names.get(*name),
                    "the request answered 5xx and no WARN or ERROR log line or record of its trace says why",
                )
                .with("trace_id", text),
            );
        }
        if self.untracked_server_errors > 0 {
            report.cover(
                Signal::Span,
                "5xx server spans not joined (too many)",
                self.untracked_server_errors,
            );
        }
    }
}

/// What [`SpanChecker::span`] found a span to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SpanSort {
    /// An HTTP server span (kind SERVER, `http.request.method`): the server-span rules apply.
    Server,
    /// A server span of the older HTTP conventions (`http.method`): counted, not checked.
    OldServer,
    Other,
}

fn privacy_finding(p: Privacy, name: &str, service: &str) -> Finding {
    let mut f = Finding::new(p.rule(), name, format!("{} appears unredacted", p.what()))
        .on(Signal::Span)
        .with("found", p.what());
    if !service.is_empty() {
        f = f.with("service", service);
    }
    f
}

fn find_str<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a str> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| attributes::string(kv.value.as_ref()?))
}

fn status_code(v: &opentelemetry_proto::tonic::common::v1::AnyValue) -> Option<i64> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match v.value.as_ref()? {
        Value::IntValue(i) => Some(*i),
        Value::StringValue(s) => s.trim().parse().ok(),
        Value::DoubleValue(d) => Some(*d as i64),
        _ => None,
    }
}

fn valid_id(id: &[u8], len: usize) -> bool {
    id.len() == len && id.iter().any(|&b| b != 0)
}

/// The first 16 bytes of an id already checked to be that long.
fn id16(id: &[u8]) -> TraceId {
    let mut out = [0u8; 16];
    let n = id.len().min(16);
    out[..n].copy_from_slice(&id[..n]);
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 15) as usize] as char);
    }
    s
}

fn hex_into<'a>(id: &TraceId, buf: &'a mut [u8; 32]) -> &'a str {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in id.iter().enumerate() {
        buf[2 * i] = DIGITS[(b >> 4) as usize];
        buf[2 * i + 1] = DIGITS[(b & 15) as usize];
    }
    std::str::from_utf8(&buf[..]).unwrap_or("")
}

/// A 32-digit hex trace id (either case); `None` for anything else or all zeros.
fn parse_hex16(s: &str) -> Option<TraceId> {
    let b = s.as_bytes();
    if b.len() != 32 {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, pair) in b.chunks(2).enumerate() {
        let d = |c: u8| (c as char).to_digit(16);
        out[i] = (d(pair[0])? * 16 + d(pair[1])?) as u8;
    }
    out.iter().any(|&x| x != 0).then_some(out)
}
