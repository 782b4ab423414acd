//! Metric families watchpost keeps itself, outside the SDK, as plain data for the encoders.
//!
//! The SDK's collected data (`ResourceMetrics`) cannot be given points from outside (its data
//! types have private fields), so a family the library keeps in its own storage — today the
//! measured functions' `function_calls_total` and `function_calls_duration_seconds`
//! ([`function`](super::function)) — is handed to the exposition
//! ([`exposition`](super::exposition)) and to the OTLP push beside the collection, as a list of
//! [`Family`]. The encoders own no storage; this is a snapshot taken for one encoding.
//!
//! A family has one point per label set, as the SDK's would: where the storage keeps several
//! with the same labels (two measured functions with the same `function` and `module` labels),
//! [`Data::merge_equal_labels`] adds them into one.

use std::cmp::Ordering;

use opentelemetry::KeyValue;

use super::exemplars::Exemplar;

/// One metric family: what the SDK would report for an instrument of this name, description
/// and unit.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Family {
    /// The instrument's name (`function_calls_total`): named in the exposition by the same
    /// rules as the SDK's instruments.
    pub(crate) name: String,
    pub(crate) description: &'static str,
    /// The UCUM unit (`s`), empty if none.
    pub(crate) unit: &'static str,
    pub(crate) data: Data,
}

/// A family's points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Data {
    /// A cumulative, monotonic `u64` sum.
    Counter(Vec<CounterPoint>),
    /// A cumulative explicit-bucket histogram of `f64` values.
    Histogram {
        /// Upper bounds of the buckets but the last (`+Inf`).
        bounds: &'static [f64],
        points: Vec<HistogramPoint>,
    },
}

/// One series of a counter.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CounterPoint {
    pub(crate) labels: Vec<KeyValue>,
    pub(crate) value: u64,
}

/// One series of a histogram.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistogramPoint {
    pub(crate) labels: Vec<KeyValue>,
    /// Per bucket, not cumulative: one more than the bounds (`+Inf` last).
    pub(crate) bucket_counts: Vec<u64>,
    pub(crate) sum: f64,
    /// The sum of `bucket_counts`.
    pub(crate) count: u64,
    pub(crate) min: Option<f64>,
    pub(crate) max: Option<f64>,
    /// By bucket (`+Inf` last), or empty when the histogram keeps none.
    pub(crate) exemplars: Vec<Option<Exemplar>>,
}

impl Data {
    /// Merges the points whose labels are equal into one, as the SDK aggregates the measurements
    /// of one attribute set: counters add; histograms add their bucket counts, counts and sums
    /// and keep the smaller minimum, the larger maximum and, per bucket, the newer exemplar.
    /// The points end sorted by their labels, whose keys must each be sorted already.
    ///
    /// Sorts in place and merges neighbours: no allocation.
    pub(crate) fn merge_equal_labels(&mut self) {
        match self {
            Data::Counter(points) => merge(points, |p| &p.labels, |kept, p| kept.value += p.value),
            Data::Histogram { points, .. } => merge(points, |p| &p.labels, HistogramPoint::absorb),
        }
    }
}

/// Sorts `points` by their labels and folds each run of equal labels into its first point.
fn merge<P>(points: &mut Vec<P>, labels: impl Fn(&P) -> &[KeyValue], add: impl Fn(&mut P, &P)) {
    points.sort_unstable_by(|a, b| compare(labels(a), labels(b)));
    points.dedup_by(|p, kept| {
        let equal = compare(labels(p), labels(kept)) == Ordering::Equal;
        if equal {
            add(kept, p);
        }
        equal
    });
}

/// Orders label sets (each sorted by key) by key, then value, pair after pair.
fn compare(a: &[KeyValue], b: &[KeyValue]) -> Ordering {
    fn pair(kv: &KeyValue) -> (&str, std::borrow::Cow<'_, str>) {
        (kv.key.as_str(), kv.value.as_str())
    }
    a.iter().map(pair).cmp(b.iter().map(pair))
}

impl HistogramPoint {
    /// Adds `other`'s measurements to this point's (the same labels and bounds).
    fn absorb(&mut self, other: &HistogramPoint) {
        if self.bucket_counts.len() < other.bucket_counts.len() {
            self.bucket_counts.resize(other.bucket_counts.len(), 0);
        }
        for (count, more) in self.bucket_counts.iter_mut().zip(&other.bucket_counts) {
            *count += more;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = either(self.min, other.min, f64::min);
        self.max = either(self.max, other.max, f64::max);
        if self.exemplars.len() < other.exemplars.len() {
            self.exemplars.resize(other.exemplars.len(), None);
        }
        for (kept, e) in self.exemplars.iter_mut().zip(&other.exemplars) {
            match (kept, e) {
                (Some(k), Some(e)) if e.time_unix_nano > k.time_unix_nano => *k = *e,
                (kept @ None, Some(e)) => *kept = Some(*e),
                _ => {}
            }
        }
    }
}

/// `pick(a, b)` if both are there, else whichever is.
fn either(a: Option<f64>, b: Option<f64>, pick: fn(f64, f64) -> f64) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(pick(a, b)),
        (a, b) => a.or(b),
    }
}

