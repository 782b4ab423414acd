//! The environment variables Watchpost reads, as one typed table, [`TABLE`]: each entry holds a
//! variable's name, its documented default and meaning, and the function that parses a value and
//! stores it. [`ConfigBuilder::build`] looks every given variable up in the table and lets its entry
//! apply it, and the public [`ENV_VARS`] is the same table read as text.
//!
//! Each name is written once in the library, in its entry. Whatever else needs a name (the error
//! of a batch larger than its queue, the listener's error, the warning about an unknown
//! `LOG_LEVEL_<X>`) reads it from the entry's constant; a unit test below holds the library to this.

use tracing::Level;

use super::log_output::{parse_age, parse_bytes};
use super::{position, validate_service_name, Batching, ConfigBuilder, ExportPriority, LogOutput};
use crate::error::Error;

const LEVELS_ALLOWED: &str = "one of debug, info, warn, error";
const BOOL_ALLOWED: &str = "one of true, false, 1, 0";

/// The environment variables Watchpost reads, with their defaults, as `(name, default, meaning)`.
///
/// This table is the source of truth for the README's configuration table; a test fails if the two
/// differ. A name with a `<PART>` in it stands for every variable that starts with what comes
/// before the `<`.
///
/// ```
/// let (name, default, _) = watchpost::config::ENV_VARS[0];
/// assert_eq!((name, default), ("ENV", "unset"));
/// ```
pub const ENV_VARS: &[(&str, &str, &str)] = &as_text::<{ TABLE.len() }>();

