//! W3C Trace Context and W3C Baggage over HTTP headers: our own propagator (strict
//! `traceparent`, `tracestate` kept whole and validated, baggage with the spec's limits), used by
//! [`extract`]/[`inject`], the HTTP layers and, as the global propagator, by OTel API code.

use std::sync::Arc;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::baggage::BaggageExt;
use opentelemetry::propagation::text_map_propagator::FieldIter;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::{SpanContext, TraceContextExt, TraceState};
use opentelemetry::Context;

use super::w3c;

const TRACEPARENT: &str = "traceparent";
const TRACESTATE: &str = "tracestate";
const BAGGAGE: &str = "baggage";
/// Bytes of `traceparent` or `tracestate` (all lines of the header together) read at most; a
/// larger one is ignored as a whole.
const MAX_HEADER_BYTES: usize = 8 * 1024;
/// Bytes of `baggage` read at most: more than the 8 KiB kept ([`w3c::MAX_BAGGAGE_BYTES`]), so
/// that a list just over the limit loses its last members, not everything (the specification
/// lets a platform drop members until the list fits); beyond this it is ignored as a whole.
const MAX_BAGGAGE_HEADER_BYTES: usize = 4 * w3c::MAX_BAGGAGE_BYTES;

/// The incoming `tracestate`, validated and normalised (`k=v,k=v`), as a context value. It is
/// what we pass on: the SDK's `TraceState` rejects some keys the specification allows (such as
/// `foo@@bar`), so the header text travels next to it.
#[derive(Debug, Clone)]
pub(crate) struct TraceStateHeader(pub(crate) Arc<str>);

/// The `tracestate` to pass on for `cx`: ours if we parsed it, else the span context's.
pub(crate) fn tracestate_of(cx: &Context, sc: &SpanContext) -> Option<Arc<str>> {
    match cx.get::<TraceStateHeader>() {
        Some(h) => Some(h.0.clone()),
        None => {
            let h = sc.trace_state().header();
            (!h.is_empty()).then(|| Arc::from(h))
        }
    }
}

/// The SDK form of a validated `tracestate` (empty if the SDK's stricter grammar rejects it).
pub(crate) fn sdk_trace_state(header: Option<&Arc<str>>) -> TraceState {
    header
        .and_then(|h| h.parse::<TraceState>().ok())
        .unwrap_or_default()
}

/// W3C Trace Context (Level 1; `tracestate` keys by Level 2's grammar, which accepts every
/// Level 1 key) and W3C Baggage. What [`crate::init`] installs as the global propagator.
#[derive(Debug)]
pub(crate) struct W3cPropagator {
    fields: [String; 3],
}

impl W3cPropagator {
    fn new() -> Self {
        Self {
            fields: [TRACEPARENT.into(), TRACESTATE.into(), BAGGAGE.into()],
        }
    }
}

pub(crate) fn new_propagator() -> W3cPropagator {
    W3cPropagator::new()
}

fn propagator() -> &'static W3cPropagator {
    static P: std::sync::LazyLock<W3cPropagator> = std::sync::LazyLock::new(W3cPropagator::new);
    &P
}

/// Every value of a header (several lines of one header form one list), or `None` if there is
/// none or they are too big together.
fn values<'a>(extractor: &'a dyn Extractor, name: &str, max: usize) -> Option<Vec<&'a str>> {
    let all = extractor.get_all(name)?;
    (all.iter().map(|v| v.len() + 1).sum::<usize>() <= max).then_some(all)
}

impl TextMapPropagator for W3cPropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            let flags = if sc.is_sampled() { "01" } else { "00" };
            injector.set(
                TRACEPARENT,
                format!("00-{}-{}-{flags}", sc.trace_id(), sc.span_id()),
            );
            // W3C: no empty `tracestate` header.
            if let Some(ts) = tracestate_of(cx, sc) {
                injector.set(TRACESTATE, ts.to_string());
            }
        }
        inject_baggage(cx, injector);
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let mut cx = cx.clone();
        // Exactly one valid traceparent; several are ambiguous and start a new trace.
        let parent = match values(extractor, TRACEPARENT, MAX_HEADER_BYTES).as_deref() {
            Some([one]) => w3c::parse_traceparent(one),
            _ => None,
        };
        if let Some(tp) = parent {
            // tracestate only with a valid traceparent; an invalid list is discarded whole.
            let ts = values(extractor, TRACESTATE, MAX_HEADER_BYTES)
                .and_then(|v| w3c::parse_tracestate(v).ok())
                .flatten();
            let sc = SpanContext::new(
                tp.trace_id,
                tp.span_id,
                tp.flags,
                true,
                sdk_trace_state(ts.as_ref()),
            );
            cx = cx.with_remote_span_context(sc);
            if let Some(ts) = ts {
                cx = cx.with_value(TraceStateHeader(ts));
            }
        }
        if let Some(v) = values(extractor, BAGGAGE, MAX_BAGGAGE_HEADER_BYTES) {
            let (baggage, _dropped) = w3c::parse_baggage(v);
            if !baggage.is_empty() {
                cx = cx.with_baggage(baggage);
            }
        }
        cx
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(&self.fields)
    }
}

