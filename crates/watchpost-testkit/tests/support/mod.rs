//! Spawns `logdemo` and collects its output.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Map, Value};

pub struct Demo {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    /// What the program wrote on stderr while running the last command.
    pub last_stderr: Vec<String>,
}

impl Demo {
    pub fn spawn(env: &[(&str, &str)]) -> Demo {
        let mut cmd = command(env!("CARGO_BIN_EXE_logdemo"));
        cmd.stdin(Stdio::piped());
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn logdemo");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let stdin = child.stdin.take();
        Demo {
            child,
            stdin,
            stdout,
            stderr,
            last_stderr: Vec::new(),
        }
    }

    /// Sends one command without waiting for it.
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
    }

    /// Sends one command and waits until the program says it is done.
    pub fn run(&mut self, command: &str) -> Vec<String> {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
        let want = format!("done {command}");
        self.last_stderr.clear();
        loop {
            let line = self
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
        let status = self.child.wait().unwrap();
        let out = self.stdout.iter().filter(|l| !is_sync(l)).collect();
        let err = self.stderr.iter().collect();
        (status.code().unwrap_or(-1), out, err)
    }
}

/// A command for one of the demo binaries: piped stdout/stderr, and none of the test runner's
/// own Watchpost variables (a developer's `LOG_LEVEL` must not change a test).
fn command(bin: &str) -> Command {
    let mut cmd = Command::new(bin);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    for (k, _) in std::env::vars() {
        if k.starts_with("LOG_LEVEL")
            || k.starts_with("OTEL_")
            || k == "ENV"
            || k == "METRICS_LISTEN"
        {
            cmd.env_remove(k);
        }
    }
    cmd
}

fn is_sync(line: &str) -> bool {
    line.contains("\"msg\":\"sync\"") && line.contains("\"command\":")
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

/// Parses a line as one JSON object, failing the test with the line if it is not.
pub fn parse(line: &str) -> Map<String, Value> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => m,
        other => panic!("not a JSON object line: {line:?} ({other:?})"),
    }
}

pub fn parse_all(lines: &[String]) -> Vec<Map<String, Value>> {
    lines.iter().map(|l| parse(l)).collect()
}

pub fn msgs(lines: &[Map<String, Value>]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .map(|l| {
            (
                l["level"].as_str().unwrap().to_string(),
                l["subsystem"].as_str().unwrap().to_string(),
                l["msg"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub mod otlp;

/// A spawned `otlpdemo` with its HTTP and metrics addresses.
pub struct Service {
    pub child: std::process::Child,
    pub http: std::net::SocketAddr,
    pub metrics: std::net::SocketAddr,
    pub stderr: mpsc::Receiver<String>,
    pub stdout: mpsc::Receiver<String>,
}

impl Service {
    /// Spawns `otlpdemo` exporting to `receiver` with every trace kept (ratio 1), then `env`.
    pub fn spawn_exporting_to(receiver: std::net::SocketAddr, env: &[(&str, &str)]) -> Service {
        let endpoint = receiver.to_string();
        let mut all = vec![
            ("OTEL_ENABLED", "true"),
            ("OTEL_ENDPOINT", endpoint.as_str()),
            ("OTEL_TRACES_SAMPLER_RATIO", "1"),
        ];
        all.extend_from_slice(env);
        Self::spawn(&all)
    }

    /// The value of one series on the service's `/metrics` (e.g.
    /// `otlpdemo_telemetry_dropped_total{signal="traces"}`); panics if it is not there.
    pub async fn metric(&self, client: &reqwest::Client, series: &str) -> f64 {
        let text = client
            .get(format!("http://{}/metrics", self.metrics))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{series} not on /metrics:\n{text}"))
    }

    pub fn spawn(env: &[(&str, &str)]) -> Service {
        let mut cmd = command(env!("CARGO_BIN_EXE_otlpdemo"));
        cmd.stdin(Stdio::null());
        cmd.env("METRICS_LISTEN", "127.0.0.1:0");
        cmd.envs(env.iter().copied());
        let mut child = cmd.spawn().expect("spawn otlpdemo");
        let stdout = lines(child.stdout.take().unwrap());
        let stderr = lines(child.stderr.take().unwrap());
        let (mut http, mut metrics) = (None, None);
        while http.is_none() || metrics.is_none() {
            let line = stderr
                .recv_timeout(Duration::from_secs(30))
                .expect("otlpdemo start");
            if let Some(a) = line.strip_prefix("listening ") {
                http = Some(a.parse().unwrap());
            } else if let Some(a) = line.strip_prefix("metrics ") {
                metrics = Some(a.parse().unwrap());
            }
        }
        Service {
            child,
            http: http.unwrap(),
            metrics: metrics.unwrap(),
            stderr,
            stdout,
        }
    }

    /// SIGTERM, then wait for exit; returns (exit code, shutdown milliseconds, shutdown ok).
    pub fn terminate(mut self) -> (i32, u64, bool) {
        unsafe_kill(self.child.id());
        let mut shutdown = (0, false);
        while let Ok(line) = self.stderr.recv_timeout(Duration::from_secs(60)) {
            if let Some(rest) = line.strip_prefix("shutdown ") {
                let mut it = rest.split(' ');
                shutdown = (it.next().unwrap().parse().unwrap(), it.next() == Some("ok"));
            }
        }
        let status = self.child.wait().unwrap();
        (status.code().unwrap_or(-1), shutdown.0, shutdown.1)
    }
}

fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
}

/// A plain HTTP/1.1 GET over a real socket; the body ("" on any failure).
pub fn http_get_text(addr: std::net::SocketAddr, path: &str) -> String {
    use std::io::Read;
    let Ok(mut s) = std::net::TcpStream::connect(addr) else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).is_err() {
        return String::new();
    }
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw);
    raw.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}
