//! A collector that throttles — RESOURCE_EXHAUSTED with a `google.rpc.RetryInfo` over gRPC, 429
//! with `Retry-After` over OTLP/HTTP — gets the same batch again once the wait it asked for has
//! passed (not sooner, as the backoff alone would send it), and nothing is dropped or counted as
//! an export error.

use std::sync::Arc;
use std::time::{Duration, Instant};

use watchpost_testkit::otlp::{Mode, Receiver};

fn counter(telemetry: &watchpost::Telemetry, name: &str) -> f64 {
    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    let prefix = format!("shop_{name}{{signal=\"traces\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn throttled_once(receiver: Receiver, protocol: &str) {
    // Well above the first backoff delay (about 100 ms), so only the collector's hint explains
    // a wait this long.
    const WAIT: Duration = Duration::from_secs(2);
    receiver.set_mode(Mode::ThrottleOnce(WAIT));
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let telemetry = Arc::new(telemetry);
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..4 {
            tracing::info_span!("request").in_scope(|| {});
        }
    });
    let started = Instant::now();
    let t = telemetry.clone();
    tokio::task::spawn_blocking(move || t.force_flush(Duration::from_secs(20)))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert_eq!(
        receiver.received.lock().unwrap().spans.len(),
        4,
        "{protocol}: the refused batch arrived on the retry"
    );
    assert!(
        waited >= WAIT,
        "{protocol}: sent again after {waited:?}, before the {WAIT:?} the collector asked for"
    );
    assert_eq!(
        counter(&telemetry, "telemetry_dropped_total"),
        0.0,
        "{protocol}"
    );
    assert_eq!(
        counter(&telemetry, "telemetry_export_errors_total"),
        0.0,
        "{protocol}"
    );
    let _ = receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_asking_to_wait_gets_the_batch_after_the_wait() {
    let grpc = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    throttled_once(grpc, "grpc").await;
    let http = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    throttled_once(http, "http/protobuf").await;
}
