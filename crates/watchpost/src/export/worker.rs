//! The export worker: one thread with its own small Tokio runtime, owning the three OTLP
//! exporters (gRPC or HTTP, built by `otlp.rs`); it drains the queues in bounded turns, at the
//! configured priority.

use super::*;

/// Exporting is background work: by default (`Idle`) the service's own threads come first, and
/// at saturation the export queue fills and drops are counted, rather than requests waiting
/// behind protobuf encoding. A flush or shutdown, which a caller waits for, runs at `Normal`.
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
        let exporters = &exporters;
        // Taken from the queues, being exported: at most a queue and a batch's worth each.
        let mut spans: std::collections::VecDeque<SpanData> =
            std::collections::VecDeque::with_capacity(self.settings.spans.queue_size);
        let mut logs: std::collections::VecDeque<PendingLog> =
            std::collections::VecDeque::with_capacity(self.settings.logs.queue_size);
        let mut span_tick = tokio::time::interval(self.settings.spans.delay);
        let mut log_tick = tokio::time::interval(self.settings.logs.delay);
        let mut metric_tick = tokio::time::interval(self.settings.metric_interval);
        metric_tick.tick().await; // the first tick is immediate; the first push is one interval in
        loop {
            // Each turn exports a bounded number of batches, then goes back to `select!`, so
            // that one busy signal never starves the others, the metric push, or a flush or
            // shutdown. A queue that still holds a batch re-arms its own signal (it is only
            // signalled when it reaches a batch, not while it stays above).
            tokio::select! {
                _ = span_rx.ready.notified() => {
                    self.turn(exporters, &span_rx, &mut spans).await;
                }
                _ = log_rx.ready.notified() => {
                    self.turn(exporters, &log_rx, &mut logs).await;
                }
                _ = span_tick.tick() => {
                    self.turn(exporters, &span_rx, &mut spans).await;
                }
                _ = log_tick.tick() => {
                    self.turn(exporters, &log_rx, &mut logs).await;
                }
                _ = metric_tick.tick() => {
                    self.export_metrics(exporters, None).await;
                }
                c = control_rx.recv() => {
                    // Flushing is what the caller waits for: at the service's priority.
                    set_priority(crate::config::ExportPriority::Normal);
                    let (deadline, done, stop) = match c {
                        Some(Control::Flush(done)) => (Instant::now() + self.settings.timeout, Some(done), false),
                        Some(Control::Shutdown(t, done)) => (Instant::now() + t, Some(done), true),
                        None => (Instant::now() + self.settings.timeout, None, true),
                    };
                    span_rx.take_all(&mut spans);
                    log_rx.take_all(&mut logs);
                    // One budget for everything: each export gets what is left of it.
                    while !spans.is_empty() {
                        let left = deadline.saturating_duration_since(Instant::now());
                        self.export_spans(exporters, &mut spans, Some(left)).await;
                    }
                    while !logs.is_empty() {
                        let left = deadline.saturating_duration_since(Instant::now());
                        self.export_logs(exporters, &mut logs, Some(left)).await;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.export_metrics(exporters, Some(left)).await;
                    if let Some(done) = done { let _ = done.send(()); }
                    if stop {
                        return;
                    }
                    set_priority(self.settings.priority);
                }
            }
        }
    }

    /// One turn for a queue: take it (if less than a batch is left over), export at most
    /// [`TURN_BATCHES`] batches; after a failed export, drop and count what was taken (one
    /// timeout per turn, not per batch, with a black-holed collector).
    async fn turn<T: Queued>(
        &self,
        ex: &Exporters,
        rx: &BatchQueue<T>,
        items: &mut std::collections::VecDeque<T>,
    ) {
        if items.len() < T::batch_size(&self.settings) {
            rx.take_all(items);
        }
        for _ in 0..TURN_BATCHES {
            if items.is_empty() {
                break;
            }
            if !T::export(self, ex, items, None).await {
                TelemetryDropped {
                    signal: T::SIGNAL,
                    count: items.len() as u64,
                }
                .emit(&self.counters);
                items.clear();
            }
        }
        if !items.is_empty() || rx.has_batch() {
            rx.ready.notify_one();
        }
    }

    /// The time one export of `signal` may take: its timeout, or less when a flush's or a
    /// shutdown's deadline is nearer.
    fn budget(&self, signal: Signal, limit: Option<Duration>) -> Duration {
        let timeout = self.settings.target(signal).timeout;
        limit.map_or(timeout, |l| l.min(timeout))
    }

    async fn export_spans(
        &self,
        ex: &Exporters,
        spans: &mut std::collections::VecDeque<SpanData>,
        limit: Option<Duration>,
    ) -> bool {
        if spans.is_empty() {
            return true;
        }
        let n = spans.len().min(self.settings.spans.batch_size);
        let Some(exporter) = &ex.spans else {
            spans.drain(..n);
            TelemetryDropped {
                signal: Signal::Traces,
                count: n as u64,
            }
            .emit(&self.counters);
            return false;
        };
        // Encoded straight to protobuf (`encode_traces.rs`), into the encoder's reused buffer.
        let body = exporter.body(ex.span_encoder.borrow_mut().encode(spans.range(..n)));
        spans.drain(..n);
        self.send(Signal::Traces, n, exporter, body, limit).await
    }

    async fn export_logs(
        &self,
        ex: &Exporters,
        logs: &mut std::collections::VecDeque<PendingLog>,
        limit: Option<Duration>,
    ) -> bool {
        if logs.is_empty() {
            return true;
        }
        let n = logs.len().min(self.settings.logs.batch_size);
        let (Some(exporter), Some(maker)) = (&ex.logs, self.log_maker.get()) else {
            logs.drain(..n);
            TelemetryDropped {
                signal: Signal::Logs,
                count: n as u64,
            }
            .emit(&self.counters);
            return false;
        };
        // The records are encoded here, on the export thread, not on the thread that logged,
        // straight from the queued lines to protobuf (`encode_logs.rs`).
        let body = exporter.body(ex.log_encoder.borrow_mut().encode(maker, logs.range(..n)));
        logs.drain(..n);
        self.send(Signal::Logs, n, exporter, body, limit).await
    }

    /// Sends one encoded batch of `n` spans or log records (or one metric collection, `n` = 1)
    /// under the signal's budget; counts the items the collector rejected (its
    /// `partial_success`) as dropped.
    async fn send(
        &self,
        signal: Signal,
        n: usize,
        exporter: &super::send::RawExporter,
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

    async fn export_metrics(&self, ex: &Exporters, limit: Option<Duration>) {
        if !self.settings.export_metrics {
            return;
        }
        let Some(exporter) = &ex.metrics else {
            TelemetryDropped {
                signal: Signal::Metrics,
                count: 1,
            }
            .emit(&self.counters);
            return;
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
            return;
        };
        // The request opentelemetry-otlp would send, with the exemplars the SDK does not keep.
        let encoded = super::encode_metrics::encode(&rm, metrics.exemplars());
        let body = exporter.body(&encoded);
        self.send(Signal::Metrics, 1, exporter, body, limit).await;
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

/// What an export queue holds (spans or log records): its signal, batch size and export.
trait Queued: Sized {
    const SIGNAL: Signal;
    fn batch_size(settings: &ExportSettings) -> usize;
    fn export(
        worker: &Worker,
        ex: &Exporters,
        items: &mut std::collections::VecDeque<Self>,
        limit: Option<Duration>,
    ) -> impl std::future::Future<Output = bool>;
}

/// `Queued` for an item type: its signal, the settings field of its batching, its export.
macro_rules! queued {
    ($item:ty, $signal:expr, $batching:ident, $export:ident) => {
        impl Queued for $item {
            const SIGNAL: Signal = $signal;
            fn batch_size(settings: &ExportSettings) -> usize {
                settings.$batching.batch_size
            }
            fn export(
                worker: &Worker,
                ex: &Exporters,
                items: &mut std::collections::VecDeque<Self>,
                limit: Option<Duration>,
            ) -> impl std::future::Future<Output = bool> {
                worker.$export(ex, items, limit)
            }
        }
    };
}

queued!(SpanData, Signal::Traces, spans, export_spans);
queued!(PendingLog, Signal::Logs, logs, export_logs);
