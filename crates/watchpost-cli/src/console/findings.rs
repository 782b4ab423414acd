//! Live findings: the rules of `watchpost check` and `watchpost lint` ([`crate::lint`],
//! [`crate::logs`], [`crate::spans`]) applied to what the console receives, as it arrives.
//!
//! - every scrape (`--scrape`) is linted as `watchpost lint` lints an exposition;
//! - every line of a tailed file (`--logs`) goes through the per-line log rules
//!   ([`crate::logs::LogChecker::line`]: `log.invalid-json`, `log.missing-key`, `log.trace-level`,
//!   `log.missing-trace-id`, `log.resource-without-id`, `privacy.*`);
//! - OTLP exports go through the per-span and per-record rules ([`SpanChecker::batch`]:
//!   `span.*`, `otlp.invalid`, `privacy.*`) on a thread of their own, off the ingest path, one
//!   export at a time and within a time budget ([`CHECK_SHARE`] of the time, [`OtlpChecks`]):
//!   exports beyond it, exports of more than [`MAX_CHECKED_ITEMS`] spans or records (whose one
//!   check would take far more than the share), and exports arriving while the checker is busy
//!   are stored but not checked, and counted (`unchecked_exports`; by reason
//!   `unchecked_large_exports`, `unchecked_busy_exports`).
//!
//! The rules that need a whole window (`log.too-many-info`, `log.server-error-unlogged`,
//! `log.noisy-when-idle`, `span.no-client-span`, `trace.error-without-span`,
//! `metric.series-growth`) are left to `watchpost check`: a console has no window end, and
//! judging on a partial one would report what is not wrong.
//!
//! Findings are grouped by rule, service and signal name (the offending family, message or span
//! name), with a count and the first and last time seen. At most [`MAX_FINDINGS`] groups are
//! kept: a new group evicts the least counted (the oldest of those), and evictions are counted.
//!
//! ```
//! use watchpost_cli::console::findings::Findings;
//! use watchpost_cli::exposition::parse;
//! use watchpost_cli::lint::{lint, LintOptions};
//! use watchpost_cli::report::Report;
//!
//! let mut report = Report::default();
//! lint(&parse("# TYPE svc_jobs counter\nsvc_jobs 3\n"), &LintOptions::default(), None, &mut report);
//! let mut findings = Findings::default();
//! findings.add(&report, "svc", 1_000);
//! findings.add(&report, "svc", 2_000);
//! let list = findings.list(None);
//! let no_help = list.iter().find(|f| f.rule == "metric.no-help").unwrap();
//! assert_eq!((no_help.name.as_str(), no_help.count, no_help.first_seen_ns, no_help.last_seen_ns), ("svc_jobs", 2, 1_000, 2_000));
//! ```

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde::Serialize;

use opentelemetry_proto::tonic::resource::v1::Resource;

use super::otlp_kv::service_name;
use crate::config::CheckSettings;
use crate::finding::{Level, Signal};
use crate::otlp::Batch;
use crate::report::Report;
use crate::spans::SpanChecker;

/// Finding groups kept (rule, service, signal name).
pub const MAX_FINDINGS: usize = 1000;

/// The share of the time that checking OTLP exports may take; exports beyond it are stored
/// unchecked (counted).
pub const CHECK_SHARE: f64 = 0.02;

/// The most checking time saved up while idle (a burst after a quiet spell is checked whole up
/// to this).
pub const CHECK_BURST: Duration = Duration::from_millis(200);

/// The most items (spans and log records) an export may hold to be checked; a larger one is
/// stored unchecked (counted). SDKs export at most 512 by default.
pub const MAX_CHECKED_ITEMS: u64 = 4096;

/// Items (spans and log records) a span checker sees before it is replaced by a fresh one: its
/// per-trace memory for the joins (which the console does not run) stays small.
pub const CHECKER_ITEMS: u64 = 100_000;

/// One group of findings.
#[derive(Debug, Clone, Serialize)]
pub struct LiveFinding {
    /// The rule's id, e.g. `metric.no-help`.
    pub rule: &'static str,
    /// Its level.
    pub level: Level,
    /// What it is about: `metric`, `log` or `span`.
    pub signal: Signal,
    /// The service it came from (a scrape's target, a log file's or an export's service).
    pub service: String,
    /// The offending name: a metric family, a log message, a span name.
    pub name: String,
    /// The newest finding's sentence.
    pub message: String,
    /// The newest finding's context (line, key, attribute, …), when it was among the samples.
    pub context: serde_json::Map<String, serde_json::Value>,
    /// How many times it was found (a scrape that shows it again counts again).
    pub count: u64,
    /// Unix nanoseconds.
    pub first_seen_ns: u64,
    /// Unix nanoseconds.
    pub last_seen_ns: u64,
}

