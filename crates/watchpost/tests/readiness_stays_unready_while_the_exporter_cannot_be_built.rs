//! An exporter that cannot be built (here: a CA file that cannot be read) exports nothing, for
//! good: readiness turns unready once the export threshold has passed, and stays unready — it
//! must not take the silence of an exporter that never tries again for a recovery.

use std::time::{Duration, Instant};

#[test]
fn readiness_stays_unready_while_the_exporter_cannot_be_built() {
    let config = watchpost::Config::builder("svc")
        .otel_enabled(true)
        .env_vars([
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "https://127.0.0.1:4317"),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", "/nonexistent/ca.pem"),
        ])
        .ready_export_failure(Some(Duration::from_secs(1)))
        .build()
        .expect("an unreadable CA file is an export failure, not a configuration error");
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();

    // Unready once the threshold has passed (a minute at most).
    let deadline = Instant::now() + Duration::from_secs(60);
    while telemetry.readiness().ready {
        assert!(Instant::now() < deadline, "{:?}", telemetry.readiness());
        std::thread::sleep(Duration::from_millis(50));
    }
    let readiness = telemetry.readiness();
    assert!(!readiness.exporter.ok, "{readiness:?}");
    assert!(
        readiness
            .exporter
            .reason
            .as_deref()
            .is_some_and(|r| r.contains("/nonexistent/ca.pem")),
        "the reason names the file: {readiness:?}"
    );

    // Three thresholds later, with no export tried in between: still unready.
    std::thread::sleep(Duration::from_secs(3));
    let readiness = telemetry.readiness();
    assert!(!readiness.ready, "{readiness:?}");
    assert_eq!(readiness.status_code(), 503);
    assert!(readiness.to_json().contains("\"status\":\"unready\""));
}
