//! The request tax: what telemetry costs procman per request, measured like a user would.
//! Run: `cargo bench -p procman --bench overhead` (needs `wrk`: Debian package `wrk`).
//!
//! * The load comes from `wrk` (C, its own process, `-t1 -c8` by default) against
//!   `GET /instances/{id}` for `OVERHEAD_SECONDS` (default 10) after a 2 s warm-up. The table
//!   shows wrk's own CPU share beside the server's: `off` must saturate the server (its CPU share
//!   near what wrk leaves of the cores), or the load generator is the bottleneck and the ratios
//!   mean nothing.
//! * The server's CPU per request is read from `/proc/<pid>/stat` (all its threads) around the
//!   measured run; wrk's from `getrusage(RUSAGE_CHILDREN)`.
//! * The OTLP receiver runs in a process of its own (this benchmark binary re-run with
//!   `--otlp-receiver`, a counting gRPC receiver from the official protos), so decoding never
//!   competes with the load generator inside one process; what it got is compared with what procman
//!   says it sent and dropped (`trace_sampled_spans_total{decision="kept"}`,
//!   `telemetry_dropped_total`).
//! * Modes alternate within each round (`OVERHEAD_ROUNDS`, default 3); each mode's throughput and
//!   CPU are divided by `off`'s **of the same round**, and the table reports the median of those
//!   ratios — a drift of the shared machine between rounds cancels out.
//!
//! Modes: `off` (`--telemetry off`), `floor` (`--telemetry floor`: the access line, ids and a
//! histogram written by hand for procman alone, no span — the lower bound), `defaults` (no OTLP: access line to a file, metrics, spans
//! and tail sampling decisions), then the breakdown — `defaults` with one piece removed:
//! `-access` (API subsystem at WARN: no access line), `-otel-logs`/`-otel-traces` (OTLP on with
//! that signal's exporter `none`) — `otlp` (export on at the default sampling, 0.1), `otlp-all`
//! (ratio 1: every span exported), and the common stack (`tower-http` + `tracing-subscriber` JSON +
//! `tracing-opentelemetry`, without and with OTLP). `OVERHEAD_MODES=off,otlp` runs a subset;
//! `OVERHEAD_ENV="K=V ..."` adds variables to every procman; `OVERHEAD_WRK="-t1 -c8"` sets wrk's
//! threads and connections. `OVERHEAD_WRK_BIN=/path/to/wrk2` runs wrk2 instead (open loop: give
//! the rate in `OVERHEAD_WRK`, e.g. `-t1 -c32 -R75000`; latencies then count from when each
//! request was due, not from when it was sent).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

/// (name, `--telemetry` flag, OTLP on, extra environment).
type Mode = (
    &'static str,
    &'static str,
    bool,
    &'static [(&'static str, &'static str)],
);

const MODES: &[Mode] = &[
    ("off", "off", false, &[]),
    ("floor", "floor", false, &[]),
    ("defaults", "on", false, &[]),
    ("-access", "on", false, &[("LOG_LEVEL_API", "warn")]),
    ("otlp", "on", true, &[]),
    ("-otel-logs", "on", true, &[("OTEL_LOGS_EXPORTER", "none")]),
    (
        "-otel-traces",
        "on",
        true,
        &[("OTEL_TRACES_EXPORTER", "none")],
    ),
    (
        "otlp-all",
        "on",
        true,
        &[("OTEL_TRACES_SAMPLER_RATIO", "1")],
    ),
    ("common", "common", false, &[]),
    // The SDK reads the sampler from the environment: the same 0.1 of new traces as ours.
    (
        "common-otlp",
        "common",
        true,
        &[
            ("OTEL_TRACES_SAMPLER", "parentbased_traceidratio"),
            ("OTEL_TRACES_SAMPLER_ARG", "0.1"),
        ],
    ),
];

