//! While spans arrive faster than a slow collector takes them, the export worker still serves
//! its other duties: the periodic metrics push goes out during the flood, not after it. (The
//! worker once drained spans for as long as the queue refilled, starving metrics, logs and
//! flushes.)
mod support;

use std::time::{Duration, Instant};

use watchpost_testkit::otlp::{Mode, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_keep_flowing_while_spans_saturate_the_exporter() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    receiver.set_mode(Mode::Slow(Duration::from_millis(20)));
    let service = support::otlpdemo_exporting_to(
        receiver.addr,
        &[
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
            ("EXPORT_PRIORITY", "normal"),
        ],
    );
    let client = reqwest::Client::new();
    let url = format!("http://{}/ok", service.http);
    let stop_at = Instant::now() + Duration::from_secs(3);
    let flood: Vec<_> = (0..8)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            tokio::spawn(async move {
                while Instant::now() < stop_at {
                    assert_eq!(client.get(&url).send().await.unwrap().status(), 200);
                }
            })
        })
        .collect();
    // Halfway through the flood the collector must already have metric pushes.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let (metrics_during, spans_during) = {
        let r = receiver.received.lock().unwrap();
        (r.metrics.len(), r.spans.len())
    };
    for f in flood {
        f.await.unwrap();
    }
    let _ = tokio::task::spawn_blocking(move || service.terminate()).await;
    receiver.stop().await;
    assert!(spans_during > 0, "spans were being exported");
    assert!(
        metrics_during > 0,
        "no metrics pushed during the flood ({spans_during} spans were)"
    );
}
