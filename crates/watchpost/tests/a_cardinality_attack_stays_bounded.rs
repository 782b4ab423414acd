//! A million distinct label values on one instrument keep its series count at its budget and the
//! process's memory bounded; the overflow is counted per metric and logged once.

use opentelemetry::KeyValue;
use watchpost_testkit::capture::Capture;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn a_cardinality_attack_stays_bounded() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("attack")
        .metric_series_budget("attack_requests_total", 200)
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    let metrics = telemetry.metrics();
    let guarded = metrics
        .meter()
        .u64_counter("attack_requests_total")
        .with_description("Guarded")
        .build();
    let default_budget = metrics
        .meter()
        .u64_counter("attack_other_total")
        .with_description("Default budget")
        .build();

    let series = |name: &str| -> usize {
        let text = metrics.encode(watchpost::metrics::Format::Text);
        text.lines()
            .filter(|l| l.starts_with(&format!("{name}{{")))
            .count()
    };

    tracing::dispatcher::with_default(&dispatch, || {
        let before = rss_bytes();
        let mut value = String::new();
        for i in 0..1_000_000u32 {
            use std::fmt::Write;
            value.clear();
            write!(value, "user-{i}").unwrap();
            guarded.add(1, &[KeyValue::new("user", value.clone())]);
            if i % 4 == 0 {
                default_budget.add(1, &[KeyValue::new("user", value.clone())]);
            }
        }
        let grown = rss_bytes().saturating_sub(before);
        assert!(grown < 64 << 20, "memory grew by {} MiB", grown >> 20);

        // Budget + the overflow series (+ the attribute-less series the SDK may keep).
        let n = series("attack_requests_total");
        assert!((200..=202).contains(&n), "{n} series");
        let n = series("attack_other_total");
        assert!((2000..=2002).contains(&n), "{n} series");
        let text = metrics.encode(watchpost::metrics::Format::Text);
        assert!(
            text.contains("attack_requests_total{otel_metric_overflow=\"true\"} 999800"),
            "the folded measurements are kept, not lost"
        );
        // Visible from the collection after the one that saw it.
        assert!(
            text.contains("attack_metric_series_overflow_total{metric=\"attack_requests_total\"}"),
            "{text}"
        );
        assert!(text.contains("attack_metric_series_overflow_total{metric=\"attack_other_total\"}"));

        // More overflow: the counter rises again.
        guarded.add(1, &[KeyValue::new("user", "one-more")]);
        let before = overflow_count(&metrics.encode(watchpost::metrics::Format::Text));
        let after = overflow_count(&metrics.encode(watchpost::metrics::Format::Text));
        assert_eq!(
            after,
            before + 1.0,
            "one more collection with new overflow measurements"
        );
    });
    let warns: Vec<_> = capture
        .json()
        .into_iter()
        .filter(|l| l["level"] == "WARN" && l["msg"].as_str().unwrap().contains("series budget"))
        .collect();
    assert_eq!(warns.len(), 2, "one WARN per overflowing metric: {warns:?}");
}

fn overflow_count(text: &str) -> f64 {
    text.lines()
        .find(|l| {
            l.starts_with("attack_metric_series_overflow_total{metric=\"attack_requests_total\"}")
        })
        .and_then(|l| l.rsplit(' ').next())
        .map(|v| v.parse().unwrap())
        .unwrap_or(0.0)
}
