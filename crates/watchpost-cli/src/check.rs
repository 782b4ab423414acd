//! `watchpost check`: all three planes over a window of time. (Stub: being written.)

use std::time::Duration;

use crate::config::Config;
use crate::report::Report;

/// What `watchpost check` reads.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The metrics URL, scraped at the start and the end.
    pub metrics: Option<String>,
    /// A log file (followed) or `-`.
    pub logs: Option<String>,
    /// OTLP/gRPC listen address.
    pub otlp: Option<String>,
    /// OTLP/HTTP listen address.
    pub otlp_http: Option<String>,
    /// The window; `None`: until the logs on stdin end, or Ctrl-C.
    pub duration: Option<Duration>,
    /// Time for late exports after the window.
    pub grace: Duration,
    /// The catalogue (file or URL).
    pub catalogue: Option<String>,
    /// Lint third-party metrics too.
    pub include_third_party: bool,
    /// Print `watchpost: ready` on stderr once listening.
    pub ready_line: bool,
}

/// Runs a check.
pub async fn run(_options: CheckOptions, config: Config) -> crate::Result<Report> {
    Ok(Report::new(config))
}