type Key = (&'static str, String, String);

/// The finding groups held (see the module's documentation).
#[derive(Debug, Default)]
pub struct Findings {
    groups: HashMap<Key, LiveFinding>,
    evicted: u64,
}

impl Findings {
    /// Adds every finding of `report`, about `service` (an OTLP finding's own `service`
    /// context, when it has one, wins), seen at `now_ns`.
    pub fn add(&mut self, report: &Report, service: &str, now_ns: u64) {
        for t in report.tallies() {
            let mut names: Vec<(&str, u64)> =
                t.names.iter().map(|(n, c)| (n.as_str(), *c)).collect();
            if t.other_names > 0 {
                names.push(("(other names)", t.other_names));
            }
            for (name, count) in names {
                let sample = t.samples.iter().rev().find(|s| s.signal_name == name);
                let service = sample
                    .and_then(|s| s.context.get("service"))
                    .and_then(|v| v.as_str())
                    .filter(|s| !s.is_empty())
                    .unwrap_or(service);
                let key = (t.rule.id, service.to_owned(), name.to_owned());
                if !self.groups.contains_key(&key) && self.groups.len() >= MAX_FINDINGS {
                    self.evict_one();
                }
                let g = self.groups.entry(key).or_insert_with(|| LiveFinding {
                    rule: t.rule.id,
                    level: t.level,
                    signal: t.rule.signal,
                    service: service.to_owned(),
                    name: name.to_owned(),
                    message: t.rule.summary.to_owned(),
                    context: serde_json::Map::new(),
                    count: 0,
                    first_seen_ns: now_ns,
                    last_seen_ns: now_ns,
                });
                g.count += count;
                g.level = t.level;
                g.last_seen_ns = g.last_seen_ns.max(now_ns);
                g.first_seen_ns = g.first_seen_ns.min(now_ns);
                if let Some(s) = sample {
                    g.signal = s.signal_type;
                    g.message = s.message.clone();
                    g.context = s.context.clone();
                }
            }
        }
    }

    /// Drops the least counted group (the one seen longest ago among those).
    fn evict_one(&mut self) {
        let victim = self
            .groups
            .iter()
            .min_by_key(|(_, g)| (g.count, g.last_seen_ns))
            .map(|(k, _)| k.clone());
        if let Some(k) = victim {
            self.groups.remove(&k);
            self.evicted += 1;
        }
    }

    /// The groups (of `service` only, if given), most serious first, then most counted, then
    /// newest.
    pub fn list(&self, service: Option<&str>) -> Vec<LiveFinding> {
        let mut out: Vec<LiveFinding> = self
            .groups
            .values()
            .filter(|g| service.is_none_or(|s| g.service == s))
            .cloned()
            .collect();
        out.sort_by(|a, b| {
            b.level
                .cmp(&a.level)
                .then(b.count.cmp(&a.count))
                .then(b.last_seen_ns.cmp(&a.last_seen_ns))
                .then(a.rule.cmp(b.rule))
                .then(a.name.cmp(&b.name))
        });
        out
    }

    /// Groups held.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Groups evicted to stay within [`MAX_FINDINGS`].
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// The budget of the OTLP checks ([`CHECK_SHARE`] of the time) and their counts. The checks
/// themselves run on a thread of their own ([`OtlpChecker`]), off the ingest path: an export
/// admitted ([`OtlpChecks::admit`]) is handed over, one at a time.
#[derive(Debug)]
pub struct OtlpChecks {
    /// Seconds of checking allowed now; negative while a check that overran is paid back.
    credit: f64,
    last: Instant,
    /// Exports stored without being checked (over the time budget, too large, or the checker
    /// busy).
    pub unchecked: u64,
    /// Exports checked.
    pub checked: u64,
    /// Exports not checked for holding more than [`MAX_CHECKED_ITEMS`] (also in `unchecked`).
    pub too_large: u64,
    /// Exports not checked because the checker was still busy (also in `unchecked`).
    pub busy: u64,
}

impl Default for OtlpChecks {
    fn default() -> Self {
        OtlpChecks {
            credit: CHECK_BURST.as_secs_f64(),
            last: Instant::now(),
            unchecked: 0,
            checked: 0,
            too_large: 0,
            busy: 0,
        }
    }
}

impl OtlpChecks {
    /// Whether an export of `items` spans or records may be checked now: within the time
    /// budget and [`MAX_CHECKED_ITEMS`]. One that may not is counted.
    pub fn admit(&mut self, items: u64) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() * CHECK_SHARE;
        self.credit = (self.credit + earned).min(CHECK_BURST.as_secs_f64());
        self.last = now;
        if self.credit <= 0.0 {
            self.unchecked += 1;
            false
        } else if items > MAX_CHECKED_ITEMS {
            self.unchecked += 1;
            self.too_large += 1;
            false
        } else {
            true
        }
    }

    /// Counts an admitted export the checker had no room for.
    pub fn busy(&mut self) {
        self.unchecked += 1;
        self.busy += 1;
    }

    /// Pays for a check that took `spent`: a check longer than the credit is paid back (no
    /// export admitted) before the next one.
    pub fn paid(&mut self, spent: Duration) {
        self.checked += 1;
        self.credit -= spent.as_secs_f64();
    }
}

/// The span rules over OTLP exports (see [`OtlpChecks`] for when they run).
#[derive(Debug)]
pub struct OtlpChecker {
    checker: SpanChecker,
    items: u64,
}

impl Default for OtlpChecker {
    fn default() -> Self {
        OtlpChecker {
            checker: SpanChecker::new(&CheckSettings::default()),
            items: 0,
        }
    }
}

impl OtlpChecker {
    /// Checks one export and adds what it finds to `findings`; returns the time it took.
    pub fn check(&mut self, batch: &Batch, findings: &std::sync::Mutex<Findings>) -> Duration {
        let start = Instant::now();
        let (service, items) = describe(batch);
        self.items += items;
        if self.items > CHECKER_ITEMS {
            self.checker = SpanChecker::new(&CheckSettings::default());
            self.items = items;
        }
        let mut report = Report::default();
        self.checker.batch(batch, &mut report);
        findings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .add(&report, &service, now_ns());
        start.elapsed()
    }
}

/// How many spans or log records an export holds.
pub fn items(batch: &Batch) -> u64 {
    match batch {
        Batch::Traces(r) => r
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len() as u64)
            .sum(),
        Batch::Logs(r) => r
            .resource_logs
            .iter()
            .flat_map(|r| &r.scope_logs)
            .map(|s| s.log_records.len() as u64)
            .sum(),
        Batch::Metrics(_) | Batch::Invalid { .. } => 0,
    }
}

