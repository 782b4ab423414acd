//! Spawns the real `procman` binary (through `watchpost_testkit::process`) and talks to it over
//! real sockets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{ChildStdout, Stdio};
use std::time::Duration;

use watchpost_testkit::capture::Line;
use watchpost_testkit::process::{self, Process};
use watchpost_testkit::tools::TempDir;

/// A running procman on ephemeral ports, with a data directory of its own.
pub struct Procman {
    pub process: Process,
    pub api: SocketAddr,
    pub metrics: SocketAddr,
    pub data_dir: TempDir,
}

impl Procman {
    pub fn spawn(env: &[(&str, &str)]) -> Procman {
        Self::spawn_with(env, false).0
    }

    /// Spawns procman and hands back its stdout unread (`drain` finds nothing): a log consumer
    /// that does not read.
    pub fn spawn_holding_stdout(env: &[(&str, &str)]) -> (Procman, ChildStdout) {
        let (p, out) = Self::spawn_with(env, true);
        (p, out.expect("stdout held"))
    }

    fn spawn_with(env: &[(&str, &str)], hold_stdout: bool) -> (Procman, Option<ChildStdout>) {
        let data_dir = TempDir::new("procman");
        let mut cmd = process::command(env!("CARGO_BIN_EXE_procman"));
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir.0)
            .stdin(Stdio::null())
            .env("METRICS_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied());
        let (process, held) = if hold_stdout {
            let (p, out) = Process::spawn_holding_stdout(&mut cmd, "procman");
            (p, Some(out))
        } else {
            (Process::spawn(&mut cmd, "procman"), None)
        };
        let [api, metrics] = process.listeners(
            "procman",
            [
                "procman: listening on http://",
                "procman: metrics on http://",
            ],
        );
        let procman = Procman {
            process,
            api,
            metrics,
            data_dir,
        };
        (procman, held)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// Log lines written since the last call (waiting `settle` for stragglers).
    pub fn drain(&self, settle: Duration) -> Vec<Line> {
        self.process.drain_json(settle)
    }

    /// SIGTERM, then wait for exit; returns the exit code (the data directory goes on drop).
    pub fn terminate(mut self) -> i32 {
        self.process.sigterm();
        self.process.wait()
    }
}
