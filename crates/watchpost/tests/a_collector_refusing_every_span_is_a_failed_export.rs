//! A collector that answers 200 but refuses items in its `partial_success` (OTLP's way of saying
//! "not these"): a refusal of part of a batch counts the refused spans as dropped; a refusal of
//! the whole batch is a failed export — counted once as dropped and as an export error, never
//! taken for a working collector.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTracePartialSuccess, ExportTraceServiceResponse,
};
use prost::Message as _;

fn counter(telemetry: &watchpost::Telemetry, name: &str) -> f64 {
    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    let prefix = format!("shop_{name}{{signal=\"traces\"}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_refusing_every_span_is_a_failed_export() {
    // How many spans the collector refuses in its next answer.
    let refuse = Arc::new(AtomicU64::new(0));
    let r = refuse.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move || {
            let rejected = r.load(Ordering::SeqCst);
            async move {
                let answer = ExportTraceServiceResponse {
                    partial_success: (rejected > 0).then(|| ExportTracePartialSuccess {
                        rejected_spans: rejected as i64,
                        error_message: "span too old".into(),
                    }),
                };
                (
                    [("content-type", "application/x-protobuf")],
                    answer.encode_to_vec(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_LOGS_EXPORTER", "none"),
            ("OTEL_METRICS_EXPORTER", "none"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let telemetry = Arc::new(telemetry);
    let round = |n: usize| {
        tracing::dispatcher::with_default(&dispatch, || {
            for _ in 0..n {
                tracing::info_span!("request").in_scope(|| {});
            }
        });
        let t = telemetry.clone();
        tokio::task::spawn_blocking(move || t.force_flush(Duration::from_secs(5)))
    };

    // Part of the batch refused: those are dropped, the export worked.
    refuse.store(2, Ordering::SeqCst);
    round(5).await.unwrap();
    assert_eq!(counter(&telemetry, "telemetry_dropped_total"), 2.0);
    assert_eq!(counter(&telemetry, "telemetry_export_errors_total"), 0.0);

    // All of it refused: a failed export, its spans dropped once.
    refuse.store(1_000, Ordering::SeqCst);
    round(3).await.unwrap();
    assert_eq!(counter(&telemetry, "telemetry_dropped_total"), 5.0);
    assert_eq!(counter(&telemetry, "telemetry_export_errors_total"), 1.0);
}
