//! Non-finite measurements never break the exposition: the OpenTelemetry SDK drops NaN and
//! infinite measurements (they never reach a series), finite ones next to them are kept, every
//! histogram ends with its `le="+Inf"` bucket, and the result passes promtool. (The encoder's
//! own `NaN`/`+Inf`/`-Inf` formatting is unit-tested in `metrics::exposition`.)

use opentelemetry::KeyValue;
use watchpost::metrics::Format;
use watchpost_testkit::tools;

#[test]
fn special_float_values_never_break_the_exposition() {
    let config = watchpost::Config::builder("floats").build().unwrap();
    let (telemetry, _d) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let meter = telemetry.metrics().meter();
    meter
        .f64_observable_gauge("floats_value")
        .with_description("Special values")
        .with_callback(|o| {
            o.observe(f64::NAN, &[KeyValue::new("case", "nan")]);
            o.observe(f64::INFINITY, &[KeyValue::new("case", "pos")]);
            o.observe(f64::NEG_INFINITY, &[KeyValue::new("case", "neg")]);
            o.observe(-0.25, &[KeyValue::new("case", "plain")]);
        })
        .build();
    let h = meter
        .f64_histogram("floats_duration_seconds")
        .with_unit("s")
        .with_description("d")
        .build();
    h.record(f64::INFINITY, &[]);
    h.record(f64::NAN, &[]);
    h.record(0.5, &[]);
    for format in [Format::Text, Format::OpenMetrics] {
        let text = telemetry.metrics().encode(format);
        let values: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("floats_value"))
            .collect();
        assert_eq!(
            values,
            [r#"floats_value{case="plain"} -0.25"#],
            "{format:?}"
        );
        assert!(
            text.contains("floats_duration_seconds_bucket{le=\"+Inf\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("floats_duration_seconds_count 1\n"));
        assert!(text.contains("floats_duration_seconds_sum 0.5\n"));
    }
    let Some((ok, report)) = tools::promtool_check(&telemetry.metrics().encode(Format::Text))
    else {
        return;
    };
    assert!(ok && report.trim().is_empty(), "{report}");
}
