//! The console has no access tokens, so it serves this machine only: the real `watchpost
//! console` refuses to start (exit 2) when `--ui`, `--grpc` or `--http` binds beyond loopback,
//! naming the flag and the address, with a hint.

use std::process::Command;

fn refused(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .arg("console")
        .args(args)
        .output()
        .expect("run watchpost console");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
    stderr
}

#[test]
fn console_refuses_to_listen_beyond_loopback() {
    let loopback = ["--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"];
    let stderr = refused(&[&["--ui", "0.0.0.0:0"][..], &loopback].concat());
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("--ui 0.0.0.0:0") && first.contains("loopback only"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: give a loopback address"), "{stderr}");

    let stderr = refused(&[
        "--ui",
        "127.0.0.1:0",
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "0.0.0.0:0",
    ]);
    assert!(
        stderr.contains("--http 0.0.0.0:0") && stderr.contains("loopback only"),
        "{stderr}"
    );
}
