//! procman's `/healthz` and `/readyz`, over real sockets: live from the start; unready (503, the
//! exporter's check saying why) while its OTLP collector has been unreachable for longer than
//! `READY_EXPORT_FAILURE`, with both listeners up; ready again, without a restart, once a
//! collector listens on that address. Both listeners answer the same.
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use watchpost_testkit::otlp::Receiver;
use watchpost_testkit::process::free_port;

async fn get(c: &reqwest::Client, addr: SocketAddr, path: &str) -> (u16, Value) {
    let r = c.get(format!("http://{addr}{path}")).send().await.unwrap();
    assert_eq!(r.headers()["content-type"], "application/json", "{path}");
    (r.status().as_u16(), support::json_of(r).await)
}

/// Polls `/readyz` until it answers `want` (a minute at most).
async fn until(c: &reqwest::Client, addr: SocketAddr, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = get(c, addr, "/readyz").await;
        if status == want {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "/readyz still answers {status}, not {want}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_collector_and_healthz_answers() {
    let collector: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let endpoint = collector.to_string();
    let pm = support::Procman::spawn(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_ENDPOINT", &endpoint),
        // A metrics push every 200 ms: an export attempt to judge by, without any traffic.
        ("OTEL_METRIC_EXPORT_INTERVAL", "200"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "500"),
        ("READY_EXPORT_FAILURE", "1s"),
    ]);
    let c = reqwest::Client::new();
    assert_eq!(
        get(&c, pm.api, "/healthz").await,
        (200, json!({"status": "live"}))
    );

    // Nothing listens on the collector's address.
    let body = until(&c, pm.api, 503).await;
    let exporter = &body["checks"]["exporter"];
    assert_eq!(exporter["ok"], false, "{body}");
    assert!(exporter["failing_for_s"].as_u64().unwrap() >= 1, "{body}");
    assert!(!exporter["reason"].as_str().unwrap().is_empty(), "{body}");
    assert_eq!(
        body["checks"]["listeners"],
        json!({"ok": true, "states": {"metrics": "up", "api": "up"}}),
        "{body}"
    );
    let (status, on_metrics) = get(&c, pm.metrics, "/readyz").await;
    assert_eq!(
        status, 503,
        "the metrics listener answers the same: {on_metrics}"
    );
    assert_eq!(
        get(&c, pm.api, "/healthz").await.0,
        200,
        "still live: the collector is not procman's trouble"
    );

    // A collector comes up on that address.
    let receiver = Receiver::start(collector, None).await;
    let body = until(&c, pm.api, 200).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["exporter"]["ok"], true, "{body}");
    assert_eq!(get(&c, pm.metrics, "/readyz").await.0, 200);

    assert_eq!(pm.terminate(), 0);
    drop(receiver);
}
