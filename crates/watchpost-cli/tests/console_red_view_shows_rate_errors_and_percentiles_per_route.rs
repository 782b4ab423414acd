//! The RED view of the real `watchpost console`: server spans sent over OTLP/gRPC are grouped by
//! service and `http.route` (a consumer span without a route by its name); each row has the
//! requests of the window, their rate, the failed ones (status ERROR or HTTP 5xx) and the
//! nearest-rank p50/p90/p99 of their durations. Client spans are not requests; spans that ended
//! before the window are left out; the page shows the rows and a bad window is refused, named.

#[path = "support/console.rs"]
mod support;

use serde_json::Value;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_red_view_shows_rate_errors_and_percentiles_per_route() {
    let console = tokio::task::spawn_blocking(|| start(&[])).await.unwrap();
    let now = now_ns();
    let mut spans = Vec::new();
    // Ten requests to /orders/{id} of 1..=10 ms; the 9th answered 503 (status unset), the 10th
    // failed with status ERROR.
    for i in 1..=10u8 {
        let mut attrs = vec![
            kv("http.route", "/orders/{id}"),
            kv("http.request.method", "GET"),
        ];
        attrs.push(kv_int(
            "http.response.status_code",
            if i == 9 { 503 } else { 200 },
        ));
        spans.push(span(
            trace_id(i),
            span_id(1),
            None,
            "GET /orders/{id}",
            2,
            now - 30_000_000_000,
            u64::from(i),
            attrs,
            (i == 10).then_some("timeout"),
        ));
        // Its client span to the database: not a request of the service.
        spans.push(span(
            trace_id(i),
            span_id(2),
            Some(span_id(1)),
            "SELECT orders",
            3,
            now - 30_000_000_000,
            1,
            vec![],
            None,
        ));
    }
    // A consumer span without a route, and a request that ended 10 minutes ago.
    spans.push(span(
        trace_id(20),
        span_id(1),
        None,
        "process payment",
        5,
        now - 20_000_000_000,
        7,
        vec![],
        None,
    ));
    spans.push(span(
        trace_id(21),
        span_id(1),
        None,
        "GET /orders/{id}",
        2,
        now - 600_000_000_000,
        100,
        vec![kv("http.route", "/orders/{id}")],
        None,
    ));
    grpc_traces(console.grpc, traces("shop", spans)).await;

    let (console, red) = tokio::task::spawn_blocking(move || {
        let v = console.wait_for("/api/red?window=5m", |v| {
            v["routes"].as_array().unwrap().len() == 2
        });
        (console, v)
    })
    .await
    .unwrap();
    assert_eq!(red["window_ns"], 300_000_000_000u64);
    assert_eq!(red["source"], "spans");
    let row = |route: &str| -> Value {
        red["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["route"] == route)
            .unwrap_or_else(|| panic!("no row for {route}: {red:#}"))
            .clone()
    };
    let orders = row("/orders/{id}");
    assert_eq!(orders["service"], "shop");
    assert_eq!(
        orders["requests"], 10,
        "client spans and older requests are left out"
    );
    assert_eq!(orders["errors"], 2);
    assert_eq!(orders["error_ratio"], 0.2);
    assert_eq!(orders["rate_per_s"].as_f64().unwrap(), 10.0 / 300.0);
    assert_eq!(orders["p50_ns"], 5_000_000);
    assert_eq!(orders["p90_ns"], 9_000_000);
    assert_eq!(orders["p99_ns"], 10_000_000);
    assert_eq!(orders["slowest_trace_id"], hex(&trace_id(10)));
    let payment = row("process payment");
    assert_eq!(
        (payment["requests"].as_u64(), payment["errors"].as_u64()),
        (Some(1), Some(0))
    );

    let wide = console.json("/api/red?window=15m&service=shop");
    let all = wide["routes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["route"] == "/orders/{id}")
        .unwrap();
    assert_eq!(
        all["requests"], 11,
        "a wider window takes the older request in"
    );
    assert!(console.json("/api/red?service=nobody")["routes"]
        .as_array()
        .unwrap()
        .is_empty());

    let (status, bad) = console.get("/api/red?window=0");
    assert_eq!(status, 400);
    assert_eq!(bad["parameter"], "window");

    let (status, _, page) = watchpost_testkit::http::get(console.ui, "/red", None);
    assert_eq!(status, 200);
    assert!(page.contains("<table id=\"red\">"), "{page}");
    assert!(page.contains("data-route=\"/orders/{id}\""));
    assert!(page.contains("20.0 %"), "the error ratio: {page}");
    assert!(
        page.contains("href=\"/red\" class=\"on\""),
        "the nav links the page"
    );
    tokio::task::spawn_blocking(move || drop(console))
        .await
        .unwrap();
}
