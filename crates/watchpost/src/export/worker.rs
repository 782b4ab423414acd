//! The export worker: one thread with its own small Tokio runtime, owning the three OTLP
//! exporters (gRPC or HTTP, built by `otlp.rs`), at the configured priority. It takes a queue
//! whole (a buffer swap), encodes it batch by batch and keeps up to [`MAX_IN_FLIGHT`] exports
//! of each signal in flight on the signal's channel (HTTP/2 streams over gRPC, pooled
//! connections over OTLP/HTTP), so that the round trips to the collector overlap instead of
//! adding up; the next batch is encoded when one comes back.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;

use futures_util::stream::{FuturesUnordered, StreamExt as _};

use tokio::time::sleep_until as sleep_until_instant;

use super::send::RawExporter;
use super::*;

/// Exporting is background work: by default (`Low`, nice 10) the service's own threads come
/// first but the export still gets a small steady share at saturation (with `Idle` it gets none,
/// and the queues fill and drops are counted). A flush or shutdown, which a caller waits for,
/// asks for `Normal` (without the privilege to lower a nice value again, it stays at `Low`).
/// Best effort; ignored where not supported.
pub(super) fn set_priority(priority: crate::config::ExportPriority) {
    use crate::config::ExportPriority;
    #[cfg(target_os = "linux")]
    // SAFETY: both calls change only the calling thread's own scheduling; failure is harmless.
    unsafe {
        match priority {
            ExportPriority::Idle => {
                let param = libc::sched_param { sched_priority: 0 };
                let _ = libc::sched_setscheduler(0, libc::SCHED_IDLE, &param);
            }
            ExportPriority::Low => {
                let tid = libc::gettid();
                let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10);
            }
            _ => {
                // Back to the default policy and nice value (raising a lowered nice value may
                // need privileges; then it stays lowered).
                let param = libc::sched_param { sched_priority: 0 };
                let _ = libc::sched_setscheduler(0, libc::SCHED_OTHER, &param);
                let tid = libc::gettid();
                let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 0);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = priority;
}

pub(super) struct Worker {
    pub(super) settings: ExportSettings,
    pub(super) resource: Resource,
    pub(super) metrics: crate::metrics::Metrics,
    pub(super) counters: Arc<ExportCounters>,
    pub(super) dispatch: DispatchSlot,
    pub(super) log_maker: Arc<std::sync::OnceLock<LogMaker>>,
}

use super::otlp::Exporters;

/// One export in flight (a batch being sent, or a metric push): `true` if it went through.
type InFlight<'a> = Pin<Box<dyn Future<Output = bool> + 'a>>;

/// One signal's side of the worker: what it took from its queue and has not encoded yet, and
/// its exports in flight (at most [`MAX_IN_FLIGHT`]). Memory: the queue, at most a queue and a
/// batch taken from it here, and the encoded requests in flight.
struct Lane<'a, T> {
    items: VecDeque<T>,
    in_flight: FuturesUnordered<InFlight<'a>>,
    /// The last export that ended failed: one export at a time until one goes through, so a
    /// collector that is down costs one encoded batch per failure, not [`MAX_IN_FLIGHT`].
    failing: bool,
}

impl<T> Lane<'_, T> {
    fn new(capacity: usize) -> Self {
        Self {
            items: VecDeque::with_capacity(capacity),
            in_flight: FuturesUnordered::new(),
            failing: false,
        }
    }

    /// Exports it may have in flight now.
    fn limit(&self) -> usize {
        if self.failing {
            1
        } else {
            MAX_IN_FLIGHT
        }
    }

    fn idle(&self) -> bool {
        self.items.is_empty() && self.in_flight.is_empty()
    }
}

/// When [`Worker::fill`] starts an export.
#[derive(Clone, Copy, PartialEq)]
enum Fill {
    /// Only of a whole batch (a queue reached a batch, or an export came back).
    Batches,
    /// Of whatever is waiting, a partial batch too (the schedule delay passed).
    All,
    /// A flush: of what was taken when it began (the queue is not taken again), partial
    /// batches too, each within `limit`.
    Flush(Duration),
}

