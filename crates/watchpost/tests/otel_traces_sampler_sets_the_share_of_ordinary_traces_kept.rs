//! `OTEL_TRACES_SAMPLER` maps onto the tail sampler: `always_on` exports every trace,
//! `always_off` none of the ordinary ones — but a trace with an error is still kept whole (what
//! Watchpost cannot give up, and documents).

use watchpost_testkit::otlp::Receiver;

/// Runs 10 ordinary traces and one failing trace with `sampler`; the root span names received.
async fn roots(sampler: &str) -> Vec<String> {
    let receiver = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            ("OTEL_TRACES_SAMPLER", sampler),
            ("OTEL_LOGS_EXPORTER", "none"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        for _ in 0..10 {
            tracing::info_span!("ordinary").in_scope(|| {
                tracing::info_span!("child").in_scope(|| tracing::info!("fine"));
            });
        }
        tracing::info_span!("failing").in_scope(|| {
            tracing::info_span!("child").in_scope(|| tracing::error!("payment refused"));
        });
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let mut names: Vec<String> = (r.spans.iter())
        .filter(|s| s.parent_span_id.is_empty())
        .map(|s| s.name.clone())
        .collect();
    names.sort();
    names.dedup_by(|a, b| a == b && a == "ordinary");
    let children = r.spans.iter().filter(|s| s.name == "child").count();
    names.push(format!("{children} children"));
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_traces_sampler_sets_the_share_of_ordinary_traces_kept() {
    assert_eq!(
        roots("always_on").await,
        ["failing", "ordinary", "11 children"]
    );
    assert_eq!(roots("always_off").await, ["failing", "1 children"]);
}
