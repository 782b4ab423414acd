//! Files of a registered resource that its stream does not track — rotated files beyond
//! `max_files` (lowered since an earlier run), a half-written gzip a killed process left, and the
//! gzipped twin of a rotated file (a crash between the gzip's rename and the plain file's
//! deletion) — are counted against the disk budget and, being the oldest, are the first it
//! deletes; the stream's own files stay, and the count then equals the disk.
mod support;

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

use watchpost_testkit::tools::TempDir;

fn file(path: &Path, bytes: usize, minutes_ago: u64) {
    std::fs::write(path, "s".repeat(bytes - 1) + "\n").unwrap();
    File::options()
        .append(true)
        .open(path)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(60 * minutes_ago))
        .unwrap();
}

fn bytes_on_disk(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| match e.file_type().unwrap().is_dir() {
            true => bytes_on_disk(&e.path()),
            false => e.metadata().unwrap().len(),
        })
        .sum()
}

#[test]
fn stray_files_of_a_registered_resource_are_counted_and_evicted_first() {
    let dir = TempDir::new("strays");
    let r1 = dir.0.join("instance/r1");
    std::fs::create_dir_all(&r1).unwrap();
    let name = |n: &str| r1.join(n);
    // The stream's own: the current file and `svc.log.1` … `svc.log.5`, 1 KiB each, the newest.
    file(&name("svc.log"), 100, 0);
    for i in 1..=5 {
        file(&name(&format!("svc.log.{i}")), 1024, i);
    }
    // Strays, 2 KiB each and older (an earlier run kept 10 files).
    let strays: Vec<String> = (6..=10)
        .map(|i| format!("svc.log.{i}"))
        .chain(["svc.log.0.7.gz.tmp".into(), "svc.log.2.gz".into()])
        .collect();
    for (k, s) in strays.iter().enumerate() {
        file(&name(s), 2048, 20 + k as u64);
    }

    let (telemetry, _dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 4096;
            rl.max_files = 5;
            rl.max_total_bytes = Some(7680);
            rl.max_age = Some(Duration::from_secs(3600));
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap();
    logs.register("instance", "r1").unwrap();
    logs.enforce_retention();

    for s in &strays {
        assert!(!name(s).exists(), "{s} is deleted");
    }
    for own in ["svc.log", "svc.log.1", "svc.log.2", "svc.log.5"] {
        assert!(name(own).exists(), "{own} is kept");
    }
    let stats = logs.stats();
    assert_eq!(stats.evicted_budget, strays.len() as u64, "{stats:?}");
    assert_eq!(stats.evicted_age, 0, "{stats:?}");
    assert_eq!(logs.disk_bytes(), bytes_on_disk(&dir.0));
    assert_eq!(logs.disk_bytes(), 100 + 5 * 1024);
}
