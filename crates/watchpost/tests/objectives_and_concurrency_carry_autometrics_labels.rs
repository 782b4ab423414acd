//! An objective adds autometrics' labels: a success objective `objective_name` and
//! `objective_percentile` on `function_calls_total`, a latency objective those and
//! `objective_latency_threshold` on `function_calls_duration_seconds` (its value is one of the
//! buckets, so `le="<threshold>"` is the count under it); `concurrency` adds
//! `function_calls_concurrent`, the calls in progress. The objectives are readable without a
//! call (`metrics::function::declared`), for rules and alerts.

use watchpost::metrics::Format;

#[watchpost::measured(objective = "checkout", success = 99.9, latency = "250ms", concurrency)]
async fn pay(gate: tokio::sync::oneshot::Receiver<bool>) -> Result<(), String> {
    match gate.await {
        Ok(true) => Ok(()),
        _ => Err("declined".into()),
    }
}

#[watchpost::measured(latency = "1s", latency_percentile = 95)]
fn render() -> String {
    "page".into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objectives_and_concurrency_carry_autometrics_labels() {
    let config = watchpost::Config::builder("shop").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let m = "objectives_and_concurrency_carry_autometrics_labels";
    let gauge = |n: i64| {
        format!("function_calls_concurrent{{function=\"pay\",module=\"{m}\",service_name=\"shop\"}} {n}\n")
    };

    let (tx, rx) = tokio::sync::oneshot::channel();
    let pending = tokio::spawn(pay(rx));
    // Polled (started) but not finished: one call in progress.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !telemetry.metrics().encode(Format::Text).contains(&gauge(1)) {
        assert!(
            std::time::Instant::now() < deadline,
            "the call never showed as in progress"
        );
        tokio::task::yield_now().await;
    }
    tx.send(true).unwrap();
    pending.await.unwrap().unwrap();
    let (tx, rx) = tokio::sync::oneshot::channel();
    tx.send(false).unwrap();
    assert!(pay(rx).await.is_err());
    assert_eq!(render(), "page");

    let text = telemetry.metrics().encode(Format::Text);
    assert!(text.contains(&gauge(0)), "{text}");
    for line in [
        format!("function_calls_total{{function=\"pay\",module=\"{m}\",objective_name=\"checkout\",objective_percentile=\"99.9\",result=\"ok\",service_name=\"shop\"}} 1\n"),
        format!("function_calls_total{{function=\"pay\",module=\"{m}\",objective_name=\"checkout\",objective_percentile=\"99.9\",result=\"error\",service_name=\"shop\"}} 1\n"),
        // A latency objective only: the counter has no objective labels.
        format!("function_calls_total{{function=\"render\",module=\"{m}\",result=\"ok\",service_name=\"shop\"}} 1\n"),
        format!("function_calls_duration_seconds_bucket{{function=\"pay\",module=\"{m}\",objective_latency_threshold=\"0.25\",objective_name=\"checkout\",objective_percentile=\"99\",service_name=\"shop\",le=\"0.25\"}} 2\n"),
        format!("function_calls_duration_seconds_count{{function=\"render\",module=\"{m}\",objective_latency_threshold=\"1\",objective_name=\"render\",objective_percentile=\"95\",service_name=\"shop\"}} 1\n"),
    ] {
        assert!(text.contains(&line), "missing {line} in\n{text}");
    }
    assert!(telemetry
        .metrics()
        .catalogue()
        .get("function_calls_concurrent")
        .is_some());

    let pay = watchpost::metrics::function::declared()
        .find(|d| d.function == "pay")
        .unwrap();
    assert_eq!(pay.module, m);
    assert_eq!(pay.objective, Some("checkout"));
    assert_eq!(pay.success_percentile, Some("99.9"));
    assert_eq!(pay.latency, Some(("0.25", "99")));
    assert!(pay.concurrency);
}
