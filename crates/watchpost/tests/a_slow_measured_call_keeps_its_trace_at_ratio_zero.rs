//! A measured call over its `slow` threshold marks its trace slow, so the tail sampler keeps it
//! whole even at sampling ratio 0 and far under the pipeline's own slow threshold: the span it
//! ran in (its own with `span`, else the enclosing one) carries `watchpost.slow = true`. The same
//! traces with fast calls are dropped. Checked on a real OTLP receiver.

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use tracing::instrument::WithSubscriber as _;
use watchpost_testkit::otlp::{attr_value, Receiver};

#[watchpost::measured(slow = "20ms")]
fn step(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[watchpost::measured(slow = "20ms", span)]
async fn job(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

fn slow_attr(span: &opentelemetry_proto::tonic::trace::v1::Span) -> Option<Any> {
    attr_value(&span.attributes, "watchpost.slow")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_measured_call_keeps_its_trace_at_ratio_zero() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        .trace_sampler_ratio(0.0)
        .trace_slow_threshold(Duration::from_secs(60))
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("fast_request").in_scope(|| step(0));
        tracing::info_span!("slow_request").in_scope(|| {
            tracing::info_span!("child").in_scope(|| step(25));
            tracing::info_span!("sibling").in_scope(|| step(0));
        });
    });
    job(0).with_subscriber(dispatch.clone()).await;
    job(25).with_subscriber(dispatch.clone()).await;

    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let names: Vec<&str> = r.spans.iter().map(|s| s.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ["child", "job", "sibling", "slow_request"],
        "only the traces with a slow call are kept, whole"
    );
    let child = r.spans.iter().find(|s| s.name == "child").unwrap();
    assert_eq!(slow_attr(child), Some(Any::BoolValue(true)));
    let root = r.spans.iter().find(|s| s.name == "slow_request").unwrap();
    assert_eq!(slow_attr(root), None, "the span the call ran in is marked");
    assert_eq!(child.trace_id, root.trace_id);
    let job = r.spans.iter().find(|s| s.name == "job").unwrap();
    assert_eq!(slow_attr(job), Some(Any::BoolValue(true)));
    let code = attr_value(&job.attributes, "code.function.name");
    assert_eq!(
        code,
        Some(Any::StringValue(
            "a_slow_measured_call_keeps_its_trace_at_ratio_zero::job".into()
        ))
    );
}
