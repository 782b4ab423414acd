//! Over OTLP/HTTP as over gRPC, a collector that refuses (503) costs the service nothing but
//! counted drops and export errors on `/metrics`, and data flows again once it accepts, without
//! a restart; a black-holed collector (accepts the connection, never answers) costs one timeout,
//! and the application's threads go on logging and making spans while the export is stuck.

use std::time::{Duration, Instant};

use watchpost_testkit::otlp::{black_hole, Mode, Receiver};

fn counter(telemetry: &watchpost::Telemetry, name: &str) -> f64 {
    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    let prefix = format!("shop_{name}{{signal=\"traces\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

fn spans(dispatch: &tracing::Dispatch, name: &'static str, n: usize) {
    tracing::dispatcher::with_default(dispatch, || {
        for _ in 0..n {
            tracing::info_span!("request", otel.name = name).in_scope(|| {});
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_failures_are_counted_and_export_recovers() {
    let receiver = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    receiver.set_mode(Mode::Unavailable);
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let telemetry = std::sync::Arc::new(telemetry);
    let flush = |t: &std::sync::Arc<watchpost::Telemetry>| {
        let t = t.clone();
        tokio::task::spawn_blocking(move || t.force_flush(Duration::from_secs(5)))
    };

    // Refused: counted, nothing kept.
    spans(&dispatch, "refused", 5);
    flush(&telemetry).await.unwrap();
    assert!(counter(&telemetry, "telemetry_export_errors_total") >= 1.0);
    assert!(counter(&telemetry, "telemetry_dropped_total") >= 5.0);
    assert!(receiver.received.lock().unwrap().spans.is_empty());

    // Back: the next spans arrive.
    receiver.set_mode(Mode::Accept);
    spans(&dispatch, "accepted", 5);
    flush(&telemetry).await.unwrap();
    let arrived = (receiver.received.lock().unwrap().spans.iter())
        .filter(|s| s.name == "accepted")
        .count();
    assert_eq!(arrived, 5, "export recovered without a restart");
    let addr = receiver.addr;
    let _ = receiver.stop().await;

    // A black hole on the same address: the export ends at its timeout, counted as a failure.
    let errors = counter(&telemetry, "telemetry_export_errors_total");
    let _hole = black_hole(addr).await;
    spans(&dispatch, "lost", 3);
    let stuck = flush(&telemetry);
    // While the export thread waits on the black hole, an application thread logs and makes
    // spans: none of it waits for the export (a full queue drops and counts instead).
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let app = dispatch.clone();
    std::thread::spawn(move || {
        tracing::dispatcher::with_default(&app, || {
            for i in 0..2000 {
                tracing::info_span!("request", otel.name = "while_stuck")
                    .in_scope(|| tracing::info!(i, "handled"));
            }
        });
        let _ = done_tx.send(());
    });
    let finished =
        tokio::task::spawn_blocking(move || done_rx.recv_timeout(Duration::from_secs(60)).is_ok());
    assert!(
        finished.await.unwrap(),
        "2000 spans and log lines did not complete in a minute: the application waits on the stuck export"
    );
    stuck.await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while counter(&telemetry, "telemetry_export_errors_total") <= errors {
        assert!(
            Instant::now() < deadline,
            "the timed-out export was never counted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
