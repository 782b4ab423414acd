//! The real `watchpost console --data DIR` writes what it receives to DIR (created 0700); stopped
//! and started again on the same DIR, it answers with the same trace and log records, and says
//! what it replayed.

#[path = "support/console.rs"]
mod support;

use std::os::unix::fs::PermissionsExt as _;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_keeps_its_data_across_a_restart_with_a_data_dir() {
    let dir =
        std::env::temp_dir().join(format!("watchpost-console-restart-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let t0 = now_ns() - 5_000_000_000;
    let trace = trace_id(1);
    {
        let console = start(&["--data", data_arg]);
        let spans = vec![
            span(
                trace,
                span_id(1),
                None,
                "GET /orders/{id}",
                2,
                t0,
                30,
                vec![],
                None,
            ),
            span(
                trace,
                span_id(2),
                Some(span_id(1)),
                "SELECT orders",
                3,
                t0 + 1_000_000,
                10,
                vec![],
                None,
            ),
        ];
        grpc_traces(console.grpc, traces("orders", spans)).await;
        let status = post_protobuf(
            console.http,
            "/v1/logs",
            &logs(
                "orders",
                vec![
                    log(
                        t0 + 2_000_000,
                        9,
                        "order read",
                        Some((trace, span_id(2))),
                        vec![],
                    ),
                    log(
                        t0 + 3_000_000,
                        17,
                        "order failed",
                        Some((trace, span_id(1))),
                        vec![],
                    ),
                ],
            ),
        )
        .await;
        assert_eq!(status, 200);
        console.wait_for("/api/stats", |s| {
            s["stored"]["spans"] == 2 && s["stored"]["logs"] == 2
        });
        let stats = console.json("/api/stats");
        assert_eq!(stats["data"]["enabled"], true, "{stats:#}");
        assert_eq!(stats["data"]["replayed_exports"], 0, "{stats:#}");
        // Stopped here (SIGTERM, exit 0): what waits is written before the exit.
    }
    let mode = std::fs::metadata(&data).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700, "the data directory is private");
    let mut segments: Vec<String> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    // The lock file a console holds on the directory while it runs (one console per --data).
    let lock = segments.iter().position(|n| n == ".lock");
    assert!(lock.is_some(), "{segments:?}");
    segments.remove(lock.unwrap());
    assert!(
        !segments.is_empty()
            && segments
                .iter()
                .all(|n| n.starts_with("segment-") && n.ends_with(".otlp")),
        "{segments:?}"
    );

    let console = start(&["--data", data_arg]);
    let stats = console.json("/api/stats");
    assert_eq!(stats["stored"]["spans"], 2, "{stats:#}");
    assert_eq!(stats["stored"]["logs"], 2, "{stats:#}");
    assert_eq!(stats["data"]["replayed_exports"], 2, "{stats:#}");
    let detail = console.json(&format!("/api/traces/{}", hex(&trace)));
    let names: Vec<&str> = detail["span_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["GET /orders/{id}", "SELECT orders"]);
    let bodies: Vec<&str> = detail["log_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["order read", "order failed"]);
    let errors = console.json("/api/logs?level=error");
    assert_eq!(errors["logs"][0]["body"], "order failed", "{errors:#}");
    drop(console);
    let _ = std::fs::remove_dir_all(&dir);
}
