//! `OTEL_EXPORTER_OTLP_COMPRESSION=gzip` compresses every export, over gRPC (`grpc-encoding`) and
//! over HTTP (`Content-Encoding`), and the collector inflates and decodes it; a signal's own
//! `…_COMPRESSION=none` leaves that signal's requests plain.

use watchpost_testkit::otlp::{ExportRequest, Receiver, Signal};

async fn export(receiver: &Receiver, protocol: &str) -> Vec<ExportRequest> {
    let endpoint = receiver.url();
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
            ("OTEL_EXPORTER_OTLP_METRICS_COMPRESSION", "none"),
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
    let received = receiver.received.lock().unwrap();
    assert!(
        received.spans.iter().any(|s| s.name == "checkout"),
        "decoded"
    );
    received.requests.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_requests_are_gzipped_when_asked() {
    let grpc = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let http = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    for (receiver, protocol, header) in [
        (&grpc, "grpc", "grpc-encoding"),
        (&http, "http/protobuf", "content-encoding"),
    ] {
        let requests = export(receiver, protocol).await;
        for signal in [Signal::Traces, Signal::Logs, Signal::Metrics] {
            let encodings: Vec<_> = (requests.iter())
                .filter(|q| q.signal == signal)
                .map(|q| q.header(header))
                .collect();
            let expected = if signal == Signal::Metrics {
                None
            } else {
                Some("gzip")
            };
            assert!(!encodings.is_empty(), "{protocol}: {signal:?} came");
            assert!(
                encodings.iter().all(|e| *e == expected),
                "{protocol}: {signal:?}: {encodings:?}"
            );
        }
    }
}
