//! NaN and infinities are written as `NaN`, `+Inf` and `-Inf` in both formats, and the result
//! still passes promtool.
mod support;

use opentelemetry::KeyValue;
use watchpost::metrics::Format;

#[test]
fn special_float_values_are_exposed_correctly() {
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
    for format in [Format::Text, Format::OpenMetrics] {
        let text = telemetry.metrics().encode(format);
        for line in [
            "floats_value{case=\"nan\"} NaN",
            "floats_value{case=\"pos\"} +Inf",
            "floats_value{case=\"neg\"} -Inf",
            "floats_value{case=\"plain\"} -0.25",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "{format:?}: missing {line:?} in\n{text}"
            );
        }
    }
    let Some(promtool) = support::tool("promtool") else {
        return;
    };
    let text = telemetry.metrics().encode(Format::Text);
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}
