//! A sender we did not write: the OpenTelemetry Python SDK sends a two-service trace (frontend
//! over OTLP/gRPC, backend over OTLP/HTTP with gzip; the context crosses in a `traceparent`
//! header), log records and metrics (tests/support/console_sender.py). The real
//! `watchpost console` shows the trace whole and nested, its log lines, the error, the
//! dependency edge frontend → backend, and both services' metrics.
//!
//! Needs Python with `opentelemetry-sdk` and both OTLP exporters: `$WATCHPOST_PYTHON` (.ci/run
//! sets it) or `python3`. Skips with a notice when they are missing, except under `CI=true`.

#[path = "support/python.rs"]
mod python;
#[path = "support/console.rs"]
mod support;

use serde_json::json;
use support::*;

#[test]
fn console_shows_a_python_sdk_two_service_trace_with_its_dependency_edge() {
    let Some(python) = python::python() else {
        return;
    };
    let console = start(&[]);
    let out = std::process::Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/support/console_sender.py"
        ))
        .args([console.grpc.to_string(), console.http.to_string()])
        .output()
        .expect("run the Python sender");
    assert!(
        out.status.success(),
        "the sender failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let trace = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert_eq!(trace.len(), 32, "the sender prints its trace id: {trace:?}");

    let detail = console.wait_for(&format!("/api/traces/{trace}"), |v| {
        v["spans"] == 4 && v["logs"] == 2
    });
    let shape: Vec<(String, String, String, u64)> = detail["span_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["service"].as_str().unwrap().to_owned(),
                s["kind"].as_str().unwrap().to_owned(),
                s["name"].as_str().unwrap().to_owned(),
                s["depth"].as_u64().unwrap(),
            )
        })
        .collect();
    let row = |svc: &str, kind: &str, name: &str, depth| {
        (svc.to_owned(), kind.to_owned(), name.to_owned(), depth)
    };
    assert_eq!(
        shape,
        [
            row("frontend", "server", "GET /checkout", 0),
            row("frontend", "client", "GET /stock/{sku}", 1),
            row("backend", "server", "GET /stock/{sku}", 2),
            row("backend", "internal", "SELECT stock", 3),
        ]
    );
    assert_eq!(detail["root"], "GET /checkout");
    assert_eq!(detail["status"], "error");
    assert_eq!(detail["services"], json!(["backend", "frontend"]));
    let logs: Vec<(&str, &str)> = detail["log_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["service"].as_str().unwrap(), l["level"].as_str().unwrap()))
        .collect();
    assert_eq!(logs, [("frontend", "INFO"), ("backend", "WARN")]);

    // The backend's WARN, found by its attribute, links to the trace.
    let found = console.json("/api/logs?attr=instance_id%3Di-42&level=warn");
    assert_eq!(found["logs"][0]["body"], "stock lookup timed out");
    assert_eq!(found["logs"][0]["trace_id"], trace);
    assert_eq!(found["logs"][0]["subsystem"], "STOCK");

    let services = console.json("/api/services");
    assert_eq!(
        services["edges"],
        json!([{"from": "frontend", "to": "backend", "calls": 1, "errors": 1, "client_server": 1}])
    );
    // Two failed spans: the query (error.type) and the backend's server span (no message).
    let errors = console.json("/api/errors");
    let mut groups: Vec<(&str, &str, &str)> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            assert_eq!(g["sample_trace_id"], trace);
            (
                g["service"].as_str().unwrap(),
                g["name"].as_str().unwrap(),
                g["error"].as_str().unwrap(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(
        groups,
        [
            ("backend", "GET /stock/{sku}", ""),
            ("backend", "SELECT stock", "timeout")
        ]
    );

    let metrics = console.wait_for("/api/metrics", |v| {
        v["metrics"].as_array().is_some_and(|m| m.len() == 4)
    });
    let names: Vec<(&str, &str)> = metrics["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            ("backend_request_duration", "histogram"),
            ("backend_requests", "counter"),
            ("frontend_request_duration", "histogram"),
            ("frontend_requests", "counter"),
        ]
    );
    let stats = console.json("/api/stats");
    assert_eq!(stats["invalid_exports"], 0, "{stats:#}");
    assert_eq!(stats["refused_exports"], 0, "{stats:#}");
}
