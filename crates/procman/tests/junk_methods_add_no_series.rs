//! Request methods outside the standard set are one label value, `_OTHER`: 2 100 requests with
//! made-up methods add no series beyond it, nothing overflows, and a route served afterwards is
//! on `/metrics` with its own series.
mod support;

use watchpost_testkit::process;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_methods_add_no_series() {
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "error")]);
    let c = reqwest::Client::new();
    for i in 0..2_100u32 {
        let method = reqwest::Method::from_bytes(format!("M{i}").as_bytes()).unwrap();
        let r = c
            .request(method, pm.url("/instances"))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let r = c.get(pm.url("/instances")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let text = process::metrics_text(&c, pm.metrics).await;
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("procman_http_request_duration_seconds_count{"))
        .collect();
    assert!(
        series.iter().all(|l| !l.contains("method=\"M")),
        "a junk method became a label value: {series:?}"
    );
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"method="_OTHER""#) && l.ends_with(" 2100")),
        "{series:?}"
    );
    assert!(
        text.contains(
            r#"procman_http_request_duration_seconds_count{method="GET",path="/instances",status="200"} 1"#
        ),
        "{series:?}"
    );
    assert!(!text.contains("otel_metric_overflow"), "nothing overflowed");
    assert_eq!(pm.terminate(), 0);
}
