//! The readiness thresholds (`READY_EXPORT_FAILURE`, `READY_LOG_LOSS`): when telemetry trouble
//! makes `/readyz` answer 503 (see [`crate::health`]). Both are off by default: the checks are
//! reported in the body, and only an application that opts in lets them take a replica out of
//! its load balancer.

use std::time::Duration;

use super::{Config, ConfigBuilder};

/// When the pipeline's own trouble makes the service unready (`None`: never, the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct ReadinessThresholds {
    /// How long OTLP export may keep failing.
    pub(crate) export_failure: Option<Duration>,
    /// How long the service stays unready after log lines were lost.
    pub(crate) log_loss: Option<Duration>,
}

impl ConfigBuilder {
    /// How long OTLP export may keep failing (every export of a signal since the first failure)
    /// before `/readyz` answers 503 ([`crate::health`]); `None`: failures are reported in the
    /// body but never make the service unready. Default: `None` (off). Environment:
    /// `READY_EXPORT_FAILURE` (`90s`, `5m`, … or `off`).
    ///
    /// Opt in with care: a load balancer stops sending traffic to an unready replica, and when
    /// every replica exports to the same collector, a collector outage makes them all unready at
    /// once. Choose a threshold longer than the metrics push interval
    /// (`OTEL_METRIC_EXPORT_INTERVAL`), the export a quiet service still makes.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = watchpost::Config::builder("svc").ready_export_failure(Some(Duration::from_secs(30))).build().unwrap();
    /// assert_eq!(c.ready_export_failure(), Some(Duration::from_secs(30)));
    /// let c = watchpost::Config::builder("svc").env_vars([("READY_EXPORT_FAILURE", "off")]).build().unwrap();
    /// assert_eq!(c.ready_export_failure(), None);
    /// ```
    pub fn ready_export_failure(mut self, threshold: Option<Duration>) -> Self {
        self.readiness.export_failure = threshold;
        self
    }

    /// How long `/readyz` answers 503 after log lines were lost (a full buffer, a failed write:
    /// `<svc>_log_write_errors_total`); `None`: losses are reported in the body but never make
    /// the service unready. Default: `None` (off). Environment: `READY_LOG_LOSS` (`30s`, `1m`,
    /// … or `off`).
    ///
    /// Opt in with care: a burst of logging under load fills the buffer of the busiest replicas
    /// first, and taking them out moves their load onto the others.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = watchpost::Config::builder("svc").ready_log_loss(Some(Duration::from_secs(30))).build().unwrap();
    /// assert_eq!(c.ready_log_loss(), Some(Duration::from_secs(30)));
    /// let c = watchpost::Config::builder("svc").env_vars([("READY_LOG_LOSS", "1m")]).build().unwrap();
    /// assert_eq!(c.ready_log_loss(), Some(Duration::from_secs(60)));
    /// ```
    pub fn ready_log_loss(mut self, window: Option<Duration>) -> Self {
        self.readiness.log_loss = window;
        self
    }
}

impl Config {
    /// See [`ConfigBuilder::ready_export_failure`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(c.ready_export_failure(), None, "off unless the application opts in");
    /// ```
    pub fn ready_export_failure(&self) -> Option<Duration> {
        self.readiness.export_failure
    }

    /// See [`ConfigBuilder::ready_log_loss`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(c.ready_log_loss(), None, "off unless the application opts in");
    /// ```
    pub fn ready_log_loss(&self) -> Option<Duration> {
        self.readiness.log_loss
    }
}