/// The first resource's `service.name` of an export, and how many items it holds.
fn describe(batch: &Batch) -> (String, u64) {
    let name = |r: Option<&Resource>| service_name(r).map(str::to_owned);
    match batch {
        Batch::Traces(r) => (
            name(r.resource_spans.first().and_then(|r| r.resource.as_ref())).unwrap_or_default(),
            r.resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .map(|s| s.spans.len() as u64)
                .sum(),
        ),
        Batch::Logs(r) => (
            name(r.resource_logs.first().and_then(|r| r.resource.as_ref())).unwrap_or_default(),
            r.resource_logs
                .iter()
                .flat_map(|r| &r.scope_logs)
                .map(|s| s.log_records.len() as u64)
                .sum(),
        ),
        Batch::Metrics(r) => (
            name(r.resource_metrics.first().and_then(|r| r.resource.as_ref())).unwrap_or_default(),
            0,
        ),
        Batch::Invalid { .. } => (String::new(), 0),
    }
}

/// Now, Unix nanoseconds.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse;
    use crate::lint::{lint, LintOptions};

    #[test]
    fn the_least_counted_group_goes_first_and_is_counted() {
        let mut findings = Findings::default();
        let mut report = Report::default();
        lint(
            &parse("# TYPE svc_jobs counter\nsvc_jobs 3\n"),
            &LintOptions::default(),
            None,
            &mut report,
        );
        findings.add(&report, "often", 1);
        findings.add(&report, "often", 2);
        let per_service = findings.len();
        for i in 0..MAX_FINDINGS {
            findings.add(&report, &format!("svc-{i}"), 3 + i as u64);
        }
        assert_eq!(findings.len(), MAX_FINDINGS);
        assert!(findings.evicted() > 0);
        assert_eq!(
            findings.list(Some("often")).len(),
            per_service,
            "the most counted groups stay"
        );
        assert!(
            findings.list(Some("svc-0")).is_empty(),
            "the oldest once-seen went"
        );
    }

    fn spans(n: usize) -> Batch {
        use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
        use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
        Batch::Traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    // Bad ids: every span is a finding when checked.
                    spans: vec![Span::default(); n],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        })
    }

    #[test]
    fn an_export_over_the_item_limit_is_not_admitted_and_counted() {
        let mut checks = OtlpChecks::default();
        assert!(!checks.admit(items(&spans(MAX_CHECKED_ITEMS as usize + 1))));
        assert_eq!((checks.unchecked, checks.too_large), (1, 1));
        assert!(checks.admit(items(&spans(10))));
        let findings = std::sync::Mutex::new(Findings::default());
        let spent = OtlpChecker::default().check(&spans(10), &findings);
        checks.paid(spent);
        assert_eq!(
            (checks.checked, checks.unchecked, checks.too_large),
            (1, 1, 1)
        );
        assert!(
            !findings.lock().unwrap().is_empty(),
            "a small export is checked"
        );
    }

    #[test]
    fn a_check_that_overran_its_credit_is_paid_back_before_the_next() {
        let mut checks = OtlpChecks::default();
        assert!(checks.admit(1));
        // One check took 5 s: 250 s of ingest pay it back at 2 %.
        checks.paid(CHECK_BURST + Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(20));
        assert!(!checks.admit(1), "the overrun is still owed");
        assert_eq!((checks.checked, checks.unchecked), (1, 1));
    }
}