/// An encoded batch, ready to go.
struct Encoded<'a> {
    exporter: &'a RawExporter,
    body: Result<bytes::Bytes, String>,
    n: usize,
}

/// Counts an export that was dropped before it ended (a shutdown's deadline passed while it
/// was in flight) as a failed export of its batch: every batch is counted exactly once, by
/// [`Worker::record`] when it ends, or here.
struct Unfinished<'a> {
    worker: &'a Worker,
    signal: Signal,
    n: usize,
    ended: bool,
}

impl Drop for Unfinished<'_> {
    fn drop(&mut self) {
        if !self.ended {
            ExportFailed {
                signal: self.signal,
                count: self.n as u64,
                error: "the export was still in flight when the shutdown's deadline passed",
            }
            .emit(&self.worker.counters, &self.worker.dispatch);
        }
    }
}

impl Worker {
    pub(super) async fn run(
        self,
        span_rx: Arc<BatchQueue<SpanData>>,
        log_rx: Arc<BatchQueue<PendingLog>>,
        mut control_rx: mpsc::UnboundedReceiver<Control>,
    ) {
        let s = &self.settings;
        let exported = [s.export_traces, s.export_metrics, s.export_logs];
        let (exporters, failures) = super::otlp::build(&s.targets, exported, &self.resource);
        if !failures.is_empty() {
            // The pipeline's dispatcher is set just after this thread starts: wait for it
            // (briefly), or the WARN about a broken configuration would go nowhere.
            for _ in 0..100 {
                if self
                    .dispatch
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_some()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        for (signal, error) in &failures {
            ExportFailed {
                signal: *signal,
                count: 0,
                error,
            }
            .emit(&self.counters, &self.dispatch);
            // For good: no export of it is tried from now on, so readiness must not wait for
            // one. The other signals export.
            self.counters.signal_unavailable(*signal, error);
        }
        let ex = &exporters;
        let mut spans = Lane::new(self.settings.spans.queue_size);
        let mut logs = Lane::new(self.settings.logs.queue_size);
        // At most one push at a time (a tick while one is in flight is skipped: the next push
        // carries the same cumulative series).
        let mut push: FuturesUnordered<InFlight<'_>> = FuturesUnordered::new();
        // Each timer first fires one interval in (`interval`'s first tick is immediate: it sent
        // whatever was queued when the thread started as a partial batch, out of step with the
        // full batches after it).
        let every = |d: Duration| tokio::time::interval_at(tokio::time::Instant::now() + d, d);
        let mut span_tick = every(self.settings.spans.delay);
        let mut log_tick = every(self.settings.logs.delay);
        let mut metric_tick = every(self.settings.metric_interval);
        loop {
            // A signal whose collector asked to wait holds what it took: wake when the wait
            // is over (no notify comes while the queue stays above a batch).
            let hold_over = held(ex, &spans, &logs, Instant::now());
            // Every branch is short: the exports run inside the lanes and are only polled
            // here, so one busy signal never starves the others, the metric push, or a flush
            // or shutdown. A queue is signalled once when it reaches a batch; while exports
            // are in flight, each one that comes back takes the queue again.
            tokio::select! {
                _ = span_rx.ready.notified() => self.fill(ex, &span_rx, &mut spans, Fill::Batches),
                _ = log_rx.ready.notified() => self.fill(ex, &log_rx, &mut logs, Fill::Batches),
                Some(ok) = spans.in_flight.next() => {
                    self.ended(&mut spans, ok);
                    self.fill(ex, &span_rx, &mut spans, Fill::Batches);
                }
                Some(ok) = logs.in_flight.next() => {
                    self.ended(&mut logs, ok);
                    self.fill(ex, &log_rx, &mut logs, Fill::Batches);
                }
                _ = sleep_until(hold_over), if hold_over.is_some() => {
                    self.fill(ex, &span_rx, &mut spans, Fill::All);
                    self.fill(ex, &log_rx, &mut logs, Fill::All);
                }
                _ = span_tick.tick() => self.fill(ex, &span_rx, &mut spans, Fill::All),
                _ = log_tick.tick() => self.fill(ex, &log_rx, &mut logs, Fill::All),
                Some(_) = push.next() => {}
                _ = metric_tick.tick() => {
                    if push.is_empty() && self.settings.export_metrics {
                        push.push(self.push_metrics(ex, None));
                    }
                }
                c = control_rx.recv() => {
                    // Flushing is what the caller waits for: at the service's priority.
                    set_priority(crate::config::ExportPriority::Normal);
                    let (deadline, done, stop) = match c {
                        Some(Control::Flush(done)) => (Instant::now() + self.settings.timeout, Some(done), false),
                        Some(Control::Shutdown(t, done)) => (Instant::now() + t, Some(done), true),
                        None => (Instant::now() + self.settings.timeout, None, true),
                    };
                    span_rx.take_all(&mut spans.items);
                    log_rx.take_all(&mut logs.items);
                    self.flush(ex, (&span_rx, &mut spans), (&log_rx, &mut logs), &mut push, deadline)
                        .await;
                    if stop {
                        // What is still in flight is dropped here, each batch counted as a
                        // failed export (`Unfinished`), and what was never sent is counted,
                        // before the caller is told the shutdown is done.
                        spans.in_flight.clear();
                        logs.in_flight.clear();
                        push.clear();
                        self.drop_items(&mut spans);
                        self.drop_items(&mut logs);
                    }
                    if let Some(done) = done { let _ = done.send(()); }
                    if stop {
                        return;
                    }
                    set_priority(self.settings.priority);
                }
            }
        }
    }

    /// Exports everything taken (`lane.items`) and waits for every export in flight, the
    /// earlier ones too, and for a metric push, until `deadline`. What is not done by then is
    /// left to the ordinary turns (a flush) or dropped and counted by the caller (a shutdown).
    async fn flush<'a>(
        &'a self,
        ex: &'a Exporters,
        (span_rx, spans): (&BatchQueue<SpanData>, &mut Lane<'a, SpanData>),
        (log_rx, logs): (&BatchQueue<PendingLog>, &mut Lane<'a, PendingLog>),
        push: &mut FuturesUnordered<InFlight<'a>>,
        deadline: Instant,
    ) {
        let left = || deadline.saturating_duration_since(Instant::now());
        // A push of what was measured until now, after the one in flight if there is one (one
        // push at a time: cumulative series arrive in order).
        let mut metrics_due = self.settings.export_metrics;
        let stop_at = tokio::time::Instant::from_std(deadline);
        loop {
            if left().is_zero() {
                return;
            }
            if metrics_due && push.is_empty() {
                push.push(self.push_metrics(ex, Some(left())));
                metrics_due = false;
            }
            self.fill(ex, span_rx, spans, Fill::Flush(left()));
            self.fill(ex, log_rx, logs, Fill::Flush(left()));
            if spans.idle() && logs.idle() && push.is_empty() && !metrics_due {
                return;
            }
            let now = Instant::now();
            if waiting_unheld(ex, spans, logs, now) {
                continue; // a collector's wait ended since `fill` looked: fill again
            }
            // A signal whose collector asked to wait, with nothing in flight: wake when the
            // wait is over.
            let wake = held(ex, spans, logs, now).map_or(stop_at, |h| h.min(stop_at));
            tokio::select! {
                Some(ok) = spans.in_flight.next() => self.ended(spans, ok),
                Some(ok) = logs.in_flight.next() => self.ended(logs, ok),
                Some(_) = push.next() => {}
                _ = sleep_until_instant(wake) => {
                    if Instant::now() >= deadline {
                        return;
                    }
                }
            }
        }
    }

    /// Starts exports of `lane`'s signal while it has fewer than [`MAX_IN_FLIGHT`] in flight
    /// and something to send (see [`Fill`]), taking the queue whenever less than a batch is
    /// left; none while the collector asked to wait.
    fn fill<'a, T: Queued>(
        &'a self,
        ex: &'a Exporters,
        rx: &BatchQueue<T>,
        lane: &mut Lane<'a, T>,
        fill: Fill,
    ) {
        let batch = T::batch_size(&self.settings);
        let limit = match fill {
            Fill::Flush(left) => Some(left),
            _ => None,
        };
        loop {
            if lane.items.len() < batch && !matches!(fill, Fill::Flush(_)) {
                rx.take_all(&mut lane.items);
            }
            if lane.items.is_empty()
                || lane.in_flight.len() >= lane.limit()
                || (lane.items.len() < rx.signal_at() && fill == Fill::Batches)
                || T::exporter(ex).is_some_and(|e| e.held_until().is_some())
            {
                return;
            }
            // With no exporter (it could not be built) the batch is dropped and counted.
            if let Some(encoded) = T::encode(self, ex, &mut lane.items) {
                lane.in_flight.push(self.export(T::SIGNAL, encoded, limit));
            }
        }
    }

    /// An export came back: after a failure, what was taken and not sent yet is dropped and
    /// counted too (one timeout per export in flight, not per batch, with a black-holed
    /// collector).
    fn ended<T: Queued>(&self, lane: &mut Lane<'_, T>, ok: bool) {
        lane.failing = !ok;
        if !ok {
            self.drop_items(lane);
        }
    }

    fn drop_items<T: Queued>(&self, lane: &mut Lane<'_, T>) {
        if !lane.items.is_empty() {
            TelemetryDropped {
                signal: T::SIGNAL,
                count: lane.items.len() as u64,
            }
            .emit(&self.counters);
            lane.items.clear();
        }
    }

    /// One encoded batch sent (see [`Worker::send`]), counted once however it ends: the guard
    /// is made here, not inside the future, so a future dropped before its first poll (a
    /// shutdown whose deadline passed) counts its batch too.
    fn export<'a>(
        &'a self,
        signal: Signal,
        encoded: Encoded<'a>,
        limit: Option<Duration>,
    ) -> InFlight<'a> {
        let n = encoded.n;
        self.guarded(
            signal,
            n,
            self.send(signal, n, encoded.exporter, encoded.body, limit),
        )
    }

