//! A file under the root of a resource not registered here, modified within the last minute, may
//! be appended to by another process (a rolling restart, a second pipeline on the same root):
//! the disk budget never deletes it, even when it alone is over the budget. An idle one (written
//! two hours ago) goes, and a registered resource's own rotated files make room for its writes.
mod support;

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

use watchpost_testkit::tools::TempDir;

fn write_lines(path: &Path, bytes: usize) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let line = format!("{{\"msg\":\"{}\"}}\n", "o".repeat(100));
    std::fs::write(path, line.repeat(bytes / line.len())).unwrap();
}

#[test]
fn an_orphan_file_written_just_now_is_never_evicted() {
    let dir = TempDir::new("live-orphan");
    let live = dir.0.join("instance/other/svc.log");
    write_lines(&live, 80 * 1024);
    let live_bytes = std::fs::metadata(&live).unwrap().len();
    let idle = dir.0.join("instance/idle/svc.log");
    write_lines(&idle, 8 * 1024);
    File::options()
        .append(true)
        .open(&idle)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();

    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 4096;
            rl.max_files = 100;
            rl.max_total_bytes = Some(64 * 1024);
            rl.flush_interval = Duration::from_millis(20);
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap();
    logs.enforce_retention();
    assert!(!idle.exists(), "the idle file goes");
    assert_eq!(std::fs::metadata(&live).unwrap().len(), live_bytes);

    // A registered resource writes 40 KiB: its own rotated files make room, not the live file.
    logs.register("instance", "r1").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..400 {
            tracing::info!(
                instance_id = "r1",
                seq,
                padding = "rrrrrrrrrrrrrrrr",
                "line"
            );
        }
    });
    logs.flush();
    logs.enforce_retention();
    assert_eq!(std::fs::metadata(&live).unwrap().len(), live_bytes);
    let stats = logs.stats();
    assert!(stats.evicted_budget > 1, "{stats:?}");
    assert_eq!((stats.lines, stats.io_errors), (400, 0), "{stats:?}");
}
