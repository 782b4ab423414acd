//! A WebSocket upgrade passes through `HttpLayer`: the 101 response is logged and counted once,
//! and the upgraded connection works (messages flow both ways) after the request is done.

use axum::extract::ws::{Message, WebSocketUpgrade};
use futures_util::{SinkExt, StreamExt};
use watchpost_testkit::capture::Capture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_pass_through_the_server_layer() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("ws").build().unwrap();
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .install()
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/echo",
            axum::routing::get(|ws: WebSocketUpgrade| async move {
                ws.on_upgrade(|mut socket| async move {
                    while let Some(Ok(msg)) = socket.recv().await {
                        if let Message::Text(t) = msg {
                            if socket
                                .send(Message::Text(format!("echo {t}").into()))
                                .await
                                .is_err()
                            {
                                break;
                            }
                        }
                    }
                })
            }),
        )
        .layer(watchpost::http::HttpLayer::new(&telemetry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let (mut ws, resp) = tokio_tungstenite::connect_async(format!("ws://{addr}/echo"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 101);
    for i in 0..3 {
        ws.send(tokio_tungstenite::tungstenite::Message::Text(
            format!("hi {i}").into(),
        ))
        .await
        .unwrap();
        let reply = ws.next().await.unwrap().unwrap();
        assert_eq!(reply.into_text().unwrap().as_str(), format!("echo hi {i}"));
    }
    ws.close(None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let access: Vec<_> = capture
        .json()
        .into_iter()
        .filter(|l| l["msg"] == "request handled")
        .collect();
    assert_eq!(access.len(), 1, "{access:?}");
    assert_eq!(access[0]["status"], 101);
    assert_eq!(access[0]["path"], "/echo");
    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    assert!(
        text.contains(
            r#"ws_http_request_duration_seconds_count{method="GET",path="/echo",status="101"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("ws_http_requests_in_flight 0"), "{text}");
}
