//! A corpus of malformed `traceparent` / `tracestate` / `baggage` headers: none panics, none is
//! accepted as a parent, so every such request starts a new trace; well-formed ones still work.
use axum::http::HeaderMap;
use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::TraceContextExt;

const VALID_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const VALID_SPAN: &str = "00f067aa0ba902b7";

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = v.parse() {
            h.append(*k, v);
        }
    }
    h
}

#[test]
fn malformed_trace_headers_start_a_new_trace() {
    let tp = |s: &str| headers(&[("traceparent", s.to_string())]);
    let huge = "a".repeat(100_000);
    let corpus: Vec<(String, HeaderMap)> = vec![
        ("empty".into(), tp("")),
        ("spaces".into(), tp("   ")),
        ("garbage".into(), tp("hello world")),
        (
            "too few parts".into(),
            tp(&format!("00-{VALID_TRACE}-{VALID_SPAN}")),
        ),
        (
            "too many parts".into(),
            tp(&format!("00-{VALID_TRACE}-{VALID_SPAN}-01-extra-x")),
        ),
        (
            "short trace id".into(),
            tp(&format!("00-{}-{VALID_SPAN}-01", &VALID_TRACE[..31])),
        ),
        (
            "long trace id".into(),
            tp(&format!("00-{VALID_TRACE}0-{VALID_SPAN}-01")),
        ),
        (
            "short span id".into(),
            tp(&format!("00-{VALID_TRACE}-{}-01", &VALID_SPAN[..15])),
        ),
        (
            "long span id".into(),
            tp(&format!("00-{VALID_TRACE}-{VALID_SPAN}0-01")),
        ),
        (
            "non-hex trace id".into(),
            tp(&format!("00-{}-{VALID_SPAN}-01", "g".repeat(32))),
        ),
        (
            "non-hex span id".into(),
            tp(&format!("00-{VALID_TRACE}-{}-01", "z".repeat(16))),
        ),
        (
            "upper-case hex".into(),
            tp(&format!(
                "00-{}-{VALID_SPAN}-01",
                VALID_TRACE.to_uppercase()
            )),
        ),
        (
            "all-zero trace id".into(),
            tp(&format!("00-{}-{VALID_SPAN}-01", "0".repeat(32))),
        ),
        (
            "all-zero span id".into(),
            tp(&format!("00-{VALID_TRACE}-{}-01", "0".repeat(16))),
        ),
        (
            "version ff".into(),
            tp(&format!("ff-{VALID_TRACE}-{VALID_SPAN}-01")),
        ),
        (
            "version non-hex".into(),
            tp(&format!("zz-{VALID_TRACE}-{VALID_SPAN}-01")),
        ),
        (
            "version one digit".into(),
            tp(&format!("0-{VALID_TRACE}-{VALID_SPAN}-01")),
        ),
        (
            "flags non-hex".into(),
            tp(&format!("00-{VALID_TRACE}-{VALID_SPAN}-zz")),
        ),
        (
            "flags three digits".into(),
            tp(&format!("00-{VALID_TRACE}-{VALID_SPAN}-001")),
        ),
        (
            "flags one digit".into(),
            tp(&format!("00-{VALID_TRACE}-{VALID_SPAN}-1")),
        ),
        (
            "wrong separators".into(),
            tp(&format!("00_{VALID_TRACE}_{VALID_SPAN}_01")),
        ),
        (
            "leading separator".into(),
            tp(&format!("-00-{VALID_TRACE}-{VALID_SPAN}-01")),
        ),
        ("huge value".into(), tp(&huge)),
        (
            "huge valid-looking".into(),
            tp(&format!(
                "00-{VALID_TRACE}-{VALID_SPAN}-01{}",
                "0".repeat(50_000)
            )),
        ),
        ("unicode".into(), tp("00-🦀🦀🦀-🦀-01")),
        (
            "negative-looking".into(),
            tp(&format!("00--{}-{VALID_SPAN}-01", &VALID_TRACE[1..])),
        ),
        ("only dashes".into(), tp("---")),
        (
            "trace id with spaces".into(),
            tp(&format!("00-{} -{VALID_SPAN}-01", &VALID_TRACE[..31])),
        ),
        (
            "huge tracestate with a broken traceparent".into(),
            headers(&[
                ("traceparent", "00-xyz".into()),
                ("tracestate", format!("k={huge}")),
            ]),
        ),
        (
            "malformed baggage only".into(),
            headers(&[("baggage", "=;;,=,k==v;;;%ZZ".into())]),
        ),
        (
            "huge baggage only".into(),
            headers(&[("baggage", format!("k={huge}"))]),
        ),
        (
            "two traceparent headers".into(),
            headers(&[
                ("traceparent", format!("00-{VALID_TRACE}-{VALID_SPAN}-01")),
                ("traceparent", "00-bad".into()),
            ]),
        ),
    ];
    assert!(corpus.len() >= 30, "{}", corpus.len());
    for (name, h) in &corpus {
        let cx = std::panic::catch_unwind(|| watchpost::traces::extract(h))
            .unwrap_or_else(|_| panic!("{name}: extract panicked"));
        let sc = cx.span().span_context().clone();
        assert!(!sc.is_valid(), "{name}: accepted {sc:?}");
        // Baggage that is malformed or oversized carries nothing usable.
        if name.contains("huge") {
            assert!(
                cx.baggage()
                    .iter()
                    .all(|(_, (v, _))| v.as_str().len() < 8192),
                "{name}"
            );
        }
    }

    // Control: a valid header is accepted and re-injected unchanged.
    let good = tp(&format!("00-{VALID_TRACE}-{VALID_SPAN}-01"));
    let cx = watchpost::traces::extract(&good);
    assert!(cx.span().span_context().is_valid());
    assert!(cx.span().span_context().is_sampled());
    let mut out = HeaderMap::new();
    watchpost::traces::inject(&cx, &mut out);
    assert_eq!(
        out["traceparent"],
        format!("00-{VALID_TRACE}-{VALID_SPAN}-01").as_str()
    );
    let with_baggage = headers(&[("baggage", "user=alice,tenant=t1".into())]);
    let cx = watchpost::traces::extract(&with_baggage);
    assert_eq!(
        cx.baggage().get("tenant").map(|v| v.as_str().to_string()),
        Some("t1".into())
    );
}
