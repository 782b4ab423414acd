//! Configuration: a [`ConfigBuilder`] that the application fills in code, optionally overridden by
//! environment variables, frozen into a [`Config`] by [`ConfigBuilder::build`].
//!
//! Precedence: built-in defaults < builder calls < environment (when [`ConfigBuilder::from_env`] or
//! [`ConfigBuilder::env_vars`] was called). Every option documents its default below and in
//! [`ENV_VARS`], the table the README is tested against.

use std::net::SocketAddr;

use tracing::Level;

use crate::error::{Error, ErrorKind};

/// The environment variables Watchpost reads, with their defaults, as `(name, default, meaning)`.
///
/// This table is the source of truth for the README's configuration table; a test fails if the two
/// differ.
///
/// ```
/// let (name, default, _) = watchpost::config::ENV_VARS[0];
/// assert_eq!((name, default), ("ENV", "unset"));
/// ```
pub const ENV_VARS: &[(&str, &str, &str)] = &[
    (
        "ENV",
        "unset",
        "Deployment environment (`deployment.environment.name` resource attribute)",
    ),
    (
        "OTEL_ENABLED",
        "false",
        "Enable OTLP export (`true`/`false`)",
    ),
    ("OTEL_ENDPOINT", "127.0.0.1:4317", "OTLP gRPC endpoint"),
    (
        "OTEL_SERVICE_NAME",
        "the name given by the application",
        "`service.name` resource attribute and metric prefix",
    ),
    (
        "OTEL_SERVICE_INSTANCE_ID",
        "the hostname",
        "`service.instance.id` resource attribute",
    ),
    ("OTEL_INSECURE", "true", "Disable TLS for OTLP"),
    (
        "LOG_LEVEL",
        "info",
        "Level of every subsystem without its own variable: `debug`, `info`, `warn`, `error`",
    ),
    (
        "LOG_LEVEL_<SUBSYSTEM>",
        "`LOG_LEVEL`",
        "Level of one declared subsystem, e.g. `LOG_LEVEL_INSTANCES=debug`",
    ),
    (
        "METRICS_LISTEN",
        "127.0.0.1:9464",
        "Address of the metrics and admin listener",
    ),
    (
        "OTEL_TRACES_SAMPLER_RATIO",
        "0.1",
        "Share of ordinary traces kept (errors and slow traces are always kept): 0 to 1",
    ),
    (
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "unset",
        "Standard OTLP endpoint, used when `OTEL_ENDPOINT` is not set",
    ),
    (
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "10000",
        "Timeout of one OTLP export, in milliseconds",
    ),
    (
        "OTEL_EXPORTER_OTLP_CERTIFICATE",
        "unset",
        "CA certificate file (PEM) to verify the collector, with `OTEL_INSECURE=false`",
    ),
    (
        "OTEL_METRIC_EXPORT_INTERVAL",
        "60000",
        "Interval of the OTLP metrics push, in milliseconds",
    ),
    (
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "4096",
        "Spans waiting for export at most (ordinary ones fill 3/4, the rest is kept for error and slow traces); more are dropped and counted",
    ),
    (
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
        "64",
        "Spans per OTLP request (small batches keep export bursts short): 1 to the queue size",
    ),
    (
        "OTEL_BSP_SCHEDULE_DELAY",
        "500",
        "Milliseconds before a partial batch of spans is sent",
    ),
    (
        "OTEL_BLRP_MAX_QUEUE_SIZE",
        "4096",
        "Log records waiting for export at most (INFO and DEBUG fill 3/4, the rest is kept for WARN and ERROR); more are dropped and counted",
    ),
    (
        "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
        "64",
        "Log records per OTLP request: 1 to the queue size",
    ),
    (
        "OTEL_BLRP_SCHEDULE_DELAY",
        "500",
        "Milliseconds before a partial batch of log records is sent",
    ),
    (
        "EXPORT_PRIORITY",
        "idle",
        "CPU priority of the export thread: `idle` (never slows the service; at saturation spans are dropped and counted), `low` (nice 10) or `normal`",
    ),
    (
        "OTEL_LOGS_EXPORTER",
        "otlp",
        "`otlp` or `none`: whether logs are exported when `OTEL_ENABLED=true`",
    ),
    (
        "OTEL_METRICS_EXPORTER",
        "otlp",
        "`otlp` or `none`: whether metrics are pushed when `OTEL_ENABLED=true` (`/metrics` is always served)",
    ),
];

const LEVELS_ALLOWED: &str = "one of debug, info, warn, error";
const BOOL_ALLOWED: &str = "one of true, false, 1, 0";

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
    pub(crate) otel_endpoint: String,
    pub(crate) otel_insecure: bool,
    pub(crate) metrics_listen: SocketAddr,
    /// Declared subsystems; index 0.. ; the default subsystem is among them.
    pub(crate) subsystems: Vec<Subsystem>,
    /// Level per subsystem, same index as `subsystems`.
    pub(crate) subsystem_levels: Vec<Level>,
    pub(crate) default_subsystem: usize,
    pub(crate) target_levels: Vec<(String, Level)>,
    pub(crate) span_level: Level,
    pub(crate) max_field_bytes: usize,
    pub(crate) redaction: Redaction,
    /// `LOG_LEVEL_<X>` variables naming no declared subsystem; reported once at start.
    pub(crate) unknown_level_vars: Vec<String>,
    pub(crate) default_metric_series_budget: usize,
    pub(crate) metric_series_budgets: Vec<(String, usize)>,
    pub(crate) resource_logs: Option<crate::logs::ResourceLogConfig>,
    pub(crate) trace_ratio: f64,
    pub(crate) trace_slow: std::time::Duration,
    pub(crate) export_timeout: std::time::Duration,
    pub(crate) otel_ca_file: Option<std::path::PathBuf>,
    pub(crate) metric_export_interval: std::time::Duration,
    pub(crate) export_logs: bool,
    pub(crate) export_metrics: bool,
    pub(crate) export_priority: ExportPriority,
    pub(crate) span_batching: Batching,
    pub(crate) log_batching: Batching,
}

