//! The OpenTelemetry specification's environment variables ("SDK environment variables" and
//! "OTLP exporter configuration"): their entries of the table in `env.rs`, and their parsers.
//!
//! Watchpost's own names (`OTEL_ENDPOINT`, `OTEL_INSECURE`, `OTEL_TRACES_SAMPLER_RATIO`) stay, as
//! aliases that win over the standard ones. As everywhere in the table, a value that cannot be
//! used is an error naming the variable, the value and what is allowed (the specification would
//! warn and ignore it: a deployment that asks for something we would not do fails at start).
//! An empty value is the same as an unset variable, as the specification says. Header values
//! are credentials: no error and no `Debug` output shows them.
//!
//! What Watchpost does with every variable of the specification, read or not, is the table in
//! `otel_spec.rs`, rendered into the README.

use super::env::{
    non_empty, parse_count, parse_exporter, parse_millis, set, EnvVar, Overrides, ENV,
    OTEL_ENDPOINT, OTEL_INSECURE, OTEL_SERVICE_INSTANCE_ID, OTEL_SERVICE_NAME,
    OTEL_TRACES_SAMPLER_RATIO,
};
use super::otlp::{Endpoint, Headers, OtlpCompression, OtlpProtocol, OtlpSettings, OtlpSignal};
use super::{validate_service_name, ConfigBuilder};
use crate::error::Error;

pub(crate) const OTEL_SDK_DISABLED: EnvVar = EnvVar {
    name: "OTEL_SDK_DISABLED",
    default: "false",
    meaning: "`true` turns all OTLP export off, whatever `OTEL_ENABLED` says (log lines, their trace ids and `/metrics` stay)",
    apply: |o, k, v| set(&mut o.builder.sdk_disabled, parse_spec_bool(k, v)),
};

