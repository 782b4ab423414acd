//! Drivers for this crate's demo programs: `logdemo` (commands on stdin, JSON lines on stdout)
//! and `otlpdemo` (an HTTP service exporting over OTLP). Only integration tests know a program's
//! path (`env!("CARGO_BIN_EXE_logdemo")`), so they pass it in.

use std::io::Write;
use std::net::SocketAddr;
use std::process::{ChildStdin, Stdio};
use std::time::Duration;

use crate::process::{self, Process};

/// A running `logdemo`.
pub struct Demo {
    process: Process,
    stdin: Option<ChildStdin>,
    /// What the program wrote on stderr while running the last command.
    pub last_stderr: Vec<String>,
}

impl Demo {
    /// Spawns the `logdemo` at `program` with `env` on top of a clean environment.
    pub fn spawn(program: &str, env: &[(&str, &str)]) -> Demo {
        let mut cmd = process::command(program);
        cmd.stdin(Stdio::piped());
        cmd.envs(env.iter().copied());
        let mut process = Process::spawn(&mut cmd, "logdemo");
        let stdin = process.child.stdin.take();
        Demo {
            process,
            stdin,
            last_stderr: Vec::new(),
        }
    }

    /// Sends one command without waiting for it.
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends one command, waits until the program says it is done, and returns the lines it
    /// wrote on stdout for it (without the sync line).
    pub fn run(&mut self, command: &str) -> Vec<String> {
        self.send(command);
        let want = format!("done {command}");
        self.last_stderr.clear();
        loop {
            let line = self
                .process
                .stderr
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("logdemo did not finish {command:?}"));
            if line == want {
                break;
            }
            self.last_stderr.push(line);
        }
        let mut out = Vec::new();
        loop {
            let line = self
                .process
                .stdout
                .recv_timeout(Duration::from_secs(20))
                .unwrap_or_else(|_| panic!("no sync line after {command:?}"));
            if is_sync(&line) {
                return out;
            }
            out.push(line);
        }
    }

    /// Closes stdin, waits for exit, returns (exit code, remaining stdout, stderr).
    pub fn finish(mut self) -> (i32, Vec<String>, Vec<String>) {
        drop(self.stdin.take());
        let code = self.process.wait();
        let out = self.process.stdout.iter().filter(|l| !is_sync(l)).collect();
        let err = self.process.stderr.iter().collect();
        (code, out, err)
    }
}

fn is_sync(line: &str) -> bool {
    line.contains("\"msg\":\"sync\"") && line.contains("\"command\":")
}

/// A running `otlpdemo` with its HTTP and metrics addresses.
pub struct Service {
    /// The process, its stdout and the rest of its stderr.
    pub process: Process,
    /// Where it serves HTTP.
    pub http: SocketAddr,
    /// Where it serves `/metrics`.
    pub metrics: SocketAddr,
}

impl Service {
    /// Spawns the `otlpdemo` at `program` with `env` on top of a clean environment, and waits
    /// for its listeners.
    pub fn spawn(program: &str, env: &[(&str, &str)]) -> Service {
        let mut cmd = process::command(program);
        cmd.stdin(Stdio::null());
        cmd.env("METRICS_LISTEN", "127.0.0.1:0");
        cmd.envs(env.iter().copied());
        let process = Process::spawn(&mut cmd, "otlpdemo");
        let [http, metrics] = process.listeners("otlpdemo", ["listening ", "metrics "]);
        Service {
            process,
            http,
            metrics,
        }
    }

    /// Spawns it exporting to `receiver` with every trace kept (ratio 1), then `env`.
    pub fn spawn_exporting_to(
        program: &str,
        receiver: SocketAddr,
        env: &[(&str, &str)],
    ) -> Service {
        let endpoint = receiver.to_string();
        let mut all = vec![
            ("OTEL_ENABLED", "true"),
            ("OTEL_ENDPOINT", endpoint.as_str()),
            ("OTEL_TRACES_SAMPLER_RATIO", "1"),
        ];
        all.extend_from_slice(env);
        Self::spawn(program, &all)
    }

    /// The value of one series on its `/metrics` (see [`process::metric`]).
    pub async fn metric(&self, client: &reqwest::Client, series: &str) -> f64 {
        process::metric(client, self.metrics, series).await
    }

    /// SIGTERM, then wait for exit; returns (exit code, shutdown milliseconds, shutdown ok) as
    /// it reported them on stderr.
    pub fn terminate(mut self) -> (i32, u64, bool) {
        self.process.sigterm();
        let mut shutdown = (0, false);
        while let Ok(line) = self.process.stderr.recv_timeout(Duration::from_secs(60)) {
            if let Some(rest) = line.strip_prefix("shutdown ") {
                let mut it = rest.split(' ');
                shutdown = (it.next().unwrap().parse().unwrap(), it.next() == Some("ok"));
            }
        }
        let code = self.process.wait();
        (code, shutdown.0, shutdown.1)
    }
}
