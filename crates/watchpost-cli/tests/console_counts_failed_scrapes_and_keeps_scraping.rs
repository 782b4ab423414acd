//! A scrape that fails is counted and shown, never fatal: `watchpost console` scraping a port
//! nobody listens on, a URL that answers 404, and one whose body is over the 16 MiB bound keeps
//! running, counts each failure with its reason (`/api/sources`, `/api/stats`, its own
//! `/metrics`), and still stores what a good target serves.

#[path = "support/console.rs"]
mod support;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_counts_failed_scrapes_and_keeps_scraping() {
    let huge = "# TYPE big gauge\n".to_owned() + &"big 1\n".repeat(3 << 20);
    assert!(huge.len() > 16 << 20);
    let app = axum::Router::new()
        .route(
            "/metrics",
            axum::routing::get(|| async { "# HELP up_ok Fine.\n# TYPE up_ok gauge\nup_ok 1\n" }),
        )
        .route(
            "/huge",
            axum::routing::get(move || async move { huge.clone() }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    // A port that was free a moment ago: nobody listens on it.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();

    let urls = [
        format!("http://{closed}/metrics"),
        format!("http://{addr}/missing"),
        format!("http://{addr}/huge"),
        format!("http://{addr}/metrics"),
    ];
    let console = tokio::task::spawn_blocking(move || {
        // A timeout longer than the interval: only the broken targets fail, however loaded the
        // machine (what is asserted of the good one is only that it succeeds, repeatedly).
        let mut args: Vec<&str> = vec!["--scrape-interval", "200ms", "--scrape-timeout", "10s"];
        for u in &urls {
            args.extend(["--scrape", u.as_str()]);
        }
        start(&args)
    })
    .await
    .unwrap();
    let (console, sources) = tokio::task::spawn_blocking(move || {
        let v = console.wait_for("/api/sources", |v| {
            let s = v["scrapes"].as_array().unwrap();
            s[..3].iter().all(|s| s["failed"].as_u64().unwrap() >= 2)
                && s[3]["ok"].as_u64().unwrap() >= 2
        });
        (console, v)
    })
    .await
    .unwrap();
    let s = sources["scrapes"].as_array().unwrap();
    let error = |i: usize| s[i]["last_error"].as_str().unwrap().to_owned();
    assert!(error(0).contains("cannot scrape"), "{}", error(0));
    assert!(error(1).contains("404"), "{}", error(1));
    assert!(error(2).contains("over 16777216 bytes"), "{}", error(2));
    assert_eq!(s[3]["instance"], addr.to_string());
    assert!(console.json("/api/metrics")["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["name"] == "up_ok"));
    assert!(console.json("/api/metrics")["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["name"] != "big"));
    let stats = console.json("/api/stats");
    assert!(stats["live"]["scrapes"]["failed"].as_u64().unwrap() >= 6);
    let (status, _, exposition) = watchpost_testkit::http::get(console.ui, "/metrics", None);
    assert_eq!(status, 200);
    let failed = exposition
        .lines()
        .find(|l| {
            l.starts_with("watchpost_console_scrapes_total{") && l.contains("outcome=\"failed\"")
        })
        .unwrap_or_else(|| {
            panic!("the console counts failed scrapes in its metrics: {exposition}")
        });
    let n: f64 = failed.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(n >= 6.0, "{failed}");
    tokio::task::spawn_blocking(move || drop(console))
        .await
        .unwrap();
}
