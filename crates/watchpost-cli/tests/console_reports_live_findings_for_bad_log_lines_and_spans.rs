//! The live findings of the real `watchpost console` cover log lines and OTLP too: lines of a
//! `--logs` file go through `watchpost check`'s per-line rules (a TRACE line, a line without
//! `subsystem`, a line that is not JSON), and OTLP exports through its span and log-record rules
//! (an HTTP server span without `http.route`, an e-mail address in a log record's body) — each
//! reported under the service it came from, the e-mail itself never repeated.

#[path = "support/console.rs"]
mod support;

use std::io::Write as _;

use serde_json::Value;
use support::*;
use watchpost_testkit::tools::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_reports_live_findings_for_bad_log_lines_and_spans() {
    let dir = TempDir::new("console-findings");
    let path = dir.0.join("jobs.log");
    std::fs::write(&path, "").unwrap();
    let arg = path.to_string_lossy().into_owned();
    let console = tokio::task::spawn_blocking(move || start(&["--logs", &arg]))
        .await
        .unwrap();

    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(
        concat!(
            r#"{"time":"2026-11-30T10:00:00Z","level":"TRACE","msg":"polling","subsystem":"JOBS","service":"jobs"}"#,
            "\n",
            r#"{"time":"2026-11-30T10:00:01Z","level":"INFO","msg":"job done","service":"jobs"}"#,
            "\n",
            "not json at all\n",
        )
        .as_bytes(),
    )
    .unwrap();
    let now = now_ns();
    grpc_traces(
        console.grpc,
        traces(
            "api",
            vec![span(
                trace_id(1),
                span_id(1),
                None,
                "GET",
                2,
                now - 1_000_000_000,
                3,
                vec![
                    kv("http.request.method", "GET"),
                    kv_int("http.response.status_code", 200),
                ],
                None,
            )],
        ),
    )
    .await;
    grpc_logs(
        console.grpc,
        logs(
            "api",
            vec![log(now, 9, "mail sent to alice@example.com", None, vec![])],
        ),
    )
    .await;

    let find = |v: &Value, rule: &str| -> Option<Value> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule)
            .cloned()
    };
    let rules = [
        "log.trace-level",
        "log.missing-key",
        "log.invalid-json",
        "span.name-not-route",
        "privacy.personal-data",
    ];
    let (console, v) = tokio::task::spawn_blocking(move || {
        let v = console.wait_for("/api/findings", |v| {
            rules.iter().all(|r| find(v, r).is_some())
        });
        (console, v)
    })
    .await
    .unwrap();
    let trace = find(&v, "log.trace-level").unwrap();
    assert_eq!(
        (trace["service"].as_str(), trace["name"].as_str()),
        (Some("jobs"), Some("polling"))
    );
    assert_eq!(trace["signal"], "log");
    let missing = find(&v, "log.missing-key").unwrap();
    assert_eq!(missing["name"], "job done");
    assert_eq!(missing["context"]["key"], "subsystem");
    assert_eq!(find(&v, "log.invalid-json").unwrap()["service"], "jobs");
    let route = find(&v, "span.name-not-route").unwrap();
    assert_eq!(
        (route["service"].as_str(), route["signal"].as_str()),
        (Some("api"), Some("span"))
    );
    let privacy = find(&v, "privacy.personal-data").unwrap();
    assert_eq!(privacy["service"], "api");
    assert!(
        !v.to_string().contains("alice@example.com"),
        "a finding never repeats what it found: {v:#}"
    );
    let stats = console.json("/api/stats");
    assert!(
        stats["live"]["findings"]["checked_exports"]
            .as_u64()
            .unwrap()
            >= 2,
        "{stats:#}"
    );
    tokio::task::spawn_blocking(move || drop(console))
        .await
        .unwrap();
}
