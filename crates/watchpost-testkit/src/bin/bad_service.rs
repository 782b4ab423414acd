//! A deliberately bad service: every rule of `watchpost lint`/`check` broken exactly once.
//!
//! ```text
//! bad_service --metrics-listen 127.0.0.1:PORT --otlp-endpoint http://127.0.0.1:4317
//! ```
//!
//! It serves `watchpost_testkit::bad::exposition::BAD_EXPOSITION` on `/metrics` (plus one
//! unreadable line, and from the second scrape on a family that gained 109 series), prints
//! `bad::logs::BAD_LOG_LINES` on stdout, exports `bad::spans::bad_traces()` and `bad_logs()` over
//! OTLP/gRPC, says `bad-service: sent` on stderr, and serves until SIGTERM.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::routing::get;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use watchpost_testkit::bad;

/// The family that grows between scrapes (`metric.series-growth`).
const GROWING: &str = "bad_series_growth_items";

fn exposition(scrape: u64) -> String {
    let mut out = String::from(bad::exposition::BAD_EXPOSITION);
    out.push_str(&format!(
        "# HELP {GROWING} Items, by a label that keeps growing.\n# TYPE {GROWING} gauge\n"
    ));
    // 1 series at the first scrape, 110 after: growth of 109, no label past 11 values.
    let series = if scrape == 0 { 1 } else { 110 };
    for i in 0..series {
        out.push_str(&format!(
            "{GROWING}{{shard=\"s{}\",slot=\"{}\"}} 1\n",
            i % 10,
            i / 10
        ));
    }
    // `metric.parse-error`: a line no exposition format allows.
    out.push_str("bad_parse_error{unterminated=\"1 2\n");
    out
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut listen, mut endpoint) = (None, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--metrics-listen" => listen = args.next(),
            "--otlp-endpoint" => endpoint = args.next(),
            other => panic!("bad_service: unknown argument {other:?}; expected --metrics-listen ADDR --otlp-endpoint URL"),
        }
    }
    let listen = listen.unwrap_or_else(|| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .expect("bind --metrics-listen");
    eprintln!(
        "bad-service: metrics on http://{}",
        listener.local_addr().expect("local addr")
    );
    let scrapes = Arc::new(AtomicU64::new(0));
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let n = scrapes.fetch_add(1, Ordering::SeqCst);
            async move { exposition(n) }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });

    {
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        for line in bad::logs::BAD_LOG_LINES {
            writeln!(out, "{line}").expect("stdout");
        }
        out.flush().expect("stdout");
    }

    if let Some(endpoint) = endpoint {
        // The checker may start after us (`bad_service | watchpost check …`): retry for 10 s.
        let mut tries = 0;
        let mut traces = loop {
            match TraceServiceClient::connect(endpoint.clone()).await {
                Ok(c) => break c,
                Err(e) if tries == 100 => panic!("connect OTLP {endpoint}: {e}"),
                Err(_) => tries += 1,
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        };
        traces
            .export(bad::spans::bad_traces())
            .await
            .expect("export traces");
        let mut logs = LogsServiceClient::connect(endpoint)
            .await
            .expect("connect OTLP");
        logs.export(bad::spans::bad_logs())
            .await
            .expect("export logs");
    }
    eprintln!("bad-service: sent");

    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("signal");
    term.recv().await;
}
