//! TRACE is forbidden by the standard: never emitted, and refused as a configured level.
mod support;

use watchpost_testkit::capture;

#[test]
fn trace_events_never_appear_even_at_the_most_verbose_level() {
    let mut demo = support::logdemo(&[("LOG_LEVEL", "debug")]);
    let mut raw = demo.run("emit");
    demo.run("level INSTANCES trace");
    assert!(
        demo.last_stderr
            .iter()
            .any(|l| l.contains("TRACE is not allowed")),
        "{:?}",
        demo.last_stderr
    );
    raw.extend(demo.run("emit"));
    let (code, rest, _) = demo.finish();
    assert_eq!(code, 0);
    raw.extend(rest);
    let lines = capture::parse_all(&raw);
    assert_eq!(lines.len(), 10, "{raw:#?}");
    assert!(lines.iter().all(|l| l["level"] != "TRACE"), "{raw:#?}");
    assert!(!raw.iter().any(|l| l.contains("looking up the instance")));
}

#[test]
fn trace_is_refused_as_a_configured_level() {
    let demo = support::logdemo(&[("LOG_LEVEL", "trace")]);
    let (code, out, err) = demo.finish();
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.join("\n").contains("TRACE is not allowed"), "{err:?}");
}
