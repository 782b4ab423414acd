//! Instances and execs run in process groups of their own: deleting 500 instances of a shell that
//! forks, and timing out 50 execs that fork, leaves no process of theirs behind, and procman's
//! descriptors return to their baseline (the forked children no longer hold its pipes).
mod support;

use serde_json::{json, Value};
use watchpost_testkit::process;

fn descriptors(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_process_or_descriptor_outlives_its_instance() {
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "error")]);
    let pid = pm.process.child.id();
    let c = reqwest::Client::new();
    let post = |path: String, body: Value| c.post(pm.url(&path)).body(body.to_string()).send();
    c.get(pm.url("/healthz")).send().await.unwrap();
    let baseline = descriptors(pid);

    let mut ids = Vec::new();
    for _ in 0..500 {
        let r = post(
            "/instances".into(),
            json!({"command": "sh", "args": ["-c", "echo hi; sleep 3001"]}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        ids.push(v["id"].as_str().unwrap().to_string());
    }
    let exec_on = ids[0].clone();
    let mut timeouts = 0;
    for _ in 0..50 {
        let r = post(
            format!("/instances/{exec_on}/exec"),
            json!({"command": "sh", "args": ["-c", "sleep 3002 & sleep 3003"], "timeout_ms": 200}),
        )
        .await
        .unwrap();
        timeouts += usize::from(r.status() == 504);
    }
    assert_eq!(timeouts, 50, "every forking exec timed out");
    assert!(
        !process::running("sleep 3001").is_empty(),
        "the instances' forked children were running"
    );
    for id in &ids {
        let r = c
            .delete(pm.url(&format!("/instances/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204, "{id}");
    }

    for cmd in ["sleep 3001", "sleep 3002", "sleep 3003"] {
        let left = process::running(cmd);
        assert!(
            left.is_empty(),
            "{} `{cmd}` left running: {left:?}",
            left.len()
        );
    }
    let after = descriptors(pid);
    assert!(
        after <= baseline + 4,
        "procman's descriptors grew from {baseline} to {after}"
    );
    assert_eq!(pm.terminate(), 0);
}
