//! SIGTERM ends procman within `SHUTDOWN_TIMEOUT` whatever holds it: a log reader that stopped
//! reading, an open follow stream, a 600 s exec and 20 running instances; nothing it started is
//! left running.
mod support;

use std::time::Duration;

use serde_json::json;
use watchpost_testkit::process;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_procman_within_its_deadline() {
    let (mut pm, stdout) = support::Procman::spawn_holding_stdout(&[
        ("LOG_LEVEL", "debug"),
        ("SHUTDOWN_TIMEOUT", "3000"),
    ]);
    let c = reqwest::Client::new();
    let mut first = String::new();
    for _ in 0..20 {
        first = pm.create(&c, "sleep", &["3006"]).await;
    }
    assert_eq!(process::running("sleep 3006").len(), 20);
    // A follow stream that stays open, and an exec that would run for 600 s.
    let follow = c
        .get(pm.url(&format!("/instances/{first}/logs?follow=true")))
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status(), 200);
    let exec = tokio::spawn(
        c.post(pm.url(&format!("/instances/{first}/exec")))
            .body(json!({"command": "sleep", "args": ["3609"], "timeout_ms": 600000}).to_string())
            .send(),
    );
    // Fill the stalled stdout: many DEBUG lines nobody reads.
    for _ in 0..300 {
        c.get(pm.url(&format!("/instances/{first}")))
            .send()
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    pm.process.sigterm();
    let pid = pm.process.child.id();
    let mut exited = None;
    for _ in 0..160 {
        if let Some(status) = pm.process.child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = exited.unwrap_or_else(|| {
        // SAFETY: killing the child this test spawned, so the test does not leave it behind.
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        panic!("procman still running 8 s after SIGTERM with a 3 s deadline")
    });
    assert_eq!(
        status.code(),
        Some(0),
        "a clean exit within the deadline: {status:?}"
    );
    drop(stdout);
    drop(follow);
    let _ = exec.await;
    assert_eq!(
        process::running("sleep 3006").len(),
        0,
        "instances left running"
    );
    assert_eq!(
        process::running("sleep 3609").len(),
        0,
        "the exec left running"
    );
}
