//! The HTTP layers over a real socket: a client request through `HttpClientLayer` carries its
//! span's `traceparent` to a server behind `HttpLayer`, which continues that trace; a panicking
//! handler becomes a 500 that is logged once at ERROR and counted; excluded routes leave no
//! trace; and client and server metrics use bounded labels.

use std::convert::Infallible;

use axum::routing::get;
use tower::{Service as _, ServiceExt as _};
use watchpost_testkit::capture::Capture;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_layers_trace_measure_and_survive_panics() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("web")
        .subsystem(watchpost::Subsystem::new("API").target("watchpost::http"))
        .build()
        .unwrap();
    // Installed globally (this test is alone in its binary), so every runtime thread uses it.
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .install()
        .unwrap();

    let app = axum::Router::new()
        .route(
            "/echo-trace",
            get(|headers: axum::http::HeaderMap| async move {
                headers
                    .get("traceparent")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string()
            }),
        )
        .route(
            "/boom",
            get(|| async { panic!("handler exploded") as &'static str }),
        )
        .route("/healthz", get(|| async { "ok" }))
        .layer(watchpost::http::HttpLayer::new(&telemetry).exclude("/healthz"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });

    // A client: plain reqwest behind a tower service, wrapped in the client layer.
    let http = reqwest::Client::new();
    let raw = tower::service_fn(move |req: axum::http::Request<String>| {
        let http = http.clone();
        async move {
            let (parts, body) = req.into_parts();
            let mut rb = http.request(parts.method, parts.uri.to_string()).body(body);
            for (k, v) in parts.headers.iter() {
                rb = rb.header(k, v);
            }
            let r = rb.send().await.unwrap();
            let status = r.status();
            let text = r.text().await.unwrap();
            let mut resp = axum::http::Response::new(text);
            *resp.status_mut() = status;
            Ok::<_, Infallible>(resp)
        }
    });
    let mut client = tower::ServiceBuilder::new()
        .layer(watchpost::http::HttpClientLayer::new(&telemetry))
        .service(raw);

    let outer = tracing::info_span!("outer_operation");
    let outer_trace = watchpost::traces::trace_id(&outer).unwrap();
    let req = axum::http::Request::get(format!("http://{addr}/echo-trace"))
        .body(String::new())
        .unwrap();
    let resp = {
        use tracing::Instrument;
        // The client span is created when `call` runs, inside the caller's span.
        async { client.ready().await.unwrap().call(req).await.unwrap() }
            .instrument(outer.clone())
            .await
    };
    let traceparent = resp.into_body();
    assert!(
        traceparent.starts_with(&format!("00-{outer_trace}-")),
        "client injected its trace: {traceparent}"
    );

    let boom = reqwest::get(format!("http://{addr}/boom")).await.unwrap();
    assert_eq!(boom.status(), 500);
    assert_eq!(boom.headers()["content-type"], "application/json");
    assert_eq!(
        reqwest::get(format!("http://{addr}/healthz"))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        reqwest::get(format!("http://{addr}/no/such/{}", 42))
            .await
            .unwrap()
            .status(),
        404
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    let lines = capture.json();
    let access: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"] == "request handled" || l["msg"] == "request failed")
        .collect();
    assert_eq!(
        access.len(),
        3,
        "echo, boom, 404 — not the excluded /healthz: {lines:#?}"
    );
    let echo = access.iter().find(|l| l["path"] == "/echo-trace").unwrap();
    assert_eq!(
        echo["trace_id"],
        outer_trace.as_str(),
        "the server continued the client's trace"
    );
    let failed = access.iter().find(|l| l["path"] == "/boom").unwrap();
    assert_eq!(
        (failed["level"].as_str(), failed["status"].as_u64()),
        (Some("WARN"), Some(500))
    );
    let panics: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"] == "request handler panicked")
        .collect();
    assert_eq!(panics.len(), 1);
    assert_eq!(panics[0]["level"], "ERROR");
    assert_eq!(panics[0]["panic"], "handler exploded");
    assert_eq!(
        access.iter().find(|l| l["status"] == 404).unwrap()["path"],
        "__unmatched__"
    );

    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    assert!(
        text.contains(
            r#"web_http_request_duration_seconds_count{method="GET",path="/boom",status="500"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("web_http_panics_total 1"), "{text}");
    assert!(text.contains(r#"web_http_client_request_duration_seconds_count{host="127.0.0.1",method="GET",status="200"} 1"#), "{text}");
    assert!(!text.contains("healthz"));
}
