//! procman's whole exposition — built-ins, HTTP, per-resource logs and its own metrics, after
//! every kind of request — passes `promtool check metrics` (the lint included) with zero
//! findings, and every family on it is in the live catalogue (`/metrics/catalogue`) with its type.
mod support;

use serde_json::{json, Value};
use watchpost_testkit::process;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procmans_exposition_passes_promtool_with_zero_findings() {
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "error")]);
    let c = reqwest::Client::new();
    let id = pm.create(&c, "sleep", &["60"]).await;
    let (status, _) = pm
        .post(
            &c,
            &format!("/instances/{id}/exec"),
            json!({"command": "echo", "args": ["hi"]}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = pm
        .post(&c, &format!("/instances/{id}/standby"), Value::Null)
        .await;
    assert_eq!(status, 200);
    let r = c
        .delete(pm.url(&format!("/instances/{id}")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    c.get(pm.url("/no-such-route")).send().await.unwrap();

    let text = process::metrics_text(&c, pm.metrics).await;
    let catalogue_url = format!("http://{}/metrics/catalogue", pm.metrics);
    let catalogue: Value = serde_json::from_str(&pm.text(&c, &catalogue_url).await).unwrap();
    let yaml = pm.text(&c, &format!("{catalogue_url}?format=yaml")).await;
    assert!(yaml.starts_with("groups:\n"), "{yaml}");
    let bad = c
        .get(format!("{catalogue_url}?format=xml"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(pm.terminate(), 0);

    // Every family on /metrics is declared, with the declared type (target_info is the
    // resource, not a metric).
    let declared: Vec<(&str, &str)> = catalogue["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["type"].as_str().unwrap()))
        .collect();
    let families: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_once(' '))
        .filter(|(name, _)| *name != "target_info")
        .collect();
    assert!(families.len() > 25, "{text}");
    for (name, kind) in &families {
        assert!(
            declared.contains(&(*name, *kind)),
            "{name} ({kind}) is on /metrics but not in the catalogue"
        );
    }
    for name in ["procman_instances", "procman_exec_output_bytes_total"] {
        assert!(families.iter().any(|(n, _)| n == &name), "{name} missing");
    }

    watchpost_testkit::tools::assert_promtool_clean(&text);
}
