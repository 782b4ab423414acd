//! Bounded: the real `watchpost console` with a 64 MiB budget receives 10⁶ spans over OTLP/gRPC
//! (1 000 exports of 1 000, each span with a few attributes and an event). The store's estimate
//! stays under the budget; what the process's resident memory grows by over its idle size stays
//! under the budget + 10 MiB (the exports decoded and waiting, at most 4, and the allocator's
//! fragmentation: the estimate counts every allocation as glibc sizes it); the newest trace is
//! whole and queryable while the oldest are evicted (and counted).
//!
//! The idle size is left out because this is a debug build (about 23 MiB idle, against a
//! release build's few); the total is printed (`--nocapture`).

#[path = "support/console.rs"]
mod support;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::trace::v1::span::Event;
use support::*;

const EXPORTS: u32 = 1_000;
const SPANS: u32 = 1_000;
const BUDGET: u64 = 64 << 20;

/// Resident memory of `pid` in bytes (`VmRSS` in /proc).
fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS");
    kib * 1024
}

fn trace_of(export: u32, span: u32) -> [u8; 16] {
    let mut t = [0u8; 16];
    t[..4].copy_from_slice(&export.to_be_bytes());
    // 10 traces per export, 100 spans each.
    t[4..8].copy_from_slice(&(span / 100).to_be_bytes());
    t[15] = 1;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_stays_within_its_budget_under_a_million_spans() {
    let console = start(&["--budget", "64MiB"]);
    let pid = console.process.child.id();
    let idle = rss(pid);
    let mut client = TraceServiceClient::connect(format!("http://{}", console.grpc))
        .await
        .unwrap();
    let t0 = now_ns() - 3_600_000_000_000;
    let mut peak = 0;
    for e in 0..EXPORTS {
        let spans = (0..SPANS)
            .map(|i| {
                let mut id = [0u8; 8];
                id[..4].copy_from_slice(&e.to_be_bytes());
                id[4..].copy_from_slice(&(i + 1).to_be_bytes());
                let mut parent = id;
                parent[4..].copy_from_slice(&(i / 100 * 100 + 1).to_be_bytes());
                let mut s = span(
                    trace_of(e, i),
                    id,
                    (i % 100 != 0).then_some(parent),
                    if i % 100 == 0 {
                        "GET /orders/{id}"
                    } else {
                        "SELECT orders"
                    },
                    if i % 100 == 0 { 2 } else { 3 },
                    t0 + u64::from(e) * 1_000_000 + u64::from(i),
                    1,
                    vec![
                        kv("http.route", "/orders/{id}"),
                        kv("db.statement", "SELECT * FROM orders WHERE id = $1"),
                        kv_int("order.id", i64::from(i)),
                    ],
                    None,
                );
                s.events.push(Event {
                    time_unix_nano: s.start_time_unix_nano,
                    name: "row read".into(),
                    ..Event::default()
                });
                s
            })
            .collect();
        // As an SDK's exporter does: retry what the console refuses while it catches up.
        let request = traces("bulk", spans);
        loop {
            match client.export(request.clone()).await {
                Ok(_) => break,
                Err(s) if s.code() == tonic::Code::Unavailable => {
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
                Err(s) => panic!("export refused: {s}"),
            }
        }
        if e % 50 == 49 {
            peak = peak.max(rss(pid));
        }
    }
    let total = u64::from(EXPORTS) * u64::from(SPANS);
    let stats = console.wait_for("/api/stats", |s| {
        s["received"]["spans"].as_u64() == Some(total)
    });
    peak = peak.max(rss(pid));
    let evicted = stats["evicted"]["spans"].as_u64().unwrap();
    assert!(evicted > 0, "{stats:#}");
    assert!(stats["bytes"].as_u64().unwrap() <= BUDGET, "{stats:#}");
    assert!(
        peak.saturating_sub(idle) <= BUDGET + (10 << 20),
        "resident memory grew by {} MiB (idle {} MiB) with a 64 MiB budget: {stats:#}",
        (peak - idle) >> 20,
        idle >> 20
    );
    // The newest trace is whole; the oldest is gone.
    let newest = console.json(&format!(
        "/api/traces/{}",
        hex(&trace_of(EXPORTS - 1, SPANS - 1))
    ));
    assert_eq!(newest["spans"], 100);
    let (status, _) = console.get(&format!("/api/traces/{}", hex(&trace_of(0, 0))));
    assert_eq!(status, 404);
    eprintln!(
        "peak RSS {} MiB (idle {} MiB, growth {} MiB); store {} MiB of 64; {} spans held, {} evicted; live checks: {}",
        peak >> 20,
        idle >> 20,
        (peak - idle) >> 20,
        stats["bytes"].as_u64().unwrap() >> 20,
        stats["stored"]["spans"],
        evicted,
        stats["live"]["findings"]
    );
}
