//! The README's table of built-in metrics equals `BUILTIN_METRICS`, and every one of them is in
//! a live scrape with the documented type, unit and labels: the docs cannot drift.

use opentelemetry::KeyValue;
use watchpost::metrics::{Format, BUILTIN_METRICS};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_metrics_table_matches_the_live_exposition() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("\n## Metrics\n")
        .nth(1)
        .expect("a `## Metrics` section");
    let section = section.split("\n## ").next().unwrap();
    let documented: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().trim_matches('`').to_string())
                .collect()
        })
        .collect();
    let code: Vec<Vec<String>> = BUILTIN_METRICS
        .iter()
        .map(|(n, t, u, l, d)| [n, t, u, l, d].iter().map(|s| s.to_string()).collect())
        .collect();
    assert_eq!(
        documented, code,
        "README table differs from BUILTIN_METRICS"
    );

    // A live pipeline inside a Tokio runtime, with one metric pushed over its budget.
    let config = watchpost::Config::builder("live")
        .metric_series_budget("live_guarded_total", 1)
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let guarded = telemetry
        .metrics()
        .meter()
        .u64_counter("live_guarded_total")
        .with_description("g")
        .build();
    tracing::dispatcher::with_default(&dispatch, || {
        for user in ["a", "b", "c"] {
            guarded.add(1, &[KeyValue::new("user", user)]);
        }
        telemetry.metrics().encode(Format::Text);
    });
    let text = telemetry.metrics().encode(Format::Text);
    let om = telemetry.metrics().encode(Format::OpenMetrics);
    for (name, kind, unit, labels, _) in BUILTIN_METRICS {
        let name = name.replace("<svc>", "live");
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} {kind} not in\n{text}"
        );
        let family = if *kind == "counter" {
            name.trim_end_matches("_total")
        } else {
            name.as_str()
        };
        if !unit.is_empty() {
            assert!(
                om.contains(&format!("# UNIT {family} {unit}\n")),
                "{family} unit {unit}"
            );
        }
        let sample = text
            .lines()
            .find(|l| l.starts_with(&name) && !l.starts_with('#'))
            .unwrap_or_else(|| panic!("no sample of {name}"));
        for label in labels.split(',').filter(|l| !l.is_empty()) {
            assert!(
                sample.contains(&format!("{label}=\"")),
                "{name} lacks label {label}: {sample}"
            );
        }
        if labels.is_empty() {
            assert!(
                !sample.contains('{'),
                "{name} should have no labels: {sample}"
            );
        }
    }
}