    /// One metric push (see [`Worker::export_metrics`]), counted as a failed export if it is
    /// dropped before it ends, like a batch.
    fn push_metrics<'a>(&'a self, ex: &'a Exporters, limit: Option<Duration>) -> InFlight<'a> {
        self.guarded(Signal::Metrics, 1, self.export_metrics(ex, limit))
    }

    /// `export` (of `n` items of `signal`) with its [`Unfinished`] guard, made now, before the
    /// first poll: dropped before it ends, the export is counted as failed.
    fn guarded<'a>(
        &'a self,
        signal: Signal,
        n: usize,
        export: impl Future<Output = bool> + 'a,
    ) -> InFlight<'a> {
        let unfinished = Unfinished {
            worker: self,
            signal,
            n,
            ended: false,
        };
        Box::pin(async move {
            // The whole guard moves in (a field assignment alone would capture only the field).
            let mut unfinished = unfinished;
            let ok = export.await;
            unfinished.ended = true;
            ok
        })
    }

    /// The time one export of `signal` may take: its timeout, or less when a flush's or a
    /// shutdown's deadline is nearer.
    fn budget(&self, signal: Signal, limit: Option<Duration>) -> Duration {
        let timeout = self.settings.target(signal).timeout;
        limit.map_or(timeout, |l| l.min(timeout))
    }

    /// The next batch of spans, encoded straight to protobuf (`encode_traces.rs`, into the
    /// encoder's reused buffer) and taken off `spans`.
    fn encode_spans<'a>(
        &self,
        ex: &'a Exporters,
        spans: &mut VecDeque<SpanData>,
    ) -> Option<Encoded<'a>> {
        let n = spans.len().min(self.settings.spans.batch_size);
        let Some(exporter) = &ex.spans else {
            spans.drain(..n);
            TelemetryDropped {
                signal: Signal::Traces,
                count: n as u64,
            }
            .emit(&self.counters);
            return None;
        };
        let body = exporter.body(ex.span_encoder.borrow_mut().encode(spans.range(..n)));
        spans.drain(..n);
        Some(Encoded { exporter, body, n })
    }

    /// The next batch of log records: encoded here, on the export thread, not on the thread
    /// that logged, straight from the queued lines to protobuf (`encode_logs.rs`).
    fn encode_logs<'a>(
        &self,
        ex: &'a Exporters,
        logs: &mut VecDeque<PendingLog>,
    ) -> Option<Encoded<'a>> {
        let n = logs.len().min(self.settings.logs.batch_size);
        let (Some(exporter), Some(maker)) = (&ex.logs, self.log_maker.get()) else {
            logs.drain(..n);
            TelemetryDropped {
                signal: Signal::Logs,
                count: n as u64,
            }
            .emit(&self.counters);
            return None;
        };
        let body = exporter.body(ex.log_encoder.borrow_mut().encode(maker, logs.range(..n)));
        logs.drain(..n);
        Some(Encoded { exporter, body, n })
    }

    /// Sends one encoded batch of `n` spans or log records (or one metric collection, `n` = 1)
    /// under the signal's budget; counts the items the collector rejected (its
    /// `partial_success`) as dropped.
    async fn send(
        &self,
        signal: Signal,
        n: usize,
        exporter: &RawExporter,
        body: Result<bytes::Bytes, String>,
        limit: Option<Duration>,
    ) -> bool {
        let budget = self.budget(signal, limit);
        let result = match body {
            Ok(body) => tokio::time::timeout(budget, exporter.export(body, budget))
                .await
                .map_err(|_| "timed out".to_string())
                .and_then(|r| r),
            Err(e) => Err(e),
        };
        let result = match result {
            // Everything refused (`partial_success` rejecting the whole batch): a failed export
            // — counted as dropped once, reported on the log once a minute, and readiness's
            // exporter check does not take it for a working collector.
            // (A metric push is one item whose data points the collector counts: a partial
            // refusal of it counts one drop below.)
            Ok(accepted) if signal != Signal::Metrics && accepted.rejected >= n as u64 => {
                Err(format!(
                    "the collector refused all {n} items: {}",
                    if accepted.message.is_empty() {
                        "(no message)"
                    } else {
                        accepted.message.as_str()
                    }
                ))
            }
            Ok(accepted) => {
                if accepted.rejected > 0 {
                    TelemetryDropped {
                        signal,
                        count: accepted.rejected.min(n as u64),
                    }
                    .emit(&self.counters);
                }
                Ok(())
            }
            Err(e) => Err(e),
        };
        self.record(signal, n as u64, result)
    }

    /// One metric push; `true` if it went through.
    async fn export_metrics(&self, ex: &Exporters, limit: Option<Duration>) -> bool {
        if !self.settings.export_metrics {
            return true;
        }
        let Some(exporter) = &ex.metrics else {
            TelemetryDropped {
                signal: Signal::Metrics,
                count: 1,
            }
            .emit(&self.counters);
            return false;
        };
        // Collect from the same reader the /metrics endpoint reads (one aggregation).
        let metrics = self.metrics.clone();
        let Some(rm) = metrics.collect_owned() else {
            // The collection failed (reported by `metrics`): nothing went out, so neither a
            // success (readiness would take it for a working exporter) nor an export failure.
            TelemetryDropped {
                signal: Signal::Metrics,
                count: 1,
            }
            .emit(&self.counters);
            return false;
        };
        // The request opentelemetry-otlp would send, with the exemplars the SDK does not keep.
        let encoded = super::encode_metrics::encode(&rm, metrics.exemplars());
        let body = exporter.body(&encoded);
        self.send(Signal::Metrics, 1, exporter, body, limit).await
    }

    /// Counts a failed export; `true` if it succeeded.
    fn record(&self, signal: Signal, n: u64, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => {
                // Readiness (`health`): the signal is not failing any more.
                self.counters.succeeded(signal);
                true
            }
            Err(e) => {
                ExportFailed {
                    signal,
                    count: n,
                    error: &e,
                }
                .emit(&self.counters, &self.dispatch);
                false
            }
        }
    }
}

