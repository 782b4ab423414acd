//! Nobody reads procman's stdout (a stalled log collector, a full pipe): requests are still
//! served, because log lines are written by a background thread, not by the request threads.
//! When the reader catches up, every access line is there, in order.
mod support;

use std::io::{BufRead, BufReader};

use support::Procman;
use watchpost_testkit::process;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_consumer_that_stops_reading_never_stalls_requests() {
    let (procman, stdout) = Procman::spawn_holding_stdout(&[]);
    let client = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .unwrap();
    // ~1 MB of access lines: far more than a pipe holds (64 KiB), far less than the buffer.
    const N: usize = 3000;
    for i in 0..N {
        let r = client
            .get(procman.url(&format!("/instances?seq={i}")))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} failed while stdout was not read: {e}"));
        assert_eq!(r.status(), 200);
    }
    let metrics = process::metrics_text(&client, procman.metrics).await;
    assert!(
        metrics.contains("procman_log_write_errors_total 0"),
        "nothing dropped: {}",
        metrics
            .lines()
            .filter(|l| l.contains("log_write"))
            .collect::<Vec<_>>()
            .join("\n")
    );

    // Now read: the lines come out in request order, none missing.
    let reader = std::thread::spawn(move || {
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .collect::<Vec<_>>()
    });
    let code = tokio::task::spawn_blocking(move || procman.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    let lines = reader.join().unwrap();
    let handled: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("JSON line"))
        .filter(|v| v["msg"] == "request handled" && v["path"] == "/instances")
        .collect();
    assert_eq!(handled.len(), N);
    let times: Vec<&str> = handled
        .iter()
        .map(|v| v["time"].as_str().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "lines out of order");
}
