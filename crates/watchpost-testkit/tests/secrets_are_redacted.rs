//! Secret fields, e-mail addresses and card numbers never reach the log.
mod support;

use watchpost_testkit::capture;

#[test]
fn secrets_are_redacted() {
    let mut demo = support::logdemo(&[]);
    let raw = demo.run("secrets");
    assert_eq!(demo.finish().0, 0);
    assert_eq!(raw.len(), 1);
    for secret in [
        "hunter2",
        "sk-live-123",
        "bob@example.com",
        "4111 1111 1111 1111",
    ] {
        assert!(!raw[0].contains(secret), "{secret} leaked: {}", raw[0]);
    }
    let line = capture::parse(&raw[0]);
    assert_eq!(line["password"], "[REDACTED]");
    assert_eq!(line["api_key"], "[REDACTED]");
    assert_eq!(line["note"], "mail [REDACTED:email]");
    assert_eq!(line["msg"], "paid with card [REDACTED:card]");
}
