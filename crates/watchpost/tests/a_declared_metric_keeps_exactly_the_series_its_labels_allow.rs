//! A metric declared in the catalogue keeps exactly as many series as its labels allow: a
//! closed set of two values keeps two series, and a third label set folds into the overflow
//! series (counted in `<svc>_metric_series_overflow_total`).
use opentelemetry::KeyValue;
use watchpost::catalogue::{Label, MetricDef};
use watchpost::metrics::Format;

const OUTCOMES: MetricDef = MetricDef::counter("budget_jobs_total", "Jobs by outcome")
    .labels(&[Label::closed("outcome", &["ok", "failed"])]);

#[test]
fn a_declared_metric_keeps_exactly_the_series_its_labels_allow() {
    let config = watchpost::Config::builder("budget").build().unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let jobs = telemetry.metrics().counter(&OUTCOMES);
    jobs.add(1, &[KeyValue::new("outcome", "ok")]);
    jobs.add(1, &[KeyValue::new("outcome", "failed")]);
    let text = telemetry.metrics().encode(Format::Text);
    assert!(
        !text.contains("otel_metric_overflow"),
        "two series fit:\n{text}"
    );

    jobs.add(1, &[KeyValue::new("outcome", "unexpected")]);
    tracing::dispatcher::with_default(&dispatch, || telemetry.metrics().encode(Format::Text));
    let text = telemetry.metrics().encode(Format::Text);
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("budget_jobs_total{"))
        .collect();
    assert_eq!(series.len(), 3, "{series:?}");
    assert!(
        series
            .iter()
            .any(|l| l.contains(r#"otel_metric_overflow="true""#)),
        "{series:?}"
    );
    assert!(
        !text.contains("unexpected"),
        "the third value is folded away"
    );
    assert!(
        text.contains(r#"budget_metric_series_overflow_total{metric="budget_jobs_total"} 1"#),
        "{text}"
    );
}
