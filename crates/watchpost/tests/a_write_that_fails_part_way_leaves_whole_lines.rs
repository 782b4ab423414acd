//! A write that fails part way (here: the file-size limit, `RLIMIT_FSIZE`, reached mid-batch, as
//! a full disk would) is cut back to the line boundary where it started, in the main log file
//! and in a resource file: the lines of the failed write are lost (and counted), but the next
//! write does not continue a half line — every line in the file stays valid JSON.
mod support;

use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use watchpost_testkit::tools::TempDir;

/// Writes to regular files beyond `bytes` fail from now on (`None`: no limit).
fn limit_file_size(bytes: Option<u64>) {
    // SAFETY: plain libc calls with valid arguments; SIGXFSZ ignored so that a write beyond the
    // limit fails with EFBIG instead of killing the process.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let mut lim = std::mem::zeroed::<libc::rlimit>();
        assert_eq!(libc::getrlimit(libc::RLIMIT_FSIZE, &mut lim), 0);
        lim.rlim_cur = bytes.map_or(lim.rlim_max, |b| b as libc::rlim_t);
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
    }
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.ends_with('\n'), "{text:?}");
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect()
}

fn line(seq: u64) -> String {
    format!("{{\"seq\":{seq},\"padding\":\"{}\"}}\n", "w".repeat(80))
}

#[test]
fn a_write_that_fails_part_way_leaves_whole_lines() {
    let dir = TempDir::new("partial");

    // The main log file.
    let path = dir.0.join("svc.log");
    let mut file = watchpost::logs::LogFile::new(watchpost::config::LogFileConfig::new(&path));
    let batch = |from: u64| (from..from + 10).map(line).collect::<String>();
    file.write_all(batch(0).as_bytes()).unwrap();
    let size = std::fs::metadata(&path).unwrap().len();
    limit_file_size(Some(size + 300));
    assert!(file.write_all(batch(10).as_bytes()).is_err());
    limit_file_size(None);
    file.write_all(batch(20).as_bytes()).unwrap();
    let seqs: Vec<u64> = lines(&path)
        .iter()
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..10).chain(20..30).collect::<Vec<_>>());

    // A resource file.
    let (telemetry, _dispatch) = support::resource_pipeline(
        &dir.0.join("resources"),
        |rl| rl.flush_interval = Duration::from_secs(3600),
        std::io::sink,
    );
    let logs = telemetry.resource_logs().unwrap();
    logs.register("instance", "r1").unwrap();
    let append = |from: u64| {
        for seq in from..from + 10 {
            logs.append("instance", "r1", "app", line(seq).as_bytes())
                .unwrap();
        }
        logs.flush();
    };
    append(0);
    let path = dir.0.join("resources/instance/r1/app.log");
    let size = std::fs::metadata(&path).unwrap().len();
    limit_file_size(Some(size + 300));
    append(10);
    limit_file_size(None);
    append(20);
    let seqs: Vec<u64> = lines(&path)
        .iter()
        .map(|v| v["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(seqs, (0..10).chain(20..30).collect::<Vec<_>>());
    let stats = logs.stats();
    assert_eq!(stats.io_errors, 1, "{stats:?}");
    assert_eq!(logs.disk_bytes(), std::fs::metadata(&path).unwrap().len());
}
