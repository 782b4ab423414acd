//! OTLP export of traces, metrics and logs, with graceful degradation.
//!
//! One worker thread owns a small Tokio runtime and the three OTLP gRPC exporters. The
//! application only ever pushes into a bounded queue per signal (a short lock, no wake-up of the
//! worker until a batch is full); when a queue is full the item is dropped and counted. Ordinary
//! items fill at most three quarters of a queue: the rest is kept for the spans of error and
//! slow traces and for WARN/ERROR log records. The worker takes a whole queue at once (a buffer
//! swap) and sends it in batches, back to back while a batch is waiting; it runs at the
//! configured [`crate::ExportPriority`]. Every export runs under a timeout, so a black-holed
//! collector costs one timeout per batch, never a stalled request path. Failures are
//! counted per signal and logged at most once a minute per signal. When the collector comes back,
//! the next batch goes through (tonic reconnects by itself).
//!
//! Counters, visible on `/metrics`: `<svc>_telemetry_dropped_total{signal}` (items lost: full
//! queue or failed export) and `<svc>_telemetry_export_errors_total{signal}` (failed exports).

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use opentelemetry::InstrumentationScope;
use opentelemetry_otlp::{WithExportConfig, WithTonicConfig};
use opentelemetry_sdk::logs::{LogBatch, LogExporter as _, SdkLogRecord};
use opentelemetry_sdk::metrics::exporter::PushMetricExporter as _;
use opentelemetry_sdk::trace::{SpanData, SpanExporter as _};
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, oneshot};

use crate::internal::{DispatchSlot, ExportFailed, TelemetryDropped};
use crate::internal::{ExportCounters, Signal};
use crate::logs::{LogMaker, PendingLog};

/// Settings of the exporters (from [`crate::Config`]).
#[derive(Debug, Clone)]
pub(crate) struct ExportSettings {
    pub(crate) endpoint: String,
    pub(crate) insecure: bool,
    pub(crate) ca_file: Option<std::path::PathBuf>,
    pub(crate) timeout: Duration,
    pub(crate) metric_interval: Duration,
    pub(crate) export_metrics: bool,
    pub(crate) priority: crate::config::ExportPriority,
    pub(crate) spans: crate::config::Batching,
    pub(crate) logs: crate::config::Batching,
}

/// Batches one worker turn exports at most before serving the other signals again.
const TURN_BATCHES: usize = 8;

enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(Duration, oneshot::Sender<()>),
}

/// A bounded queue that wakes its consumer only when a batch is ready (not per item: a wake-up
/// per span was a context switch per request).
#[derive(Debug)]
pub(crate) struct BatchQueue<T> {
    items: Mutex<std::collections::VecDeque<T>>,
    capacity: usize,
    /// The length at which the worker is woken: a batch, or what ordinary items can reach.
    signal_at: usize,
    ready: tokio::sync::Notify,
    /// Set at shutdown: later items are dropped and counted.
    closed: std::sync::atomic::AtomicBool,
}

