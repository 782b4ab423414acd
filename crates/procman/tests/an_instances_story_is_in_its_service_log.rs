//! At the default level, an instance's service log tells its story: the access lines of the
//! requests about it (create, get, standby, restore, exec), each with its trace id, and the one
//! INFO line of its exit with the exit code (or the signal that ended it) — and still about one
//! INFO line per request.
mod support;

use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instances_story_is_in_its_service_log() {
    let pm = support::Procman::spawn(&[]);
    let c = reqwest::Client::new();
    // The instance exits (code 3) once the test has made its requests and creates `go`.
    let go = watchpost_testkit::tools::TempDir::new("story");
    let go_file = go.0.join("go");
    let script = format!(
        "while [ ! -e {} ]; do sleep 0.05; done; exit 3",
        go_file.display()
    );
    let id = pm.create(&c, "sh", &["-c", &script]).await;
    let base = format!("/instances/{id}");
    let r = c.get(pm.url(&base)).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = pm.post(&c, &format!("{base}/standby"), Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = pm.post(&c, &format!("{base}/restore"), Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = pm
        .post(&c, &format!("{base}/exec"), json!({"command": "true"}))
        .await;
    assert_eq!(status, 200);

    std::fs::write(&go_file, b"").unwrap();
    // The reaper looks twice a second.
    let mut lines: Vec<Value> = Vec::new();
    for _ in 0..100 {
        let log = pm
            .text(&c, &pm.url(&format!("{base}/logs?source=service&tail=100")))
            .await;
        lines = log
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.iter().any(|l| l["msg"] == "instance exited") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let info: Vec<&Value> = lines.iter().filter(|l| l["level"] == "INFO").collect();
    let access = |method: &str, path: &str| {
        info.iter().any(|l| {
            l["msg"] == "request handled"
                && l["method"] == method
                && l["path"] == path
                && l["instance_id"] == id.as_str()
                && l["trace_id"].as_str().is_some_and(|t| t.len() == 32)
        })
    };
    for (method, path) in [
        ("POST", "/instances"),
        ("GET", "/instances/{id}"),
        ("POST", "/instances/{id}/standby"),
        ("POST", "/instances/{id}/restore"),
        ("POST", "/instances/{id}/exec"),
    ] {
        assert!(
            access(method, path),
            "no access line for {method} {path} in {lines:#?}"
        );
    }
    let exited = info
        .iter()
        .find(|l| l["msg"] == "instance exited")
        .unwrap_or_else(|| panic!("no exit line in {lines:#?}"));
    assert_eq!(exited["exit_code"], 3);
    assert_eq!(exited["instance_id"], id.as_str());
    // About one INFO line per request: five requests, one exit (the log stream requests are
    // not about the instance's life and carry no id until their handler ran).
    assert!(info.len() <= 12, "{} INFO lines: {info:#?}", info.len());

    // An instance ended by a signal says which.
    let killed = pm.create(&c, "sh", &["-c", "kill -9 $$"]).await;
    let mut exit_line = None;
    for _ in 0..100 {
        let log = pm
            .text(
                &c,
                &pm.url(&format!("/instances/{killed}/logs?source=service&tail=20")),
            )
            .await;
        exit_line = log
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .find(|l| l["msg"] == "instance exited");
        if exit_line.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let exit_line = exit_line.expect("the killed instance's exit line");
    assert_eq!(exit_line["signal"], 9, "{exit_line}");
    assert!(
        exit_line.get("exit_code").is_none_or(|c| c.is_null()),
        "{exit_line}"
    );
    assert_eq!(pm.terminate(), 0);
}
