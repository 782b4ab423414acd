//! End to end on the real engines: a real Prometheus (Debian's) scrapes procman every second and
//! evaluates the rules `watchpost rules` generates from procman's catalogue and
//! `crates/procman/watchpost.toml`. While procman serves only good requests, no page alert is in
//! `ALERTS`; after a burst of errors (execs that time out: 504) and slow execs, the availability
//! SLO's fastest page tier appears (pending or firing). Then every query of every panel of the
//! dashboard `watchpost dashboard` generates returns data: no empty panel.
mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use watchpost_cli::{catalogue::Catalogue, config::Config, dashboard, slo};
use watchpost_testkit::prometheus::Prometheus;
use watchpost_testkit::tools::{self, TempDir};

fn page_alerts(prom: &Prometheus) -> Vec<serde_json::Value> {
    prom.query(r#"ALERTS{severity="page", slo="availability"}"#)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_pages_on_an_error_burst_and_every_panel_has_data() {
    let Some(prometheus) = tools::tool("prometheus") else {
        return;
    };
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_procman"))
        .args(["--catalogue", "json"])
        .output()
        .unwrap();
    let catalogue = Catalogue::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let config = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/watchpost.toml"
    )))
    .unwrap();
    let generated = slo::generate(&catalogue, &config).unwrap();
    let board = dashboard::generate(&catalogue, &dashboard::DashboardOptions::default());
    let queries = dashboard::expressions(&board);
    assert!(queries.len() >= 15, "{queries:?}");

    let pm = support::Procman::spawn(&[]);
    let dir = TempDir::new("prom-e2e");
    std::fs::write(dir.0.join("rules.yml"), &generated.rules_yaml).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n  - job_name: procman\n    static_configs: [{{targets: ['{}'], labels: {{service: procman}}}}]\n",
        dir.0.join("rules.yml").display(),
        pm.metrics
    );
    let prom = tokio::task::spawn_blocking({
        let dir = dir.0.clone();
        move || Prometheus::start(&prometheus, &dir, &config, &[])
    })
    .await
    .unwrap();

    let c = reqwest::Client::new();
    let id = pm.create(&c, "sleep", &["600"]).await;
    // Quiet: good requests only, for a few scrapes and evaluations.
    let quiet_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < quiet_until {
        for path in ["/instances".to_string(), format!("/instances/{id}")] {
            assert_eq!(c.get(pm.url(&path)).send().await.unwrap().status(), 200);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let rules_loaded = prom.api("/api/v1/rules");
    assert!(
        rules_loaded
            .to_string()
            .contains("watchpost:slo_errors:ratio_rate5m"),
        "{rules_loaded}"
    );
    assert!(
        page_alerts(&prom).is_empty(),
        "a page while all was well: {:?}",
        page_alerts(&prom)
    );

    // The burst: execs that time out (504) and slow ones, among good requests.
    let burst_until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < burst_until {
        let (status, _) = pm
            .post(
                &c,
                &format!("/instances/{id}/exec"),
                json!({"command": "sleep", "args": ["5"], "timeout_ms": 20}),
            )
            .await;
        assert_eq!(status, 504);
        let (status, _) = pm
            .post(
                &c,
                &format!("/instances/{id}/exec"),
                json!({"command": "sleep", "args": ["0.3"]}),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(
            c.get(pm.url("/instances")).send().await.unwrap().status(),
            200
        );
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let a = page_alerts(&prom);
        if !a.is_empty() {
            break a;
        }
        assert!(
            Instant::now() < deadline,
            "no page alert after the error burst"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let labels = &alerts[0]["metric"];
    assert_eq!(labels["severity"], "page", "{labels}");
    for key in ["burn_tier", "long_window", "short_window", "alertstate"] {
        assert!(labels.get(key).is_some(), "{key} in {labels}");
    }

    // Every panel has data.
    let mut empty = Vec::new();
    for q in &queries {
        let q = dashboard::instantiate(
            q,
            "1m",
            &[("job", "procman"), ("service", "procman"), ("slo", ".*")],
        );
        if prom.query(&q).is_empty() {
            empty.push(q);
        }
    }
    assert!(
        empty.is_empty(),
        "{} of {} panel queries return no data:\n{}",
        empty.len(),
        queries.len(),
        empty.join("\n")
    );
    let r = c
        .delete(pm.url(&format!("/instances/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert_eq!(pm.terminate(), 0);
}
