//! Configuration: a [`ConfigBuilder`] that the application fills in code, optionally overridden by
//! environment variables, frozen into a [`Config`] by [`ConfigBuilder::build`].
//!
//! Precedence: built-in defaults < builder calls < environment (when [`ConfigBuilder::from_env`] or
//! [`ConfigBuilder::env_vars`] was called). Every option documents its default below and in
//! [`ENV_VARS`], the table the README is tested against.
//!
//! The main files: this one (the frozen [`Config`] and the public types), `builder.rs`
//! ([`ConfigBuilder`], its setters and `build`), `env.rs` (the typed table of environment
//! variables, whose entries parse and store their own value; Watchpost's own variables),
//! `otel_env.rs` (the OpenTelemetry specification's variables), `otlp.rs` (where and how each
//! signal is exported, [`OtlpTarget`]), `endpoint.rs` (the check every OTLP endpoint passes, and
//! how errors show one) and `otel_spec.rs` (what Watchpost does with each of the
//! specification's variables, [`OTEL_SPEC_VARS`]). `builder_debug.rs` is [`ConfigBuilder`]'s
//! `Debug`, which shows no credential.

use std::net::SocketAddr;

use tracing::Level;

use crate::error::Error;

mod builder;
mod builder_debug;
mod endpoint;
pub(crate) mod env;
mod log_output;
mod otel_env;
mod otel_spec;
mod otlp;
mod readiness;
mod resource_logs;

pub use builder::ConfigBuilder;
pub(crate) use endpoint::{is_https, shown_endpoint};
pub use env::{parse_level, ENV_VARS};
pub use log_output::{LogFileConfig, LogOutput};
pub use otel_spec::{otel_spec_markdown, OtelSupport, OtelVar, OTEL_SPEC_VARS};
pub use otlp::{OtlpCompression, OtlpProtocol, OtlpSignal, OtlpTarget};
pub(crate) use readiness::ReadinessThresholds;
pub use resource_logs::{valid_id, ResourceLogConfig};

/// Crates whose INFO/DEBUG output is noise in a service log: they default to WARN.
pub const NOISY_TARGETS: &[&str] = &["hyper", "hyper_util", "h2", "tonic", "tower", "rustls"];

/// A named part of the application (`API`, `INSTANCES`, …) with its own log level.
///
/// Events belong to a subsystem by their `tracing` target (module path) prefix, or, when no prefix
/// matches, by the `subsystem` field of the innermost enclosing span that has one.
///
/// ```
/// use watchpost::Subsystem;
/// let api = Subsystem::new("API").target("procman::api").target("tower_http");
/// assert_eq!(api.name(), "API");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subsystem {
    name: String,
    targets: Vec<String>,
}

impl Subsystem {
    /// A subsystem named `name` (upper case letters, digits and `_`, starting with a letter; it is
    /// validated by [`ConfigBuilder::build`]). It has no targets until [`Subsystem::target`] adds
    /// some.
    ///
    /// ```
    /// let s = watchpost::Subsystem::new("EXEC");
    /// assert_eq!(s.name(), "EXEC");
    /// ```
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            targets: Vec::new(),
        }
    }

    /// Maps events whose target is `prefix` or starts with `prefix::` to this subsystem. The
    /// longest matching prefix over all subsystems wins.
    ///
    /// ```
    /// let s = watchpost::Subsystem::new("EXEC").target("procman::exec");
    /// assert_eq!(s.targets(), ["procman::exec"]);
    /// ```
    pub fn target(mut self, prefix: impl Into<String>) -> Self {
        self.targets.push(prefix.into());
        self
    }

    /// The subsystem's name.
    ///
    /// ```
    /// assert_eq!(watchpost::Subsystem::new("API").name(), "API");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The target prefixes mapped to this subsystem.
    ///
    /// ```
    /// assert!(watchpost::Subsystem::new("API").targets().is_empty());
    /// ```
    pub fn targets(&self) -> &[String] {
        &self.targets
    }
}