/// The rows of [`TABLE`] without their parsers, at compile time.
const fn as_text<const N: usize>() -> [(&'static str, &'static str, &'static str); N] {
    let mut rows = [("", "", ""); N];
    let mut i = 0;
    while i < N {
        rows[i] = (TABLE[i].name, TABLE[i].default, TABLE[i].meaning);
        i += 1;
    }
    rows
}

/// One environment variable: its name, its documented default and meaning (the README's table is
/// tested against them, through [`ENV_VARS`]), and how a value is parsed and stored.
///
/// A name with a `<PART>` in it is a pattern: `LOG_LEVEL_<SUBSYSTEM>` stands for `LOG_LEVEL_API`,
/// `LOG_LEVEL_INSTANCES` and every other name that starts with its [`prefix`](Self::prefix).
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvVar {
    /// The name, or the pattern of the names.
    pub(crate) name: &'static str,
    /// The default, as the README documents it (Markdown).
    pub(crate) default: &'static str,
    /// What the variable does, as the README documents it (Markdown).
    pub(crate) meaning: &'static str,
    /// Parses and stores a value of the variable.
    apply: Apply,
}

/// Parses `value`, the value of the variable called `name` (the entry's name, or for a pattern the
/// name that matched it), and stores it. An error names the variable, the value and what is
/// allowed.
type Apply = fn(&mut Overrides<'_>, &str, &str) -> Result<(), Error>;

impl EnvVar {
    /// The fixed part of the name: all of it, or for a pattern the part before the `<`.
    pub(crate) fn prefix(&self) -> &'static str {
        match self.name.split_once('<') {
            Some((prefix, _)) => prefix,
            None => self.name,
        }
    }

    /// Whether `name` is this variable, or for a pattern one of its variables.
    fn matches(&self, name: &str) -> bool {
        if self.name.contains('<') {
            name.starts_with(self.prefix())
        } else {
            name == self.name
        }
    }
}

/// Every variable Watchpost reads, in the README's order.
pub(crate) const TABLE: &[EnvVar] = &[
    EnvVar {
        name: "ENV",
        default: "unset",
        meaning: "Deployment environment (`deployment.environment.name` resource attribute)",
        apply: |o, k, v| set(&mut o.builder.environment, non_empty(k, v)),
    },
    EnvVar {
        name: "OTEL_ENABLED",
        default: "false",
        meaning: "Enable OTLP export (`true`/`false`)",
        apply: |o, k, v| set(&mut o.builder.otel_enabled, parse_bool(k, v)),
    },
    OTEL_ENDPOINT,
    EnvVar {
        name: "OTEL_SERVICE_NAME",
        default: "the name given by the application",
        meaning: "`service.name` resource attribute and metric prefix",
        apply: |o, k, v| {
            let name = validate_service_name(k, v).map(|()| v.to_string());
            set(&mut o.builder.service_name, name)
        },
    },
    EnvVar {
        name: "OTEL_SERVICE_INSTANCE_ID",
        default: "the hostname",
        meaning: "`service.instance.id` resource attribute",
        apply: |o, k, v| set(&mut o.builder.service_instance_id, non_empty(k, v).map(Some)),
    },
    EnvVar {
        name: "OTEL_INSECURE",
        default: "true",
        meaning: "Disable TLS for OTLP",
        apply: |o, k, v| set(&mut o.builder.otel_insecure, parse_bool(k, v)),
    },
    EnvVar {
        name: "LOG_LEVEL",
        default: "info",
        meaning:
            "Level of every subsystem without its own variable: `debug`, `info`, `warn`, `error`",
        apply: |o, k, v| set(&mut o.builder.log_level, parse_level(k, v)),
    },
    LOG_LEVEL_SUBSYSTEM,
    EnvVar {
        name: "LOG_STANDARD_FIELDS",
        default: "true",
        meaning: "Write `service`, `version` and `environment` (the resource's values) into every log line, after `subsystem`; `false` where the log shipper adds them",
        apply: |o, k, v| set(&mut o.builder.log_standard_fields, parse_bool(k, v)),
    },
    METRICS_LISTEN,
    OTEL_BAGGAGE_FIELDS,
    EnvVar {
        name: "OTEL_TRACES_SAMPLER_RATIO",
        default: "0.1",
        meaning: "Share of ordinary traces kept (errors and slow traces are always kept): 0 to 1",
        apply: |o, k, v| {
            let ratio = v.trim().parse::<f64>().ok();
            let ratio = ratio.filter(|r| (0.0..=1.0).contains(r));
            let ratio = ratio.ok_or_else(|| Error::invalid(k, v, "a number from 0 to 1, e.g. 0.1"));
            set(&mut o.builder.trace_ratio, ratio)
        },
    },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_ENDPOINT",
        default: "unset",
        meaning: "Standard OTLP endpoint, used when `OTEL_ENDPOINT` is not set",
        apply: |o, k, v| {
            if o.is_set(&OTEL_ENDPOINT) {
                return Ok(());
            }
            set(&mut o.builder.otel_endpoint, parse_endpoint(k, v))
        },
    },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_TIMEOUT",
        default: "10000",
        meaning: "Timeout of one OTLP export, in milliseconds",
        apply: |o, k, v| set(&mut o.builder.export_timeout, parse_millis(k, v)),
    },
    EnvVar {
        name: "OTEL_EXPORTER_OTLP_CERTIFICATE",
        default: "unset",
        meaning: "CA certificate file (PEM) to verify the collector, with `OTEL_INSECURE=false`",
        apply: |o, k, v| {
            let path = non_empty(k, v).map(|p| Some(p.into()));
            set(&mut o.builder.otel_ca_file, path)
        },
    },
    EnvVar {
        name: "OTEL_METRIC_EXPORT_INTERVAL",
        default: "60000",
        meaning: "Interval of the OTLP metrics push, in milliseconds",
        apply: |o, k, v| set(&mut o.builder.metric_export_interval, parse_millis(k, v)),
    },
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    EnvVar {
        name: "OTEL_BSP_SCHEDULE_DELAY",
        default: "500",
        meaning: "Milliseconds before a partial batch of spans is sent",
        apply: |o, k, v| set(&mut o.builder.span_batching.delay, parse_millis(k, v)),
    },
    OTEL_BLRP_MAX_QUEUE_SIZE,
    OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    EnvVar {
        name: "OTEL_BLRP_SCHEDULE_DELAY",
        default: "500",
        meaning: "Milliseconds before a partial batch of log records is sent",
        apply: |o, k, v| set(&mut o.builder.log_batching.delay, parse_millis(k, v)),
    },
    EnvVar {
        name: "EXPORT_PRIORITY",
        default: "idle",
        meaning: "CPU priority of the export thread: `idle` (never slows the service; at saturation spans are dropped and counted), `low` (nice 10) or `normal`",
        apply: |o, k, v| {
            let priority = match v.trim().to_ascii_lowercase().as_str() {
                "idle" => Ok(ExportPriority::Idle),
                "low" => Ok(ExportPriority::Low),
                "normal" => Ok(ExportPriority::Normal),
                _ => Err(Error::invalid(k, v, "one of idle, low, normal")),
            };
            set(&mut o.builder.export_priority, priority)
        },
    },
    EnvVar {
        name: "OTEL_LOGS_EXPORTER",
        default: "otlp",
        meaning: "`otlp` or `none`: whether logs are exported when `OTEL_ENABLED=true`",
        apply: |o, k, v| set(&mut o.builder.export_logs, parse_exporter(k, v)),
    },
    EnvVar {
        name: "OTEL_METRICS_EXPORTER",
        default: "otlp",
        meaning: "`otlp` or `none`: whether metrics are pushed when `OTEL_ENABLED=true` (`/metrics` is always served)",
        apply: |o, k, v| set(&mut o.builder.export_metrics, parse_exporter(k, v)),
    },
    LOG_OUTPUT,
    EnvVar {
        name: "LOG_MAX_FILE_BYTES",
        default: "50MiB",
        meaning: "Size at which the main log file and each resource log file are rotated: bytes, or with `KiB`, `MiB`, `GiB` (at least 1024)",
        apply: |o, k, v| set(&mut o.builder.retention_env.max_file_bytes, parse_bytes(k, v).map(Some)),
    },
    EnvVar {
        name: "LOG_MAX_FILES",
        default: "5",
        meaning: "Rotated files kept per log file (`x.log.1` … `x.log.N`): 1 to 10000",
        apply: |o, k, v| {
            let n = v.trim().parse::<usize>().ok().filter(|n| (1..=10_000).contains(n));
            let n = n.ok_or_else(|| Error::invalid(k, v, "a whole number from 1 to 10000"));
            set(&mut o.builder.retention_env.max_files, n.map(Some))
        },
    },
    EnvVar {
        name: "LOG_MAX_AGE",
        default: "30d",
        meaning: "A log file is rotated once its first line is this old, and rotated files whose last line is older are deleted: e.g. `30d`, `12h`, `90m`, `45s`, or `off`",
        apply: |o, k, v| set(&mut o.builder.retention_env.max_age, parse_age(k, v).map(Some)),
    },
    EnvVar {
        name: "LOG_COMPRESS",
        default: "false",
        meaning: "Gzip rotated log files in the background (`x.log.1.gz`); reading and following still read them",
        apply: |o, k, v| set(&mut o.builder.retention_env.compress, parse_bool(k, v).map(Some)),
    },
    EnvVar {
        name: "RESOURCE_LOG_MAX_BYTES",
        default: "10GiB",
        meaning: "Disk budget of all per-resource log files together; over it the oldest rotated files go first, then the idlest resources' files (counted in `<svc>_resource_log_evictions_total`): a size as for `LOG_MAX_FILE_BYTES`, or `off`",
        apply: |o, k, v| {
            let budget = match v.trim() {
                off if off.eq_ignore_ascii_case("off") => Ok(None),
                _ => parse_bytes(k, v).map(Some).map_err(|_| {
                    let allowed = "a size of at least 1024 bytes such as 512MiB or 10GiB, or off";
                    Error::invalid(k, v, allowed)
                }),
            };
            set(&mut o.builder.retention_env.max_total_bytes, budget.map(Some))
        },
    },
];

