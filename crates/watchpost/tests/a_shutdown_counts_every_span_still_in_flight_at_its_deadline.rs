//! A shutdown whose deadline passes while exports are in flight (the collector holds them) and
//! more spans wait behind them counts every one of those spans as dropped, before it returns:
//! the ones in flight as failed exports, the ones never sent as drops. Nothing is lost
//! silently.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use watchpost_testkit::otlp::{Mode, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_counts_every_span_still_in_flight_at_its_deadline() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "120000"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            // The worker must get the CPU to answer the shutdown while other tests run.
            ("EXPORT_PRIORITY", "normal"),
            // One span per batch: each span is an export; none by the clock.
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    receiver.set_mode(Mode::Hold);
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..10 {
            tracing::info_span!("request").in_scope(|| {});
        }
    });
    // Wait (bounded) until the exports in flight are held at the receiver.
    let deadline = Instant::now() + Duration::from_secs(30);
    while receiver.counts.held.load(Ordering::SeqCst) < 4 {
        assert!(
            Instant::now() < deadline,
            "the exports never reached the receiver"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let telemetry = tokio::task::spawn_blocking(move || {
        let _ = telemetry.shutdown_with_timeout(Duration::from_secs(1));
        telemetry
    })
    .await
    .unwrap();

    assert_eq!(
        telemetry.self_stats().spans_dropped,
        10,
        "every span in flight or waiting is counted as dropped when the shutdown returns"
    );
    assert_eq!(
        telemetry.self_stats().span_exports_failed,
        4,
        "each export in flight is one failed export"
    );
    receiver.set_mode(Mode::Accept);
    let _ = receiver.stop().await;
}
