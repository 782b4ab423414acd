//! The README's metric tables are the catalogue's (`UPDATE_README=1` rewrites them), and every
//! built-in metric is in a live scrape with the documented type, unit and labels: the docs
//! cannot drift.
use opentelemetry::KeyValue;
use watchpost::catalogue::{self, Catalogue, Instrument, MetricDef};
use watchpost::metrics::Format;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readme_metrics_table_matches_the_live_exposition() {
    for (section, defs) in [
        ("builtin", catalogue::BUILTIN),
        ("resource_logs", catalogue::RESOURCE_LOGS),
        ("http", catalogue::HTTP),
        ("functions", catalogue::FUNCTIONS),
    ] {
        let table = Catalogue::new("svc", defs.to_vec()).markdown_table();
        watchpost_testkit::tools::assert_markdown_section(README, section, &table);
    }

    // A live pipeline inside a Tokio runtime, with per-resource logs, and one metric pushed over
    // its budget.
    let dir = std::env::temp_dir().join(format!("wp-readme-{}", std::process::id()));
    let config = watchpost::Config::builder("live")
        .metric_series_budget("live_guarded_total", 1)
        .resource_logs(
            watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id"),
        )
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
    let live = telemetry.metrics().catalogue();
    let expected: Vec<&MetricDef> = catalogue::BUILTIN
        .iter()
        .chain(catalogue::RESOURCE_LOGS)
        .collect();
    for def in expected {
        let name = def.name_for("live");
        assert!(
            live.get(&name).is_some(),
            "{name} not in the live catalogue"
        );
        let kind = def.instrument().prometheus_type();
        assert!(
            text.contains(&format!("# TYPE {name} {kind}\n")),
            "{name} {kind} not in\n{text}"
        );
        assert!(
            text.contains(&format!("# HELP {name} {}\n", def.help())),
            "{name}: help differs"
        );
        let family = if def.instrument() == Instrument::Counter {
            name.trim_end_matches("_total")
        } else {
            name.as_str()
        };
        let unit = def.unit_of().prometheus();
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
        for label in def.labels_of() {
            assert!(
                sample.contains(&format!("{}=\"", label.name())),
                "{name} lacks label {}: {sample}",
                label.name()
            );
        }
        if def.labels_of().is_empty() {
            assert!(
                !sample.contains('{'),
                "{name} should have no labels: {sample}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}
