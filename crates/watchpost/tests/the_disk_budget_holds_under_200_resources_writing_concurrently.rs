//! 200 resources written concurrently by 16 threads, 16 MB in all, under a 1 MiB disk budget
//! with 16 KiB files. While the writers run, the library's count of bytes on disk (never below
//! the disk) stays within the budget plus one write-out per writing thread (writers never wait
//! for each other's evictions; each frees at least what it adds). Each time the writers pause
//! (every 50 lines per resource, buffers written out), a scan of the directory finds at most the
//! budget plus one file; once the background thread has settled, the count equals the scan.
//! Every line is accepted, the evictions are counted on `stats()` and `/metrics` and reported
//! once (a WARN on the main log, at most once a minute), and what is left reads back in order.
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use watchpost_testkit::{capture::Capture, tools::TempDir};

const RESOURCES: usize = 200;
const THREADS: usize = 16;
const LINES_PER_RESOURCE: usize = 400;
/// The writers pause this often (in lines per resource) for a scan of the directory.
const ROUND: usize = 50;
const FILE: u64 = 16 * 1024;
const BUDGET: u64 = 1024 * 1024;

#[test]
fn the_disk_budget_holds_under_200_resources_writing_concurrently() {
    let dir = TempDir::new("budget");
    let main_log = Capture::default();
    let (telemetry, dispatch) = support::resource_pipeline(
        &dir.0,
        |rl| {
            rl.max_file_bytes = FILE;
            rl.max_files = 5;
            rl.max_total_bytes = Some(BUDGET);
            rl.max_open_files = 64;
            rl.flush_interval = Duration::from_millis(20);
        },
        main_log.clone(),
    );
    let logs = telemetry.resource_logs().unwrap();
    let ids: Vec<String> = (0..RESOURCES).map(|i| format!("r{i}")).collect();
    for id in &ids {
        logs.register("instance", id).unwrap();
    }

    let done = AtomicBool::new(false);
    // The writers and the scanning (main) thread meet here twice a round: once the writers are
    // done with it, and once the scan is.
    let pause = Barrier::new(THREADS + 1);
    let (walked, counted) = std::thread::scope(|s| {
        let monitor = s.spawn(|| {
            let mut counted = 0;
            while !done.load(Ordering::Relaxed) {
                counted = counted.max(logs.disk_bytes());
                std::thread::sleep(Duration::from_millis(2));
            }
            counted
        });
        let writers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (dispatch, ids, pause) = (&dispatch, &ids, &pause);
                s.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        for seq in 0..LINES_PER_RESOURCE {
                            for id in ids.iter().skip(t).step_by(THREADS) {
                                tracing::info!(
                                    instance_id = id.as_str(),
                                    seq,
                                    padding = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                                    "line"
                                );
                            }
                            if seq % ROUND == ROUND - 1 {
                                pause.wait();
                                pause.wait();
                            }
                        }
                    })
                })
            })
            .collect();
        // The monitor stops even if a writer panics.
        struct Stop<'a>(&'a AtomicBool);
        impl Drop for Stop<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let stop = Stop(&done);
        // At each pause: no writer writes, every buffered line is written out, so from then on
        // the disk only shrinks (the background thread may still delete): a scan finds at most
        // what the count said before it, and that is the disk at one instant.
        let mut walked = 0;
        for round in 0..LINES_PER_RESOURCE / ROUND {
            pause.wait();
            logs.flush();
            let before = logs.disk_bytes();
            let scan = bytes_on_disk(&dir.0);
            assert!(
                scan <= before,
                "round {round}: {scan} on disk, {before} counted"
            );
            walked = walked.max(scan);
            pause.wait();
        }
        for w in writers {
            w.join().unwrap();
        }
        logs.flush();
        drop(stop);
        (walked, monitor.join().unwrap())
    });

    // Settled: once the background thread has nothing left to evict, the count is the disk.
    let deadline = Instant::now() + Duration::from_secs(10);
    let on_disk = loop {
        let before = logs.disk_bytes();
        let scan = bytes_on_disk(&dir.0);
        if scan == before && logs.disk_bytes() == before {
            break scan;
        }
        assert!(
            Instant::now() < deadline,
            "the count ({before}) never settled on the disk ({scan})"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stats = logs.stats();
    eprintln!("at most {counted} counted, {walked} walked; at the end {on_disk}, {stats:?}");
    assert_eq!(stats.lines, (RESOURCES * LINES_PER_RESOURCE) as u64);
    assert_eq!(stats.io_errors, 0, "{stats:?}");
    assert!(stats.rotations > 500, "{stats:?}");
    // Measured on disk, whenever no write-out was in flight: the budget plus one file.
    assert!(walked <= BUDGET + FILE, "{walked} bytes on disk at a pause");
    assert!(
        on_disk <= BUDGET + FILE,
        "{on_disk} bytes on disk at the end"
    );
    // The count is never below what is on disk (bytes are counted before they are written and
    // uncounted after they are deleted), and unlike a scan of the directory it is read at one
    // instant: it bounds the disk while the writers run, by the budget plus one write-out (at
    // most a file here) per thread writing at that moment (the writers and the flusher).
    assert!(
        counted <= BUDGET + (THREADS as u64 + 1) * FILE,
        "{counted} bytes counted while writing"
    );
    assert!(
        stats.evicted_budget > 0 && stats.evicted_age == 0,
        "{stats:?}"
    );
    let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
    let line = format!(
        "svc_resource_log_evictions_total{{reason=\"budget\"}} {}",
        stats.evicted_budget
    );
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("svc_resource_log_disk_bytes "), "{text}");
    // What is left reads back in order: the newest lines, with gaps where files were deleted.
    let mut kept = 0;
    for id in &ids {
        let seqs: Vec<u64> = logs
            .read("instance", id, usize::MAX)
            .unwrap()
            .iter()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{id}: {seqs:?}");
        kept += seqs.len();
    }
    assert!(kept > 0);

    // Reported on the main log: one WARN (at most one a minute), not into a resource file.
    let deadline = Instant::now() + Duration::from_secs(10);
    let reports = loop {
        let reports: Vec<_> = main_log
            .lines()
            .into_iter()
            .filter(|l| l.contains("deleted to stay within their disk budget"))
            .map(|l| watchpost_testkit::capture::parse(&l))
            .collect();
        if !reports.is_empty() || Instant::now() > deadline {
            break reports;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["level"], "WARN");
    assert!(reports[0]["evicted_budget"].as_u64().unwrap() > 0);
    assert!(reports[0].get("instance_id").is_none());
}

/// Bytes of every file under `dir` (gzip work files aside: there are none here).
fn bytes_on_disk(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => bytes_on_disk(&e.path()),
            Ok(_) => e.metadata().map_or(0, |m| m.len()),
            Err(_) => 0,
        })
        .sum()
}
