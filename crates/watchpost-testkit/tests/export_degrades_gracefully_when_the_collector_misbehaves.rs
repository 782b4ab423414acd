//! With the collector refusing (UNAVAILABLE, RESOURCE_EXHAUSTED), black-holed (accepts TCP, never
//! answers) and then back: every request keeps succeeding, the drop and error counters rise on
//! `/metrics`, data flows again after the restart without restarting the service, and shutdown
//! returns within its timeout while the collector hangs.
mod support;

use std::time::{Duration, Instant};

use watchpost_testkit::http;
use watchpost_testkit::otlp::{self, Mode, Receiver};

fn counter(metrics: std::net::SocketAddr, name: &str, signal: &str) -> f64 {
    let text = http::get_text(metrics, "/metrics");
    let prefix = format!("otlpdemo_{name}{{signal=\"{signal}\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_degrades_gracefully_when_the_collector_misbehaves() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let addr = receiver.addr;
    receiver.set_mode(Mode::Unavailable);
    let service = support::otlpdemo(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_ENDPOINT", &addr.to_string()),
        ("OTEL_TRACES_SAMPLER_RATIO", "1"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "300"),
    ]);
    let (http, metrics) = (service.http, service.metrics);
    let client = reqwest::Client::new();
    let burst = |n: usize| {
        let client = client.clone();
        async move {
            for _ in 0..n {
                let r = client
                    .get(format!("http://{http}/ok"))
                    .send()
                    .await
                    .expect("request");
                assert_eq!(r.status(), 200, "requests keep succeeding");
            }
        }
    };

    // 1. Refusing collector.
    burst(20).await;
    let m = metrics;
    wait_for("export errors and drops counted while UNAVAILABLE", || {
        counter(m, "telemetry_export_errors_total", "traces") > 0.0
            && counter(m, "telemetry_dropped_total", "traces") > 0.0
    })
    .await;
    receiver.set_mode(Mode::ResourceExhausted);
    let before = counter(m, "telemetry_export_errors_total", "metrics");
    burst(5).await;
    wait_for("metric pushes fail while RESOURCE_EXHAUSTED", || {
        counter(m, "telemetry_export_errors_total", "metrics") > before
    })
    .await;

    // 2. Black-holed collector: accepts connections, never answers.
    let received = receiver.stop().await;
    let hole = otlp::black_hole(addr).await;
    let errors_before = counter(m, "telemetry_export_errors_total", "traces");
    burst(20).await;
    wait_for("export timeouts counted while black-holed", || {
        counter(m, "telemetry_export_errors_total", "traces") > errors_before
    })
    .await;

    // 3. The collector comes back on the same address: data flows again.
    hole.abort();
    let _ = hole.await;
    let receiver = Receiver::start(addr, Some(received.clone())).await;
    let spans_before = received.lock().unwrap().spans.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        burst(2).await;
        if received.lock().unwrap().spans.len() > spans_before {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no data after the collector came back"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // 4. Shutdown while the collector hangs again returns within its 5 s timeout.
    let received = receiver.stop().await;
    let hole = otlp::black_hole(addr).await;
    burst(5).await;
    let (code, shutdown_ms, _) = tokio::task::spawn_blocking(move || service.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        shutdown_ms <= 6_000,
        "shutdown took {shutdown_ms} ms with a hanging collector"
    );
    hole.abort();
    drop(received);
}
