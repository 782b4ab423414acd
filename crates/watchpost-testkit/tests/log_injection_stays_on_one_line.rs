//! A value that tries to forge a second log line stays inside its own line and field.
mod support;

use watchpost_testkit::capture;

#[test]
fn log_injection_stays_on_one_line() {
    let mut demo = support::logdemo(&[]);
    let raw = demo.run("inject");
    assert_eq!(demo.finish().0, 0);
    assert_eq!(raw.len(), 1, "one event, one line: {raw:#?}");
    let line = capture::parse(&raw[0]);
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["name"], "x\"\n{\"level\":\"ERROR\"}");
    assert_eq!(
        line["msg"],
        "created \"\n{\"level\":\"ERROR\",\"msg\":\"forged\"}"
    );
}
