//! `watchpost console --logs FILE` follows a JSON-lines log file in Watchpost's format from its
//! end: the lines already there are not read; new lines become log records of the service the
//! line names, with their level, subsystem and fields, linked to the trace their `trace_id`
//! names (which was sent over OTLP); the file is followed across a rotation by rename (a line
//! the writer still adds to the old file is read, then the new file from its start) and a
//! truncation; a line that is not JSON is kept as a plain body and counted.

#[path = "support/console.rs"]
mod support;

use std::io::Write as _;
use std::path::Path;

use serde_json::Value;
use support::*;
use watchpost_testkit::tools::TempDir;

fn line(msg: &str, level: &str, trace: Option<&str>) -> String {
    let trace = trace.map_or(String::new(), |t| {
        format!(",\"trace_id\":\"{t}\",\"span_id\":\"{}\"", hex(&span_id(1)))
    });
    format!(
        "{{\"time\":\"2026-11-30T10:00:00.000001Z\",\"level\":\"{level}\",\"msg\":\"{msg}\",\"subsystem\":\"ORDERS\",\"service\":\"shop\",\"version\":\"1.2.3\",\"environment\":\"test\"{trace},\"order_id\":\"o-42\",\"items\":3}}\n"
    )
}

fn append(path: &Path, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

fn bodies(v: &Value) -> Vec<String> {
    let mut b: Vec<String> = v["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"].as_str().unwrap().to_owned())
        .collect();
    b.sort();
    b
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_tails_a_json_log_file_across_rotation_and_links_lines_to_traces() {
    let dir = TempDir::new("console-tail");
    let path = dir.0.join("shop.log");
    append(&path, &line("before the console", "INFO", None));
    let arg = path.to_string_lossy().into_owned();
    let console = tokio::task::spawn_blocking(move || start(&["--logs", &arg]))
        .await
        .unwrap();

    let trace = trace_id(1);
    let t = hex(&trace);
    let t0 = now_ns() - 1_000_000_000;
    grpc_traces(
        console.grpc,
        traces(
            "shop",
            vec![span(
                trace,
                span_id(1),
                None,
                "GET /orders/{id}",
                2,
                t0,
                5,
                vec![],
                None,
            )],
        ),
    )
    .await;
    append(&path, &line("order accepted", "INFO", Some(&t)));
    append(&path, &line("stock is low", "WARN", Some(&t)));

    let (console, logs) = tokio::task::spawn_blocking(move || {
        let path = format!("/api/logs?trace_id={t}");
        let v = console.wait_for(&path, |v| v["logs"].as_array().unwrap().len() == 2);
        (console, v)
    })
    .await
    .unwrap();
    assert_eq!(bodies(&logs), ["order accepted", "stock is low"]);
    let warn = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["body"] == "stock is low")
        .unwrap();
    assert_eq!(warn["level"], "WARN");
    assert_eq!(warn["service"], "shop");
    assert_eq!(warn["subsystem"], "ORDERS");
    assert_eq!(warn["span_id"], hex(&span_id(1)));
    assert_eq!(warn["attributes"]["order_id"], "o-42");
    assert_eq!(warn["attributes"]["items"], 3);
    assert_eq!(warn["resource"]["service.version"], "1.2.3");
    let detail = console.json(&format!("/api/traces/{}", hex(&trace)));
    assert_eq!(
        detail["log_list"].as_array().unwrap().len(),
        2,
        "the trace shows its lines: {detail:#}"
    );

    // Rotation by rename: the writer adds one more line to the old file, then starts the new one.
    let rotated = dir.0.join("shop.log.1");
    std::fs::rename(&path, &rotated).unwrap();
    append(&rotated, &line("last line of the old file", "INFO", None));
    append(&path, &line("first line of the new file", "INFO", None));
    // Truncation, then a line that is not JSON.
    let console = tokio::task::spawn_blocking(move || {
        console.wait_for("/api/logs?text=line%20of%20the", |v| {
            v["logs"].as_array().unwrap().len() == 2
        });
        console
    })
    .await
    .unwrap();
    std::fs::File::create(&path).unwrap();
    append(&path, "thread 'main' panicked at src/main.rs:1:1\n");
    let console = tokio::task::spawn_blocking(move || {
        console.wait_for("/api/logs?text=panicked", |v| {
            v["logs"].as_array().unwrap().len() == 1
        });
        console
    })
    .await
    .unwrap();

    let all = console.json("/api/logs?service=shop");
    assert!(
        !bodies(&all).contains(&"before the console".to_owned()),
        "the file is read from its end: {all:#}"
    );
    let plain = console.json("/api/logs?text=panicked");
    assert_eq!(plain["logs"][0]["service"], "shop", "named after the file");
    assert_eq!(plain["logs"][0]["level"], "INFO");
    let sources = console.json("/api/sources");
    let tail = &sources["logs"][0];
    assert_eq!(tail["json"], 4, "{sources:#}");
    assert_eq!(tail["plain"], 1);
    assert_eq!(tail["rotations"], 1);
    assert_eq!(tail["truncations"], 1);
    assert_eq!(tail["error"], Value::Null);
    tokio::task::spawn_blocking(move || drop(console))
        .await
        .unwrap();
}
