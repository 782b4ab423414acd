//! Spawns the real `procman` binary and talks to it over real sockets.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Procman {
    pub child: Child,
    pub api: SocketAddr,
    pub metrics: SocketAddr,
    pub stdout: mpsc::Receiver<String>,
    pub data_dir: std::path::PathBuf,
}

fn lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

impl Procman {
    pub fn spawn(env: &[(&str, &str)]) -> Procman {
        Self::spawn_with(env, true).0
    }

    /// Spawns procman and hands back its stdout unread (`Procman::stdout` stays empty): a log
    /// consumer that does not read.
    pub fn spawn_holding_stdout(env: &[(&str, &str)]) -> (Procman, std::process::ChildStdout) {
        let (p, out) = Self::spawn_with(env, false);
        (p, out.expect("stdout held"))
    }

    fn spawn_with(
        env: &[(&str, &str)],
        read_stdout: bool,
    ) -> (Procman, Option<std::process::ChildStdout>) {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let data_dir =
            std::env::temp_dir().join(format!("procman-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data_dir);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_procman"));
        cmd.args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, _) in std::env::vars() {
            if k.starts_with("LOG_LEVEL")
                || k.starts_with("OTEL_")
                || k == "ENV"
                || k == "METRICS_LISTEN"
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("METRICS_LISTEN", "127.0.0.1:0")
            .envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn procman");
        let (stdout, held) = if read_stdout {
            (lines(child.stdout.take().unwrap()), None)
        } else {
            (mpsc::channel().1, child.stdout.take())
        };
        let stderr = lines(child.stderr.take().unwrap());
        let (mut api, mut metrics) = (None, None);
        while api.is_none() || metrics.is_none() {
            let line = stderr
                .recv_timeout(Duration::from_secs(30))
                .expect("procman start");
            if let Some(a) = line.strip_prefix("procman: listening on http://") {
                api = Some(a.parse().unwrap());
            } else if let Some(a) = line.strip_prefix("procman: metrics on http://") {
                metrics = Some(a.trim_end_matches("/metrics").parse().unwrap());
            }
        }
        std::thread::spawn(move || for _ in stderr.iter() {});
        (
            Procman {
                child,
                api: api.unwrap(),
                metrics: metrics.unwrap(),
                stdout,
                data_dir,
            },
            held,
        )
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.api)
    }

    /// Log lines written since the last call (waiting `settle` for stragglers).
    pub fn drain(&self, settle: Duration) -> Vec<serde_json::Map<String, serde_json::Value>> {
        std::thread::sleep(settle);
        self.stdout
            .try_iter()
            .map(|l| match serde_json::from_str(&l) {
                Ok(serde_json::Value::Object(m)) => m,
                _ => panic!("not a JSON line: {l:?}"),
            })
            .collect()
    }

    pub fn terminate(mut self) -> i32 {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let code = self.child.wait().unwrap().code().unwrap_or(-1);
        let _ = std::fs::remove_dir_all(&self.data_dir);
        code
    }
}

/// The process state letter from /proc (R, S, T for stopped, Z, …), if the process exists.
pub fn proc_state(pid: u64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}
