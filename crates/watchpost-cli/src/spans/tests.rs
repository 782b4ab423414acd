use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::{Event, SpanKind};
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use watchpost_testkit::bad::spans as bad;

use super::*;
use crate::config::Config;
use watchpost_testkit::otlp::{int_attr as i, str_attr as s};

fn trace_id(n: u32) -> Vec<u8> {
    let mut id = vec![0x4b; 16];
    id[12..].copy_from_slice(&n.to_be_bytes());
    id
}

fn span(trace: u32, n: u8, name: &str, kind: SpanKind, attributes: Vec<KeyValue>) -> Span {
    Span {
        trace_id: trace_id(trace),
        span_id: vec![1, 2, 3, 4, 5, 6, 7, n],
        parent_span_id: if n == 1 {
            vec![]
        } else {
            vec![1, 2, 3, 4, 5, 6, 7, 1]
        },
        name: name.into(),
        kind: kind as i32,
        attributes,
        ..Default::default()
    }
}

/// A server span as the library's HTTP layer writes it (procman's), with what the
/// tracing-opentelemetry bridge adds.
fn procman_server(trace: u32, method: &str, route: &str, status: i64) -> Span {
    span(
        trace,
        1,
        &format!("{method} {route}"),
        SpanKind::Server,
        vec![
            s("subsystem", "API"),
            s("http.request.method", method),
            s("http.route", route),
            i("http.response.status_code", status),
            s("url.scheme", "http"),
            s("client.address", "127.0.0.1"),
            i("client.port", 50312),
            s("request_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            s("code.filepath", "crates/watchpost/src/http/server.rs"),
            s("code.namespace", "watchpost::http::server"),
            i("code.lineno", 208),
            i("thread.id", 3),
            s("thread.name", "tokio-runtime-worker"),
            i("busy_ns", 120_000),
            i("idle_ns", 30_000),
        ],
    )
}

fn traces(service: &str, spans: Vec<Span>) -> Batch {
    Batch::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", service)],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn logs(records: Vec<LogRecord>) -> Batch {
    Batch::Logs(ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..Default::default()
            }],
            ..Default::default()
        }],
    })
}

fn check(batches: &[Batch], facts: &LogFacts) -> Report {
    let mut report = Report::new(Config::default());
    let mut checker = SpanChecker::new(&CheckSettings::default());
    for b in batches {
        checker.batch(b, &mut report);
    }
    checker.finish(facts, &mut report);
    report
}

/// Every finding as `(rule, signal name)`.
fn findings(report: &Report) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = report
        .tallies()
        .iter()
        .flat_map(|t| {
            t.names.iter().flat_map(move |(n, c)| {
                std::iter::repeat_n((t.rule.id.to_owned(), n.clone()), *c as usize)
            })
        })
        .collect();
    v.sort();
    v
}

fn only(report: &Report, rule: &str, name: &str) {
    assert_eq!(
        findings(report),
        vec![(rule.to_owned(), name.to_owned())],
        "{}",
        report.render_human(false)
    );
}

fn procman_set() -> Vec<Batch> {
    let mut spans = vec![
        procman_server(1, "POST", "/instances", 201),
        span(
            1,
            2,
            "create_instance",
            SpanKind::Internal,
            vec![
                s("instance_id", "550e8400-e29b-41d4-a716-446655440000"),
                s("name", "web"),
            ],
        ),
        span(
            1,
            3,
            "spawn",
            SpanKind::Internal,
            vec![s("command", "sleep 100")],
        ),
        procman_server(2, "GET", "/instances", 200),
        procman_server(3, "GET", "__unmatched__", 404),
        procman_server(4, "DELETE", "/instances/{id}", 404),
        procman_server(5, "POST", "/instances/{id}/signal", 200),
        span(
            5,
            2,
            "signal_instance",
            SpanKind::Internal,
            vec![
                s("instance_id", "550e8400-e29b-41d4-a716-446655440000"),
                s("signal", "TERM"),
            ],
        ),
        procman_server(6, "POST", "/instances/{id}/exec", 200),
        span(
            6,
            2,
            "exec",
            SpanKind::Internal,
            vec![
                s("instance_id", "550e8400-e29b-41d4-a716-446655440000"),
                s("command", "ls -l /tmp"),
                s("password", "[REDACTED]"),
            ],
        ),
    ];
    spans[0].status = Some(Status {
        message: String::new(),
        code: 0,
    });
    vec![
        traces("procman", spans),
        logs(vec![LogRecord {
            severity_number: 9,
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(
                    "instance created by [REDACTED:email]".into(),
                )),
            }),
            trace_id: trace_id(1),
            span_id: vec![1, 2, 3, 4, 5, 6, 7, 2],
            attributes: vec![s("instance_id", "550e8400-e29b-41d4-a716-446655440000")],
            ..Default::default()
        }]),
    ]
}

