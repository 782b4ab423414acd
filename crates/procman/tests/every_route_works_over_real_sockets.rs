//! Every route of the reference service, over real sockets: create (and its input errors), list,
//! get, standby/restore checked against the OS process state, exec (and its timeout), the
//! per-instance log stream (a line the child prints after the stream opened arrives), delete,
//! and a graceful shutdown that stops the children.
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use watchpost_testkit::process;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_works_over_real_sockets() {
    let pm = support::Procman::spawn(&[]);
    let c = reqwest::Client::new();
    let post = |path: &str, body: Value| c.post(pm.url(path)).body(body.to_string()).send();

    // Input errors: clear JSON errors with the right status.
    for (body, status, needle) in [
        (json!({"name": "x"}), 400, "command is required"),
        (
            json!({"command": "sleep", "colour": "red"}),
            400,
            "unknown field",
        ),
        (
            json!({"name": "n".repeat(64), "command": "sleep"}),
            400,
            "1 to 63",
        ),
        (json!({"command": "/no/such/binary"}), 422, "was not found"),
    ] {
        let r = post("/instances", body.clone()).await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{body}");
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert!(
            v["message"].as_str().unwrap().contains(needle),
            "{body}: {v}"
        );
    }
    let r = c
        .post(pm.url("/instances"))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Create a child that prints a line every 100 ms.
    let r = post(
        "/instances",
        json!({"name": "ticker", "command": "sh", "args": ["-c", "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let created: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    for key in ["id", "name", "state", "pid", "created_at"] {
        assert!(created.get(key).is_some(), "{key} in {created}");
    }
    assert_eq!(created["state"], "running");
    let id = created["id"].as_str().unwrap().to_string();
    let pid = created["pid"].as_u64().unwrap();

    let list: Value = serde_json::from_str(
        &c.get(pm.url("/instances"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    let r = c
        .get(pm.url(&format!("/instances/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c.get(pm.url("/instances/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/json");

    // Standby / restore, verified with the OS.
    let r = post(&format!("/instances/{id}/standby"), json!(null))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        process::proc_state_when(pid, |s| s == Some('T')),
        Some('T'),
        "SIGSTOP stops the process"
    );
    let r = post(&format!("/instances/{id}/standby"), json!(null))
        .await
        .unwrap();
    assert_eq!(r.status(), 409, "already in standby");
    let r = post(&format!("/instances/{id}/restore"), json!(null))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_ne!(
        process::proc_state_when(pid, |s| s != Some('T')),
        Some('T'),
        "SIGCONT resumes it"
    );

    // Exec, and an exec that times out.
    let r = post(
        &format!("/instances/{id}/exec"),
        json!({"command": "echo", "args": ["hello"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(
        (v["exit_code"].as_i64(), v["stdout"].as_str()),
        (Some(0), Some("hello\n"))
    );
    let r = post(
        &format!("/instances/{id}/exec"),
        json!({"command": "sleep", "args": ["10"], "timeout_ms": 200}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 504);
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["error"], "exec_timeout");

    // Per-instance logs: follow the app output; a line printed after the stream opened arrives.
    let mut stream = c
        .get(pm.url(&format!(
            "/instances/{id}/logs?source=app&tail=0&follow=true"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let opened_at_tick = {
        let lines = c
            .get(pm.url(&format!("/instances/{id}/logs?source=app&tail=1")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let last = lines
            .lines()
            .find_map(|l| l.strip_prefix("data: tick-"))
            .unwrap_or("0")
            .to_string();
        last.parse::<u64>().unwrap()
    };
    let got = tokio::time::timeout(Duration::from_secs(10), async {
        let mut seen = String::new();
        while let Some(chunk) = stream.chunk().await.unwrap() {
            seen.push_str(&String::from_utf8_lossy(&chunk));
            let newer = seen
                .lines()
                .filter_map(|l| l.strip_prefix("data: tick-"))
                .filter_map(|n| n.parse::<u64>().ok())
                .any(|n| n > opened_at_tick);
            if newer {
                return true;
            }
        }
        false
    })
    .await
    .unwrap_or(false);
    assert!(got, "no line printed after the stream opened arrived");
    drop(stream);
    // The service's own lines about this instance (the fan-out), with trace ids.
    let service_log = c
        .get(pm.url(&format!("/instances/{id}/logs?source=service&tail=50")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let service_lines: Vec<Value> = service_log
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        service_lines
            .iter()
            .any(|l| l["msg"] == "exec timed out, its process group killed"
                && l["trace_id"].is_string()),
        "{service_log}"
    );
    let r = c
        .get(pm.url(&format!("/instances/{id}/logs?source=nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // Delete: the process is gone, its logs too.
    let r = c
        .delete(pm.url(&format!("/instances/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        matches!(
            process::proc_state_when(pid, |s| matches!(s, None | Some('Z'))),
            None | Some('Z')
        ),
        "child still running"
    );
    assert_eq!(
        c.get(pm.url(&format!("/instances/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(pm.url(&format!("/instances/{id}/logs")))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );

    // Graceful shutdown stops the remaining children and exits 0.
    let r = post("/instances", json!({"command": "sleep", "args": ["300"]}))
        .await
        .unwrap();
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let last_pid = v["pid"].as_u64().unwrap();
    let code = tokio::task::spawn_blocking(move || pm.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(
        matches!(
            process::proc_state_when(last_pid, |s| matches!(s, None | Some('Z'))),
            None | Some('Z')
        ),
        "children stopped on shutdown"
    );
}