/// How the export thread shares the CPU with the service (Linux; elsewhere all are `Normal`).
///
/// Measured on procman at saturation on 2 cores (`BENCHMARKS.md`): `Idle` keeps the service's
/// throughput and most of its tail latency and sheds most spans; `Normal` exports nearly all
/// of them and costs 10–15% of throughput and 2.4–3.4× the p99. Below saturation there is idle CPU
/// and every level exports everything.
///
/// ```
/// use watchpost::config::ExportPriority;
/// assert_eq!(ExportPriority::default(), ExportPriority::Idle);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExportPriority {
    /// `SCHED_IDLE`: the thread runs when the service's threads leave a core idle and gives
    /// way at once when one wakes. Telemetry never slows the service; on a saturated machine
    /// the queue fills and spans are dropped, counted in `<svc>_telemetry_dropped_total`.
    #[default]
    Idle,
    /// `nice` 10: a small, steady share of the CPU at saturation (some spans still dropped),
    /// at some cost in tail latency.
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
            queue_size: 4096,
            batch_size: 64,
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

    /// Whether OTLP export is on. Default: `false`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_ENABLED", "true")]).build().unwrap();
    /// assert!(c.otel_enabled());
    /// ```
    pub fn otel_enabled(&self) -> bool {
        self.otel_enabled
    }

    /// The OTLP gRPC endpoint. Default: `127.0.0.1:4317`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert_eq!(c.otel_endpoint(), "127.0.0.1:4317");
    /// ```
    pub fn otel_endpoint(&self) -> &str {
        &self.otel_endpoint
    }

    /// Whether TLS is disabled for OTLP. Default: `true`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("OTEL_INSECURE", "false")]).build().unwrap();
    /// assert!(!c.otel_insecure());
    /// ```
    pub fn otel_insecure(&self) -> bool {
        self.otel_insecure
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

    pub(crate) fn subsystem_index(&self, name: &str) -> Option<usize> {
        self.subsystems
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
    }
}

/// Builds a [`Config`]. Every setter documents its default.
///
/// ```
/// use tracing::Level;
/// use watchpost::{Config, Subsystem};
///
/// let config = Config::builder("procman")
///     .service_version("0.1.0")
///     .subsystem(Subsystem::new("API").target("procman::api"))
///     .subsystem(Subsystem::new("INSTANCES").target("procman::instances"))
///     .log_level(Level::INFO)
///     .from_env() // the environment overrides what the code set
///     .build()
///     .expect("valid telemetry configuration");
/// assert_eq!(config.subsystems().len(), 3); // API, INSTANCES and the default APP
/// ```
#[derive(Debug, Clone)]
#[must_use = "a ConfigBuilder does nothing until build() is called"]
pub struct ConfigBuilder {
    service_name: String,
    service_version: String,
    service_instance_id: Option<String>,
    environment: String,
    otel_enabled: bool,
    otel_endpoint: String,
    otel_insecure: bool,
    metrics_listen: SocketAddr,
    log_level: Level,
    subsystem_levels: Vec<(String, Level)>,
    subsystems: Vec<Subsystem>,
    default_subsystem: String,
    target_levels: Vec<(String, Level)>,
    span_level: Level,
    max_field_bytes: usize,
    redaction: Redaction,
    default_metric_series_budget: usize,
    metric_series_budgets: Vec<(String, usize)>,
    resource_logs: Option<crate::logs::ResourceLogConfig>,
    trace_ratio: f64,
    trace_slow: std::time::Duration,
    export_timeout: std::time::Duration,
    otel_ca_file: Option<std::path::PathBuf>,
    metric_export_interval: std::time::Duration,
    export_logs: bool,
    export_metrics: bool,
    export_priority: ExportPriority,
    span_batching: Batching,
    log_batching: Batching,
    env: Option<Vec<(String, String)>>,
    env_error: Option<Error>,
}

impl ConfigBuilder {
    fn new(service_name: String) -> Self {
        Self {
            service_name,
            service_version: "unknown".into(),
            service_instance_id: None,
            environment: "unset".into(),
            otel_enabled: false,
            otel_endpoint: "127.0.0.1:4317".into(),
            otel_insecure: true,
            metrics_listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            log_level: Level::INFO,
            subsystem_levels: Vec::new(),
            subsystems: Vec::new(),
            default_subsystem: "APP".into(),
            target_levels: NOISY_TARGETS
                .iter()
                .map(|t| (t.to_string(), Level::WARN))
                .collect(),
            span_level: Level::INFO,
            max_field_bytes: 16 * 1024,
            redaction: Redaction::default(),
            default_metric_series_budget: 2000,
            metric_series_budgets: Vec::new(),
            resource_logs: None,
            trace_ratio: 0.1,
            trace_slow: std::time::Duration::from_secs(1),
            export_timeout: std::time::Duration::from_secs(10),
            otel_ca_file: None,
            metric_export_interval: std::time::Duration::from_secs(60),
            export_logs: true,
            export_metrics: true,
            export_priority: ExportPriority::Idle,
            span_batching: Batching::default(),
            log_batching: Batching::default(),
            env: None,
            env_error: None,
        }
    }

