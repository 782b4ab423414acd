//! A real Prometheus server scrapes the listener every second, once negotiating OpenMetrics (its
//! default `Accept` header) and once forced to text 0.0.4; both scrapes are healthy and the
//! counter, histogram quantile and gauge it stores are the values the test recorded.

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use watchpost_testkit::{http, tools};

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs an instant query; returns (job label, value) of each series.
fn query(prom: SocketAddr, q: &str) -> Vec<(String, f64)> {
    let (status, _, body) = http::get(
        prom,
        &format!(
            "/api/v1/query?query={}",
            watchpost_testkit::prometheus::encode(q)
        ),
        None,
    );
    assert_eq!(status, 200, "{q}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    v["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let job = r["metric"]["job"].as_str().unwrap_or("").to_string();
            let value: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
            (job, value)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_scrapes_both_formats() {
    let Some(prometheus) = tools::tool("prometheus") else {
        return;
    };
    let config = watchpost::Config::builder("promreal")
        .metrics_listen(([127, 0, 0, 1], 0).into())
        .build()
        .unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let meter = telemetry.metrics().meter();
    let jobs = meter
        .u64_counter("promreal_jobs_total")
        .with_description("Jobs run")
        .build();
    let duration = meter
        .f64_histogram("promreal_job_duration_seconds")
        .with_unit("s")
        .with_description("Job duration")
        .with_boundaries(watchpost::metrics::buckets::DURATION_SECONDS.to_vec())
        .build();
    let queue = meter
        .i64_up_down_counter("promreal_queue_length")
        .with_description("Queued jobs")
        .build();
    jobs.add(7, &[KeyValue::new("queue", "a")]);
    for _ in 0..50 {
        duration.record(0.03, &[]);
        duration.record(0.3, &[]);
    }
    queue.add(5, &[]);
    let server = telemetry.serve_metrics().await.unwrap();
    let target = server.local_addr();

    let dir = std::env::temp_dir().join(format!("watchpost-prom-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let config_file = dir.join("prometheus.yml");
    std::fs::write(
        &config_file,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: om\n    static_configs: [{{targets: ['{target}']}}]\n  - job_name: text\n    params: {{format: [text]}}\n    static_configs: [{{targets: ['{target}']}}]\n"
        ),
    )
    .unwrap();
    let prom_addr: SocketAddr = format!("127.0.0.1:{}", watchpost_testkit::process::free_port())
        .parse()
        .unwrap();
    let _prom = KillOnDrop(
        Command::new(prometheus)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={prom_addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let results = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = std::net::TcpStream::connect(prom_addr).is_ok() && {
                let mut up = query(prom_addr, "up");
                up.sort_by(|a, b| a.0.cmp(&b.0));
                let jobs_seen = query(prom_addr, "promreal_jobs_total");
                up == [("om".to_string(), 1.0), ("text".to_string(), 1.0)] && jobs_seen.len() == 2
            };
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never scraped both jobs successfully"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
        (
            query(prom_addr, "promreal_jobs_total"),
            query(
                prom_addr,
                "histogram_quantile(0.5, promreal_job_duration_seconds_bucket)",
            ),
            query(
                prom_addr,
                "histogram_quantile(0.9, promreal_job_duration_seconds_bucket)",
            ),
            query(prom_addr, "promreal_queue_length"),
            query(prom_addr, "promreal_job_duration_seconds_count"),
        )
    })
    .await
    .unwrap();
    let (counter, p50, p90, gauge, count) = results;
    for (name, series, want) in [
        ("counter", counter, 7.0),
        ("p50", p50, 0.05),
        ("p90", p90, 0.45),
        ("gauge", gauge, 5.0),
        ("count", count, 100.0),
    ] {
        assert_eq!(series.len(), 2, "{name}: one series per job: {series:?}");
        for (job, v) in series {
            assert!(
                (v - want).abs() < 1e-9,
                "{name} in job {job}: {v} != {want}"
            );
        }
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(&dir);
}
