//! 8 threads × 20 000 lines into one resource whose file rotates dozens of times: every line is in
//! exactly one file, every file is valid JSON lines, and a follower started before the writers
//! receives every line exactly once, in order per writer.
mod support;

use std::collections::HashSet;

use futures_util::StreamExt;
use watchpost_testkit::tools::TempDir;

const WRITERS: u64 = 8;
const LINES: u64 = 20_000;

#[test]
fn resource_lines_survive_concurrent_rotation() {
    let dir = TempDir::new("rotation");
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 512 * 1024;
            rl.max_files = 1000; // keep every rotated file so the test can count lines in all
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap().clone();
    logs.register("instance", "r1").unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let follower = {
        let _g = rt.enter();
        logs.follow("instance", "r1", 0).unwrap()
    };
    let collected = rt.spawn(async move {
        let mut next = vec![0u64; WRITERS as usize];
        let mut n = 0;
        let mut follower = Box::pin(follower);
        while n < WRITERS * LINES {
            let line = follower.next().await.expect("follower ended early");
            let v: serde_json::Value =
                serde_json::from_str(&line).expect("follower got a valid JSON line");
            let (w, seq) = (v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap());
            assert_eq!(
                seq, next[w as usize],
                "writer {w}: out of order or duplicated"
            );
            next[w as usize] += 1;
            n += 1;
        }
        n
    });

    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let dispatch = dispatch.clone();
            s.spawn(move || {
                tracing::dispatcher::with_default(&dispatch, || {
                    let span = tracing::info_span!("writer", instance_id = "r1");
                    let _g = span.enter();
                    for seq in 0..LINES {
                        tracing::info!(
                            writer = w,
                            seq,
                            padding = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                            "line"
                        );
                    }
                })
            });
        }
    });
    logs.flush();
    let received = rt.block_on(collected).unwrap();
    assert_eq!(received, WRITERS * LINES);

    let stats = logs.stats();
    assert!(
        stats.rotations >= 24,
        "rotated only {} times",
        stats.rotations
    );
    assert_eq!(stats.lines, WRITERS * LINES);
    assert_eq!(stats.io_errors, 0);

    // Every line exactly once across the files; every file is whole JSON lines.
    let base = dir.0.join("instance/r1");
    let mut seen = HashSet::new();
    let mut files = 0;
    for entry in std::fs::read_dir(&base).unwrap() {
        let path = entry.unwrap().path();
        files += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{} ends mid-line",
            path.display()
        );
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: invalid JSON line {line:?}: {e}", path.display()));
            assert_eq!(v["instance_id"], "r1");
            let key = (v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap());
            assert!(seen.insert(key), "line {key:?} found twice");
        }
    }
    assert_eq!(seen.len() as u64, WRITERS * LINES, "lines lost");
    assert_eq!(files as u64, stats.rotations + 1);
    // And `read` returns the newest lines in order.
    let last = logs.read("instance", "r1", 3).unwrap();
    assert_eq!(last.len(), 3);
}