/// Redaction of secrets and personal data in log lines. On by default.
///
/// ```
/// let r = watchpost::Redaction::default();
/// assert!(r.enabled && r.mask_emails && r.mask_card_numbers);
/// assert!(r.field_names.iter().any(|n| n == "password"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Redaction {
    /// Master switch. Default: `true`.
    pub enabled: bool,
    /// Field names (matched case-insensitively as whole words of the field name, so `db_password`
    /// and `X-Api-Key` match) whose values are replaced by `"[REDACTED]"`. Default: `password`,
    /// `passwd`, `secret`, `token`, `api_key`, `apikey`, `authorization`, `cookie`, `session`,
    /// `private_key`, `credential`, `credentials`.
    pub field_names: Vec<String>,
    /// Mask e-mail addresses inside string values and messages. Default: `true`.
    pub mask_emails: bool,
    /// Mask Luhn-valid 13–19 digit card numbers inside string values and messages. Default: `true`.
    pub mask_card_numbers: bool,
}

impl Default for Redaction {
    fn default() -> Self {
        Self {
            enabled: true,
            field_names: [
                "password",
                "passwd",
                "secret",
                "token",
                "api_key",
                "apikey",
                "authorization",
                "cookie",
                "session",
                "private_key",
                "credential",
                "credentials",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            mask_emails: true,
            mask_card_numbers: true,
        }
    }
}

/// Whether `name` may be a request context field (see [`crate::context::set`]): 1 to 64
/// characters from `A-Z a-z 0-9 _ -`. No dots: a dotted span field is a trace attribute that log
/// lines leave out, and a context field must reach both.
///
/// ```
/// assert!(watchpost::config::valid_context_name("user_id"));
/// assert!(!watchpost::config::valid_context_name("user id"));
/// assert!(!watchpost::config::valid_context_name("user.id"));
/// assert!(!watchpost::config::valid_context_name(""));
/// ```
pub fn valid_context_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-'))
}

/// The frozen configuration that [`crate::init`] consumes. Build it with [`Config::builder`].
///
/// ```
/// use tracing::Level;
/// use watchpost::{Config, Subsystem};
///
/// let config = Config::builder("procman")
///     .subsystem(Subsystem::new("API").target("procman::api"))
///     .env_vars([("LOG_LEVEL", "warn"), ("LOG_LEVEL_API", "debug")])
///     .build()
///     .unwrap();
/// assert_eq!(config.level_of("API"), Some(Level::DEBUG));
/// assert_eq!(config.level_of("APP"), Some(Level::WARN));
/// assert_eq!(config.metrics_listen().to_string(), "127.0.0.1:9464");
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) service_name: String,
    pub(crate) service_version: String,
    pub(crate) service_instance_id: String,
    pub(crate) environment: String,
    pub(crate) otel_enabled: bool,
    /// The base endpoint in effect (configured, or the general protocol's default).
    pub(crate) otel_endpoint: String,
    pub(crate) otel_insecure: bool,
    /// Where and how each signal is exported, by [`OtlpSignal::index`].
    pub(crate) otlp: [OtlpTarget; 3],
    /// Resource attributes besides service name, version, instance id and environment.
    pub(crate) resource_attributes: Vec<(String, String)>,
    pub(crate) metrics_listen: SocketAddr,
    /// Declared subsystems; index 0.. ; the default subsystem is among them.
    pub(crate) subsystems: Vec<Subsystem>,
    /// Level per subsystem, same index as `subsystems`.
    pub(crate) subsystem_levels: Vec<Level>,
    pub(crate) default_subsystem: usize,
    pub(crate) target_levels: Vec<(String, Level)>,
    pub(crate) span_level: Level,
    pub(crate) max_field_bytes: usize,
    /// Whether every log line carries `service`, `version` and `environment`.
    pub(crate) log_standard_fields: bool,
    pub(crate) baggage_fields: Vec<String>,
    pub(crate) redaction: Redaction,
    /// `LOG_LEVEL_<X>` variables naming no declared subsystem; reported once at start.
    pub(crate) unknown_level_vars: Vec<String>,
    /// Values of the environment ignored in whole or in part; reported once at start.
    pub(crate) warnings: Vec<String>,
    pub(crate) default_metric_series_budget: usize,
    pub(crate) metric_series_budgets: Vec<(String, usize)>,
    pub(crate) resource_logs: Option<ResourceLogConfig>,
    pub(crate) log_output: LogOutput,
    pub(crate) trace_ratio: f64,
    pub(crate) trace_slow: std::time::Duration,
    pub(crate) export_timeout: std::time::Duration,
    pub(crate) metric_export_interval: std::time::Duration,
    pub(crate) export_traces: bool,
    pub(crate) export_logs: bool,
    pub(crate) export_metrics: bool,
    pub(crate) export_priority: ExportPriority,
    pub(crate) span_batching: Batching,
    pub(crate) log_batching: Batching,
    /// When telemetry trouble makes `/readyz` answer 503 (`readiness.rs`).
    pub(crate) readiness: ReadinessThresholds,
}

