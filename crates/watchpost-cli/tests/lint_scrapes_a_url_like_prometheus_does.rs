//! `watchpost lint http://…/metrics` scrapes once, asking for OpenMetrics first as Prometheus
//! does, and lints what it gets in either format; a URL that answers an error is bad input
//! naming the URL.

use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use watchpost_cli::config::Config;
use watchpost_cli::lint;
use watchpost_cli::source::SCRAPE_ACCEPT;
use watchpost_testkit::bad::exposition::{BAD_EXPOSITION, BAD_RULE_FAMILIES};

const OPENMETRICS: &str = "\
# TYPE shop_orders counter
# HELP shop_orders Orders placed.
shop_orders_total 3
shop_orders_created 1.7e9
# TYPE shop_order_duration_seconds histogram
# UNIT shop_order_duration_seconds seconds
# HELP shop_order_duration_seconds Time to place an order.
shop_order_duration_seconds_bucket{le=\"+Inf\"} 4 # {trace_id=\"4bf92f3577b34da6a3ce929d0e0e4736\"} 0.2 1.7e9
shop_order_duration_seconds_count 4
shop_order_duration_seconds_sum 1.5
# EOF
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lint_scrapes_a_url_like_prometheus_does() {
    let accepts = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = accepts.clone();
    let app = axum::Router::new()
        .route(
            "/bad",
            get(move |headers: HeaderMap| async move {
                let accept = headers
                    .get(header::ACCEPT)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_owned();
                seen.lock().unwrap().push(accept);
                BAD_EXPOSITION
            }),
        )
        .route(
            "/om",
            get(|| async {
                (
                    [(
                        header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    OPENMETRICS,
                )
            }),
        )
        .route("/gone", get(|| async { StatusCode::NOT_FOUND }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let report = lint::run(
        &format!("http://{addr}/bad"),
        None,
        false,
        Config::default(),
    )
    .await
    .unwrap();
    assert_eq!(accepts.lock().unwrap().as_slice(), [SCRAPE_ACCEPT]);
    for (id, _) in BAD_RULE_FAMILIES.iter().take(BAD_RULE_FAMILIES.len() - 2) {
        assert_eq!(report.count(id), 1, "{id}\n{}", report.render_human(false));
    }

    let report = lint::run(&format!("http://{addr}/om"), None, false, Config::default())
        .await
        .unwrap();
    assert!(
        report.tallies().is_empty(),
        "{}",
        report.render_human(false)
    );
    let coverage = report
        .coverage(watchpost_cli::finding::Signal::Metric)
        .unwrap();
    assert_eq!(coverage["families"], 2);

    let url = format!("http://{addr}/gone");
    let e = lint::run(&url, None, false, Config::default())
        .await
        .unwrap_err();
    assert!(e.to_string().contains(&format!("'{url}'")), "{e}");
}
