//! `watchpost console` measured as a user meets it: the release binary started as a process of its
//! own, OTLP sent to it over gRPC by concurrent tonic clients, its JSON API asked over HTTP, its
//! memory read from `/proc/<pid>/status`. CI compiles this (`cargo build --workspace --benches`)
//! and never runs it; the numbers are in BENCHMARKS.md ("Session 8: console").
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-rel cargo bench -p watchpost-cli --bench console
//! CARGO_TARGET_DIR=/work/target-rel cargo bench -p watchpost-cli --bench console -- startup ingest query memory --rounds 3
//! ```
//!
//! Groups (all when none is named; `ingest-spans` and `ingest-logs` are halves of `ingest`):
//! * `startup`: spawn → the three listeners announced on stderr (they are bound before that
//!   line), and → the first answer of `/api/stats`; then the resident memory after 1 s idle.
//! * `ingest`: [`SPAN_BATCHES`] exports of 512 spans (128 procman-like requests: a server span
//!   with 9 attributes, three children with 2) and [`LOG_BATCHES`] exports of 512 log records
//!   (procman's access line: 7 attributes, trace context), each batch encoded before the clock
//!   starts and sent as bytes by [`SENDERS`] concurrent tonic clients (one HTTP/2 connection
//!   each); an export the console refuses while its queue is full (`UNAVAILABLE`) is sent again
//!   after 1 ms, as an SDK's exporter retries. The rate is items over the time from the first
//!   send until `/api/stats` counts them all received. The same senders against a null sink in
//!   this process (a tonic server that decodes and drops) show what they can do; the console's
//!   CPU time over the run (`/proc/<pid>/stat`) shows whether it was the one working.
//! * `query`: [`QUERY_TRACES`] traces (a server span and a child; 1% failed) stored under a
//!   1 GiB budget, then `GET /api/traces` (the default page, 100 newest) [`QUERIES`] times, one
//!   connection each, as `curl` does; also `/traces` (the page) and `/api/traces?errors=true`.
//! * `memory`: a 64 MiB budget and 10⁶ spans (1 000 exports of 1 000, 3 attributes and an
//!   event each, as `tests/console_stays_within_its_budget_under_a_million_spans.rs` sends, but
//!   from four concurrent clients); the peak resident memory sampled every 10 ms must stay under
//!   budget + 30 MiB, and the newest trace must be whole.
//!
//! Every result line carries the load average read when it was measured (the machine is shared).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes};
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use prost::Message;
use serde_json::Value;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Concurrent gRPC clients (`--senders N` changes it).
static SENDERS: AtomicUsize = AtomicUsize::new(4);
/// Milliseconds before a refused export is sent again (`--retry-ms N` changes it).
static RETRY_MS: AtomicU64 = AtomicU64::new(1);
/// Exports of 512 spans per ingest round (262 144 spans).
const SPAN_BATCHES: usize = 512;
/// Exports of 512 log records per ingest round (524 288 records).
const LOG_BATCHES: usize = 1024;
/// Traces stored for the query round.
const QUERY_TRACES: usize = 100_000;
/// Timed queries per endpoint.
const QUERIES: usize = 200;
const TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

// ---------------------------------------------------------------------------------------------
// The console as a process.

struct Console {
    child: Child,
    grpc: SocketAddr,
    ui: SocketAddr,
    /// Spawn → the listeners announced.
    listening: Duration,
}