/// Named by the error of a log file that cannot be written.
pub(crate) const LOG_OUTPUT: EnvVar = EnvVar {
    name: "LOG_OUTPUT",
    default: "stdout",
    meaning: "Where the main log goes: `stdout`, or `file:PATH` for a file of its own, rotated, compressed and kept as the `LOG_MAX_*` and `LOG_COMPRESS` variables say",
    apply: |o, k, v| {
        let v = v.trim();
        if v.trim().eq_ignore_ascii_case("stdout") {
            o.builder.log_output = LogOutput::Stdout;
            return Ok(());
        }
        let path = v.strip_prefix("file:").filter(|p| !p.trim().is_empty());
        let Some(path) = path else {
            let allowed = "stdout, or file:PATH such as file:/var/log/svc/svc.log";
            return Err(Error::invalid(k, v, allowed));
        };
        match &mut o.builder.log_output {
            LogOutput::File(file) => file.path = path.into(),
            other => *other = LogOutput::file(path),
        }
        o.builder.log_output_from_env = true;
        Ok(())
    },
};

// The entries that other code names (a rule between variables, an error or a warning that names
// the variable) are constants of their own, placed in `TABLE` above.

/// Ours wins over the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub(crate) const OTEL_ENDPOINT: EnvVar = EnvVar {
    name: "OTEL_ENDPOINT",
    default: "127.0.0.1:4317",
    meaning: "OTLP gRPC endpoint",
    apply: |o, k, v| set(&mut o.builder.otel_endpoint, parse_endpoint(k, v)),
};

