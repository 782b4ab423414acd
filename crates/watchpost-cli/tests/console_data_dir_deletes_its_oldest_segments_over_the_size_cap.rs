//! With `--data-max-bytes 256KiB`, the real `watchpost console` receives far more than that: it
//! deletes its oldest segments (counted on `/api/stats` and its `/metrics`), the directory stays
//! under the cap, and a restart replays the newest data only.

#[path = "support/console.rs"]
mod support;

use support::*;

const CAP: u64 = 256 << 10;
const BATCHES: u8 = 40;

fn on_disk(dir: &std::path::Path) -> (u64, usize) {
    let sizes: Vec<u64> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    (sizes.iter().sum(), sizes.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_data_dir_deletes_its_oldest_segments_over_the_size_cap() {
    let dir = std::env::temp_dir().join(format!("watchpost-console-cap-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().unwrap();
    let t0 = now_ns() - 60_000_000_000;
    {
        let console = start(&["--data", data, "--data-max-bytes", "256KiB"]);
        // Each batch: one trace of 50 spans with 300 bytes of attributes each, about 20 KiB.
        for b in 0..BATCHES {
            let spans = (0..50)
                .map(|i| {
                    span(
                        trace_id(b),
                        span_id(i + 1),
                        (i > 0).then(|| span_id(1)),
                        &format!("step {i}"),
                        1,
                        t0 + u64::from(b) * 1_000_000_000,
                        5,
                        vec![kv("payload", &"x".repeat(300))],
                        None,
                    )
                })
                .collect();
            grpc_traces(console.grpc, traces("bulk", spans)).await;
            // One export at a time: none is refused for a full queue.
            console.wait_for("/api/stats", |s| {
                s["received"]["spans"] == (u64::from(b) + 1) * 50
            });
        }
        let stats = console.wait_for("/api/stats", |s| {
            s["data"]["deleted_segments"]["size"].as_u64().unwrap() > 0
        });
        assert!(stats["data"]["bytes"].as_u64().unwrap() <= CAP, "{stats:#}");
        assert_eq!(stats["data"]["max_bytes"], CAP);
        assert_eq!(stats["data"]["not_persisted"]["queue_full"], 0, "{stats:#}");
        // In memory (the budget is far larger) everything is still held.
        assert_eq!(stats["stored"]["spans"], u64::from(BATCHES) * 50);
        let metrics = watchpost_testkit::http::get_text(console.ui, "/metrics");
        let deleted = metrics
            .lines()
            .find(|l| {
                l.starts_with("watchpost_console_data_segments_deleted_total{")
                    && l.contains("reason=\"size\"")
            })
            .unwrap_or_else(|| panic!("no deletion counter in /metrics:\n{metrics}"));
        let n: f64 = deleted.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(n >= 1.0, "{deleted}");
    }
    let (bytes, files) = on_disk(&dir);
    assert!(
        bytes <= CAP,
        "{bytes} bytes on disk in {files} segments, over the cap"
    );
    assert!(files > 1, "the cap deletes whole segments, the newest stay");

    let console = start(&["--data", data, "--data-max-bytes", "256KiB"]);
    let stats = console.json("/api/stats");
    let replayed = stats["data"]["replayed_exports"].as_u64().unwrap();
    assert!(replayed > 0 && replayed < u64::from(BATCHES), "{stats:#}");
    let newest = console.json(&format!("/api/traces/{}", hex(&trace_id(BATCHES - 1))));
    assert_eq!(newest["spans"], 50, "the newest trace is whole");
    let (status, _) = console.get(&format!("/api/traces/{}", hex(&trace_id(0))));
    assert_eq!(status, 404, "the oldest trace was deleted with its segment");
    drop(console);
    let _ = std::fs::remove_dir_all(&dir);
}
