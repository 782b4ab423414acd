//! The OTLP encoders of spans and log records, for the `export` benchmark: not part of the API
//! (re-exported hidden as `watchpost::__export_bench`), and free to change.
//!
//! ```
//! use watchpost::__export_bench::{LogLines, SpanBatch};
//! let resource = opentelemetry_sdk::Resource::builder_empty().build();
//! let mut logs = LogLines::new(&resource, vec!["api".into()]);
//! logs.push(3, "shop::api", "order placed", 0, None, r#","order_id":7"#);
//! assert!(!logs.encode().is_empty());
//! assert_eq!(logs.sdk_records().len(), 1);
//! let mut spans = SpanBatch::new(&resource);
//! assert!(!spans.encode(&[]).is_empty());
//! ```

use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::logs::SdkLogRecord;
use opentelemetry_sdk::trace::SpanData;
use opentelemetry_sdk::Resource;

use crate::logs::PendingLog;

use super::encode_logs::LogEncoder;
use super::encode_traces::SpanEncoder;
use super::LogMaker;

/// Encodes batches of spans as the export worker does.
#[derive(Debug)]
pub struct SpanBatch(SpanEncoder);

impl SpanBatch {
    /// An encoder of spans of `resource`.
    pub fn new(resource: &Resource) -> Self {
        SpanBatch(SpanEncoder::new(resource))
    }

    /// The encoded `ExportTraceServiceRequest` of `spans`.
    pub fn encode(&mut self, spans: &[SpanData]) -> &[u8] {
        self.0.encode(spans)
    }
}

/// Queued log lines, as the log layer hands them to the export worker, with the worker's
/// encoder and the maker of the SDK's records (the reference path).
#[derive(Debug)]
pub struct LogLines {
    maker: LogMaker,
    lines: Vec<PendingLog>,
    encoder: LogEncoder,
}

impl LogLines {
    /// No lines yet; records of `resource`, `subsystems` the pipeline's subsystem names.
    pub fn new(resource: &Resource, subsystems: Vec<String>) -> Self {
        use opentelemetry::logs::LoggerProvider as _;
        let provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
        LogLines {
            maker: LogMaker {
                logger: provider.logger("watchpost"),
                scope: InstrumentationScope::builder("watchpost")
                    .with_version(env!("CARGO_PKG_VERSION"))
                    .build(),
                subsystems,
            },
            lines: Vec::new(),
            encoder: LogEncoder::new(resource),
        }
    }

    /// Queues a line: `verbosity` 1 = ERROR … 4 = DEBUG, `subsystem` an index into the names,
    /// `ids` the trace and span ids, `fields` the JSON line's `,"key":value` fields.
    pub fn push(
        &mut self,
        verbosity: u8,
        target: &'static str,
        body: &str,
        subsystem: u16,
        ids: Option<([u8; 16], [u8; 8])>,
        fields: &str,
    ) {
        self.lines.push(PendingLog::new(
            verbosity,
            target.into(),
            body.to_string(),
            subsystem,
            ids,
            fields.as_bytes(),
        ));
    }

    /// The encoded `ExportLogsServiceRequest` of the lines, as the export worker sends it.
    pub fn encode(&mut self) -> &[u8] {
        self.encoder.encode(&self.maker, &self.lines)
    }

    /// The SDK's records of the lines (what the export worker built before it encoded lines
    /// itself), for opentelemetry-otlp's transform.
    pub fn sdk_records(&self) -> Vec<(SdkLogRecord, InstrumentationScope)> {
        self.lines.iter().map(|p| self.maker.make(p)).collect()
    }
}
