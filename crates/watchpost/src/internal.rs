//! Telemetry about our own telemetry: one struct per internal event with an `emit()`.
//!
//! Failures inside the log layer itself (a log line that cannot be written) never go back into
//! `tracing` — that could recurse or hide the failure — but to stderr, rate-limited, and into a
//! counter ([`crate::Telemetry::self_stats`], `<svc>_log_write_errors_total`). Conditions an
//! operator must see and that cannot recurse (a metric over its series budget, per-resource log
//! files failing) are reported as one WARN on the main log from outside the layer.
//!
//! The export pipeline's events ([`TelemetryDropped`], [`ExportFailed`]) and counters
//! ([`ExportCounters`], per [`Signal`]) and the tail sampler's ([`TailCounters`]) live here too;
//! the background log writer reports through [`LogLinesLost`], the main log file's rotation
//! through [`LogFileRetentionFailed`]. The per-resource log files count
//! in their registry (`ResourceLogStats`, a public snapshot) and report through
//! [`ResourceLogIoFailed`] and [`ResourceLogsEvicted`]. Every counter is on `/metrics`, declared in the catalogue (subsystems
//! `TELEMETRY` and `LOGS`), registered by `metrics` from the sources `telemetry` wires in.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Counters of the telemetry pipeline's own failures and drops.
///
/// ```
/// let stats = watchpost::SelfStats::default();
/// assert_eq!(stats.log_write_errors, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SelfStats {
    /// Log lines that could not be written to the log writer (closed pipe, full disk, …).
    pub log_write_errors: u64,
}

/// The live counters behind [`SelfStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    log_write_errors: AtomicU64,
    /// Unix second of the last stderr report of a write failure (0: never).
    log_write_last_report: AtomicU64,
    /// Lines a background writer ([`crate::logs::NonBlocking`]) failed to write.
    background_failures: std::sync::OnceLock<std::sync::Arc<AtomicU64>>,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> SelfStats {
        SelfStats {
            log_write_errors: self.log_write_errors.load(Ordering::Relaxed)
                + self
                    .background_failures
                    .get()
                    .map_or(0, |c| c.load(Ordering::Relaxed)),
        }
    }

    /// Counts the failures of the pipeline's background writer too.
    pub(crate) fn add_background(&self, failures: std::sync::Arc<AtomicU64>) {
        let _ = self.background_failures.set(failures);
    }
}

/// How often a recurring internal error is reported on stderr.
const REPORT_EVERY_SECS: u64 = 60;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Claims the right to report now if the last report is older than the interval.
pub(crate) fn claim_report(last: &AtomicU64) -> bool {
    let now = now_secs().max(1);
    let prev = last.load(Ordering::Relaxed);
    if prev != 0 && now.saturating_sub(prev) < REPORT_EVERY_SECS {
        return false;
    }
    last.compare_exchange(prev, now, Ordering::Relaxed, Ordering::Relaxed)
        .is_ok()
}

/// The dispatcher of the pipeline an internal WARN belongs to (set after install; weakly held).
pub(crate) type DispatchSlot =
    std::sync::Arc<std::sync::Mutex<Option<tracing::dispatcher::WeakDispatch>>>;

/// Runs `emit` with the pipeline's dispatcher (internal threads have no default of their own).
fn with_pipeline(dispatch: &DispatchSlot, emit: impl FnOnce()) {
    let d = dispatch
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .and_then(|d| d.upgrade());
    match d {
        Some(d) => tracing::dispatcher::with_default(&d, emit),
        None => emit(),
    }
}

/// A signal, as used in the `signal` label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signal {
    Traces,
    Metrics,
    Logs,
}

impl Signal {
    pub(crate) const ALL: [Signal; 3] = [Signal::Traces, Signal::Metrics, Signal::Logs];
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Signal::Traces => "traces",
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

/// Per-signal counters of the export pipeline (`<svc>_telemetry_dropped_total{signal}`,
/// `<svc>_telemetry_export_errors_total{signal}`).
#[derive(Debug, Default)]
pub(crate) struct ExportCounters {
    dropped: [AtomicU64; 3],
    errors: [AtomicU64; 3],
    last_report: [AtomicU64; 3],
}

impl ExportCounters {
    pub(crate) fn dropped(&self, s: Signal) -> u64 {
        self.dropped[s.index()].load(Ordering::Relaxed)
    }
    pub(crate) fn errors(&self, s: Signal) -> u64 {
        self.errors[s.index()].load(Ordering::Relaxed)
    }
}

/// Counters of the tail sampler (`<svc>_trace_sampled_spans_total{decision}`,
/// `<svc>_trace_buffer_overflow_total`).
#[derive(Debug, Default)]
pub(crate) struct TailCounters {
    pub(crate) kept: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) overflow: AtomicU64,
}

