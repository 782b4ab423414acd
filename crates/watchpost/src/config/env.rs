//! The environment variables Watchpost reads, as one typed table, [`TABLE`]: each entry holds a
//! variable's name, its documented default and meaning, and the function that parses a value and
//! stores it. [`ConfigBuilder::build`] looks every given variable up in the table and lets its entry
//! apply it, and the public [`ENV_VARS`] is the same table read as text.
//!
//! Each name is written once in the library, in its entry. Whatever else needs a name (the error
//! of a batch larger than its queue, the listener's error, the warning about an unknown
//! `LOG_LEVEL_<X>`) reads it from the entry's constant; a unit test below holds the library to this.
//!
//! Watchpost's own variables are here; the OpenTelemetry specification's are in `otel_env.rs`
//! (both are rows of the one table).

use tracing::Level;

use super::endpoint::{check_endpoint, shown_endpoint, Endpoint, EndpointUse};
use super::log_output::{parse_age, parse_bytes};
use super::otel_env::*;
use super::otlp::OtlpSignal;
use super::{position, validate_service_name, Batching, ConfigBuilder, ExportPriority, LogOutput};
use crate::error::Error;

const LEVELS_ALLOWED: &str = "one of debug, info, warn, error";
const BOOL_ALLOWED: &str = "one of true, false, 1, 0";

/// The environment variables Watchpost reads, with their defaults, as `(name, default, meaning)`.
///
/// This table is the source of truth for the README's configuration table; a test fails if the two
/// differ. A name with a `<PART>` in it stands for every variable with that name and something in
/// place of `<PART>`: `LOG_LEVEL_<SUBSYSTEM>` for `LOG_LEVEL_API`, and
/// `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` for the `TRACES`, `METRICS` and `LOGS` variables.
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
/// `LOG_LEVEL_INSTANCES` and every other name that starts with its [`prefix`](Self::prefix);
/// `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT` for the names with `TRACES`, `METRICS` or `LOGS` in
/// place of `<SIGNAL>`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvVar {
    /// The name, or the pattern of the names.
    pub(crate) name: &'static str,
    /// The default, as the README documents it (Markdown).
    pub(crate) default: &'static str,
    /// What the variable does, as the README documents it (Markdown).
    pub(crate) meaning: &'static str,
    /// Whether its values are secrets (the OTLP headers carry credentials): no error, warning or
    /// `Debug` output ever shows a value of it.
    pub(crate) sensitive: bool,
    /// Parses and stores a value of the variable.
    pub(super) apply: Apply,
}

/// Parses `value`, the value of the variable called `name` (the entry's name, or for a pattern the
/// name that matched it), and stores it. An error names the variable, the value and what is
/// allowed.
type Apply = fn(&mut Overrides<'_>, &str, &str) -> Result<(), Error>;

impl EnvVar {
    /// The fixed part of the name before its `<PART>`: all of it for a plain name.
    pub(crate) fn prefix(&self) -> &'static str {
        match self.name.split_once('<') {
            Some((prefix, _)) => prefix,
            None => self.name,
        }
    }

    /// The placeholder of a pattern (`SIGNAL`) and the fixed part after it (`_ENDPOINT`).
    fn placeholder(&self) -> Option<(&'static str, &'static str)> {
        let (_, rest) = self.name.split_once('<')?;
        rest.split_once('>')
    }

    /// Whether `name` is this variable, or for a pattern one of its variables.
    fn matches(&self, name: &str) -> bool {
        let Some((placeholder, suffix)) = self.placeholder() else {
            return name == self.name;
        };
        let part = name
            .strip_prefix(self.prefix())
            .and_then(|rest| rest.strip_suffix(suffix));
        match part {
            Some("") | None => false,
            Some(part) => placeholder != "SIGNAL" || OtlpSignal::from_env_part(part).is_some(),
        }
    }
}