/// How the export thread shares the CPU with the service (Linux; elsewhere all are `Normal`).
///
/// Measured on procman at saturation on 2 cores, wrk and the collector on the same cores
/// (`BENCHMARKS.md`, session 11): the three levels cost the service the same throughput (0.50–0.53×
/// `off` with OTLP on); with `Idle` the export thread gets no CPU while the machine is saturated
/// and 2.5–12% of the log records were dropped (counted), with `Low` and 8 192-item queues none.
/// Below saturation there is idle CPU and every level exports everything.
///
/// ```
/// use watchpost::config::ExportPriority;
/// assert_eq!(ExportPriority::default(), ExportPriority::Low);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportPriority {
    /// `SCHED_IDLE`: the thread runs only when the service's threads leave a core idle and gives
    /// way at once when one wakes. On a saturated machine it starves: the queues fill and
    /// spans and records are dropped, counted in `<svc>_telemetry_dropped_total`.
    Idle,
    /// `nice` 10 (the default): a small, steady share of the CPU (about a tenth of a nice-0
    /// thread's weight) when the cores are busy, so the queues drain at saturation.
    #[default]
    Low,
    /// The service's own priority: the export competes equally with requests.
    Normal,
}

/// How one signal's export queue is bounded and drained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Batching {
    pub(crate) queue_size: usize,
    pub(crate) batch_size: usize,
    pub(crate) delay: std::time::Duration,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            queue_size: 8192,
            batch_size: 512,
            delay: std::time::Duration::from_millis(500),
        }
    }
}

impl Batching {
    const MAX_QUEUE: usize = 1_000_000;

    fn check(self, what: &str, queue_var: &str, batch_var: &str) -> Result<Self, Error> {
        if !(1..=Self::MAX_QUEUE).contains(&self.queue_size) {
            return Err(Error::invalid(
                format!("{what} queue size ({queue_var})"),
                self.queue_size.to_string(),
                "1 to 1000000",
            ));
        }
        if !(1..=self.queue_size).contains(&self.batch_size) {
            return Err(Error::invalid(
                format!("{what} batch size ({batch_var})"),
                self.batch_size.to_string(),
                format!("1 to the queue size, {}", self.queue_size),
            ));
        }
        if self.delay.is_zero() || self.delay > std::time::Duration::from_secs(3600) {
            return Err(Error::invalid(
                format!("{what} schedule delay"),
                format!("{} ms", self.delay.as_millis()),
                "1 ms to 1 hour",
            ));
        }
        Ok(self)
    }
}

impl Config {
    /// Starts a configuration for the service called `service_name` (also the metric prefix and
    /// the default of `OTEL_SERVICE_NAME`).
    ///
    /// ```
    /// let config = watchpost::Config::builder("procman").build().unwrap();
    /// assert_eq!(config.service_name(), "procman");
    /// ```
    pub fn builder(service_name: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder::new(service_name.into())
    }

    /// `service.name`. Default: the name given to [`Config::builder`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_SERVICE_NAME", "other")]).build().unwrap();
    /// assert_eq!(c.service_name(), "other");
    /// ```
    pub fn service_name(&self) -> &str {
        &self.service_name
    }

    /// `service.version`. Default: `unknown`; set it with [`ConfigBuilder::service_version`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").service_version("1.2.3").build().unwrap();
    /// assert_eq!(c.service_version(), "1.2.3");
    /// ```
    pub fn service_version(&self) -> &str {
        &self.service_version
    }

