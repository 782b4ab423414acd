//! The OpenTelemetry specification's environment variables ("SDK environment variables" and
//! "OTLP exporter configuration"): their entries of the table in `env.rs`, and their parsers.
//!
//! Watchpost's own names (`OTEL_ENDPOINT`, `OTEL_INSECURE`, `OTEL_TRACES_SAMPLER_RATIO`) stay, as
//! aliases that win over the standard ones. A value of one of the specification's lists of
//! names (exporters, propagators, the sampler, the protocol, the compression) that Watchpost does
//! not know or cannot honour is ignored with a warning, as the specification says: the warnings
//! are collected in [`Config::warnings`](super::Config::warnings) and logged once at start. A
//! value that is malformed (a number, a URL, a boolean, a header list) is an error naming the
//! variable, the value and what is allowed. An empty value is the same as an unset variable, as
//! the specification says. Header values are credentials: no error, warning or `Debug` output
//! shows them.
//!
//! What Watchpost does with every variable of the specification, read or not, is the table in
//! `otel_spec.rs`, rendered into the README.

use super::endpoint::{check_endpoint, Endpoint, EndpointUse};
use super::env::{
    non_empty, parse_count, parse_millis, set, EnvVar, Overrides, ENV, OTEL_ENDPOINT,
    OTEL_INSECURE, OTEL_SERVICE_INSTANCE_ID, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER_RATIO,
};
use super::otlp::{CaFile, Headers, OtlpCompression, OtlpProtocol, OtlpSettings, OtlpSignal};
use super::{validate_service_name, ConfigBuilder};
use crate::error::Error;

pub(crate) const OTEL_SDK_DISABLED: EnvVar = EnvVar {
    name: "OTEL_SDK_DISABLED",
    default: "false",
    meaning: "`true` turns all OTLP export off, whatever `OTEL_ENABLED` says (log lines, their trace ids and `/metrics` stay)",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.sdk_disabled, parse_spec_bool(k, v)),
};

pub(crate) const OTEL_RESOURCE_ATTRIBUTES: EnvVar = EnvVar {
    name: "OTEL_RESOURCE_ATTRIBUTES",
    default: "unset",
    meaning: "Resource attributes of every exported span, metric and log record: `key=value` pairs, comma-separated, values percent-decoded; `service.name`, `service.version`, `service.instance.id` and `deployment.environment.name` also set the log lines' fields (`OTEL_SERVICE_NAME`, `OTEL_SERVICE_INSTANCE_ID` and `ENV` win over them)",
    sensitive: false,
    apply: |o, k, v| {
        for (key, value) in parse_pairs(k, v, "key=value pairs such as team=payments,region=eu%2Dwest")? {
            // The dedicated variables win over their attribute.
            let dedicated = match key.as_str() {
                "service.name" => Some(&OTEL_SERVICE_NAME),
                "service.instance.id" => Some(&OTEL_SERVICE_INSTANCE_ID),
                "deployment.environment.name" => Some(&ENV),
                _ => None,
            };
            if dedicated.is_some_and(|var| o.is_set(var)) {
                continue;
            }
            if key == "service.name" {
                validate_service_name(&format!("{k} (service.name)"), &value)?;
            }
            o.builder.set_resource_attribute(key, value);
        }
        Ok(())
    },
};

const SAMPLERS_KNOWN: &str = "parentbased_always_on, parentbased_always_off, parentbased_traceidratio, always_on, always_off, traceidratio";

/// Mapped onto the tail sampler's ratio; what it cannot honour is in `otel_spec.rs`.
pub(crate) const OTEL_TRACES_SAMPLER: EnvVar = EnvVar {
    name: "OTEL_TRACES_SAMPLER",
    default: "unset",
    meaning: "The sampler, as a ratio of ordinary traces kept: `always_on` and `parentbased_always_on` keep all, `always_off` and `parentbased_always_off` none, `traceidratio` and `parentbased_traceidratio` the ratio `OTEL_TRACES_SAMPLER_ARG`; a caller's sampled flag is always followed, error and slow traces always kept; `OTEL_TRACES_SAMPLER_RATIO` wins",
    sensitive: false,
    apply: |o, k, v| {
        let ratio = match v.trim().to_ascii_lowercase().as_str() {
            "always_on" | "parentbased_always_on" => 1.0,
            "always_off" | "parentbased_always_off" => 0.0,
            "traceidratio" | "parentbased_traceidratio" => match o.value(&OTEL_TRACES_SAMPLER_ARG) {
                Some(arg) => parse_ratio(OTEL_TRACES_SAMPLER_ARG.name, arg)?,
                None => 1.0,
            },
            _ => {
                o.warn(format!(
                    "{k}={v}: not a sampler Watchpost supports ({SAMPLERS_KNOWN}; jaeger_remote and xray are not supported), ignored: the ratio stays {}",
                    o.builder.trace_ratio
                ));
                return Ok(());
            }
        };
        if !o.is_set(&OTEL_TRACES_SAMPLER_RATIO) {
            o.builder.trace_ratio = ratio;
        }
        Ok(())
    },
};