/// Every variable Watchpost reads, in the README's order.
pub(crate) const TABLE: &[EnvVar] = &[
    ENV,
    OTEL_ENABLED,
    OTEL_SDK_DISABLED,
    OTEL_ENDPOINT,
    OTEL_SERVICE_NAME,
    OTEL_SERVICE_INSTANCE_ID,
    OTEL_RESOURCE_ATTRIBUTES,
    OTEL_INSECURE,
    EnvVar {
        name: "LOG_LEVEL",
        default: "info",
        meaning:
            "Level of every subsystem without its own variable: `debug`, `info`, `warn`, `error`",
        sensitive: false,
        apply: |o, k, v| set(&mut o.builder.log_level, parse_level(k, v)),
    },
    LOG_LEVEL_SUBSYSTEM,
    EnvVar {
        name: "LOG_STANDARD_FIELDS",
        default: "true",
        meaning: "Write `service`, `version` and `environment` (the resource's values) into every log line, after `subsystem`; `false` where the log shipper adds them",
        sensitive: false,
        apply: |o, k, v| set(&mut o.builder.log_standard_fields, parse_bool(k, v)),
    },
    METRICS_LISTEN,
    OTEL_BAGGAGE_FIELDS,
    OTEL_TRACES_SAMPLER_RATIO,
    OTEL_TRACES_SAMPLER,
    OTEL_TRACES_SAMPLER_ARG,
    OTEL_PROPAGATORS,
    OTEL_EXPORTER_OTLP_ENDPOINT,
    OTEL_EXPORTER_OTLP_PROTOCOL,
    OTEL_EXPORTER_OTLP_HEADERS,
    OTEL_EXPORTER_OTLP_INSECURE,
    OTEL_EXPORTER_OTLP_COMPRESSION,
    OTEL_EXPORTER_OTLP_TIMEOUT,
    OTEL_EXPORTER_OTLP_CERTIFICATE,
    OTEL_EXPORTER_OTLP_SIGNAL_ENDPOINT,
    OTEL_EXPORTER_OTLP_SIGNAL_PROTOCOL,
    OTEL_EXPORTER_OTLP_SIGNAL_HEADERS,
    OTEL_EXPORTER_OTLP_SIGNAL_INSECURE,
    OTEL_EXPORTER_OTLP_SIGNAL_COMPRESSION,
    OTEL_EXPORTER_OTLP_SIGNAL_TIMEOUT,
    OTEL_EXPORTER_OTLP_SIGNAL_CERTIFICATE,
    OTEL_METRIC_EXPORT_INTERVAL,
    OTEL_BSP_MAX_QUEUE_SIZE,
    OTEL_BSP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BSP_SCHEDULE_DELAY,
    OTEL_BLRP_MAX_QUEUE_SIZE,
    OTEL_BLRP_MAX_EXPORT_BATCH_SIZE,
    OTEL_BLRP_SCHEDULE_DELAY,
    EnvVar {
        name: "EXPORT_PRIORITY",
        default: "low",
        meaning: "CPU priority of the export thread: `low` (nice 10: a small steady share when the cores are busy), `idle` (only CPU the service leaves idle; at saturation spans and records are dropped and counted) or `normal`",
        sensitive: false,
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
    OTEL_TRACES_EXPORTER,
    OTEL_LOGS_EXPORTER,
    OTEL_METRICS_EXPORTER,
    LOG_OUTPUT,
    EnvVar {
        name: "LOG_MAX_FILE_BYTES",
        default: "50MiB",
        meaning: "Size at which the main log file and each resource log file are rotated: bytes, or with `KiB`, `MiB`, `GiB` (at least 1024)",
        sensitive: false,
        apply: |o, k, v| set(&mut o.builder.retention_env.max_file_bytes, parse_bytes(k, v).map(Some)),
    },
    EnvVar {
        name: "LOG_MAX_FILES",
        default: "5",
        meaning: "Rotated files kept per log file (`x.log.1` … `x.log.N`): 1 to 10000",
        sensitive: false,
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
        sensitive: false,
        apply: |o, k, v| set(&mut o.builder.retention_env.max_age, parse_age(k, v).map(Some)),
    },
    LOG_COMPRESS,
    EnvVar {
        name: "RESOURCE_LOG_MAX_BYTES",
        default: "10GiB",
        meaning: "Disk budget of all per-resource log files together; over it the oldest rotated files go first, then the idlest resources' files (counted in `<svc>_resource_log_evictions_total`): a size as for `LOG_MAX_FILE_BYTES`, or `off`",
        sensitive: false,
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
    EnvVar {
        name: "READY_EXPORT_FAILURE",
        default: "off",
        meaning: "`/readyz` answers 503 once OTLP export has been failing this long: e.g. `90s`, `5m`; `off`: reported in the body, never unready (opt in: a collector outage would take every replica out)",
        sensitive: false,
        apply: |o, k, v| set(&mut o.builder.readiness.export_failure, parse_age(k, v)),
    },
    EnvVar {
        name: "READY_LOG_LOSS",
        default: "off",
        meaning: "`/readyz` answers 503 for this long after log lines were lost: e.g. `30s`, `1m`; `off`: reported in the body, never unready (opt in: a logging burst would take the busiest replicas out)",
        sensitive: false,
        apply: |o, k, v| set(&mut o.builder.readiness.log_loss, parse_age(k, v)),
    },
];

/// Named by the error of a build without the `otlp` feature.
pub(crate) const OTEL_ENABLED: EnvVar = EnvVar {
    name: "OTEL_ENABLED",
    default: "false",
    meaning: "Enable OTLP export (`true`/`false`)",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.otel_enabled, parse_bool(k, v)),
};

/// Named by the error of a build without the `gzip` feature.
pub(crate) const LOG_COMPRESS: EnvVar = EnvVar {
    name: "LOG_COMPRESS",
    default: "false",
    meaning: "Gzip rotated log files in the background (`x.log.1.gz`); reading and following still read them",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.retention_env.compress, parse_bool(k, v).map(Some)),
};

