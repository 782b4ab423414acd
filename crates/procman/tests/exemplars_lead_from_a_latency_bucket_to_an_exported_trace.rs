//! Exemplars end to end: procman exports traces (sampling ratio 0.5, so half the requests are
//! not sampled) to a real OTLP receiver while a real Prometheus (Debian's, with
//! `--enable-feature=exemplar-storage`) scrapes its OpenMetrics exposition. Prometheus'
//! `/api/v1/query_exemplars` then returns exemplars of the request-duration histogram, and every
//! trace id among them is a trace the receiver got: the step from a latency bucket to its trace
//! always lands on a trace that exists.
mod support;

use std::collections::HashSet;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use watchpost_testkit::otlp::{hex, Receiver};
use watchpost_testkit::prometheus::{encode, Prometheus};
use watchpost_testkit::tools::{self, TempDir};

const METRIC: &str = "procman_http_request_duration_seconds_bucket";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_lead_from_a_latency_bucket_to_an_exported_trace() {
    let Some(prometheus) = tools::tool("prometheus") else {
        return;
    };
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let endpoint = receiver.addr.to_string();
    let pm = support::Procman::spawn(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_ENDPOINT", &endpoint),
        ("OTEL_TRACES_SAMPLER_RATIO", "0.5"),
    ]);
    let c = reqwest::Client::new();
    let id = pm.create(&c, "sleep", &["600"]).await;

    // The exposition itself: OpenMetrics carries exemplars, the text format none.
    for _ in 0..20 {
        let r = c
            .get(pm.url(&format!("/instances/{id}")))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let metrics_url = format!("http://{}/metrics", pm.metrics);
    let om = c
        .get(&metrics_url)
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        om.lines()
            .any(|l| l.starts_with(METRIC) && l.contains(" # {trace_id=\"")),
        "no exemplar in the OpenMetrics exposition:\n{om}"
    );
    let text = c
        .get(&metrics_url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("# {trace_id"),
        "an exemplar in the text format"
    );

    let dir = TempDir::new("prom-exemplars");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: procman\n    static_configs: [{{targets: ['{}']}}]\n",
        pm.metrics
    );
    let prom = tokio::task::spawn_blocking({
        let dir = dir.0.clone();
        move || {
            Prometheus::start(
                &prometheus,
                &dir,
                &config,
                &["--enable-feature=exemplar-storage"],
            )
        }
    })
    .await
    .unwrap();

    // Load across several scrapes, on two routes.
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        for path in ["/instances".to_string(), format!("/instances/{id}")] {
            assert_eq!(c.get(pm.url(&path)).send().await.unwrap().status(), 200);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let deadline = Instant::now() + Duration::from_secs(20);
    let trace_ids: HashSet<String> = loop {
        let v = prom.api(&format!(
            "/api/v1/query_exemplars?query={}&start={}&end={}",
            encode(METRIC),
            now - 120,
            now + 60
        ));
        let ids: HashSet<String> = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|series| series["exemplars"].as_array().cloned().unwrap_or_default())
            .filter_map(|e| e["labels"]["trace_id"].as_str().map(str::to_string))
            .collect();
        if ids.len() >= 2 {
            break ids;
        }
        assert!(Instant::now() < deadline, "no exemplars in Prometheus: {v}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    drop(prom);

    assert_eq!(pm.terminate(), 0);
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let exported: HashSet<String> = r.spans.iter().map(|s| hex(&s.trace_id)).collect();
    let missing: Vec<&String> = trace_ids
        .iter()
        .filter(|t| !exported.contains(*t))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} exemplar trace ids were never exported: {missing:?}",
        missing.len(),
        trace_ids.len()
    );
    eprintln!(
        "{} exemplar trace ids in Prometheus, all among {} exported traces",
        trace_ids.len(),
        exported.len()
    );
}
