//! The log-line rules: JSON lines as the standard writes them (`time`, `level`, `msg`,
//! `subsystem`, `service`, `version`, `environment`, `trace_id`, `span_id`, then fields), read
//! one at a time. The standard fields are not required: a platform's log shipper may add them.
//!
//! Most rules decide on the line itself (`log.invalid-json`, `log.missing-key`,
//! `log.trace-level`, `log.missing-trace-id`, `log.resource-without-id`, `privacy.*`). Three need
//! the whole window and are decided by [`LogChecker::finish`]:
//!
//! - `log.too-many-info`: per trace, more INFO lines than requests (access lines) in it — a
//!   trace with no access line (an event) may have one;
//! - `log.server-error-unlogged`: an access line with a 5xx status whose trace has no other WARN
//!   or ERROR line (the access line itself says *that* it failed, not *why*);
//! - `log.noisy-when-idle`: INFO+ lines outside every request (an access line covers
//!   `time - duration_ms ..= time`) with no trace and no resource id — maintenance, not an
//!   event about something — whose message repeats at least [`IDLE_REPEATS`] times.
//!
//! Memory is bounded: at most [`MAX_TRACES`] traces, [`MAX_IDS`] resource ids and
//! [`MAX_IDLE_LINES`] idle candidates are kept; what does not fit is counted in the coverage
//! (`untracked …`), never silently ignored.
//!
//! ```
//! use watchpost_cli::{config::CheckSettings, logs::LogChecker, report::Report};
//!
//! let mut report = Report::default();
//! let mut logs = LogChecker::new(&CheckSettings::default());
//! logs.line(br#"{"time":"2026-11-30T10:00:00Z","level":"TRACE","msg":"tick","subsystem":"JOBS"}"#, &mut report);
//! logs.finish(&mut report);
//! assert_eq!(report.count("log.trace-level"), 1);
//! ```

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::config::CheckSettings;
use crate::finding::{Finding, Signal};
use crate::report::Report;
use crate::rules;

/// Traces tracked for the per-request rules.
pub const MAX_TRACES: usize = 100_000;
/// Resource ids remembered for `log.resource-without-id`.
pub const MAX_IDS: usize = 100_000;
/// Idle INFO+ lines kept until the end of the window.
pub const MAX_IDLE_LINES: usize = 100_000;
/// Request windows kept for `log.noisy-when-idle` (overlapping ones are merged as they come).
pub const MAX_WINDOWS: usize = 1_000_000;
/// The longest message kept for a later finding (longer ones are cut).
pub const MAX_KEPT_MESSAGE: usize = 200;
/// How often one message must repeat while idle to be noise.
pub const IDLE_REPEATS: usize = 3;
/// The keys every line must have.
pub const REQUIRED_KEYS: [&str; 4] = ["time", "level", "msg", "subsystem"];

