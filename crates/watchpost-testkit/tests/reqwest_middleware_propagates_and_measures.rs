//! The `reqwest-middleware` integration: a request made inside a span carries that trace to the
//! server (which continues it), and the client histogram records it with a bounded host label.
use tracing::Instrument;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reqwest_middleware_propagates_and_measures() {
    let config = watchpost::Config::builder("cli").build().unwrap();
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .install()
        .unwrap();
    let app = axum::Router::new().route(
        "/whoami",
        axum::routing::get(|headers: axum::http::HeaderMap| async move {
            headers
                .get("traceparent")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(watchpost::http::ReqwestMiddleware::new(&telemetry))
        .build();
    let span = tracing::info_span!("calling");
    let trace_id = watchpost::traces::trace_id(&span).unwrap();
    let traceparent = async {
        client
            .get(format!("http://{addr}/whoami"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
    .instrument(span)
    .await;
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent}"
    );
    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    assert!(
        text.contains(r#"cli_http_client_request_duration_seconds_count{host="127.0.0.1",method="GET",status="200"} 1"#),
        "{text}"
    );
}
