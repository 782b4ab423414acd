//! `metrics::router` merged into an application's router behind `HttpLayer`: a scrape passes
//! through without an access line or a series of the request histogram (a scraper calls every
//! few seconds), while the application's routes are measured; `include_scrapes()` measures
//! scrapes like any request.

use std::net::SocketAddr;

use axum::routing::get;
use watchpost_testkit::capture::Capture;

async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = app.into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scrapes_of_a_merged_metrics_router_are_neither_logged_nor_measured() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("web").build().unwrap();
    // Installed globally (this test is alone in its binary), so every runtime thread uses it.
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .install()
        .unwrap();
    let app = || {
        axum::Router::new()
            .route("/work", get(|| async { "done" }))
            .merge(watchpost::metrics::router(telemetry.metrics().clone()))
    };
    let quiet = serve(app().layer(watchpost::http::HttpLayer::new(&telemetry))).await;
    let measured =
        serve(app().layer(watchpost::http::HttpLayer::new(&telemetry).include_scrapes())).await;

    let http = reqwest::Client::new();
    let get = |addr: SocketAddr, path: &str| {
        let request = http.get(format!("http://{addr}{path}"));
        async move {
            let response = request.send().await.unwrap();
            assert_eq!(response.status(), 200);
            response.text().await.unwrap()
        }
    };
    for _ in 0..3 {
        get(quiet, "/metrics").await;
        get(quiet, "/metrics/catalogue").await;
    }
    get(quiet, "/work").await;
    get(measured, "/metrics").await;
    let text = get(quiet, "/metrics").await;

    let count = |path: &str| {
        let series = format!(
            "web_http_request_duration_seconds_count{{method=\"GET\",path=\"{path}\",status=\"200\"}} "
        );
        text.lines()
            .find_map(|l| l.strip_prefix(series.as_str()))
            .map_or(0, |v| v.parse::<u64>().unwrap())
    };
    assert_eq!(count("/work"), 1, "{text}");
    assert_eq!(
        count("/metrics"),
        1,
        "only the scrape through include_scrapes():\n{text}"
    );
    assert_eq!(count("/metrics/catalogue"), 0, "{text}");

    telemetry.force_flush(std::time::Duration::from_secs(5));
    let access: Vec<String> = capture
        .json()
        .iter()
        .filter(|l| l["msg"] == "request handled")
        .map(|l| l["path"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        access,
        ["/work", "/metrics"],
        "one line per measured request"
    );
}
