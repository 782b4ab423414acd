//! Spawns the real `procman` binary (through `watchpost_testkit::process`) and talks to it over
//! real sockets.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::process::{ChildStdout, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
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

    /// POSTs `body` (JSON) to `path` on the API; the status and the answer parsed as JSON.
    pub async fn post(&self, c: &reqwest::Client, path: &str, body: Value) -> (u16, Value) {
        let r = c
            .post(self.url(path))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), json_of(r).await)
    }

    /// Creates an instance of `command args…`; its id.
    pub async fn create(&self, c: &reqwest::Client, command: &str, args: &[&str]) -> String {
        let (status, v) = self
            .post(c, "/instances", json!({"command": command, "args": args}))
            .await;
        assert_eq!(status, 201, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    /// GETs `url` (any listener); the body as text.
    pub async fn text(&self, c: &reqwest::Client, url: &str) -> String {
        c.get(url).send().await.unwrap().text().await.unwrap()
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

/// A response's body as JSON (a JSON string holding the text if it is not JSON).
pub async fn json_of(r: reqwest::Response) -> Value {
    let text = r.text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}