/// One measured run of one mode.
#[derive(Debug, Clone, Default)]
struct Run {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// Server CPU (all threads) per request, µs.
    cpu_us: f64,
    /// Server CPU seconds per wall second (2.0 = both cores).
    server_share: f64,
    /// wrk's CPU seconds per wall second.
    wrk_share: f64,
    /// Spans procman's tail sampler kept (sent to export), and what the receiver got.
    spans_kept: f64,
    spans_received: f64,
    logs_received: f64,
    /// Lines procman wrote to stdout (every one is also a log record when logs are exported).
    lines_written: f64,
    /// Items procman counted as dropped (all signals).
    dropped: f64,
    /// Of which, per signal: traces, logs, metrics.
    dropped_by_signal: [f64; 3],
}

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) / hz
}

/// CPU seconds of all waited-for children of this process (wrk's, once it has been waited for).
fn children_cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut u) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// A tiny blocking HTTP/1.1 exchange (procman's API and metrics): (status, body).
fn http(addr: SocketAddr, method: &str, path: &str, body: &str) -> (u16, String) {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// The sum of every sample of `name` whose labels contain `labels` in a text exposition.
fn metric(text: &str, name: &str, labels: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(labels))
        .filter(|l| l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum::<f64>()
        + 0.0 // an empty sum is -0.0
}

/// wrk's summary: (requests, seconds, p50 ms, p99 ms).
fn parse_wrk(out: &str) -> (f64, f64, f64, f64) {
    let ms = |v: &str| -> f64 {
        let v = v.trim();
        let (num, unit) = v.split_at(v.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(v.len()));
        let n: f64 = num.parse().unwrap_or(f64::NAN);
        match unit {
            "us" => n / 1000.0,
            "ms" => n,
            "s" => n * 1000.0,
            "m" => n * 60_000.0,
            _ => f64::NAN,
        }
    };
    let mut requests = f64::NAN;
    let mut seconds = f64::NAN;
    let (mut p50, mut p99) = (f64::NAN, f64::NAN);
    for line in out.lines() {
        let t = line.trim();
        // wrk prints "50%", wrk2 "50.000%".
        if let Some(rest) = t.strip_prefix("50%").or_else(|| t.strip_prefix("50.000%")) {
            p50 = ms(rest);
        } else if let Some(rest) = t.strip_prefix("99%").or_else(|| t.strip_prefix("99.000%")) {
            p99 = ms(rest);
        } else if t.contains(" requests in ") {
            // "812345 requests in 10.00s, 120.00MB read"
            let mut w = t.split_whitespace();
            requests = w.next().and_then(|n| n.parse().ok()).unwrap_or(f64::NAN);
            seconds = w
                .nth(2)
                .map(|s| ms(s.trim_end_matches(',')) / 1000.0)
                .unwrap_or(f64::NAN);
        }
    }
    (requests, seconds, p50, p99)
}

/// The receiver process: this binary with `--otlp-receiver`. It prints its address, then for
/// every line on stdin prints `spans logs metrics` received so far.
struct ReceiverProcess {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    addr: SocketAddr,
}

impl ReceiverProcess {
    fn start() -> ReceiverProcess {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .arg("--otlp-receiver")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the receiver process");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line.trim().parse().expect("receiver address");
        ReceiverProcess {
            child,
            stdin,
            stdout,
            addr,
        }
    }

    /// (spans, logs) received so far.
    fn counts(&mut self) -> (f64, f64) {
        writeln!(self.stdin).unwrap();
        let mut line = String::new();
        self.stdout.read_line(&mut line).unwrap();
        let v: Vec<f64> = line
            .split_whitespace()
            .filter_map(|n| n.parse().ok())
            .collect();
        (v[0], v[1])
    }
}

impl Drop for ReceiverProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn receiver_main() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r =
            watchpost_testkit::otlp::Receiver::start_counting("127.0.0.1:0".parse().unwrap()).await;
        println!("{}", r.addr);
        let counts = r.counts.clone();
        tokio::task::spawn_blocking(move || {
            use std::sync::atomic::Ordering::Relaxed;
            for line in std::io::stdin().lock().lines() {
                if line.is_err() {
                    break;
                }
                println!(
                    "{} {} {}",
                    counts.spans.load(Relaxed),
                    counts.logs.load(Relaxed),
                    counts.metrics.load(Relaxed)
                );
            }
        })
        .await
        .unwrap();
    });
}