impl<T> BatchQueue<T> {
    fn new(capacity: usize, batch: usize) -> Self {
        Self {
            items: Mutex::new(std::collections::VecDeque::with_capacity(batch)),
            capacity,
            signal_at: batch.min(Self::ordinary_limit(capacity)).max(1),
            ready: tokio::sync::Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn ordinary_limit(capacity: usize) -> usize {
        capacity - capacity / 4
    }

    /// Adds an item; `false` (item dropped) if the queue is full. Ordinary items fill at most
    /// three quarters of it: the last quarter is kept for important ones (spans of error and
    /// slow traces, WARN and ERROR log records), so that a flood of ordinary telemetry at
    /// saturation does not push out the data an operator needs most.
    fn push(&self, item: T, important: bool) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let limit = if important {
            self.capacity
        } else {
            Self::ordinary_limit(self.capacity)
        };
        let len = {
            let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
            if q.len() >= limit {
                return false;
            }
            q.push_back(item);
            q.len()
        };
        if len == self.signal_at {
            self.ready.notify_one();
        }
        true
    }

    /// Whether a batch is waiting (the worker is not signalled again while it stays above).
    fn has_batch(&self) -> bool {
        self.len() >= self.signal_at
    }

    /// Moves everything queued into `into`: the application's threads never wait behind the
    /// worker (a swap of two buffers under the lock, whatever their length — the worker may be
    /// a low-priority thread, and must not hold the lock long enough to be preempted with it).
    fn take_all(&self, into: &mut std::collections::VecDeque<T>) {
        let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if into.is_empty() {
            std::mem::swap(&mut *q, into);
        } else {
            into.extend(q.drain(..));
        }
    }

    fn len(&self) -> usize {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

/// The application's side of the export pipeline: bounded queues into the worker.
#[derive(Debug, Clone)]
pub(crate) struct Exporter {
    spans: Arc<BatchQueue<SpanData>>,
    logs: Arc<BatchQueue<PendingLog>>,
    control: mpsc::UnboundedSender<Control>,
    pub(crate) counters: Arc<ExportCounters>,
    /// Builds log records on the export thread (set when log export is on).
    log_maker: Arc<std::sync::OnceLock<LogMaker>>,
}

impl Exporter {
    /// Queues a kept span; drops (counted) if the queue is full or the pipeline stopped.
    pub(crate) fn send_span(&self, span: SpanData, important: bool) {
        if !self.spans.push(span, important) {
            TelemetryDropped {
                signal: Signal::Traces,
                count: 1,
            }
            .emit(&self.counters);
        }
    }

    /// Installs what turns queued log lines into OTel records (once).
    pub(crate) fn set_log_maker(&self, maker: LogMaker) {
        let _ = self.log_maker.set(maker);
    }

    /// Queues a log line for export; drops (counted) if the queue is full or the pipeline
    /// stopped.
    pub(crate) fn send_log(&self, log: PendingLog, important: bool) {
        if !self.logs.push(log, important) {
            TelemetryDropped {
                signal: Signal::Logs,
                count: 1,
            }
            .emit(&self.counters);
        }
    }

    /// Exports everything queued, waiting at most `timeout`.
    pub(crate) fn flush(&self, timeout: Duration) {
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Flush(tx)).is_ok() {
            wait(rx, timeout);
        }
    }

    /// Exports what is queued and stops, returning within `timeout` whatever the collector does.
    pub(crate) fn shutdown(&self, timeout: Duration) -> bool {
        // The closed queues are the "stopped" state: only the first call sends the shutdown.
        if self.spans.closed.swap(true, Ordering::AcqRel) {
            return true;
        }
        self.logs.closed.store(true, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        if self.control.send(Control::Shutdown(timeout, tx)).is_err() {
            return true;
        }
        wait(rx, timeout)
    }
}

/// Waits for a oneshot from a plain thread, at most `timeout`.
fn wait(mut rx: oneshot::Receiver<()>, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        match rx.try_recv() {
            Ok(()) => return true,
            Err(oneshot::error::TryRecvError::Closed) => return true,
            Err(oneshot::error::TryRecvError::Empty) => {}
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Starts the worker thread. Building the exporters can fail (e.g. a malformed endpoint): then
/// one WARN is logged and the service runs on without export (queued items are dropped and
/// counted).
pub(crate) fn start(
    settings: ExportSettings,
    resource: Resource,
    metrics: crate::metrics::Metrics,
    counters: Arc<ExportCounters>,
    dispatch: DispatchSlot,
) -> Exporter {
    let span_tx = Arc::new(BatchQueue::new(
        settings.spans.queue_size,
        settings.spans.batch_size,
    ));
    let log_tx = Arc::new(BatchQueue::new(
        settings.logs.queue_size,
        settings.logs.batch_size,
    ));
    let (span_rx, log_rx) = (span_tx.clone(), log_tx.clone());
    let (control_tx, control_rx) = mpsc::unbounded_channel();
    let exporter = Exporter {
        spans: span_tx,
        logs: log_tx,
        control: control_tx,
        counters: counters.clone(),
        log_maker: Arc::default(),
    };
    let worker = Worker {
        settings,
        resource,
        metrics,
        counters,
        dispatch,
        log_maker: exporter.log_maker.clone(),
    };
    let _ = std::thread::Builder::new()
        .name("watchpost-export".into())
        .spawn(move || {
            set_priority(worker.settings.priority);
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    ExportFailed {
                        signal: Signal::Traces,
                        count: 0,
                        error: &format!("cannot start the export runtime: {e}"),
                    }
                    .emit(&worker.counters, &worker.dispatch);
                    return;
                }
            };
            rt.block_on(worker.run(span_rx, log_rx, control_rx));
        });
    exporter
}

/// Exporting is background work: by default (`Idle`) the service's own threads come first, and
/// at saturation the export queue fills and drops are counted, rather than requests waiting
/// behind protobuf encoding. A flush or shutdown, which a caller waits for, runs at `Normal`.
/// Best effort; ignored where not supported.
fn set_priority(priority: crate::config::ExportPriority) {
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

struct Worker {
    settings: ExportSettings,
    resource: Resource,
    metrics: crate::metrics::Metrics,
    counters: Arc<ExportCounters>,
    dispatch: DispatchSlot,
    log_maker: Arc<std::sync::OnceLock<LogMaker>>,
}

struct Exporters {
    spans: opentelemetry_otlp::SpanExporter,
    logs: opentelemetry_otlp::LogExporter,
    metrics: opentelemetry_otlp::MetricExporter,
}

impl Worker {
    fn build(&self) -> Result<Exporters, String> {
        let s = &self.settings;
        let endpoint = if s.endpoint.starts_with("http://") || s.endpoint.starts_with("https://") {
            s.endpoint.clone()
        } else if s.insecure {
            format!("http://{}", s.endpoint)
        } else {
            format!("https://{}", s.endpoint)
        };
        let tls = if s.insecure {
            None
        } else {
            let mut tls = opentelemetry_otlp::tonic_types::transport::ClientTlsConfig::new()
                .with_enabled_roots();
            if let Some(ca) = &s.ca_file {
                let pem = std::fs::read(ca)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", ca.display()))?;
                tls = tls.ca_certificate(
                    opentelemetry_otlp::tonic_types::transport::Certificate::from_pem(pem),
                );
            }
            Some(tls)
        };
        macro_rules! build {
            ($builder:expr) => {{
                let b = $builder
                    .with_tonic()
                    .with_endpoint(endpoint.clone())
                    .with_timeout(s.timeout);
                let b = match &tls {
                    Some(t) => b.with_tls_config(t.clone()),
                    None => b,
                };
                b.build()
                    .map_err(|e| format!("invalid OTLP endpoint {endpoint:?}: {e}"))?
            }};
        }
        let mut spans = build!(opentelemetry_otlp::SpanExporter::builder());
        let mut logs = build!(opentelemetry_otlp::LogExporter::builder());
        let metrics = build!(opentelemetry_otlp::MetricExporter::builder());
        spans.set_resource(&self.resource);
        logs.set_resource(&self.resource);
        Ok(Exporters {
            spans,
            logs,
            metrics,
        })
    }

    async fn run(
        self,
        span_rx: Arc<BatchQueue<SpanData>>,
        log_rx: Arc<BatchQueue<PendingLog>>,
        mut control_rx: mpsc::UnboundedReceiver<Control>,
    ) {
        let exporters = match self.build() {
            Ok(e) => Some(e),
            Err(e) => {
                // The pipeline's dispatcher is set just after this thread starts: wait for it
                // (briefly), or the one WARN about a broken configuration would go nowhere.
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
                ExportFailed {
                    signal: Signal::Traces,
                    count: 0,
                    error: &e,
                }
                .emit(&self.counters, &self.dispatch);
                None
            }
        };
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
                    self.span_turn(exporters.as_ref(), &span_rx, &mut spans).await;
                }
                _ = log_rx.ready.notified() => {
                    self.log_turn(exporters.as_ref(), &log_rx, &mut logs).await;
                }
                _ = span_tick.tick() => {
                    self.span_turn(exporters.as_ref(), &span_rx, &mut spans).await;
                }
                _ = log_tick.tick() => {
                    self.log_turn(exporters.as_ref(), &log_rx, &mut logs).await;
                }
                _ = metric_tick.tick() => {
                    self.export_metrics(exporters.as_ref(), None).await;
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
                        self.export_spans(exporters.as_ref(), &mut spans, Some(left)).await;
                    }
                    while !logs.is_empty() {
                        let left = deadline.saturating_duration_since(Instant::now());
                        self.export_logs(exporters.as_ref(), &mut logs, Some(left)).await;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.export_metrics(exporters.as_ref(), Some(left)).await;
                    if let Some(done) = done { let _ = done.send(()); }
                    if stop {
                        return;
                    }
                    set_priority(self.settings.priority);
                }
            }
        }
    }

    /// One turn for spans: take the queue (if less than a batch is left over), export at most
    /// [`TURN_BATCHES`] batches; after a failed export, drop and count what was taken (one
    /// timeout per turn, not per batch, with a black-holed collector).
    async fn span_turn(
        &self,
        ex: Option<&Exporters>,
        rx: &BatchQueue<SpanData>,
        spans: &mut std::collections::VecDeque<SpanData>,
    ) {
        if spans.len() < self.settings.spans.batch_size {
            rx.take_all(spans);
        }
        for _ in 0..TURN_BATCHES {
            if spans.is_empty() {
                break;
            }
            if !self.export_spans(ex, spans, None).await {
                TelemetryDropped {
                    signal: Signal::Traces,
                    count: spans.len() as u64,
                }
                .emit(&self.counters);
                spans.clear();
            }
        }
        if !spans.is_empty() || rx.has_batch() {
            rx.ready.notify_one();
        }
    }

    /// [`Self::span_turn`] for log records.
    async fn log_turn(
        &self,
        ex: Option<&Exporters>,
        rx: &BatchQueue<PendingLog>,
        logs: &mut std::collections::VecDeque<PendingLog>,
    ) {
        if logs.len() < self.settings.logs.batch_size {
            rx.take_all(logs);
        }
        for _ in 0..TURN_BATCHES {
            if logs.is_empty() {
                break;
            }
            if !self.export_logs(ex, logs, None).await {
                TelemetryDropped {
                    signal: Signal::Logs,
                    count: logs.len() as u64,
                }
                .emit(&self.counters);
                logs.clear();
            }
        }
        if !logs.is_empty() || rx.has_batch() {
            rx.ready.notify_one();
        }
    }

    fn budget(&self, limit: Option<Duration>) -> Duration {
        limit.map_or(self.settings.timeout, |l| l.min(self.settings.timeout))
    }

    async fn export_spans(
        &self,
        ex: Option<&Exporters>,
        spans: &mut std::collections::VecDeque<SpanData>,
        limit: Option<Duration>,
    ) -> bool {
        if spans.is_empty() {
            return true;
        }
        let n = spans.len().min(self.settings.spans.batch_size);
        let batch: Vec<SpanData> = spans.drain(..n).collect();
        let Some(ex) = ex else {
            TelemetryDropped {
                signal: Signal::Traces,
                count: n as u64,
            }
            .emit(&self.counters);
            return false;
        };
        let budget = self.budget(limit);
        let result = tokio::time::timeout(budget, ex.spans.export(batch)).await;
        self.record(
            Signal::Traces,
            n as u64,
            result
                .map_err(|_| "timed out".to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
        )
    }

    async fn export_logs(
        &self,
        ex: Option<&Exporters>,
        logs: &mut std::collections::VecDeque<PendingLog>,
        limit: Option<Duration>,
    ) -> bool {
        if logs.is_empty() {
            return true;
        }
        let n = logs.len().min(self.settings.logs.batch_size);
        let batch: Vec<PendingLog> = logs.drain(..n).collect();
        let (Some(ex), Some(maker)) = (ex, self.log_maker.get()) else {
            TelemetryDropped {
                signal: Signal::Logs,
                count: n as u64,
            }
            .emit(&self.counters);
            return false;
        };
        // The records are built here, on the export thread, not on the thread that logged.
        let records: Vec<(SdkLogRecord, InstrumentationScope)> =
            batch.into_iter().map(|p| maker.make(p)).collect();
        let refs: Vec<(&SdkLogRecord, &InstrumentationScope)> =
            records.iter().map(|(r, s)| (r, s)).collect();
        let budget = self.budget(limit);
        let result = tokio::time::timeout(budget, ex.logs.export(LogBatch::new(&refs))).await;
        self.record(
            Signal::Logs,
            n as u64,
            result
                .map_err(|_| "timed out".to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
        )
    }

    async fn export_metrics(&self, ex: Option<&Exporters>, limit: Option<Duration>) {
        if !self.settings.export_metrics {
            return;
        }
        let Some(ex) = ex else {
            TelemetryDropped {
                signal: Signal::Metrics,
                count: 1,
            }
            .emit(&self.counters);
            return;
        };
        // Collect from the same reader the /metrics endpoint reads (one aggregation).
        let metrics = self.metrics.clone();
        let budget = self.budget(limit);
        let rm = metrics.collect_owned();
        let result = match rm {
            Some(rm) => tokio::time::timeout(budget, ex.metrics.export(&rm))
                .await
                .map_err(|_| "timed out".to_string())
                .and_then(|r| r.map_err(|e| e.to_string())),
            None => Ok(()),
        };
        self.record(Signal::Metrics, 1, result);
    }

    /// Counts a failed export; `true` if it succeeded.
    fn record(&self, signal: Signal, n: u64, result: Result<(), String>) -> bool {
        match result {
            Ok(()) => true,
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

/// Kept spans go to the export queue (the tail sampler's sink).
impl crate::traces::SpanSink for Exporter {
    fn send(&self, span: opentelemetry_sdk::trace::SpanData, important: bool) {
        self.send_span(span, important)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    #[test]
    fn the_worker_is_signalled_even_when_a_batch_is_larger_than_ordinary_items_may_fill() {
        // Ordinary items stop at 75 of 100; a batch of 100 would never be reached by them.
        let q = BatchQueue::new(100, 100);
        for i in 0..80 {
            let accepted = q.push(i, false);
            assert_eq!(accepted, i < 75, "item {i}");
        }
        assert!(
            q.ready.notified().now_or_never().is_some(),
            "signalled at 75"
        );
        assert!(q.push(1000, true), "the reserve takes important items");
        assert!(q.has_batch());
    }

    #[test]
    fn a_closed_queue_refuses_items() {
        let q = BatchQueue::new(10, 2);
        assert!(q.push(1, false));
        q.closed.store(true, Ordering::Relaxed);
        assert!(!q.push(2, true));
        let mut taken = std::collections::VecDeque::new();
        q.take_all(&mut taken);
        assert_eq!(taken, [1]);
    }
}
