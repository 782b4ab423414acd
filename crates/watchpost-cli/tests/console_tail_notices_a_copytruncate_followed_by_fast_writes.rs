//! `watchpost console --logs FILE` notices a file rewritten from its start (`copytruncate`, then
//! the service writing on) even when, by its next look, the file has grown past the offset it had
//! read to: its first bytes changed, so it reads it again from its start; every line of the new
//! content is stored, none cut in half, and the truncation is counted.

#[path = "support/console.rs"]
mod support;

use std::io::Write as _;
use std::path::Path;

use support::*;
use watchpost_testkit::tools::TempDir;

fn line(msg: &str) -> String {
    format!("{{\"msg\":\"{msg}\",\"time\":\"2026-11-30T10:00:00Z\",\"level\":\"INFO\",\"service\":\"shop\"}}\n")
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_tail_notices_a_copytruncate_followed_by_fast_writes() {
    let dir = TempDir::new("console-copytruncate");
    let path = dir.0.join("shop.log");
    append(&path, "");
    let arg = path.to_string_lossy().into_owned();
    let console = tokio::task::spawn_blocking(move || start(&["--logs", &arg]))
        .await
        .unwrap();
    let before: String = (0..3).map(|i| line(&format!("before {i}"))).collect();
    append(&path, &before);
    let p = path.clone();
    tokio::task::spawn_blocking(move || {
        console.wait_for("/api/sources", |v| v["logs"][0]["json"] == 3);
        // Truncated and rewritten in one go, longer than what was read: by the follower's next
        // look the file is larger than its offset.
        let after: String = (0..20).map(|i| line(&format!("after {i}"))).collect();
        assert!(after.len() > before.len());
        std::fs::write(&p, after).unwrap();
        let v = console.wait_for("/api/sources", |v| {
            v["logs"][0]["json"].as_u64() >= Some(23)
        });
        assert_eq!(v["logs"][0]["json"], 23, "{v:#}");
        assert_eq!(
            v["logs"][0]["plain"], 0,
            "no line read from the middle: {v:#}"
        );
        assert_eq!(v["logs"][0]["truncations"], 1, "{v:#}");
        let logs = console.json("/api/logs?service=shop&limit=100");
        let mut bodies: Vec<&str> = logs["logs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|l| l["body"].as_str())
            .filter(|b| b.starts_with("after"))
            .collect();
        bodies.sort();
        bodies.dedup();
        assert_eq!(bodies.len(), 20, "{logs:#}");
    })
    .await
    .unwrap();
}
