//! A bad service's OTLP traces and log records: each span rule of `watchpost check` broken exactly
//! once, by an offender whose name says so (`GET /bad-no-client-span`, `bad-secret`…).
//!
//! [`bad_traces`] and [`bad_logs`] go together (the log records make the 5xx spans of
//! [`BAD_TRACE_ID`] logged, bring `trace.error-without-span` through [`BAD_ERROR_TRACE_ID`], and
//! make `log.server-error-unlogged` apply at all). JSON log lines checked beside them must, if
//! they carry a `trace_id`, use [`BAD_TRACE_ID`] (it has spans and is logged) or
//! [`BAD_ERROR_TRACE_ID`] (the one trace that has no span: `trace.error-without-span` counts it
//! once, whichever signals name it) — never [`BAD_UNLOGGED_TRACE_ID`], whose 5xx must stay
//! unlogged.

use crate::otlp::{int_attr as i, str_attr as s};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

/// The `service.name` of the bad service.
pub const BAD_SERVICE: &str = "bad-service";
/// The trace most offenders are in: it has spans, a CLIENT span, and a WARN log record.
pub const BAD_TRACE_ID: &str = "bad00000000000000000000000000001";
/// A trace named by an ERROR log record of [`bad_logs`] (and usable by ERROR log lines) of
/// which no span is exported: `trace.error-without-span`.
pub const BAD_ERROR_TRACE_ID: &str = "bad000000000000000000000000000e1";
/// The trace whose 5xx server span no WARN/ERROR record explains: `log.server-error-unlogged`.
pub const BAD_UNLOGGED_TRACE_ID: &str = "bad000000000000000000000000000d1";
/// The trace whose only span is its server span: `span.no-client-span`.
pub const BAD_LONELY_TRACE_ID: &str = "bad000000000000000000000000000c1";

/// Rule id → the offending name, as it appears in the finding's `signal_name` or context.
pub const BAD_SPAN_RULES: &[(&str, &str)] = &[
    ("span.name-not-route", "GET /bad-name-not-route/12345"),
    ("span.missing-status-code", "GET /bad-missing-status-code"),
    ("span.missing-error-type", "GET /bad-missing-error-type"),
    ("span.unbounded-attribute", "bad-unbounded"),
    ("span.no-client-span", "GET /bad-no-client-span"),
    ("trace.error-without-span", BAD_ERROR_TRACE_ID),
    (
        "log.server-error-unlogged",
        "GET /bad-server-error-unlogged",
    ),
    ("otlp.invalid", "bad-invalid-id"),
    ("privacy.secret", "bad-secret"),
    ("privacy.personal-data", "bad-personal-data"),
];

fn id(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex id"))
        .collect()
}

fn span(trace: &str, n: u8, name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: id(trace),
        span_id: vec![0xb, 0xa, 0xd, 0, 0, 0, 0, n],
        parent_span_id: if n == 1 {
            Vec::new()
        } else {
            vec![0xb, 0xa, 0xd, 0, 0, 0, 0, 1]
        },
        name: name.to_owned(),
        kind: kind as i32,
        start_time_unix_nano: 1_700_000_000_000_000_000,
        end_time_unix_nano: 1_700_000_000_010_000_000,
        attributes,
        ..Default::default()
    }
}

/// An HTTP server span with a route and (when given) a status code.
fn server(trace: &str, n: u8, name: &str, route: Option<&str>, status: Option<i64>) -> Span {
    let mut attributes = vec![s("http.request.method", "GET"), s("url.scheme", "http")];
    if let Some(route) = route {
        attributes.push(s("http.route", route));
    }
    if let Some(status) = status {
        attributes.push(i("http.response.status_code", status));
    }
    span(trace, n, name, SpanKind::Server, attributes)
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![s("service.name", BAD_SERVICE)],
        ..Default::default()
    })
}

/// The bad service's spans: every span rule of [`BAD_SPAN_RULES`] broken exactly once (with
/// [`bad_logs`] for the joins).
pub fn bad_traces() -> ExportTraceServiceRequest {
    let t = BAD_TRACE_ID;
    let mut unlogged = server(
        BAD_UNLOGGED_TRACE_ID,
        1,
        "GET /bad-server-error-unlogged",
        Some("/bad-server-error-unlogged"),
        Some(503),
    );
    unlogged.attributes.push(s("error.type", "timeout"));
    let mut erroring = server(
        t,
        5,
        "GET /bad-missing-error-type",
        Some("/bad-missing-error-type"),
        Some(500),
    );
    erroring.parent_span_id = Vec::new();
    let mut invalid = span(t, 10, "bad-invalid-id", SpanKind::Internal, Vec::new());
    invalid.trace_id = vec![0xba, 0xd]; // 2 bytes, not 16
    let spans = vec![
        // A well-formed request that traces its call out: the service has CLIENT spans.
        server(t, 1, "GET /items/{id}", Some("/items/{id}"), Some(200)),
        span(
            t,
            2,
            "GET",
            SpanKind::Client,
            vec![
                s("http.request.method", "GET"),
                s("server.address", "backend"),
                i("http.response.status_code", 200),
            ],
        ),
        server(
            t,
            3,
            "GET /bad-name-not-route/12345",
            Some("/bad-name-not-route/{id}"),
            Some(200),
        ),
        server(
            t,
            4,
            "GET /bad-missing-status-code",
            Some("/bad-missing-status-code"),
            None,
        ),
        erroring,
        span(
            t,
            6,
            "bad-unbounded",
            SpanKind::Internal,
            vec![s("payload", "ok")],
        ),
        span(
            t,
            7,
            "bad-secret",
            SpanKind::Internal,
            vec![s("bad.header", "Bearer bad0token0abcdefghijklmnop")],
        ),
        span(
            t,
            8,
            "bad-personal-data",
            SpanKind::Internal,
            vec![s("bad.customer", "bad.person@example.com")],
        ),
        invalid,
        // The 5xx nobody logs, with a child so that it is not also a lonely server span.
        unlogged,
        span(
            BAD_UNLOGGED_TRACE_ID,
            2,
            "load",
            SpanKind::Internal,
            Vec::new(),
        ),
        // A request whose trace is its server span alone.
        server(
            BAD_LONELY_TRACE_ID,
            1,
            "GET /bad-no-client-span",
            Some("/bad-no-client-span"),
            Some(200),
        ),
    ];
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}

fn record(trace: &str, severity: i32, text: &str, body: &str) -> LogRecord {
    LogRecord {
        time_unix_nano: 1_700_000_000_005_000_000,
        severity_number: severity,
        severity_text: text.to_owned(),
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.to_owned())),
        }),
        trace_id: id(trace),
        span_id: vec![0xb, 0xa, 0xd, 0, 0, 0, 0, 1],
        ..Default::default()
    }
}

/// The bad service's log records: a WARN for [`BAD_TRACE_ID`] (its 5xx is logged) and an ERROR
/// for [`BAD_ERROR_TRACE_ID`] (a trace without spans). Clean otherwise.
pub fn bad_logs() -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: vec![
                    record(BAD_TRACE_ID, 13, "WARN", "upstream answered slowly"),
                    record(BAD_ERROR_TRACE_ID, 17, "ERROR", "job failed"),
                ],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
}