/// Named by the error of a log file that cannot be written.
pub(crate) const LOG_OUTPUT: EnvVar = EnvVar {
    name: "LOG_OUTPUT",
    default: "stdout",
    meaning: "Where the main log goes: `stdout`, or `file:PATH` for a file of its own, rotated, compressed and kept as the `LOG_MAX_*` and `LOG_COMPRESS` variables say",
    sensitive: false,
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

/// Wins over `deployment.environment.name` in `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) const ENV: EnvVar = EnvVar {
    name: "ENV",
    default: "unset",
    meaning: "Deployment environment (`deployment.environment.name` resource attribute)",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.environment, non_empty(k, v)),
};

/// Wins over `service.name` in `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) const OTEL_SERVICE_NAME: EnvVar = EnvVar {
    name: "OTEL_SERVICE_NAME",
    default: "the name given by the application",
    meaning: "`service.name` resource attribute and metric prefix (wins over `service.name` in `OTEL_RESOURCE_ATTRIBUTES`)",
    sensitive: false,
    apply: |o, k, v| {
        let name = validate_service_name(k, v).map(|()| v.to_string());
        set(&mut o.builder.service_name, name)
    },
};

/// Wins over `service.instance.id` in `OTEL_RESOURCE_ATTRIBUTES`.
pub(crate) const OTEL_SERVICE_INSTANCE_ID: EnvVar = EnvVar {
    name: "OTEL_SERVICE_INSTANCE_ID",
    default: "the hostname",
    meaning: "`service.instance.id` resource attribute",
    sensitive: false,
    apply: |o, k, v| {
        set(
            &mut o.builder.service_instance_id,
            non_empty(k, v).map(Some),
        )
    },
};

/// Ours wins over the standard `OTEL_EXPORTER_OTLP_INSECURE`.
pub(crate) const OTEL_INSECURE: EnvVar = EnvVar {
    name: "OTEL_INSECURE",
    default: "true",
    meaning: "Alias of `OTEL_EXPORTER_OTLP_INSECURE` that wins over it: plaintext (`true`) or TLS (`false`) for an endpoint without a scheme; `true` is the default for `OTEL_ENDPOINT`'s, the specification's `false` for the standard variables'",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.otlp.insecure, parse_bool(k, v).map(Some)),
};

