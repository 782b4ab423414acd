//! `function_calls_duration_seconds` keeps exemplars: a measured call made in a span whose trace
//! is sampled (here the caller's decision, at sampling ratio 0) leaves the span's trace and span
//! id on its bucket — in the OpenMetrics exposition and on the OTLP histogram point — and the
//! receiver got that trace; a call in a trace that is not sampled leaves none.

use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use watchpost::metrics::Format;
use watchpost_testkit::otlp::{attr_text, hex, Receiver};

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[watchpost::measured]
fn sampled_work(n: u64) -> u64 {
    n + 1
}

#[watchpost::measured]
fn unsampled_work(n: u64) -> u64 {
    n + 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_measured_call_in_a_sampled_span_leaves_an_exemplar() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        .trace_sampler_ratio(0.0)
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let request_span_id = tracing::dispatcher::with_default(&dispatch, || {
        // A request whose caller sampled its trace.
        let mut incoming = http::HeaderMap::new();
        let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01");
        incoming.insert("traceparent", traceparent.parse().unwrap());
        let request = tracing::info_span!("request");
        watchpost::traces::set_parent(&request, &watchpost::traces::extract(&incoming));
        request.in_scope(|| sampled_work(1));
        // A trace that starts here, not sampled at ratio 0.
        tracing::info_span!("background").in_scope(|| unsampled_work(1));
        let cx = watchpost::traces::context(&request);
        opentelemetry::trace::TraceContextExt::span(&cx)
            .span_context()
            .span_id()
            .to_string()
    });

    // OpenMetrics: the exemplar follows the count of the call's bucket.
    let om = telemetry.metrics().encode(Format::OpenMetrics);
    let buckets = |function: &str| -> Vec<String> {
        let prefix = format!("function_calls_duration_seconds_bucket{{function=\"{function}\"");
        om.lines()
            .filter(|l| l.starts_with(&prefix))
            .map(str::to_string)
            .collect()
    };
    let marked = format!(" # {{trace_id=\"{TRACE}\",span_id=\"{request_span_id}\"}} ");
    let with_exemplar: Vec<String> = buckets("sampled_work")
        .into_iter()
        .filter(|l| l.contains(" # {"))
        .collect();
    assert_eq!(with_exemplar.len(), 1, "one bucket has the call: {om}");
    assert!(with_exemplar[0].contains(&marked), "{}", with_exemplar[0]);
    let unsampled = buckets("unsampled_work");
    assert!(!unsampled.is_empty(), "the unsampled call is counted: {om}");
    assert!(
        unsampled.iter().all(|l| !l.contains(" # {")),
        "no exemplar from a trace that is not sampled: {unsampled:?}"
    );

    tokio::task::spawn_blocking(move || telemetry.shutdown_with_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("shutdown delivers everything");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let metric = (r.metrics.iter().rev())
        .find(|m| m.name == "function_calls_duration_seconds")
        .expect("the histogram arrived");
    let Some(Data::Histogram(h)) = &metric.data else {
        panic!("not a histogram: {metric:?}");
    };
    let point = |function: &str| {
        (h.data_points.iter())
            .find(|p| attr_text(&p.attributes, "function").as_deref() == Some(function))
            .unwrap_or_else(|| panic!("{function} was measured"))
    };
    let sampled = point("sampled_work");
    assert_eq!(sampled.exemplars.len(), 1, "{sampled:?}");
    let e = &sampled.exemplars[0];
    assert_eq!(hex(&e.trace_id), TRACE);
    assert_eq!(hex(&e.span_id), request_span_id);
    assert!(
        r.spans
            .iter()
            .any(|s| s.name == "request" && hex(&s.trace_id) == TRACE),
        "the exemplar's trace reached the receiver"
    );
    assert!(point("unsampled_work").exemplars.is_empty());
}
