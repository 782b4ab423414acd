//! Records of the `log` crate (used by some dependencies) come out as the same JSON lines as
//! `tracing` events: routed to a subsystem by their own target, filtered by its level (noisy
//! dependencies at WARN), with no `log.*` bookkeeping fields; and a runtime level change
//! applies to them too.
mod support;

use watchpost_testkit::capture;

#[test]
fn log_crate_records_follow_the_same_levels_and_format() {
    let mut demo = support::logdemo(&[]);
    let lines = capture::parse_all(&demo.run("logcrate"));
    let summary = capture::msgs(&lines);
    let want: Vec<(String, String, String)> = [
        ("INFO", "INSTANCES", "instance web-2 adopted"),
        ("WARN", "APP", "connection reset"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(summary, want, "{lines:?}");
    for l in &lines {
        assert!(
            l.keys().all(|k| !k.starts_with("log.")),
            "no log.* fields: {l:?}"
        );
    }

    demo.run("level INSTANCES debug");
    let lines = capture::parse_all(&demo.run("logcrate"));
    let msgs: Vec<String> = capture::msgs(&lines)
        .into_iter()
        .map(|(_, _, m)| m)
        .collect();
    assert!(
        msgs.contains(&"adoption details".to_string()),
        "DEBUG after the level change: {msgs:?}"
    );
    assert!(
        !msgs.contains(&"pooling idle connection".to_string()),
        "the noisy dependency stays at WARN: {msgs:?}"
    );
    assert_eq!(demo.finish().0, 0);
}
