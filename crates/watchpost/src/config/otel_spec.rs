//! What Watchpost does with each environment variable of the OpenTelemetry specification (its
//! "SDK environment variables" and "OTLP exporter configuration" pages): [`OTEL_SPEC_VARS`],
//! rendered into the README's "OpenTelemetry environment variables" section by
//! [`otel_spec_markdown`] (a test keeps the two equal).
//!
//! The variables Watchpost reads are named through their entries of the environment table, so
//! this table cannot name a variable the code does not read as supported.

use super::env::{OTEL_ENDPOINT, OTEL_INSECURE, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER_RATIO};
use super::otel_env::*;

/// How Watchpost treats a variable of the OpenTelemetry specification.
///
/// ```
/// use watchpost::config::{OtelSupport, OTEL_SPEC_VARS};
/// let disabled = OTEL_SPEC_VARS.iter().find(|v| v.name == "OTEL_SDK_DISABLED").unwrap();
/// assert_eq!(disabled.support, OtelSupport::Supported);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtelSupport {
    /// Read, with the specification's meaning.
    Supported,
    /// Read, and a Watchpost variable of the same purpose (named here) wins over it.
    Alias(&'static str),
    /// Read, but only part of the specification's values or meaning is honoured (the note says
    /// which).
    Partial,
    /// Not read (the note says why, and what Watchpost does instead).
    NotSupported,
}

impl OtelSupport {
    /// How the README's table shows it.
    fn text(self) -> String {
        match self {
            Self::Supported => "supported".into(),
            Self::Alias(ours) => format!("supported; `{ours}` wins"),
            Self::Partial => "partly".into(),
            Self::NotSupported => "not supported".into(),
        }
    }
}

/// One variable of the OpenTelemetry specification and what Watchpost does with it.
///
/// ```
/// let v = watchpost::config::OTEL_SPEC_VARS[0];
/// assert!(v.name.starts_with("OTEL_") && !v.note.is_empty());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct OtelVar {
    /// The name; `<SIGNAL>` stands for `TRACES`, `METRICS` and `LOGS`.
    pub name: &'static str,
    /// Whether Watchpost reads it.
    pub support: OtelSupport,
    /// What Watchpost does with it, or why not (Markdown).
    pub note: &'static str,
}

const fn var(name: &'static str, support: OtelSupport, note: &'static str) -> OtelVar {
    OtelVar {
        name,
        support,
        note,
    }
}

use OtelSupport::{Alias, NotSupported, Partial, Supported};

