//! The HTTP server layer's request span and access line, made with their values staged (see
//! [`crate::staged`]) and visited: the log layer writes the same lines and the trace bridge
//! exports the same spans either way.

use std::time::Duration;

use tracing_subscriber::layer::SubscriberExt as _;
use watchpost_testkit::capture::Capture;

use super::server::{access_event, request_span_visited, Route};
use crate::staged;
use crate::staged::AccessValues;

/// The access line's lines through the typed path and through the field visitor, `time`
/// cut off (the only key that differs between two lines).
fn both_paths(config: crate::Config, v: &AccessValues<'_>, typed: bool) -> (String, String) {
    let capture = Capture::default();
    let (layer, _handle) = crate::logs::JsonLayer::new(&config, capture.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    tracing::subscriber::with_default(subscriber, || {
        access_event(v); // nothing staged: visited
        staged::stage_line(v);
        let before = staged::taken()[0];
        access_event(v);
        assert!(!staged::pending(), "the log layer took the staged values");
        assert_eq!(
            staged::taken()[0] - before,
            u32::from(typed),
            "written typed"
        );
    });
    let lines = capture.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let untimed = |l: &str| l[l.find(",\"level\"").expect("a level key")..].to_string();
    (untimed(&lines[0]), untimed(&lines[1]))
}

#[test]
fn the_staged_access_line_is_byte_for_byte_the_visited_one() {
    let plain = AccessValues {
        method: "GET",
        path: "/instances/{id}",
        status: 200,
        bytes: 109,
        duration_ms: 0.003,
        remote_addr: Some("127.0.0.1:54660"),
        request_id: "655a606eaebf4c7638d1de0dd86abba3",
        complete: true,
    };
    let odd = AccessValues {
        method: "PROPFIND",
        path: "/a\"b\\c/\u{e9}t\u{e9}/{id}/with/a/route/longer/than/the/limit/of/sixty/four/bytes/on/a/line",
        status: 503,
        bytes: u64::MAX,
        duration_ms: 12345.678,
        remote_addr: None,
        request_id: "caller's \"id\" \u{1}",
        complete: false,
    };
    let config = || crate::Config::builder("svc").build().unwrap();
    let short = || {
        crate::Config::builder("svc")
            .max_field_bytes(64)
            .build()
            .unwrap()
    };
    for (config, v, level) in [
        (config(), &plain, "INFO"),
        (short(), &plain, "INFO"),
        (config(), &odd, "WARN"),
        (short(), &odd, "WARN"),
    ] {
        let (visited, staged) = both_paths(config, v, true);
        assert_eq!(staged, visited);
        assert!(visited.contains("\"status\":"), "{visited}");
        assert!(
            visited.contains(&format!("\"level\":\"{level}\"")),
            "{visited}"
        );
    }
    let (visited, _) = both_paths(short(), &odd, true);
    assert!(visited.contains(crate::logs::TRUNCATED_MARKER), "{visited}");
    assert!(!visited.contains("remote_addr"), "{visited}");
}

/// A line logged inside the request span, made with its values visited and staged.
fn span_both_paths(config: crate::Config, remote: Option<&str>, typed: bool) -> (String, String) {
    let capture = Capture::default();
    let (layer, _handle) = crate::logs::JsonLayer::new(&config, capture.clone());
    let subscriber = tracing_subscriber::registry().with(layer);
    let remote = remote.map(|r| super::addr::AddrText::new(r.parse().unwrap()));
    let (method, path) = (axum::http::Method::GET, Route(None));
    let rid = "0af7651916cd43dd8448eb211c80319c";
    tracing::subscriber::with_default(subscriber, || {
        for stage in [false, true] {
            let before = staged::taken()[1];
            let span = request_span_visited("api", &method, &path, remote.as_ref(), rid, stage);
            staged::clear(); // (no trace bridge here to take its part)
            let expected = u32::from(stage && typed);
            assert_eq!(staged::taken()[1] - before, expected, "made typed");
            span.in_scope(|| tracing::info!(target: "app", answer = 42, "inside"));
        }
    });
    let lines = capture.lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    let untimed = |l: &str| l[l.find(",\"level\"").expect("a level key")..].to_string();
    (untimed(&lines[0]), untimed(&lines[1]))
}

#[test]
fn a_line_in_a_staged_request_span_is_byte_for_byte_one_in_a_visited_one() {
    let api = || crate::Config::builder("svc").subsystem(crate::Subsystem::new("API"));
    for remote in [None, Some("192.0.2.7:4242")] {
        let (visited, staged) = span_both_paths(api().build().unwrap(), remote, true);
        assert_eq!(staged, visited);
        assert!(visited.contains("\"subsystem\":\"API\""), "{visited}");
        assert!(visited.contains("\"request_id\":\"0af7651916cd43dd8448eb211c80319c\""));
        // Undeclared: the default subsystem, on both paths.
        let (visited, staged) =
            span_both_paths(crate::Config::builder("svc").build().unwrap(), remote, true);
        assert_eq!(staged, visited);
        assert!(visited.contains("\"subsystem\":\"APP\""), "{visited}");
    }
    let mut redaction = crate::Redaction::default();
    redaction.field_names.push("request_id".into());
    let (visited, staged) =
        span_both_paths(api().redaction(redaction).build().unwrap(), None, false);
    assert_eq!(staged, visited);
    assert!(
        visited.contains("\"request_id\":\"[REDACTED]\""),
        "{visited}"
    );
}

/// Keeps every span the tail sampler hands on.
#[derive(Debug, Default)]
struct Kept(std::sync::Mutex<Vec<opentelemetry_sdk::trace::SpanData>>);
impl crate::traces::SpanSink for Kept {
    fn send(&self, span: opentelemetry_sdk::trace::SpanData, _important: bool) {
        self.0.lock().unwrap().push(span);
    }
}

/// The request span as the trace bridge exports it, made with its values visited and
/// staged: (name, kind, attributes) of each.
fn bridged_both_paths(
    redaction: &crate::Redaction,
    method: &axum::http::Method,
    remote: Option<&str>,
) -> Vec<(String, String, Vec<opentelemetry::KeyValue>)> {
    bridged_both_paths_touched(redaction, method, remote, 1.0, |_| {})
}

/// [`bridged_both_paths`] at sampling `ratio`, `touch` applied to each span before it ends.
fn bridged_both_paths_touched(
    redaction: &crate::Redaction,
    method: &axum::http::Method,
    remote: Option<&str>,
    ratio: f64,
    touch: impl Fn(&tracing::Span),
) -> Vec<(String, String, Vec<opentelemetry::KeyValue>)> {
    bridged_and_dropped(redaction, method, remote, ratio, touch).0
}

/// [`bridged_both_paths_touched`], and how many spans the tail sampler dropped.
fn bridged_and_dropped(
    redaction: &crate::Redaction,
    method: &axum::http::Method,
    remote: Option<&str>,
    ratio: f64,
    touch: impl Fn(&tracing::Span),
) -> (Vec<(String, String, Vec<opentelemetry::KeyValue>)>, u64) {
    use std::sync::Arc;
    let kept = Arc::new(Kept::default());
    let counters = Arc::new(crate::internal::TailCounters::default());
    let settings = crate::traces::TailSettings {
        ratio,
        slow: Duration::from_secs(60),
        max_traces: 16,
        max_spans: 16,
        max_attribute_bytes: 1024,
    };
    let tail = crate::traces::TailSampler::new(
        settings,
        kept.clone(),
        crate::redact::Redactor::new(redaction),
        counters.clone(),
    );
    let bridge = crate::traces::Bridge::new(Some(Arc::new(tail)), ratio, &[], 0);
    let subscriber = tracing_subscriber::registry().with(bridge);
    let remote = remote.map(|r| super::addr::AddrText::new(r.parse().unwrap()));
    let path = Route(None);
    let rid = "0af7651916cd43dd8448eb211c80319c";
    tracing::subscriber::with_default(subscriber, || {
        for stage in [false, true] {
            let before = staged::taken()[2];
            let span = request_span_visited("API", method, &path, remote.as_ref(), rid, stage);
            staged::clear(); // (no log layer here to take its part)
            assert_eq!(staged::taken()[2] - before, u32::from(stage), "made typed");
            touch(&span);
            drop(span);
        }
    });
    let spans = kept.0.lock().unwrap();
    let spans = spans
        .iter()
        .map(|s| {
            let kind = format!("{:?}", s.span_kind);
            (s.name.to_string(), kind, s.attributes.clone())
        })
        .collect();
    (spans, counters.dropped())
}

#[test]
fn a_staged_request_span_is_bridged_with_the_visited_ones_name_kind_and_attributes() {
    use axum::http::Method;
    let mut secret_id = crate::Redaction::default();
    secret_id.field_names.push("request_id".into());
    let extension = Method::from_bytes(b"PROPFIND").unwrap();
    let spans = bridged_both_paths(&crate::Redaction::default(), &Method::GET, None);
    assert_eq!(spans.len(), 2, "both kept (ratio 1)");
    for (redaction, method, remote) in [
        (
            crate::Redaction::default(),
            Method::GET,
            Some("192.0.2.7:4242"),
        ),
        (crate::Redaction::default(), Method::DELETE, None),
        (
            crate::Redaction::default(),
            extension.clone(),
            Some("[2001:db8::1]:80"),
        ),
        (secret_id, extension, Some("192.0.2.7:4242")),
    ] {
        // Ratio 1: made at once; ratio 0: deferred, then kept as an error.
        let error = |span: &tracing::Span| {
            span.record("otel.status_code", "ERROR");
        };
        let deferred = bridged_both_paths_touched(&redaction, &method, remote, 0.0, error);
        let spans = bridged_both_paths(&redaction, &method, remote);
        assert_eq!(spans[1], spans[0], "staged (right) against visited (left)");
        assert_eq!(deferred, spans, "deferred against made at once");
        let (name, kind, attributes) = &spans[0];
        assert!(name.ends_with(" __unmatched__"), "{name}");
        assert_eq!(kind, "Server");
        assert!(attributes.iter().any(|kv| kv.key.as_str() == "http.route"));
        assert_eq!(
            attributes.iter().any(|kv| kv.key.as_str() == "client.port"),
            remote.is_some()
        );
    }
}

#[test]
fn an_access_field_named_as_a_secret_is_redacted_on_the_staged_path_too() {
    let mut redaction = crate::Redaction::default();
    redaction.field_names.push("request_id".into());
    let config = crate::Config::builder("svc")
        .redaction(redaction)
        .build()
        .unwrap();
    let v = AccessValues {
        method: "GET",
        path: "/",
        status: 200,
        bytes: 0,
        duration_ms: 1.5,
        remote_addr: None,
        request_id: "not-to-be-seen",
        complete: true,
    };
    // Written by the visitor (which redacts), not typed.
    let (visited, staged) = both_paths(config, &v, false);
    assert_eq!(staged, visited);
    assert!(
        visited.contains("\"request_id\":\"[REDACTED]\""),
        "{visited}"
    );
}

#[test]
fn a_field_named_as_a_resource_id_is_left_to_the_visitor_with_the_same_lines() {
    let dir = std::env::temp_dir().join(format!("wp-staged-resource-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let config = |field: &str| {
        crate::Config::builder("svc")
            .resource_logs(crate::logs::ResourceLogConfig::new(&dir).kind("thing", field))
            .build()
            .unwrap()
    };
    // `request_id` is in both the span and the line; `path` only in the line.
    let (visited, staged) = span_both_paths(config("request_id"), None, false);
    assert_eq!(staged, visited);
    let v = AccessValues {
        method: "GET",
        path: "/things/{id}",
        status: 200,
        bytes: 2,
        duration_ms: 0.25,
        remote_addr: None,
        request_id: "0af7651916cd43dd8448eb211c80319c",
        complete: true,
    };
    for field in ["request_id", "path"] {
        let (visited, staged) = both_paths(config(field), &v, false);
        assert_eq!(staged, visited, "{field}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_log_layer_and_the_bridge_in_one_subscriber_each_take_their_own_staged_values() {
    use std::sync::Arc;
    let capture = Capture::default();
    let config = crate::Config::builder("svc").build().unwrap();
    let (layer, _handle) = crate::logs::JsonLayer::new(&config, capture.clone());
    let kept = Arc::new(Kept::default());
    let tail = crate::traces::TailSampler::new(
        crate::traces::TailSettings {
            ratio: 1.0,
            slow: Duration::from_secs(60),
            max_traces: 16,
            max_spans: 16,
            max_attribute_bytes: 1024,
        },
        kept.clone(),
        crate::redact::Redactor::new(&crate::Redaction::default()),
        Default::default(),
    );
    let bridge = crate::traces::Bridge::new(Some(Arc::new(tail)), 1.0, &[], 0);
    let subscriber = tracing_subscriber::registry().with(bridge).with(layer);
    let (method, path) = (axum::http::Method::GET, Route(None));
    tracing::subscriber::with_default(subscriber, || {
        let before = staged::taken();
        let span = request_span_visited("API", &method, &path, None, "abc", true);
        // Nothing cleared: both layers took theirs.
        assert!(!staged::pending());
        let after = staged::taken();
        assert_eq!((after[1] - before[1], after[2] - before[2]), (1, 1));
        span.in_scope(|| tracing::info!(target: "app", "inside"));
    });
    let lines = capture.lines();
    assert!(lines[0].contains("\"request_id\":\"abc\""), "{lines:?}");
    let spans = kept.0.lock().unwrap();
    assert_eq!(spans.len(), 1);
    assert!(spans[0]
        .attributes
        .iter()
        .any(|kv| kv.key.as_str() == "request_id" && kv.value.as_str() == "abc"));
}

#[test]
fn attributes_set_later_on_a_staged_request_span_land_as_on_a_visited_one() {
    use crate::traces::SpanExt as _;
    // A recorded status, a context field (which replaces an attribute of its name), an attribute
    // set through the OpenTelemetry-style API (which replaces one by key). At ratio 1 the staged
    // span's attributes are made at once; at ratio 0 they wait (deferred) until the first lookup
    // by key, and the error status keeps the span.
    for ratio in [1.0, 0.0] {
        let spans = bridged_both_paths_touched(
            &crate::Redaction::default(),
            &axum::http::Method::POST,
            Some("192.0.2.7:4242"),
            ratio,
            |span| {
                span.record("http.response.status_code", 500);
                span.record("otel.status_code", "ERROR");
                assert!(crate::context::set_on(span, "tenant", "acme"));
                assert!(crate::context::set_on(span, "subsystem", "to the end"));
                span.set_attribute("http.route", "/replaced/{id}");
                span.set_attribute("extra", 7);
            },
        );
        assert_eq!(spans.len(), 2, "ratio {ratio}");
        assert_eq!(
            spans[1], spans[0],
            "staged (right) against visited (left), {ratio}"
        );
        let keys: Vec<&str> = spans[0].2.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(
            keys.iter().filter(|k| **k == "subsystem").count(),
            1,
            "{keys:?}"
        );
        assert_eq!(keys[keys.len() - 2..], ["subsystem", "extra"], "{keys:?}");
    }
}

#[test]
fn a_dropped_staged_request_span_is_dropped_like_a_visited_one() {
    use axum::http::Method;
    let default = crate::Redaction::default;
    // Ratio 0: neither is kept (both counted), and the staged one's attributes are never made.
    let (spans, dropped) = bridged_and_dropped(&default(), &Method::GET, None, 0.0, |_| {});
    assert!(spans.is_empty(), "{spans:?}");
    assert_eq!(dropped, 2);
    // An error status, a slow mark, an ERROR event in a child (which waits for its root): each
    // keeps the trace whatever the ratio, the same on both paths. A recorded status code first,
    // so that the deferred attributes must come before it.
    let touches: [&dyn Fn(&tracing::Span); 3] = [
        &|span| {
            span.record("http.response.status_code", 503);
            span.record("otel.status_code", "ERROR");
        },
        &|span| {
            span.record("http.response.status_code", 200);
            crate::traces::mark_slow(span);
        },
        &|span| {
            span.record("http.response.status_code", 200);
            let child = tracing::info_span!(parent: span, "child", step = 1);
            child.in_scope(|| tracing::error!("boom"));
        },
    ];
    for (i, touch) in touches.into_iter().enumerate() {
        let (spans, dropped) =
            bridged_and_dropped(&default(), &Method::GET, Some("192.0.2.7:1"), 0.0, touch);
        let roots: Vec<_> = spans.iter().filter(|s| s.1 == "Server").collect();
        assert_eq!(roots.len(), 2, "case {i}: both kept: {spans:?}");
        assert_eq!(
            roots[1], roots[0],
            "case {i}: staged (right) against visited (left)"
        );
        assert_eq!(dropped, 0, "case {i}");
        let keys: Vec<&str> = roots[0].2.iter().map(|kv| kv.key.as_str()).collect();
        assert_eq!(keys[0], "subsystem", "case {i}: {keys:?}");
    }
}
