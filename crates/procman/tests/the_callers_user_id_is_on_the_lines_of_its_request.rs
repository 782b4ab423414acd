//! procman records the caller its gateway names in `x-user-id` as `user_id` on the lines of that
//! request (here its access line) and of no other request; a value that is not 1 to 64 visible
//! ASCII characters is ignored.
mod support;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_callers_user_id_is_on_the_lines_of_its_request() {
    let pm = support::Procman::spawn(&[]);
    let c = reqwest::Client::new();
    pm.drain(Duration::from_millis(200));
    let mut sent = Vec::new();
    for (user, rid) in [
        (Some("alice-1"), "r-alice"),
        (None, "r-nobody"),
        (Some("bob@example.com"), "r-bob"),
        (Some("has space"), "r-space"),
    ] {
        let mut req = c.get(pm.url("/instances")).header("x-request-id", rid);
        if let Some(u) = user {
            req = req.header("x-user-id", u);
        }
        assert_eq!(req.send().await.unwrap().status(), 200);
        sent.push(rid);
    }
    // Poll (the lines come through a background writer) until every request's line is in.
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !sent.iter().all(|rid| {
        lines
            .iter()
            .any(|l: &watchpost_testkit::capture::Line| l["request_id"] == *rid)
    }) {
        assert!(
            std::time::Instant::now() < deadline,
            "lines missing: {lines:#?}"
        );
        lines.extend(pm.drain(Duration::from_millis(100)));
    }
    let user_of = |rid: &str| {
        let l = lines
            .iter()
            .find(|l| l["request_id"] == rid)
            .unwrap_or_else(|| panic!("no line of {rid}: {lines:#?}"));
        l.get("user_id")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    assert_eq!(user_of("r-alice").as_deref(), Some("alice-1"));
    assert_eq!(user_of("r-nobody"), None, "no header, no user");
    assert_eq!(
        user_of("r-bob").as_deref(),
        Some("[REDACTED:email]"),
        "personal data is masked in context fields too"
    );
    assert_eq!(
        user_of("r-space"),
        None,
        "not a visible-ASCII value: ignored"
    );
    assert_eq!(pm.terminate(), 0);
}
