//! A segment of the real `watchpost console --data DIR` whose last record was cut short (the
//! process killed mid-write) does not stop the next start: what comes before the cut is replayed,
//! and one warning names the file and the offset of the cut record.

#[path = "support/console.rs"]
mod support;

use std::time::Duration;

use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_skips_a_truncated_segment_with_a_warning() {
    let dir = std::env::temp_dir().join(format!("watchpost-console-cut-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.to_str().unwrap();
    let t0 = now_ns() - 5_000_000_000;
    let trace = trace_id(3);
    {
        let console = start(&["--data", data]);
        let spans = vec![span(
            trace,
            span_id(1),
            None,
            "GET /health",
            2,
            t0,
            3,
            vec![],
            None,
        )];
        grpc_traces(console.grpc, traces("svc", spans)).await;
        console.wait_for("/api/stats", |s| s["stored"]["spans"] == 1);
        let records = vec![log(
            t0,
            9,
            "lost in the cut",
            Some((trace, span_id(1))),
            vec![],
        )];
        grpc_logs(console.grpc, logs("svc", records)).await;
        console.wait_for("/api/stats", |s| s["stored"]["logs"] == 1);
    }
    let segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !p.ends_with(".lock")) // the console's lock on the directory
        .collect();
    assert_eq!(segments.len(), 1, "{segments:?}");
    let segment = &segments[0];
    let bytes = std::fs::read(segment).unwrap();
    // After the 8-byte header: the spans' record (its length, its checksum, its body), then the
    // log's, which loses its last 5 bytes.
    let first = u32::from_le_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let cut_at = 8 + 8 + first;
    assert!(
        bytes.len() > cut_at + 8,
        "two records: {} bytes",
        bytes.len()
    );
    std::fs::write(segment, &bytes[..bytes.len() - 5]).unwrap();

    let console = start(&["--data", data]);
    let stats = console.json("/api/stats");
    assert_eq!(stats["stored"]["spans"], 1, "{stats:#}");
    assert_eq!(stats["stored"]["logs"], 0, "{stats:#}");
    assert_eq!(stats["data"]["skipped_tails"], 1, "{stats:#}");
    assert_eq!(
        stats["data"]["skipped_bytes"],
        (bytes.len() - 5 - cut_at) as u64,
        "the cut record's bytes are counted: {stats:#}"
    );
    let lines = console.process.drain_json(Duration::from_millis(200));
    let warnings: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["level"] == "WARN"
                && l.get("msg")
                    .and_then(|m| m.as_str())
                    .is_some_and(|m| m.contains("unreadable end"))
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{lines:#?}");
    let text = serde_json::to_string(warnings[0]).unwrap();
    assert!(
        text.contains(segment.file_name().unwrap().to_str().unwrap()),
        "{text}"
    );
    assert!(text.contains(&format!("\"offset\":{cut_at}")), "{text}");
    drop(console);
    let _ = std::fs::remove_dir_all(&dir);
}