/// Named by the hint for a bad subsystem name and by the warning about unknown subsystems.
pub(crate) const LOG_LEVEL_SUBSYSTEM: EnvVar = EnvVar {
    name: "LOG_LEVEL_<SUBSYSTEM>",
    default: "`LOG_LEVEL`",
    meaning: "Level of one declared subsystem, e.g. `LOG_LEVEL_INSTANCES=debug`",
    apply: |o, k, v| {
        let level = parse_level(k, v)?;
        // `k` matched the pattern, so it starts with the prefix.
        let subsystem = &k[LOG_LEVEL_SUBSYSTEM.prefix().len()..];
        match position(&o.builder.subsystems, subsystem) {
            Some(i) => o.overridden.subsystem_levels[i] = Some(level),
            None => o.overridden.unknown_level_vars.push(k.to_string()),
        }
        Ok(())
    },
};

/// Named by the error of a listener that cannot bind.
/// The W3C baggage keys copied into request context (its name is in `check_baggage_fields`'s
/// errors).
pub(crate) const OTEL_BAGGAGE_FIELDS: EnvVar = EnvVar {
    name: "OTEL_BAGGAGE_FIELDS",
    default: "unset",
    meaning: "W3C baggage keys copied onto every log line and span of a request (comma-separated, e.g. `user_id,tenant_id`; at most 16)",
    apply: |o, _k, v| {
        o.builder.baggage_fields = v
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        Ok(())
    },
};

pub(crate) const METRICS_LISTEN: EnvVar = EnvVar {
    name: "METRICS_LISTEN",
    default: "127.0.0.1:9464",
    meaning: "Address of the metrics and admin listener",
    apply: |o, k, v| {
        let addr = v.trim().parse().map_err(|_| {
            let allowed = "an IP address and port such as 127.0.0.1:9464 or [::1]:9464";
            Error::invalid(k, v, allowed)
        });
        set(&mut o.builder.metrics_listen, addr)
    },
};

/// The four queue and batch sizes are named by the errors of [`Batching`]'s check.
pub(crate) const OTEL_BSP_MAX_QUEUE_SIZE: EnvVar = EnvVar {
    name: "OTEL_BSP_MAX_QUEUE_SIZE",
    default: "4096",
    meaning: "Spans waiting for export at most (ordinary ones fill 3/4, the rest is kept for error and slow traces); more are dropped and counted",
    apply: |o, k, v| set(&mut o.builder.span_batching.queue_size, parse_count(k, v)),
};

pub(crate) const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: EnvVar = EnvVar {
    name: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    default: "64",
    meaning: "Spans per OTLP request (small batches keep export bursts short): 1 to the queue size",
    apply: |o, k, v| set(&mut o.builder.span_batching.batch_size, parse_count(k, v)),
};