impl TailCounters {
    pub(crate) fn kept(&self) -> u64 {
        self.kept.load(Ordering::Relaxed)
    }
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
    pub(crate) fn overflow(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }
}

/// Telemetry items dropped without an export attempt: a full queue, a stopped pipeline, no
/// exporter, or the rest of a turn after a failed export. Counted only (a flood must not log).
pub(crate) struct TelemetryDropped {
    pub(crate) signal: Signal,
    pub(crate) count: u64,
}

impl TelemetryDropped {
    pub(crate) fn emit(&self, counters: &ExportCounters) {
        counters.dropped[self.signal.index()].fetch_add(self.count, Ordering::Relaxed);
    }
}

/// An export failed (`count` items lost: counted as one error and as `count` drops), or the
/// export could not start at all (`count` 0: nothing counted, only reported). One WARN a minute
/// per signal on the `watchpost::export` target, through the pipeline's dispatcher (the export
/// thread has none).
pub(crate) struct ExportFailed<'a> {
    pub(crate) signal: Signal,
    pub(crate) count: u64,
    pub(crate) error: &'a str,
}

impl ExportFailed<'_> {
    pub(crate) fn emit(&self, counters: &ExportCounters, dispatch: &DispatchSlot) {
        let i = self.signal.index();
        if self.count > 0 {
            counters.errors[i].fetch_add(1, Ordering::Relaxed);
            counters.dropped[i].fetch_add(self.count, Ordering::Relaxed);
        }
        if !claim_report(&counters.last_report[i]) {
            return;
        }
        with_pipeline(dispatch, || {
            tracing::warn!(
                target: crate::catalogue::targets::EXPORT,
                signal = self.signal.as_str(),
                error = self.error,
                dropped_total = counters.dropped(self.signal),
                "OTLP export failing; the service runs on and the data is dropped (reported at most once a minute per signal)"
            )
        });
    }
}

/// Lines the background log writer lost (its writer failed, or its buffer was full). Reported
/// on stderr from the writer's own thread, at most once a minute; counted by the writer.
pub(crate) struct LogLinesLost<'a> {
    pub(crate) error: &'a str,
    pub(crate) total: u64,
}

impl LogLinesLost<'_> {
    /// `false` if not reported (the last report is less than a minute old).
    pub(crate) fn emit(&self, last_report: &AtomicU64) -> bool {
        if !claim_report(last_report) {
            return false;
        }
        let _ = writeln!(
            std::io::stderr(),
            "watchpost: log lines lost: {} ({} lost so far; reported at most once a minute)",
            self.error,
            self.total
        );
        true
    }
}

/// The main log file's rotated files could not be moved, gzipped or deleted, or one was left
/// uncompressed because the gzip queue was full. Reported on stderr (the main log may be the file
/// in trouble) at most once a minute, from the log writer's or the gzip thread; counted by the
/// log file.
pub(crate) struct LogFileRetentionFailed<'a> {
    pub(crate) error: &'a str,
    pub(crate) errors: u64,
    pub(crate) uncompressed: u64,
}

impl LogFileRetentionFailed<'_> {
    pub(crate) fn emit(&self, last_report: &AtomicU64) {
        if claim_report(last_report) {
            let _ = writeln!(
                std::io::stderr(),
                "watchpost: log file rotation: {} ({} failures and {} rotated files left uncompressed so far; reported at most once a minute)",
                self.error,
                self.errors,
                self.uncompressed
            );
        }
    }
}

/// A log line could not be written.
pub(crate) struct LogWriteFailed<'a> {
    pub(crate) error: &'a std::io::Error,
}

impl LogWriteFailed<'_> {
    pub(crate) fn emit(&self, counters: &Counters) {
        let total = counters.log_write_errors.fetch_add(1, Ordering::Relaxed) + 1;
        if claim_report(&counters.log_write_last_report) {
            let _ = writeln!(
                std::io::stderr(),
                "watchpost: failed to write a log line: {} ({total} failed so far; reported at most once a minute)",
                self.error
            );
        }
    }
}

