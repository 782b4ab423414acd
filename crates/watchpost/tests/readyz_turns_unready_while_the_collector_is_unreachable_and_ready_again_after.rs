//! `/readyz` over a real socket, with export to a real OTLP receiver: ready while exports go
//! through; once the collector has been unreachable for longer than the threshold, 503 with the
//! exporter's check saying why; ready again, without a restart, once a collector listens on the
//! same address again.

use std::future::IntoFuture as _;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::Value;
use watchpost_testkit::http;
use watchpost_testkit::otlp::Receiver;

/// GET /readyz: the status and the body as JSON.
async fn readyz(addr: SocketAddr) -> (u16, Value) {
    let (status, content_type, body) =
        tokio::task::spawn_blocking(move || http::get(addr, "/readyz", None))
            .await
            .unwrap();
    assert_eq!(content_type, "application/json");
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

/// Polls /readyz until it answers `want` (a minute at most).
async fn until(addr: SocketAddr, want: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = readyz(addr).await;
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
async fn readyz_turns_unready_while_the_collector_is_unreachable_and_ready_again_after() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let collector = receiver.addr;
    let config = watchpost::Config::builder("svc")
        .otel_enabled(true)
        .otel_endpoint(collector.to_string())
        // A metrics push every 100 ms: an export attempt to judge by, without any traffic.
        .metric_export_interval(Duration::from_millis(100))
        .export_timeout(Duration::from_millis(500))
        .ready_export_failure(Some(Duration::from_secs(1)))
        .build()
        .unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let api = telemetry.health().listener("api");
    tokio::spawn(
        axum::serve(
            listener,
            watchpost::health::router(telemetry.health().clone()),
        )
        .into_future(),
    );
    api.up();

    let body = until(addr, 200).await;
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["exporter"]["enabled"], true);

    // The collector goes away: every push is refused.
    let received = receiver.stop().await;
    let body = until(addr, 503).await;
    assert_eq!(body["status"], "unready");
    let exporter = &body["checks"]["exporter"];
    assert_eq!(exporter["ok"], false, "{body}");
    assert!(exporter["failing_for_s"].as_u64().unwrap() >= 1, "{body}");
    assert!(exporter["last_failure_s_ago"].is_u64(), "{body}");
    assert_eq!(exporter["threshold_s"], 1);
    assert_eq!(exporter["signal"], "metrics");
    assert!(
        !exporter["reason"].as_str().unwrap().is_empty(),
        "the reason is given: {body}"
    );
    assert_eq!(body["checks"]["listeners"]["ok"], true, "{body}");
    assert_eq!(body["checks"]["log_writer"]["ok"], true, "{body}");

    // A collector on the same address again: the next push goes through.
    let receiver = Receiver::start(collector, Some(received)).await;
    let body = until(addr, 200).await;
    assert_eq!(body["checks"]["exporter"]["ok"], true, "{body}");
    // The metrics push got through, so metrics no longer fail. Another signal that has not
    // exported since (logs) may still show its failure, under the threshold.
    let exporter = &body["checks"]["exporter"];
    assert!(
        exporter.get("failing_for_s").is_none() || exporter["signal"] != "metrics",
        "{body}"
    );
    assert_eq!(telemetry.readiness().status_code(), 200);
    drop(receiver);
}
