//! `LOG_LEVEL=warn LOG_LEVEL_INSTANCES=debug` shows INSTANCES debug lines and no API info lines.
mod support;

use watchpost_testkit::capture;

#[test]
fn subsystem_levels_come_from_the_environment() {
    let mut demo = support::logdemo(&[("LOG_LEVEL", "warn"), ("LOG_LEVEL_INSTANCES", "debug")]);
    let lines = capture::parse_all(&demo.run("emit"));
    assert_eq!(demo.finish().0, 0);
    let summary = capture::msgs(&lines);
    let want: Vec<(String, String, String)> = [
        ("DEBUG", "INSTANCES", "instance looked up"),
        ("WARN", "INSTANCES", "instance is slow to answer"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    assert_eq!(summary, want);
    assert!(
        summary.iter().all(|(_, s, _)| s != "API"),
        "no API lines at warn"
    );
}
