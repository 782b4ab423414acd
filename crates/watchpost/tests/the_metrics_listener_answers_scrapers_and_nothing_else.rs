//! `Telemetry::serve_metrics` serves `/metrics` (format negotiated or forced) and
//! `/metrics/catalogue` on hyper alone, and the probes `/healthz` and `/readyz`; a bad `format`
//! is a 400 naming what is allowed, any other path a 404, any method but GET/HEAD a 405;
//! dropping the handle leaves it serving; shutdown frees the port.

use std::io::{Read, Write};
use std::net::TcpStream;

use watchpost_testkit::http;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_metrics_listener_answers_scrapers_and_nothing_else() {
    let config = watchpost::Config::builder("listener")
        .metrics_listen(([127, 0, 0, 1], 0).into())
        .build()
        .unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    telemetry
        .metrics()
        .meter()
        .u64_counter("listener_jobs_total")
        .build()
        .add(3, &[]);
    let server = telemetry.serve_metrics().await.unwrap();
    let addr = server.local_addr();

    let answers = tokio::task::spawn_blocking(move || {
        let text = http::get(addr, "/metrics", None);
        let open = http::get(
            addr,
            "/metrics",
            Some("application/openmetrics-text; version=1.0.0"),
        );
        let forced = http::get(addr, "/metrics?format=open%6Detrics", None);
        let bad = http::get(addr, "/metrics?format=json", None);
        let catalogue = http::get(addr, "/metrics/catalogue", None);
        let yaml = http::get(addr, "/metrics/catalogue?format=yaml", None);
        let missing = http::get(addr, "/nothing", None);
        let live = http::get(addr, "/healthz", None);
        let ready = http::get(addr, "/readyz", None);
        let mut post = TcpStream::connect(addr).unwrap();
        post.write_all(
            b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut raw = String::new();
        post.read_to_string(&mut raw).unwrap();
        (
            text, open, forced, bad, catalogue, yaml, missing, live, ready, raw,
        )
    })
    .await
    .unwrap();
    let (text, open, forced, bad, catalogue, yaml, missing, live, ready, post) = answers;

    assert_eq!(text.0, 200);
    assert!(
        text.1.starts_with("text/plain; version=0.0.4"),
        "{}",
        text.1
    );
    assert!(text.2.contains("listener_jobs_total 3"), "{}", text.2);
    assert_eq!(open.0, 200);
    assert!(
        open.1.starts_with("application/openmetrics-text"),
        "{}",
        open.1
    );
    assert!(open.2.trim_end().ends_with("# EOF"), "{}", open.2);
    assert!(
        forced.1.starts_with("application/openmetrics-text"),
        "{}",
        forced.1
    );
    assert_eq!(bad.0, 400);
    assert!(
        bad.2.contains("\"json\"") && bad.2.contains("text or openmetrics"),
        "{}",
        bad.2
    );
    assert_eq!(catalogue.0, 200);
    assert_eq!(catalogue.1, "application/json");
    let parsed: serde_json::Value = serde_json::from_str(&catalogue.2).unwrap();
    assert!(parsed.is_object(), "{}", catalogue.2);
    assert_eq!(yaml.1, "application/yaml");
    assert_eq!(missing.0, 404);
    assert!(missing.2.contains("/metrics"), "{}", missing.2);
    assert_eq!((live.0, live.1.as_str()), (200, "application/json"));
    assert!(live.2.contains("\"live\""), "{}", live.2);
    assert_eq!(ready.0, 200, "{}", ready.2);
    let checks: serde_json::Value = serde_json::from_str(&ready.2).unwrap();
    assert_eq!(checks["status"], "ready", "{}", ready.2);
    assert!(post.starts_with("HTTP/1.1 405"), "{post}");
    assert!(
        post.to_ascii_lowercase().contains("allow: get, head"),
        "{post}"
    );

    // A dropped handle is not a stop (the listener serves until `shutdown` or the runtime ends).
    let config = watchpost::Config::builder("dropped")
        .metrics_listen(([127, 0, 0, 1], 0).into())
        .build()
        .unwrap();
    let (other, _d) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let dropped = other.serve_metrics().await.unwrap();
    let dropped_addr = dropped.local_addr();
    drop(dropped);
    tokio::task::yield_now().await;
    let after_drop = tokio::task::spawn_blocking(move || http::get(dropped_addr, "/healthz", None))
        .await
        .unwrap();
    assert_eq!(after_drop.0, 200, "a dropped MetricsServer stopped serving");

    server.shutdown().await;
    assert!(
        TcpStream::connect(addr).is_err(),
        "the port is still open after shutdown"
    );
}
