//! What `GET /api/export` answers is OTLP/JSON an OpenTelemetry collector reads: each of its
//! requests (spans with events and status, log records, a counter and a histogram with an
//! exemplar) parses with the official protobuf schema (opentelemetry-proto for Python, strict:
//! an unknown field fails), ids in hex as OTLP/JSON has them.

#[path = "support/python.rs"]
mod python;
#[path = "support/console.rs"]
mod support;

use std::io::Write as _;
use std::process::{Command, Stdio};

use opentelemetry_proto::tonic::trace::v1::span::Event;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_exports_otlp_json_that_the_official_protobuf_schema_reads() {
    let Some(python) = python::python() else {
        return;
    };
    let console = start(&[]);
    let t = now_ns() - 60_000_000_000;
    let trace = trace_id(4);
    let mut root = span(
        trace,
        span_id(1),
        None,
        "POST /orders",
        2,
        t,
        25,
        vec![kv_int("http.response.status_code", 503)],
        Some("unavailable"),
    );
    root.events.push(Event {
        time_unix_nano: t + 1_000,
        name: "retry".into(),
        attributes: vec![kv("attempt", "2")],
        ..Event::default()
    });
    let child = span(
        trace,
        span_id(2),
        Some(span_id(1)),
        "INSERT orders",
        3,
        t + 2_000,
        5,
        vec![],
        None,
    );
    grpc_traces(console.grpc, traces("orders", vec![root, child])).await;
    let records = vec![log(
        t + 3_000,
        17,
        "insert failed",
        Some((trace, span_id(2))),
        vec![kv_int("rows", 0)],
    )];
    grpc_logs(console.grpc, logs("orders", records)).await;
    let mut m = metrics(
        "orders",
        "orders_created_total",
        &[(t, 3.0)],
        &[(t, [1, 2, 0])],
    );
    with_exemplar(&mut m, 0, t, 0.25, trace, span_id(1));
    assert_eq!(post_protobuf(console.http, "/v1/metrics", &m).await, 200);
    console.wait_for("/api/stats", |s| {
        s["stored"]["spans"] == 2 && s["stored"]["logs"] == 1 && s["stored"]["metric_points"] == 2
    });

    let doc = console.json("/api/export");
    let mut check = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/otlp_json_check.py"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the checker");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(doc.to_string().as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the official schema refuses the export: {}\n{doc:#}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        ["traces 2", "logs 1", "metrics 2"],
        "{doc:#}"
    );
}