/// Read by `OTEL_TRACES_SAMPLER`'s entry (alone it means nothing, as the specification says).
pub(crate) const OTEL_TRACES_SAMPLER_ARG: EnvVar = EnvVar {
    name: "OTEL_TRACES_SAMPLER_ARG",
    default: "`1.0`",
    meaning: "The ratio of `traceidratio` and `parentbased_traceidratio`: 0 to 1",
    sensitive: false,
    apply: |_, _, _| Ok(()),
};

pub(crate) const OTEL_PROPAGATORS: EnvVar = EnvVar {
    name: "OTEL_PROPAGATORS",
    default: "tracecontext,baggage",
    meaning: "`tracecontext,baggage`: W3C Trace Context and Baggage are always both propagated; any other list is warned about at start and otherwise ignored",
    sensitive: false,
    apply: |o, k, v| {
        let names = names(v);
        let others: Vec<&str> = (names.iter().map(String::as_str))
            .filter(|n| !matches!(*n, "tracecontext" | "baggage"))
            .collect();
        let missing: Vec<&str> = (["tracecontext", "baggage"].into_iter())
            .filter(|p| !names.iter().any(|n| n == p))
            .collect();
        if !others.is_empty() || !missing.is_empty() {
            let mut what = Vec::new();
            if !others.is_empty() {
                what.push(format!("{} not supported, ignored", others.join(", ")));
            }
            if !missing.is_empty() {
                what.push(format!("{} propagated anyway", missing.join(" and ")));
            }
            o.warn(format!(
                "{k}={v}: {}; Watchpost always propagates W3C tracecontext and baggage, and nothing else",
                what.join("; ")
            ));
        }
        Ok(())
    },
};

pub(crate) const OTEL_TRACES_EXPORTER: EnvVar = EnvVar {
    name: "OTEL_TRACES_EXPORTER",
    default: "otlp",
    meaning: "`otlp` or `none` (any case; a comma-separated list exports if it has `otlp`, other names are warned about and ignored): whether spans are exported when `OTEL_ENABLED=true`",
    sensitive: false,
    apply: |o, k, v| {
        if let Some(on) = exporter(o, k, v, None) {
            o.builder.export_traces = on;
        }
        Ok(())
    },
};

pub(crate) const OTEL_LOGS_EXPORTER: EnvVar = EnvVar {
    name: "OTEL_LOGS_EXPORTER",
    default: "otlp",
    meaning: "`otlp` or `none` (as `OTEL_TRACES_EXPORTER`): whether logs are exported when `OTEL_ENABLED=true` (the JSON lines are always written)",
    sensitive: false,
    apply: |o, k, v| {
        if let Some(on) = exporter(o, k, v, None) {
            o.builder.export_logs = on;
        }
        Ok(())
    },
};

pub(crate) const OTEL_METRICS_EXPORTER: EnvVar = EnvVar {
    name: "OTEL_METRICS_EXPORTER",
    default: "otlp",
    meaning: "`otlp`, `prometheus` or `none` (as `OTEL_TRACES_EXPORTER`): whether metrics are pushed over OTLP when `OTEL_ENABLED=true`; `prometheus` alone pushes nothing (`/metrics` is always served)",
    sensitive: false,
    apply: |o, k, v| {
        if let Some(on) = exporter(o, k, v, Some("prometheus")) {
            o.builder.export_metrics = on;
        }
        Ok(())
    },
};

