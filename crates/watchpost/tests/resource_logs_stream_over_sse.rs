//! The ready-made SSE handler, over a real socket with a real HTTP client: the tail as `data:`
//! events with the streaming headers, a followed stream that receives a line written after it
//! opened, 404 for unknown resources and 400 (JSON) for invalid ids and parameters.
mod support;

use std::time::Duration;

use watchpost::logs::{sse_handler, SseState};
use watchpost_testkit::tools::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_logs_stream_over_sse() {
    let dir = TempDir::new("sse");
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| rl.flush_interval = Duration::from_millis(20),
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap().clone();
    logs.register("instance", "s1").unwrap();
    let emit = |msg: &str| {
        tracing::dispatcher::with_default(&dispatch, || tracing::info!(instance_id = "s1", "{msg}"))
    };
    for i in 0..5 {
        emit(&format!("history {i}"));
    }

    let app = axum::Router::new()
        .route("/instances/{id}/logs", axum::routing::get(sse_handler))
        .with_state(SseState::new(logs.clone(), "instance"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://{addr}{path}");

    // The tail, then the end of the response.
    let resp = client
        .get(url("/instances/s1/logs?tail=2&follow=false"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "text/event-stream");
    assert_eq!(h["cache-control"], "no-cache");
    assert_eq!(h["x-accel-buffering"], "no");
    let body = tokio::time::timeout(Duration::from_secs(10), resp.text())
        .await
        .unwrap()
        .unwrap();
    let data: Vec<serde_json::Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let msgs: Vec<&str> = data.iter().map(|v| v["msg"].as_str().unwrap()).collect();
    assert_eq!(msgs, ["history 3", "history 4"]);

    // Follow: a line written after the stream opened arrives as an event.
    let mut resp = client
        .get(url("/instances/s1/logs?tail=0&follow=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    tokio::time::sleep(Duration::from_millis(100)).await;
    emit("after open");
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = resp.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            if seen.contains("\"msg\":\"after open\"") {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(
        found,
        "followed stream did not deliver the new line: {seen:?}"
    );
    assert!(
        !seen.contains("history"),
        "tail=0 sends no history: {seen:?}"
    );
    drop(resp);

    // Errors: JSON bodies with the right status.
    for (path, status, code) in [
        ("/instances/unknown/logs", 404, "not_found"),
        ("/instances/..%2F..%2Fetc/logs", 400, "invalid_id"),
        ("/instances/s1/logs?tail=abc", 400, "invalid_parameter"),
        ("/instances/s1/logs?tail=100001", 400, "invalid_parameter"),
        ("/instances/s1/logs?follow=maybe", 400, "invalid_parameter"),
        ("/instances/s1/logs?colour=red", 400, "invalid_parameter"),
    ] {
        let resp = client.get(url(path)).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{path}");
        assert_eq!(resp.headers()["content-type"], "application/json", "{path}");
        let text = resp.text().await.unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}: {text}"));
        assert_eq!(v["error"], code, "{path}: {v}");
        assert!(!v["message"].as_str().unwrap().is_empty());
    }
}