/// What an export queue holds (spans or log records): its signal, batch size, exporter and
/// encoding.
trait Queued: Sized {
    const SIGNAL: Signal;
    fn batch_size(settings: &ExportSettings) -> usize;
    fn exporter(ex: &Exporters) -> Option<&RawExporter>;
    fn encode<'a>(
        worker: &Worker,
        ex: &'a Exporters,
        items: &mut VecDeque<Self>,
    ) -> Option<Encoded<'a>>;
}

/// `Queued` for an item type: its signal, the settings field of its batching, its exporter,
/// its encoding.
macro_rules! queued {
    ($item:ty, $signal:expr, $batching:ident, $exporter:ident, $encode:ident) => {
        impl Queued for $item {
            const SIGNAL: Signal = $signal;
            fn batch_size(settings: &ExportSettings) -> usize {
                settings.$batching.batch_size
            }
            fn exporter(ex: &Exporters) -> Option<&RawExporter> {
                ex.$exporter.as_ref()
            }
            fn encode<'a>(
                worker: &Worker,
                ex: &'a Exporters,
                items: &mut VecDeque<Self>,
            ) -> Option<Encoded<'a>> {
                worker.$encode(ex, items)
            }
        }
    };
}

queued!(SpanData, Signal::Traces, spans, spans, encode_spans);
queued!(PendingLog, Signal::Logs, logs, logs, encode_logs);

