//! Throughput of the checks: `cargo bench -p watchpost-cli --bench check`. Each plane has its
//! own function, all in the one `criterion_group!` at the end.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use watchpost_cli::config::{CheckSettings, Config};
use watchpost_cli::logs::LogChecker;
use watchpost_cli::otlp::Batch;
use watchpost_cli::report::Report;
use watchpost_cli::spans::SpanChecker;
use watchpost_testkit::otlp::{attr as kv, str_attr as s};

/// 1000 spans as a service like procman exports them: 250 requests, each a server span (the
/// library's HTTP layer attributes and what the tracing bridge adds) and three internal spans.
fn realistic_batch() -> Batch {
    let mut spans = Vec::with_capacity(1000);
    for t in 0..250u32 {
        let mut trace_id = vec![0x4b; 16];
        trace_id[12..].copy_from_slice(&t.to_be_bytes());
        let span = |n: u8, name: &str, kind: SpanKind, attributes: Vec<KeyValue>| Span {
            trace_id: trace_id.clone(),
            span_id: vec![1, 2, 3, 4, 5, 6, 7, n],
            parent_span_id: if n == 1 {
                vec![]
            } else {
                vec![1, 2, 3, 4, 5, 6, 7, 1]
            },
            name: name.to_owned(),
            kind: kind as i32,
            attributes,
            ..Default::default()
        };
        let status = if t % 50 == 0 { 503 } else { 200 };
        let mut server = span(
            1,
            "POST /instances/{id}/exec",
            SpanKind::Server,
            vec![
                s("subsystem", "API"),
                s("http.request.method", "POST"),
                s("http.route", "/instances/{id}/exec"),
                kv(
                    "http.response.status_code",
                    any_value::Value::IntValue(status),
                ),
                s("url.scheme", "http"),
                s("client.address", "127.0.0.1"),
                kv("client.port", any_value::Value::IntValue(50312)),
                s("request_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
                s("code.filepath", "crates/watchpost/src/http/server.rs"),
                s("thread.name", "tokio-runtime-worker"),
                kv("busy_ns", any_value::Value::IntValue(120_000)),
            ],
        );
        if status >= 500 {
            server.attributes.push(s("error.type", "503"));
        }
        spans.push(server);
        for (n, name) in [(2, "exec"), (3, "spawn"), (4, "wait")] {
            spans.push(span(
                n,
                name,
                SpanKind::Internal,
                vec![
                    s("instance_id", "550e8400-e29b-41d4-a716-446655440000"),
                    s("command", "sh -c 'echo hello from the instance'"),
                    s("code.namespace", "procman::exec"),
                    kv("code.lineno", any_value::Value::IntValue(42)),
                ],
            ));
        }
    }
    Batch::Traces(ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![s("service.name", "procman")],
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

/// Spans checked per second (`SpanChecker::batch` over 1000 realistic spans), and string values
/// scanned for secrets and personal data per second (what the log checker pays per value).
fn spans_bench(c: &mut Criterion) {
    let batch = realistic_batch();
    let settings = CheckSettings::default();
    let mut group = c.benchmark_group("spans");
    group.throughput(Throughput::Elements(1000));
    group.bench_function("check 1000 server+internal spans", |b| {
        b.iter(|| {
            let mut report = Report::new(Config::default());
            let mut checker = SpanChecker::new(&settings);
            checker.batch(black_box(&batch), &mut report);
            report
        })
    });
    group.finish();

    let values: &[(&str, &str)] = &[
        ("msg", "instance started"),
        ("instance_id", "550e8400-e29b-41d4-a716-446655440000"),
        ("time", "2026-11-23T10:54:54.123456Z"),
        ("path", "/instances/{id}/exec"),
        ("command", "sh -c 'echo hello from the instance'"),
        ("status", "200"),
        ("trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
        ("password", "[REDACTED]"),
    ];
    let mut group = c.benchmark_group("privacy");
    group.throughput(Throughput::Elements(values.len() as u64));
    group.bench_function("scan_field of typical log values", |b| {
        b.iter(|| {
            for (k, v) in values {
                black_box(watchpost_cli::privacy::scan_field(
                    black_box(k),
                    black_box(v),
                ));
            }
        })
    });
    group.finish();
}

/// A realistic exposition of about 1000 series: 20 application families (counters by
/// method/route/status, a histogram with 12 buckets) and third-party process metrics.
fn exposition_1000() -> String {
    let mut out = String::new();
    for f in 0..4 {
        out.push_str(&format!(
            "# HELP app{f}_http_requests_total Requests.\n# TYPE app{f}_http_requests_total counter\n"
        ));
        for route in 0..10 {
            for (method, status) in [("GET", 200), ("POST", 201), ("GET", 404)] {
                out.push_str(&format!(
                    "app{f}_http_requests_total{{method=\"{method}\",path=\"/items/{{id}}/r{route}\",status=\"{status}\"}} {}\n",
                    route * 7 + status
                ));
            }
        }
        out.push_str(&format!(
            "# HELP app{f}_http_request_duration_seconds Latency.\n# TYPE app{f}_http_request_duration_seconds histogram\n"
        ));
        for route in 0..15 {
            let labels = format!("method=\"GET\",path=\"/items/{{id}}/r{route}\",status=\"200\"");
            for (i, le) in [
                0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]
            .iter()
            .enumerate()
            {
                out.push_str(&format!(
                    "app{f}_http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {i}\n"
                ));
            }
            out.push_str(&format!(
                "app{f}_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} 11\n\
                 app{f}_http_request_duration_seconds_sum{{{labels}}} 3.5\n\
                 app{f}_http_request_duration_seconds_count{{{labels}}} 11\n"
            ));
        }
    }
    out.push_str(
        "# HELP process_open_fds FDs.\n# TYPE process_open_fds gauge\nprocess_open_fds 12\n",
    );
    out
}

/// Expositions parsed and linted per second (about 1000 series each).
fn lint_bench(c: &mut Criterion) {
    let text = exposition_1000();
    let series = watchpost_cli::exposition::parse(&text).sample_count();
    let opts = watchpost_cli::lint::LintOptions::default();
    let mut group = c.benchmark_group("lint");
    group.throughput(Throughput::Elements(series as u64));
    group.bench_function("parse and lint ~1000 series", |b| {
        b.iter(|| {
            let exp = watchpost_cli::exposition::parse(black_box(&text));
            let mut report = Report::new(Config::default());
            watchpost_cli::lint::lint(&exp, &opts, None, &mut report);
            report
        })
    });
    group.finish();
}

criterion_group!(benches, spans_bench, lint_bench, logs_bench);
criterion_main!(benches);
/// Log lines checked per second: procman-like lines (access lines, DEBUG details, instance
/// events), against the floor of parsing the same lines with `serde_json` alone.
fn logs_bench(c: &mut Criterion) {
    let lines: Vec<String> = (0..10_000u32)
        .map(|i| {
            let trace = format!("{:032x}", 0x4bf9_2f35_77b3_4da6_u128 * 1_000_003 + u128::from(i));
            let t = format!("2026-11-30T10:{:02}:{:02}.{:06}Z", (i / 1000) % 60, (i / 10) % 60, i);
            match i % 3 {
                0 => format!(r#"{{"time":"{t}","level":"DEBUG","msg":"spawned","subsystem":"INSTANCES","trace_id":"{trace}","span_id":"00f067aa0ba902b7","instance_id":"a1b2c3d4{:04x}","pid":{i}}}"#, i % 4096),
                1 => format!(r#"{{"time":"{t}","level":"INFO","msg":"request handled","subsystem":"API","trace_id":"{trace}","span_id":"00f067aa0ba902b7","method":"GET","path":"/instances/{{id}}","status":200,"bytes":103,"duration_ms":0.43,"remote_addr":"127.0.0.1:35504","request_id":"41e68e04f8e1d88a51c363de8be7e444","complete":true}}"#),
                _ => format!(r#"{{"time":"{t}","level":"INFO","msg":"instance exited","subsystem":"INSTANCES","instance_id":"a1b2c3d4{:04x}","code":0,"signal":null}}"#, i % 4096),
            }
        })
        .collect();
    let bytes: u64 = lines.iter().map(|l| l.len() as u64 + 1).sum();
    let mut g = c.benchmark_group("logs");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("check 10k lines", |b| {
        b.iter(|| {
            let mut report = Report::default();
            let mut checker = LogChecker::new(&CheckSettings::default());
            for l in &lines {
                checker.line(l.as_bytes(), &mut report);
            }
            checker.finish(&mut report);
            black_box(report.count("log.too-many-info"))
        })
    });
    g.bench_function("serde_json parse only (floor)", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for l in &lines {
                let v: serde_json::Value = serde_json::from_slice(l.as_bytes()).unwrap();
                n += v.as_object().map_or(0, |o| o.len());
            }
            black_box(n)
        })
    });
    g.finish();
    eprintln!("logs bench: {} lines, {} bytes", lines.len(), bytes);
}
