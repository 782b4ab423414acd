//! A configuration built from other variables (`env_vars`) sends exactly its own headers, over
//! gRPC and over HTTP, whatever OTLP header variables the process environment has, and its own
//! compression (none here) although the process asks for gzip: the exporters read the
//! configuration only (opentelemetry-otlp's, which Watchpost used before, read those variables of
//! the process itself), so there is nothing to warn about at start either.
//!
//! One test in its own binary: it sets process variables, which is only sound while no other
//! thread runs, so it sets them before it starts any.

use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::{Receiver, Signal};

/// Exports one span, one log record and the metrics to `receiver` over `protocol`, with headers
/// from `env_vars` only; returns the service's log.
async fn export(receiver: &Receiver, protocol: &str) -> String {
    let endpoint = receiver.url();
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%20ours"),
        ])
        .build()
        .unwrap();
    let capture = Capture::default();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("checkout").in_scope(|| tracing::info!("order placed"));
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    capture.lines().join("\n")
}

async fn check(receiver: Receiver, protocol: &str, transport: &str) {
    let log = export(&receiver, protocol).await;
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let requests: Vec<_> = r.requests.iter().filter(|q| q.signal == signal).collect();
        assert!(!requests.is_empty(), "{transport}: {signal:?} came");
        for q in requests {
            assert_eq!(q.transport, transport);
            assert_eq!(
                q.header("authorization"),
                Some("Bearer ours"),
                "{transport} {signal:?}: {:?}",
                q.headers
            );
            assert_eq!(q.header("x-intruder"), None, "{transport} {signal:?}");
            // The configuration's compression (none), not the process's gzip.
            for encoding in ["grpc-encoding", "content-encoding"] {
                assert_eq!(
                    q.header(encoding),
                    None,
                    "{transport} {signal:?}: {encoding}"
                );
            }
        }
    }
    assert!(!log.contains("OTEL_EXPORTER_OTLP_COMPRESSION"), "{log}");
    assert!(!log.contains("intruder"), "{log}");
}

#[test]
fn otlp_headers_in_the_process_environment_never_replace_the_configured_ones() {
    // Before any thread starts (the runtime below is the first).
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
        "authorization=intruder,x-intruder=1",
    );
    std::env::set_var(
        "OTEL_EXPORTER_OTLP_HEADERS",
        "authorization=intruder,x-intruder=1",
    );
    std::env::set_var("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let grpc = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
        check(grpc, "grpc", "grpc").await;
        let http = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
        check(http, "http/protobuf", "http").await;
    });
}
