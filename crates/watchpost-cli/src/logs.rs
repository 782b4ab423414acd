//! The log-line rules. (Being written: only the facts other checks join on are here yet.)

use std::collections::HashSet;

/// What the log checks learned that other checks join on.
#[derive(Debug, Default, Clone)]
pub struct LogFacts {
    /// Trace ids of ERROR lines and of access lines that answered 5xx.
    pub error_trace_ids: HashSet<String>,
    /// Trace ids of WARN and ERROR lines.
    pub warn_trace_ids: HashSet<String>,
    /// Whether any log line was read.
    pub read: bool,
}
