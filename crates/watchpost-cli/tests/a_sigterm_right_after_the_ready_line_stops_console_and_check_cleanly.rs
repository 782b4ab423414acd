//! A supervisor may stop a program the moment it says it is up. `watchpost console` and
//! `watchpost check` listen for SIGTERM before they print their listeners, so a SIGTERM sent
//! right after that line is a clean stop (console: exit 0; check: its report and exit code), not
//! the signal's default action (killed, no report). The race once failed a clean CI run.

#[path = "support/console.rs"]
mod support;

use std::time::Duration;

use watchpost_testkit::process::{command, Process};

const ROUNDS: usize = 5;

/// SIGTERM straight from this process (not through `kill(1)`, which would add milliseconds).
fn sigterm(p: &Process) {
    // SAFETY: signals the child this test spawned and has not waited for yet.
    unsafe { libc::kill(p.child.id() as i32, libc::SIGTERM) };
}

#[test]
fn a_sigterm_right_after_the_ready_line_stops_console_and_check_cleanly() {
    for _ in 0..ROUNDS {
        // Dropping the console waits for it and asserts a clean exit (code 0).
        let console = support::start(&[]);
        sigterm(&console.process);
        drop(console);
    }
    for round in 0..ROUNDS {
        let mut check = Process::spawn(
            command(env!("CARGO_BIN_EXE_watchpost")).args([
                "check",
                "--otlp",
                "127.0.0.1:0",
                "--ready-line",
                "--grace",
                "0s",
                "--format",
                "json",
            ]),
            "watchpost check",
        );
        let ready = check
            .stderr
            .recv_timeout(Duration::from_secs(30))
            .expect("watchpost check says where it listens");
        assert!(ready.starts_with("watchpost: listening "), "{ready}");
        sigterm(&check);
        let code = check.wait();
        let report: String = check.stdout.iter().collect::<Vec<_>>().join("\n");
        assert!(
            code == 0 || code == 1,
            "round {round}: stopped by the signal, not by the check (exit {code}); report: {report}"
        );
        let report: serde_json::Value = serde_json::from_str(&report)
            .unwrap_or_else(|e| panic!("round {round}: no JSON report ({e}): {report}"));
        assert!(report["summary"].is_object(), "{report:#}");
    }
}
