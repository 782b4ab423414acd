//! The access line's method, route, client address and request id are written without the
//! e-mail/card scan (they are the HTTP layer's own values). So what a caller controls in them
//! must not pass unchecked: an `x-request-id` that is a card number is masked in the telemetry
//! (and echoed unchanged to the caller), an extension method that is one is written as `_OTHER`;
//! a sane caller id is kept as sent. The scan still masks what the handler logs in the same
//! request, what it records onto the request span later, and what an application's own span
//! with the layer's target and name carries.

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
                        // Recorded onto the request span by the handler: the application's value.
                        tracing::Span::current().record("request_id", "c@d.example");
                        tracing::info!("recorded");
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
                let returned = response.headers()["x-request-id"].to_str().unwrap();
                ids.push(returned.to_string());
            }
            // An application's own span with the layer's target and name is not the layer's.
            let own = tracing::info_span!(
                target: "watchpost::http",
                "request",
                request_id = "e@f.example",
                path = "/card/4111111111111111"
            );
            own.in_scope(|| tracing::info!("inside my own request span"));
            ids
        })
    });
    telemetry.force_flush(std::time::Duration::from_secs(5));
    let text = capture.lines().join("\n");
    assert!(
        !text.contains(CARD),
        "a card number reached the log:\n{text}"
    );
    for email in ["a@b.example", "c@d.example", "e@f.example"] {
        assert!(!text.contains(email), "{email} reached the log:\n{text}");
    }

    // Every caller's id is echoed as sent.
    assert_eq!(ids, [CARD, "order-2026-11-30.7", "plain-id"]);

    let lines = capture.json();
    let access: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"] == "request handled")
        .collect();
    assert_eq!(access.len(), 3, "{lines:?}");
    assert_eq!(access[0]["request_id"], "[REDACTED:card]");
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
    // A value the handler records onto the request span is the application's: scanned.
    let recorded: Vec<_> = lines.iter().filter(|l| l["msg"] == "recorded").collect();
    assert_eq!(
        recorded[0]["request_id"], "[REDACTED:email]",
        "{:?}",
        recorded[0]
    );
    // A span the application makes with the layer's target and name: scanned.
    let own = lines
        .iter()
        .find(|l| l["msg"] == "inside my own request span")
        .unwrap();
    assert_eq!(own["request_id"], "[REDACTED:email]", "{own:?}");
    assert_eq!(own["path"], "/card/[REDACTED:card]", "{own:?}");
}