impl Console {
    fn start(budget: &str) -> Console {
        let started = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_watchpost"))
            .args(["console", "--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0"])
            .args(["--ui", "127.0.0.1:0", "--budget", budget])
            .env_remove("OTEL_ENABLED")
            .env_remove("LOG_LEVEL")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn the release watchpost");
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let (mut grpc, mut ui) = (None, None);
        let mut http = false;
        while grpc.is_none() || ui.is_none() || !http {
            let line = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("the console announces its listeners");
            let addr =
                |rest: &str| -> SocketAddr { rest.split('/').next().unwrap().parse().unwrap() };
            if let Some(rest) = line.strip_prefix("watchpost console: OTLP gRPC on ") {
                grpc = Some(addr(rest));
            } else if line.starts_with("watchpost console: OTLP HTTP on ") {
                http = true;
            } else if let Some(rest) = line.strip_prefix("watchpost console: open http://") {
                ui = Some(addr(rest));
            }
        }
        let listening = started.elapsed();
        // Keep reading stderr so the console never blocks on it.
        std::thread::spawn(move || while rx.recv().is_ok() {});
        Console {
            child,
            grpc: grpc.unwrap(),
            ui: ui.unwrap(),
            listening,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn get(&self, path: &str) -> (u16, String) {
        let (status, _, body) = watchpost_testkit::http::get(self.ui, path, None);
        (status, body)
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Polls `/api/stats` every 2 ms until `done` holds; the stats.
    fn wait_stats(&self, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let v = self.json("/api/stats");
            if done(&v) {
                return v;
            }
            assert!(Instant::now() < deadline, "never: {v:#}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `VmRSS` of `pid`, bytes.
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0)
        * 1024
}

/// User + system CPU time of `pid` (all its threads), seconds.
fn cpu(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command's closing parenthesis: state is the 3rd field, utime the 14th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

/// The 1-minute load average.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn quantile(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

// ---------------------------------------------------------------------------------------------
// Telemetry like procman's, encoded before the clock starts.

fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..KeyValue::default()
    }
}

fn resource() -> Option<Resource> {
    Some(Resource {
        attributes: vec![
            kv("service.name", "procman"),
            kv("service.version", "0.1.0"),
            kv("deployment.environment.name", "bench"),
            kv("telemetry.sdk.name", "watchpost"),
        ],
        ..Resource::default()
    })
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// Trace id `n` of `round` (never zero).
fn trace_id(round: u32, n: u64) -> Vec<u8> {
    let mut t = vec![0u8; 16];
    t[..4].copy_from_slice(&round.to_be_bytes());
    t[4..12].copy_from_slice(&n.to_be_bytes());
    t[15] = 1;
    t
}

fn span_id(n: u64) -> Vec<u8> {
    (n + 1).to_be_bytes().to_vec()
}

#[allow(clippy::too_many_arguments)]
fn span(
    trace: &[u8],
    id: u64,
    parent: Option<u64>,
    name: &str,
    kind: i32,
    start: u64,
    nanos: u64,
    attributes: Vec<KeyValue>,
    failed: bool,
) -> Span {
    Span {
        trace_id: trace.to_vec(),
        span_id: span_id(id),
        parent_span_id: parent.map(span_id).unwrap_or_default(),
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + nanos,
        attributes,
        status: failed.then(|| Status {
            message: "spawn failed".into(),
            code: status::StatusCode::Error as i32,
        }),
        ..Span::default()
    }
}

fn server_attrs(route: &str, status: i64) -> Vec<KeyValue> {
    vec![
        kv("http.request.method", "POST"),
        kv("http.route", route),
        kv("url.path", "/instances/9f3c2a71be04/exec"),
        kv("url.scheme", "http"),
        kv("network.protocol.version", "1.1"),
        kv("server.address", "127.0.0.1"),
        kv_int("server.port", 8080),
        kv("client.address", "127.0.0.1"),
        kv_int("http.response.status_code", status),
    ]
}

fn traces(spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// Batch `b` of an ingest round: 128 requests of 4 spans.
fn span_batch(round: u32, b: usize, t0: u64) -> Bytes {
    let mut spans = Vec::with_capacity(512);
    for r in 0..128u64 {
        let n = b as u64 * 128 + r;
        let trace = trace_id(round, n);
        let start = t0 + n * 1_000;
        spans.push(span(
            &trace,
            0,
            None,
            "POST /instances/{id}/exec",
            2,
            start,
            5_000_000,
            server_attrs("/instances/{id}/exec", 200),
            false,
        ));
        for (c, name) in ["authorize", "exec", "read_output"].into_iter().enumerate() {
            spans.push(span(
                &trace,
                c as u64 + 1,
                Some(0),
                name,
                1,
                start + 100_000 * (c as u64 + 1),
                1_000_000,
                vec![kv("instance_id", "9f3c2a71be04"), kv("command", "uname")],
                false,
            ));
        }
    }
    traces(spans).encode_to_vec().into()
}

/// Batch `b` of a log round: 512 access lines.
fn log_batch(round: u32, b: usize, t0: u64) -> Bytes {
    let records = (0..512u64)
        .map(|i| {
            let n = b as u64 * 512 + i;
            LogRecord {
                time_unix_nano: t0 + n * 1_000,
                observed_time_unix_nano: t0 + n * 1_000,
                severity_number: 9,
                severity_text: "INFO".into(),
                body: Some(AnyValue {
                    value: Some(any_value::Value::StringValue("request handled".into())),
                }),
                attributes: vec![
                    kv("subsystem", "API"),
                    kv("method", "POST"),
                    kv("path", "/instances/{id}/exec"),
                    kv_int("status", 200),
                    kv_int("bytes", 127),
                    kv("remote_addr", "127.0.0.1:41998"),
                    kv("instance_id", "9f3c2a71be04"),
                ],
                trace_id: trace_id(round, n),
                span_id: span_id(0),
                ..LogRecord::default()
            }
        })
        .collect();
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
    .encode_to_vec()
    .into()
}

/// Batch `b` of the query round: 256 traces of a server span and a child, 1% failed.
fn query_batch(b: usize, t0: u64) -> Bytes {
    let mut spans = Vec::with_capacity(512);
    for r in 0..256u64 {
        let n = b as u64 * 256 + r;
        let trace = trace_id(9, n);
        let start = t0 + n * 10_000;
        let failed = n % 100 == 7;
        spans.push(span(
            &trace,
            0,
            None,
            "POST /instances",
            2,
            start,
            3_000_000,
            server_attrs("/instances", if failed { 500 } else { 201 }),
            failed,
        ));
        spans.push(span(
            &trace,
            1,
            Some(0),
            "create_instance",
            1,
            start + 100_000,
            2_000_000,
            vec![kv("instance_id", "9f3c2a71be04"), kv("name", "ticker")],
            failed,
        ));
    }
    traces(spans).encode_to_vec().into()
}

/// Export `e` of the memory round: 1 000 spans in 10 traces, as the budget test sends.
fn memory_batch(e: u32, t0: u64) -> Bytes {
    let spans = (0..1_000u32)
        .map(|i| {
            let trace = memory_trace(e, i);
            let id = (u64::from(e) << 32) | u64::from(i);
            let root = (u64::from(e) << 32) | u64::from(i / 100 * 100);
            let mut s = span(
                &trace,
                id,
                (i % 100 != 0).then_some(root),
                if i % 100 == 0 {
                    "GET /orders/{id}"
                } else {
                    "SELECT orders"
                },
                if i % 100 == 0 { 2 } else { 3 },
                t0 + u64::from(e) * 1_000_000 + u64::from(i),
                1_000_000,
                vec![
                    kv("http.route", "/orders/{id}"),
                    kv("db.statement", "SELECT * FROM orders WHERE id = $1"),
                    kv_int("order.id", i64::from(i)),
                ],
                false,
            );
            s.events.push(Event {
                time_unix_nano: s.start_time_unix_nano,
                name: "row read".into(),
                ..Event::default()
            });
            s
        })
        .collect();
    traces(spans).encode_to_vec().into()
}

fn memory_trace(e: u32, i: u32) -> Vec<u8> {
    trace_id(7, (u64::from(e) << 8) | u64::from(i / 100))
}

// ---------------------------------------------------------------------------------------------
// Senders: tonic clients that send encoded bytes (so the sender's cost is a copy).

#[derive(Clone, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Bytes;
    type Decode = ();
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Bytes;
    type Error = tonic::Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = ();
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, tonic::Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

/// What a send did.
#[derive(Debug, Default, Clone, Copy)]
struct Sent {
    /// From the first export to the last answer.
    elapsed: Duration,
    /// Exports refused while the queue was full (and sent again).
    retries: u64,
}

/// Sends every batch once to `addr` on `path` from [`SENDERS`] clients; each batch is sent
/// again after [`RETRY_MS`] while it is refused with `UNAVAILABLE`.
async fn send_all(addr: SocketAddr, path: &'static str, batches: Arc<Vec<Bytes>>) -> Sent {
    let next = Arc::new(AtomicUsize::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let mut channels = Vec::new();
    for _ in 0..SENDERS.load(Ordering::Relaxed) {
        channels.push(
            tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
                .unwrap()
                .connect()
                .await
                .expect("connect over gRPC"),
        );
    }
    let started = Instant::now();
    let tasks: Vec<_> = channels
        .into_iter()
        .map(|channel| {
            let (next, retries, batches) = (next.clone(), retries.clone(), batches.clone());
            tokio::spawn(async move {
                let mut grpc = tonic::client::Grpc::new(channel);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(batch) = batches.get(i) else { break };
                    loop {
                        grpc.ready().await.expect("the channel is ready");
                        let answer = grpc
                            .unary(
                                tonic::Request::new(batch.clone()),
                                tonic::codegen::http::uri::PathAndQuery::from_static(path),
                                Raw,
                            )
                            .await;
                        match answer {
                            Ok(_) => break,
                            Err(s) if s.code() == tonic::Code::Unavailable => {
                                retries.fetch_add(1, Ordering::Relaxed);
                                let ms = RETRY_MS.load(Ordering::Relaxed);
                                tokio::time::sleep(Duration::from_millis(ms)).await;
                            }
                            Err(s) => panic!("export refused: {s}"),
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    Sent {
        elapsed: started.elapsed(),
        retries: retries.load(Ordering::Relaxed),
    }
}

/// A collector that decodes every export and keeps nothing.
#[derive(Default)]
struct NullSink;

#[tonic::async_trait]
impl TraceService for NullSink {
    async fn export(
        &self,
        r: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        drop(r);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for NullSink {
    async fn export(
        &self,
        r: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        drop(r);
        Ok(tonic::Response::new(ExportLogsServiceResponse::default()))
    }
}

async fn null_sink() -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(NullSink).max_decoding_message_size(64 << 20))
            .add_service(LogsServiceServer::new(NullSink).max_decoding_message_size(64 << 20))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener))
            .await
            .unwrap();
    });
    addr
}

// ---------------------------------------------------------------------------------------------
// The groups.

fn startup(rounds: usize) {
    let (mut listening, mut answering, mut idle) = (vec![], vec![], vec![]);
    for round in 0..rounds {
        let started = Instant::now();
        let console = Console::start("256MiB");
        let first = loop {
            if let Ok(mut s) = std::net::TcpStream::connect(console.ui) {
                use std::io::{Read, Write};
                let _ = s.write_all(
                    b"GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                );
                let mut head = [0u8; 12];
                if s.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200") {
                    break started.elapsed();
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        std::thread::sleep(Duration::from_secs(1));
        let r = rss(console.pid());
        println!(
            "startup round {round}: listening {:.1} ms, first /api/stats answer {:.1} ms, idle RSS {:.1} MiB (load {})",
            console.listening.as_secs_f64() * 1e3,
            first.as_secs_f64() * 1e3,
            r as f64 / 1048576.0,
            load()
        );
        listening.push(console.listening.as_secs_f64() * 1e3);
        answering.push(first.as_secs_f64() * 1e3);
        idle.push(r as f64 / 1048576.0);
    }
    println!(
        "startup: median listening {:.1} ms, first answer {:.1} ms (target < 1000 ms); idle RSS {:.1} MiB (target <= 40 MiB) (load {})",
        median(listening),
        median(answering),
        median(idle),
        load()
    );
}

/// Sends `batches` of `items` each to a fresh console; (items/s, console cores, bench cores,
/// retries).
fn ingest_once(
    rt: &tokio::runtime::Runtime,
    path: &'static str,
    batches: Arc<Vec<Bytes>>,
    items: u64,
    counter: &'static str,
) -> (f64, f64, f64, u64) {
    let console = Console::start("256MiB");
    let pid = console.pid().to_string();
    let (cpu0, self0) = (cpu(&pid), cpu("self"));
    let started = Instant::now();
    let sent = rt.block_on(send_all(console.grpc, path, batches));
    let total = items;
    console.wait_stats(|s| s["received"][counter].as_u64() == Some(total));
    let wall = started.elapsed().as_secs_f64();
    let cores = (cpu(&pid) - cpu0) / wall;
    let own = (cpu("self") - self0) / wall;
    (total as f64 / wall, cores, own, sent.retries)
}

fn ingest(rounds: usize, rt: &tokio::runtime::Runtime, signals: &[&str]) {
    let t0 = now_ns() - 600_000_000_000;
    for (what, path, counter, batches, per) in [
        ("spans", TRACES_PATH, "spans", SPAN_BATCHES, 512u64),
        ("log records", LOGS_PATH, "logs", LOG_BATCHES, 512u64),
    ] {
        if !signals.contains(&counter) {
            continue;
        }
        let (mut rates, mut nulls) = (vec![], vec![]);
        for round in 0..rounds {
            let encoded: Arc<Vec<Bytes>> = Arc::new(
                (0..batches)
                    .map(|b| {
                        if counter == "spans" {
                            span_batch(round as u32 + 1, b, t0)
                        } else {
                            log_batch(round as u32 + 1, b, t0)
                        }
                    })
                    .collect(),
            );
            let bytes: usize = encoded.iter().map(Bytes::len).sum();
            let items = batches as u64 * per;
            // The senders alone: a null sink in this process.
            let null = rt.block_on(async {
                let addr = null_sink().await;
                send_all(addr, path, encoded.clone()).await
            });
            let null_rate = items as f64 / null.elapsed.as_secs_f64();
            let (rate, cores, own, retries) =
                ingest_once(rt, path, encoded.clone(), items, counter);
            println!(
                "ingest {what} round {round}: {items} in {} exports ({:.1} MB): console {:.0}/s (console CPU {:.2} cores, senders {:.2} cores, {retries} retries); null sink {:.0}/s (load {})",
                batches,
                bytes as f64 / 1e6,
                rate,
                cores,
                own,
                null_rate,
                load()
            );
            rates.push(rate);
            nulls.push(null_rate);
        }
        println!(
            "ingest {what}: median {:.0}/s (null sink {:.0}/s) (load {})",
            median(rates),
            median(nulls),
            load()
        );
    }
}

fn query(rounds: usize, rt: &tokio::runtime::Runtime) {
    let t0 = now_ns() - 3_600_000_000_000;
    let encoded: Arc<Vec<Bytes>> = Arc::new(
        (0..QUERY_TRACES / 256 + 1)
            .map(|b| query_batch(b, t0))
            .collect(),
    );
    let traces = encoded.len() * 256;
    let mut medians: Vec<(&str, Vec<f64>)> = vec![
        ("/api/traces", vec![]),
        ("/traces", vec![]),
        ("/api/traces?errors=true", vec![]),
    ];
    for round in 0..rounds {
        let console = Console::start("1GiB");
        rt.block_on(send_all(console.grpc, TRACES_PATH, encoded.clone()));
        let stats =
            console.wait_stats(|s| s["received"]["spans"].as_u64() == Some(traces as u64 * 2));
        assert_eq!(stats["evicted"]["spans"], 0, "{stats:#}");
        assert_eq!(stats["traces"].as_u64(), Some(traces as u64), "{stats:#}");
        let list = console.json("/api/traces");
        let n = list
            .as_array()
            .or_else(|| list["traces"].as_array())
            .map_or(0, Vec::len);
        assert_eq!(n, 100, "the default page holds 100 traces");
        for (path, all) in &mut medians {
            for _ in 0..5 {
                console.get(path);
            }
            let times: Vec<f64> = (0..QUERIES)
                .map(|_| {
                    let t = Instant::now();
                    let (status, _) = console.get(path);
                    assert_eq!(status, 200);
                    t.elapsed().as_secs_f64() * 1e3
                })
                .collect();
            let (m, p90) = (median(times.clone()), quantile(times, 0.9));
            println!(
                "query {path} round {round}: {traces} traces ({} MiB stored): median {m:.2} ms, p90 {p90:.2} ms over {QUERIES} (load {})",
                stats["bytes"].as_u64().unwrap() >> 20,
                load()
            );
            all.push(m);
        }
    }
    for (path, all) in medians {
        println!(
            "query {path}: median of round medians {:.2} ms (target <= 50 ms for /api/traces) (load {})",
            median(all),
            load()
        );
    }
}

fn memory(rounds: usize, rt: &tokio::runtime::Runtime) {
    const BUDGET: u64 = 64 << 20;
    let t0 = now_ns() - 3_600_000_000_000;
    let mut peaks = vec![];
    for round in 0..rounds {
        let encoded: Arc<Vec<Bytes>> =
            Arc::new((0..1_000u32).map(|e| memory_batch(e, t0)).collect());
        let console = Console::start("64MiB");
        let pid = console.pid();
        let idle = rss(pid);
        let peak = Arc::new(AtomicU64::new(idle));
        let done = Arc::new(AtomicBool::new(false));
        let sampler = {
            let (peak, done) = (peak.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(Ordering::Relaxed) {
                    peak.fetch_max(rss(pid), Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let sent = rt.block_on(send_all(console.grpc, TRACES_PATH, encoded));
        let stats = console.wait_stats(|s| s["received"]["spans"].as_u64() == Some(1_000_000));
        std::thread::sleep(Duration::from_millis(200));
        done.store(true, Ordering::Relaxed);
        sampler.join().unwrap();
        let peak = peak.load(Ordering::Relaxed).max(rss(pid));
        let newest = console.json(&format!(
            "/api/traces/{}",
            watchpost_cli::console::store::hex(&memory_trace(999, 999))
        ));
        let whole = newest["spans"].as_u64() == Some(100)
            || newest["spans"].as_array().is_some_and(|a| a.len() == 100);
        let (oldest, _) = console.get(&format!(
            "/api/traces/{}",
            watchpost_cli::console::store::hex(&memory_trace(0, 0))
        ));
        println!(
            "memory round {round}: 10^6 spans, budget 64 MiB: idle {:.1} MiB, peak RSS {:.1} MiB (bound {} MiB: {}), store {:.1} MiB, {} held, {} evicted, {} retries; newest trace whole: {whole}, oldest answers {oldest} (load {})",
            idle as f64 / 1048576.0,
            peak as f64 / 1048576.0,
            (BUDGET + (30 << 20)) >> 20,
            if peak < BUDGET + (30 << 20) { "under" } else { "OVER" },
            stats["bytes"].as_u64().unwrap() as f64 / 1048576.0,
            stats["stored"]["spans"],
            stats["evicted"]["spans"],
            sent.retries,
            load()
        );
        peaks.push(peak as f64 / 1048576.0);
    }
    println!(
        "memory: median peak RSS {:.1} MiB with a 64 MiB budget (bound 94 MiB) (load {})",
        median(peaks),
        load()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut rounds = 3;
    let mut groups = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => rounds = it.next().and_then(|r| r.parse().ok()).unwrap_or(3),
            "--senders" => {
                let n = it.next().and_then(|r| r.parse().ok()).unwrap_or(4);
                SENDERS.store(n, Ordering::Relaxed);
            }
            "--retry-ms" => {
                let n = it.next().and_then(|r| r.parse().ok()).unwrap_or(1);
                RETRY_MS.store(n, Ordering::Relaxed);
            }
            a if a.starts_with('-') => {} // --bench, from cargo
            g => groups.push(g.to_owned()),
        }
    }
    let all = groups.is_empty();
    let wants = |g: &str| all || groups.iter().any(|x| x == g);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "watchpost console bench: {} ({} rounds, {} senders, retry after {} ms, {} cores, load {})",
        env!("CARGO_BIN_EXE_watchpost"),
        rounds,
        SENDERS.load(Ordering::Relaxed),
        RETRY_MS.load(Ordering::Relaxed),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        load()
    );
    if wants("startup") {
        startup(rounds);
    }
    // `ingest` is both signals; `ingest-spans` or `ingest-logs` one of them.
    if wants("ingest") || wants("ingest-spans") || wants("ingest-logs") {
        let signals: Vec<&str> = ["spans", "logs"]
            .into_iter()
            .filter(|s| wants("ingest") || wants(&format!("ingest-{s}")))
            .collect();
        ingest(rounds, &rt, &signals);
    }
    if wants("query") {
        query(rounds, &rt);
    }
    if wants("memory") {
        memory(rounds, &rt);
    }
}
