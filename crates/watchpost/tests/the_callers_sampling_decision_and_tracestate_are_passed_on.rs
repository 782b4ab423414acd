//! What a service passes on to the services it calls: the caller's `tracestate` reaches outgoing
//! requests unchanged from any span of the request (not only the server span), the caller's
//! sampled flag is kept (a caller that did not sample is not told downstream that it did), a
//! trace that starts here passes on the sampling ratio's decision (0: not sampled, 1: sampled),
//! and no empty `tracestate` header is ever sent.

use axum::http::HeaderMap;

fn outgoing(traceparent: Option<&str>, tracestate: Option<&str>) -> HeaderMap {
    outgoing_at(0.1, traceparent, tracestate)
}

fn outgoing_at(ratio: f64, traceparent: Option<&str>, tracestate: Option<&str>) -> HeaderMap {
    let config = watchpost::Config::builder("prop")
        .trace_sampler_ratio(ratio)
        .build()
        .unwrap();
    let (_t, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        let mut incoming = HeaderMap::new();
        if let Some(tp) = traceparent {
            incoming.insert("traceparent", tp.parse().unwrap());
        }
        if let Some(ts) = tracestate {
            incoming.insert("tracestate", ts.parse().unwrap());
        }
        let request = tracing::info_span!("request");
        watchpost::traces::set_parent(&request, &watchpost::traces::extract(&incoming));
        let _in_request = request.enter();
        // A client call two spans below the request span.
        let work = tracing::info_span!("work");
        let _in_work = work.enter();
        let call = tracing::info_span!("call");
        let mut out = HeaderMap::new();
        watchpost::traces::inject(&watchpost::traces::context(&call), &mut out);
        out
    })
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";

#[test]
fn the_callers_sampling_decision_and_tracestate_are_passed_on() {
    let sampled = outgoing(
        Some(&format!("00-{TRACE}-00f067aa0ba902b7-01")),
        Some("foo=1,bar=2"),
    );
    let tp = sampled["traceparent"].to_str().unwrap();
    assert!(
        tp.starts_with(&format!("00-{TRACE}-")) && tp.ends_with("-01"),
        "{tp}"
    );
    assert_eq!(sampled["tracestate"], "foo=1,bar=2");

    let unsampled = outgoing(Some(&format!("00-{TRACE}-00f067aa0ba902b7-00")), None);
    let tp = unsampled["traceparent"].to_str().unwrap();
    assert!(
        tp.ends_with("-00"),
        "the caller did not sample, so neither do we tell others to: {tp}"
    );
    assert!(
        unsampled.get("tracestate").is_none(),
        "an empty tracestate header: {unsampled:?}"
    );

    for (ratio, flag) in [(1.0, "-01"), (0.0, "-00")] {
        let root = outgoing_at(ratio, None, None);
        let tp = root["traceparent"].to_str().unwrap();
        assert!(
            tp.ends_with(flag) && !tp.contains(TRACE),
            "ratio {ratio}: {tp}"
        );
        assert!(root.get("tracestate").is_none(), "{root:?}");
    }
    // At ratio 0 a sampled caller's decision still wins.
    let sampled = outgoing_at(0.0, Some(&format!("00-{TRACE}-00f067aa0ba902b7-01")), None);
    assert!(sampled["traceparent"].to_str().unwrap().ends_with("-01"));
}

/// Spans made with the OpenTelemetry API (`Telemetry::tracer`) pass on the same decision: the
/// caller's flag, else the ratio's.
#[test]
fn api_spans_pass_on_the_callers_decision_too() {
    use opentelemetry::trace::{TraceContextExt, Tracer};
    for (ratio, incoming, want) in [
        (1.0, Some("00"), "-00"),
        (0.0, Some("01"), "-01"),
        (0.0, None, "-00"),
        (1.0, None, "-01"),
    ] {
        let config = watchpost::Config::builder("prop")
            .trace_sampler_ratio(ratio)
            .build()
            .unwrap();
        let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        let mut headers = HeaderMap::new();
        if let Some(flags) = incoming {
            headers.insert(
                "traceparent",
                format!("00-{TRACE}-00f067aa0ba902b7-{flags}")
                    .parse()
                    .unwrap(),
            );
        }
        let parent = watchpost::traces::extract(&headers);
        let span = telemetry.tracer().start_with_context("api", &parent);
        let cx = parent.with_span(span);
        let mut out = HeaderMap::new();
        watchpost::traces::inject(&cx, &mut out);
        let tp = out["traceparent"].to_str().unwrap().to_string();
        assert!(
            tp.ends_with(want),
            "ratio {ratio}, caller {incoming:?}: {tp}"
        );
        let _ = telemetry.shutdown_with_timeout(std::time::Duration::from_millis(100));
    }
}
