//! With `compress`, rotated files become `svc.log.N.gz`, and nothing is lost for a reader: `read`
//! and the Server-Sent Events handler return every line, in order, from the gzipped files and
//! the current one; a follower that fell behind while its next files were rotated and gzipped
//! reads them from the `.gz` files and goes on with the current one, every line exactly once
//! and no gap counted.
mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use watchpost::logs::LogQuery;
use watchpost_testkit::tools::TempDir;

const LINES: u64 = 300;

fn seq(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    v["seq"].as_u64().unwrap()
}

#[test]
fn gzipped_rotated_files_are_read_back_and_followed_across_rotation() {
    let dir = TempDir::new("gzip");
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 4096;
            rl.max_files = 100;
            rl.compress = true;
            rl.flush_interval = Duration::from_millis(20);
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap().clone();
    logs.register("instance", "r1").unwrap();
    let log = |from: u64, to: u64| {
        tracing::dispatcher::with_default(&dispatch, || {
            for seq in from..to {
                tracing::info!(
                    instance_id = "r1",
                    seq,
                    padding = "zzzzzzzzzzzzzzzzzzzzzzzz",
                    "line"
                );
            }
        })
    };
    log(0, 10);

    // A follower whose task does not run until the files after its own are rotated and gzipped.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let follower = {
        let _g = rt.enter();
        logs.follow("instance", "r1", usize::MAX).unwrap()
    };
    log(10, LINES);
    logs.flush();
    let rotations = logs.stats().rotations as usize;
    assert!(rotations >= 5, "rotated {rotations} times");
    let base = dir.0.join("instance/r1/svc.log");
    let file = |i: usize, suffix: &str| base.with_file_name(format!("svc.log.{i}{suffix}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(1..=rotations).all(|i| file(i, ".gz").exists() && !file(i, "").exists()) {
        assert!(
            Instant::now() < deadline,
            "rotated files not gzipped in time"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // Read back: every line, in order.
    let read = logs.read("instance", "r1", usize::MAX).unwrap();
    assert_eq!(
        read.iter().map(|l| seq(l)).collect::<Vec<_>>(),
        (0..LINES).collect::<Vec<_>>()
    );
    let tail = logs.read("instance", "r1", 150).unwrap();
    assert_eq!(seq(&tail[0]), LINES - 150);

    rt.block_on(async {
        // Followed: the rest of its own file, the gzipped ones, then the current file, live.
        let mut follower = Box::pin(follower);
        let mut got = Vec::new();
        while got.len() < LINES as usize {
            let line = tokio::time::timeout(Duration::from_secs(20), follower.next())
                .await
                .expect("the follower keeps up")
                .expect("the follower goes on");
            got.push(seq(&line));
        }
        assert_eq!(got, (0..LINES).collect::<Vec<_>>());
        log(LINES, LINES + 1);
        let line = tokio::time::timeout(Duration::from_secs(20), follower.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(seq(&line), LINES);

        // The SSE handler, without follow: the same lines from the same files.
        let response = logs.sse_response(
            "instance",
            "r1",
            None,
            Ok(LogQuery {
                tail: 100_000,
                follow: false,
            }),
        );
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let events: Vec<u64> = String::from_utf8(body.to_vec())
            .unwrap()
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(seq)
            .collect();
        assert_eq!(events, (0..=LINES).collect::<Vec<_>>());
    });
    let stats = logs.stats();
    assert_eq!((stats.follower_gaps, stats.io_errors), (0, 0), "{stats:?}");
}
