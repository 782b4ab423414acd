//! Telemetry about our own telemetry: one struct per internal event with an `emit()`.
//!
//! Failures inside the log layer itself (a log line that cannot be written) never go back into
//! `tracing` — that could recurse or hide the failure — but to stderr, rate-limited, and into a
//! counter ([`crate::Telemetry::self_stats`], `<svc>_log_write_errors_total`). Conditions an
//! operator must see and that cannot recurse (a metric over its series budget, per-resource log
//! files failing) are reported as one WARN on the main log from outside the layer.
//!
//! The export pipeline's events ([`TelemetryDropped`], [`ExportFailed`]) and counters
//! ([`ExportCounters`], per [`Signal`], with since when each signal's exports have been failing,
//! which readiness reads) and the tail sampler's ([`TailCounters`]) live here too, and so does the
//! panic hook's event ([`Panicked`]);
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
    /// Spans that were kept for export and did not reach the collector (full queue, failed
    /// export, rejected by the collector, or still in flight when a shutdown's deadline
    /// passed): `<svc>_telemetry_dropped_total{signal="traces"}`, readable after a shutdown too.
    pub spans_dropped: u64,
    /// Log records meant for export that did not reach the collector, as for spans
    /// (`{signal="logs"}`).
    pub log_records_dropped: u64,
    /// Failed exports of spans (`<svc>_telemetry_export_errors_total{signal="traces"}`).
    pub span_exports_failed: u64,
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
            ..SelfStats::default()
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
/// `<svc>_telemetry_export_errors_total{signal}`), and since when each signal's exports have been
/// failing (readiness, `health`).
#[derive(Debug, Default)]
pub(crate) struct ExportCounters {
    dropped: [AtomicU64; 3],
    errors: [AtomicU64; 3],
    last_report: [AtomicU64; 3],
    /// [`monotonic_ms`] of the first failed export since the last one that succeeded (0: the
    /// signal is not failing).
    failing_since: [AtomicU64; 3],
    /// [`monotonic_ms`] of the latest failed export.
    last_failure: [AtomicU64; 3],
    /// The error of the latest failed export, per signal.
    last_error: std::sync::Mutex<[String; 3]>,
    /// The exporter of a signal could not be built: it fails for good (no export is ever tried,
    /// so no later failure would be recorded; readiness must not take the silence for health).
    unavailable: [std::sync::atomic::AtomicBool; 3],
}

impl ExportCounters {
    pub(crate) fn dropped(&self, s: Signal) -> u64 {
        self.dropped[s.index()].load(Ordering::Relaxed)
    }
    pub(crate) fn errors(&self, s: Signal) -> u64 {
        self.errors[s.index()].load(Ordering::Relaxed)
    }

    /// An export of `s` succeeded: the signal is not failing any more.
    pub(crate) fn succeeded(&self, s: Signal) {
        let since = &self.failing_since[s.index()];
        // Read first: the common case (not failing) writes nothing.
        if since.load(Ordering::Relaxed) != 0 {
            since.store(0, Ordering::Relaxed);
        }
    }

    /// Every signal whose latest export failed: since when its exports have been failing, how
    /// long ago the latest failed, and its error (empty when every latest export succeeded, or
    /// none was tried). A signal without an exporter ([`signal_unavailable`](Self::signal_unavailable))
    /// fails, its latest failure now.
    pub(crate) fn failing(&self) -> Vec<Failing> {
        let now = monotonic_ms();
        let errors = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        let ago = |ms: u64| std::time::Duration::from_millis(now.saturating_sub(ms));
        Signal::ALL
            .iter()
            .filter_map(|&signal| {
                let since = self.failing_since[signal.index()].load(Ordering::Relaxed);
                let last = if self.unavailable[signal.index()].load(Ordering::Relaxed) {
                    now
                } else {
                    self.last_failure[signal.index()].load(Ordering::Relaxed)
                };
                (since != 0).then(|| Failing {
                    signal,
                    failing_for: ago(since),
                    last_failure: ago(last.max(since)),
                    error: errors[signal.index()].clone(),
                })
            })
            .collect()
    }

    /// The exporter of `signal` could not be built (`error`): the signal fails from now on, for
    /// good (none of it is exported until the process restarts with a configuration that
    /// works). The export thread builds each signal's exporter on its own.
    pub(crate) fn signal_unavailable(&self, signal: Signal, error: &str) {
        self.failed(signal, error);
        self.unavailable[signal.index()].store(true, Ordering::Relaxed);
    }

