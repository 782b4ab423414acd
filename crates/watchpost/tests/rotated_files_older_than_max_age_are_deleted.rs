//! `max_age` deletes: rotated files whose last line is older than it (here: their modification
//! times set two hours back, with a one-hour `max_age`) are deleted with every older one of
//! their stream, and so are the old files of a resource left by an earlier run; newer files,
//! the current file and files the layout could not have made stay. Each deletion is counted, on
//! `stats()` and on `/metrics`, and reading returns what is left.
mod support;

use std::fs::File;
use std::path::Path;
use std::time::{Duration, SystemTime};

use watchpost_testkit::tools::TempDir;

fn backdate(path: &Path, by: Duration) {
    let f = File::options().append(true).open(path).unwrap();
    f.set_modified(SystemTime::now() - by).unwrap();
}

#[test]
fn rotated_files_older_than_max_age_are_deleted() {
    let dir = TempDir::new("maxage");
    let root = &dir.0;
    // Left by an earlier run: an old resource and a recent one, and a file that is not a log.
    for (id, files) in [
        ("gone-old", &["svc.log", "svc.log.1", "svc.log.2.gz"][..]),
        ("gone-new", &["svc.log"][..]),
    ] {
        std::fs::create_dir_all(root.join("instance").join(id)).unwrap();
        for f in files {
            let p = root.join("instance").join(id).join(f);
            std::fs::write(&p, "{\"msg\":\"old\"}\n").unwrap();
            if id == "gone-old" {
                backdate(&p, Duration::from_secs(7200));
            }
        }
    }
    std::fs::create_dir_all(root.join("instance")).unwrap();
    let notes = root.join("instance/notes.txt");
    std::fs::write(&notes, "not a log").unwrap();
    backdate(&notes, Duration::from_secs(7200));

    let (telemetry, dispatch) = support::resource_pipeline(
        root,
        |rl| {
            rl.max_file_bytes = 1024;
            rl.max_files = 100;
            rl.max_age = Some(Duration::from_secs(3600));
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap();
    logs.register("instance", "r1").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        for seq in 0..40 {
            tracing::info!(
                instance_id = "r1",
                seq,
                padding = "xxxxxxxxxxxxxxxx",
                "line"
            );
        }
    });
    logs.flush();
    let base = root.join("instance/r1/svc.log");
    let rotated = |i: usize| base.with_file_name(format!("svc.log.{i}"));
    let stats = logs.stats();
    assert!(stats.rotations >= 5, "{stats:?}");
    let before = logs.read("instance", "r1", usize::MAX).unwrap();
    assert_eq!(before.len(), 40);

    // The third rotated file and every older one are two hours old; the two newest are not.
    for i in 3..=stats.rotations as usize {
        backdate(&rotated(i), Duration::from_secs(7200));
    }
    logs.enforce_retention();

    assert!(
        rotated(1).exists() && rotated(2).exists(),
        "newer files kept"
    );
    assert!(!rotated(3).exists(), "an old rotated file is deleted");
    let left = std::fs::read_dir(base.parent().unwrap()).unwrap().count();
    assert_eq!(left, 3, "the current file and the two newest rotated files");
    assert!(
        !root.join("instance/gone-old").exists(),
        "an old resource of an earlier run is deleted, with its directory"
    );
    assert!(root.join("instance/gone-new/svc.log").exists());
    assert!(
        notes.exists(),
        "a file the layout could not have made is never touched"
    );

    let deleted = (stats.rotations - 2) + 3;
    let stats = logs.stats();
    assert_eq!(stats.evicted_age, deleted, "{stats:?}");
    assert_eq!(stats.evicted_budget, 0);
    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    assert!(
        text.contains(&format!(
            "svc_resource_log_evictions_total{{reason=\"age\"}} {deleted}"
        )),
        "{text}"
    );

    // Reading returns the lines of what is left, in order, and the disk total agrees.
    let after = logs.read("instance", "r1", usize::MAX).unwrap();
    assert!(!after.is_empty() && after.len() < before.len());
    assert_eq!(after[..], before[before.len() - after.len()..]);
    let on_disk: u64 = walk(root)
        .iter()
        .filter(|p| p.extension().is_none_or(|e| e != "txt"))
        .map(|p| p.metadata().unwrap().len())
        .sum();
    assert_eq!(logs.disk_bytes(), on_disk);
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
