//! Inside a span bridged to OpenTelemetry, lines carry that span's trace and span ids; outside,
//! they carry none.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use tracing_subscriber::layer::SubscriberExt;
use watchpost_testkit::capture::Capture;

#[test]
fn trace_ids_come_from_the_active_otel_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let capture = Capture::default();
    let config = watchpost::Config::builder("svc").build().unwrap();
    let (layer, _telemetry) = watchpost::logs::JsonLayer::new(&config, capture.clone());
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")))
        .with(layer);

    tracing::subscriber::with_default(subscriber, || {
        tracing::info!("before any span");
        let outer = tracing::info_span!("outer");
        let _o = outer.enter();
        tracing::info!("in outer");
        {
            let inner = tracing::info_span!("inner");
            let _i = inner.enter();
            tracing::info!("in inner");
        }
        tracing::info!("back in outer");
    });
    provider.force_flush().unwrap();

    let spans = exporter.get_finished_spans().unwrap();
    let by_name = |n: &str| {
        spans
            .iter()
            .find(|s| s.name == n)
            .unwrap()
            .span_context
            .clone()
    };
    let (outer, inner) = (by_name("outer"), by_name("inner"));
    assert_eq!(outer.trace_id(), inner.trace_id());

    let lines = capture.json();
    assert_eq!(lines.len(), 4);
    assert!(!lines[0].contains_key("trace_id") && !lines[0].contains_key("span_id"));
    let ids = |i: usize| {
        (
            lines[i]["trace_id"].as_str().unwrap().to_string(),
            lines[i]["span_id"].as_str().unwrap().to_string(),
        )
    };
    assert_eq!(
        ids(1),
        (outer.trace_id().to_string(), outer.span_id().to_string())
    );
    assert_eq!(
        ids(2),
        (inner.trace_id().to_string(), inner.span_id().to_string())
    );
    assert_eq!(ids(3), ids(1));
    let (trace_id, span_id) = ids(2);
    assert_eq!(trace_id.len(), 32);
    assert_eq!(span_id.len(), 16);
    assert!(trace_id
        .chars()
        .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
}