    /// `service.version`, reported in the `<svc>_info` metric and the resource. Default: `unknown`.
    /// Pass `env!("CARGO_PKG_VERSION")`.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").service_version(env!("CARGO_PKG_VERSION"));
    /// # b.build().unwrap();
    /// ```
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = version.into();
        self
    }

    /// `service.instance.id`. Default: the hostname. Env: `OTEL_SERVICE_INSTANCE_ID`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").service_instance_id("pod-7").build().unwrap();
    /// assert_eq!(c.service_instance_id(), "pod-7");
    /// ```
    pub fn service_instance_id(mut self, id: impl Into<String>) -> Self {
        self.service_instance_id = Some(id.into());
        self
    }

    /// `deployment.environment.name`. Default: `unset`. Env: `ENV`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").environment("staging").build().unwrap();
    /// assert_eq!(c.environment(), "staging");
    /// ```
    pub fn environment(mut self, env: impl Into<String>) -> Self {
        self.environment = env.into();
        self
    }

    /// Turns OTLP export on or off. Default: `false`. Env: `OTEL_ENABLED`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_enabled(true).build().unwrap();
    /// assert!(c.otel_enabled());
    /// ```
    pub fn otel_enabled(mut self, enabled: bool) -> Self {
        self.otel_enabled = enabled;
        self
    }

    /// The OTLP gRPC endpoint, `host:port` or a URL. Default: `127.0.0.1:4317`. Env:
    /// `OTEL_ENDPOINT`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_endpoint("collector:4317").build().unwrap();
    /// assert_eq!(c.otel_endpoint(), "collector:4317");
    /// ```
    pub fn otel_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otel_endpoint = endpoint.into();
        self
    }

    /// Disables TLS for OTLP. Default: `true`. Env: `OTEL_INSECURE`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_insecure(false).build().unwrap();
    /// assert!(!c.otel_insecure());
    /// ```
    pub fn otel_insecure(mut self, insecure: bool) -> Self {
        self.otel_insecure = insecure;
        self
    }

    /// Address of the metrics and admin listener. Default: `127.0.0.1:9464`. Env:
    /// `METRICS_LISTEN`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").metrics_listen(([127, 0, 0, 1], 0).into()).build().unwrap();
    /// assert_eq!(c.metrics_listen().port(), 0);
    /// ```
    pub fn metrics_listen(mut self, addr: SocketAddr) -> Self {
        self.metrics_listen = addr;
        self
    }

    /// The level of every subsystem that has no level of its own. Default: `INFO`. Env:
    /// `LOG_LEVEL`. `TRACE` is refused by [`ConfigBuilder::build`]: the standard forbids it.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").log_level(tracing::Level::WARN).build().unwrap();
    /// assert_eq!(c.level_of("APP"), Some(tracing::Level::WARN));
    /// ```
    pub fn log_level(mut self, level: Level) -> Self {
        self.log_level = level;
        self
    }

    /// Declares a subsystem. Declaring the same name twice merges the targets.
    ///
    /// ```
    /// use watchpost::Subsystem;
    /// let c = watchpost::Config::builder("svc")
    ///     .subsystem(Subsystem::new("API").target("svc::api"))
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(c.subsystems()[0].name(), "API");
    /// ```
    pub fn subsystem(mut self, subsystem: Subsystem) -> Self {
        match self
            .subsystems
            .iter_mut()
            .find(|s| s.name.eq_ignore_ascii_case(&subsystem.name))
        {
            Some(existing) => existing.targets.extend(subsystem.targets),
            None => self.subsystems.push(subsystem),
        }
        self
    }

    /// Sets one subsystem's level in code (the environment's `LOG_LEVEL_<NAME>` still wins).
    /// Default: the [`ConfigBuilder::log_level`].
    ///
    /// ```
    /// use tracing::Level;
    /// let c = watchpost::Config::builder("svc")
    ///     .subsystem(watchpost::Subsystem::new("DB"))
    ///     .subsystem_level("DB", Level::ERROR)
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(c.level_of("DB"), Some(Level::ERROR));
    /// ```
    pub fn subsystem_level(mut self, name: impl Into<String>, level: Level) -> Self {
        self.subsystem_levels.push((name.into(), level));
        self
    }

    /// The subsystem of events that no target prefix and no span `subsystem` field maps (other
    /// crates, mostly). Declared automatically if needed. Default: `APP`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").default_subsystem("OTHER").build().unwrap();
    /// assert_eq!(c.default_subsystem(), "OTHER");
    /// ```
    pub fn default_subsystem(mut self, name: impl Into<String>) -> Self {
        self.default_subsystem = name.into();
        self
    }

    /// Sets the level of every event whose target is `prefix` or starts with `prefix::`, whatever
    /// its subsystem. Default: [`NOISY_TARGETS`] at `WARN`; a later call for the same prefix
    /// replaces it.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").target_level("hyper", tracing::Level::ERROR);
    /// # b.build().unwrap();
    /// ```
    pub fn target_level(mut self, prefix: impl Into<String>, level: Level) -> Self {
        let prefix = prefix.into();
        self.target_levels.retain(|(p, _)| *p != prefix);
        self.target_levels.push((prefix, level));
        self
    }

    /// The most verbose level at which spans are created (for tracing, independent of log levels,
    /// so `LOG_LEVEL=warn` keeps request traces). Default: `INFO`.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").span_level(tracing::Level::DEBUG);
    /// # b.build().unwrap();
    /// ```
    pub fn span_level(mut self, level: Level) -> Self {
        self.span_level = level;
        self
    }

    /// Longest field value or message, in bytes, before it is cut and marked `…[truncated]`.
    /// Default: 16 KiB. Must be at least 64.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").max_field_bytes(1024);
    /// # b.build().unwrap();
    /// ```
    pub fn max_field_bytes(mut self, bytes: usize) -> Self {
        self.max_field_bytes = bytes;
        self
    }

    /// Replaces the redaction settings. Default: [`Redaction::default`] (on).
    ///
    /// ```
    /// let mut r = watchpost::Redaction::default();
    /// r.field_names.push("ssn".into());
    /// let b = watchpost::Config::builder("svc").redaction(r);
    /// # b.build().unwrap();
    /// ```
    pub fn redaction(mut self, redaction: Redaction) -> Self {
        self.redaction = redaction;
        self
    }

    /// The series budget of every instrument without its own: over it, new label sets are folded
    /// into one overflow series. Default: 2000. Must be at least 1.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").default_metric_series_budget(500);
    /// # b.build().unwrap();
    /// ```
    pub fn default_metric_series_budget(mut self, series: usize) -> Self {
        self.default_metric_series_budget = series;
        self
    }

    /// The series budget of one instrument, by the name it is created with (e.g. a guarded
    /// per-resource exception: `("procman_instance_cpu_seconds_total", 200)`). Default: the
    /// [`default_metric_series_budget`](Self::default_metric_series_budget).
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").metric_series_budget("svc_instance_cpu_seconds_total", 200);
    /// # b.build().unwrap();
    /// ```
    pub fn metric_series_budget(mut self, instrument: impl Into<String>, series: usize) -> Self {
        let instrument = instrument.into();
        self.metric_series_budgets.retain(|(n, _)| *n != instrument);
        self.metric_series_budgets.push((instrument, series));
        self
    }

    /// Turns on per-resource log files (see [`crate::logs::ResourceLogs`]). Default: off.
    ///
    /// ```
    /// use watchpost::logs::ResourceLogConfig;
    /// let b = watchpost::Config::builder("svc")
    ///     .resource_logs(ResourceLogConfig::new("/var/lib/svc/logs").kind("instance", "instance_id"));
    /// # b.build().unwrap();
    /// ```
    pub fn resource_logs(mut self, config: crate::logs::ResourceLogConfig) -> Self {
        self.resource_logs = Some(config);
        self
    }

    /// Share of ordinary traces kept by the tail sampler (errors and slow traces are always
    /// kept), 0 to 1. Default: 0.1. Env: `OTEL_TRACES_SAMPLER_RATIO`.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").trace_sampler_ratio(1.0);
    /// # b.build().unwrap();
    /// ```
    pub fn trace_sampler_ratio(mut self, ratio: f64) -> Self {
        self.trace_ratio = ratio;
        self
    }

    /// Traces whose local root takes at least this long are always kept. Default: 1 s.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").trace_slow_threshold(std::time::Duration::from_millis(500));
    /// # b.build().unwrap();
    /// ```
    pub fn trace_slow_threshold(mut self, threshold: std::time::Duration) -> Self {
        self.trace_slow = threshold;
        self
    }

    /// Timeout of one OTLP export. Default: 10 s. Env: `OTEL_EXPORTER_OTLP_TIMEOUT` (ms).
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").export_timeout(std::time::Duration::from_secs(2));
    /// # b.build().unwrap();
    /// ```
    pub fn export_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.export_timeout = timeout;
        self
    }

    /// The CPU priority of the export thread (encoding and sending OTLP). Default:
    /// [`ExportPriority::Idle`]. Env: `EXPORT_PRIORITY=idle|low|normal`.
    ///
    /// ```
    /// use watchpost::config::ExportPriority;
    /// let b = watchpost::Config::builder("svc").export_priority(ExportPriority::Normal);
    /// # b.build().unwrap();
    /// ```
    pub fn export_priority(mut self, priority: ExportPriority) -> Self {
        self.export_priority = priority;
        self
    }

    /// Bounds of the span export queue: at most `queue_size` spans wait (more are dropped and
    /// counted in `<svc>_telemetry_dropped_total{signal="traces"}`; spans of ordinary traces
    /// fill at most three quarters of it, the rest is kept for error and slow traces), a
    /// request carries at most `batch_size` spans and export starts as soon as that many are
    /// queued, and at the latest every `delay` (1 ms to 1 hour). Default: 4096, 64, 500 ms — small batches keep each export burst short, so the
    /// export thread never holds a core for long. Env: `OTEL_BSP_MAX_QUEUE_SIZE`,
    /// `OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BSP_SCHEDULE_DELAY` (ms). `build` refuses a batch
    /// larger than the queue.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = watchpost::Config::builder("svc").span_export_batching(8192, 256, Duration::from_secs(1));
    /// # b.build().unwrap();
    /// let bad = watchpost::Config::builder("svc").span_export_batching(16, 64, Duration::from_secs(1));
    /// assert!(bad.build().unwrap_err().to_string().contains("batch size"));
    /// ```
    pub fn span_export_batching(
        mut self,
        queue_size: usize,
        batch_size: usize,
        delay: std::time::Duration,
    ) -> Self {
        self.span_batching = Batching {
            queue_size,
            batch_size,
            delay,
        };
        self
    }

    /// Bounds of the log record export queue, as [`Self::span_export_batching`] for spans.
    /// Default: 4096, 64, 500 ms. Env: `OTEL_BLRP_MAX_QUEUE_SIZE`,
    /// `OTEL_BLRP_MAX_EXPORT_BATCH_SIZE`, `OTEL_BLRP_SCHEDULE_DELAY` (ms).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = watchpost::Config::builder("svc").log_export_batching(8192, 256, Duration::from_secs(1));
    /// # b.build().unwrap();
    /// ```
    pub fn log_export_batching(
        mut self,
        queue_size: usize,
        batch_size: usize,
        delay: std::time::Duration,
    ) -> Self {
        self.log_batching = Batching {
            queue_size,
            batch_size,
            delay,
        };
        self
    }

    /// Interval of the OTLP metrics push. Default: 60 s. Env: `OTEL_METRIC_EXPORT_INTERVAL` (ms).
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").metric_export_interval(std::time::Duration::from_secs(10));
    /// # b.build().unwrap();
    /// ```
    pub fn metric_export_interval(mut self, interval: std::time::Duration) -> Self {
        self.metric_export_interval = interval;
        self
    }

    /// A CA certificate (PEM) to verify the collector when TLS is on. Default: system roots
    /// only. Env: `OTEL_EXPORTER_OTLP_CERTIFICATE`.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").otel_ca_file("/etc/ssl/collector-ca.pem");
    /// # b.build().unwrap();
    /// ```
    pub fn otel_ca_file(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.otel_ca_file = Some(path.into());
        self
    }

    /// Reads the variables in [`ENV_VARS`] from the process environment at [`build`](Self::build);
    /// they override the builder's values. A variable that is not valid UTF-8 is an error.
    ///
    /// ```
    /// let config = watchpost::Config::builder("svc").from_env().build();
    /// # let _ = config;
    /// ```
    pub fn from_env(mut self) -> Self {
        let mut vars = Vec::new();
        for (k, v) in std::env::vars_os() {
            let Some(k) = k.to_str() else { continue };
            if !is_our_var(k) {
                continue;
            }
            match v.into_string() {
                Ok(v) => vars.push((k.to_string(), v)),
                Err(v) => {
                    self.env_error.get_or_insert(Error::invalid(
                        k,
                        v.to_string_lossy(),
                        "valid UTF-8",
                    ));
                }
            }
        }
        self.env = Some(vars);
        self
    }

    /// Like [`from_env`](Self::from_env), but reads the given variables instead of the process
    /// environment (for tests and embedding).
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").env_vars([("ENV", "prod")]).build().unwrap();
    /// assert_eq!(c.environment(), "prod");
    /// ```
    pub fn env_vars<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> Self
    where
        K: Into<String>,
        V: Into<String>,
    {
        self.env = Some(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .filter(|(k, _)| is_our_var(k))
                .collect(),
        );
        self
    }

    /// Validates everything and freezes the configuration.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidValue`] naming the variable or setter, the value and what is allowed;
    /// [`ErrorKind::UnknownSubsystem`] for a [`subsystem_level`](Self::subsystem_level) of an
    /// undeclared subsystem.
    ///
    /// ```
    /// let err = watchpost::Config::builder("svc")
    ///     .env_vars([("METRICS_LISTEN", "nonsense")])
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("METRICS_LISTEN"));
    /// ```
    pub fn build(mut self) -> Result<Config, Error> {
        if let Some(err) = self.env_error.take() {
            return Err(err);
        }
        // Code-level validation first: these are programming errors.
        validate_service_name("Config::builder", &self.service_name)?;
        if !self
            .subsystems
            .iter()
            .any(|s| s.name.eq_ignore_ascii_case(&self.default_subsystem))
        {
            self.subsystems
                .push(Subsystem::new(self.default_subsystem.clone()));
        }
        for s in &self.subsystems {
            validate_subsystem_name(&s.name)?;
            for t in &s.targets {
                if t.is_empty() || t.contains(char::is_whitespace) {
                    return Err(Error::invalid(
                        format!("Subsystem::target of {}", s.name),
                        t,
                        "a non-empty tracing target or module path prefix such as `my_crate::api`",
                    ));
                }
            }
        }
        if self.max_field_bytes < 64 {
            return Err(Error::invalid(
                "ConfigBuilder::max_field_bytes",
                self.max_field_bytes.to_string(),
                "at least 64",
            ));
        }
        for (name, budget) in
            std::iter::once(("default".to_string(), self.default_metric_series_budget))
                .chain(self.metric_series_budgets.iter().cloned())
        {
            if budget == 0 {
                return Err(Error::invalid(
                    format!("metric series budget of {name}"),
                    "0",
                    "at least 1 series",
                ));
            }
        }
        if let Some(rl) = &self.resource_logs {
            rl.validate()?;
        }
        if !(0.0..=1.0).contains(&self.trace_ratio) {
            return Err(Error::invalid(
                "ConfigBuilder::trace_sampler_ratio",
                self.trace_ratio.to_string(),
                "a number from 0 to 1",
            ));
        }
        check_level("ConfigBuilder::log_level", self.log_level)?;
        check_level("ConfigBuilder::span_level", self.span_level)?;
        for (t, l) in &self.target_levels {
            check_level(&format!("ConfigBuilder::target_level({t})"), *l)?;
        }

        let known: Vec<String> = self.subsystems.iter().map(|s| s.name.clone()).collect();
        let index = |name: &str| {
            self.subsystems
                .iter()
                .position(|s| s.name.eq_ignore_ascii_case(name))
        };
        let mut code_levels: Vec<Option<Level>> = vec![None; self.subsystems.len()];
        for (name, level) in &self.subsystem_levels {
            check_level(&format!("ConfigBuilder::subsystem_level({name})"), *level)?;
            let i = index(name).ok_or_else(|| {
                Error::new(ErrorKind::UnknownSubsystem {
                    name: name.clone(),
                    known: known.clone(),
                })
            })?;
            code_levels[i] = Some(*level);
        }

        // The environment overrides the code.
        let mut env_levels: Vec<Option<Level>> = vec![None; self.subsystems.len()];
        let mut unknown_level_vars = Vec::new();
        let mut service_instance_id = self.service_instance_id.take();
        if let Some(vars) = self.env.take() {
            // Deterministic: apply in sorted order so errors are reported the same way every time.
            let mut vars = vars;
            vars.sort();
            // The standard OTLP endpoint variable applies only when ours is not set.
            let ours_set = vars.iter().any(|(k, _)| k == "OTEL_ENDPOINT");
            for (k, v) in vars {
                match k.as_str() {
                    "ENV" => self.environment = non_empty(&k, v)?,
                    "OTEL_ENABLED" => self.otel_enabled = parse_bool(&k, &v)?,
                    "OTEL_ENDPOINT" => self.otel_endpoint = parse_endpoint(&k, v)?,
                    "OTEL_EXPORTER_OTLP_ENDPOINT" => {
                        if !ours_set {
                            self.otel_endpoint = parse_endpoint(&k, v)?
                        }
                    }
                    "OTEL_TRACES_SAMPLER_RATIO" => {
                        self.trace_ratio = v
                            .trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|r| (0.0..=1.0).contains(r))
                            .ok_or_else(|| {
                                Error::invalid(&k, &v, "a number from 0 to 1, e.g. 0.1")
                            })?
                    }
                    "OTEL_EXPORTER_OTLP_TIMEOUT" => self.export_timeout = parse_millis(&k, &v)?,
                    "OTEL_LOGS_EXPORTER" => self.export_logs = parse_exporter(&k, &v)?,
                    "OTEL_METRICS_EXPORTER" => self.export_metrics = parse_exporter(&k, &v)?,
                    "EXPORT_PRIORITY" => {
                        self.export_priority = match v.trim().to_ascii_lowercase().as_str() {
                            "idle" => ExportPriority::Idle,
                            "low" => ExportPriority::Low,
                            "normal" => ExportPriority::Normal,
                            _ => return Err(Error::invalid(&k, &v, "one of idle, low, normal")),
                        }
                    }
                    "OTEL_METRIC_EXPORT_INTERVAL" => {
                        self.metric_export_interval = parse_millis(&k, &v)?
                    }
                    "OTEL_BSP_MAX_QUEUE_SIZE" => {
                        self.span_batching.queue_size = parse_count(&k, &v)?
                    }
                    "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" => {
                        self.span_batching.batch_size = parse_count(&k, &v)?
                    }
                    "OTEL_BSP_SCHEDULE_DELAY" => self.span_batching.delay = parse_millis(&k, &v)?,
                    "OTEL_BLRP_MAX_QUEUE_SIZE" => {
                        self.log_batching.queue_size = parse_count(&k, &v)?
                    }
                    "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE" => {
                        self.log_batching.batch_size = parse_count(&k, &v)?
                    }
                    "OTEL_BLRP_SCHEDULE_DELAY" => self.log_batching.delay = parse_millis(&k, &v)?,
                    "OTEL_EXPORTER_OTLP_CERTIFICATE" => {
                        self.otel_ca_file = Some(non_empty(&k, v)?.into())
                    }
                    "OTEL_SERVICE_NAME" => {
                        validate_service_name(&k, &v)?;
                        self.service_name = v;
                    }
                    "OTEL_SERVICE_INSTANCE_ID" => service_instance_id = Some(non_empty(&k, v)?),
                    "OTEL_INSECURE" => self.otel_insecure = parse_bool(&k, &v)?,
                    "LOG_LEVEL" => self.log_level = parse_level(&k, &v)?,
                    "METRICS_LISTEN" => {
                        self.metrics_listen = v.trim().parse().map_err(|_| {
                            Error::invalid(
                                &k,
                                &v,
                                "an IP address and port such as 127.0.0.1:9464 or [::1]:9464",
                            )
                        })?
                    }
                    _ => {
                        if let Some(sub) = k.strip_prefix("LOG_LEVEL_") {
                            let level = parse_level(&k, &v)?;
                            match index(sub) {
                                Some(i) => env_levels[i] = Some(level),
                                None => unknown_level_vars.push(k.clone()),
                            }
                        }
                    }
                }
            }
        }

        let subsystem_levels = (0..self.subsystems.len())
            .map(|i| env_levels[i].or(code_levels[i]).unwrap_or(self.log_level))
            .collect();
        let default_subsystem = index(&self.default_subsystem).expect("declared above");
        Ok(Config {
            service_name: self.service_name,
            service_version: self.service_version,
            service_instance_id: service_instance_id.unwrap_or_else(hostname),
            environment: self.environment,
            otel_enabled: self.otel_enabled,
            otel_endpoint: self.otel_endpoint,
            otel_insecure: self.otel_insecure,
            metrics_listen: self.metrics_listen,
            subsystems: self.subsystems,
            subsystem_levels,
            default_subsystem,
            target_levels: self.target_levels,
            span_level: self.span_level,
            max_field_bytes: self.max_field_bytes,
            redaction: self.redaction,
            unknown_level_vars,
            default_metric_series_budget: self.default_metric_series_budget,
            metric_series_budgets: self.metric_series_budgets,
            resource_logs: self.resource_logs,
            trace_ratio: self.trace_ratio,
            trace_slow: self.trace_slow,
            export_timeout: self.export_timeout,
            otel_ca_file: self.otel_ca_file,
            metric_export_interval: self.metric_export_interval,
            export_logs: self.export_logs,
            export_metrics: self.export_metrics,
            export_priority: self.export_priority,
            span_batching: self.span_batching.check(
                "span export",
                "OTEL_BSP_MAX_QUEUE_SIZE",
                "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
            )?,
            log_batching: self.log_batching.check(
                "log export",
                "OTEL_BLRP_MAX_QUEUE_SIZE",
                "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
            )?,
        })
    }
}