#[test]
fn a_clean_span_set_like_procmans_fires_nothing() {
    let facts = LogFacts {
        read: true,
        ..LogFacts::default()
    };
    let report = check(&procman_set(), &facts);
    assert_eq!(findings(&report), vec![], "{}", report.render_human(false));
    let cov = report.coverage(Signal::Span).unwrap();
    assert_eq!(cov["spans"], 10);
    assert_eq!(cov["server spans"], 6);
    assert_eq!(cov["traces"], 6);
    assert_eq!(report.coverage(Signal::Log).unwrap()["otlp log records"], 1);
}

#[test]
fn the_bad_service_breaks_each_span_rule_exactly_once() {
    let report = check(
        &[
            Batch::Traces(bad::bad_traces()),
            Batch::Logs(bad::bad_logs()),
        ],
        &LogFacts::default(),
    );
    let all = findings(&report);
    assert_eq!(all.len(), bad::BAD_SPAN_RULES.len(), "{all:?}");
    for (rule, offender) in bad::BAD_SPAN_RULES {
        assert_eq!(
            report.count(rule),
            1,
            "{rule}: {}",
            report.render_human(false)
        );
        let tally = report
            .tallies()
            .into_iter()
            .find(|t| t.rule.id == *rule)
            .unwrap();
        let sample = &tally.samples[0];
        let shown = sample.signal_name == *offender
            || sample
                .context
                .values()
                .any(|v| v.as_str() == Some(offender));
        assert!(shown, "{rule}: {offender} not in {sample:?}");
    }
}

#[test]
fn a_server_span_named_by_its_path_breaks_name_not_route() {
    let mut s1 = procman_server(1, "GET", "/users/{id}", 200);
    s1.name = "GET /users/12345".into();
    let child = span(1, 2, "load", SpanKind::Internal, vec![]);
    let report = check(&[traces("svc", vec![s1, child])], &LogFacts::default());
    only(&report, "span.name-not-route", "GET /users/12345");
    let t = &report.tallies()[0];
    assert_eq!(t.samples[0].context["id_like_segment"], true);
}

