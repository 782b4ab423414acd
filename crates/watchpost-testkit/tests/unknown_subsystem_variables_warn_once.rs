//! A `LOG_LEVEL_<X>` for an undeclared subsystem gives exactly one WARN at start listing the
//! declared ones, and the program runs on.
mod support;

use watchpost_testkit::capture;

#[test]
fn unknown_subsystem_variables_warn_once() {
    let mut demo =
        support::logdemo(&[("LOG_LEVEL_NETWORK", "debug"), ("LOG_LEVEL_IMAGES", "warn")]);
    let mut raw = demo.run("emit");
    let (code, rest, _) = demo.finish();
    assert_eq!(code, 0);
    raw.extend(rest);
    let lines = capture::parse_all(&raw);
    let warns: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"].as_str().unwrap().contains("LOG_LEVEL_"))
        .collect();
    assert_eq!(warns.len(), 1, "{raw:#?}");
    let w = warns[0];
    assert_eq!(w["level"], "WARN");
    assert_eq!(w["variables"], "LOG_LEVEL_IMAGES, LOG_LEVEL_NETWORK");
    assert_eq!(w["known_subsystems"], "API, INSTANCES, EXEC, APP");
}
