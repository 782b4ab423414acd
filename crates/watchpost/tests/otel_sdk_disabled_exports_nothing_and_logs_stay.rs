//! `OTEL_SDK_DISABLED=true` turns OTLP export off even with `OTEL_ENABLED=true`: a real collector
//! receives nothing, while the service's log lines (with their trace ids) and `/metrics` go on.

use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::Receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_sdk_disabled_exports_nothing_and_logs_stay() {
    let receiver = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_SDK_DISABLED", "TRUE"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ])
        .build()
        .unwrap();
    assert!(!config.otel_enabled());
    let capture = Capture::default();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    let orders = telemetry
        .metrics()
        .meter()
        .u64_counter("shop_orders_total")
        .build();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("checkout").in_scope(|| {
            tracing::warn!("order placed");
            orders.add(1, &[]);
        });
    });
    let exposition = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    let received = receiver.stop().await;

    let requests = received.lock().unwrap().requests.len();
    assert_eq!(requests, 0, "no export request reached the collector");
    let line = (capture.json().into_iter())
        .find(|l| l["msg"] == "order placed")
        .expect("the log line is written");
    assert!(line["trace_id"].is_string(), "{line:?}");
    assert!(exposition.contains("shop_orders_total 1"), "{exposition}");
}