#[test]
fn a_server_span_without_a_route_breaks_name_not_route_unless_it_matched_none() {
    let mut s1 = procman_server(1, "GET", "/x", 200);
    s1.attributes.retain(|kv| kv.key != "http.route");
    s1.name = "GET".into();
    let report = check(&[traces("svc", vec![s1.clone()])], &LogFacts::default());
    only(&report, "span.name-not-route", "GET");
    // A 404 named by its method alone is how the conventions name an unmatched request.
    s1.attributes
        .retain(|kv| kv.key != "http.response.status_code");
    s1.attributes.push(i("http.response.status_code", 404));
    let report = check(&[traces("svc", vec![s1])], &LogFacts::default());
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn other_methods_may_be_named_http() {
    let mut s1 = procman_server(1, "_OTHER", "/x", 200);
    s1.name = "HTTP /x".into();
    let report = check(&[traces("svc", vec![s1])], &LogFacts::default());
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn a_server_span_without_a_status_code_breaks_missing_status_code() {
    let mut s1 = procman_server(1, "GET", "/x", 200);
    s1.attributes
        .retain(|kv| kv.key != "http.response.status_code");
    let report = check(&[traces("svc", vec![s1])], &LogFacts::default());
    only(&report, "span.missing-status-code", "GET /x");
}

#[test]
fn a_5xx_server_span_without_error_type_breaks_missing_error_type() {
    let s1 = procman_server(1, "GET", "/x", 502);
    let report = check(&[traces("svc", vec![s1.clone()])], &LogFacts::default());
    only(&report, "span.missing-error-type", "GET /x");
    let mut s2 = s1;
    s2.attributes.push(s("error.type", "502"));
    let report = check(&[traces("svc", vec![s2])], &LogFacts::default());
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn payloads_and_long_values_break_unbounded_attribute() {
    for attr in [
        s("http.request.body", "{}"),
        s("note", &"x".repeat(2000)),
        s("args", "{\"name\": \"web\", \"cpus\": 2}"),
        s("user.id", "u-1"),
    ] {
        let key = attr.key.clone();
        let sp = span(1, 2, "work", SpanKind::Internal, vec![attr]);
        let report = check(&[traces("svc", vec![sp])], &LogFacts::default());
        only(&report, "span.unbounded-attribute", "work");
        assert_eq!(
            report.tallies()[0].samples[0].context["attribute"],
            key.as_str()
        );
    }
}

#[test]
fn secrets_and_personal_data_are_found_in_attributes_events_and_status() {
    let mut sp = span(
        1,
        2,
        "work",
        SpanKind::Internal,
        vec![s("api_key", "abc123")],
    );
    let report = check(&[traces("svc", vec![sp.clone()])], &LogFacts::default());
    only(&report, "privacy.secret", "work");
    assert_eq!(report.tallies()[0].samples[0].signal_type, Signal::Span);

    sp.attributes.clear();
    sp.events.push(Event {
        name: "retry".into(),
        attributes: vec![s("to", "bob@example.com")],
        ..Default::default()
    });
    let report = check(&[traces("svc", vec![sp.clone()])], &LogFacts::default());
    only(&report, "privacy.personal-data", "work");
    assert_eq!(report.tallies()[0].samples[0].context["event"], "retry");

    sp.events.clear();
    sp.status = Some(Status {
        message: "login failed for card 4111 1111 1111 1111".into(),
        code: 2,
    });
    let report = check(&[traces("svc", vec![sp])], &LogFacts::default());
    only(&report, "privacy.personal-data", "work");
    assert_eq!(
        report.tallies()[0].samples[0].context["field"],
        "status.message"
    );
}

#[test]
fn secrets_in_otlp_log_records_are_log_findings() {
    let record = LogRecord {
        severity_number: 9,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue("login".into())),
        }),
        attributes: vec![s("header", "Bearer abcdefghijklmnopqrstuvwxyz")],
        ..Default::default()
    };
    let report = check(&[logs(vec![record])], &LogFacts::default());
    only(&report, "privacy.secret", "login");
    assert_eq!(report.tallies()[0].samples[0].signal_type, Signal::Log);
}

