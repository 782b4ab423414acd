//! `watchpost console --scrape URL` scrapes a Prometheus text exposition served by a small HTTP
//! server in the test (its counter grows by 10 at every scrape): the counter is stored as a
//! cumulative sum and charted as a rate, the histogram keeps its buckets and is charted as
//! quantiles, the points belong to the service `target_info` names, and the Metrics page draws
//! the chart.

#[path = "support/console.rs"]
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use support::*;

fn exposition(scrape: u64) -> String {
    format!(
        "# HELP shop_orders_total Orders placed.\n\
# TYPE shop_orders_total counter\n\
shop_orders_total{{route=\"/orders\"}} {orders}\n\
# HELP shop_request_duration_seconds Time to answer a request.\n\
# TYPE shop_request_duration_seconds histogram\n\
shop_request_duration_seconds_bucket{{route=\"/orders\",le=\"0.1\"}} {fast}\n\
shop_request_duration_seconds_bucket{{route=\"/orders\",le=\"1\"}} {all}\n\
shop_request_duration_seconds_bucket{{route=\"/orders\",le=\"+Inf\"}} {all}\n\
shop_request_duration_seconds_sum{{route=\"/orders\"}} {sum}\n\
shop_request_duration_seconds_count{{route=\"/orders\"}} {all}\n\
# HELP target_info Target metadata\n\
# TYPE target_info gauge\n\
target_info{{service_name=\"shop\"}} 1\n",
        orders = scrape * 10,
        fast = scrape * 9,
        all = scrape * 10,
        sum = scrape as f64 * 1.5,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_scrapes_an_exposition_and_charts_its_counter_as_a_rate() {
    let scrapes = Arc::new(AtomicU64::new(0));
    let served = scrapes.clone();
    let app = axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let n = served.fetch_add(1, Ordering::SeqCst) + 1;
            async move { exposition(n) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let url = format!("http://{addr}/metrics");
    let console = tokio::task::spawn_blocking(move || {
        // A timeout of its own, longer than the interval: a loaded machine does not fail scrapes.
        start(&[
            "--scrape",
            &url,
            "--scrape-interval",
            "200ms",
            "--scrape-timeout",
            "10s",
        ])
    })
    .await
    .unwrap();
    let path = "/api/metrics?name=shop_orders_total";
    let (console, series) = tokio::task::spawn_blocking(move || {
        console.wait_for("/api/metrics", |m| {
            m["metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "shop_orders_total")
        });
        let s = console.wait_for(path, |s| {
            s["series"][0]["points"]
                .as_array()
                .is_some_and(|p| p.len() >= 2)
        });
        (console, s)
    })
    .await
    .unwrap();
    assert_eq!(series["kind"], "counter");
    assert_eq!(series["shown_as"], "rate per second");
    let labels = &series["series"][0]["labels"];
    assert_eq!(labels["service"], "shop", "target_info names the service");
    assert_eq!(labels["route"], "/orders");
    for p in series["series"][0]["points"].as_array().unwrap() {
        assert!(
            p[1].as_f64().unwrap() > 0.0,
            "the counter grows at every scrape, so every rate is positive: {series:#}"
        );
    }

    let h = console.json("/api/metrics?name=shop_request_duration_seconds");
    assert_eq!(h["kind"], "histogram");
    assert_eq!(h["shown_as"], "quantiles");
    let quantiles: Vec<&str> = h["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["labels"]["quantile"].as_str().unwrap())
        .collect();
    assert_eq!(quantiles, ["p50", "p90", "p99"]);
    // 9 of every 10 observations are under 0.1 s: the median is under it, p99 above.
    let last = |i: usize| {
        h["series"][i]["points"]
            .as_array()
            .unwrap()
            .last()
            .map(|p| p[1].as_f64().unwrap())
            .unwrap()
    };
    assert!(last(0) <= 0.1, "p50 {}", last(0));
    assert!(last(2) > 0.1, "p99 {}", last(2));

    let sources = console.json("/api/sources");
    assert!(
        sources["scrapes"][0]["ok"].as_u64().unwrap() >= 2,
        "{sources:#}"
    );
    let stats = console.json("/api/stats");
    assert!(stats["live"]["scrapes"]["ok"].as_u64().unwrap() >= 2);

    let (status, _, page) =
        watchpost_testkit::http::get(console.ui, "/charts?name=shop_orders_total", None);
    assert_eq!(status, 200);
    assert!(page.contains("<polyline class=\"series\""), "{page}");
    assert!(page.contains("rate per second"));
    assert!(scrapes.load(Ordering::SeqCst) >= 2);
    tokio::task::spawn_blocking(move || drop(console))
        .await
        .unwrap();
}
