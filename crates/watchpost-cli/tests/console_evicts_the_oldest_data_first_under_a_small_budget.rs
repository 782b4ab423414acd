//! Under a 1 MiB budget, 4 000 spans (far more than fit) are sent over gRPC: the real
//! `watchpost console` evicts the oldest first and counts it, the estimate never passes the
//! budget, the newest traces are still queryable, the oldest are gone, and the page says so.

#[path = "support/console.rs"]
mod support;

use support::*;

const BATCHES: u8 = 40;
const SPANS: u8 = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_evicts_the_oldest_data_first_under_a_small_budget() {
    let console = start(&["--budget", "1MiB"]);
    let t0 = now_ns() - 60_000_000_000;
    // One trace per batch, each span with a few hundred bytes of attributes.
    for b in 0..BATCHES {
        let spans = (0..SPANS)
            .map(|i| {
                span(
                    trace_id(b),
                    span_id(i + 1),
                    (i > 0).then(|| span_id(1)),
                    &format!("step {i} of batch {b}"),
                    1,
                    t0 + u64::from(b) * 1_000_000_000,
                    5,
                    vec![kv("payload", &"x".repeat(200)), kv("batch", &b.to_string())],
                    None,
                )
            })
            .collect();
        grpc_traces(console.grpc, traces("bulk", spans)).await;
    }
    let total = u64::from(BATCHES) * u64::from(SPANS);
    let stats = console.wait_for("/api/stats", |s| {
        s["stored"]["spans"].as_u64().unwrap() + s["evicted"]["spans"].as_u64().unwrap() == total
    });
    let evicted = stats["evicted"]["spans"].as_u64().unwrap();
    assert!(evicted > 0, "nothing evicted under 1 MiB: {stats:#}");
    assert!(
        stats["bytes"].as_u64().unwrap() <= 1 << 20,
        "the estimate passed the budget: {stats:#}"
    );
    assert_eq!(stats["budget"], 1 << 20);
    // Oldest first: whole early batches are gone, the last one is whole.
    let newest = console.json(&format!("/api/traces/{}", hex(&trace_id(BATCHES - 1))));
    assert_eq!(newest["spans"], u64::from(SPANS));
    let (status, _) = console.get(&format!("/api/traces/{}", hex(&trace_id(0))));
    assert_eq!(status, 404, "the oldest trace is still held");
    let listed = console.json("/api/traces?limit=1000");
    let kept = listed["traces"].as_array().unwrap();
    assert_eq!(
        kept[0]["trace_id"],
        hex(&trace_id(BATCHES - 1)),
        "newest first"
    );
    let held: u64 = kept.iter().map(|t| t["spans"].as_u64().unwrap()).sum();
    assert_eq!(
        held,
        total - evicted,
        "every span held is in a listed trace"
    );
    // The page shows the evictions too.
    let (status, _, page) = watchpost_testkit::http::get(console.ui, "/traces", None);
    assert_eq!(status, 200);
    assert!(
        page.contains(&format!("evicted {evicted} spans")),
        "the page does not show the evictions: {page}"
    );
}
