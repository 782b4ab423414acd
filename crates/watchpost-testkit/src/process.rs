//! Child processes for end-to-end tests: spawned with a clean environment, their output read
//! line by line, their listeners found on stderr, stopped with SIGTERM; and their `/metrics`.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use crate::capture::{parse, Line};

/// A command for a program under test: piped stdout and stderr, and none of the test runner's
/// own Watchpost variables (a developer's `LOG_LEVEL` must not change a test). Stdin is left to
/// the caller.
pub fn command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
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

/// Reads `r` line by line on a thread of its own; the lines arrive on the channel, which ends at
/// end of file (or when the receiver is dropped).
pub fn lines(r: impl Read + Send + 'static) -> mpsc::Receiver<String> {
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

/// A running child whose output is read line by line.
pub struct Process {
    /// The child itself (its stdin as the command set it up).
    pub child: Child,
    /// Its stdout, line by line (never a line when spawned by [`Process::spawn_holding_stdout`]).
    pub stdout: mpsc::Receiver<String>,
    /// Its stderr, line by line.
    pub stderr: mpsc::Receiver<String>,
}

impl Process {
    /// Spawns `cmd` (see [`command`]) and reads its stdout (unless the command sends it
    /// elsewhere, e.g. to a file) and stderr; panics naming `what` if it does not start.
    pub fn spawn(cmd: &mut Command, what: &str) -> Process {
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let stdout = match child.stdout.take() {
            Some(out) => lines(out),
            None => mpsc::channel().1,
        };
        let stderr = lines(child.stderr.take().unwrap());
        Process {
            child,
            stdout,
            stderr,
        }
    }

    /// Spawns `cmd` like [`Process::spawn`] but hands back its stdout unread: a log consumer that
    /// does not read.
    pub fn spawn_holding_stdout(cmd: &mut Command, what: &str) -> (Process, ChildStdout) {
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        let held = child.stdout.take().expect("piped stdout");
        let stderr = lines(child.stderr.take().unwrap());
        let process = Process {
            child,
            stdout: mpsc::channel().1,
            stderr,
        };
        (process, held)
    }

    /// Waits (30 s at most for each line) until stderr has had a line starting with each of
    /// `prefixes`, and returns the address that follows each prefix (up to a `/`), in the order
    /// of `prefixes`. Panics naming `what` if the program stops talking first.
    pub fn listeners<const N: usize>(&self, what: &str, prefixes: [&str; N]) -> [SocketAddr; N] {
        let mut found: [Option<SocketAddr>; N] = [None; N];
        while found.iter().any(Option::is_none) {
            let line = self
                .stderr
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("{what} start"));
            for (prefix, slot) in prefixes.iter().zip(&mut found) {
                if let Some(rest) = line.strip_prefix(prefix) {
                    let addr = rest.split('/').next().unwrap_or_default();
                    *slot = Some(addr.parse().unwrap_or_else(|e| panic!("{line:?}: {e}")));
                }
            }
        }
        found.map(Option::unwrap)
    }

    /// Sends SIGTERM (a graceful stop).
    pub fn sigterm(&self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
    }

    /// Waits for the exit and returns the exit code (-1 if a signal ended it).
    pub fn wait(&mut self) -> i32 {
        self.child.wait().unwrap().code().unwrap_or(-1)
    }

    /// The stdout lines written since the last call, after waiting `settle` for stragglers, each
    /// parsed as a JSON object (panics naming a line that is not one).
    pub fn drain_json(&self, settle: Duration) -> Vec<Line> {
        std::thread::sleep(settle);
        self.stdout.try_iter().map(|l| parse(&l)).collect()
    }
}

/// The state letter of process `pid` from `/proc` (R, S, T for stopped, Z, …), if it exists.
pub fn proc_state(pid: u64) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat[stat.rfind(')')? + 1..].trim_start().chars().next()
}

/// The state of process `pid` once `done` accepts it, polling for up to 5 s (signals are
/// delivered asynchronously: a process is not stopped the instant `kill` returns); the last
/// state seen otherwise, for the test's assertion to report.
pub fn proc_state_when(pid: u64, done: impl Fn(Option<char>) -> bool) -> Option<char> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let state = proc_state(pid);
        if done(state) || std::time::Instant::now() >= deadline {
            return state;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// Live (not zombie) processes on the machine whose command line is exactly `cmd` (arguments
/// joined by spaces): for tests that check nothing was left running. Give the processes a
/// command line no other test uses (`sleep 3001`).
pub fn running(cmd: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let line = String::from_utf8_lossy(&raw).replace('\0', " ");
        if line.trim_end() == cmd && !matches!(proc_state(pid as u64), Some('Z') | None) {
            found.push(pid);
        }
    }
    found
}

/// The text of `/metrics` on the listener at `addr`.
pub async fn metrics_text(client: &reqwest::Client, addr: SocketAddr) -> String {
    let response = client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .expect("GET /metrics");
    response.text().await.expect("the /metrics body")
}

/// The value of one series on `/metrics` at `addr`, named with its labels (e.g.
/// `otlpdemo_telemetry_dropped_total{signal="traces"}`); panics with the exposition if the
/// series is not there.
pub async fn metric(client: &reqwest::Client, addr: SocketAddr, series: &str) -> f64 {
    let text = metrics_text(client, addr).await;
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{series} not on /metrics:\n{text}"))
}

/// A TCP port on 127.0.0.1 that was free a moment ago (for a program that must be told its
/// address before it starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The built example program `name` of the package at `manifest_dir` (a test passes
/// `env!("CARGO_MANIFEST_DIR")`): `target/<profile>/examples/<name>`, found from the test
/// binary's own path (`target/<profile>/deps/<test>`). `cargo test` builds every example before
/// it runs the tests; a run of one test (`cargo test --test …`) does not, so an example missing
/// or older than its source file is built here first (`cargo build --example <name>`).
pub fn example(manifest_dir: &str, name: &str) -> std::path::PathBuf {
    use std::path::Path;
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps");
    let program = profile_dir.join("examples").join(name);
    let source = Path::new(manifest_dir)
        .join("examples")
        .join(format!("{name}.rs"));
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&program), modified(&source)), (Some(b), Some(s)) if b >= s);
    if !fresh {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "--example", name])
            .current_dir(manifest_dir)
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build --example {name} failed");
    }
    program
}
