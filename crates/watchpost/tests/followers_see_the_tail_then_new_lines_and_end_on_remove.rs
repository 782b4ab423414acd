//! A follower gets the last N lines, then each new line once, through a rotation; removing the
//! resource ends the stream and deletes its files.
mod support;

use std::time::Duration;

use futures_util::StreamExt;
use watchpost_testkit::tools::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_see_the_tail_then_new_lines_and_end_on_remove() {
    let dir = TempDir::new("follow");
    // Small files, so the lines below rotate several times; enough of them kept that the
    // follower, which reads only after they are all written, loses none.
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 4096;
            rl.max_files = 20;
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap().clone();
    logs.register("instance", "f1").unwrap();
    let emit = |from: u32, to: u32| {
        tracing::dispatcher::with_default(&dispatch, || {
            for i in from..to {
                tracing::info!(instance_id = "f1", i, "n");
            }
        })
    };
    emit(0, 10);
    let mut stream = Box::pin(logs.follow("instance", "f1", 3).unwrap());
    let mut got = Vec::new();
    emit(10, 200); // several rotations at 4 KiB
    while got.len() < 193 {
        let line = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .expect("a line in time")
            .expect("stream open");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        got.push(v["i"].as_u64().unwrap());
    }
    assert_eq!(got, (7..200).collect::<Vec<u64>>());
    assert!(logs.stats().rotations >= 3);

    logs.remove("instance", "f1").unwrap();
    let end = tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("ends in time");
    assert!(
        end.is_none(),
        "the stream ends when the resource is removed"
    );
    assert!(!dir.0.join("instance/f1").exists());
    emit(200, 201); // no longer registered: counted, not written
    assert_eq!(logs.stats().unregistered, 1);
}
