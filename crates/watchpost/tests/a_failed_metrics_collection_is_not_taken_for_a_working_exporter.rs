//! The metrics push collects, then exports. When the collection itself fails (here: the meter
//! provider was shut down), nothing went out: readiness must not take that for a successful
//! export and forget that the exporter is failing.

use std::time::{Duration, Instant};

#[test]
fn a_failed_metrics_collection_is_not_taken_for_a_working_exporter() {
    // A collector address nobody listens on: every push is refused.
    let port = watchpost_testkit::process::free_port();
    let config = watchpost::Config::builder("svc")
        .otel_enabled(true)
        .otel_endpoint(format!("127.0.0.1:{port}"))
        .env_vars([
            ("OTEL_TRACES_EXPORTER", "none"),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .metric_export_interval(Duration::from_millis(100))
        .export_timeout(Duration::from_millis(500))
        .ready_export_failure(Some(Duration::from_secs(600)))
        .build()
        .unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();

    let deadline = Instant::now() + Duration::from_secs(60);
    while telemetry.readiness().exporter.failing_for.is_none() {
        assert!(Instant::now() < deadline, "{:?}", telemetry.readiness());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(telemetry.readiness().exporter.signal, Some("metrics"));

    // From now on every collection fails; give the push several intervals to try.
    telemetry.metrics().provider().shutdown().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let readiness = telemetry.readiness();
    assert!(
        readiness.exporter.failing_for.is_some(),
        "a failed collection cleared the failing exporter: {readiness:?}"
    );
    assert_eq!(readiness.exporter.signal, Some("metrics"));
}
