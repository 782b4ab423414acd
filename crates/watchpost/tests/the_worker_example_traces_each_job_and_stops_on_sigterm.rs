//! `examples/worker.rs`, run as a user runs it: each job is a trace of its own whose lines (its
//! DEBUG steps with `LOG_LEVEL_JOBS=debug`, then one INFO or WARN line) carry its `trace_id` and
//! `job_id`; `/metrics` counts jobs by outcome and items; SIGTERM ends it with exit code 0.

use std::time::Duration;

use watchpost_testkit::capture::{parse, Line};
use watchpost_testkit::process::{command, example, metric, Process};

#[tokio::test]
async fn the_worker_example_traces_each_job_and_stops_on_sigterm() {
    let mut cmd = command(example(env!("CARGO_MANIFEST_DIR"), "worker"));
    cmd.env("WORKER_INTERVAL_MS", "10")
        .env("METRICS_LISTEN", "127.0.0.1:0")
        .env("LOG_LEVEL_JOBS", "debug");
    let mut worker = Process::spawn(&mut cmd, "worker");
    let [metrics] = worker.listeners("worker", ["metrics on http://"]);

    // Six jobs done (jobs 3 and 6 fail), then a scrape.
    let mut lines: Vec<Line> = Vec::new();
    while !lines
        .iter()
        .any(|l| l["job_id"] == 6 && l["level"] != "DEBUG")
    {
        let line = worker
            .stdout
            .recv_timeout(Duration::from_secs(30))
            .expect("the worker's next line");
        lines.push(parse(&line));
    }
    let http = reqwest::Client::new();
    let errors = r#"worker_job_duration_seconds_count{outcome="error"}"#;
    assert!(metric(&http, metrics, errors).await >= 2.0);
    let successes = r#"worker_job_duration_seconds_count{outcome="success"}"#;
    assert!(metric(&http, metrics, successes).await >= 4.0);
    // Jobs 1, 2, 4 and 5 processed 10, 20, 40 and 50 items.
    assert!(metric(&http, metrics, "worker_items_processed_total").await >= 120.0);

    worker.sigterm();
    assert_eq!(worker.wait(), 0, "a clean exit on SIGTERM");

    for job in 1..=6u64 {
        let of_job: Vec<&Line> = lines.iter().filter(|l| l["job_id"] == job).collect();
        let levels: Vec<&str> = of_job
            .iter()
            .map(|l| l["level"].as_str().unwrap())
            .collect();
        let last = if job % 3 == 0 { "WARN" } else { "INFO" };
        assert_eq!(levels.last(), Some(&last), "job {job}: {of_job:#?}");
        assert_eq!(
            levels.iter().filter(|l| **l != "DEBUG").count(),
            1,
            "{of_job:#?}"
        );
        assert!(
            levels.contains(&"DEBUG"),
            "LOG_LEVEL_JOBS=debug shows the steps: {of_job:#?}"
        );
        let trace = &of_job[0]["trace_id"];
        assert_eq!(trace.as_str().map(str::len), Some(32), "{of_job:#?}");
        assert!(of_job
            .iter()
            .all(|l| &l["trace_id"] == trace && l["subsystem"] == "JOBS"));
    }
    let failed = lines
        .iter()
        .find(|l| l["job_id"] == 3 && l["level"] == "WARN")
        .unwrap();
    assert_eq!(failed["msg"], "job failed");
    assert_eq!(failed["reason"], "the upstream queue was empty");
    let traces: std::collections::HashSet<_> = lines
        .iter()
        .map(|l| l["trace_id"].as_str().unwrap())
        .collect();
    assert!(traces.len() >= 6, "one trace per job");
}
