//! Code written for `tracing-opentelemetry`'s `OpenTelemetrySpanExt` works with Watchpost by
//! changing its import: `set_parent` with a context extracted from a `traceparent` makes the
//! exported span continue that trace (its trace id, the caller's span as parent), `context`
//! gives that trace, and `set_attribute`, `add_event`, `add_link`, `set_status` reach the
//! exported span; the JSON lines inside carry the continued trace's ids. Checked on a real OTLP
//! receiver.

use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry::trace::{
    SpanContext, SpanId, Status, TraceContextExt as _, TraceFlags, TraceId, TraceState,
};
use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;
use watchpost::traces::{OpenTelemetrySpanExt as _, SetParentError};
use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::{attr_text, hex, Receiver};

const REMOTE_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const REMOTE_SPAN: &str = "00f067aa0ba902b7";
const LINKED_TRACE: &str = "0af7651916cd43dd8448eb211c80319c";
const LINKED_SPAN: &str = "b7ad6b7169203331";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_span_extension_trait_continues_a_remote_parent() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let capture = Capture::default();
    let config = watchpost::Config::builder("svc")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        // Ratio 0: the trace is kept for the caller's sampled flag (and its error status).
        .trace_sampler_ratio(0.0)
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();

    // As a `tracing-opentelemetry` user extracts it: any propagator, a map of headers.
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        format!("00-{REMOTE_TRACE}-{REMOTE_SPAN}-01"),
    );
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&headers);
    let linked = SpanContext::new(
        TraceId::from_hex(LINKED_TRACE).unwrap(),
        SpanId::from_hex(LINKED_SPAN).unwrap(),
        TraceFlags::SAMPLED,
        true,
        TraceState::default(),
    );

    let outside = tracing::info_span!("outside any pipeline");
    assert_eq!(
        outside.set_parent(parent.clone()).unwrap_err(),
        SetParentError::SpanDisabled
    );
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("handle");
        span.set_parent(parent).expect("parent set");
        span.set_attribute("tenant", "acme");
        span.add_event("cache miss", vec![KeyValue::new("key", "k1")]);
        span.add_link_with_attributes(linked, vec![KeyValue::new("kind", "message")]);
        span.set_status(Status::error("upstream failed"));
        let cx = span.context();
        assert_eq!(
            cx.span().span_context().trace_id().to_string(),
            REMOTE_TRACE
        );
        span.in_scope(|| tracing::info!("handled"));
    });

    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let span = r
        .spans
        .iter()
        .find(|s| s.name == "handle")
        .unwrap_or_else(|| panic!("the span was not exported: {:?}", r.spans));
    assert_eq!(hex(&span.trace_id), REMOTE_TRACE);
    assert_eq!(hex(&span.parent_span_id), REMOTE_SPAN);
    assert_eq!(
        attr_text(&span.attributes, "tenant").as_deref(),
        Some("acme")
    );
    let event = span
        .events
        .iter()
        .find(|e| e.name == "cache miss")
        .unwrap_or_else(|| panic!("no event: {:?}", span.events));
    assert_eq!(attr_text(&event.attributes, "key").as_deref(), Some("k1"));
    assert_eq!(span.links.len(), 1, "{:?}", span.links);
    assert_eq!(hex(&span.links[0].trace_id), LINKED_TRACE);
    assert_eq!(hex(&span.links[0].span_id), LINKED_SPAN);
    assert_eq!(
        attr_text(&span.links[0].attributes, "kind").as_deref(),
        Some("message")
    );
    let status = span.status.as_ref().expect("a status");
    assert_eq!(status.code, StatusCode::Error as i32);
    assert_eq!(status.message, "upstream failed");

    let lines = capture.json();
    let handled = lines
        .iter()
        .find(|l| l["msg"] == "handled")
        .expect("the line");
    assert_eq!(handled["trace_id"], REMOTE_TRACE);
    assert_eq!(handled["span_id"], hex(&span.span_id).as_str());
}
