//! `--telemetry floor`, the overhead benchmark's lower bound, does what the benchmark says it
//! does: one access line per request on stdout, with exactly the keys of Watchpost's access line
//! for the same request (procman's `instance_id` included), and the request id it writes is the
//! one in the response's `x-request-id` — so its cost is the cost of that work, not of less.
mod support;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use watchpost_testkit::process::{self, Process};
use watchpost_testkit::tools::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_floor_mode_writes_one_line_per_request() {
    let data_dir = TempDir::new("procman-floor");
    let mut cmd = process::command(env!("CARGO_BIN_EXE_procman"));
    cmd.args([
        "--listen",
        "127.0.0.1:0",
        "--telemetry",
        "floor",
        "--data-dir",
    ])
    .arg(&data_dir.0)
    .stdin(Stdio::null());
    let mut pm = Process::spawn(&mut cmd, "procman");
    let [api] = pm.listeners("procman", ["procman: listening on http://"]);
    let c = reqwest::Client::new();

    let created = c
        .post(format!("http://{api}/instances"))
        .body(r#"{"command":"sleep","args":["60"]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201);
    let instance = support::json_of(created).await;
    let instance = instance["id"].as_str().unwrap().to_string();
    pm.drain_json(Duration::from_millis(100));

    let mut ids = Vec::new();
    let one = format!("/instances/{instance}");
    for path in ["/instances", "/instances/nope", "/no/such/route", &one] {
        let r = c.get(format!("http://{api}{path}")).send().await.unwrap();
        let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
        ids.push((r.status().as_u16(), id, r.bytes().await.unwrap().len()));
    }
    pm.sigterm();
    assert_eq!(pm.wait(), 0, "procman exits cleanly");
    let lines = pm.drain_json(Duration::from_millis(200));

    assert_eq!(lines.len(), 4, "one line per request: {lines:?}");
    let templates = [
        "/instances",
        "/instances/{id}",
        watchpost::http::UNMATCHED,
        "/instances/{id}",
    ];
    for ((line, (status, id, bytes)), template) in lines.iter().zip(&ids).zip(templates) {
        assert_eq!(line["request_id"], id.as_str(), "{line:?}");
        assert_eq!(id.len(), 32, "{id}");
        assert_eq!(line["status"], *status);
        assert_eq!(line["bytes"], *bytes, "{line:?}");
        assert_eq!(line["path"], template);
        assert_eq!(line["method"], "GET");
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["msg"], "request handled");
        assert_eq!(line["complete"], true);
        assert!(line["remote_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"));
        for (key, len) in [("trace_id", 32), ("span_id", 16)] {
            let v = line[key].as_str().unwrap();
            assert_eq!(v.len(), len, "{key} {v}");
            assert!(v.bytes().all(|b| b.is_ascii_hexdigit()), "{key} {v}");
        }
        assert!(line["duration_ms"].as_f64().unwrap() >= 0.0);
    }
    assert_ne!(lines[0]["trace_id"], lines[1]["trace_id"]);
    assert_eq!(lines[3]["instance_id"], instance.as_str());
    assert!(
        !lines[1].contains_key("instance_id"),
        "no instance was found: {:?}",
        lines[1]
    );

    // The same request to procman with Watchpost: its access line has the same keys.
    let wp = support::Procman::spawn(&[]);
    let id = wp.create(&c, "sleep", &["60"]).await;
    wp.drain(Duration::from_millis(100));
    let r = c
        .get(wp.url(&format!("/instances/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let theirs = wp.drain(Duration::from_millis(300));
    let theirs = theirs
        .iter()
        .find(|l| l["msg"] == "request handled" && l["path"] == "/instances/{id}")
        .unwrap_or_else(|| panic!("Watchpost's access line: {theirs:?}"));
    let keys = |l: &watchpost_testkit::capture::Line| l.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(keys(&lines[3]), keys(theirs));
    assert_eq!(wp.terminate(), 0);
}
