//! When spans arrive faster than one batch is exported, full batches keep going out back to
//! back: every span reaches the collector while the service runs (not only at the next timer
//! tick or at shutdown), and none is dropped. A regression test: the worker once exported one
//! batch per "batch is full" signal, the queue then stayed above a batch without signalling
//! again, filled up and dropped most spans until the timer fired.
mod support;

use std::time::{Duration, Instant};

use watchpost_testkit::otlp::{Mode, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_keep_flowing_when_traffic_outpaces_one_batch() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    // Each export takes 20 ms: more than a batch of spans arrives while one is in flight.
    receiver.set_mode(Mode::Slow(Duration::from_millis(20)));
    let service = support::otlpdemo_exporting_to(
        receiver.addr,
        &[
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            // Small batches (64) in a queue of 4096, and a timer that never fires in this
            // test: only the "batch is full" path can deliver.
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "64"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "4096"),
            ("OTEL_BSP_SCHEDULE_DELAY", "3600000"),
        ],
    );
    let client = reqwest::Client::new();
    const REQUESTS: usize = 1024;
    const CONCURRENCY: usize = 16;
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, next, url) = (
            client.clone(),
            next.clone(),
            format!("http://{}/ok", service.http),
        );
        tasks.push(tokio::spawn(async move {
            while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < REQUESTS {
                let r = client.get(&url).send().await.unwrap();
                assert_eq!(r.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }

    // Two spans per request (server span + work step). The batch size divides the total, so
    // everything can arrive without a timer or a shutdown.
    let want = 2 * REQUESTS;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut got = 0;
    while Instant::now() < deadline {
        got = receiver.received.lock().unwrap().spans.len();
        if got >= want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let dropped = service
        .metric(
            &client,
            "otlpdemo_telemetry_dropped_total{signal=\"traces\"}",
        )
        .await;
    let _ = tokio::task::spawn_blocking(move || service.terminate()).await;
    receiver.stop().await;
    assert_eq!(
        got, want,
        "spans delivered while running (dropped: {dropped})"
    );
    assert_eq!(dropped, 0.0);
}
