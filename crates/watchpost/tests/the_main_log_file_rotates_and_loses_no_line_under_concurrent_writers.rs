//! `LOG_OUTPUT=file:PATH` with the rotation variables: 4 threads log 20 000 lines each into the
//! main log file, which rotates dozens of times and gzips its rotated files; every line is in
//! exactly one file (plain or gzipped), whole, no file is over the size limit, and nothing is
//! counted as lost.
use std::collections::HashSet;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use watchpost_testkit::tools::TempDir;

const WRITERS: u64 = 4;
const LINES: u64 = 20_000;
const MAX_FILE: u64 = 256 * 1024;

#[test]
fn the_main_log_file_rotates_and_loses_no_line_under_concurrent_writers() {
    let dir = TempDir::new("mainlog");
    let path = dir.0.join("svc.log");
    let config = watchpost::Config::builder("svc")
        .env_vars([
            ("LOG_OUTPUT", format!("file:{}", path.display())),
            ("LOG_MAX_FILE_BYTES", "256KiB".into()),
            ("LOG_MAX_FILES", "1000".into()),
            ("LOG_COMPRESS", "true".into()),
        ])
        .build()
        .unwrap();
    // The default writer follows the configuration: the file, through the background writer.
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config).into_dispatch();
    std::thread::scope(|s| {
        for w in 0..WRITERS {
            let (dispatch, telemetry) = (&dispatch, &telemetry);
            s.spawn(move || {
                tracing::dispatcher::with_default(dispatch, || {
                    for seq in 0..LINES {
                        tracing::info!(
                            writer = w,
                            seq,
                            padding = "pppppppppppppppppppppppp",
                            "line"
                        );
                        // Keep within the writer's buffer: this test is about rotation, not about
                        // a full buffer (which drops and counts).
                        if seq % 500 == 499 {
                            telemetry.force_flush(Duration::from_secs(30));
                        }
                    }
                })
            });
        }
    });
    telemetry.shutdown().unwrap();
    assert_eq!(telemetry.self_stats().log_write_errors, 0);

    // Wait for the gzip threads: no work file left, one file per rotated index.
    let deadline = Instant::now() + Duration::from_secs(30);
    let files = loop {
        let files = files_of(&dir.0);
        let busy = files
            .iter()
            .any(|p| p.to_string_lossy().ends_with(".gz.tmp"))
            || files
                .iter()
                .any(|p| p.extension().is_some_and(|e| e != "gz" && e != "log"));
        if !busy || Instant::now() > deadline {
            break files;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let rotated = files
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "gz"))
        .count();
    assert!(rotated >= 20, "{rotated} rotated files: {files:?}");
    assert_eq!(
        files.len(),
        rotated + 1,
        "all rotated files gzipped: {files:?}"
    );

    let mut seen = HashSet::new();
    for f in &files {
        let mut text = String::new();
        let raw = std::fs::File::open(f).unwrap();
        if f.extension().is_some_and(|e| e == "gz") {
            flate2::read::GzDecoder::new(raw)
                .read_to_string(&mut text)
                .unwrap();
        } else {
            std::io::BufReader::new(raw)
                .read_to_string(&mut text)
                .unwrap();
        }
        assert!(
            text.len() as u64 <= MAX_FILE,
            "{} holds {} bytes",
            f.display(),
            text.len()
        );
        assert!(
            text.is_empty() || text.ends_with('\n'),
            "{} ends mid-line",
            f.display()
        );
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("{}: {line:?}: {e}", f.display()));
            let key = (v["writer"].as_u64().unwrap(), v["seq"].as_u64().unwrap());
            assert!(seen.insert(key), "{key:?} twice");
        }
    }
    assert_eq!(seen.len() as u64, WRITERS * LINES, "lines lost");
}

fn files_of(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}