pub(crate) const OTEL_METRIC_EXPORT_INTERVAL: EnvVar = EnvVar {
    name: "OTEL_METRIC_EXPORT_INTERVAL",
    default: "60000",
    meaning: "Interval of the OTLP metrics push, in milliseconds",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.metric_export_interval, parse_millis(k, v)),
};

/// The four queue and batch sizes are named by the errors of [`Batching`](super::Batching)'s
/// check.
pub(crate) const OTEL_BSP_MAX_QUEUE_SIZE: EnvVar = EnvVar {
    name: "OTEL_BSP_MAX_QUEUE_SIZE",
    default: "8192",
    meaning: "Spans waiting for export at most (ordinary ones fill 3/4, the rest is kept for error and slow traces); more are dropped and counted",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.span_batching.queue_size, parse_count(k, v)),
};

pub(crate) const OTEL_BSP_MAX_EXPORT_BATCH_SIZE: EnvVar = EnvVar {
    name: "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    default: "512",
    meaning: "Spans per OTLP request (up to 4 requests per signal in flight): 1 to the queue size",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.span_batching.batch_size, parse_count(k, v)),
};

pub(crate) const OTEL_BLRP_MAX_QUEUE_SIZE: EnvVar = EnvVar {
    name: "OTEL_BLRP_MAX_QUEUE_SIZE",
    default: "8192",
    meaning: "Log records waiting for export at most (INFO and DEBUG fill 3/4, the rest is kept for WARN and ERROR); more are dropped and counted",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.log_batching.queue_size, parse_count(k, v)),
};

pub(crate) const OTEL_BLRP_MAX_EXPORT_BATCH_SIZE: EnvVar = EnvVar {
    name: "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE",
    default: "512",
    meaning: "Log records per OTLP request: 1 to the queue size",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.log_batching.batch_size, parse_count(k, v)),
};

pub(crate) const OTEL_BSP_SCHEDULE_DELAY: EnvVar = EnvVar {
    name: "OTEL_BSP_SCHEDULE_DELAY",
    default: "500",
    meaning: "Milliseconds before a partial batch of spans is sent",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.span_batching.delay, parse_millis(k, v)),
};

pub(crate) const OTEL_BLRP_SCHEDULE_DELAY: EnvVar = EnvVar {
    name: "OTEL_BLRP_SCHEDULE_DELAY",
    default: "500",
    meaning: "Milliseconds before a partial batch of log records is sent",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.log_batching.delay, parse_millis(k, v)),
};

// The OTLP exporter: general settings, then the per-signal ones (`<SIGNAL>` is `TRACES`,
// `METRICS` or `LOGS`), which win over them.

