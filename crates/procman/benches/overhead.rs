//! Overhead of telemetry on the reference service. Run: `cargo bench -p procman --bench overhead`.
//!
//! procman serves `GET /instances/{id}` at saturation over loopback (32 concurrent connections,
//! a bounded number of requests), in these configurations of the same binary, in the same run:
//! * `off` — `--telemetry off`: no logs, metrics or traces at all (the baseline);
//! * `watchpost` — every request traced (ratio 1) and exported over OTLP to a local receiver,
//!   metrics on, one JSON access line per request to a file, log records exported too; the
//!   export thread at its default priority (`EXPORT_PRIORITY=idle`);
//! * `wp-traces` — the same with `OTEL_LOGS_EXPORTER=none` (traces only, like `common`);
//! * `wp-tr-low` — `wp-traces` with `EXPORT_PRIORITY=low` (nice 10);
//! * `wp-tr-all` — `wp-traces` with `EXPORT_PRIORITY=normal`: the export thread competes with
//!   the service, so (nearly) every span reaches the receiver — the issue's configuration;
//! * `common` — `tower-http` `TraceLayer` + `tracing-subscriber` JSON to a file +
//!   `tracing-opentelemetry` with the SDK batch processor exporting to the same receiver.
//!
//! Reports, per mode, the best of three rounds by throughput (the median by p99 with
//! `OVERHEAD_RATE`): throughput, p50/p99 latency, the
//! ratios to `off`, CPU per request of the server and of the bench process (load generator +
//! receiver, sharing the two cores), and how many spans the receiver got: a mode that drops
//! spans at saturation does less work, and the table shows it.
//!
//! `OVERHEAD_MODES=off,on-traces-all` runs a subset in that order; `OVERHEAD_ENV="K=V K2=V2"`
//! adds variables to every run; `OVERHEAD_RATE=30000` sends a fixed rate (open loop, latency
//! counted from when each request was due) instead of saturating: the latency a service sees
//! below its capacity.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use watchpost_testkit::otlp::Receiver;

const MODE_COUNT: usize = 6;

/// (name, `--telemetry` flag, extra environment).
type Mode = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const CONCURRENCY: usize = 32;
const REQUESTS: usize = 40_000;
const WARMUP: usize = 2_000;