#[test]
fn a_lonely_server_span_is_an_improvement_only_where_the_service_traces_calls() {
    let with_client = vec![
        procman_server(1, "GET", "/a", 200),
        span(
            1,
            2,
            "GET",
            SpanKind::Client,
            vec![s("http.request.method", "GET")],
        ),
        procman_server(2, "GET", "/b", 200),
        procman_server(3, "GET", "/b", 200),
    ];
    let report = check(&[traces("svc", with_client.clone())], &LogFacts::default());
    only(&report, "span.no-client-span", "GET /b");
    assert_eq!(report.tallies()[0].samples[0].context["traces"], 2);
    // Another service's CLIENT spans do not count.
    let report = check(
        &[
            traces("svc", with_client[2..].to_vec()),
            traces("other", with_client[..2].to_vec()),
        ],
        &LogFacts::default(),
    );
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn error_lines_join_spans_by_trace_id_only_when_traces_arrive() {
    let mut facts = LogFacts {
        read: true,
        ..LogFacts::default()
    };
    facts
        .error_trace_ids
        .insert("4b4b4b4b4b4b4b4b4b4b4b4b00000001".into());
    facts
        .error_trace_ids
        .insert("4b4b4b4b4b4b4b4b4b4b4b4b00000009".into());
    facts.warn_trace_ids = facts.error_trace_ids.clone();
    let joined = vec![procman_server(1, "GET", "/a", 200)];
    let report = check(&[traces("svc", joined)], &facts);
    only(&report, "trace.error-without-span", "log line");
    assert_eq!(
        report.tallies()[0].samples[0].context["trace_id"],
        "4b4b4b4b4b4b4b4b4b4b4b4b00000009"
    );
    // Without any trace export there is no trace plane to join with.
    let report = check(&[], &facts);
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn a_5xx_span_needs_a_warn_line_or_record_of_its_trace_when_logs_are_read() {
    let mut s1 = procman_server(1, "GET", "/a", 503);
    s1.attributes.push(s("error.type", "timeout"));
    let child = span(1, 2, "load", SpanKind::Internal, vec![]);
    let batch = traces("svc", vec![s1, child]);
    let mut facts = LogFacts {
        read: true,
        ..LogFacts::default()
    };
    let report = check(std::slice::from_ref(&batch), &facts);
    only(&report, "log.server-error-unlogged", "GET /a");
    facts
        .warn_trace_ids
        .insert("4b4b4b4b4b4b4b4b4b4b4b4b00000001".into());
    let report = check(std::slice::from_ref(&batch), &facts);
    assert_eq!(findings(&report), vec![]);
    // An OTLP WARN record of the trace says why as well.
    let warn = logs(vec![LogRecord {
        severity_number: 13,
        trace_id: trace_id(1),
        ..Default::default()
    }]);
    let report = check(&[batch.clone(), warn], &LogFacts::default());
    assert_eq!(findings(&report), vec![]);
    // No logs read at all: nothing to say.
    let report = check(&[batch], &LogFacts::default());
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn invalid_ids_and_unreadable_exports_break_otlp_invalid() {
    let mut sp = span(1, 2, "zero", SpanKind::Internal, vec![]);
    sp.span_id = vec![0; 8];
    let report = check(&[traces("svc", vec![sp])], &LogFacts::default());
    only(&report, "otlp.invalid", "zero");
    let report = check(
        &[Batch::Invalid {
            transport: "http",
            message: "/v1/traces: garbage".into(),
        }],
        &LogFacts::default(),
    );
    only(&report, "otlp.invalid", "otlp/http");
    let record = LogRecord {
        trace_id: vec![1, 2, 3],
        ..Default::default()
    };
    let report = check(&[logs(vec![record])], &LogFacts::default());
    only(&report, "otlp.invalid", "log record");
}

#[test]
fn metrics_exports_are_counted() {
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{Metric, ResourceMetrics, ScopeMetrics};
    let batch = Batch::Metrics(ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![Metric::default(), Metric::default()],
                ..Default::default()
            }],
            ..Default::default()
        }],
    });
    let report = check(&[batch], &LogFacts::default());
    assert_eq!(report.coverage(Signal::Metric).unwrap()["otlp metrics"], 2);
}

fn check_partial(batches: &[Batch], facts: &LogFacts) -> Report {
    let mut report = Report::new(Config::default());
    let mut checker = SpanChecker::new(&CheckSettings::default());
    checker.set_partial();
    for b in batches {
        checker.batch(b, &mut report);
    }
    checker.finish(facts, &mut report);
    report
}