/// Ours wins over the ratio `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` give.
pub(crate) const OTEL_TRACES_SAMPLER_RATIO: EnvVar = EnvVar {
    name: "OTEL_TRACES_SAMPLER_RATIO",
    default: "0.1",
    meaning: "Share of ordinary traces kept (errors and slow traces are always kept): 0 to 1; wins over `OTEL_TRACES_SAMPLER`",
    sensitive: false,
    apply: |o, k, v| {
        let ratio = v.trim().parse::<f64>().ok();
        let ratio = ratio.filter(|r| (0.0..=1.0).contains(r));
        let ratio = ratio.ok_or_else(|| Error::invalid(k, v, "a number from 0 to 1, e.g. 0.1"));
        set(&mut o.builder.trace_ratio, ratio)
    },
};

/// Ours wins over the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub(crate) const OTEL_ENDPOINT: EnvVar = EnvVar {
    name: "OTEL_ENDPOINT",
    default: "unset",
    meaning: "Alias of `OTEL_EXPORTER_OTLP_ENDPOINT` that wins over it: `host:port` or a URL; unless a protocol variable says otherwise it is OTLP/gRPC (as `ConfigBuilder::otel_endpoint`), plaintext for `host:port` unless `OTEL_INSECURE=false`",
    sensitive: false,
    apply: |o, k, v| {
        let value = check_endpoint(k, v, EndpointUse::Base, true)?;
        let source = k.to_string();
        o.builder.otlp.endpoint = Some(Endpoint {
            value,
            ours: true,
            source,
        });
        Ok(())
    },
};

