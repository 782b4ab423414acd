//! `watchpost console --data DIR` on a disk that refuses writes (here: a file size limit,
//! RLIMIT_FSIZE, so every write past it fails with EFBIG as a full disk fails with ENOSPC) keeps
//! storing in memory and counts every export it could not write
//! (`not_persisted.write_error`), and tries a new segment at most once per 10 s: it does not
//! leave an empty segment file behind for every export.

#[path = "support/console.rs"]
mod support;

use std::os::unix::process::CommandExt as _;
use std::path::Path;

use support::*;
use watchpost_testkit::tools::TempDir;

/// A console whose files may grow to `limit` bytes at most.
fn start_limited(data: &Path, limit: u64) -> Console {
    let mut cmd = console_command(&["--data", data.to_str().unwrap()]);
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // Ignored, EFBIG is returned instead of the signal (the disposition survives exec).
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rl = libc::rlimit {
                rlim_cur: limit,
                rlim_max: limit,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rl) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    start_command(&mut cmd)
}

fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

async fn send_three(console: &Console) {
    for n in 1..=3u8 {
        let spans = vec![span(
            trace_id(n),
            span_id(1),
            None,
            "GET /",
            2,
            now_ns(),
            5,
            vec![],
            None,
        )];
        grpc_traces(console.grpc, traces("orders", spans)).await;
        console.wait_for("/api/stats", |s| s["stored"]["spans"] == u64::from(n));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_counts_exports_a_full_disk_refuses_and_leaves_no_empty_segments() {
    let dir = TempDir::new("console-full-disk");

    // No byte can be written: a segment's header fails; its file is deleted.
    let data = dir.0.join("none");
    let console = start_limited(&data, 0);
    send_three(&console).await;
    let stats = console.wait_for("/api/stats", |s| {
        s["data"]["not_persisted"]["write_error"] == 3
    });
    assert_eq!(stats["data"]["segments"], 0, "{stats:#}");
    drop(console);
    assert_eq!(files(&data), [".lock"], "no segment file left behind");

    // The header fits, the records do not: one segment, and each export lost counted.
    let data = dir.0.join("header");
    let console = start_limited(&data, 8);
    send_three(&console).await;
    let stats = console.wait_for("/api/stats", |s| {
        s["data"]["not_persisted"]["write_error"] == 3
    });
    assert_eq!(
        stats["stored"]["spans"], 3,
        "kept in memory all the same: {stats:#}"
    );
    drop(console);
    let names = files(&data);
    assert_eq!(names.len(), 2, "the lock and one segment: {names:?}");
}