#[test]
fn only_error_records_name_a_trace_without_spans() {
    let batch = traces("svc", vec![procman_server(1, "GET", "/a", 200)]);
    let record = |severity| {
        logs(vec![LogRecord {
            severity_number: severity,
            trace_id: trace_id(9),
            ..Default::default()
        }])
    };
    // A WARN of an unsampled trace: its spans were dropped by sampling, not lost.
    let report = check(&[batch.clone(), record(13)], &LogFacts::default());
    assert_eq!(report.count("trace.error-without-span"), 0);
    let report = check(&[batch, record(17)], &LogFacts::default());
    only(&report, "trace.error-without-span", "OTLP log record");
}

#[test]
fn refused_exports_turn_the_joins_into_coverage() {
    let mut facts = LogFacts {
        read: true,
        ..LogFacts::default()
    };
    facts
        .error_trace_ids
        .insert("4b4b4b4b4b4b4b4b4b4b4b4b00000009".into());
    let mut lonely = procman_server(2, "GET", "/b", 200);
    lonely.trace_id = trace_id(2);
    let mut failed = procman_server(3, "GET", "/c", 503);
    failed.attributes.push(s("error.type", "timeout"));
    let batch = traces(
        "svc",
        vec![
            procman_server(1, "GET", "/a", 200),
            span(1, 2, "GET", SpanKind::Client, vec![]),
            lonely,
            failed,
            span(3, 2, "load", SpanKind::Internal, vec![]),
        ],
    );
    let whole = check(std::slice::from_ref(&batch), &facts);
    assert_eq!(
        findings(&whole),
        vec![
            ("log.server-error-unlogged".into(), "GET /c".into()),
            ("span.no-client-span".into(), "GET /b".into()),
            ("trace.error-without-span".into(), "log line".into()),
        ]
    );
    let report = check_partial(&[batch], &facts);
    assert_eq!(findings(&report), vec![], "{}", report.render_human(false));
    assert_eq!(
        report.coverage(Signal::Log).unwrap()["error trace ids not joined (exports refused)"],
        1
    );
    let spans = report.coverage(Signal::Span).unwrap();
    assert_eq!(spans["lonely server spans not joined (exports refused)"], 1);
    assert_eq!(spans["5xx server spans not joined (exports refused)"], 1);
}

#[test]
fn a_lonely_server_span_that_answered_4xx_is_fine() {
    let batch = traces(
        "svc",
        vec![
            procman_server(1, "GET", "/a", 200),
            span(1, 2, "GET", SpanKind::Client, vec![]),
            procman_server(2, "POST", "/b", 422),
            procman_server(3, "POST", "/b", 400),
        ],
    );
    let report = check(&[batch], &LogFacts::default());
    assert_eq!(findings(&report), vec![]);
}

#[test]
fn trace_ids_of_log_lines_match_in_either_case() {
    let mut failed = procman_server(1, "GET", "/a", 503);
    failed.attributes.push(s("error.type", "timeout"));
    let batch = traces(
        "svc",
        vec![failed, span(1, 2, "load", SpanKind::Internal, vec![])],
    );
    let mut facts = LogFacts {
        read: true,
        ..LogFacts::default()
    };
    facts
        .warn_trace_ids
        .insert("4B4B4B4B4B4B4B4B4B4B4B4B00000001".into());
    assert_eq!(
        findings(&check(std::slice::from_ref(&batch), &facts)),
        vec![]
    );
    let mut facts = LogFacts {
        read: true,
        ..LogFacts::default()
    };
    facts
        .server_error_trace_ids
        .insert("4B4B4B4B4B4B4B4B4B4B4B4B00000001".into());
    assert_eq!(findings(&check(&[batch], &facts)), vec![]);
}

#[test]
fn server_spans_of_the_old_http_conventions_are_counted_as_unchecked() {
    let old = span(
        1,
        1,
        "GET /users/12345",
        SpanKind::Server,
        vec![s("http.method", "GET"), i("http.status_code", 500)],
    );
    let report = check(&[traces("svc", vec![old])], &LogFacts::default());
    assert_eq!(findings(&report), vec![]);
    let spans = report.coverage(Signal::Span).unwrap();
    assert_eq!(spans["server spans (old HTTP conventions, not checked)"], 1);
    assert_eq!(spans["server spans"], 0);
}