fn is_our_var(k: &str) -> bool {
    ENV_VARS.iter().any(|(name, _, _)| *name == k) || k.starts_with("LOG_LEVEL_")
}

/// Parses a log level as the configuration accepts it: `debug`, `info`, `warn` (or `warning`),
/// `error`, case-insensitive. `trace` is refused.
///
/// ```
/// use watchpost::config::parse_level;
/// assert_eq!(parse_level("LOG_LEVEL", "Warn").unwrap(), tracing::Level::WARN);
/// assert!(parse_level("LOG_LEVEL", "trace").is_err());
/// ```
pub fn parse_level(input: &str, value: &str) -> Result<Level, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "debug" => Ok(Level::DEBUG),
        "info" => Ok(Level::INFO),
        "warn" | "warning" => Ok(Level::WARN),
        "error" => Ok(Level::ERROR),
        "trace" => Err(Error::invalid(
            input,
            value,
            "one of debug, info, warn, error (TRACE is not allowed by the logging standard)",
        )),
        _ => Err(Error::invalid(input, value, LEVELS_ALLOWED)),
    }
}

fn check_level(input: &str, level: Level) -> Result<(), Error> {
    if level == Level::TRACE {
        return Err(Error::invalid(
            input,
            "TRACE",
            "one of DEBUG, INFO, WARN, ERROR (TRACE is not allowed by the logging standard)",
        ));
    }
    Ok(())
}

