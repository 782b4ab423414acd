//! procman's whole exposition — built-ins, HTTP, per-resource logs and its own metrics, after
//! every kind of request — passes `promtool check metrics` (the lint included) with zero
//! findings, and every family on it is in the live catalogue (`/metrics/catalogue`) with its type.
mod support;

use serde_json::{json, Value};
use watchpost_testkit::{process, tools};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn procmans_exposition_passes_promtool_with_zero_findings() {
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "error")]);
    let c = reqwest::Client::new();
    let post = |path: String, body: Value| c.post(pm.url(&path)).body(body.to_string()).send();
    let r = post(
        "/instances".into(),
        json!({"command": "sleep", "args": ["60"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let id = serde_json::from_str::<Value>(&r.text().await.unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = post(
        format!("/instances/{id}/exec"),
        json!({"command": "echo", "args": ["hi"]}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = post(format!("/instances/{id}/standby"), Value::Null)
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = c
        .delete(pm.url(&format!("/instances/{id}")))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    c.get(pm.url("/no-such-route")).send().await.unwrap();

    let text = process::metrics_text(&c, pm.metrics).await;
    let catalogue = c
        .get(format!("http://{}/metrics/catalogue", pm.metrics))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let catalogue: Value = serde_json::from_str(&catalogue).unwrap();
    let yaml = c
        .get(format!(
            "http://{}/metrics/catalogue?format=yaml",
            pm.metrics
        ))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(yaml.starts_with("groups:\n"), "{yaml}");
    let bad = c
        .get(format!(
            "http://{}/metrics/catalogue?format=xml",
            pm.metrics
        ))
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
    for name in ["procman_instances", "procman_exec_sessions_total"] {
        assert!(families.iter().any(|(n, _)| n == &name), "{name} missing");
    }

    let Some((ok, report)) = tools::promtool_check(&text) else {
        return;
    };
    assert!(ok, "promtool failed: {report}\n---\n{text}");
    assert!(
        report.trim().is_empty(),
        "promtool reported problems: {report}\n---\n{text}"
    );
}
