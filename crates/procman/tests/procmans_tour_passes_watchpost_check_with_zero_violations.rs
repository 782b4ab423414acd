//! The reference service passes its own standard: procman's tour (every route, input errors, an
//! exec timeout, a 404, a log stream, a delete, a graceful stop) with OTLP export into a running
//! `watchpost check` — its log lines followed from a file, its `/metrics` scraped during the tour,
//! its spans and log records received over OTLP/gRPC — ends with zero violations.
mod support;

use std::io::Write as _;
use std::time::Duration;

use serde_json::json;
use watchpost_cli::check::{self, CheckOptions};
use watchpost_cli::config::Config;
use watchpost_cli::finding::{Level, Signal};
use watchpost_testkit::tools::TempDir;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procmans_tour_passes_watchpost_check_with_zero_violations() {
    let dir = TempDir::new("check-procman");
    let log_path = dir.0.join("procman.log");
    std::fs::File::create(&log_path).unwrap();
    let catalogue_path = dir.0.join("catalogue.json");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_procman"))
        .args(["--catalogue", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::fs::write(&catalogue_path, &out.stdout).unwrap();

    let metrics_addr = format!("127.0.0.1:{}", watchpost_testkit::process::free_port());
    let running = check::start(
        CheckOptions {
            metrics: Some(format!("http://{metrics_addr}/metrics")),
            logs: Some(log_path.display().to_string()),
            otlp: Some("127.0.0.1:0".into()),
            grace: Duration::from_secs(1),
            scrape_interval: Duration::from_millis(300),
            catalogue: Some(catalogue_path.display().to_string()),
            ..CheckOptions::default()
        },
        Config::default(),
    )
    .await
    .unwrap();
    let otlp = running.otlp_grpc_addr().unwrap();

    let endpoint = format!("http://{otlp}");
    let (pm, mut stdout) = support::Procman::spawn_holding_stdout(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
        // The check's receiver here is its gRPC one (the standard default is OTLP/HTTP).
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "500"),
        // Every trace exported, so that every request's spans are checked.
        ("OTEL_TRACES_SAMPLER_RATIO", "1"),
        ("METRICS_LISTEN", &metrics_addr),
    ]);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&log_path)
        .unwrap();
    let copier = std::thread::spawn(move || {
        let _ = std::io::copy(&mut stdout, &mut file);
        let _ = file.flush();
    });

    // The tour.
    let c = reqwest::Client::new();
    let (status, _) = pm.post(&c, "/instances", json!({"name": "x"})).await;
    assert_eq!(status, 400);
    let (status, _) = pm
        .post(&c, "/instances", json!({"command": "/no/such/binary"}))
        .await;
    assert_eq!(status, 422);
    let id = pm
        .create(
            &c,
            "sh",
            &[
                "-c",
                "i=0; while true; do i=$((i+1)); echo tick-$i; sleep 0.1; done",
            ],
        )
        .await;
    let other = pm.create(&c, "sleep", &["30"]).await;
    assert_eq!(
        c.get(pm.url("/instances")).send().await.unwrap().status(),
        200
    );
    assert_eq!(
        c.get(pm.url(&format!("/instances/{id}")))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(pm.url("/instances/000000000000"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    assert_eq!(
        c.get(pm.url("/no/such/route"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (status, _) = pm
        .post(&c, &format!("/instances/{other}/standby"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, _) = pm
        .post(&c, &format!("/instances/{other}/restore"), json!({}))
        .await;
    assert_eq!(status, 200);
    let (status, v) = pm
        .post(
            &c,
            &format!("/instances/{id}/exec"),
            json!({"command": "echo", "args": ["hello"]}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let (status, v) = pm
        .post(
            &c,
            &format!("/instances/{id}/exec"),
            json!({"command": "sleep", "args": ["10"], "timeout_ms": 200}),
        )
        .await;
    assert_eq!(status, 504, "{v}");
    for source in ["app", "service"] {
        let r = c
            .get(pm.url(&format!("/instances/{id}/logs?source={source}&tail=5")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    for victim in [&id, &other] {
        let r = c
            .delete(pm.url(&format!("/instances/{victim}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
    }
    // Scrapes see the tour's series; the metric export runs at least once.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(pm.terminate(), 0);
    copier.join().unwrap();

    running.stop_handle().notify_one();
    let report = running.wait().await.unwrap();
    let human = report.render_human(false);
    println!("{human}");
    assert_eq!(
        report.counts().get(&Level::Violation).copied().unwrap_or(0),
        0,
        "{human}"
    );
    // Every plane was read, and read something.
    let logs = report.coverage(Signal::Log).expect("logs read");
    assert!(logs["lines"] >= 15, "{human}");
    assert!(logs["requests"] >= 14, "{human}");
    let spans = report.coverage(Signal::Span).expect("spans received");
    assert!(spans["spans"] >= 1, "{human}");
    let metrics = report.coverage(Signal::Metric).expect("metrics scraped");
    assert!(metrics["scrapes"] >= 2, "{human}");
    assert!(metrics["families"] >= 10, "{human}");
}
