//! Metrics use route templates as `path` labels: 10 000 requests to random unknown paths add no
//! series beyond the single `__unmatched__` one, and the families of the reference catalogue are
//! on `/metrics`.
mod support;

use watchpost_testkit::process;

fn series(text: &str, prefix: &str) -> usize {
    text.lines().filter(|l| l.starts_with(prefix)).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_paths_add_no_series() {
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "error")]);
    let c = reqwest::Client::new();
    let r = c
        .post(pm.url("/instances"))
        .body(r#"{"command":"sleep","args":["60"]}"#)
        .send()
        .await
        .unwrap();
    let id: serde_json::Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let id = id["id"].as_str().unwrap().to_string();
    c.get(pm.url(&format!("/instances/{id}")))
        .send()
        .await
        .unwrap();
    c.get(pm.url("/warmup-unknown")).send().await.unwrap();
    let before = process::metrics_text(&c, pm.metrics).await;
    for i in 0..10_000u32 {
        let r = c
            .get(pm.url(&format!("/random/{i}/{:x}", i.wrapping_mul(2654435761))))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404);
    }
    let after = process::metrics_text(&c, pm.metrics).await;
    assert_eq!(
        series(&after, "procman_http_request_duration_seconds_count{"),
        series(&before, "procman_http_request_duration_seconds_count{"),
        "{after}"
    );
    assert!(
        after.contains(
            r#"procman_http_request_duration_seconds_count{method="GET",path="__unmatched__",status="404"} 10001"#
        ),
        "{after}"
    );
    assert!(
        after.contains(r#"path="/instances/{id}""#),
        "route templates, not ids"
    );
    assert!(!after.contains(&id), "no instance id in any label");
    for family in [
        "procman_http_request_duration_seconds",
        "procman_http_requests_in_flight",
        "procman_instances",
        "procman_instances_create_duration_seconds",
        "procman_instances_state_transitions_total",
        "procman_uptime_seconds",
        "process_resident_memory_bytes",
    ] {
        assert!(
            after.contains(&format!("# TYPE {family}")),
            "{family} missing"
        );
    }
    assert_eq!(
        tokio::task::spawn_blocking(move || pm.terminate())
            .await
            .unwrap(),
        0
    );
}