/// The families as OTLP metrics: cumulative sums and histograms whose points started at
/// `start_time_unix_nano` (when the pipeline was built) and were read at `time_unix_nano`.
#[cfg(feature = "otlp")]
pub(crate) fn to_otlp(
    families: &[Family],
    start_time_unix_nano: u64,
    time_unix_nano: u64,
) -> Vec<opentelemetry_proto::tonic::metrics::v1::Metric> {
    use opentelemetry_proto::tonic::common::v1::KeyValue as ProtoKeyValue;
    use opentelemetry_proto::tonic::metrics::v1 as proto;

    let attributes = |labels: &[KeyValue]| labels.iter().map(ProtoKeyValue::from).collect();
    let cumulative = proto::AggregationTemporality::Cumulative as i32;
    families
        .iter()
        .map(|f| proto::Metric {
            name: f.name.clone(),
            description: f.description.to_string(),
            unit: f.unit.to_string(),
            metadata: Vec::new(),
            data: Some(match &f.data {
                Data::Counter(points) => proto::metric::Data::Sum(proto::Sum {
                    data_points: (points.iter())
                        .map(|p| proto::NumberDataPoint {
                            attributes: attributes(&p.labels),
                            start_time_unix_nano,
                            time_unix_nano,
                            exemplars: Vec::new(),
                            flags: 0,
                            value: Some(proto::number_data_point::Value::AsInt(
                                i64::try_from(p.value).unwrap_or_default(),
                            )),
                        })
                        .collect(),
                    aggregation_temporality: cumulative,
                    is_monotonic: true,
                }),
                Data::Histogram { bounds, points } => {
                    proto::metric::Data::Histogram(proto::Histogram {
                        data_points: (points.iter())
                            .map(|p| proto::HistogramDataPoint {
                                attributes: attributes(&p.labels),
                                start_time_unix_nano,
                                time_unix_nano,
                                count: p.count,
                                sum: Some(p.sum),
                                bucket_counts: p.bucket_counts.clone(),
                                explicit_bounds: bounds.to_vec(),
                                exemplars: (p.exemplars.iter().flatten())
                                    .map(|e| e.to_otlp())
                                    .collect(),
                                flags: 0,
                                min: p.min,
                                max: p.max,
                            })
                            .collect(),
                        aggregation_temporality: cumulative,
                    })
                }
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use opentelemetry::KeyValue;

    use super::{CounterPoint, Data, HistogramPoint};
    use crate::metrics::exemplars::Exemplar;

    fn labels(function: &str) -> Vec<KeyValue> {
        vec![
            KeyValue::new("function", function.to_string()),
            KeyValue::new("module", "m"),
        ]
    }

    fn exemplar(value: f64, time_unix_nano: u64) -> Option<Exemplar> {
        Some(Exemplar {
            value,
            time_unix_nano,
            trace_id: [1; 16],
            span_id: [2; 8],
        })
    }

    #[test]
    fn counter_points_with_equal_labels_are_one_point_with_their_sum() {
        let point = |function: &str, value| CounterPoint {
            labels: labels(function),
            value,
        };
        let mut data = Data::Counter(vec![point("b", 1), point("a", 2), point("b", 3)]);
        data.merge_equal_labels();
        assert_eq!(data, Data::Counter(vec![point("a", 2), point("b", 4)]));
    }

    #[test]
    fn histogram_points_with_equal_labels_are_one_point_of_all_their_measurements() {
        let a = HistogramPoint {
            labels: labels("f"),
            bucket_counts: vec![2, 0, 1],
            sum: 5.1,
            count: 3,
            min: Some(0.05),
            max: Some(5.0),
            exemplars: vec![exemplar(0.05, 10), None, exemplar(5.0, 30)],
        };
        let b = HistogramPoint {
            labels: labels("f"),
            bucket_counts: vec![1, 1, 0],
            sum: 0.52,
            count: 2,
            min: Some(0.02),
            max: Some(0.5),
            exemplars: vec![exemplar(0.02, 20), exemplar(0.5, 5), None],
        };
        let other = HistogramPoint {
            labels: labels("g"),
            ..a.clone()
        };
        let mut data = Data::Histogram {
            bounds: &[0.1, 1.0],
            points: vec![other.clone(), a, b],
        };
        data.merge_equal_labels();
        let Data::Histogram { points, .. } = data else {
            unreachable!()
        };
        assert_eq!(points.len(), 2, "{points:?}");
        assert_eq!(points[1], other);
        let merged = &points[0];
        assert_eq!(merged.labels, labels("f"));
        assert_eq!(merged.bucket_counts, [3, 1, 1]);
        assert_eq!(merged.count, 5);
        assert!((merged.sum - 5.62).abs() < 1e-12, "{}", merged.sum);
        assert_eq!((merged.min, merged.max), (Some(0.02), Some(5.0)));
        assert_eq!(
            merged.exemplars,
            [exemplar(0.02, 20), exemplar(0.5, 5), exemplar(5.0, 30)],
            "per bucket, the newer"
        );
    }

    #[test]
    fn a_histogram_without_exemplars_or_a_minimum_takes_the_others() {
        let point = |min, exemplars| HistogramPoint {
            labels: labels("f"),
            bucket_counts: vec![1, 0],
            sum: 0.5,
            count: 1,
            min,
            max: min,
            exemplars,
        };
        let mut data = Data::Histogram {
            bounds: &[1.0],
            points: vec![
                point(None, Vec::new()),
                point(Some(0.5), vec![exemplar(0.5, 1), None]),
            ],
        };
        data.merge_equal_labels();
        let Data::Histogram { points, .. } = data else {
            unreachable!()
        };
        assert_eq!(points.len(), 1);
        assert_eq!((points[0].min, points[0].max), (Some(0.5), Some(0.5)));
        assert_eq!(points[0].exemplars, [exemplar(0.5, 1), None]);
        assert_eq!(points[0].bucket_counts, [2, 0]);
    }
}
