//! The OpenTelemetry Python SDK — someone else's exporter — sends spans and log records over
//! OTLP/gRPC and over OTLP/HTTP (protobuf, gzip) to the receiver of `watchpost check`; the span
//! checker of the real `watchpost check` command counts every one and finds exactly the offences the sender planted
//! (tests/support/otlp_sender.py says which).
//!
//! Needs Python with `opentelemetry-sdk` and both OTLP exporters: `$WATCHPOST_PYTHON` (.ci/run
//! sets it) or `python3`. Skips with a notice when they are missing, except under `CI=true`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// The Python interpreter with the SDK, or `None` (with a notice) outside CI.
fn python() -> Option<PathBuf> {
    let python = std::env::var_os("WATCHPOST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("python3"));
    let ok = Command::new(&python)
        .args([
            "-c",
            "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.grpc, opentelemetry.exporter.otlp.proto.http",
        ])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    let hint = "run .ci/run's tools section, or set WATCHPOST_PYTHON to a Python with opentelemetry-sdk opentelemetry-exporter-otlp-proto-grpc opentelemetry-exporter-otlp-proto-http";
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "the OpenTelemetry Python SDK is required under CI=true but {} cannot import it ({hint})",
            python.display()
        );
    }
    eprintln!(
        "SKIPPED: the OpenTelemetry Python SDK is not available to {} ({hint}); skipping this test",
        python.display()
    );
    None
}

#[test]
fn otlp_from_the_python_sdk_is_received_and_checked() {
    let Some(python) = python() else {
        return;
    };
    // The real command, as a user runs it: it says where it listens, then checks until SIGTERM.
    let mut check = watchpost_testkit::process::Process::spawn(
        watchpost_testkit::process::command(env!("CARGO_BIN_EXE_watchpost")).args([
            "check",
            "--otlp",
            "127.0.0.1:0",
            "--otlp-http",
            "127.0.0.1:0",
            "--ready-line",
            "--grace",
            "500ms",
            "--format",
            "json",
        ]),
        "watchpost check",
    );
    let ready = check
        .stderr
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("watchpost check says where it listens");
    let addr = |key: &str| {
        ready
            .split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_else(|| panic!("{key} in {ready:?}"))
            .to_owned()
    };
    let (grpc, http) = (addr("otlp-grpc="), addr("otlp-http="));

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/otlp_sender.py");
    let out = Command::new(python)
        .arg(script)
        .args([&grpc, &http])
        .output()
        .expect("run the Python sender");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the sender failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "sent");

    check.sigterm();
    let code = check.wait();
    let report: String = check.stdout.iter().collect::<Vec<_>>().join("\n");
    assert_eq!(
        code, 1,
        "violations were sent, so the check fails: {report}"
    );
    let report: Value = serde_json::from_str(&report).expect("a JSON report");
    let summary = &report["summary"];
    let spans = &summary["coverage"]["span"];
    assert_eq!(spans["spans"], 10, "{report:#}");
    assert_eq!(spans["server spans"], 4, "{report:#}");
    assert_eq!(spans["traces"], 6, "{report:#}");
    assert_eq!(spans["otlp exports refused"], 0, "{report:#}");
    assert_eq!(
        summary["coverage"]["log"]["otlp log records"], 4,
        "{report:#}"
    );

    let count = |id: &str| -> u64 {
        summary["rules"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["id"] == id)
            .map_or(0, |r| r["count"].as_u64().unwrap())
    };
    assert_eq!(count("span.name-not-route"), 2, "{report:#}");
    assert_eq!(count("privacy.personal-data"), 4, "{report:#}");
    assert_eq!(count("otlp.invalid"), 0, "unreadable exports: {report:#}");
    let findings = report["findings"].as_array().unwrap();
    let names: Vec<&str> = findings
        .iter()
        .filter(|f| f["id"] == "span.name-not-route")
        .map(|f| f["signal_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GET /orders/12345"]);
    let mut where_found: Vec<(String, String)> = findings
        .iter()
        .filter(|f| f["id"] == "privacy.personal-data")
        .map(|f| {
            (
                f["signal_type"].as_str().unwrap().to_owned(),
                f["context"]["attribute"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    where_found.sort();
    where_found.dedup();
    assert_eq!(
        where_found,
        [
            ("log".to_owned(), "contact".to_owned()),
            ("span".to_owned(), "customer".to_owned())
        ],
        "{report:#}"
    );
    assert_eq!(
        summary["violation"].as_u64().unwrap()
            + summary["improvement"].as_u64().unwrap()
            + summary["information"].as_u64().unwrap(),
        6,
        "{report:#}"
    );
    let text = report.to_string();
    assert!(
        !text.contains("alice@example.com") && !text.contains("bob@example.com"),
        "the report repeats an address"
    );
}