/// Named by the hint for a bad subsystem name and by the warning about unknown subsystems.
pub(crate) const LOG_LEVEL_SUBSYSTEM: EnvVar = EnvVar {
    name: "LOG_LEVEL_<SUBSYSTEM>",
    default: "`LOG_LEVEL`",
    meaning: "Level of one declared subsystem, e.g. `LOG_LEVEL_INSTANCES=debug`",
    sensitive: false,
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
    sensitive: false,
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
    sensitive: false,
    apply: |o, k, v| {
        let addr = v.trim().parse().map_err(|_| {
            let allowed = "an IP address and port such as 127.0.0.1:9464 or [::1]:9464";
            Error::invalid(k, v, allowed)
        });
        set(&mut o.builder.metrics_listen, addr)
    },
};
// Reading the environment; `apply` below lays it over the builder in `ConfigBuilder::build`.
impl ConfigBuilder {
    /// Reads the variables in [`ENV_VARS`] from the process environment at
    /// [`build`](Self::build); they override the builder's values. A variable that is not valid
    /// UTF-8 is an error (which shows no value of a variable holding credentials). Default: the
    /// environment is not read.
    ///
    /// ```
    /// let config = watchpost::Config::builder("svc").from_env().build();
    /// # let _ = config;
    /// ```
    pub fn from_env(mut self) -> Self {
        let (vars, error) = read_env(std::env::vars_os());
        self.env = Some(vars);
        if let Some(error) = error {
            self.env_error.get_or_insert(error);
        }
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

/// The variables of the table among `vars` (a process environment), and an error for the first
/// one that is not valid UTF-8: it shows the value (lossily) only for a variable that is not
/// [`sensitive`](EnvVar::sensitive).
pub(super) fn read_env(
    vars: impl IntoIterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> (Vec<(String, String)>, Option<Error>) {
    let mut read = Vec::new();
    let mut error = None;
    for (k, v) in vars {
        let Some(k) = k.to_str() else { continue };
        let Some(var) = lookup(k) else { continue };
        match v.into_string() {
            Ok(v) => read.push((k.to_string(), v)),
            Err(v) => {
                let shown = match var.sensitive {
                    true => "[REDACTED]".into(),
                    // An endpoint may carry credentials: shown as every endpoint error shows it.
                    false if var.name.ends_with("_ENDPOINT") => {
                        shown_endpoint(&v.to_string_lossy())
                    }
                    false => v.to_string_lossy().into_owned(),
                };
                error.get_or_insert(Error::invalid(k, shown, "valid UTF-8"));
            }
        }
    }
    (read, error)
}

/// Whether the values of the variable called `name` are secrets (see [`EnvVar::sensitive`]).
pub(super) fn is_sensitive(name: &str) -> bool {
    lookup(name).is_some_and(|var| var.sensitive)
}

/// What an entry's parser writes to while [`apply`] runs.
pub(super) struct Overrides<'a> {
    pub(super) builder: &'a mut ConfigBuilder,
    /// Every variable given, so that one entry can defer to another.
    vars: &'a [(String, String)],
    overridden: Overridden,
}

impl Overrides<'_> {
    /// Notes a value that is ignored, in whole or in part (logged once at start).
    pub(super) fn warn(&mut self, warning: String) {
        self.overridden.warnings.push(warning);
    }

    /// Whether `var` (or for a pattern, one of its variables) was given (an empty value of a
    /// variable of the specification is not given).
    pub(super) fn is_set(&self, var: &EnvVar) -> bool {
        self.value(var).is_some()
    }

    /// The value given for `var` (or for a pattern, one of its variables).
    pub(super) fn value(&self, var: &EnvVar) -> Option<&str> {
        self.vars
            .iter()
            .find(|(k, v)| var.matches(k) && !unset(var, v))
            .map(|(_, v)| v.as_str())
    }
}

/// Whether `value` means "unset": an empty value of a variable of the OpenTelemetry
/// specification, as the specification says (Watchpost's own refuse an empty value).
fn unset(var: &EnvVar, value: &str) -> bool {
    value.trim().is_empty() && super::otel_spec::is_spec_variable(var.name)
}

/// What the environment decided that the builder has no field for.
pub(super) struct Overridden {
    /// The `LOG_LEVEL_<SUBSYSTEM>` level of each subsystem, by its index in the builder.
    pub(super) subsystem_levels: Vec<Option<Level>>,
    /// The `LOG_LEVEL_<X>` variables that name no declared subsystem.
    pub(super) unknown_level_vars: Vec<String>,
    /// Values ignored in whole or in part, each naming its variable (logged once at start).
    pub(super) warnings: Vec<String>,
}

impl Overridden {
    /// Nothing overridden, for a builder with `subsystems` subsystems.
    pub(super) fn none(subsystems: usize) -> Self {
        Self {
            subsystem_levels: vec![None; subsystems],
            unknown_level_vars: Vec::new(),
            warnings: Vec::new(),
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
        if let Some(var) = lookup(name).filter(|var| !unset(var, value)) {
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
pub(super) fn set<T>(field: &mut T, parsed: Result<T, Error>) -> Result<(), Error> {
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

pub(super) fn parse_millis(input: &str, value: &str) -> Result<std::time::Duration, Error> {
    value
        .trim()
        .parse::<u64>()
        .ok()
        .filter(|ms| (1..=3_600_000).contains(ms))
        .map(std::time::Duration::from_millis)
        .ok_or_else(|| Error::invalid(input, value, "milliseconds from 1 to 3600000"))
}

pub(super) fn parse_count(input: &str, value: &str) -> Result<usize, Error> {
    value
        .trim()
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=Batching::MAX_QUEUE).contains(n))
        .ok_or_else(|| Error::invalid(input, value, "a whole number from 1 to 1000000"))
}

pub(super) fn non_empty(input: &str, value: &str) -> Result<String, Error> {
    if value.trim().is_empty() {
        return Err(Error::invalid(input, value, "a non-empty value"));
    }
    Ok(value.to_string())
}

#[cfg(test)]
#[path = "env_tests.rs"]
mod tests;