    /// `service.instance.id`. Default: the hostname.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_SERVICE_INSTANCE_ID", "i-1")]).build().unwrap();
    /// assert_eq!(c.service_instance_id(), "i-1");
    /// ```
    pub fn service_instance_id(&self) -> &str {
        &self.service_instance_id
    }

    /// `deployment.environment.name`. Default: `unset`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(c.environment(), "unset");
    /// ```
    pub fn environment(&self) -> &str {
        &self.environment
    }

    /// Whether every log line carries the standard fields `service`, `version` and
    /// `environment` (the values above). Default: `true`; see
    /// [`ConfigBuilder::log_standard_fields`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert!(c.log_standard_fields());
    /// let off = watchpost::Config::builder("svc").env_vars([("LOG_STANDARD_FIELDS", "false")]).build().unwrap();
    /// assert!(!off.log_standard_fields());
    /// ```
    pub fn log_standard_fields(&self) -> bool {
        self.log_standard_fields
    }

    /// The W3C baggage keys copied into request context (see
    /// [`ConfigBuilder::baggage_fields`]). Default: none.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_BAGGAGE_FIELDS", "user_id, tenant_id")]).build().unwrap();
    /// assert_eq!(c.baggage_fields(), ["user_id", "tenant_id"]);
    /// ```
    pub fn baggage_fields(&self) -> &[String] {
        &self.baggage_fields
    }

    /// Whether OTLP export is on. Default: `false`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_ENABLED", "true")]).build().unwrap();
    /// assert!(c.otel_enabled());
    /// ```
    pub fn otel_enabled(&self) -> bool {
        self.otel_enabled
    }

    /// The base OTLP endpoint as configured (`OTEL_ENDPOINT`, `OTEL_EXPORTER_OTLP_ENDPOINT`,
    /// [`ConfigBuilder::otel_endpoint`]), else the default of the protocol:
    /// `http://localhost:4318` (OTLP/HTTP), `http://localhost:4317` (gRPC). Where each signal
    /// really goes is [`Config::otlp`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(c.otel_endpoint(), "http://localhost:4318");
    /// ```
    pub fn otel_endpoint(&self) -> &str {
        &self.otel_endpoint
    }

    /// Where and how `signal` is exported over OTLP: protocol, URL, headers, compression,
    /// timeout, CA file, as the builder and the OpenTelemetry environment variables decided.
    ///
    /// ```
    /// use watchpost::config::{OtlpProtocol, OtlpSignal};
    /// let c = watchpost::Config::builder("svc")
    ///     .env_vars([("OTEL_EXPORTER_OTLP_ENDPOINT", "https://otlp.example")])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(c.otlp(OtlpSignal::Metrics).protocol(), OtlpProtocol::HttpProtobuf);
    /// assert_eq!(c.otlp(OtlpSignal::Metrics).url(), "https://otlp.example/v1/metrics");
    /// ```
    pub fn otlp(&self, signal: OtlpSignal) -> &OtlpTarget {
        &self.otlp[signal.index()]
    }

    /// The resource attributes of every exported item besides `service.name`,
    /// `service.version`, `service.instance.id` and `deployment.environment.name` (those are
    /// [`service_name`](Self::service_name) and its neighbours). Default: none; see
    /// [`ConfigBuilder::resource_attribute`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc")
    ///     .env_vars([("OTEL_RESOURCE_ATTRIBUTES", "team=payments")])
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(c.resource_attributes(), [("team".to_string(), "payments".to_string())]);
    /// ```
    pub fn resource_attributes(&self) -> &[(String, String)] {
        &self.resource_attributes
    }

    /// The share of ordinary traces the tail sampler keeps (error and slow traces are always
    /// kept). Default: 0.1; see [`ConfigBuilder::trace_sampler_ratio`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_TRACES_SAMPLER", "always_on")]).build().unwrap();
    /// assert_eq!(c.trace_sampler_ratio(), 1.0);
    /// ```
    pub fn trace_sampler_ratio(&self) -> f64 {
        self.trace_ratio
    }