/// The specification's variables, general SDK ones first, then the OTLP exporter's, each with
/// what Watchpost does with it.
///
/// ```
/// use watchpost::config::{OtelSupport, OTEL_SPEC_VARS};
/// let headers = OTEL_SPEC_VARS.iter().find(|v| v.name == "OTEL_EXPORTER_OTLP_HEADERS").unwrap();
/// assert_eq!(headers.support, OtelSupport::Supported);
/// ```
pub const OTEL_SPEC_VARS: &[OtelVar] = &[
    var(OTEL_SDK_DISABLED.name, Supported, "`true` turns all OTLP export off, whatever `OTEL_ENABLED` says. The JSON log lines (with their trace ids) and `/metrics` stay: they are the service's own outputs, not the SDK's exporters. A value other than `true` or `false` is refused (the specification would read it as `false` and warn: a typo would export)."),
    var(OTEL_RESOURCE_ATTRIBUTES.name, Supported, "On the resource of every exported span, metric and log record (values percent-decoded). `service.name`, `service.version`, `service.instance.id` and `deployment.environment.name` also set the log lines' `service`, `version` and `environment`; `OTEL_SERVICE_NAME`, `OTEL_SERVICE_INSTANCE_ID` and `ENV` win over them. `service.name` here is the service's name everywhere, as `OTEL_SERVICE_NAME` is: it also renames the metric prefix of every series (`<svc>_…`), so dashboards and alerts written for the old name stop matching. A pair without `=` is refused."),
    var(OTEL_SERVICE_NAME.name, Supported, "Wins over `service.name` in `OTEL_RESOURCE_ATTRIBUTES`. Also the metric prefix, so 1 to 64 letters, digits, `_` or `-`. Default: the name the application gives `Config::builder` (not `unknown_service`)."),
    var("OTEL_LOG_LEVEL", NotSupported, "The pipeline's own failures are counted on `/metrics` and reported on the service's log, at most once a minute each."),
    var(OTEL_PROPAGATORS.name, Partial, "W3C Trace Context and Baggage are always both propagated, whatever the list says. `tracecontext,baggage` (the default, any order and case) is taken silently; any other list is warned about once at start and otherwise ignored: `b3`, `b3multi`, `jaeger`, `xray`, `ottrace` are not propagated, and `none` or one of the two alone does not stop the other."),
    var(OTEL_TRACES_SAMPLER.name, Partial, "Mapped onto the tail sampler's ratio of ordinary traces: `always_on` and `parentbased_always_on` 1, `always_off` and `parentbased_always_off` 0, `traceidratio` and `parentbased_traceidratio` the argument. Not honoured exactly, whatever the sampler: a caller's sampled flag is passed on unchanged and a trace it sampled is kept (as the `parentbased_` ones do), a trace the ratio keeps is kept even when its caller did not sample it, and error and slow traces are always kept (also with `always_off`). `jaeger_remote`, `parentbased_jaeger_remote`, `xray` and unknown values are warned about once at start and ignored (the ratio stays as it was). Without it the ratio is `OTEL_TRACES_SAMPLER_RATIO`'s default, 0.1 (the specification's default keeps all)."),
    var(OTEL_TRACES_SAMPLER_ARG.name, Alias(OTEL_TRACES_SAMPLER_RATIO.name), "The ratio of `traceidratio` and `parentbased_traceidratio` (default 1); read only with `OTEL_TRACES_SAMPLER`, as the specification says. A value outside 0 to 1 is refused."),
    var(OTEL_BSP_SCHEDULE_DELAY.name, Supported, "Default 500 (the specification's: 5000)."),
    var("OTEL_BSP_EXPORT_TIMEOUT", NotSupported, "Every export is bounded by `OTEL_EXPORTER_OTLP_TIMEOUT` (or its per-signal variable)."),
    var(OTEL_BSP_MAX_QUEUE_SIZE.name, Supported, "Default 8192 (the specification's: 2048); a quarter is kept for the spans of error and slow traces."),
    var(OTEL_BSP_MAX_EXPORT_BATCH_SIZE.name, Supported, "Default 512, as the specification's (64 until session 10: at saturation the small batches lost a third of the log records)."),
    var(OTEL_BLRP_SCHEDULE_DELAY.name, Supported, "Default 500 (the specification's: 1000)."),
    var("OTEL_BLRP_EXPORT_TIMEOUT", NotSupported, "Every export is bounded by `OTEL_EXPORTER_OTLP_TIMEOUT` (or its per-signal variable)."),
    var(OTEL_BLRP_MAX_QUEUE_SIZE.name, Supported, "Default 8192 (the specification's: 2048); a quarter is kept for WARN and ERROR records."),
    var(OTEL_BLRP_MAX_EXPORT_BATCH_SIZE.name, Supported, "Default 512, as the specification's."),
    var("OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", NotSupported, "Fixed limits: log fields and messages are cut at `ConfigBuilder::max_field_bytes` (16 KiB, marked `…[truncated]`), span attribute values at 1 KiB (marked `…`)."),
    var("OTEL_ATTRIBUTE_COUNT_LIMIT", NotSupported, "Fixed: 128 attributes per span (the specification's default)."),
    var("OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", NotSupported, "Fixed: 1 KiB, marked `…`."),
    var("OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", NotSupported, "Fixed: 128."),
    var("OTEL_SPAN_EVENT_COUNT_LIMIT", NotSupported, "Fixed: the SDK's default, 128."),
    var("OTEL_SPAN_LINK_COUNT_LIMIT", NotSupported, "Fixed: the SDK's default, 128."),
    var("OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT", NotSupported, "Fixed: the SDK's default, 128."),
    var("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", NotSupported, "Fixed: the SDK's default, 128."),
    var("OTEL_LOGRECORD_ATTRIBUTE_VALUE_LENGTH_LIMIT", NotSupported, "A record's attributes are its log line's fields, cut at `ConfigBuilder::max_field_bytes` (16 KiB)."),
    var("OTEL_LOGRECORD_ATTRIBUTE_COUNT_LIMIT", NotSupported, "A record has its log line's fields, all of them."),
    var(OTEL_TRACES_EXPORTER.name, Partial, "`otlp` or `none`, any case, or a comma-separated list: `otlp` in it exports, else `none` in it does not; other names (`zipkin`, `console`) are warned about once at start and ignored, and a list of nothing else leaves the default (`otlp`)."),
    var(OTEL_METRICS_EXPORTER.name, Partial, "As `OTEL_TRACES_EXPORTER`, for the OTLP push; `prometheus` is taken too: alone (or with `none`) it pushes nothing, and `/metrics` for Prometheus is served whatever this says. `console` is warned about and ignored."),
    var(OTEL_LOGS_EXPORTER.name, Partial, "As `OTEL_TRACES_EXPORTER`; the JSON lines on stdout are always written, `console` is warned about and ignored."),
    var("OTEL_METRICS_EXEMPLAR_FILTER", NotSupported, "Exemplars are trace-based (the specification's default), on the histograms made with `Metrics::exemplar_histogram`."),
    var(OTEL_METRIC_EXPORT_INTERVAL.name, Supported, "Interval of the OTLP push (`/metrics` is collected at each scrape)."),
    var("OTEL_METRIC_EXPORT_TIMEOUT", NotSupported, "Every export is bounded by `OTEL_EXPORTER_OTLP_TIMEOUT` (or its per-signal variable)."),
    var("OTEL_EXPORTER_PROMETHEUS_HOST", NotSupported, "`METRICS_LISTEN` (`127.0.0.1:9464`) is the address of `/metrics`."),
    var("OTEL_EXPORTER_PROMETHEUS_PORT", NotSupported, "`METRICS_LISTEN` (`127.0.0.1:9464`) is the address of `/metrics`."),
    var("OTEL_EXPORTER_ZIPKIN_ENDPOINT", NotSupported, "No Zipkin exporter: OTLP only."),
    var("OTEL_EXPORTER_ZIPKIN_TIMEOUT", NotSupported, "No Zipkin exporter: OTLP only."),
    var("OTEL_CONFIG_FILE", NotSupported, "No declarative configuration file: `Config::builder` in code, and these variables."),
    var(OTEL_EXPORTER_OTLP_ENDPOINT.name, Alias(OTEL_ENDPOINT.name), "Base endpoint of every signal. For OTLP/HTTP `/v1/traces`, `/v1/metrics`, `/v1/logs` are appended (one `/` between); for gRPC it is used as it is. Default `http://localhost:4318`, with the `grpc` protocol `http://localhost:4317`. Refused at start: credentials in it (`user:password@`: send them in `OTEL_EXPORTER_OTLP_HEADERS`; the error shows `[REDACTED]@`), a query or a fragment (the path is appended), anything that is not a URL. Export only starts with `OTEL_ENABLED=true`. An export the collector accepts counts as delivered, but for the items its answer reports rejected (`partial_success`): those are counted in `<svc>_telemetry_dropped_total`."),
    var(OTEL_EXPORTER_OTLP_SIGNAL_ENDPOINT.name, Supported, "One signal's endpoint, used as it is (nothing appended, a query kept); wins over the base endpoint. Credentials and a fragment are refused."),
    var(OTEL_EXPORTER_OTLP_PROTOCOL.name, Partial, "`http/protobuf` or `grpc`; `http/json` and unknown values are warned about once at start and ignored. With no protocol set, an endpoint from Watchpost's `OTEL_ENDPOINT` (or `ConfigBuilder::otel_endpoint`) is gRPC, as it always was, and everything else `http/protobuf`, the specification's default."),
    var(OTEL_EXPORTER_OTLP_SIGNAL_PROTOCOL.name, Partial, "As `OTEL_EXPORTER_OTLP_PROTOCOL`, for one signal."),
    var(OTEL_EXPORTER_OTLP_HEADERS.name, Supported, "`name=value` pairs, comma-separated, values percent-decoded; sent as gRPC metadata or HTTP headers. They usually carry credentials: never logged, hidden in `Debug` output and errors (an error shows an entry's name only when it is a valid header name, else `entry N: [REDACTED]`: `Authorization: Basic …` is not `name=value`). Names of letters, digits, `-`, `_`, `.`; values visible ASCII. Exactly these are sent (and a `user-agent`, unless one is given): the exporters read the configuration only, never these variables of the process environment, so a configuration built with `ConfigBuilder::env_vars` sends its own headers whatever the process has."),
    var(OTEL_EXPORTER_OTLP_SIGNAL_HEADERS.name, Supported, "One signal's headers, instead of the general ones."),
    var(OTEL_EXPORTER_OTLP_INSECURE.name, Alias(OTEL_INSECURE.name), "Only for an endpoint without a scheme (`host:port`), gRPC or HTTP: `true` plaintext, `false` TLS; an `http://` or `https://` URL decides by itself. Default `false`, but `true` for the endpoint of `OTEL_ENDPOINT`."),
    var(OTEL_EXPORTER_OTLP_SIGNAL_INSECURE.name, Supported, "As `OTEL_EXPORTER_OTLP_INSECURE`, for one signal."),
    var(OTEL_EXPORTER_OTLP_COMPRESSION.name, Supported, "`gzip` or `none` (default); another value is warned about once at start and ignored. gRPC requests are gzipped as `grpc-encoding: gzip`, OTLP/HTTP bodies with `Content-Encoding: gzip`. Read from the configuration only, as the headers are: with `ConfigBuilder::env_vars`, the process environment's compression variables change nothing."),
    var(OTEL_EXPORTER_OTLP_SIGNAL_COMPRESSION.name, Supported, "As `OTEL_EXPORTER_OTLP_COMPRESSION`, for one signal."),
    var(OTEL_EXPORTER_OTLP_TIMEOUT.name, Supported, "Milliseconds, default 10000. `0` (no limit) is refused: an export is always bounded, so a hung collector costs a timeout, never a stuck export thread."),
    var(OTEL_EXPORTER_OTLP_SIGNAL_TIMEOUT.name, Supported, "As `OTEL_EXPORTER_OTLP_TIMEOUT`, for one signal."),
    var(OTEL_EXPORTER_OTLP_CERTIFICATE.name, Supported, "A PEM file of CA certificates trusted besides the system's roots (for `https` endpoints). The same checks for gRPC and HTTP: a file that cannot be read, or that holds no PEM certificate, is reported once on the log, naming the file and the variable, and that signal is not exported; the others are."),
    var(OTEL_EXPORTER_OTLP_SIGNAL_CERTIFICATE.name, Supported, "As `OTEL_EXPORTER_OTLP_CERTIFICATE`, for one signal."),
    var("OTEL_EXPORTER_OTLP_CLIENT_KEY", NotSupported, "No client certificates (mTLS): authenticate with `OTEL_EXPORTER_OTLP_HEADERS`."),
    var("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", NotSupported, "No client certificates (mTLS): authenticate with `OTEL_EXPORTER_OTLP_HEADERS`."),
    var("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", NotSupported, "Cumulative, as `/metrics` serves them (the specification's default)."),
    var("OTEL_EXPORTER_OTLP_METRICS_DEFAULT_HISTOGRAM_AGGREGATION", NotSupported, "Explicit buckets, from each metric's catalogue entry."),
];

/// [`OTEL_SPEC_VARS`] as the README's Markdown table.
///
/// ```
/// let t = watchpost::config::otel_spec_markdown();
/// assert!(t.starts_with("| Variable | Watchpost | What it does |\n|---|---|---|\n"));
/// assert!(t.contains("| `OTEL_SDK_DISABLED` | supported |"));
/// ```
pub fn otel_spec_markdown() -> String {
    let mut out = String::from("| Variable | Watchpost | What it does |\n|---|---|---|\n");
    for v in OTEL_SPEC_VARS {
        out.push_str(&format!(
            "| `{}` | {} | {} |\n",
            v.name,
            v.support.text(),
            v.note
        ));
    }
    out
}

/// Whether `name` (a name of the environment table) is a variable of the specification that
/// Watchpost reads: an empty value of it means "unset", as the specification says.
pub(crate) fn is_spec_variable(name: &str) -> bool {
    OTEL_SPEC_VARS
        .iter()
        .any(|v| v.name == name && v.support != NotSupported)
}
