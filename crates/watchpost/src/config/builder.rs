//! [`ConfigBuilder`]: the options an application sets in code, and [`ConfigBuilder::build`], which
//! lays the environment over them (through the table in `env.rs`) and validates everything.

use std::net::SocketAddr;

use tracing::Level;

use super::env;
use super::log_output::RetentionOverrides;
use super::otlp::OtlpSettings;
use super::{
    position, validate_service_name, Batching, Config, ExportPriority, Redaction, Subsystem,
    NOISY_TARGETS,
};
use super::{LogOutput, ResourceLogConfig};
use crate::error::{Error, ErrorKind};

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
///
/// `Debug` shows no value of a variable that holds credentials (the OTLP headers).
#[derive(Clone)]
#[must_use = "a ConfigBuilder does nothing until build() is called"]
pub struct ConfigBuilder {
    pub(super) service_name: String,
    /// The input the service name came from, for the error of a bad one.
    pub(super) service_name_input: &'static str,
    pub(super) service_version: String,
    pub(super) service_instance_id: Option<String>,
    pub(super) environment: String,
    pub(super) otel_enabled: bool,
    /// `OTEL_SDK_DISABLED`: no export whatever `otel_enabled` says.
    pub(super) sdk_disabled: bool,
    /// OTLP settings for every signal, and per signal (`otlp.rs`).
    pub(super) otlp: OtlpSettings,
    pub(super) otlp_signals: [OtlpSettings; 3],
    /// Resource attributes besides the ones with fields of their own.
    pub(super) resource_attributes: Vec<(String, String)>,
    pub(super) metrics_listen: SocketAddr,
    pub(super) log_level: Level,
    pub(super) subsystem_levels: Vec<(String, Level)>,
    pub(super) subsystems: Vec<Subsystem>,
    pub(super) default_subsystem: String,
    pub(super) target_levels: Vec<(String, Level)>,
    pub(super) span_level: Level,
    pub(super) max_field_bytes: usize,
    pub(super) log_standard_fields: bool,
    pub(super) baggage_fields: Vec<String>,
    pub(super) redaction: Redaction,
    pub(super) default_metric_series_budget: usize,
    pub(super) metric_series_budgets: Vec<(String, usize)>,
    pub(super) resource_logs: Option<ResourceLogConfig>,
    pub(super) log_output: LogOutput,
    /// Whether `LOG_OUTPUT` chose the file (errors then name the variable).
    pub(super) log_output_from_env: bool,
    /// Rotation and retention from the environment, laid over both kinds of log file.
    pub(super) retention_env: RetentionOverrides,
    pub(super) trace_ratio: f64,
    pub(super) trace_slow: std::time::Duration,
    pub(super) export_timeout: std::time::Duration,
    pub(super) metric_export_interval: std::time::Duration,
    pub(super) export_traces: bool,
    pub(super) export_logs: bool,
    pub(super) export_metrics: bool,
    pub(super) export_priority: ExportPriority,
    pub(super) span_batching: Batching,
    pub(super) log_batching: Batching,
    pub(super) readiness: super::ReadinessThresholds,
    pub(super) env: Option<Vec<(String, String)>>,
    pub(super) env_error: Option<Error>,
}

