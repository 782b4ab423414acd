//! W3C Trace Context and Baggage propagation over HTTP headers, with a strict `traceparent`
//! check (a malformed header starts a new trace instead of continuing a wrong one).

use axum::http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::propagation::{
    Extractor, Injector, TextMapCompositePropagator, TextMapPropagator,
};
use opentelemetry::Context;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};

/// W3C Trace Context and Baggage, in that order: what [`extract`]/[`inject`] use, and what
/// [`crate::init`] installs as the global propagator.
pub(crate) fn new_propagator() -> TextMapCompositePropagator {
    TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ])
}

fn propagator() -> &'static TextMapCompositePropagator {
    static P: std::sync::LazyLock<TextMapCompositePropagator> =
        std::sync::LazyLock::new(new_propagator);
    &P
}

struct HeaderExtractor<'a>(&'a HeaderMap);
impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

struct HeaderInjector<'a>(&'a mut HeaderMap);
impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(key.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The trace context (`traceparent`, `tracestate`) and baggage of incoming HTTP headers. A
/// missing or malformed header gives a context without a remote span: the request starts a new
/// trace. Oversized headers (over 8 KiB) are ignored.
///
/// ```
/// use opentelemetry::trace::TraceContextExt;
/// let mut headers = axum::http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// let cx = watchpost::traces::extract(&headers);
/// assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// headers.insert("traceparent", "00-zzz-00f067aa0ba902b7-01".parse().unwrap());
/// assert!(!watchpost::traces::extract(&headers).span().span_context().is_valid());
/// ```
pub fn extract(headers: &HeaderMap) -> Context {
    const MAX: usize = 8 * 1024;
    if !headers.contains_key("traceparent") && !headers.contains_key("baggage") {
        return Context::new(); // the common case for untraced callers: nothing to parse
    }
    let too_big = ["traceparent", "tracestate", "baggage"]
        .iter()
        .any(|h| headers.get_all(*h).iter().map(|v| v.len()).sum::<usize>() > MAX);
    if too_big {
        return Context::new();
    }
    let all: Vec<&HeaderValue> = headers.get_all("traceparent").iter().collect();
    let valid = match all.as_slice() {
        [] => true,
        [one] => one.to_str().is_ok_and(valid_traceparent),
        _ => false, // ambiguous: several traceparent headers
    };
    if valid {
        return propagator().extract(&HeaderExtractor(headers));
    }
    // A malformed traceparent (the SDK's parser is lenient, e.g. it left-pads a 31-digit trace
    // id): start a new trace, keep only the baggage.
    let mut rest = headers.clone();
    rest.remove("traceparent");
    rest.remove("tracestate");
    BaggagePropagator::new().extract(&HeaderExtractor(&rest))
}

/// Strict W3C Trace Context check: `vv-<32 hex>-<16 hex>-ff` in lower case, version not `ff`,
/// ids not all zero; version `00` has exactly four parts, later versions may add more.
fn valid_traceparent(v: &str) -> bool {
    let v = v.trim();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let parts: Vec<&str> = v.split('-').collect();
    if parts.len() < 4 {
        return false;
    }
    let (version, trace, span, flags) = (parts[0], parts[1], parts[2], parts[3]);
    hex(version, 2)
        && version != "ff"
        && (parts.len() == 4 || version != "00")
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(span, 16)
        && span.bytes().any(|b| b != b'0')
        && hex(flags, 2)
}

/// Writes the trace context and baggage of `cx` into outgoing HTTP headers.
///
/// ```
/// use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId, SpanId, TraceState};
/// let sc = SpanContext::new(TraceId::from(1u128), SpanId::from(2u64), TraceFlags::SAMPLED, true, TraceState::default());
/// let cx = opentelemetry::Context::new().with_remote_span_context(sc);
/// let mut headers = axum::http::HeaderMap::new();
/// watchpost::traces::inject(&cx, &mut headers);
/// assert_eq!(headers["traceparent"], "00-00000000000000000000000000000001-0000000000000002-01");
/// ```
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    propagator().inject_context(cx, &mut HeaderInjector(headers));
    // The propagator writes `tracestate` even when there is none; W3C: send no empty header.
    if headers.get("tracestate").is_some_and(|v| v.is_empty()) {
        headers.remove("tracestate");
    }
}
