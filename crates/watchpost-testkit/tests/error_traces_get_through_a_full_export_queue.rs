//! At saturation the export queue fills with ordinary spans and drops them (counted); error
//! traces still get through, because ordinary spans may only fill three quarters of the queue
//! and the last quarter is kept for the spans of error and slow traces.
mod support;

use std::time::Duration;

use watchpost_testkit::otlp::{Mode, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_traces_get_through_a_full_export_queue() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    // A slow collector: 16 spans per 100 ms, far below what the flood produces.
    receiver.set_mode(Mode::Slow(Duration::from_millis(100)));
    let service = support::otlpdemo_exporting_to(
        receiver.addr,
        &[
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
            ("OTEL_BSP_MAX_QUEUE_SIZE", "64"),
            ("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "16"),
            ("EXPORT_PRIORITY", "normal"),
        ],
    );
    let client = reqwest::Client::new();
    let ok = format!("http://{}/ok", service.http);
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (client, ok) = (client.clone(), ok.clone());
            tokio::spawn(async move {
                for _ in 0..150 {
                    assert_eq!(client.get(&ok).send().await.unwrap().status(), 200);
                }
            })
        })
        .collect();

    // Wait until the queue is visibly overflowing, then send the failing requests.
    const DROPPED: &str = "otlpdemo_telemetry_dropped_total{signal=\"traces\"}";
    let mut waited = 0;
    while service.metric(&client, DROPPED).await == 0.0 {
        assert!(waited < 600, "the queue never overflowed");
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
    }
    const FAILURES: usize = 4;
    for _ in 0..FAILURES {
        let r = client
            .get(format!("http://{}/fail", service.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 500);
    }
    for f in flood {
        f.await.unwrap();
    }
    let dropped_total = service.metric(&client, DROPPED).await;
    let _ = tokio::task::spawn_blocking(move || service.terminate()).await;
    let received = receiver.stop().await;
    let r = received.lock().unwrap();

    assert!(dropped_total > 0.0);
    let failed_roots = r.spans.iter().filter(|s| s.name == "GET /fail").count();
    let failed_ok = r.spans.iter().filter(|s| s.name == "GET /ok").count();
    assert_eq!(
        failed_roots, FAILURES,
        "every error trace arrived ({failed_ok} ordinary root spans did, {dropped_total} spans dropped)"
    );
    let error_children = r
        .spans
        .iter()
        .filter(|s| s.name == "work_step" && s.events.iter().any(|e| e.name == "step failed"))
        .count();
    assert_eq!(error_children, FAILURES, "with their failing child spans");
}