impl ConfigBuilder {
    pub(super) fn new(service_name: String) -> Self {
        Self {
            service_name,
            service_name_input: "Config::builder",
            service_version: "unknown".into(),
            service_instance_id: None,
            environment: "unset".into(),
            otel_enabled: false,
            sdk_disabled: false,
            otlp: OtlpSettings::default(),
            otlp_signals: Default::default(),
            resource_attributes: Vec::new(),
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
            log_standard_fields: true,
            baggage_fields: Vec::new(),
            redaction: Redaction::default(),
            default_metric_series_budget: 2000,
            metric_series_budgets: Vec::new(),
            resource_logs: None,
            log_output: LogOutput::Stdout,
            log_output_from_env: false,
            retention_env: RetentionOverrides::default(),
            trace_ratio: 0.1,
            trace_slow: std::time::Duration::from_secs(1),
            export_timeout: std::time::Duration::from_secs(10),
            metric_export_interval: std::time::Duration::from_secs(60),
            export_traces: true,
            export_logs: true,
            export_metrics: true,
            export_priority: ExportPriority::Low,
            span_batching: Batching::default(),
            log_batching: Batching::default(),
            readiness: super::ReadinessThresholds::default(),
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

    /// Whether every log line carries the standard fields `service`, `version` and
    /// `environment` — the service name, [`service_version`](Self::service_version) and
    /// [`environment`](Self::environment), the values of the OpenTelemetry resource — right after
    /// `subsystem`. Turn it off on a platform whose log shipper adds them. They are JSON-encoded
    /// once, when the pipeline is built, so a line pays a copy, not an encoding. Default: `true`.
    /// Env: `LOG_STANDARD_FIELDS`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").log_standard_fields(false).build().unwrap();
    /// assert!(!c.log_standard_fields());
    /// ```
    pub fn log_standard_fields(mut self, on: bool) -> Self {
        self.log_standard_fields = on;
        self
    }

    /// W3C baggage keys that become request context: when an incoming request's `baggage`
    /// carries one of them, the HTTP layer copies it onto every log line and span of the request,
    /// as [`crate::context::set`] does (redaction and masking apply). Keys not listed never
    /// appear. At most 16 names of `[A-Za-z0-9_-]`, up to 64 characters. Default: none.
    /// Env: `OTEL_BAGGAGE_FIELDS` (comma-separated).
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").baggage_fields(["user_id", "tenant_id"]).build().unwrap();
    /// assert_eq!(c.baggage_fields(), ["user_id", "tenant_id"]);
    /// let bad = watchpost::Config::builder("svc").baggage_fields(["user id"]).build().unwrap_err();
    /// assert!(bad.to_string().contains("baggage_fields"), "{bad}");
    /// ```
    pub fn baggage_fields<I, S>(mut self, keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.baggage_fields = keys.into_iter().map(Into::into).collect();
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

    /// Declares a subsystem. Declaring the same name twice merges the targets. Default: only the
    /// [`default_subsystem`](Self::default_subsystem) is declared.
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
        match position(&self.subsystems, &subsystem.name) {
            Some(i) => self.subsystems[i].targets.extend(subsystem.targets),
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
    /// into one overflow series. A metric registered from the [catalogue](crate::catalogue) gets
    /// what its labels allow ([`MetricDef::series_budget`](crate::catalogue::MetricDef::series_budget)),
    /// capped by this. Default: 2000. Must be at least 1.
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
    /// per-resource exception: `("procman_instance_cpu_seconds_total", 200)`); it wins over a
    /// catalogue declaration. Default: what the catalogue declares, else the
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
    pub fn resource_logs(mut self, config: ResourceLogConfig) -> Self {
        self.resource_logs = Some(config);
        self
    }

    /// Where the main log goes: stdout, or a file of its own with rotation, compression and
    /// retention ([`LogOutput::File`]). Default: [`LogOutput::Stdout`]. Env:
    /// `LOG_OUTPUT=stdout|file:PATH` (a path given there keeps the file settings set here), and
    /// `LOG_MAX_FILE_BYTES`, `LOG_MAX_FILES`, `LOG_MAX_AGE`, `LOG_COMPRESS` for its rotation.
    /// `build` checks that the file's directory exists and is writable.
    ///
    /// ```
    /// use watchpost::config::{LogFileConfig, LogOutput};
    /// let dir = std::env::temp_dir();
    /// let mut file = LogFileConfig::new(dir.join("svc.log"));
    /// file.compress = true;
    /// let c = watchpost::Config::builder("svc").log_output(LogOutput::File(file)).build().unwrap();
    /// assert!(matches!(c.log_output(), LogOutput::File(f) if f.compress));
    /// let bad = watchpost::Config::builder("svc").log_output(LogOutput::file("/no/such/dir/x.log"));
    /// assert!(bad.build().is_err());
    /// ```
    pub fn log_output(mut self, output: LogOutput) -> Self {
        self.log_output = output;
        self.log_output_from_env = false;
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
    /// [`ExportPriority::Low`]. Env: `EXPORT_PRIORITY=idle|low|normal`.
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
    /// queued, and at the latest every `delay` (1 ms to 1 hour). Default: 8192 (the
    /// specification's: 2048), 512 (the specification's), 500 ms; up to four requests of a signal
    /// are in flight at once. On a saturated 2-core machine, batches of 64 lost a third of the log
    /// records and queues of 4096 up to 1% of them (`BENCHMARKS.md`); 8192 spans of ~1 KiB are
    /// ~8 MiB at most. Env: `OTEL_BSP_MAX_QUEUE_SIZE`,
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
    /// Default: 8192, 512, 500 ms. Env: `OTEL_BLRP_MAX_QUEUE_SIZE`,
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
        validate_service_name(self.service_name_input, &self.service_name)?;
        if position(&self.subsystems, &self.default_subsystem).is_none() {
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
        if !(0.0..=1.0).contains(&self.trace_ratio) {
            return Err(Error::invalid(
                "ConfigBuilder::trace_sampler_ratio",
                self.trace_ratio.to_string(),
                "a number from 0 to 1",
            ));
        }
        super::otlp::check_code_headers(&self.otlp)?;
        check_level("ConfigBuilder::log_level", self.log_level)?;
        check_level("ConfigBuilder::span_level", self.span_level)?;
        for (t, l) in &self.target_levels {
            check_level(&format!("ConfigBuilder::target_level({t})"), *l)?;
        }

        let known: Vec<String> = self.subsystems.iter().map(|s| s.name.clone()).collect();
        let mut code_levels: Vec<Option<Level>> = vec![None; self.subsystems.len()];
        for (name, level) in &self.subsystem_levels {
            check_level(&format!("ConfigBuilder::subsystem_level({name})"), *level)?;
            let i = position(&self.subsystems, name).ok_or_else(|| {
                Error::new(ErrorKind::UnknownSubsystem {
                    name: name.clone(),
                    known: known.clone(),
                })
            })?;
            code_levels[i] = Some(*level);
        }

        // The environment overrides the code: each variable's table entry parses and stores it.
        let env::Overridden {
            subsystem_levels: env_levels,
            unknown_level_vars,
            warnings,
        } = match self.env.take() {
            Some(vars) => env::apply(&mut self, vars)?,
            None => env::Overridden::none(self.subsystems.len()),
        };
        self.apply_retention()?;
        self.check_features()?;
        check_baggage_fields(&self.baggage_fields)?;
        let subsystem_levels = (0..self.subsystems.len())
            .map(|i| env_levels[i].or(code_levels[i]).unwrap_or(self.log_level))
            .collect();
        let default_subsystem =
            position(&self.subsystems, &self.default_subsystem).expect("declared above");
        let otlp = super::otlp::resolve(&self.otlp, &self.otlp_signals, self.export_timeout)?;
        let otel_insecure = super::otlp::base_is_plaintext(&self.otlp);
        Ok(Config {
            service_name: self.service_name,
            service_version: self.service_version,
            service_instance_id: self.service_instance_id.unwrap_or_else(hostname),
            environment: self.environment,
            otel_enabled: self.otel_enabled && !self.sdk_disabled,
            otel_endpoint: super::otlp::base_endpoint(&self.otlp),
            otel_insecure,
            otlp,
            warnings,
            resource_attributes: self.resource_attributes,
            metrics_listen: self.metrics_listen,
            subsystems: self.subsystems,
            subsystem_levels,
            default_subsystem,
            target_levels: self.target_levels,
            span_level: self.span_level,
            max_field_bytes: self.max_field_bytes,
            log_standard_fields: self.log_standard_fields,
            baggage_fields: self.baggage_fields,
            redaction: self.redaction,
            unknown_level_vars,
            default_metric_series_budget: self.default_metric_series_budget,
            metric_series_budgets: self.metric_series_budgets,
            resource_logs: self.resource_logs,
            log_output: self.log_output,
            trace_ratio: self.trace_ratio,
            trace_slow: self.trace_slow,
            export_timeout: self.export_timeout,
            metric_export_interval: self.metric_export_interval,
            export_traces: self.export_traces,
            export_logs: self.export_logs,
            export_metrics: self.export_metrics,
            export_priority: self.export_priority,
            span_batching: self.span_batching.check(
                "span export",
                super::otel_env::OTEL_BSP_MAX_QUEUE_SIZE.name,
                super::otel_env::OTEL_BSP_MAX_EXPORT_BATCH_SIZE.name,
            )?,
            log_batching: self.log_batching.check(
                "log export",
                super::otel_env::OTEL_BLRP_MAX_QUEUE_SIZE.name,
                super::otel_env::OTEL_BLRP_MAX_EXPORT_BATCH_SIZE.name,
            )?,
            readiness: self.readiness,
        })
    }
}

impl ConfigBuilder {
    /// Refuses what this build of the crate cannot do: OTLP export without the `otlp` feature,
    /// compression without `gzip` — an error at start rather than telemetry silently missing.
    fn check_features(&self) -> Result<(), Error> {
        let compress = self.resource_logs.as_ref().is_some_and(|r| r.compress)
            || matches!(&self.log_output, LogOutput::File(f) if f.compress);
        if compress && !cfg!(feature = "gzip") {
            return Err(Error::invalid(
                format!(
                    "{} (or the `compress` setting of the log files)",
                    env::LOG_COMPRESS.name
                ),
                "true",
                "false: this build of watchpost has no `gzip` feature (enable it in Cargo.toml)",
            ));
        }
        if self.otel_enabled && !self.sdk_disabled && !cfg!(feature = "otlp") {
            return Err(Error::invalid(
                format!(
                    "{} (or ConfigBuilder::otel_enabled)",
                    env::OTEL_ENABLED.name
                ),
                "true",
                "false: this build of watchpost has no `otlp` feature (enable it in Cargo.toml)",
            ));
        }
        Ok(())
    }

    /// Lays the environment's rotation and retention over the resource files and the main log
    /// file, then checks both.
    fn apply_retention(&mut self) -> Result<(), Error> {
        if let Some(rl) = &mut self.resource_logs {
            self.retention_env.apply_to_resources(rl);
            rl.validate()?;
        }
        if let LogOutput::File(file) = &mut self.log_output {
            self.retention_env.apply_to_file(file);
            let input = if self.log_output_from_env {
                env::LOG_OUTPUT.name
            } else {
                "ConfigBuilder::log_output"
            };
            file.validate(input)?;
        }
        Ok(())
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
            format!(
                "1-32 upper-case ASCII letters, digits or `_`, starting with a letter (it names {}<NAME>)",
                env::LOG_LEVEL_SUBSYSTEM.prefix()
            ),
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

/// The baggage keys copied into request context: at most 16, each a context field name.
fn check_baggage_fields(keys: &[String]) -> Result<(), Error> {
    let input = format!(
        "ConfigBuilder::baggage_fields ({})",
        env::OTEL_BAGGAGE_FIELDS.name
    );
    if keys.len() > 16 {
        return Err(Error::invalid(input, keys.join(","), "at most 16 keys"));
    }
    for k in keys {
        if !crate::config::valid_context_name(k) {
            return Err(Error::invalid(
                &input,
                k,
                "names of 1 to 64 characters from A-Z a-z 0-9 _ - (no dots: log lines leave dotted fields out)",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "builder_tests.rs"]
mod tests;
