//! The access line's method, route, client address and request id are written without the
//! e-mail/card scan (they are the HTTP layer's own values). So what a caller controls in them
//! must not pass unchecked: an `x-request-id` that is a card number is replaced by a generated
//! id (the response says which), an extension method that is one is written as `_OTHER`; a sane
//! caller id is kept as sent, and the scan still masks what the handler logs in the same request.

use std::net::SocketAddr;

use axum::routing::any;
use watchpost_testkit::capture::Capture;

const CARD: &str = "4111111111111111"; // Luhn-valid, a test Visa number

#[test]
fn the_access_line_never_carries_a_card_number_a_caller_sent() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("web").build().unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    let ids = tracing::dispatcher::with_default(&dispatch, || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let app = axum::Router::new()
                .route(
                    "/pay",
                    any(|| async {
                        tracing::info!(
                            note = "card 4111 1111 1111 1111 from a@b.example",
                            "paying"
                        );
                        "ok"
                    }),
                )
                .layer(watchpost::http::HttpLayer::new(&telemetry));
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
            let client = reqwest::Client::new();
            let mut ids = Vec::new();
            for (method, id) in [
                ("GET", CARD),
                ("GET", "order-2026-11-30.7"),
                (CARD, "plain-id"),
            ] {
                let response = client
                    .request(
                        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                        format!("http://{addr}/pay"),
                    )
                    .header("x-request-id", id)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 200);
                let returned = response.headers()["x-request-id"]
                    .to_str()
                    .unwrap()
                    .to_string();
                ids.push(returned);
            }
            ids
        })
    });
    telemetry.force_flush(std::time::Duration::from_secs(5));
    let text = capture.lines().join("\n");
    assert!(
        !text.contains(CARD),
        "a card number reached the log:\n{text}"
    );
    assert!(!text.contains("a@b.example"), "{text}");

    // The card-number id was replaced by a generated one (32 hex digits), the others kept.
    assert_ne!(ids[0], CARD);
    assert!(
        ids[0].len() == 32 && ids[0].bytes().all(|b| b.is_ascii_hexdigit()),
        "{}",
        ids[0]
    );
    assert_eq!(ids[1], "order-2026-11-30.7");
    assert_eq!(ids[2], "plain-id");

    let lines = capture.json();
    let access: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"] == "request handled")
        .collect();
    assert_eq!(access.len(), 3, "{lines:?}");
    assert_eq!(access[0]["request_id"], ids[0].as_str());
    assert_eq!(access[1]["request_id"], "order-2026-11-30.7");
    assert_eq!(access[1]["method"], "GET");
    assert_eq!(access[1]["path"], "/pay");
    assert_eq!(access[2]["method"], "_OTHER", "{:?}", access[2]);
    let remote = access[1]["remote_addr"].as_str().unwrap();
    assert!(remote.parse::<SocketAddr>().is_ok(), "{remote}");
    // The handler's own field went through the scan.
    let paying: Vec<_> = lines.iter().filter(|l| l["msg"] == "paying").collect();
    assert_eq!(paying.len(), 3);
    let note = paying[0]["note"].as_str().unwrap();
    assert!(!note.contains("4111") && note.contains("card "), "{note}");
}
