//! With a token, the `x-user-id` a caller sends becomes the request's `user_id` only when the
//! token check accepts the request: a caller without the token cannot put a name of its choice
//! on the refusal's access line.
mod support;

use std::time::Duration;

const TOKEN: &str = "correct-horse-battery-staple";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_caller_cannot_name_a_user() {
    let pm = support::Procman::spawn(&[("PROCMAN_TOKEN", TOKEN)]);
    let c = reqwest::Client::new();
    pm.drain(Duration::from_millis(200));
    for (auth, rid, status) in [(Some(TOKEN), "r-in", 200), (None, "r-out", 401)] {
        let mut req = c
            .get(pm.url("/instances"))
            .header("x-request-id", rid)
            .header("x-user-id", "alice-1");
        if let Some(t) = auth {
            req = req.bearer_auth(t);
        }
        assert_eq!(req.send().await.unwrap().status(), status);
    }
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let access = |lines: &[watchpost_testkit::capture::Line], rid: &str| {
        lines
            .iter()
            .find(|l| l["request_id"] == rid && l["msg"] == "request handled")
            .cloned()
    };
    while access(&lines, "r-in").is_none() || access(&lines, "r-out").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "lines missing: {lines:#?}"
        );
        lines.extend(pm.drain(Duration::from_millis(100)));
    }
    let accepted = access(&lines, "r-in").unwrap();
    assert_eq!(accepted["user_id"], "alice-1", "{accepted:?}");
    let refused = access(&lines, "r-out").unwrap();
    assert_eq!(refused["status"], 401);
    assert!(
        refused.get("user_id").is_none(),
        "a refused caller named a user: {refused:?}"
    );
}