fn parse_bool(input: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(Error::invalid(input, value, BOOL_ALLOWED)),
    }
}

fn parse_exporter(input: &str, value: &str) -> Result<bool, Error> {
    match value.trim() {
        "otlp" => Ok(true),
        "none" => Ok(false),
        _ => Err(Error::invalid(input, value, "otlp or none")),
    }
}

fn parse_millis(input: &str, value: &str) -> Result<std::time::Duration, Error> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| (1..=3_600_000).contains(ms))
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| Error::invalid(input, value, "milliseconds from 1 to 3600000"))
}

fn parse_count(input: &str, value: &str) -> Result<usize, Error> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=Batching::MAX_QUEUE).contains(n))
        .ok_or_else(|| Error::invalid(input, value, "a whole number from 1 to 1000000"))
}

fn non_empty(input: &str, value: String) -> Result<String, Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(input, value, "a non-empty value"));
    }
    Ok(value)
}

fn parse_endpoint(input: &str, value: String) -> Result<String, Error> {
    let v = value.trim();
    let rest = v
        .strip_prefix("http://")
        .or_else(|| v.strip_prefix("https://"))
        .unwrap_or(v);
    let ok = match rest.rsplit_once(':') {
        Some((host, port)) => {
            !host.is_empty()
                && !host.contains(char::is_whitespace)
                && port.trim_end_matches('/').parse::<u16>().is_ok()
        }
        None => false,
    };
    if !ok {
        return Err(Error::invalid(
            input,
            value,
            "host:port or an http(s):// URL with a port, e.g. 127.0.0.1:4317",
        ));
    }
    Ok(v.to_string())
}

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