/// Writes `cx`'s baggage as one `baggage` header: `key=value;properties`, each value
/// percent-encoded wherever it is not a `baggage-octet`, and `%` always (the SDK's encoder leaves
/// `%` and `\` alone, so `100%25` came out as `100%`, which the next hop decodes wrongly).
fn inject_baggage(cx: &Context, injector: &mut dyn Injector) {
    let baggage = cx.baggage();
    if baggage.is_empty() {
        return;
    }
    let mut out = String::new();
    for (key, (value, metadata)) in baggage.iter() {
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(key.as_str());
        out.push('=');
        for b in value.as_str().bytes() {
            let octet = matches!(b, 0x21 | 0x23..=0x2B | 0x2D..=0x3A | 0x3C..=0x5B | 0x5D..=0x7E);
            if octet && b != b'%' {
                out.push(char::from(b));
            } else {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 15)]));
            }
        }
        let properties = metadata.as_str().trim();
        if !properties.is_empty() {
            out.push(';');
            out.push_str(properties);
        }
    }
    injector.set(BAGGAGE, out);
}

struct HeaderExtractor<'a>(&'a HeaderMap);
impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
    fn get_all(&self, key: &str) -> Option<Vec<&str>> {
        let all: Option<Vec<&str>> = self
            .0
            .get_all(key)
            .iter()
            .map(|v| v.to_str().ok())
            .collect();
        all.filter(|v| !v.is_empty())
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

/// The trace context (`traceparent`, `tracestate`) and baggage of incoming HTTP headers.
///
/// * `traceparent`: exactly one, strictly valid (lower-case hex, ids not zero, version `ff`
///   refused); otherwise the request starts a new trace and `tracestate` is ignored.
/// * `tracestate`: several headers form one list; members trimmed of OWS, empty ones skipped,
///   keys and values checked against the grammar, at most 32 members; an invalid list is
///   discarded whole, a duplicated key keeps its first value. Passed on unchanged by [`inject`].
/// * `baggage`: several headers form one list; at most 64 members and 8 KiB (the W3C minimums),
///   values percent-decoded; a malformed member is skipped. Read it with
///   `opentelemetry::baggage::BaggageExt::baggage` on this context, or on
///   [`context`](super::context) of any span of the request.
///
/// `traceparent` and `tracestate` are ignored when their lines together exceed 8 KiB, `baggage`
/// over 32 KiB.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// use opentelemetry::trace::TraceContextExt;
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// headers.insert("baggage", "user_id=u1".parse().unwrap());
/// let cx = watchpost::traces::extract(&headers);
/// assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert_eq!(cx.baggage().get("user_id").unwrap().as_str(), "u1");
/// headers.insert("traceparent", "00-zzz-00f067aa0ba902b7-01".parse().unwrap());
/// assert!(!watchpost::traces::extract(&headers).span().span_context().is_valid());
/// ```
pub fn extract(headers: &HeaderMap) -> Context {
    // Pre-parsed names: a `&str` key is parsed and validated on every lookup.
    static TRACEPARENT_NAME: HeaderName = HeaderName::from_static(TRACEPARENT);
    static BAGGAGE_NAME: HeaderName = HeaderName::from_static(BAGGAGE);
    if !headers.contains_key(&TRACEPARENT_NAME) && !headers.contains_key(&BAGGAGE_NAME) {
        return Context::new(); // the common case for untraced callers: nothing to parse
    }
    propagator().extract(&HeaderExtractor(headers))
}

/// Writes the trace context and baggage of `cx` into outgoing HTTP headers: `traceparent`
/// (version `00`, the sampled flag only), the `tracestate` we received, unchanged (never an
/// empty header), and `baggage`.
///
/// ```
/// use opentelemetry::trace::{SpanContext, TraceContextExt, TraceFlags, TraceId, SpanId, TraceState};
/// let sc = SpanContext::new(TraceId::from(1u128), SpanId::from(2u64), TraceFlags::SAMPLED, true, TraceState::default());
/// let cx = opentelemetry::Context::new().with_remote_span_context(sc);
/// let mut headers = http::HeaderMap::new();
/// watchpost::traces::inject(&cx, &mut headers);
/// assert_eq!(headers["traceparent"], "00-00000000000000000000000000000001-0000000000000002-01");
/// assert!(headers.get("tracestate").is_none());
/// ```
pub fn inject(cx: &Context, headers: &mut HeaderMap) {
    propagator().inject_context(cx, &mut HeaderInjector(headers));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baggage_values_round_trip_whatever_they_hold() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "baggage",
            "a=100%2541,b=x%5Cy,c=caf%C3%A9 ;p=1,d=a%20b%2Cc"
                .parse()
                .unwrap(),
        );
        let cx = extract(&headers);
        assert_eq!(cx.baggage().get("a").unwrap().as_str(), "100%41");
        assert_eq!(cx.baggage().get("b").unwrap().as_str(), "x\\y");
        assert_eq!(cx.baggage().get("c").unwrap().as_str(), "café");
        assert_eq!(cx.baggage().get("d").unwrap().as_str(), "a b,c");
        let mut out = HeaderMap::new();
        inject(&cx, &mut out);
        let again = extract(&out);
        for k in ["a", "b", "c", "d"] {
            assert_eq!(
                again.baggage().get(k),
                cx.baggage().get(k),
                "{k}: {:?}",
                out["baggage"]
            );
        }
        assert_eq!(
            again
                .baggage()
                .get_with_metadata("c")
                .map(|(_, m)| m.as_str()),
            Some("p=1")
        );
    }
}
