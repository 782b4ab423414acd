//! The same measurements exposed as Prometheus text and as OpenMetrics (by the Watchpost
//! library's encoder) read back as the same families — names, types, help, series and values,
//! escaped label values included — and lint to the same findings.

use std::collections::BTreeSet;

use opentelemetry::KeyValue;
use watchpost::catalogue::{Label, MetricDef, Unit};
use watchpost::metrics::Format as Wire;
use watchpost_cli::config::Config;
use watchpost_cli::exposition::{self, Exposition, Format};
use watchpost_cli::lint::{self, LintOptions};
use watchpost_cli::report::Report;

const OUTCOMES: &[&str] = &["ok", "failed \"hard\"\nback\\slash"];
const JOBS: MetricDef = MetricDef::counter("demo_jobs_total", "Jobs run, by outcome")
    .labels(&[Label::closed("outcome", OUTCOMES)]);
const QUEUED: MetricDef = MetricDef::up_down_counter("demo_jobs_queued", "Jobs waiting");
const DURATION: MetricDef = MetricDef::histogram(
    "demo_job_duration_seconds",
    "Time to run a job",
    &[0.1, 1.0, 10.0],
)
.unit(Unit::Seconds)
.labels(&[Label::closed("outcome", OUTCOMES)]);

type Series = BTreeSet<(String, Vec<(String, String)>, String)>;

fn series(e: &Exposition, family: &str) -> Series {
    e.family(family)
        .unwrap_or_else(|| panic!("no {family}"))
        .samples
        .iter()
        .map(|s| (s.name.clone(), s.labels.clone(), format!("{:?}", s.value)))
        .collect()
}

fn findings(e: &Exposition) -> BTreeSet<(String, String)> {
    let mut report = Report::new(Config::default());
    let opts = LintOptions {
        include_third_party: true,
        ..LintOptions::default()
    };
    lint::lint(e, &opts, None, &mut report);
    report
        .tallies()
        .iter()
        .flat_map(|t| t.names.keys().map(|n| (t.rule.id.to_owned(), n.clone())))
        .collect()
}

#[test]
fn lint_reads_openmetrics_and_text_alike() {
    let config = watchpost::Config::builder("demo").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let metrics = telemetry.metrics();
    let jobs = metrics.counter(&JOBS);
    let queued = metrics.up_down_counter(&QUEUED);
    let duration = metrics.histogram(&DURATION);
    for (i, outcome) in OUTCOMES.iter().enumerate() {
        let labels = [KeyValue::new("outcome", *outcome)];
        jobs.add(3 + i as u64, &labels);
        duration.record(0.05, &labels);
        duration.record(2.5 * (i + 1) as f64, &labels);
    }
    queued.add(-2, &[]);
    let raw = metrics
        .meter()
        .f64_counter("demo.bytes.read")
        .with_unit("By")
        .with_description("Bytes read")
        .build();
    raw.add(1.5e9, &[KeyValue::new("source", "disk")]);

    let text = metrics.encode(Wire::Text);
    let om = metrics.encode(Wire::OpenMetrics);
    let (t, o) = (exposition::parse(&text), exposition::parse(&om));
    assert_eq!((t.format, o.format), (Format::Text, Format::OpenMetrics));
    assert!(t.errors.is_empty(), "{:?}\n{text}", t.errors);
    assert!(o.errors.is_empty(), "{:?}\n{om}", o.errors);

    // (OpenMetrics `info` is a text `gauge`.)
    let families = |e: &Exposition| -> Vec<(String, &'static str, Option<String>)> {
        let mut v: Vec<_> = e
            .families
            .iter()
            .map(|f| {
                (
                    f.name.clone(),
                    f.kind.text_equivalent().as_str(),
                    f.help.clone(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(families(&t), families(&o), "\n{text}\n---\n{om}");
    for name in [
        "demo_jobs_total",
        "demo_jobs_queued",
        "demo_job_duration_seconds",
        "demo_bytes_read_bytes_total",
        "target_info",
    ] {
        assert_eq!(
            series(&t, name),
            series(&o, name),
            "{name}\n{text}\n---\n{om}"
        );
    }
    let jobs = o.family("demo_jobs_total").unwrap();
    assert!(jobs
        .samples
        .iter()
        .any(|s| s.label("outcome") == Some(OUTCOMES[1]) && s.value == 4.0));
    assert_eq!(
        o.family("demo_job_duration_seconds")
            .unwrap()
            .unit
            .as_deref(),
        Some("seconds")
    );
    assert_eq!(findings(&t), findings(&o));
}
