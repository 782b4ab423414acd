//! Span data keeps its meaning on both paths into the exporter: a `tracing` field above
//! `i64::MAX` arrives as its exact decimal value (OpenTelemetry has no unsigned integer; a cast
//! would wrap it negative), and a span made with the OpenTelemetry API (`Telemetry::tracer`)
//! gets the same redaction and masking as a `tracing` span: secret names, e-mail addresses and
//! card numbers in attribute values (each string of an array too), event names and attributes,
//! the status message and the span name; an event name is cut at the attribute limit.

use opentelemetry::trace::{Span as _, Status, Tracer as _};
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use watchpost_testkit::otlp::{attr_value as value, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn span_values_keep_their_meaning_on_both_span_paths() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("spanpaths")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        .trace_sampler_ratio(1.0)
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("numbers", big = u64::MAX, small = 7u64);
        drop(span);
    });
    let mut span = telemetry.tracer().start("api op for alice@example.com");
    span.set_attribute(KeyValue::new("password", "hunter2"));
    span.set_attribute(KeyValue::new("card", "4111 1111 1111 1111"));
    span.set_attribute(KeyValue::new("order", "4111111111111112"));
    span.set_attribute(KeyValue::new(
        "recipients",
        opentelemetry::Value::Array(opentelemetry::Array::String(vec![
            "carol@example.com".into(),
            "ops-team".into(),
        ])),
    ));
    span.add_event(format!("huge {}", "x".repeat(5000)), vec![]);
    span.add_event(
        "mail sent to bob@example.com",
        vec![
            KeyValue::new("to", "bob@example.com"),
            KeyValue::new("api_key", "k"),
        ],
    );
    span.set_status(Status::error("charge of 5500005555555559 failed"));
    span.end();
    let t = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    t.expect("shutdown");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();

    let numbers = r
        .spans
        .iter()
        .find(|s| s.name == "numbers")
        .expect("numbers span");
    assert_eq!(
        value(&numbers.attributes, "big"),
        Some(Any::StringValue(u64::MAX.to_string()))
    );
    assert_eq!(value(&numbers.attributes, "small"), Some(Any::IntValue(7)));

    let api = r
        .spans
        .iter()
        .find(|s| s.name.starts_with("api op"))
        .expect("API span");
    assert_eq!(api.name, "api op for [REDACTED:email]");
    let s = |v: &str| Some(Any::StringValue(v.to_string()));
    assert_eq!(value(&api.attributes, "password"), s("[REDACTED]"));
    assert_eq!(value(&api.attributes, "card"), s("[REDACTED:card]"));
    assert_eq!(
        value(&api.attributes, "order"),
        s("4111111111111112"),
        "not a card: kept"
    );
    assert_eq!(
        value(&api.attributes, "recipients"),
        Some(Any::ArrayValue(
            opentelemetry_proto::tonic::common::v1::ArrayValue {
                values: ["[REDACTED:email]", "ops-team"]
                    .iter()
                    .map(|v| opentelemetry_proto::tonic::common::v1::AnyValue {
                        value: Some(Any::StringValue(v.to_string())),
                    })
                    .collect(),
            }
        )),
        "each string of an array is masked"
    );
    let huge = api
        .events
        .iter()
        .find(|e| e.name.starts_with("huge"))
        .unwrap();
    assert!(
        huge.name.len() <= 1024 + 3 && huge.name.ends_with('…'),
        "an event name is cut like an attribute: {} bytes",
        huge.name.len()
    );
    let event = api
        .events
        .iter()
        .find(|e| e.name.starts_with("mail"))
        .expect("mail event");
    assert_eq!(event.name, "mail sent to [REDACTED:email]");
    assert_eq!(value(&event.attributes, "to"), s("[REDACTED:email]"));
    assert_eq!(value(&event.attributes, "api_key"), s("[REDACTED]"));
    assert_eq!(
        api.status.as_ref().unwrap().message,
        "charge of [REDACTED:card] failed"
    );
}
