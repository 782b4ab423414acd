//! After a restart, registering a resource adopts the files its earlier instance left: they are
//! a live resource's files again, so when the disk budget must delete, the files of an idle
//! resource (not registered) go first, even if the registered resource's are older; and its
//! earlier lines read back.
mod support;

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

use watchpost_testkit::tools::TempDir;

fn left_by_an_earlier_run(path: &Path, tag: &str, age: Duration) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let line = format!(
        "{{\"msg\":\"{tag}\",\"padding\":\"{}\"}}\n",
        "p".repeat(100)
    );
    std::fs::write(path, line.repeat(24 * 1024 / line.len())).unwrap();
    File::options()
        .append(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - age)
        .unwrap();
}

#[test]
fn a_re_registered_resource_keeps_its_files_over_idle_ones() {
    let dir = TempDir::new("readopt");
    let mine = dir.0.join("instance/r1/svc.log");
    let idle = dir.0.join("instance/idle/svc.log");
    left_by_an_earlier_run(&mine, "before the restart", Duration::from_secs(3 * 3600));
    left_by_an_earlier_run(&idle, "idle", Duration::from_secs(2 * 3600));
    let mine_bytes = std::fs::metadata(&mine).unwrap().len();

    let (telemetry, _dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 4096;
            rl.max_total_bytes = Some(32 * 1024);
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap();
    logs.register("instance", "r1").unwrap();
    assert_eq!(
        logs.disk_bytes(),
        mine_bytes,
        "its files are counted as its own"
    );
    logs.enforce_retention();

    assert!(!idle.exists(), "the idle resource's file goes");
    assert_eq!(std::fs::metadata(&mine).unwrap().len(), mine_bytes);
    assert_eq!(logs.stats().evicted_budget, 1);
    assert_eq!(logs.disk_bytes(), mine_bytes);
    let lines = logs.read("instance", "r1", 1).unwrap();
    assert!(lines[0].contains("before the restart"), "{lines:?}");
}