/// A lane with items taken and nothing in flight: it waits for nothing but a start.
fn waiting<T>(lane: &Lane<'_, T>) -> bool {
    lane.in_flight.is_empty() && !lane.items.is_empty()
}

/// When the earliest collector's wait ends among the signals that hold items because of it
/// (`None`: no signal is held), as of `now`.
fn held(
    ex: &Exporters,
    spans: &Lane<'_, SpanData>,
    logs: &Lane<'_, PendingLog>,
    now: Instant,
) -> Option<tokio::time::Instant> {
    let until = |lane: bool, e: &Option<RawExporter>| {
        lane.then(|| e.as_ref().and_then(|e| e.held_at(now)))
            .flatten()
    };
    [
        until(waiting(spans), &ex.spans),
        until(waiting(logs), &ex.logs),
    ]
    .into_iter()
    .flatten()
    .min()
    .map(tokio::time::Instant::from_std)
}

/// Whether a signal holds items with nothing in flight and no wait asked any more (as of
/// `now`): it can start at once.
fn waiting_unheld(
    ex: &Exporters,
    spans: &Lane<'_, SpanData>,
    logs: &Lane<'_, PendingLog>,
    now: Instant,
) -> bool {
    let free = |e: &Option<RawExporter>| e.as_ref().is_some_and(|e| e.held_at(now).is_none());
    (waiting(spans) && free(&ex.spans)) || (waiting(logs) && free(&ex.logs))
}

/// Sleeps until `at`, or forever (`None`; the branch is disabled then anyway).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => sleep_until_instant(at).await,
        None => std::future::pending().await,
    }
}
