//! A child's output is bytes: an invalid UTF-8 byte does not stop the reader (later lines
//! arrive, the instance keeps running), a 10 MB line without a newline is cut and marked, and an
//! exec printing 100 MB answers with 1 MiB per stream, flagged `truncated`, while procman's peak
//! memory grows by less than 32 MB.
mod support;

use serde_json::{json, Value};

/// procman's peak resident memory so far, in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_childs_bytes_never_stop_or_bloat_procman() {
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "error")]);
    let pid = pm.process.child.id();
    let c = reqwest::Client::new();
    let script = "printf 'a\\377b\\n'; head -c 10000000 /dev/zero | tr '\\0' x; echo; echo later; sleep 3005";
    let id = pm.create(&c, "sh", &["-c", script]).await;

    // The app log, once "later" has arrived (the writer's flusher runs every 50 ms).
    let mut log = String::new();
    for _ in 0..200 {
        log = pm
            .text(
                &c,
                &pm.url(&format!("/instances/{id}/logs?source=app&tail=10")),
            )
            .await;
        if log.contains("data: later") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        log.contains("data: later"),
        "later lines arrive: {log:.300}"
    );
    assert!(
        log.contains("data: a\u{fffd}b"),
        "the invalid byte is replaced: {log:.300}"
    );
    let long = log
        .lines()
        .find(|l| l.starts_with("data: xxx"))
        .expect("the long line");
    assert!(long.ends_with("…[truncated]"), "cut and marked");
    assert!(
        long.len() < 70 * 1024,
        "cut at 64 KiB: {} bytes",
        long.len()
    );
    let view = pm.text(&c, &pm.url(&format!("/instances/{id}"))).await;
    let v: Value = serde_json::from_str(&view).unwrap();
    assert_eq!(v["state"], "running", "the instance lives on");

    let before = peak_rss(pid);
    let (status, v) = pm
        .post(
            &c,
            &format!("/instances/{id}/exec"),
            json!({"command": "head", "args": ["-c", "100000000", "/dev/zero"]}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(v["truncated"], true);
    assert_eq!(v["exit_code"], 0);
    assert_eq!(v["stdout"].as_str().unwrap().len(), 1024 * 1024);
    let growth = peak_rss(pid).saturating_sub(before);
    assert!(growth < 32 * 1024 * 1024, "peak RSS grew by {growth} bytes");
    assert_eq!(pm.terminate(), 0);
}
