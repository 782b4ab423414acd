//! A burst of spans larger than a batch goes out in several exports at once — four in flight,
//! never more — while the rest waits in the queue (nothing dropped), and `force_flush` returns
//! only once every export has ended, those started before it too: what it returns after has
//! all arrived. The receiver holds every export until told to answer, so the exports in flight
//! are counted, not timed.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use watchpost_testkit::otlp::{Mode, Receiver};

/// Waits until `n` exports are held at the receiver (bounded, so a worker that never has that
/// many in flight fails instead of hanging).
async fn until_held(receiver: &Receiver, n: u64, protocol: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = receiver.counts.held.load(Ordering::SeqCst);
        if held >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{protocol}: {held} exports in flight at once, never {n}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn burst_then_flush(receiver: Receiver, protocol: &str) {
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            // Held exports must not time out while the test looks at them.
            ("OTEL_EXPORTER_OTLP_TIMEOUT", "120000"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            // One span per request: every span queued is a whole batch, so the worker starts
            // an export for each while fewer than its limit are in flight; none by the clock.
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let telemetry = Arc::new(telemetry);
    let spans = |n: usize| {
        tracing::dispatcher::with_default(&dispatch, || {
            for _ in 0..n {
                tracing::info_span!("request").in_scope(|| {});
            }
        })
    };
    // Flushes on a plain thread; what the receiver had when `force_flush` returned.
    let flush = || {
        let (t, counts) = (telemetry.clone(), receiver.counts.clone());
        tokio::task::spawn_blocking(move || {
            t.force_flush(Duration::from_secs(120));
            counts.spans.load(Ordering::SeqCst)
        })
    };

    // A burst of 100 batches: four exports in flight, the other 96 spans wait.
    receiver.set_mode(Mode::Hold);
    spans(100);
    until_held(&receiver, 4, protocol).await;
    let flushed = flush();
    receiver.set_mode(Mode::Accept);
    assert_eq!(
        flushed.await.unwrap(),
        100,
        "{protocol}: spans received when force_flush returned"
    );
    assert_eq!(
        receiver.counts.most_held.load(Ordering::SeqCst),
        4,
        "{protocol}: exports in flight at once, at most"
    );

    // Only exports in flight, nothing queued: the flush has nothing of its own to send and
    // still waits for them.
    receiver.set_mode(Mode::Hold);
    spans(4);
    until_held(&receiver, 4, protocol).await;
    let flushed = flush();
    receiver.set_mode(Mode::Accept);
    assert_eq!(
        flushed.await.unwrap(),
        104,
        "{protocol}: spans received when force_flush returned"
    );

    assert_eq!(telemetry.self_stats().spans_dropped, 0, "{protocol}");
    assert_eq!(telemetry.self_stats().span_exports_failed, 0, "{protocol}");
    let _ = receiver.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_goes_out_in_concurrent_exports_and_a_flush_waits_for_all_of_them() {
    let grpc = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    burst_then_flush(grpc, "grpc").await;
    let http = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    burst_then_flush(http, "http/protobuf").await;
}
