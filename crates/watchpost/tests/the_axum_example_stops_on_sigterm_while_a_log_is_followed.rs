//! `examples/axum_service.rs` stops on SIGTERM even while a client follows an item's log over
//! Server-Sent Events (a stream that never ends on its own): the graceful shutdown is bounded,
//! the follower is cut, the telemetry is flushed and the exit code is 0. Without the bound the
//! example waits for the follower for good; the test then fails on its generous wait.

use std::time::{Duration, Instant};

use watchpost_testkit::capture::parse;
use watchpost_testkit::process::{command, example, Process};
use watchpost_testkit::tools::TempDir;

#[tokio::test]
async fn the_axum_example_stops_on_sigterm_while_a_log_is_followed() {
    let data = TempDir::new("axum-example-follow");
    let mut cmd = command(example(env!("CARGO_MANIFEST_DIR"), "axum_service"));
    cmd.env("LISTEN_ADDR", "127.0.0.1:0")
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("DATA_DIR", &data.0);
    let mut service = Process::spawn(&mut cmd, "axum_service");
    let [api, _metrics] = service.listeners(
        "axum_service",
        ["listening on http://", "metrics on http://"],
    );

    let http = reqwest::Client::new();
    let created = http
        .post(format!("http://{api}/items/42"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    // Follow item 42's log, and read until its first line has arrived: the stream is open.
    let mut follower = http
        .get(format!("http://{api}/items/42/logs?tail=10&follow=true"))
        .send()
        .await
        .unwrap();
    assert_eq!(follower.status(), 200);
    let mut seen = String::new();
    while !seen.contains("data: ") {
        let chunk = tokio::time::timeout(Duration::from_secs(30), follower.chunk())
            .await
            .expect("the follower gets the item's lines")
            .unwrap()
            .expect("the stream stays open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }

    service.sigterm();
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = service.child.try_wait().unwrap() {
            break status.code().unwrap_or(-1);
        }
        if Instant::now() > deadline {
            let _ = service.child.kill();
            panic!("still running a minute after SIGTERM, with a log follower connected");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(code, 0, "a clean exit on SIGTERM");
    drop(follower);
    let lines: Vec<_> = service.stdout.try_iter().map(|l| parse(&l)).collect();
    assert!(
        lines.iter().any(|l| l["msg"] == "shutting down"),
        "the last lines were flushed: {lines:?}"
    );
}
