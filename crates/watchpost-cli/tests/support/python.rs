//! The Python interpreter with the OpenTelemetry SDK and its OTLP exporters, for tests that
//! need a sender we did not write.

use std::path::PathBuf;
use std::process::Command;

/// `$WATCHPOST_PYTHON` (.ci/run sets it) or `python3`, if it can import the SDK and both OTLP
/// exporters; else `None` with a notice, or a panic under `CI=true`.
pub fn python() -> Option<PathBuf> {
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
