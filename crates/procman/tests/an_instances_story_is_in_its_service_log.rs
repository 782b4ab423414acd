//! At the default level, an instance's service log tells its story: the access lines of the
//! requests about it (create, get, standby, restore, exec), each with its trace id, and the one
//! INFO line of its exit with the exit code — and still about one INFO line per request.
mod support;

use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instances_story_is_in_its_service_log() {
    let pm = support::Procman::spawn(&[]);
    let c = reqwest::Client::new();
    let id = pm.create(&c, "sh", &["-c", "sleep 1; exit 3"]).await;
    let base = format!("/instances/{id}");
    c.get(pm.url(&base)).send().await.unwrap();
    let (status, _) = pm.post(&c, &format!("{base}/standby"), Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = pm.post(&c, &format!("{base}/restore"), Value::Null).await;
    assert_eq!(status, 200);
    let (status, _) = pm
        .post(&c, &format!("{base}/exec"), json!({"command": "true"}))
        .await;
    assert_eq!(status, 200);

    // The instance exits by itself after a second (the reaper looks twice a second).
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
    assert_eq!(pm.terminate(), 0);
}
