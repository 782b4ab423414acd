//! `OTEL_EXPORTER_OTLP_HEADERS` (percent-decoded) reaches a real collector as gRPC metadata and as
//! HTTP headers, with every export of every signal; a signal's own variable replaces them for
//! that signal; and the credential never appears on the service's log, even where the service
//! logs its configuration (`Debug` of the builder and of the `Config`).

use std::sync::{Arc, Mutex};

use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::{Receiver, Signal};

/// Exports one span, one log record and the metrics to `receiver` with `vars`; returns the
/// service's log.
async fn export(receiver: &Receiver, vars: &[(&str, &str)]) -> String {
    let endpoint = receiver.url();
    let mut all = vec![
        ("OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_TRACES_SAMPLER", "always_on"),
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "Authorization=Bearer%20s3cret%3D%3D,x-team=payments",
        ),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-logs-only=1"),
    ];
    all.extend_from_slice(vars);
    let builder = watchpost::Config::builder("shop")
        .otel_header("x-code", "code-s3cret")
        .env_vars(all);
    let builder_shown = format!("{builder:?}");
    let config = builder.build().unwrap();
    let config_shown = format!("{config:?}");
    let capture = Capture::default();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        // What a service might log at start: its configuration.
        tracing::info!(builder = %builder_shown, config = %config_shown, "starting");
        tracing::info_span!("checkout").in_scope(|| tracing::info!("order placed"));
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    capture.lines().join("\n")
}

fn check(received: &Arc<Mutex<watchpost_testkit::otlp::Received>>, transport: &str) {
    let r = received.lock().unwrap();
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let requests: Vec<_> = r.requests.iter().filter(|q| q.signal == signal).collect();
        assert!(!requests.is_empty(), "{transport}: {signal:?} came");
        for q in requests {
            assert_eq!(q.transport, transport);
            if signal == Signal::Logs {
                assert_eq!(q.header("x-logs-only"), Some("1"));
                assert_eq!(q.header("authorization"), None, "replaced by the logs' own");
            } else {
                assert_eq!(q.header("authorization"), Some("Bearer s3cret=="));
                assert_eq!(q.header("x-team"), Some("payments"));
                assert_eq!(
                    q.header("x-code"),
                    Some("code-s3cret"),
                    "merged under the env's"
                );
                assert_eq!(q.header("x-logs-only"), None);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_headers_reach_the_collector_over_grpc_and_http() {
    let grpc = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let log = export(&grpc, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).await;
    check(&grpc.stop().await, "grpc");
    assert!(
        log.contains("order placed") && log.contains("OTEL_EXPORTER_OTLP_HEADERS"),
        "{log}"
    );
    assert!(!log.contains("s3cret"), "{log}");

    let http = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    let log = export(&http, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")]).await;
    check(&http.stop().await, "http");
    assert!(
        log.contains("order placed") && log.contains("OTEL_EXPORTER_OTLP_HEADERS"),
        "{log}"
    );
    assert!(!log.contains("s3cret"), "{log}");
}
