//! Over a real socket: `/healthz` always answers 200 `{"status":"live"}`; `/readyz` answers 503
//! while a registered listener is starting, 200 once it is up, 503 again once it stopped, each
//! time naming the listener's state.

use std::future::IntoFuture as _;
use std::net::SocketAddr;

use serde_json::Value;
use watchpost_testkit::http;

async fn get(addr: SocketAddr, path: &'static str) -> (u16, Value) {
    let (status, content_type, body) =
        tokio::task::spawn_blocking(move || http::get(addr, path, None))
            .await
            .unwrap();
    assert_eq!(content_type, "application/json", "{path}");
    (status, serde_json::from_str(&body).expect("a JSON body"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_waits_for_every_listener_and_healthz_always_answers() {
    let config = watchpost::Config::builder("svc").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let health = telemetry.health().clone();
    let api = health.listener("api");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, watchpost::health::router(health)).into_future());

    let live = serde_json::json!({"status": "live"});
    assert_eq!(get(addr, "/healthz").await, (200, live.clone()));
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unready");
    assert_eq!(body["checks"]["listeners"]["ok"], false);
    assert_eq!(body["checks"]["listeners"]["states"]["api"], "starting");
    assert_eq!(body["checks"]["exporter"]["ok"], true, "export is off");

    api.up();
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["listeners"]["states"]["api"], "up");

    drop(api);
    let (status, body) = get(addr, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["listeners"]["states"]["api"], "stopped");
    assert_eq!(get(addr, "/healthz").await, (200, live));
}
