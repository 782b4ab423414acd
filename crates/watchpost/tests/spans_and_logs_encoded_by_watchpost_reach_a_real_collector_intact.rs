//! Spans and log records, encoded by Watchpost's own OTLP encoder (not opentelemetry-otlp's),
//! reach a real OTLP receiver (the official protos, decoded by prost) intact, over gRPC and over
//! HTTP/protobuf, plain and gzipped: ids and parents, kind, status, flags, times, every
//! attribute type a `tracing` field can have, span events, and log records with their
//! severity, body, fields, trace context and resource.

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use watchpost_testkit::otlp::{attr_value, Receiver, Signal};

async fn check(receiver: Receiver, protocol: &str, compression: &str) {
    let endpoint = receiver.url();
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_EXPORTER_OTLP_COMPRESSION", compression),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        let root = tracing::info_span!(
            "checkout",
            otel.kind = "server",
            otel.status_code = "ERROR",
            http.route = "/orders/{id}",
            order.count = 3_i64,
            order.total = 9.5_f64,
            order.paid = true,
            note = "é \"quoted\" ✓",
        );
        root.in_scope(|| {
            tracing::info_span!("charge", attempt = 2_i64).in_scope(|| {
                tracing::warn!(
                    retries = 2_i64,
                    ratio = 0.25_f64,
                    late = true,
                    who = "ann",
                    "payment slow"
                );
            });
        });
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown delivers everything");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let what = format!("{protocol} {compression}");

    let root = (r.spans.iter().find(|s| s.name == "checkout"))
        .unwrap_or_else(|| panic!("{what}: the root arrived"));
    let child = (r.spans.iter().find(|s| s.name == "charge"))
        .unwrap_or_else(|| panic!("{what}: the child arrived"));
    assert_eq!(root.trace_id.len(), 16, "{what}");
    assert_eq!(root.span_id.len(), 8, "{what}");
    assert!(root.parent_span_id.is_empty(), "{what}: a local root");
    assert_eq!(child.trace_id, root.trace_id, "{what}");
    assert_eq!(child.parent_span_id, root.span_id, "{what}");
    assert_eq!(root.kind, 2, "{what}: server");
    assert_eq!(child.kind, 1, "{what}: internal");
    let status = root.status.as_ref().expect("a status");
    assert_eq!(status.code, 2, "{what}: error");
    assert_eq!(
        child.status.as_ref().map(|s| s.code),
        Some(0),
        "{what}: unset"
    );
    // Sampled, and the context says whether the parent is remote (it is not).
    assert_eq!(root.flags, 0x101, "{what}");
    assert!(
        root.start_time_unix_nano > 1_600_000_000_000_000_000,
        "{what}"
    );
    assert!(
        root.end_time_unix_nano >= child.end_time_unix_nano,
        "{what}"
    );
    assert!(
        child.start_time_unix_nano >= root.start_time_unix_nano,
        "{what}"
    );
    let a = &root.attributes;
    assert_eq!(
        attr_value(a, "http.route"),
        Some(Value::StringValue("/orders/{id}".into())),
        "{what}"
    );
    assert_eq!(
        attr_value(a, "order.count"),
        Some(Value::IntValue(3)),
        "{what}"
    );
    assert_eq!(
        attr_value(a, "order.total"),
        Some(Value::DoubleValue(9.5)),
        "{what}"
    );
    assert_eq!(
        attr_value(a, "order.paid"),
        Some(Value::BoolValue(true)),
        "{what}"
    );
    assert_eq!(
        attr_value(a, "note"),
        Some(Value::StringValue("é \"quoted\" ✓".into())),
        "{what}"
    );
    assert_eq!(
        attr_value(&child.attributes, "attempt"),
        Some(Value::IntValue(2)),
        "{what}"
    );
    let event = (child.events.iter().find(|e| e.name == "payment slow"))
        .unwrap_or_else(|| panic!("{what}: the span event arrived: {:?}", child.events));
    assert!(event.time_unix_nano >= child.start_time_unix_nano, "{what}");
    assert_eq!(
        attr_value(&event.attributes, "retries"),
        Some(Value::IntValue(2)),
        "{what}"
    );
    assert_eq!(
        attr_value(&event.attributes, "late"),
        Some(Value::BoolValue(true)),
        "{what}"
    );

    let log = (r.logs.iter())
        .find(|l| {
            l.body.as_ref().and_then(|b| b.value.clone())
                == Some(Value::StringValue("payment slow".into()))
        })
        .unwrap_or_else(|| panic!("{what}: the log record arrived: {:?}", r.logs));
    assert_eq!(log.severity_number, 13, "{what}: WARN");
    assert_eq!(log.severity_text, "WARN", "{what}");
    assert_eq!(log.trace_id, child.trace_id, "{what}");
    assert_eq!(log.span_id, child.span_id, "{what}");
    assert_eq!(log.flags, 1, "{what}: sampled");
    assert!(log.time_unix_nano > 1_600_000_000_000_000_000, "{what}");
    assert_eq!(log.observed_time_unix_nano, log.time_unix_nano, "{what}");
    let a = &log.attributes;
    assert!(
        matches!(attr_value(a, "subsystem"), Some(Value::StringValue(_))),
        "{what}: {a:?}"
    );
    assert_eq!(attr_value(a, "retries"), Some(Value::IntValue(2)), "{what}");
    assert_eq!(
        attr_value(a, "ratio"),
        Some(Value::DoubleValue(0.25)),
        "{what}"
    );
    assert_eq!(
        attr_value(a, "late"),
        Some(Value::BoolValue(true)),
        "{what}"
    );
    assert_eq!(
        attr_value(a, "who"),
        Some(Value::StringValue("ann".into())),
        "{what}"
    );

    for signal in [Signal::Traces, Signal::Logs] {
        let resources: Vec<_> = r.resources.iter().filter(|b| b.signal == signal).collect();
        assert!(!resources.is_empty(), "{what}: {signal:?} batches");
        for batch in resources {
            assert_eq!(
                attr_value(&batch.attributes, "service.name"),
                Some(Value::StringValue("shop".into())),
                "{what}: {signal:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_and_logs_encoded_by_watchpost_reach_a_real_collector_intact() {
    for (protocol, compression) in [
        ("grpc", "none"),
        ("grpc", "gzip"),
        ("http/protobuf", "none"),
        ("http/protobuf", "gzip"),
    ] {
        let addr = "127.0.0.1:0".parse().unwrap();
        let receiver = if protocol == "grpc" {
            Receiver::start(addr, None).await
        } else {
            Receiver::start_http(addr, None).await
        };
        check(receiver, protocol, compression).await;
    }
}
