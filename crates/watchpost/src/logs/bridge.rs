//! The OpenTelemetry log bridge: a line's record is queued on the logging thread
//! ([`PendingLog`], from the fields the line was encoded with) and built into an OTel log record
//! on the export thread ([`LogMaker`]). Depends only on those encoded fields, not on the layer.

use std::borrow::Cow;
use std::time::SystemTime;

use crate::logs::encode;

/// Where bridged log records go: the export queue. The logging thread masks and cuts the message
/// and copies the line's fields; the OTel record is built on the export thread ([`LogMaker`]).
#[derive(Debug)]
pub(crate) struct LogBridge {
    pub(crate) exporter: crate::export::Exporter,
}

impl LogBridge {
    /// Queues a record for export; WARN and ERROR records may use the export queue's reserve.
    pub(crate) fn send(&self, pending: PendingLog) {
        let reserve = pending.verbosity <= 2;
        self.exporter.send_log(pending, reserve);
    }
}

/// A log record as its JSON line had it (redacted, masked, truncated), waiting for export.
#[derive(Debug)]
pub(crate) struct PendingLog {
    time: SystemTime,
    verbosity: u8,
    target: Cow<'static, str>,
    body: String,
    subsystem: u16,
    ids: Option<([u8; 16], [u8; 8])>,
    /// The line's `,"key":value` fields.
    fields: Vec<u8>,
}

impl PendingLog {
    /// A record of now: `verbosity` 1 = ERROR … 4 = DEBUG, `body` the line's message as written
    /// (masked and cut), `subsystem` an index into [`LogMaker::subsystems`], `ids` the trace and
    /// span ids, `fields` the line's `,"key":value` fields (copied).
    pub(crate) fn new(
        verbosity: u8,
        target: Cow<'static, str>,
        body: String,
        subsystem: u16,
        ids: Option<([u8; 16], [u8; 8])>,
        fields: &[u8],
    ) -> Self {
        PendingLog {
            time: SystemTime::now(),
            verbosity,
            target,
            body,
            subsystem,
            ids,
            fields: fields.to_vec(),
        }
    }
}

/// Builds OTel log records from [`PendingLog`]s, on the export thread.
#[derive(Debug)]
pub(crate) struct LogMaker {
    pub(crate) logger: opentelemetry_sdk::logs::SdkLogger,
    pub(crate) scope: opentelemetry::InstrumentationScope,
    pub(crate) subsystems: Vec<String>,
}

impl LogMaker {
    pub(crate) fn make(
        &self,
        p: PendingLog,
    ) -> (
        opentelemetry_sdk::logs::SdkLogRecord,
        opentelemetry::InstrumentationScope,
    ) {
        use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _};
        let mut rec = self.logger.create_log_record();
        rec.set_timestamp(p.time);
        rec.set_observed_timestamp(p.time);
        let (sev, text) = severity(p.verbosity);
        rec.set_severity_number(sev);
        rec.set_severity_text(text);
        rec.set_target(p.target);
        rec.set_body(AnyValue::from(p.body));
        if let Some(name) = self.subsystems.get(p.subsystem as usize) {
            rec.add_attribute("subsystem", name.clone());
        }
        for (k, v) in encode::parse_fields(&p.fields) {
            let v = match v {
                encode::FieldValue::Str(s) => AnyValue::from(s),
                encode::FieldValue::Int(i) => AnyValue::from(i),
                encode::FieldValue::Float(f) => AnyValue::from(f),
                encode::FieldValue::Bool(b) => AnyValue::from(b),
            };
            rec.add_attribute(k, v);
        }
        if let Some((t, s)) = p.ids {
            rec.set_trace_context(
                opentelemetry::trace::TraceId::from_bytes(t),
                opentelemetry::trace::SpanId::from_bytes(s),
                Some(opentelemetry::trace::TraceFlags::SAMPLED),
            );
        }
        (rec, self.scope.clone())
    }
}

fn severity(verbosity: u8) -> (opentelemetry::logs::Severity, &'static str) {
    use opentelemetry::logs::Severity;
    match verbosity {
        1 => (Severity::Error, "ERROR"),
        2 => (Severity::Warn, "WARN"),
        3 => (Severity::Info, "INFO"),
        _ => (Severity::Debug, "DEBUG"),
    }
}
