//! `examples/axum_service.rs`, run as a user runs it: every request answers and writes one
//! access line with its trace id, `remote_addr` and a duration to the microsecond; an item's
//! lines are in its own log; the metrics are served on their own listener and on the app's
//! router, whose scrapes write no line; SIGTERM ends it with exit code 0 after a last line.

use watchpost_testkit::capture::parse;
use watchpost_testkit::process::{command, example, Process};
use watchpost_testkit::tools::TempDir;

#[tokio::test]
async fn the_axum_example_logs_each_request_and_stops_on_sigterm() {
    let data = TempDir::new("axum-example");
    let mut cmd = command(example(env!("CARGO_MANIFEST_DIR"), "axum_service"));
    cmd.env("LISTEN_ADDR", "127.0.0.1:0")
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("DATA_DIR", &data.0);
    let mut service = Process::spawn(&mut cmd, "axum_service");
    let [api, metrics] = service.listeners(
        "axum_service",
        ["listening on http://", "metrics on http://"],
    );

    let http = reqwest::Client::new();
    let call = |method: reqwest::Method, path: &str| {
        let request = http.request(method, format!("http://{api}{path}"));
        async move {
            let response = request.send().await.expect("a response");
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };
    use reqwest::Method;
    assert_eq!(call(Method::POST, "/items/42").await.0, 201);
    assert_eq!(call(Method::POST, "/items/42").await.0, 200);
    assert_eq!(
        call(Method::GET, "/items/42").await,
        (200, "item 42\n".to_string())
    );
    assert_eq!(call(Method::GET, "/items/7").await.0, 404);
    let (status, body) = call(Method::POST, "/items/..%2Fescape").await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body.contains("resource id"),
        "the error names the input: {body}"
    );

    // The metrics merged on the app's router, scraped three times: answered, never logged.
    for _ in 0..3 {
        let (status, text) = call(Method::GET, "/metrics").await;
        assert_eq!(status, 200);
        assert!(
            text.contains("shop_items_created_total{outcome=\"created\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("shop_items_created_total{outcome=\"exists\"} 1"),
            "{text}"
        );
    }
    // The same metrics on their own listener: the requests by route and status, no scrape.
    let text = watchpost_testkit::process::metrics_text(&http, metrics).await;
    for series in [
        r#"shop_http_request_duration_seconds_count{method="POST",path="/items/{id}",status="201"} 1"#,
        r#"shop_http_request_duration_seconds_count{method="POST",path="/items/{id}",status="200"} 1"#,
        r#"shop_http_request_duration_seconds_count{method="GET",path="/items/{id}",status="404"} 1"#,
    ] {
        assert!(text.contains(series), "{series} missing:\n{text}");
    }
    assert!(
        !text.contains("path=\"/metrics\""),
        "a scrape was measured:\n{text}"
    );

    // Item 42's own log, as Server-Sent Events: the lines of its three requests.
    let (status, events) = call(Method::GET, "/items/42/logs?tail=10").await;
    assert_eq!(status, 200);
    let item_lines: Vec<_> = events
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(parse)
        .collect();
    let statuses: Vec<_> = item_lines
        .iter()
        .map(|l| l["status"].as_u64().unwrap())
        .collect();
    assert_eq!(statuses, [201, 200, 200], "{events}");
    assert!(item_lines.iter().all(|l| l["item_id"] == "42"), "{events}");

    service.sigterm();
    assert_eq!(service.wait(), 0, "a clean exit on SIGTERM");
    let raw: Vec<String> = service.stdout.iter().collect();
    let lines: Vec<_> = raw.iter().map(|l| parse(l)).collect();
    let access: Vec<_> = raw
        .iter()
        .zip(&lines)
        .filter(|(_, l)| l["msg"] == "request handled")
        .collect();
    // Six requests (five to /items, one to the item's log); the three scrapes wrote nothing.
    assert_eq!(access.len(), 6, "{raw:#?}");
    for (text, line) in &access {
        assert_eq!(line["subsystem"], "API", "{text}");
        assert_eq!(line["service"], "shop", "{text}");
        assert_eq!(line["trace_id"].as_str().unwrap().len(), 32, "{text}");
        assert_eq!(line["span_id"].as_str().unwrap().len(), 16, "{text}");
        assert!(
            line["remote_addr"]
                .as_str()
                .unwrap()
                .starts_with("127.0.0.1:"),
            "{text}"
        );
        assert_eq!(line["request_id"].as_str().unwrap().len(), 32, "{text}");
        // Milliseconds to the microsecond: at most three decimals as written.
        let duration = text.split("\"duration_ms\":").nth(1).unwrap();
        let duration = &duration[..duration.find(',').unwrap()];
        let decimals = duration.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 3, "duration_ms {duration} in {text}");
        assert_ne!(line["path"], "/metrics", "{text}");
    }
    let traces: std::collections::HashSet<_> = access
        .iter()
        .map(|(_, l)| l["trace_id"].as_str().unwrap())
        .collect();
    assert_eq!(traces.len(), 6, "a trace per request");
    assert_eq!(lines.last().unwrap()["msg"], "shutting down", "{raw:#?}");
}