pub(crate) const OTEL_BLRP_MAX_QUEUE_SIZE: EnvVar = EnvVar {
    name: "OTEL_BLRP_MAX_QUEUE_SIZE",
    default: "4096",
    meaning: "Log records waiting for export at most (INFO and DEBUG fill 3/4, the rest is kept for WARN and ERROR); more are dropped and counted",
    apply: |o, k, v| set(&mut o.builder.log_batching.queue_size, parse_count(k, v)),
};

pub(crate) const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: EnvVar = EnvVar {
    name: "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    default: "64",
    meaning: "Log records per OTLP request: 1 to the queue size",
    apply: |o, k, v| set(&mut o.builder.log_batching.batch_size, parse_count(k, v)),
};

// Reading the environment; `apply` below lays it over the builder in `ConfigBuilder::build`.
impl ConfigBuilder {
    /// Reads the variables in [`ENV_VARS`] from the process environment at
    /// [`build`](Self::build); they override the builder's values. A variable that is not valid
    /// UTF-8 is an error. Default: the environment is not read.
    ///
    /// ```
    /// let config = watchpost::Config::builder("svc").from_env().build();
    /// # let _ = config;
    /// ```
    pub fn from_env(mut self) -> Self {
        let mut vars = Vec::new();
        for (k, v) in std::env::vars_os() {
            let Some(k) = k.to_str() else { continue };
            if !is_ours(k) {
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
    /// environment (for tests and embedding). Default: no variables.
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
                .filter(|(k, _)| is_ours(k))
                .collect(),
        );
        self
    }
}

/// What an entry's parser writes to while [`apply`] runs.
pub(super) struct Overrides<'a> {
    builder: &'a mut ConfigBuilder,
    /// Every variable given, so that one entry can defer to another.
    vars: &'a [(String, String)],
    overridden: Overridden,
}

impl Overrides<'_> {
    /// Whether `var` (or for a pattern, one of its variables) was given.
    fn is_set(&self, var: &EnvVar) -> bool {
        self.vars.iter().any(|(k, _)| var.matches(k))
    }
}

/// What the environment decided that the builder has no field for.
pub(super) struct Overridden {
    /// The `LOG_LEVEL_<SUBSYSTEM>` level of each subsystem, by its index in the builder.
    pub(super) subsystem_levels: Vec<Option<Level>>,
    /// The `LOG_LEVEL_<X>` variables that name no declared subsystem.
    pub(super) unknown_level_vars: Vec<String>,
}

impl Overridden {
    /// Nothing overridden, for a builder with `subsystems` subsystems.
    pub(super) fn none(subsystems: usize) -> Self {
        Self {
            subsystem_levels: vec![None; subsystems],
            unknown_level_vars: Vec::new(),
        }
    }
}

/// Applies `vars` to `builder`, each through its entry of [`TABLE`]; names not in the table are
/// ignored. Call it once the builder's subsystems are final.
pub(super) fn apply(
    builder: &mut ConfigBuilder,
    mut vars: Vec<(String, String)>,
) -> Result<Overridden, Error> {
    // Deterministic: apply in sorted order so errors are reported the same way every time.
    vars.sort();
    let mut overrides = Overrides {
        overridden: Overridden::none(builder.subsystems.len()),
        builder,
        vars: &vars,
    };
    for (name, value) in &vars {
        if let Some(var) = lookup(name) {
            (var.apply)(&mut overrides, name, value)?;
        }
    }
    Ok(overrides.overridden)
}

/// Whether Watchpost reads the variable called `name`.
fn is_ours(name: &str) -> bool {
    lookup(name).is_some()
}

fn lookup(name: &str) -> Option<&'static EnvVar> {
    TABLE.iter().find(|var| var.matches(name))
}

/// Stores a parsed value, or passes the parser's error on.
fn set<T>(field: &mut T, parsed: Result<T, Error>) -> Result<(), Error> {
    *field = parsed?;
    Ok(())
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

fn non_empty(input: &str, value: &str) -> Result<String, Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(input, value, "a non-empty value"));
    }
    Ok(value.to_string())
}

