//! The families the library keeps itself ([`Family`]: plain data), written like the SDK's.

use std::fmt::{self, Write};

use super::{write_histogram_point, write_labels, write_sample, Format, Kind, Num};
use crate::metrics::own::{Data, Family};

/// The exposition kind of `f`.
pub(super) fn kind(f: &Family) -> Kind {
    match f.data {
        Data::Counter(_) => Kind::Counter,
        Data::Histogram { .. } => Kind::Histogram,
    }
}

/// Writes the samples of `f` (its header is written by the caller) under `family`; exemplars
/// in OpenMetrics only.
pub(super) fn write(
    out: &mut impl Write,
    family: &str,
    f: &Family,
    labels: &mut String,
    format: Format,
) -> fmt::Result {
    match &f.data {
        Data::Counter(points) => {
            for p in points {
                labels.clear();
                write_labels(labels, || p.labels.iter());
                write_sample(out, family, "_total", labels, None)?;
                p.value.write(out)?;
                out.write_char('\n')?;
            }
        }
        Data::Histogram { bounds, points } => {
            let mut le = String::with_capacity(24);
            for p in points {
                labels.clear();
                write_labels(labels, || p.labels.iter());
                let exemplar = |i: usize| match format {
                    Format::OpenMetrics => p.exemplars.get(i).copied().flatten(),
                    Format::Text => None,
                };
                let counts =
                    (0..bounds.len()).map(|i| p.bucket_counts.get(i).copied().unwrap_or(0));
                let buckets = bounds.iter().copied().zip(counts);
                write_histogram_point(
                    out, family, labels, &mut le, buckets, p.count, p.sum, exemplar,
                )?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;
    use opentelemetry_sdk::metrics::data::ResourceMetrics;

    use super::super::{encode_with, Format};
    use crate::metrics::exemplars::Exemplar;
    use crate::metrics::own::{CounterPoint, Data, Family, HistogramPoint};

    fn families() -> Vec<Family> {
        vec![
            Family {
                name: "demo_calls_total".into(),
                description: "Calls",
                unit: "",
                data: Data::Counter(vec![
                    CounterPoint {
                        labels: vec![KeyValue::new("result", "ok"), KeyValue::new("fn", "a")],
                        value: 3,
                    },
                    CounterPoint {
                        labels: vec![KeyValue::new("fn", "a"), KeyValue::new("result", "error")],
                        value: 1,
                    },
                ]),
            },
            Family {
                name: "demo_call_seconds".into(),
                description: "Duration",
                unit: "s",
                data: Data::Histogram {
                    bounds: &[0.1, 1.0],
                    points: vec![HistogramPoint {
                        labels: vec![KeyValue::new("fn", "a")],
                        bucket_counts: vec![2, 1, 1],
                        sum: 5.25,
                        count: 4,
                        min: Some(0.05),
                        max: Some(4.5),
                        exemplars: vec![
                            None,
                            Some(Exemplar {
                                value: 0.5,
                                time_unix_nano: 1_764_500_000_250_000_000,
                                trace_id: [0xab; 16],
                                span_id: [0xcd; 8],
                            }),
                            None,
                        ],
                    }],
                },
            },
        ]
    }

    #[test]
    fn the_librarys_own_families_are_written_exactly_like_the_sdks() {
        let rm = ResourceMetrics::default();
        let mut om = String::new();
        encode_with(&mut om, &rm, Format::OpenMetrics, None, &families()).unwrap();
        assert_eq!(
            om,
            "\
# HELP demo_call_seconds Duration
# TYPE demo_call_seconds histogram
# UNIT demo_call_seconds seconds
demo_call_seconds_bucket{fn=\"a\",le=\"0.1\"} 2
demo_call_seconds_bucket{fn=\"a\",le=\"1\"} 3 # {trace_id=\"abababababababababababababababab\",span_id=\"cdcdcdcdcdcdcdcd\"} 0.5 1764500000.250
demo_call_seconds_bucket{fn=\"a\",le=\"+Inf\"} 4
demo_call_seconds_sum{fn=\"a\"} 5.25
demo_call_seconds_count{fn=\"a\"} 4
# HELP demo_calls Calls
# TYPE demo_calls counter
demo_calls_total{fn=\"a\",result=\"ok\"} 3
demo_calls_total{fn=\"a\",result=\"error\"} 1
# EOF
"
        );
        let mut text = String::new();
        encode_with(&mut text, &rm, Format::Text, None, &families()).unwrap();
        assert_eq!(
            text,
            "\
# HELP demo_call_seconds Duration
# TYPE demo_call_seconds histogram
demo_call_seconds_bucket{fn=\"a\",le=\"0.1\"} 2
demo_call_seconds_bucket{fn=\"a\",le=\"1\"} 3
demo_call_seconds_bucket{fn=\"a\",le=\"+Inf\"} 4
demo_call_seconds_sum{fn=\"a\"} 5.25
demo_call_seconds_count{fn=\"a\"} 4
# HELP demo_calls_total Calls
# TYPE demo_calls_total counter
demo_calls_total{fn=\"a\",result=\"ok\"} 3
demo_calls_total{fn=\"a\",result=\"error\"} 1
"
        );
    }
}