    /// Whether the base endpoint ([`otel_endpoint`](Self::otel_endpoint)) is reached without
    /// TLS: its scheme when it has one (`http://` plaintext, `https://` TLS), else what
    /// `OTEL_INSECURE`, `OTEL_EXPORTER_OTLP_INSECURE` or [`ConfigBuilder::otel_insecure`] say, with
    /// the same defaults as [`Config::otlp`] (plaintext for `OTEL_ENDPOINT`'s, TLS for the standard
    /// variables'). A signal with an endpoint or an insecure setting of its own may differ: its
    /// [`OtlpTarget::url`] is the truth. Default: `true` (`http://localhost:4318`).
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_INSECURE", "false")]).build().unwrap();
    /// assert!(c.otel_insecure(), "the default endpoint is http://localhost:4318");
    /// let tls = watchpost::Config::builder("svc")
    ///     .env_vars([("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")])
    ///     .build()
    ///     .unwrap();
    /// assert!(!tls.otel_insecure());
    /// assert!(tls.otlp(watchpost::config::OtlpSignal::Traces).url().starts_with("https://"));
    /// ```
    pub fn otel_insecure(&self) -> bool {
        self.otel_insecure
    }

    /// What the environment asked for that Watchpost ignores, in whole or in part (an exporter,
    /// propagator, sampler, protocol or compression it does not know or cannot honour, as the
    /// OpenTelemetry specification says: warn and ignore), one sentence each, naming the
    /// variable. [`crate::init`] logs each once at WARN when the pipeline starts.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc")
    ///     .env_vars([("OTEL_PROPAGATORS", "tracecontext,baggage,b3")])
    ///     .build()
    ///     .unwrap();
    /// assert!(c.warnings()[0].starts_with("OTEL_PROPAGATORS=tracecontext,baggage,b3: b3 not supported"));
    /// ```
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Address of the metrics and admin listener. Default: `127.0.0.1:9464` (loopback only).
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("METRICS_LISTEN", "0.0.0.0:9000")]).build().unwrap();
    /// assert_eq!(c.metrics_listen().port(), 9000);
    /// ```
    pub fn metrics_listen(&self) -> SocketAddr {
        self.metrics_listen
    }

    /// The level of a declared subsystem (case-insensitive), `None` if it is not declared.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(c.level_of("app"), Some(tracing::Level::INFO));
    /// assert_eq!(c.level_of("NOPE"), None);
    /// ```
    pub fn level_of(&self, subsystem: &str) -> Option<Level> {
        self.subsystem_index(subsystem)
            .map(|i| self.subsystem_levels[i])
    }

    /// The declared subsystems, the default subsystem included.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(c.subsystems().len(), 1); // just the default, `APP`
    /// ```
    pub fn subsystems(&self) -> &[Subsystem] {
        &self.subsystems
    }

    /// The subsystem of events that no target prefix and no span maps. Default: `APP`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").default_subsystem("MAIN").build().unwrap();
    /// assert_eq!(c.default_subsystem(), "MAIN");
    /// ```
    pub fn default_subsystem(&self) -> &str {
        &self.subsystems[self.default_subsystem].name
    }

    /// Where the main log goes. Default: [`LogOutput::Stdout`]; see
    /// [`ConfigBuilder::log_output`].
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(*c.log_output(), watchpost::config::LogOutput::Stdout);
    /// ```
    pub fn log_output(&self) -> &LogOutput {
        &self.log_output
    }

    pub(crate) fn subsystem_index(&self, name: &str) -> Option<usize> {
        position(&self.subsystems, name)
    }
}

/// The index of the subsystem called `name` (case-insensitive) among `subsystems`.
fn position(subsystems: &[Subsystem], name: &str) -> Option<usize> {
    subsystems
        .iter()
        .position(|s| s.name.eq_ignore_ascii_case(name))
}

/// Checks a service name given by `input` (the builder or the environment).
fn validate_service_name(input: &str, name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok {
        return Err(Error::invalid(
            input,
            name,
            "1-64 ASCII letters, digits, `_` or `-`, starting with a letter (it prefixes metric names)",
        ));
    }
    Ok(())
}