    /// An export of `s` failed (or could not start) with `error`.
    fn failed(&self, s: Signal, error: &str) {
        let now = monotonic_ms();
        self.last_failure[s.index()].store(now, Ordering::Relaxed);
        let _ = self.failing_since[s.index()].compare_exchange(
            0,
            now,
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        let mut last = self.last_error.lock().unwrap_or_else(|p| p.into_inner());
        let slot = &mut last[s.index()];
        slot.clear();
        // A bounded copy: the error reaches `/readyz` bodies.
        slot.push_str(crate::util::truncate_utf8(error, 512).unwrap_or(error));
    }
}

/// A signal whose latest export failed ([`ExportCounters::failing`]).
#[derive(Debug, Clone)]
pub(crate) struct Failing {
    pub(crate) signal: Signal,
    /// Since the first failure after the last success.
    pub(crate) failing_for: std::time::Duration,
    /// Since the latest failure.
    pub(crate) last_failure: std::time::Duration,
    pub(crate) error: String,
}

/// Milliseconds on a monotonic clock that starts at 1 when first read (0 means "never").
pub(crate) fn monotonic_ms() -> u64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = *START.get_or_init(std::time::Instant::now);
    start.elapsed().as_millis() as u64 + 1
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
        counters.failed(self.signal, self.error);
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

thread_local! {
    /// How deep this thread is in the pipeline's layer callbacks ([`InCallback`]).
    static CALLBACK_DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// Marks this thread as inside one of the pipeline's layer callbacks while it lives (set by the
/// telemetry module around every callback that may lock a span's data or write a line). The
/// panic hook reads it: a panic there (a field's `Debug` that panics while `Span::record` is
/// visited, a bug of ours) may happen while this thread holds a span's extensions or a writer,
/// so an event from the hook could deadlock on them; the hook leaves that panic to the hook
/// that was installed before (Rust's: text on stderr). Unwinding drops it, so a panic that is
/// caught leaves the thread unmarked.
pub(crate) struct InCallback(());

impl InCallback {
    pub(crate) fn enter() -> InCallback {
        CALLBACK_DEPTH.with(|d| d.set(d.get() + 1));
        InCallback(())
    }

    /// Whether this thread is inside a layer callback.
    pub(crate) fn active() -> bool {
        CALLBACK_DEPTH.with(|d| d.get() > 0)
    }
}

impl Drop for InCallback {
    fn drop(&mut self) {
        CALLBACK_DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

thread_local! {
    /// Whether the panic hook wrote the line of this thread's latest panic ([`PanicLine`]).
    static PANIC_LINE_WRITTEN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether the panic hook already wrote a panic's line, for code that catches the panic on the
/// same thread and would write one of its own (the HTTP layer: one ERROR line per panic). The
/// hook sets it for every panic it sees; the catcher clears it before the code that may panic
/// runs, and takes it after catching.
pub(crate) struct PanicLine;

impl PanicLine {
    /// Called by the hook: the line of this thread's panic was (or was not) written.
    pub(crate) fn set(written: bool) {
        PANIC_LINE_WRITTEN.with(|w| w.set(written));
    }

    /// Called before running code whose panic will be caught here.
    pub(crate) fn clear() {
        PANIC_LINE_WRITTEN.with(|w| w.set(false));
    }

    /// Called after catching a panic: whether the hook wrote its line (and clears it).
    pub(crate) fn take() -> bool {
        PANIC_LINE_WRITTEN.with(|w| w.replace(false))
    }
}

/// A panic seen by the panic hook (`Telemetry::install_panic_hook`): counted
/// (`<svc>_panics_total`) and written as one ERROR line on the `watchpost::panic` target, as an
/// event of the panicking thread's current span (so the line carries its trace ids).
pub(crate) struct Panicked<'a> {
    pub(crate) message: &'a str,
    /// `file:line:column`.
    pub(crate) location: &'a str,
    pub(crate) thread: &'a str,
    pub(crate) backtrace: Option<&'a str>,
}

impl Panicked<'_> {
    /// Counts the panic and writes its line; `false` if no subscriber could take the line (none
    /// is installed, or the panic happened inside the subscriber itself: in one of the
    /// pipeline's layer callbacks ([`InCallback`]), where this thread may hold a span's data, or
    /// while `tracing` dispatches, where it refuses nested events), so that the caller can still
    /// say it somewhere.
    pub(crate) fn emit(&self, panics: &AtomicU64) -> bool {
        panics.fetch_add(1, Ordering::Relaxed);
        if InCallback::active() {
            return false;
        }
        let deliverable =
            tracing::dispatcher::get_default(|d| !d.is::<tracing_core::subscriber::NoSubscriber>());
        if !deliverable {
            return false;
        }
        match self.backtrace {
            Some(backtrace) => tracing::error!(
                target: crate::catalogue::targets::PANIC,
                panic = self.message,
                location = self.location,
                thread = self.thread,
                backtrace,
                "panicked"
            ),
            None => tracing::error!(
                target: crate::catalogue::targets::PANIC,
                panic = self.message,
                location = self.location,
                thread = self.thread,
                "panicked"
            ),
        }
        true
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
            "watchpost: metrics listener cannot accept connections (reported at most once a minute): {}",
            self.error
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_fails_from_its_first_failure_until_a_success() {
        let c = ExportCounters::default();
        assert!(c.failing().is_empty());
        c.failed(Signal::Traces, "refused");
        c.failed(Signal::Traces, "refused again");
        let failing = c.failing();
        assert_eq!(failing.len(), 1);
        assert_eq!(failing[0].signal, Signal::Traces);
        assert_eq!(failing[0].error, "refused again");
        assert!(failing[0].last_failure <= failing[0].failing_for);
        c.succeeded(Signal::Metrics);
        assert_eq!(
            c.failing().len(),
            1,
            "another signal's success changes nothing"
        );
        c.succeeded(Signal::Traces);
        assert!(c.failing().is_empty());
    }

    #[test]
    fn without_an_exporter_every_signal_keeps_failing_now() {
        let c = ExportCounters::default();
        for signal in Signal::ALL {
            c.signal_unavailable(signal, "cannot read the CA file");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
        let failing = c.failing();
        assert_eq!(failing.len(), 3, "{failing:?}");
        for f in &failing {
            assert_eq!(f.error, "cannot read the CA file");
            assert!(
                f.last_failure < f.failing_for,
                "the latest failure is now, not when the exporter failed to build: {f:?}"
            );
        }
    }

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