fn validate_subsystem_name(name: &str) -> Result<(), Error> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name.starts_with(|c: char| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !ok {
        return Err(Error::invalid(
            "Subsystem::new",
            name,
            "1-32 upper-case ASCII letters, digits or `_`, starting with a letter (it names LOG_LEVEL_<NAME>)",
        ));
    }
    Ok(())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates on success when the
    // name fits, and we bound the read by the buffer length anyway.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..len]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "unknown".to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(vars: &[(&str, &str)]) -> Result<Config, Error> {
        Config::builder("procman")
            .subsystem(Subsystem::new("API").target("procman::api"))
            .subsystem(Subsystem::new("INSTANCES").target("procman::instances"))
            .env_vars(vars.iter().copied())
            .build()
    }

    #[test]
    fn defaults_match_the_documented_table() {
        let c = build(&[]).unwrap();
        let documented = |name: &str| {
            ENV_VARS
                .iter()
                .find(|(n, _, _)| *n == name)
                .map(|(_, d, _)| *d)
                .unwrap()
        };
        assert_eq!(c.environment(), documented("ENV"));
        assert_eq!(c.otel_enabled().to_string(), documented("OTEL_ENABLED"));
        assert_eq!(c.otel_endpoint(), documented("OTEL_ENDPOINT"));
        assert_eq!(c.otel_insecure().to_string(), documented("OTEL_INSECURE"));
        assert_eq!(c.metrics_listen().to_string(), documented("METRICS_LISTEN"));
        assert_eq!(
            c.level_of("API").unwrap().to_string().to_lowercase(),
            documented("LOG_LEVEL")
        );
        assert_eq!(c.service_instance_id(), hostname());
    }

    #[test]
    fn invalid_values_name_the_variable_the_value_and_what_is_allowed() {
        for (var, value, allowed) in [
            ("LOG_LEVEL_INSTANCES", "verbose", "debug, info, warn, error"),
            ("LOG_LEVEL", "loud", "debug, info, warn, error"),
            ("OTEL_ENABLED", "maybe", "true, false"),
            ("OTEL_INSECURE", "yes please", "true, false"),
            ("METRICS_LISTEN", "nonsense", "IP address and port"),
            ("OTEL_ENDPOINT", "no port here", "host:port"),
            ("LOG_LEVEL_API", "trace", "TRACE is not allowed"),
            ("OTEL_SERVICE_NAME", "has space", "ASCII letters"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "0", "1 to 1000000"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "lots", "1 to 1000000"),
            ("OTEL_BSP_SCHEDULE_DELAY", "-5", "milliseconds"),
            ("EXPORT_PRIORITY", "high", "one of idle, low, normal"),
        ] {
            let err = build(&[(var, value)]).unwrap_err().to_string();
            assert!(err.contains(var), "{err}");
            assert!(err.contains(&format!("{value:?}")), "{err}");
            assert!(err.contains(allowed), "{err}");
        }
    }

    #[test]
    fn export_batching_comes_from_the_standard_variables_and_a_batch_never_exceeds_its_queue() {
        let c = build(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "100"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "100"),
            ("OTEL_BSP_SCHEDULE_DELAY", "250"),
            ("OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", "8"),
        ])
        .unwrap();
        assert_eq!(
            c.span_batching,
            Batching {
                queue_size: 100,
                batch_size: 100,
                delay: std::time::Duration::from_millis(250)
            }
        );
        assert_eq!(c.log_batching.batch_size, 8);
        assert_eq!(c.log_batching.queue_size, Batching::default().queue_size);
        let defaults = build(&[]).unwrap();
        let documented = |name: &str| ENV_VARS.iter().find(|(n, _, _)| *n == name).unwrap().1;
        assert_eq!(
            defaults.span_batching.batch_size.to_string(),
            documented("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
        );
        assert_eq!(
            defaults.log_batching.queue_size.to_string(),
            documented("OTEL_BLRP_MAX_QUEUE_SIZE")
        );
        assert_eq!(
            defaults.span_batching.delay.as_millis().to_string(),
            documented("OTEL_BSP_SCHEDULE_DELAY")
        );

        let err = build(&[
            ("OTEL_BSP_MAX_QUEUE_SIZE", "10"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"),
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), "{err}");
        assert!(err.contains("\"64\""), "{err}");
        assert!(err.contains("queue size, 10"), "{err}");
    }

    #[test]
    fn subsystem_variables_override_the_global_level_and_unknown_ones_are_collected() {
        let c = build(&[
            ("LOG_LEVEL", "warn"),
            ("LOG_LEVEL_INSTANCES", "DEBUG"),
            ("LOG_LEVEL_NETWORK", "debug"),
        ])
        .unwrap();
        assert_eq!(c.level_of("API"), Some(Level::WARN));
        assert_eq!(c.level_of("instances"), Some(Level::DEBUG));
        assert_eq!(c.level_of("APP"), Some(Level::WARN));
        assert_eq!(c.unknown_level_vars, vec!["LOG_LEVEL_NETWORK".to_string()]);
    }

    #[test]
    fn environment_overrides_code_which_overrides_defaults() {
        let c = Config::builder("svc")
            .subsystem(Subsystem::new("DB"))
            .subsystem_level("DB", Level::ERROR)
            .environment("dev")
            .env_vars([("ENV", "prod")])
            .build()
            .unwrap();
        assert_eq!(c.environment(), "prod");
        assert_eq!(c.level_of("DB"), Some(Level::ERROR));
        let c = Config::builder("svc")
            .subsystem(Subsystem::new("DB"))
            .subsystem_level("DB", Level::ERROR)
            .env_vars([("LOG_LEVEL_DB", "info")])
            .build()
            .unwrap();
        assert_eq!(c.level_of("DB"), Some(Level::INFO));
    }

    #[test]
    fn bad_builder_input_is_rejected() {
        let err = Config::builder("svc")
            .subsystem(Subsystem::new("lower"))
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("Subsystem::new"), "{err}");
        let err = Config::builder("svc")
            .subsystem_level("NOPE", Level::INFO)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown subsystem \"NOPE\": declared subsystems are APP"
        );
        assert!(Config::builder("svc")
            .log_level(Level::TRACE)
            .build()
            .is_err());
        assert!(Config::builder("svc").max_field_bytes(3).build().is_err());
        assert!(Config::builder("9lives").build().is_err());
    }

    #[test]
    fn endpoints_accept_host_port_and_urls() {
        for ok in [
            "127.0.0.1:4317",
            "collector:4317",
            "http://c:4317",
            "https://c.example:443/",
        ] {
            assert!(build(&[("OTEL_ENDPOINT", ok)]).is_ok(), "{ok}");
        }
        for bad in ["", "collector", "http://c", "c:notaport", ":4317"] {
            assert!(build(&[("OTEL_ENDPOINT", bad)]).is_err(), "{bad}");
        }
    }

    #[test]
    fn ipv6_metrics_listen_parses() {
        let c = build(&[("METRICS_LISTEN", "[::1]:9000")]).unwrap();
        assert!(c.metrics_listen().is_ipv6());
    }
}
