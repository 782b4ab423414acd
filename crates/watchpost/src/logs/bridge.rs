//! The OpenTelemetry log bridge's logging side: a line's record is queued on the logging thread
//! as a [`PendingLog`] (the fields the line was encoded with) into a [`LogSink`]; the export
//! module builds the OTel record from it on its own thread.

use std::borrow::Cow;
use std::time::SystemTime;

/// Where bridged log records go (the export queue). The logging thread masks and cuts the
/// message and copies the line's fields; the OTel record is built on the export thread.
pub(crate) trait LogSink: Send + Sync + std::fmt::Debug {
    /// Queues a record; `important` (WARN and ERROR) records may use the queue's reserve.
    fn send(&self, log: PendingLog, important: bool);
}

/// A log record as its JSON line had it (redacted, masked, truncated), waiting for export.
#[derive(Debug)]
pub(crate) struct PendingLog {
    pub(crate) time: SystemTime,
    /// 1 = ERROR … 4 = DEBUG.
    pub(crate) verbosity: u8,
    pub(crate) target: Cow<'static, str>,
    pub(crate) body: String,
    /// An index into the pipeline's subsystem names.
    pub(crate) subsystem: u16,
    pub(crate) ids: Option<([u8; 16], [u8; 8])>,
    /// The line's `,"key":value` fields.
    pub(crate) fields: Vec<u8>,
}

impl PendingLog {
    /// A record of now: `verbosity` 1 = ERROR … 4 = DEBUG, `body` the line's message as written
    /// (masked and cut), `subsystem` an index into the pipeline's subsystem names, `ids` the trace and
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
