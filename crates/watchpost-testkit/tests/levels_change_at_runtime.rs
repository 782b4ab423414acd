//! A level changed through the handle takes effect for callsites that already fired.
mod support;

use watchpost_testkit::capture;

#[test]
fn levels_change_at_runtime() {
    let mut demo = support::logdemo(&[]);
    let before = capture::msgs(&capture::parse_all(&demo.run("emit")));
    assert!(before.iter().all(|(l, _, _)| l != "DEBUG"), "{before:?}");
    assert!(before.iter().any(|(l, s, _)| l == "INFO" && s == "API"));

    demo.run("level INSTANCES debug");
    let after = capture::msgs(&capture::parse_all(&demo.run("emit")));
    assert!(
        after
            .iter()
            .any(|(l, s, m)| l == "DEBUG" && s == "INSTANCES" && m == "instance looked up"),
        "{after:?}"
    );
    assert!(
        !after.iter().any(|(l, s, _)| l == "DEBUG" && s == "API"),
        "API stays at info: {after:?}"
    );

    // A subsystem that only spans give (EXEC) changes too.
    demo.run("level EXEC debug");
    let exec = capture::msgs(&capture::parse_all(&demo.run("emit")));
    assert!(
        exec.iter()
            .any(|(l, s, m)| l == "DEBUG" && s == "EXEC" && m == "helper ran"),
        "{exec:?}"
    );

    demo.run("level API error");
    let quiet = capture::msgs(&capture::parse_all(&demo.run("emit")));
    assert!(!quiet.iter().any(|(_, s, _)| s == "API"), "{quiet:?}");
    assert_eq!(demo.finish().0, 0);
}