/// A metrics collection failed (the SDK reported an error; the exposition is partial).
pub(crate) struct MetricsCollectFailed<'a> {
    pub(crate) error: &'a dyn std::fmt::Display,
}

static COLLECT_LAST_REPORT: AtomicU64 = AtomicU64::new(0);

impl MetricsCollectFailed<'_> {
    pub(crate) fn emit(&self) {
        if claim_report(&COLLECT_LAST_REPORT) {
            let _ = writeln!(
                std::io::stderr(),
                "watchpost: metrics collection failed: {} (reported at most once a minute)",
                self.error
            );
        }
    }
}

/// A metric went over its series budget: new label sets are folded into its overflow series.
/// Counted by the metrics pipeline (`<svc>_metric_series_overflow_total`); logged once per metric.
pub(crate) struct MetricSeriesOverflow<'a> {
    pub(crate) metric: &'a str,
}

impl MetricSeriesOverflow<'_> {
    pub(crate) fn emit(&self) {
        // A WARN on the main log, once per metric (the caller guarantees once): this is an
        // operator-facing condition, and metric collection never runs inside the log layer, so
        // it cannot recurse.
        tracing::warn!(
            target: crate::catalogue::targets::METRICS,
            metric = self.metric,
            "metric over its series budget: new label sets are folded into one overflow series (otel_metric_overflow=\"true\")"
        );
    }
}

/// Writing per-resource log files failed (reported from the flusher thread, at most once a
/// minute; the failures are counted in `ResourceLogStats::io_errors`).
pub(crate) struct ResourceLogIoFailed<'a> {
    pub(crate) error: &'a str,
    pub(crate) total: u64,
}

impl ResourceLogIoFailed<'_> {
    pub(crate) fn emit(&self) {
        // On the main log: this event carries no resource id, so it cannot recurse into a
        // resource file.
        tracing::warn!(
            target: crate::catalogue::targets::LOGS,
            error = self.error,
            failures = self.total,
            "per-resource log files cannot be written; lines are being lost (reported at most once a minute)"
        );
    }
}

/// Per-resource log files were deleted for their age or the disk budget since the last report
/// (reported from the flusher thread at most once a minute; counted in `ResourceLogStats`,
/// `<svc>_resource_log_evictions_total{reason}`).
pub(crate) struct ResourceLogsEvicted {
    pub(crate) age: u64,
    pub(crate) budget: u64,
    pub(crate) disk_bytes: u64,
    pub(crate) max_total_bytes: Option<u64>,
}

impl ResourceLogsEvicted {
    pub(crate) fn emit(&self) {
        // On the main log (no resource id: it cannot recurse into a resource file). The budget
        // deleting files is an operator's concern (logs went before their time); age is routine.
        let budget = self.max_total_bytes.unwrap_or(0);
        if self.budget > 0 {
            tracing::warn!(
                target: crate::catalogue::targets::LOGS,
                evicted_budget = self.budget,
                evicted_age = self.age,
                disk_bytes = self.disk_bytes,
                max_total_bytes = budget,
                "per-resource log files deleted to stay within their disk budget (reported at most once a minute)"
            );
        } else {
            tracing::info!(
                target: crate::catalogue::targets::LOGS,
                evicted_age = self.age,
                disk_bytes = self.disk_bytes,
                "per-resource log files older than their maximum age deleted (reported at most once a minute)"
            );
        }
    }
}

/// The metrics listener stopped with an error.
pub(crate) struct ListenerFailed<'a> {
    pub(crate) error: &'a std::io::Error,
}

impl ListenerFailed<'_> {
    pub(crate) fn emit(&self) {
        let _ = writeln!(
            std::io::stderr(),
            "watchpost: metrics listener failed: {}",
            self.error
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_all_counted_but_reported_once_a_minute() {
        let c = Counters::default();
        let e = std::io::Error::other("disk full");
        for _ in 0..5 {
            LogWriteFailed { error: &e }.emit(&c);
        }
        assert_eq!(c.snapshot().log_write_errors, 5);
        assert!(
            !claim_report(&c.log_write_last_report),
            "reported less than a minute ago"
        );
    }
}
