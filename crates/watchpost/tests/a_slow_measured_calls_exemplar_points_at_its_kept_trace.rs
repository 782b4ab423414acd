//! A measured call over its `slow` threshold in a trace that is not sampled (ratio 0) still
//! leaves an exemplar: the call marks its trace slow, the tail sampler keeps it, so the bucket
//! may point at it — and the receiver gets that trace. A fast call in such a trace leaves none.

use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use watchpost_testkit::otlp::{attr_text, hex, Receiver};

#[watchpost::measured(slow = "20ms")]
fn step(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[watchpost::measured(slow = "20ms")]
fn quick() {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_measured_calls_exemplar_points_at_its_kept_trace() {
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
    let trace = tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("fast_request").in_scope(quick);
        let slow = tracing::info_span!("slow_request");
        slow.in_scope(|| step(25));
        watchpost::traces::trace_id(&slow).unwrap()
    });

    let om = telemetry
        .metrics()
        .encode(watchpost::metrics::Format::OpenMetrics);
    let exemplars = |function: &str| -> Vec<String> {
        let prefix = format!("function_calls_duration_seconds_bucket{{function=\"{function}\"");
        (om.lines())
            .filter(|l| l.starts_with(&prefix) && l.contains(" # {"))
            .map(str::to_string)
            .collect()
    };
    let slow = exemplars("step");
    assert_eq!(slow.len(), 1, "{om}");
    assert!(
        slow[0].contains(&format!("trace_id=\"{trace}\"")),
        "{}",
        slow[0]
    );
    assert!(exemplars("quick").is_empty(), "{om}");

    tokio::task::spawn_blocking(move || telemetry.shutdown_with_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("shutdown delivers everything");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    assert!(
        r.spans
            .iter()
            .any(|s| s.name == "slow_request" && hex(&s.trace_id) == trace),
        "the exemplar's trace was kept and exported"
    );
    let metric = (r.metrics.iter().rev())
        .find(|m| m.name == "function_calls_duration_seconds")
        .expect("the histogram arrived");
    let Some(Data::Histogram(h)) = &metric.data else {
        panic!("not a histogram: {metric:?}");
    };
    let point = (h.data_points.iter())
        .find(|p| attr_text(&p.attributes, "function").as_deref() == Some("step"))
        .expect("step was measured");
    assert_eq!(point.exemplars.len(), 1);
    assert_eq!(hex(&point.exemplars[0].trace_id), trace);
}