struct Result_ {
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    /// CPU time the server process (all its threads) spent per request: immune to how the
    /// load generator and the server share the cores.
    cpu_us: f64,
    /// The same for the bench process (load generator and OTLP receiver): it shares the cores,
    /// so its cost per request moves the throughput of every mode.
    client_cpu_us: f64,
    /// Spans the receiver got from this run (every request is a trace).
    spans: u64,
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

/// `n` requests from `CONCURRENCY` connections. Closed loop (`rate` `None`): each connection
/// sends its next request when the last one is answered, latency from send. Open loop at a
/// fixed rate: request `k` is due at `start + k / rate` and its latency counts from when it was
/// due, so a server that falls behind is charged for the wait (no coordinated omission).
async fn load(
    client: &reqwest::Client,
    url: &str,
    n: usize,
    rate: Option<f64>,
) -> (Duration, Vec<Duration>) {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CONCURRENCY {
        let (client, url, next) = (client.clone(), url.to_string(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if k >= n {
                    break;
                }
                let from = match rate {
                    Some(rate) => {
                        let due = start + Duration::from_secs_f64(k as f64 / rate);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                let r = client.get(&url).send().await.expect("request");
                assert_eq!(r.status(), 200);
                let _ = r.bytes().await;
                lat.push(from.elapsed());
            }
            lat
        }));
    }
    let mut all = Vec::with_capacity(n);
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    (start.elapsed(), all)
}

async fn run(
    mode: &str,
    receiver: SocketAddr,
    received: &std::sync::atomic::AtomicU64,
    extra_env: &[(&str, &str)],
) -> Result_ {
    let received_before = received.load(std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("procman-bench-{mode}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join("stdout.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_procman"))
        .args(["--listen", "127.0.0.1:0", "--telemetry", mode, "--data-dir"])
        .arg(dir.join("data"))
        .env("OTEL_ENABLED", "true")
        .env("OTEL_ENDPOINT", receiver.to_string())
        .env("OTEL_TRACES_SAMPLER_RATIO", "1")
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("LOG_LEVEL", "info")
        .envs(extra_env.iter().copied())
        // OVERHEAD_ENV="K=V K2=V2" adds variables to every run (for experiments and profiling).
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
    let mut metrics_url = None;
    let api: SocketAddr = loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "procman exited");
        if let Some(m) = line.trim().strip_prefix("procman: metrics on ") {
            metrics_url = Some(m.to_string());
        }
        if let Some(a) = line.trim().strip_prefix("procman: listening on http://") {
            break a.parse().unwrap();
        }
    };
    std::thread::spawn(move || for _ in stderr.lines() {});
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let created = client
        .post(format!("http://{api}/instances"))
        .body(r#"{"name":"bench","command":"sleep","args":["600"]}"#)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let id = created
        .split("\"id\":\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let url = format!("http://{api}/instances/{id}");
    load(&client, &url, WARMUP, None).await;
    let cpu_before = cpu_seconds(child.id());
    let me_before = cpu_seconds(std::process::id());
    // OVERHEAD_RATE=N: a fixed rate of N req/s (below saturation) instead of as fast as possible.
    let rate = std::env::var("OVERHEAD_RATE")
        .ok()
        .and_then(|r| r.parse::<f64>().ok());
    let (elapsed, mut lat) = load(&client, &url, REQUESTS, rate).await;
    let cpu = cpu_seconds(child.id()) - cpu_before;
    let me = cpu_seconds(std::process::id()) - me_before;
    lat.sort();
    let pct =
        |p: f64| lat[((lat.len() as f64 * p) as usize).min(lat.len() - 1)].as_secs_f64() * 1000.0;
    let mut result = Result_ {
        rps: REQUESTS as f64 / elapsed.as_secs_f64(),
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        cpu_us: cpu * 1e6 / REQUESTS as f64,
        client_cpu_us: me * 1e6 / REQUESTS as f64,
        spans: 0,
    };
    // What the pipeline itself counted: spans dropped at the queue or in failed exports.
    if let Some(url) = metrics_url {
        if let Ok(text) = client.get(&url).send().await.unwrap().text().await {
            let pick = |name: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(name))
                    .map(|v| v.trim().to_string())
                    .unwrap_or_else(|| "-".into())
            };
            eprintln!(
                "  {mode}: traces dropped {} (export errors {})",
                pick("procman_telemetry_dropped_total{signal=\"traces\"}"),
                pick("procman_telemetry_export_errors_total{signal=\"traces\"}")
            );
        }
    }
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status();
    let _ = child.wait();
    let lines = std::fs::read_to_string(dir.join("stdout.log"))
        .map(|s| s.lines().count())
        .unwrap_or(0);
    // Every request is a trace: the receiver must have all of them (drops would flatter a mode).
    let spans = received.load(std::sync::atomic::Ordering::Relaxed) - received_before;
    eprintln!(
        "  {mode}: {lines} log lines written, {spans} spans received for {} requests",
        WARMUP + REQUESTS + 1
    );
    let _ = std::fs::remove_dir_all(&dir);
    result.spans = spans;
    result
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` probing; this benchmark only runs under `cargo bench`
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The receiver runs on its own thread and runtime: decoding a batch must not stall the load
    // generator's tasks (that would show up as server latency). It only counts what it gets.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let receiver = Receiver::start_counting("127.0.0.1:0".parse().unwrap()).await;
            tx.send((receiver.addr, receiver.counts.clone())).unwrap();
            std::future::pending::<()>().await
        })
    });
    let (receiver, counts) = rx.recv().expect("receiver started");
    rt.block_on(async {
        let mut rounds: std::collections::BTreeMap<&str, Vec<Result_>> = Default::default();
        for round in 0..3 {
            const MODES: [Mode; MODE_COUNT] = [
                ("off", "off", &[]),
                ("on", "on", &[]),
                ("on-traces-only", "on", &[("OTEL_LOGS_EXPORTER", "none")]),
                (
                    "on-traces-low",
                    "on",
                    &[("OTEL_LOGS_EXPORTER", "none"), ("EXPORT_PRIORITY", "low")],
                ),
                (
                    "on-traces-all",
                    "on",
                    &[
                        ("OTEL_LOGS_EXPORTER", "none"),
                        ("EXPORT_PRIORITY", "normal"),
                    ],
                ),
                ("common", "common", &[]),
            ];
            // OVERHEAD_MODES=on,off runs a subset in that order (e.g. for profiling one mode).
            let selected: Vec<_> = match std::env::var("OVERHEAD_MODES") {
                Ok(only) => only
                    .split(',')
                    .filter_map(|m| MODES.iter().find(|(name, _, _)| *name == m))
                    .collect(),
                Err(_) => MODES.iter().collect(),
            };
            for &(mode, flag, env) in selected {
                let r = run(flag, receiver, &counts.spans, env).await;
                eprintln!(
                    "round {round} {mode}: {:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, server {:.1} us CPU/request, client {:.1}",
                    r.rps, r.p50_ms, r.p99_ms, r.cpu_us, r.client_cpu_us
                );
                rounds.entry(mode).or_default().push(r);
            }
        }
        if rounds.len() < MODE_COUNT {
            return; // a subset was run: no comparison table
        }
        // At saturation the round with the best throughput; at a fixed rate (same throughput
        // everywhere) the round with the median p99.
        let fixed_rate = std::env::var_os("OVERHEAD_RATE").is_some();
        let best: std::collections::BTreeMap<&str, Result_> = rounds
            .into_iter()
            .map(|(mode, mut rs)| {
                let r = if fixed_rate {
                    rs.sort_by(|a, b| a.p99_ms.total_cmp(&b.p99_ms));
                    rs.swap_remove(rs.len() / 2)
                } else {
                    rs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
                    rs.pop().expect("three rounds")
                };
                (mode, r)
            })
            .collect();
        let off = &best["off"];
        println!(
            "mode        req/s   p50 ms   p99 ms  throughput/off  p99/off  server CPU us/req  client CPU us/req  spans exported"
        );
        for (mode, label) in [
            ("off", "off"),
            ("on", "watchpost"),
            ("on-traces-only", "wp-traces"),
            ("on-traces-low", "wp-tr-low"),
            ("on-traces-all", "wp-tr-all"),
            ("common", "common"),
        ] {
            let r = &best[mode];
            println!(
                "{label:<10} {:>7.0}  {:>7.3}  {:>7.3}  {:>14.2}  {:>7.2}  {:>17.1}  {:>17.1}  {:>14}",
                r.rps,
                r.p50_ms,
                r.p99_ms,
                r.rps / off.rps,
                r.p99_ms / off.p99_ms,
                r.cpu_us,
                r.client_cpu_us,
                r.spans
            );
        }
    });
}