pub(crate) const OTEL_RESOURCE_ATTRIBUTES: EnvVar = EnvVar {
    name: "OTEL_RESOURCE_ATTRIBUTES",
    default: "unset",
    meaning: "Resource attributes of every exported span, metric and log record: `key=value` pairs, comma-separated, values percent-decoded; `service.name`, `service.version`, `service.instance.id` and `deployment.environment.name` also set the log lines' fields (`OTEL_SERVICE_NAME`, `OTEL_SERVICE_INSTANCE_ID` and `ENV` win over them)",
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

const SAMPLERS_ALLOWED: &str = "one of parentbased_always_on, parentbased_always_off, parentbased_traceidratio, always_on, always_off, traceidratio (jaeger_remote and xray are not supported)";

/// Mapped onto the tail sampler's ratio; what it cannot honour is in `otel_spec.rs`.
pub(crate) const OTEL_TRACES_SAMPLER: EnvVar = EnvVar {
    name: "OTEL_TRACES_SAMPLER",
    default: "unset",
    meaning: "The sampler, as a ratio of ordinary traces kept: `always_on` and `parentbased_always_on` keep all, `always_off` and `parentbased_always_off` none, `traceidratio` and `parentbased_traceidratio` the ratio `OTEL_TRACES_SAMPLER_ARG`; a caller's sampled flag is always followed, error and slow traces always kept; `OTEL_TRACES_SAMPLER_RATIO` wins",
    apply: |o, k, v| {
        let ratio = match v.trim().to_ascii_lowercase().as_str() {
            "always_on" | "parentbased_always_on" => 1.0,
            "always_off" | "parentbased_always_off" => 0.0,
            "traceidratio" | "parentbased_traceidratio" => match o.value(&OTEL_TRACES_SAMPLER_ARG) {
                Some(arg) => parse_ratio(OTEL_TRACES_SAMPLER_ARG.name, arg)?,
                None => 1.0,
            },
            _ => return Err(Error::invalid(k, v, SAMPLERS_ALLOWED)),
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
    apply: |_, _, _| Ok(()),
};

pub(crate) const OTEL_PROPAGATORS: EnvVar = EnvVar {
    name: "OTEL_PROPAGATORS",
    default: "tracecontext,baggage",
    meaning: "Only `tracecontext,baggage` (in any order): W3C Trace Context and Baggage are always both propagated; other propagators are refused",
    apply: |_, k, v| {
        let mut names: Vec<String> = v
            .split(',')
            .map(|p| p.trim().to_ascii_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        names.sort_unstable();
        names.dedup();
        if names != ["baggage", "tracecontext"] {
            return Err(Error::invalid(
                k,
                v,
                "tracecontext,baggage: Watchpost always propagates both, and no other propagator (b3, b3multi, jaeger, xray, ottrace, none) is supported",
            ));
        }
        Ok(())
    },
};

pub(crate) const OTEL_TRACES_EXPORTER: EnvVar = EnvVar {
    name: "OTEL_TRACES_EXPORTER",
    default: "otlp",
    meaning: "`otlp` or `none`: whether spans are exported when `OTEL_ENABLED=true`",
    apply: |o, k, v| set(&mut o.builder.export_traces, parse_exporter(k, v)),
};

pub(crate) const OTEL_LOGS_EXPORTER: EnvVar = EnvVar {
    name: "OTEL_LOGS_EXPORTER",
    default: "otlp",
    meaning: "`otlp` or `none`: whether logs are exported when `OTEL_ENABLED=true`",
    apply: |o, k, v| set(&mut o.builder.export_logs, parse_exporter(k, v)),
};

pub(crate) const OTEL_METRICS_EXPORTER: EnvVar = EnvVar {
    name: "OTEL_METRICS_EXPORTER",
    default: "otlp",
    meaning: "`otlp` or `none`: whether metrics are pushed when `OTEL_ENABLED=true` (`/metrics` is always served)",
    apply: |o, k, v| set(&mut o.builder.export_metrics, parse_exporter(k, v)),
};

pub(crate) const OTEL_METRIC_EXPORT_INTERVAL: EnvVar = EnvVar {
    name: "OTEL_METRIC_EXPORT_INTERVAL",
    default: "60000",
    meaning: "Interval of the OTLP metrics push, in milliseconds",
    apply: |o, k, v| set(&mut o.builder.metric_export_interval, parse_millis(k, v)),
};

/// The four queue and batch sizes are named by the errors of [`Batching`](super::Batching)'s
/// check.
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

pub(crate) const OTEL_BSP_SCHEDULE_DELAY: EnvVar = EnvVar {
    name: "OTEL_BSP_SCHEDULE_DELAY",
    default: "500",
    meaning: "Milliseconds before a partial batch of spans is sent",
    apply: |o, k, v| set(&mut o.builder.span_batching.delay, parse_millis(k, v)),
};

pub(crate) const OTEL_BLRP_SCHEDULE_DELAY: EnvVar = EnvVar {
    name: "OTEL_BLRP_SCHEDULE_DELAY",
    default: "500",
    meaning: "Milliseconds before a partial batch of log records is sent",
    apply: |o, k, v| set(&mut o.builder.log_batching.delay, parse_millis(k, v)),
};

// The OTLP exporter: general settings, then the per-signal ones (`<SIGNAL>` is `TRACES`,
// `METRICS` or `LOGS`), which win over them.

/// Ours (`OTEL_ENDPOINT`) wins over it.
pub(crate) const OTEL_EXPORTER_OTLP_ENDPOINT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_ENDPOINT",
    default: "http://localhost:4318",
    meaning: "Base endpoint of every signal, a URL: for OTLP/HTTP `/v1/traces`, `/v1/metrics` and `/v1/logs` are appended; with the `grpc` protocol it is used as it is (default `http://localhost:4317`)",
    apply: |o, k, v| {
        if o.is_set(&OTEL_ENDPOINT) {
            return Ok(());
        }
        let value = parse_url(k, v)?;
        o.builder.otlp.endpoint = Some(Endpoint { value, ours: false });
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_PROTOCOL: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_PROTOCOL",
    default: "http/protobuf",
    meaning: "`http/protobuf` or `grpc`; when no protocol is set, an endpoint from `OTEL_ENDPOINT` (or `ConfigBuilder::otel_endpoint`) means `grpc`, any other `http/protobuf`",
    apply: |o, k, v| set(&mut o.builder.otlp.protocol, parse_protocol(k, v).map(Some)),
};

pub(crate) const OTEL_EXPORTER_OTLP_HEADERS: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_HEADERS",
    default: "unset",
    meaning: "Headers of every OTLP request (gRPC metadata, HTTP headers), e.g. `authorization=Bearer%20abc,x-team=a`: comma-separated, values percent-decoded; never logged",
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
    meaning: "`gzip` or `none`: compression of OTLP requests",
    apply: |o, k, v| {
        set(
            &mut o.builder.otlp.compression,
            parse_compression(k, v).map(Some),
        )
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_TIMEOUT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_TIMEOUT",
    default: "10000",
    meaning:
        "Timeout of one OTLP export, in milliseconds (1 to 3600000: an export is never unbounded)",
    apply: |o, k, v| set(&mut o.builder.export_timeout, parse_millis(k, v)),
};

pub(crate) const OTEL_EXPORTER_OTLP_CERTIFICATE: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_CERTIFICATE",
    default: "unset",
    meaning: "CA certificate file (PEM) trusted besides the system's roots to verify the collector over TLS",
    apply: |o, k, v| {
        let path = non_empty(k, v).map(|p| Some(p.into()));
        set(&mut o.builder.otlp.ca_file, path)
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_ENDPOINT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT",
    default: "unset",
    meaning: "Endpoint of one signal (`<SIGNAL>` is `TRACES`, `METRICS` or `LOGS`), used as it is (nothing appended), e.g. `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT=https://logs.example/v1/logs`",
    apply: |o, k, v| {
        let value = parse_url(k, v)?;
        signal(o, k).endpoint = Some(Endpoint { value, ours: false });
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_PROTOCOL: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL",
    default: "`OTEL_EXPORTER_OTLP_PROTOCOL`",
    meaning: "Protocol of one signal: `http/protobuf` or `grpc`",
    apply: |o, k, v| {
        let protocol = parse_protocol(k, v)?;
        signal(o, k).protocol = Some(protocol);
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_HEADERS: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS",
    default: "`OTEL_EXPORTER_OTLP_HEADERS`",
    meaning: "Headers of one signal's requests, instead of the general ones",
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
    apply: |o, k, v| {
        let compression = parse_compression(k, v)?;
        signal(o, k).compression = Some(compression);
        Ok(())
    },
};

pub(crate) const OTEL_EXPORTER_OTLP_SIGNAL_TIMEOUT: EnvVar = EnvVar {
    name: "OTEL_EXPORTER_OTLP_<SIGNAL>_TIMEOUT",
    default: "`OTEL_EXPORTER_OTLP_TIMEOUT`",
    meaning: "Timeout of one export of one signal, in milliseconds",
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
    apply: |o, k, v| {
        let path = non_empty(k, v)?;
        signal(o, k).ca_file = Some(path.into());
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
        self.set_resource_attribute(key.into(), value.into());
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

pub(crate) fn parse_protocol(input: &str, value: &str) -> Result<OtlpProtocol, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "grpc" => Ok(OtlpProtocol::Grpc),
        "http/protobuf" => Ok(OtlpProtocol::HttpProtobuf),
        _ => Err(Error::invalid(
            input,
            value,
            "http/protobuf or grpc (http/json is not supported)",
        )),
    }
}

fn parse_compression(input: &str, value: &str) -> Result<OtlpCompression, Error> {
    match value.trim().to_ascii_lowercase().as_str() {
        "gzip" => Ok(OtlpCompression::Gzip),
        "none" => Ok(OtlpCompression::None),
        _ => Err(Error::invalid(input, value, "gzip or none")),
    }
}

/// An OTLP endpoint: an `http://` or `https://` URL (port and path optional), or `host:port`.
pub(crate) fn parse_url(input: &str, value: &str) -> Result<String, Error> {
    let v = value.trim();
    let allowed = "an http:// or https:// URL such as https://collector.example:4318, or host:port";
    let (scheme, rest) = match v.split_once("://") {
        Some((scheme, rest)) if super::otlp::has_scheme(v) => (Some(scheme), rest),
        _ => (None, v),
    };
    if scheme.is_some_and(|s| !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https")) {
        return Err(Error::invalid(input, value, allowed));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let port = match authority.rsplit_once(':') {
        Some((_, port)) if !authority.ends_with(']') => Some(port),
        _ => None,
    };
    let host = port.map_or(authority, |p| &authority[..authority.len() - p.len() - 1]);
    let ok = !host.is_empty()
        && !authority.contains(|c: char| c.is_whitespace() || c == '@')
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
        && (scheme.is_some() || port.is_some());
    if !ok {
        return Err(Error::invalid(input, value, allowed));
    }
    Ok(v.to_string())
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

/// Headers for OTLP requests. An error shows the header names, never a value.
pub(crate) fn parse_headers(input: &str, value: &str) -> Result<Headers, Error> {
    let masked = || {
        value
            .split(',')
            .map(|item| match item.split_once('=') {
                Some((k, _)) => format!("{}=[REDACTED]", k.trim()),
                None => "[REDACTED]".to_string(),
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let allowed = "name=value pairs such as authorization=Bearer%20abc,x-team=a: names of letters, digits, `-`, `_` and `.`, values of visible ASCII and spaces after percent-decoding";
    let pairs =
        parse_pairs(input, value, allowed).map_err(|_| Error::invalid(input, masked(), allowed))?;
    let mut headers = Headers::default();
    for (k, v) in pairs {
        if let Err(allowed) = check_header(&k, &v) {
            return Err(Error::invalid(input, masked(), allowed));
        }
        headers.set(k.to_ascii_lowercase(), v);
    }
    Ok(headers)
}

/// Whether `name: value` can be sent both as an HTTP header and as gRPC metadata; else what is
/// allowed.
pub(crate) fn check_header(name: &str, value: &str) -> Result<(), &'static str> {
    let name_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !name_ok {
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
