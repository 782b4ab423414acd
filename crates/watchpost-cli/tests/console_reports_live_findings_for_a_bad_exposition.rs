//! `watchpost console --scrape URL` lints every scrape with `watchpost lint`'s rules: a counter
//! without HELP and without `_total` is reported on `/api/findings` and the Findings page, by
//! rule, level, service (the target's `host:port`) and family, counted once per scrape that
//! shows it, with its first and last time seen; a clean family gets nothing.

#[path = "support/console.rs"]
mod support;

use serde_json::Value;
use support::*;

const BAD: &str = "# TYPE shop_jobs counter\n\
shop_jobs 3\n\
# HELP shop_queue_length Jobs waiting.\n\
# TYPE shop_queue_length gauge\n\
shop_queue_length 2\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_reports_live_findings_for_a_bad_exposition() {
    let app = axum::Router::new().route("/metrics", axum::routing::get(|| async { BAD }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    let url = format!("http://{addr}/metrics");
    let console = tokio::task::spawn_blocking(move || {
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

    let find = |v: &Value, rule: &str| -> Option<Value> {
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["rule"] == rule)
            .cloned()
    };
    let (console, findings) = tokio::task::spawn_blocking(move || {
        let v = console.wait_for("/api/findings", |v| {
            find(v, "metric.no-help").is_some_and(|f| f["count"].as_u64().unwrap() >= 2)
        });
        (console, v)
    })
    .await
    .unwrap();
    let no_help = find(&findings, "metric.no-help").unwrap();
    assert_eq!(no_help["name"], "shop_jobs");
    assert_eq!(no_help["level"], "violation");
    assert_eq!(no_help["signal"], "metric");
    assert_eq!(no_help["service"], addr.to_string());
    assert_eq!(no_help["context"]["family"], "shop_jobs");
    assert!(
        no_help["first_seen_ns"].as_u64().unwrap() < no_help["last_seen_ns"].as_u64().unwrap(),
        "seen at two scrapes: {no_help:#}"
    );
    let total = find(&findings, "metric.counter-without-total").expect("counter without _total");
    assert_eq!(total["name"], "shop_jobs");
    assert!(
        findings["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["name"] != "shop_queue_length"),
        "the clean gauge has no finding: {findings:#}"
    );
    let other = console.json("/api/findings?service=elsewhere");
    assert!(other["findings"].as_array().unwrap().is_empty());

    let (status, _, page) = watchpost_testkit::http::get(console.ui, "/findings", None);
    assert_eq!(status, 200);
    assert!(page.contains("<table id=\"findings\">"), "{page}");
    assert!(page.contains("data-rule=\"metric.no-help\""));
    assert!(
        page.contains("<table id=\"scrapes\">"),
        "the sources are shown"
    );
    assert!(page.contains("href=\"/findings\" class=\"on\""));
    tokio::task::spawn_blocking(move || drop(console))
        .await
        .unwrap();
}