/// The load generator: `wrk`, or `OVERHEAD_WRK_BIN` (wrk2 for an open loop).
fn wrk_bin() -> String {
    std::env::var("OVERHEAD_WRK_BIN").unwrap_or_else(|_| "wrk".into())
}

fn run_wrk(url: &str, seconds: u64) -> (String, f64) {
    let before = children_cpu_seconds();
    let conf = std::env::var("OVERHEAD_WRK").unwrap_or_else(|_| "-t1 -c8".into());
    let out = Command::new(wrk_bin())
        .args(conf.split_whitespace())
        .args(["--latency", "-d", &format!("{seconds}s"), url])
        .output()
        .expect("run wrk (apt install wrk)");
    assert!(
        out.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        children_cpu_seconds() - before,
    )
}

fn run(mode: &Mode, receiver: &mut ReceiverProcess, seconds: u64) -> Run {
    let (name, flag, otlp, env) = *mode;
    // Delivery is counted over procman's whole life: what the receiver got from its start to
    // after its shutdown, against what it says it kept and dropped.
    let (spans_at_start, logs_at_start) = receiver.counts();
    let dir = std::env::temp_dir().join(format!("procman-tax-{}-{}", std::process::id(), name));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join("stdout.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_procman"))
        .args(["--listen", "127.0.0.1:0", "--telemetry", flag, "--data-dir"])
        .arg(dir.join("data"))
        .env("OTEL_ENABLED", if otlp { "true" } else { "false" })
        .env("OTEL_ENDPOINT", receiver.addr.to_string())
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("LOG_LEVEL", "info")
        .envs(env.iter().copied())
        .envs(
            std::env::var("OVERHEAD_ENV")
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|kv| kv.split_once('=')),
        )
        .stdin(Stdio::null())
        .stdout(Stdio::from(log))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut metrics: Option<SocketAddr> = None;
    let api: SocketAddr = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "procman exited ({name})"
        );
        if let Some(m) = line.trim().strip_prefix("procman: metrics on http://") {
            metrics = m.trim_end_matches("/metrics").parse().ok();
        }
        if let Some(a) = line.trim().strip_prefix("procman: listening on http://") {
            break a.parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in stderr.lines() {});
    let (status, created) = http(
        api,
        "POST",
        "/instances",
        r#"{"name":"bench","command":"sleep","args":["600"]}"#,
    );
    assert!(status < 300, "create failed: {status} {created}");
    let id = created
        .split("\"id\":\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("instance id")
        .to_string();
    let url = format!("http://{api}/instances/{id}");
    run_wrk(&url, 2); // warm-up: connections, caches, the tail sampler's buffers
    let cpu_before = cpu_seconds(child.id());
    let (out, wrk_cpu) = run_wrk(&url, seconds);
    let cpu = cpu_seconds(child.id()) - cpu_before;
    let (requests, secs, p50_ms, p99_ms) = parse_wrk(&out);
    // Let the export thread deliver what was queued (its batches go out back to back).
    std::thread::sleep(Duration::from_secs(if otlp { 3 } else { 0 }));
    let text = metrics
        .map(|m| http(m, "GET", "/metrics", "").1)
        .unwrap_or_default();
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let lines_written = std::fs::read_to_string(dir.join("stdout.log"))
        .map(|t| t.lines().count() as f64)
        .unwrap_or(0.0);
    let (spans_after, logs_after) = receiver.counts();
    let _ = std::fs::remove_dir_all(&dir);
    Run {
        rps: requests / secs,
        p50_ms,
        p99_ms,
        cpu_us: cpu * 1e6 / requests,
        server_share: cpu / secs,
        wrk_share: wrk_cpu / secs,
        spans_kept: metric(
            &text,
            "procman_trace_sampled_spans_total",
            "decision=\"kept\"",
        ),
        spans_received: spans_after - spans_at_start,
        logs_received: logs_after - logs_at_start,
        lines_written,
        dropped: metric(&text, "procman_telemetry_dropped_total", ""),
        dropped_by_signal: ["traces", "logs", "metrics"].map(|s| {
            metric(
                &text,
                "procman_telemetry_dropped_total",
                &format!("signal=\"{s}\""),
            )
        }),
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--otlp-receiver") {
        return receiver_main();
    }
    if args.iter().any(|a| a == "--list") || !args.iter().any(|a| a == "--bench") {
        return; // `cargo test --benches` probing: this benchmark only runs under `cargo bench`
    }
    if Command::new(wrk_bin()).arg("--version").output().is_err() {
        eprintln!(
            "overhead: `{}` is not installed (apt install wrk); nothing measured",
            wrk_bin()
        );
        return;
    }
    let seconds: u64 = std::env::var("OVERHEAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rounds: usize = std::env::var("OVERHEAD_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let selected: Vec<&Mode> = match std::env::var("OVERHEAD_MODES") {
        Ok(only) => only
            .split(',')
            .filter_map(|m| MODES.iter().find(|(name, ..)| *name == m))
            .collect(),
        Err(_) => MODES.iter().collect(),
    };
    let mut receiver = ReceiverProcess::start();
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); selected.len()];
    for round in 0..rounds {
        for (i, mode) in selected.iter().enumerate() {
            let r = run(mode, &mut receiver, seconds);
            eprintln!(
                "round {round} {:<13} {:>8.0} req/s  p50 {:.3} ms  p99 {:.3} ms  server {:.2} µs/req ({:.2} cores)  wrk {:.2} cores  spans kept {} received {}  lines {} log records received {}  dropped {} (traces/logs/metrics {:?})",
                mode.0, r.rps, r.p50_ms, r.p99_ms, r.cpu_us, r.server_share, r.wrk_share,
                r.spans_kept, r.spans_received, r.lines_written, r.logs_received, r.dropped,
                r.dropped_by_signal
            );
            runs[i].push(r);
        }
    }
    let off = selected.iter().position(|m| m.0 == "off");
    println!(
        "\nmode          req/s (median)  thr/off  p50 ms  p99 ms  server µs/req  +µs over off  server cores  wrk cores  spans kept/received  lines/records  dropped"
    );
    for (i, mode) in selected.iter().enumerate() {
        let rs = &runs[i];
        let med = |f: fn(&Run) -> f64| median(rs.iter().map(f).collect());
        // Ratios within each round, then their median.
        let (thr, extra) = match off {
            Some(o) => (
                median(
                    rs.iter()
                        .zip(&runs[o])
                        .map(|(r, b)| r.rps / b.rps)
                        .collect(),
                ),
                median(
                    rs.iter()
                        .zip(&runs[o])
                        .map(|(r, b)| r.cpu_us - b.cpu_us)
                        .collect(),
                ),
            ),
            None => (f64::NAN, f64::NAN),
        };
        println!(
            "{:<13} {:>14.0}  {:>7.2}  {:>6.3}  {:>6.3}  {:>13.2}  {:>12.2}  {:>12.2}  {:>9.2}  {:>9.0}/{:<9.0}  {:>6.0}/{:<6.0}  {:>7.0}",
            mode.0,
            med(|r| r.rps),
            thr,
            med(|r| r.p50_ms),
            med(|r| r.p99_ms),
            med(|r| r.cpu_us),
            extra,
            med(|r| r.server_share),
            med(|r| r.wrk_share),
            med(|r| r.spans_kept),
            med(|r| r.spans_received),
            med(|r| r.lines_written),
            med(|r| r.logs_received),
            med(|r| r.dropped),
        );
    }
}