/// What the log checks learned that other checks join on.
#[derive(Debug, Default, Clone)]
pub struct LogFacts {
    /// Trace ids of ERROR lines and of access lines that answered 5xx.
    pub error_trace_ids: HashSet<String>,
    /// Trace ids of WARN and ERROR lines (access lines excepted).
    pub warn_trace_ids: HashSet<String>,
    /// Trace ids of access lines that answered 5xx (the log checks judged those requests).
    pub server_error_trace_ids: HashSet<String>,
    /// Whether any log line was read.
    pub read: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Severity {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

fn severity(level: &str) -> Option<Severity> {
    Some(match level.to_ascii_lowercase().as_str() {
        "trace" => Severity::Trace,
        "debug" => Severity::Debug,
        "info" | "information" | "notice" => Severity::Info,
        "warn" | "warning" => Severity::Warn,
        "error" | "fatal" | "critical" | "crit" | "alert" | "emerg" | "panic" => Severity::Error,
        _ => return None,
    })
}

#[derive(Debug, Default)]
struct TraceState {
    /// INFO lines (exactly INFO).
    info: u32,
    /// Access lines.
    requests: u32,
    /// WARN/ERROR lines other than access lines.
    explained: bool,
    /// A 5xx access line: (line number, message, status).
    server_error: Option<(u64, String, u64)>,
    /// The second INFO line's message (what made it too many).
    extra_info: Option<(u64, String)>,
}

/// Checks JSON log lines, one at a time.
#[derive(Debug)]
pub struct LogChecker {
    resource_fields: Vec<String>,
    line_no: u64,
    traces: HashMap<String, TraceState>,
    untracked_traces: u64,
    ids: HashSet<String>,
    untracked_ids: u64,
    /// Request windows (start, end) in nanoseconds since the epoch, from access lines.
    windows: Vec<(i128, i128)>,
    /// INFO+ lines with no trace and no resource id: (time, message, line).
    idle: Vec<(i128, String, u64)>,
    untracked_idle: u64,
    untracked_windows: u64,
    untracked_joins: u64,
    /// Access lines read.
    requests: u64,
    /// Lines older than this (nanoseconds since the epoch) are not joined with spans.
    join_from: Option<i128>,
    facts: LogFacts,
}

impl LogChecker {
    /// A checker for a service with these settings (its resource id fields).
    pub fn new(settings: &CheckSettings) -> LogChecker {
        LogChecker {
            resource_fields: settings.resource_fields.clone(),
            line_no: 0,
            traces: HashMap::new(),
            untracked_traces: 0,
            ids: HashSet::new(),
            untracked_ids: 0,
            windows: Vec::new(),
            idle: Vec::new(),
            untracked_idle: 0,
            untracked_windows: 0,
            untracked_joins: 0,
            requests: 0,
            join_from: None,
            facts: LogFacts::default(),
        }
    }

    /// Lines whose `time` is before `unix_nanos` (e.g. a log file's history, from before the
    /// OTLP receiver listened) still go through every line rule, but are not joined with
    /// exported spans (`trace.error-without-span`): their spans were never ours to receive.
    pub fn join_from(&mut self, unix_nanos: i128) {
        self.join_from = Some(unix_nanos);
    }

    /// Checks one line (without its newline). Blank lines are skipped.
    pub fn line(&mut self, line: &[u8], report: &mut Report) {
        self.line_no += 1;
        self.facts.read = true;
        let trimmed = trim(line);
        if trimmed.is_empty() {
            return;
        }
        report.cover(Signal::Log, "lines", 1);
        let obj: Map<String, Value> = match serde_json::from_slice(trimmed) {
            Ok(Value::Object(o)) => o,
            Ok(_) | Err(_) => {
                let text = String::from_utf8_lossy(trimmed);
                let head: String = text.chars().take(120).collect();
                report.add(
                    Finding::new(&rules::LOG_INVALID_JSON, "line", "not one JSON object")
                        .with("line", self.line_no)
                        .with("text", head),
                );
                return;
            }
        };
        self.object(&obj, report);
    }

    fn object(&mut self, obj: &Map<String, Value>, report: &mut Report) {
        let n = self.line_no;
        let msg = obj
            .get("msg")
            .and_then(Value::as_str)
            .map_or("", |m| truncate(m, MAX_KEPT_MESSAGE))
            .to_owned();
        let name = if msg.is_empty() {
            "(no msg)".to_owned()
        } else {
            msg.clone()
        };
        for key in REQUIRED_KEYS {
            if !obj.contains_key(key) {
                report.add(
                    Finding::new(&rules::LOG_MISSING_KEY, &name, format!("no `{key}` key"))
                        .with("key", key)
                        .with("line", n),
                );
            }
        }
        let level = obj.get("level").and_then(Value::as_str).and_then(severity);
        if level == Some(Severity::Trace) {
            report.add(
                Finding::new(&rules::LOG_TRACE_LEVEL, &name, "logged at TRACE").with("line", n),
            );
        }
        let trace_id = obj
            .get("trace_id")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .map(lowercase);
        let trace_id = trace_id.as_deref();
        let status = obj.get("status").and_then(Value::as_u64);
        let is_access =
            status.is_some() && (obj.contains_key("method") || obj.contains_key("path"));
        let in_request = is_access || obj.contains_key("request_id");
        if in_request && trace_id.is_none() {
            report.add(
                Finding::new(
                    &rules::LOG_MISSING_TRACE_ID,
                    &name,
                    "a line of a request without `trace_id`",
                )
                .with("line", n),
            );
        }

        // Resource ids: learn them from their fields; find them elsewhere.
        let mut has_resource = false;
        for field in &self.resource_fields {
            if let Some(id) = obj.get(field).and_then(Value::as_str) {
                has_resource = true;
                if !self.ids.contains(id) {
                    if self.ids.len() < MAX_IDS {
                        self.ids.insert(id.to_owned());
                    } else {
                        self.untracked_ids += 1;
                    }
                }
            }
        }
        for (key, value) in obj {
            if matches!(key.as_str(), "time" | "level" | "trace_id" | "span_id") {
                continue;
            }
            if let Value::String(s) = value {
                if let Some(f) = privacy_finding(key, s, &name) {
                    report.add(f.on(Signal::Log).with("line", n));
                }
                if !has_resource && !self.ids.is_empty() && key != "request_id" {
                    if let Some(id) = tokens(s).find(|t| self.ids.contains(*t)) {
                        report.add(
                            Finding::new(
                                &rules::LOG_RESOURCE_WITHOUT_ID,
                                &name,
                                format!(
                                    "mentions resource {id} without a resource id field ({})",
                                    self.resource_fields.join(", ")
                                ),
                            )
                            .with("id", id)
                            .with("key", key.as_str())
                            .with("line", n),
                        );
                    }
                }
            }
        }

        let time = obj
            .get("time")
            .and_then(Value::as_str)
            .and_then(parse_rfc3339);
        if is_access {
            self.requests += 1;
            let ms = obj.get("duration_ms").and_then(Value::as_f64);
            if let (Some(end), Some(ms)) = (time, ms.filter(|m| m.is_finite() && *m >= 0.0)) {
                let start = end.saturating_sub((ms * 1e6) as i128);
                self.window(
                    start.saturating_sub(1_000_000),
                    end.saturating_add(1_000_000),
                );
            }
        }
        let joined = self
            .join_from
            .is_none_or(|from| time.is_some_and(|t| t >= from));
        if let Some(t) = trace_id {
            let server_error = is_access && status.is_some_and(|s| s >= 500);
            let facts = &mut self.facts;
            let mut remember = |set: &mut HashSet<String>| {
                if set.len() < MAX_TRACES || set.contains(t) {
                    set.insert(t.to_owned());
                } else {
                    self.untracked_joins += 1;
                }
            };
            if level >= Some(Severity::Warn) && !is_access {
                remember(&mut facts.warn_trace_ids);
            }
            if joined && (level == Some(Severity::Error) || server_error) {
                remember(&mut facts.error_trace_ids);
            }
            if server_error {
                remember(&mut facts.server_error_trace_ids);
            }
            // A trace already tracked costs a lookup; only a new one allocates its key.
            if !self.traces.contains_key(t) {
                if self.traces.len() < MAX_TRACES {
                    self.traces.insert(t.to_owned(), TraceState::default());
                } else {
                    self.untracked_traces += 1;
                }
            }
            let state = self.traces.get_mut(t);
            if let Some(state) = state {
                if level == Some(Severity::Info) {
                    state.info += 1;
                    if state.info == 2 && state.extra_info.is_none() {
                        state.extra_info = Some((n, name.clone()));
                    }
                }
                if is_access {
                    state.requests += 1;
                    if let Some(s) = status.filter(|s| *s >= 500) {
                        state.server_error.get_or_insert((n, name.clone(), s));
                    }
                } else if level >= Some(Severity::Warn) {
                    state.explained = true;
                }
            }
        } else if level >= Some(Severity::Info) && !has_resource && !is_access {
            if let Some(t) = time {
                if self.idle.len() < MAX_IDLE_LINES {
                    self.idle.push((t, name, n));
                } else {
                    self.untracked_idle += 1;
                }
            }
        }
    }

    /// Decides the rules that need the whole window, and returns what other checks join on.
    pub fn finish(&mut self, report: &mut Report) -> LogFacts {
        for (trace, state) in &self.traces {
            let allowed = state.requests.max(1);
            if state.info > allowed {
                let (line, msg) = state.extra_info.clone().unwrap_or((0, String::new()));
                report.add(
                    Finding::new(
                        &rules::LOG_TOO_MANY_INFO,
                        &msg,
                        format!(
                            "{} INFO lines for {} request(s) in one trace",
                            state.info, state.requests
                        ),
                    )
                    .with("trace_id", trace.as_str())
                    .with("info_lines", state.info)
                    .with("line", line),
                );
            }
            if let Some((line, msg, status)) = &state.server_error {
                if !state.explained {
                    report.add(
                        Finding::new(
                            &rules::LOG_SERVER_ERROR_UNLOGGED,
                            msg,
                            format!("answered {status} and no WARN or ERROR line says why"),
                        )
                        .with("trace_id", trace.as_str())
                        .with("status", *status)
                        .with("line", *line),
                    );
                }
            }
        }
        self.windows.sort_unstable();
        let merged = merge(&self.windows);
        let mut idle: HashMap<&str, Vec<u64>> = HashMap::new();
        for (t, msg, line) in &self.idle {
            if !covered(&merged, *t) {
                idle.entry(msg.as_str()).or_default().push(*line);
            }
        }
        let mut noisy: Vec<(&str, Vec<u64>)> = idle
            .into_iter()
            .filter(|(_, l)| l.len() >= IDLE_REPEATS)
            .collect();
        noisy.sort();
        for (msg, lines) in noisy {
            report.add(
                Finding::new(
                    &rules::LOG_NOISY_WHEN_IDLE,
                    msg,
                    format!(
                        "logged {} times at INFO or above while no request was in flight",
                        lines.len()
                    ),
                )
                .with("times", lines.len())
                .with("lines", lines.iter().take(5).copied().collect::<Vec<_>>()),
            );
        }
        report.cover(Signal::Log, "requests", self.requests);
        report.cover(Signal::Log, "traces", self.traces.len() as u64);
        for (what, n) in [
            ("untracked traces", self.untracked_traces),
            ("untracked resource ids", self.untracked_ids),
            ("untracked idle lines", self.untracked_idle),
            ("untracked request windows", self.untracked_windows),
            ("untracked trace ids for joins", self.untracked_joins),
        ] {
            if n > 0 {
                report.cover(Signal::Log, what, n);
            }
        }
        std::mem::take(&mut self.facts)
    }
}

/// A privacy finding for one field of a line named `name` (the value itself is never repeated).
fn privacy_finding(key: &str, value: &str, name: &str) -> Option<Finding> {
    let p = crate::privacy::scan_field(key, value)?;
    Some(
        Finding::new(p.rule(), name, format!("{} in `{key}`", p.what()))
            .with("key", key)
            .with("found", p.what()),
    )
}

impl LogChecker {
    /// Records a request window, merged with the last one when they overlap (access lines come
    /// nearly in time order, so a busy service keeps few windows).
    fn window(&mut self, start: i128, end: i128) {
        if let Some(last) = self.windows.last_mut() {
            if start <= last.1 && end >= last.0 {
                last.0 = last.0.min(start);
                last.1 = last.1.max(end);
                return;
            }
        }
        if self.windows.len() < MAX_WINDOWS {
            self.windows.push((start, end));
        } else {
            self.untracked_windows += 1;
        }
    }
}

/// `s` cut to at most `max` bytes, at a character boundary.
fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Trace ids compare in lower case (the W3C form); most already are, and cost nothing.
fn lowercase(s: &str) -> std::borrow::Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_uppercase()) {
        std::borrow::Cow::Owned(s.to_ascii_lowercase())
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

fn trim(line: &[u8]) -> &[u8] {
    let mut l = line;
    while let [rest @ .., b'\n' | b'\r' | b' ' | b'\t'] = l {
        l = rest;
    }
    while let [b' ' | b'\t', rest @ ..] = l {
        l = rest;
    }
    l
}

/// Words of a value that could be ids: runs of letters, digits, `-` and `_`.
fn tokens(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        .filter(|t| t.len() >= 4)
}

fn merge(sorted: &[(i128, i128)]) -> Vec<(i128, i128)> {
    let mut out: Vec<(i128, i128)> = Vec::with_capacity(sorted.len());
    for &(s, e) in sorted {
        match out.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

fn covered(merged: &[(i128, i128)], t: i128) -> bool {
    let i = merged.partition_point(|w| w.1 < t);
    merged.get(i).is_some_and(|w| w.0 <= t)
}

/// Nanoseconds since the Unix epoch of an RFC 3339 time (`2026-11-30T10:00:00.123Z`,
/// `…+02:00`); `None` if it is not one.
///
/// ```
/// use watchpost_cli::logs::parse_rfc3339;
/// assert_eq!(parse_rfc3339("1970-01-01T00:00:01.5Z"), Some(1_500_000_000));
/// assert_eq!(parse_rfc3339("1970-01-01T02:00:00+02:00"), Some(0));
/// assert_eq!(parse_rfc3339("yesterday"), None);
/// ```
pub fn parse_rfc3339(s: &str) -> Option<i128> {
    let b = s.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    let (y, mo, d, h, mi, sec) = (
        num(0..4)?,
        num(5..7)?,
        num(8..10)?,
        num(11..13)?,
        num(14..16)?,
        num(17..19)?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos: i128 = 0;
    if b.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + i128::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = (i - start).min(9);
        if digits == 0 {
            return None;
        }
        nanos *= 10i128.pow(9 - digits as u32);
    }
    let offset: i64 = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        b'+' | b'-' if i + 6 == b.len() && b[i + 3] == b':' => {
            let sign = if b[i] == b'-' { -1 } else { 1 };
            sign * (num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60)
        }
        _ => return None,
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset;
    Some(i128::from(secs) * 1_000_000_000 + nanos)
}

#[cfg(test)]
mod tests;