/// Ours (`OTEL_ENDPOINT`) wins over it.
pub(crate) const OTEL_EXPORTER_OTLP_ENDPOINT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: "http://localhost:4318",
    meaning: "Base endpoint of every signal, a URL: for OTLP/HTTP `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended; with the `grpc` protocol it is used as it is (default `http://localhost:4317`)",
    sensitive: false,
    apply: |o, k, v| {
        if o.is_set(&OTEL_ENDPOINT) {
            return Ok(());
        }
        let value = check_endpoint(k, v, EndpointUse::Base, false)?;
        let source = k.to_string();
        o.builder.otlp.endpoint = Some(Endpoint {
            value,
            ours: false,
            source,
        });
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_PROTOCOL: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_PROTOCOL",
    default: "http/protobuf",
    meaning: "`http/protobuf` or `grpc` (another value is warned about and ignored); when no protocol is set, an endpoint from `OTEL_ENDPOINT` (or `ConfigBuilder::otel_endpoint`) means `grpc`, any other `http/protobuf`",
    sensitive: false,
    apply: |o, k, v| {
        if let Some(protocol) = protocol(o, k, v) {
            o.builder.otlp.protocol = Some(protocol);
        }
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_HEADERS: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_HEADERS",
    default: "unset",
    meaning: "Headers of every OTLP request (gRPC metadata, HTTP headers), e.g. `authorization=Bearer%20abc,x-team=a`: comma-separated, values percent-decoded; never logged",
    sensitive: true,
    apply: |o, k, v| {
        let parsed = parse_headers(k, v)?;
        let headers = o.builder.otlp.headers.get_or_insert_with(Headers::default);
        headers.merge(&parsed);
        Ok(())
    },
};

/// Ours (`OTEL_INSECURE`) wins over it.
pub(crate) const OTEL_EXPORTER_OTLP_INSECURE: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_INSECURE",
    default: "false",
    meaning: "For an endpoint without a scheme (`host:port`): `true` plaintext, `false` TLS; an `http://` or `https://` URL decides by itself",
    sensitive: false,
    apply: |o, k, v| {
        if o.is_set(&OTEL_INSECURE) {
            return Ok(());
        }
        set(&mut o.builder.otlp.insecure, parse_spec_bool(k, v).map(Some))
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_COMPRESSION: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_COMPRESSION",
    default: "none",
    meaning:
        "`gzip` or `none` (another value is warned about and ignored): compression of OTLP requests",
    sensitive: false,
    apply: |o, k, v| {
        if let Some(compression) = compression(o, k, v) {
            o.builder.otlp.compression = Some(compression);
        }
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_TIMEOUT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_TIMEOUT",
    default: "10000",
    meaning:
        "Timeout of one OTLP export, in milliseconds (1 to 3600000: an export is never unbounded)",
    sensitive: false,
    apply: |o, k, v| set(&mut o.builder.export_timeout, parse_millis(k, v)),
};

pub(crate) const OTEL_EXPORTER_OTLP_CERTIFICATE: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_CERTIFICATE",
    default: "unset",
    meaning: "CA certificate file (PEM) trusted besides the system's roots to verify the collector over TLS",
    sensitive: false,
    apply: |o, k, v| {
        let path = non_empty(k, v)?;
        let source = k.to_string();
        o.builder.otlp.ca_file = Some(CaFile {
            path: path.into(),
            source,
        });
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_ENDPOINT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT",
    default: "unset",
    meaning: "Endpoint of one signal (`<SIGNAL>` is `TRACES`, `METRICS` or `LOGS`), used as it is (nothing appended), e.g. `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=https://logs.example/v1/logs`",
    sensitive: false,
    apply: |o, k, v| {
        let value = check_endpoint(k, v, EndpointUse::Signal, false)?;
        let source = k.to_string();
        signal(o, k).endpoint = Some(Endpoint {
            value,
            ours: false,
            source,
        });
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_PROTOCOL: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL",
    default: "`OTEL_EXPORTER_OTLP_PROTOCOL`",
    meaning: "Protocol of one signal: `http/protobuf` or `grpc`",
    sensitive: false,
    apply: |o, k, v| {
        if let Some(protocol) = protocol(o, k, v) {
            signal(o, k).protocol = Some(protocol);
        }
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_HEADERS: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS",
    default: "`OTEL_EXPORTER_OTLP_HEADERS`",
    meaning: "Headers of one signal's requests, instead of the general ones",
    sensitive: true,
    apply: |o, k, v| {
        let headers = parse_headers(k, v)?;
        signal(o, k).headers = Some(headers);
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_INSECURE: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_INSECURE",
    default: "`OTEL_EXPORTER_OTLP_INSECURE`",
    meaning: "Plaintext (`true`) or TLS (`false`) for one signal's endpoint without a scheme",
    sensitive: false,
    apply: |o, k, v| {
        let insecure = parse_spec_bool(k, v)?;
        signal(o, k).insecure = Some(insecure);
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_COMPRESSION: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_COMPRESSION",
    default: "`OTEL_EXPORTER_OTLP_COMPRESSION`",
    meaning: "`gzip` or `none` for one signal's requests",
    sensitive: false,
    apply: |o, k, v| {
        if let Some(compression) = compression(o, k, v) {
            signal(o, k).compression = Some(compression);
        }
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_TIMEOUT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT",
    default: "`OTEL_EXPORTER_OTLP_TIMEOUT`",
    meaning: "Timeout of one export of one signal, in milliseconds",
    sensitive: false,
    apply: |o, k, v| {
        let timeout = parse_millis(k, v)?;
        signal(o, k).timeout = Some(timeout);
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_CERTIFICATE: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_CERTIFICATE",
    default: "`OTEL_EXPORTER_OTLP_CERTIFICATE`",
    meaning: "CA certificate file (PEM) for one signal's collector",
    sensitive: false,
    apply: |o, k, v| {
        let path = non_empty(k, v)?;
        let source = k.to_string();
        signal(o, k).ca_file = Some(CaFile {
            path: path.into(),
            source,
        });
        Ok(())
    },
};

// The resource attributes in code (`OTEL_RESOURCE_ATTRIBUTES` wins over them).
impl ConfigBuilder {
    /// A resource attribute of every exported span, metric and log record. `service.name`,
    /// `service.version`, `service.instance.id` and `deployment.environment.name` set what
    /// [`Config::builder`](crate::Config::builder), [`service_version`](Self::service_version),
    /// [`service_instance_id`](Self::service_instance_id) and
    /// [`environment`](Self::environment) set (also on log lines). Default: none. Env:
    /// `OTEL_RESOURCE_ATTRIBUTES`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc")
    ///     .resource_attribute("team", "payments")
    ///     .resource_attribute("service.version", "1.4.2")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(c.resource_attributes(), [("team".to_string(), "payments".to_string())]);
    /// assert_eq!(c.service_version(), "1.4.2");
    /// ```
    pub fn resource_attribute(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        let key = key.into();
        if key == "service.name" {
            // `build` checks it under this name.
            self.service_name_input = "ConfigBuilder::resource_attribute(service.name)";
        }
        self.set_resource_attribute(key, value.into());
        self
    }

    /// Sets a resource attribute, or the field of the four with fields of their own.
    pub(super) fn set_resource_attribute(&mut self, key: String, value: String) {
        match key.as_str() {
            "service.name" => self.service_name = value,
            "service.version" => self.service_version = value,
            "service.instance.id" => self.service_instance_id = Some(value),
            "deployment.environment.name" => self.environment = value,
            _ => {
                self.resource_attributes.retain(|(k, _)| *k != key);
                self.resource_attributes.push((key, value));
            }
        }
    }
}

/// The per-signal settings the variable `name` (a `<SIGNAL>` variable that matched) is about.
fn signal<'o>(o: &'o mut Overrides<'_>, name: &str) -> &'o mut OtlpSettings {
    let part = name
        .strip_prefix("OTEL_EXPORTER_OTLP_")
        .and_then(|rest| rest.split('_').next())
        .and_then(OtlpSignal::from_env_part)
        .expect("a <SIGNAL> variable names a signal (checked when it matched)");
    &mut o.builder.otlp_signals[part.index()]
}

/// The specification's booleans: `true` or `false` (any case). Nothing else means true, and
/// rather than read a typo as `false`, it is refused.
fn parse_spec_bool(input: &str, value: &str) -> Result<bool, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::invalid(input, value, "true or false")),
    }
}

fn parse_ratio(input: &str, value: &str) -> Result<f64, Error> {
    let ratio = value.trim().parse::<f64>().ok();
    ratio
        .filter(|r| (0.0..=1.0).contains(r))
        .ok_or_else(|| Error::invalid(input, value, "a number from 0 to 1, e.g. 0.1"))
}

/// The names of a comma-separated list, trimmed, lower case, empty ones left out.
fn names(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(|n| n.trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect()
}

/// `OTEL_{TRACES,METRICS,LOGS}_EXPORTER`, a comma-separated list in any case: `Some(true)` if it
/// names `otlp`, else `Some(false)` if it names `none` (or `off_too`, for metrics `prometheus`:
/// `/metrics` is served anyway); the other names are warned about and ignored, and a list of
/// nothing else leaves the setting as it was (`None`), as the specification says.
fn exporter(o: &mut Overrides<'_>, k: &str, v: &str, off_too: Option<&str>) -> Option<bool> {
    let names = names(v);
    let off = |n: &str| n == "none" || Some(n) == off_too;
    let ignored: Vec<&str> = (names.iter().map(String::as_str))
        .filter(|n| *n != "otlp" && !off(n))
        .collect();
    let choice = if names.iter().any(|n| n == "otlp") {
        Some(true)
    } else if names.iter().any(|n| off(n)) {
        Some(false)
    } else {
        None
    };
    if !ignored.is_empty() {
        let outcome = match choice {
            Some(true) => "exporting over OTLP",
            Some(false) => "not exporting over OTLP",
            None => "the variable is ignored",
        };
        o.warn(format!(
            "{k}={v}: {} not supported (Watchpost exports over OTLP only), ignored; {outcome}",
            ignored.join(", ")
        ));
    }
    choice
}

/// A protocol variable: `http/protobuf` or `grpc` (any case); another value is warned about and
/// ignored (`None`).
fn protocol(o: &mut Overrides<'_>, k: &str, v: &str) -> Option<OtlpProtocol> {
    match v.trim().to_ascii_lowercase().as_str() {
        "grpc" => Some(OtlpProtocol::Grpc),
        "http/protobuf" => Some(OtlpProtocol::HttpProtobuf),
        _ => {
            o.warn(format!(
                "{k}={v}: not supported (http/protobuf or grpc; http/json is not), ignored"
            ));
            None
        }
    }
}

/// A compression variable: `gzip` or `none` (any case); another value is warned about and
/// ignored (`None`).
fn compression(o: &mut Overrides<'_>, k: &str, v: &str) -> Option<OtlpCompression> {
    match v.trim().to_ascii_lowercase().as_str() {
        "gzip" => Some(OtlpCompression::Gzip),
        "none" => Some(OtlpCompression::None),
        _ => {
            o.warn(format!("{k}={v}: not supported (gzip or none), ignored"));
            None
        }
    }
}

/// `key=value` pairs, comma-separated (the W3C Baggage format without properties), keys and
/// values trimmed, values percent-decoded.
fn parse_pairs(input: &str, value: &str, allowed: &str) -> Result<Vec<(String, String)>, Error> {
    let mut pairs = Vec::new();
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let decoded = item.split_once('=').and_then(|(k, v)| {
            let v = percent_encoding::percent_decode_str(v.trim())
                .decode_utf8()
                .ok()?;
            Some((k.trim().to_string(), v.into_owned()))
        });
        match decoded {
            Some((k, v)) if !k.is_empty() => pairs.push((k, v)),
            _ => return Err(Error::invalid(input, value, allowed)),
        }
    }
    Ok(pairs)
}

/// Headers for OTLP requests. An error shows no value, and of each entry only its name, when
/// that is a valid header name (see [`masked_headers`]).
pub(crate) fn parse_headers(input: &str, value: &str) -> Result<Headers, Error> {
    let allowed = "name=value pairs (with `=`, not `name: value`) such as authorization=Bearer%20abc,x-team=a: names of letters, digits, `-`, `_` and `.`, values of visible ASCII and spaces after percent-decoding";
    let refuse = |allowed: &str| Error::invalid(input, masked_headers(value), allowed);
    let pairs = parse_pairs(input, value, allowed).map_err(|_| refuse(allowed))?;
    let mut headers = Headers::default();
    for (k, v) in pairs {
        // A name that is no header name is most often `name: value` written for `name=value`.
        let name_hint = |e| if valid_header_name(&k) { e } else { allowed };
        check_header(&k, &v).map_err(|e| refuse(name_hint(e)))?;
        headers.set(k.to_ascii_lowercase(), v);
    }
    Ok(headers)
}

/// A header list as an error may show it: `name=[REDACTED]` for an entry whose name (before its
/// first `=`) is a valid header name, else `entry N: [REDACTED]` — no part of an entry that is
/// not a valid name, which may be a credential (`Authorization: Basic …` has no `=` before it).
pub(crate) fn masked_headers(value: &str) -> String {
    (value.split(',').enumerate())
        .filter(|(_, item)| !item.trim().is_empty())
        .map(|(i, item)| match item.split_once('=') {
            Some((name, _)) if valid_header_name(name.trim()) => {
                format!("{}=[REDACTED]", name.trim())
            }
            _ => format!("entry {}: [REDACTED]", i + 1),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Whether `name` is a header name Watchpost sends: letters, digits, `-`, `_` and `.`.
pub(crate) fn valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Whether `name: value` can be sent both as an HTTP header and as gRPC metadata; else what is
/// allowed.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), &'static str> {
    if !valid_header_name(name) {
        return Err("header names of letters, digits, `-`, `_` and `.`");
    }
    if name.to_ascii_lowercase().ends_with("-bin") {
        return Err("header names not ending in -bin (binary gRPC metadata is not supported)");
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (0x20..0x7f).contains(&b))
    {
        return Err(
            "header values of visible ASCII characters, spaces and tabs (after percent-decoding)",
        );
    }
    Ok(())
}

#[cfg(test)]
#[path = "otel_env_tests.rs"]
mod tests;
