//! Per-signal endpoints win over the base endpoint and are used as they are: with the base
//! endpoint on one OTLP/HTTP collector, `OTEL_EXPORTER_OTLP_LOGS_ENDPOINT` (a full URL) sends the
//! logs to a second one and `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT` with
//! `OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=grpc` the metrics to a gRPC collector; each receives its
//! own signal only. Watchpost's `OTEL_ENDPOINT` wins over the standard base endpoint.

use watchpost_testkit::otlp::{Receiver, Signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_signal_endpoints_win_over_the_base_endpoint() {
    let any = || "127.0.0.1:0".parse().unwrap();
    let base = Receiver::start_http(any(), None).await;
    let logs = Receiver::start_http(any(), None).await;
    let metrics = Receiver::start(any(), None).await;
    let unused = Receiver::start_http(any(), None).await;
    let logs_url = format!("{}/v1/logs", logs.url());
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_ENDPOINT", base.addr.to_string().as_str()),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", unused.url().as_str()),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", logs_url.as_str()),
            (
                "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT",
                metrics.url().as_str(),
            ),
            ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("checkout").in_scope(|| tracing::info!("order placed"));
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");

    let signals = |r: &std::sync::Arc<std::sync::Mutex<watchpost_testkit::otlp::Received>>| {
        let mut s: Vec<(Signal, &'static str)> = (r.lock().unwrap().requests.iter())
            .map(|q| (q.signal, q.transport))
            .collect();
        s.dedup();
        s
    };
    assert_eq!(signals(&base.stop().await), [(Signal::Traces, "http")]);
    assert_eq!(signals(&logs.stop().await), [(Signal::Logs, "http")]);
    assert_eq!(signals(&metrics.stop().await), [(Signal::Metrics, "grpc")]);
    assert_eq!(signals(&unused.stop().await), []);
}
