//! Span fields follow the event's own fields, innermost span first; each key appears once; fields
//! recorded later replace earlier values; reserved names (the line's own keys, the standard
//! fields among them) do not clash with the line's own keys, whether an event or a span has them.

use watchpost::{Config, Subsystem};
use watchpost_testkit::capture::Capture;

#[test]
fn span_fields_follow_the_innermost_span() {
    let capture = Capture::default();
    let config = Config::builder("svc")
        .subsystem(Subsystem::new("EXEC"))
        .build()
        .unwrap();
    let (_t, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        let outer = tracing::info_span!(
            "outer",
            subsystem = "EXEC",
            a = 1,
            b = "outer",
            c = tracing::field::Empty
        );
        let _o = outer.enter();
        let inner = tracing::info_span!(
            "inner",
            b = "inner",
            d = true,
            token = "t0ps3cret",
            service = "payments",
            level = "outer"
        );
        let _i = inner.enter();
        outer.record("c", 3.5);
        inner.record("b", "inner-again");
        tracing::info!(a = "event", level = 9, version = "v2", "hello");
    });
    let raw = capture.lines();
    assert_eq!(raw.len(), 1);
    let after_subsystem = raw[0].split_once(",\"subsystem\":\"EXEC\",").unwrap().1;
    // Inside spans, the line carries the standard fields, their trace and span ids, then the
    // fields.
    let (ids, fields) = after_subsystem.split_at(after_subsystem.find(",\"a\"").unwrap());
    assert!(
        ids.starts_with(
            "\"service\":\"svc\",\"version\":\"unknown\",\"environment\":\"unset\",\"trace_id\":\""
        ) && ids.contains("\"span_id\":\""),
        "{ids}"
    );
    assert_eq!(
        fields,
        ",\"a\":\"event\",\"fields.level\":9,\"fields.version\":\"v2\",\"d\":true,\"token\":\"[REDACTED]\",\"fields.service\":\"payments\",\"b\":\"inner-again\",\"c\":3.5}"
    );
    let keys = watchpost_testkit::capture::keys(&raw[0]);
    let mut unique = keys.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), keys.len(), "a key twice: {keys:?}");
}
