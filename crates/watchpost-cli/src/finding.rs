//! What a check finds: a [`Finding`], its [`Level`] and the [`Signal`] it is about.
//!
//! The objects follow OpenTelemetry Weaver's `live-check` findings (`level`, `id`,
//! `signal_type`, `signal_name`, `context`, `message`), so tools that read Weaver's reports can
//! read ours.

use std::fmt;

use serde::Serialize;

use crate::rules::Rule;

/// How serious a finding is (Weaver's levels). Ordered: `Information < Improvement < Violation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Worth knowing; never fails a run by default.
    Information,
    /// Not wrong, but the standard asks for better.
    Improvement,
    /// Breaks the standard; fails the run by default.
    Violation,
}

impl Level {
    /// The level's name as written in reports and `watchpost.toml`.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Information => "information",
            Level::Improvement => "improvement",
            Level::Violation => "violation",
        }
    }

    /// Parses a level name (`violation`, `improvement`, `information`).
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "violation" => Some(Level::Violation),
            "improvement" => Some(Level::Improvement),
            "information" => Some(Level::Information),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of signal a finding is about (Weaver's `signal_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Signal {
    /// A metric family or series (an exposition or a catalogue).
    Metric,
    /// A log line (JSON lines) or an OTLP log record.
    Log,
    /// A span (OTLP).
    Span,
}

impl Signal {
    /// The signal's name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Metric => "metric",
            Signal::Log => "log",
            Signal::Span => "span",
        }
    }
}

/// One finding: a rule broken by one named signal, with what shows it.
///
/// ```
/// use watchpost_cli::finding::Finding;
/// use watchpost_cli::rules;
///
/// let f = Finding::new(&rules::METRIC_NO_HELP, "jobs_total", "no help text")
///     .with("family", "jobs_total");
/// assert_eq!(f.id, "metric.no-help");
/// assert_eq!(f.context["family"], "jobs_total");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The rule's level (before `watchpost.toml` overrides).
    pub level: Level,
    /// The rule's stable id, e.g. `metric.no-help`.
    pub id: &'static str,
    /// The kind of signal.
    pub signal_type: Signal,
    /// The signal's name: a metric family, a log message, a span name.
    pub signal_name: String,
    /// What shows the problem: the offending name, value, line number, trace id…
    pub context: serde_json::Map<String, serde_json::Value>,
    /// One sentence for a human.
    pub message: String,
}

impl Finding {
    /// A finding of `rule` about the signal `signal_name`.
    pub fn new(rule: &Rule, signal_name: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding {
            level: rule.level,
            id: rule.id,
            signal_type: rule.signal,
            signal_name: signal_name.into(),
            context: serde_json::Map::new(),
            message: message.into(),
        }
    }

    /// The same finding about another kind of signal (privacy rules apply to all of them).
    #[must_use]
    pub fn on(mut self, signal: Signal) -> Finding {
        self.signal_type = signal;
        self
    }

    /// Adds one context entry.
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Finding {
        self.context.insert(key.to_owned(), value.into());
        self
    }
}
