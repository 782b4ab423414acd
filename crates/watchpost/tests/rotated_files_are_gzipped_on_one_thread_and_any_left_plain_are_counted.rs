//! With `compress`, hundreds of rotations across 40 resources are gzipped by one background
//! thread (never one thread per rotation, never on the thread that logs), fed by a bounded
//! queue: every rotated file ends up gzipped, or plain and counted in `compress_skipped`.
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use watchpost_testkit::tools::TempDir;

const RESOURCES: usize = 40;
const THREADS: usize = 4;

/// Threads of this process named `watchpost-gzip` right now.
fn gzip_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .flatten()
                .filter(|t| {
                    std::fs::read_to_string(t.path().join("comm"))
                        .is_ok_and(|c| c.trim_end() == "watchpost-gzip")
                })
                .count()
        })
        .unwrap_or(0)
}

/// (gzipped, plain, in progress) rotated files under `dir`.
fn rotated(dir: &Path) -> (usize, usize, usize) {
    let mut counts = (0, 0, 0);
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        if e.file_type().unwrap().is_dir() {
            let (a, b, c) = rotated(&e.path());
            counts = (counts.0 + a, counts.1 + b, counts.2 + c);
            continue;
        }
        let name = e.file_name().into_string().unwrap();
        if name.ends_with(".gz.tmp") {
            counts.2 += 1;
        } else if name.ends_with(".gz") {
            counts.0 += 1;
        } else if !name.ends_with(".log") {
            counts.1 += 1;
        }
    }
    counts
}

#[test]
fn rotated_files_are_gzipped_on_one_thread_and_any_left_plain_are_counted() {
    let dir = TempDir::new("gzip-one-thread");
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = 1024;
            rl.max_files = 1000;
            rl.compress = true;
            rl.flush_interval = Duration::from_millis(20);
        },
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap();
    let ids: Vec<String> = (0..RESOURCES).map(|i| format!("r{i}")).collect();
    for id in &ids {
        logs.register("instance", id).unwrap();
    }
    let done = AtomicBool::new(false);
    let most = std::thread::scope(|s| {
        let monitor = s.spawn(|| {
            let mut most = 0;
            while !done.load(Ordering::Relaxed) {
                most = most.max(gzip_threads());
                std::thread::sleep(Duration::from_millis(1));
            }
            most
        });
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (dispatch, ids) = (&dispatch, &ids);
                s.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        for seq in 0..100 {
                            for id in ids.iter().skip(t).step_by(THREADS) {
                                tracing::info!(
                                    instance_id = id.as_str(),
                                    seq,
                                    padding = "gggggggggggggggggggggggggggggggggggggggg",
                                    "line"
                                );
                            }
                        }
                    })
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
        logs.flush();
        done.store(true, Ordering::Relaxed);
        monitor.join().unwrap()
    });
    assert_eq!(most, 1, "gzip threads at once");

    let stats = logs.stats();
    assert!(stats.rotations >= 200, "{stats:?}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let (gz, plain) = loop {
        let (gz, plain, busy) = rotated(&dir.0);
        let skipped = logs.stats().compress_skipped as usize;
        if busy == 0 && plain == skipped {
            break (gz, plain);
        }
        assert!(
            Instant::now() < deadline,
            "{gz} gzipped, {plain} plain ({skipped} skipped), {busy} in progress"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!((gz + plain) as u64, stats.rotations, "{stats:?}");
    assert_eq!(logs.stats().io_errors, 0);
}
