//! `watchpost console --logs FILE` follows regular files only: given a FIFO (whose opening
//! would wait for a writer, forever), the real command refuses to start at once, exit 2, naming
//! the flag, the file and what it is, with a hint; it never hangs.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use watchpost_testkit::tools::TempDir;

#[test]
fn console_refuses_a_fifo_as_a_logs_file_naming_it() {
    let dir = TempDir::new("console-fifo");
    let fifo = dir.0.join("app.log");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(made.success(), "mkfifo {}", fifo.display());

    let mut child = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args([
            "console",
            "--grpc",
            "127.0.0.1:0",
            "--http",
            "127.0.0.1:0",
            "--ui",
            "127.0.0.1:0",
            "--logs",
        ])
        .arg(&fifo)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run watchpost console");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = status.unwrap_or_else(|| panic!("the console hung on a FIFO (killed): {stderr}"));
    assert_eq!(status.code(), Some(2), "{stderr}");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains(&format!("--logs {}", fifo.display())) && first.contains("FIFO"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: give a regular file"), "{stderr}");
}
