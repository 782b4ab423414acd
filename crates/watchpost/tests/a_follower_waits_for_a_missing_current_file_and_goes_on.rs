//! A follower that moves on to the current file after a rotation and finds it missing (deleted
//! by hand, or not creatable for a while) keeps trying: once a line is written and the file
//! exists again, the follower reads it — it does not hang on the file it had.
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use watchpost_testkit::tools::TempDir;

fn seq(line: &str) -> u64 {
    let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
    v["seq"].as_u64().unwrap()
}

#[test]
fn a_follower_waits_for_a_missing_current_file_and_goes_on() {
    let dir = TempDir::new("follow-missing");
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 1024;
            rl.max_files = 10;
            // One descriptor: writing r2 closes r1's, so r1's file can really go missing.
            rl.max_open_files = 1;
            rl.flush_interval = Duration::from_millis(20);
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap().clone();
    logs.register("instance", "r1").unwrap();
    logs.register("instance", "r2").unwrap();
    let log = |id: &str, seq: u64| {
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::info!(instance_id = id, seq, padding = "ffffffffffffffff", "line");
        })
    };

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut follower = {
        let _g = rt.enter();
        Box::pin(logs.follow("instance", "r1", 0).unwrap())
    };
    // Until r1 rotates once; its next file then goes missing before the follower gets there.
    let mut written = 0;
    while logs.stats().rotations == 0 {
        log("r1", written);
        written += 1;
    }
    logs.flush();
    log("r2", 0);
    logs.flush();
    std::fs::remove_file(dir.0.join("instance/r1/svc.log")).unwrap();

    rt.block_on(async {
        let wait = Duration::from_secs(10);
        // The rotated file's lines (the line after the rotation was in the deleted file).
        for expected in 0..written - 1 {
            let line = tokio::time::timeout(wait, follower.next())
                .await
                .expect("in time")
                .expect("a line");
            assert_eq!(seq(&line), expected);
        }
        // The follower finds the current file missing, and tries again for a while.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), follower.next())
                .await
                .is_err()
        );
        log("r1", 1000);
        logs.flush();
        let line = tokio::time::timeout(wait, follower.next())
            .await
            .expect("the follower reads the file once it exists")
            .expect("a line");
        assert_eq!(seq(&line), 1000);
    });
}