fn parse_endpoint(input: &str, value: &str) -> Result<String, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, Subsystem};

    fn build(vars: &[(&str, &str)]) -> Result<Config, Error> {
        Config::builder("procman")
            .subsystem(Subsystem::new("API").target("procman::api"))
            .subsystem(Subsystem::new("INSTANCES").target("procman::instances"))
            .env_vars(vars.iter().copied())
            .build()
    }

    #[test]
    fn invalid_values_name_the_variable_the_value_and_what_is_allowed() {
        for (var, value, allowed) in [
            ("LOG_LEVEL_INSTANCES", "verbose", "debug, info, warn, error"),
            ("LOG_LEVEL", "loud", "debug, info, warn, error"),
            ("OTEL_ENABLED", "maybe", "true, false"),
            ("OTEL_INSECURE", "yes please", "true, false"),
            ("LOG_STANDARD_FIELDS", "sometimes", "true, false"),
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
    fn the_standard_endpoint_applies_only_when_ours_is_not_set() {
        let standard = build(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317")]).unwrap();
        assert_eq!(standard.otel_endpoint(), "http://c:4317");
        // Ours set: the standard one is not even parsed.
        let ours = build(&[
            ("OTEL_ENDPOINT", "d:4317"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "not an endpoint"),
        ])
        .unwrap();
        assert_eq!(ours.otel_endpoint(), "d:4317");
    }

    #[test]
    fn ipv6_metrics_listen_parses() {
        let c = build(&[("METRICS_LISTEN", "[::1]:9000")]).unwrap();
        assert!(c.metrics_listen().is_ipv6());
    }

    #[test]
    fn every_entry_is_found_by_its_own_name_and_env_vars_is_the_table() {
        let mut names: Vec<_> = TABLE.iter().map(|v| v.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), TABLE.len(), "a name is in the table twice");
        // No entry (a pattern, say) shadows another.
        for var in TABLE {
            assert_eq!(lookup(var.name).unwrap().name, var.name);
        }
        assert!(is_ours("LOG_LEVEL_ANYTHING") && !is_ours("LOG_LEVELS") && !is_ours("PATH"));
        let text: Vec<_> = TABLE
            .iter()
            .map(|v| (v.name, v.default, v.meaning))
            .collect();
        assert_eq!(ENV_VARS, text);
    }

    /// Every variable's name is written once in the library's code: in its entry of [`TABLE`].
    ///
    /// The rule, precisely. In every `src/**/*.rs` file of this crate, leave out comments (doc
    /// comments too: they are documentation, and their examples are doctests) and every item
    /// marked `#[cfg(test)]`. In the string literals that remain, count the places where a name
    /// stands as a whole word (no letter, digit or `_` right before or after it) and not right
    /// after a backtick. For the pattern `LOG_LEVEL_<SUBSYSTEM>` the name counted is its prefix,
    /// `LOG_LEVEL_` (so it counts in `LOG_LEVEL_<NAME>` too, not in `LOG_LEVEL_API`). Every count
    /// must be 1.
    ///
    /// Why only string literals: an identifier such as `env::METRICS_LISTEN` is checked by the
    /// compiler, a copy of a name in a string is not. Why not right after a backtick: that is a
    /// Markdown code span in text for a person, such as the README meaning of the standard
    /// endpoint variable, which mentions ours in backticks; no code looks such a string up.
    #[test]
    fn every_variable_name_is_written_once_in_the_library() {
        let src = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
        let mut strings = Vec::new();
        for path in watchpost_testkit::source::rust_files(src) {
            let source = std::fs::read_to_string(&path).unwrap();
            strings.extend(
                string_literals(&source)
                    .into_iter()
                    .map(|s| (s, path.clone())),
            );
        }
        let mut wrong = Vec::new();
        for var in TABLE {
            let found: Vec<_> = strings
                .iter()
                .filter(|(s, _)| count_name(s, var.prefix()) > 0)
                .collect();
            let count: usize = found.iter().map(|(s, _)| count_name(s, var.prefix())).sum();
            if count != 1 {
                wrong.push(format!("{} is written {count} times: {found:?}", var.name));
            }
        }
        assert!(wrong.is_empty(), "{wrong:#?}");
    }

    #[test]
    fn the_name_scanner_skips_comments_test_items_and_markdown() {
        let source = r##"
            // "A" in a comment
            /* "A" /* nested */ "A" */
            /// "A" in a doc comment
            const X: &str = "A, and `A` in prose, and AB";
            const Y: &str = r#"A"#;
            const Z: char = '{';
            fn f<'a>(s: &'a str) -> &'a str { s }
            #[cfg(test)]
            mod tests { fn g() { let _ = ("A", '}'); } }
            const W: &[u8] = b"A";
        "##;
        let strings = string_literals(source);
        let counts: usize = strings.iter().map(|s| count_name(s, "A")).sum();
        assert_eq!(counts, 3, "{strings:?}");
    }

    /// The string literals of Rust `source`, as written (escapes unresolved), outside comments and
    /// items marked `#[cfg(test)]`.
    fn string_literals(source: &str) -> Vec<String> {
        let s: Vec<char> = source.chars().collect();
        let at = |i: usize, text: &str| {
            text.chars()
                .enumerate()
                .all(|(j, c)| s.get(i + j) == Some(&c))
        };
        let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
        let mut strings = Vec::new();
        let mut depth = 0;
        // After `#[cfg(test)]`, until its item starts (at a `{`) or ends (at a `;`).
        let mut test_attribute = false;
        // Inside a test item: the depth its closing `}` returns to.
        let mut test_item_until: Option<usize> = None;
        let mut i = 0;
        while i < s.len() {
            let start = i;
            if at(i, "//") {
                while i < s.len() && s[i] != '\n' {
                    i += 1;
                }
            } else if at(i, "/*") {
                let mut open = 0;
                loop {
                    if at(i, "/*") {
                        open += 1;
                        i += 2;
                    } else if at(i, "*/") {
                        open -= 1;
                        i += 2;
                        if open == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            } else if at(i, "#[cfg(test)]") {
                test_attribute = true;
                i += "#[cfg(test)]".len();
            } else if word(s.get(i)) {
                while word(s.get(i)) {
                    i += 1;
                }
                let raw = matches!(&s[start..i], ['r'] | ['b', 'r']);
                if raw && matches!(s.get(i), Some('#' | '"')) {
                    let hashes = s[i..].iter().take_while(|c| **c == '#').count();
                    i += hashes;
                    if s.get(i) == Some(&'"') {
                        let end = format!("\"{}", "#".repeat(hashes));
                        let from = i + 1;
                        i = from;
                        while !at(i, &end) {
                            i += 1;
                        }
                        if test_item_until.is_none() {
                            strings.push(s[from..i].iter().collect());
                        }
                        i += end.len();
                    } // else a raw identifier such as `r#type`
                }
            } else if s[i] == '"' {
                i += 1;
                while s[i] != '"' {
                    i += if s[i] == '\\' { 2 } else { 1 };
                }
                if test_item_until.is_none() {
                    strings.push(s[start + 1..i].iter().collect());
                }
                i += 1;
            } else if s[i] == '\'' {
                if s.get(i + 1) == Some(&'\\') {
                    i += 3;
                    while s[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if s.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1; // a lifetime
                }
            } else {
                match s[i] {
                    '{' => {
                        if std::mem::take(&mut test_attribute) && test_item_until.is_none() {
                            test_item_until = Some(depth);
                        }
                        depth += 1;
                    }
                    '}' => {
                        depth -= 1;
                        if test_item_until == Some(depth) {
                            test_item_until = None;
                        }
                    }
                    ';' => test_attribute = false,
                    _ => {}
                }
                i += 1;
            }
        }
        strings
    }

    /// How often `name` stands in `text` as a whole word, not right after a backtick.
    fn count_name(text: &str, name: &str) -> usize {
        let word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        text.match_indices(name)
            .filter(|(at, _)| {
                let before = text[..*at].chars().next_back();
                let after = text[at + name.len()..].chars().next();
                !word(before) && before != Some('`') && !word(after)
            })
            .count()
    }
}
