//! The log layer's sink (the export queue) and [`LogMaker`]: what turns a queued [`PendingLog`]
//! (the JSON line's fields, already redacted, masked and cut) into an OTLP log record, on the
//! export thread. The worker encodes records straight to protobuf (`encode_logs.rs`) from the
//! maker's scope and subsystem names; [`LogMaker::make`] builds the SDK's `LogRecord` of the
//! same line, the reference the encoder is tested against (and the path it is benchmarked
//! against).

use crate::logs::{LogSink, PendingLog};

use super::Exporter;

/// The log layer's sink: the export queue.
impl LogSink for Exporter {
    fn send(&self, log: PendingLog, important: bool) {
        self.send_log(log, important)
    }
}

/// What describes exported log records: the scope (its version; each record's target names its
/// scope) and the subsystem names (a record's `subsystem` attribute).
#[derive(Debug)]
pub(crate) struct LogMaker {
    pub(crate) logger: opentelemetry_sdk::logs::SdkLogger,
    pub(crate) scope: opentelemetry::InstrumentationScope,
    pub(crate) subsystems: Vec<String>,
}

impl LogMaker {
    /// The SDK's log record of `p`, with its scope: what the OTLP exporter of the SDK would be
    /// given (the reference of `encode_logs.rs`).
    pub(crate) fn make(
        &self,
        p: &PendingLog,
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
        rec.set_target(p.target.clone());
        rec.set_body(AnyValue::from(p.body.clone()));
        if let Some(name) = self.subsystems.get(p.subsystem as usize) {
            rec.add_attribute("subsystem", name.clone());
        }
        for (k, v) in crate::logs::encode::parse_fields(&p.fields) {
            let v = match v {
                crate::logs::encode::FieldValue::Str(s) => AnyValue::from(s),
                crate::logs::encode::FieldValue::Int(i) => AnyValue::from(i),
                crate::logs::encode::FieldValue::Float(f) => AnyValue::from(f),
                crate::logs::encode::FieldValue::Bool(b) => AnyValue::from(b),
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

/// The severity of a record of `verbosity` (1 = ERROR … 4 = DEBUG) and its text.
pub(super) fn severity(verbosity: u8) -> (opentelemetry::logs::Severity, &'static str) {
    use opentelemetry::logs::Severity;
    match verbosity {
        1 => (Severity::Error, "ERROR"),
        2 => (Severity::Warn, "WARN"),
        3 => (Severity::Info, "INFO"),
        _ => (Severity::Debug, "DEBUG"),
    }
}
