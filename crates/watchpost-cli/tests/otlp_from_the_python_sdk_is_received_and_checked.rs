//! The OpenTelemetry Python SDK — someone else's exporter — sends spans and log records over
//! OTLP/gRPC and over OTLP/HTTP (protobuf, gzip) to the receiver of `watchpost check`; the span
//! checker counts every one and finds exactly the offences the sender planted
//! (tests/support/otlp_sender.py says which).
//!
//! Needs Python with `opentelemetry-sdk` and both OTLP exporters: `$WATCHPOST_PYTHON` (.ci/run
//! sets it) or `python3`. Skips with a notice when they are missing, except under `CI=true`.

use std::path::PathBuf;
use std::process::Command;

use watchpost_cli::config::{CheckSettings, Config};
use watchpost_cli::finding::Signal;
use watchpost_cli::logs::LogFacts;
use watchpost_cli::otlp;
use watchpost_cli::report::Report;
use watchpost_cli::spans::SpanChecker;

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_from_the_python_sdk_is_received_and_checked() {
    let Some(python) = python() else {
        return;
    };
    let (receiver, mut batches) = otlp::start(Some("127.0.0.1:0"), Some("127.0.0.1:0"))
        .await
        .expect("the receiver starts");
    let grpc = receiver.grpc_addr().expect("gRPC address").to_string();
    let http = receiver.http_addr().expect("HTTP address").to_string();

    let checking = tokio::spawn(async move {
        let mut report = Report::new(Config::default());
        let mut checker = SpanChecker::new(&CheckSettings::default());
        let mut invalid = Vec::new();
        while let Some(batch) = batches.recv().await {
            if let otlp::Batch::Invalid { message, .. } = &batch {
                invalid.push(message.clone());
            }
            checker.batch(&batch, &mut report);
        }
        checker.finish(&LogFacts::default(), &mut report);
        (report, invalid)
    });

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/otlp_sender.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .args([&grpc, &http])
            .output()
            .expect("run the Python sender")
    })
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the sender failed: {stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "sent");

    let dropped = receiver.dropped();
    receiver.shutdown().await;
    let (report, invalid) = checking.await.unwrap();
    let human = report.render_human(false);
    assert!(invalid.is_empty(), "unreadable exports: {invalid:?}");
    assert_eq!(dropped, 0);

    // Everything arrived, over both transports.
    let spans = report.coverage(Signal::Span).expect("spans were read");
    assert_eq!(spans["spans"], 10, "{human}");
    assert_eq!(spans["server spans"], 4, "{human}");
    assert_eq!(spans["traces"], 6, "{human}");
    let logs = report.coverage(Signal::Log).expect("log records were read");
    assert_eq!(logs["otlp log records"], 4, "{human}");

    // Exactly the planted offences: a span named by its path, per transport…
    assert_eq!(report.count("span.name-not-route"), 2, "{human}");
    let name_not_route = report
        .tallies()
        .into_iter()
        .find(|t| t.rule.id == "span.name-not-route")
        .unwrap();
    assert_eq!(
        name_not_route.names.keys().collect::<Vec<_>>(),
        ["GET /orders/12345"]
    );
    // …and an e-mail address in a span attribute and in a log record attribute, per transport.
    assert_eq!(report.count("privacy.personal-data"), 4, "{human}");
    let personal = report
        .tallies()
        .into_iter()
        .find(|t| t.rule.id == "privacy.personal-data")
        .unwrap();
    let mut where_found: Vec<(Signal, String)> = personal
        .samples
        .iter()
        .map(|f| {
            (
                f.signal_type,
                f.context["attribute"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    where_found.sort();
    where_found.dedup();
    assert_eq!(
        where_found,
        [
            (Signal::Log, "contact".to_owned()),
            (Signal::Span, "customer".to_owned())
        ],
        "{human}"
    );
    // Nothing else: the e-mail addresses are not repeated in the report either.
    let total: u64 = report.tallies().iter().map(|t| t.count).sum();
    assert_eq!(total, 6, "{human}");
    assert!(!human.contains("alice@example.com") && !human.contains("bob@example.com"));
}
