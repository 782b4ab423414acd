//! OTLP export of traces, metrics and logs, with graceful degradation.
//!
//! One worker thread owns a small Tokio runtime and the three OTLP exporters, each over gRPC or
//! HTTP/protobuf as [`crate::Config::otlp`] says (`otlp.rs` builds them). Spans and log records
//! are encoded to OTLP protobuf by our own encoders (`encode.rs`, `encode_traces.rs`,
//! `encode_logs.rs`: straight from the SDK's `SpanData` and from the queued log lines to bytes in
//! a reused buffer, no prost structs in between) and sent by `send.rs` over a tonic channel
//! (`grpc_raw.rs`: a codec that passes the bytes) or the hyper client; metrics go the same way,
//! as opentelemetry-proto's conversion of the SDK's collection plus our exemplars
//! (`encode_metrics.rs`). The application only ever pushes into a bounded queue per signal (a
//! short lock, no wake-up of the worker until a batch is full); when a queue is full the item is
//! dropped and counted. Ordinary
//! items fill at most three quarters of a queue: the rest is kept for the spans of error and
//! slow traces and for WARN/ERROR log records. The worker takes a whole queue at once (a buffer
//! swap) and sends it in batches, up to [`MAX_IN_FLIGHT`] exports of a signal in flight at once
//! (their round trips overlap), at the configured [`crate::ExportPriority`]. Every export runs
//! under a timeout, and a failed one drops (and counts) what was taken and not yet sent, so a
//! black-holed collector costs one timeout per export in flight, never a stalled request path.
//! A collector that asks to wait (`RetryInfo`, `Retry-After`) gets no new export of its signal
//! before the wait is over. Failures are
//! counted per signal and logged at most once a minute per signal. When the collector comes back,
//! the next batch goes through (tonic and hyper reconnect by themselves).
//!
//! Counters, visible on `/metrics`: `<svc>_telemetry_dropped_total{signal}` (items lost: full
//! queue, failed export, or rejected by the collector in a `partial_success`) and
//! `<svc>_telemetry_export_errors_total{signal}` (failed exports).

use std::sync::Arc;
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;
use tokio::sync::{mpsc, oneshot};

use crate::internal::{DispatchSlot, ExportFailed, TelemetryDropped};
use crate::internal::{ExportCounters, Signal};
use crate::logs::PendingLog;

#[doc(hidden)]
pub mod bench;
mod encode;
mod encode_logs;
mod encode_metrics;
mod encode_traces;
mod grpc_raw;
mod http_client;
mod logs;
mod otlp;
mod queue;
mod send;
mod worker;

pub(crate) use logs::LogMaker;

use queue::BatchQueue;
use worker::{set_priority, Worker};

/// Settings of the exporters (from [`crate::Config`]).
#[derive(Debug, Clone)]
pub(crate) struct ExportSettings {
    /// Where and how each signal goes, by [`OtlpSignal::index`](crate::config::OtlpSignal).
    pub(crate) targets: [crate::config::OtlpTarget; 3],
    /// The general export timeout: the budget of a flush.
    pub(crate) timeout: Duration,
    pub(crate) metric_interval: Duration,
    pub(crate) export_traces: bool,
    pub(crate) export_logs: bool,
    pub(crate) export_metrics: bool,
    pub(crate) priority: crate::config::ExportPriority,
    pub(crate) spans: crate::config::Batching,
    pub(crate) logs: crate::config::Batching,
}

impl ExportSettings {
    pub(crate) fn new(config: &crate::Config) -> Self {
        Self {
            targets: config.otlp.clone(),
            timeout: config.export_timeout,
            metric_interval: config.metric_export_interval,
            export_traces: config.export_traces,
            export_logs: config.export_logs,
            export_metrics: config.export_metrics,
            priority: config.export_priority,
            spans: config.span_batching,
            logs: config.log_batching,
        }
    }

    /// The target of `signal`.
    fn target(&self, signal: Signal) -> &crate::config::OtlpTarget {
        use crate::config::OtlpSignal;
        let signal = match signal {
            Signal::Traces => OtlpSignal::Traces,
            Signal::Metrics => OtlpSignal::Metrics,
            Signal::Logs => OtlpSignal::Logs,
        };
        &self.targets[signal.index()]
    }
}

/// Exports of one signal in flight at once, at most (each a batch; metric pushes go one at a
/// time). Measured on procman at saturation (`BENCHMARKS.md`, session 9).
const MAX_IN_FLIGHT: usize = 4;

enum Control {
    Flush(oneshot::Sender<()>),
    Shutdown(Duration, oneshot::Sender<()>),
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
        self.offer(&self.spans, Signal::Traces, span, important);
    }

    /// Installs what turns queued log lines into OTel records (once).
    pub(crate) fn set_log_maker(&self, maker: LogMaker) {
        let _ = self.log_maker.set(maker);
    }

    /// Queues a log line for export; drops (counted) if the queue is full or the pipeline
    /// stopped.
    pub(crate) fn send_log(&self, log: PendingLog, important: bool) {
        self.offer(&self.logs, Signal::Logs, log, important);
    }

    fn offer<T>(&self, queue: &BatchQueue<T>, signal: Signal, item: T, important: bool) {
        if !queue.push(item, important) {
            TelemetryDropped { signal, count: 1 }.emit(&self.counters);
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
        if !self.spans.close() {
            return true;
        }
        self.logs.close();
        let (tx, rx) = oneshot::channel();
        // The worker stops a little before the caller's deadline, so that what it drops is
        // counted (and readable) by the time this returns.
        let margin = (timeout / 10).min(Duration::from_millis(50));
        if self
            .control
            .send(Control::Shutdown(timeout - margin, tx))
            .is_err()
        {
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

/// Starts the worker thread. Building a signal's exporter can fail (e.g. a CA file that cannot
/// be read): then one WARN is logged for that signal and the service runs on without its export
/// (its queued items are dropped and counted); the other signals export.
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

/// Kept spans go to the export queue (the tail sampler's sink).
impl crate::traces::SpanSink for Exporter {
    fn send(&self, span: opentelemetry_sdk::trace::SpanData, important: bool) {
        self.send_span(span, important)
    }
}
