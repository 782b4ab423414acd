//! A resource file on a full disk (here: the file is `/dev/full`, so every write fails with
//! ENOSPC) never panics or blocks the application: the failures are counted, reported once as a
//! WARN on the main log (not into the resource file), and the main log keeps working.
mod support;

use std::time::{Duration, Instant};

use watchpost_testkit::{capture::Capture, tools::TempDir};

#[test]
fn a_full_disk_is_counted_and_reported_not_fatal() {
    if !std::path::Path::new("/dev/full").exists() {
        eprintln!("SKIPPED: /dev/full is not available on this system");
        return;
    }
    let dir = TempDir::new("diskfull");
    let capture = Capture::default();
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| rl.flush_interval = Duration::from_millis(20),
        capture.clone(),
    );
    let logs = telemetry.resource_logs().unwrap();
    logs.register("instance", "full-1").unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.0.join("instance/full-1/svc.log")).unwrap();

    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..5000 {
            tracing::info!(
                instance_id = "full-1",
                i,
                padding = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                "to a full disk"
            );
        }
    });
    logs.flush();
    let deadline = Instant::now() + Duration::from_secs(10);
    let warns = loop {
        let warns: Vec<_> = capture
            .json()
            .into_iter()
            .filter(|l| {
                l["level"] == "WARN"
                    && l["msg"]
                        .as_str()
                        .unwrap()
                        .contains("per-resource log files")
            })
            .collect();
        if !warns.is_empty() || Instant::now() > deadline {
            break warns;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stats = logs.stats();
    assert!(stats.io_errors >= 1, "{stats:?}");
    assert_eq!(warns.len(), 1, "one WARN, rate-limited: {warns:?}");
    assert!(
        warns[0]["error"]
            .as_str()
            .unwrap()
            .contains("No space left"),
        "{:?}",
        warns[0]
    );
    assert!(
        warns[0].get("instance_id").is_none(),
        "the report must not recurse into the resource"
    );
    // The main log got every event.
    let main = capture.json();
    assert_eq!(
        main.iter().filter(|l| l["msg"] == "to a full disk").count(),
        5000
    );
}
