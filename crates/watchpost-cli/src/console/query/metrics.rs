//! Metric questions: the names held, and one metric's series over time.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use crate::console::store::{hex, PointValue, Store};

/// A metric in the list.
#[derive(Debug, Clone, Serialize)]
pub struct MetricSummary {
    /// Its name.
    pub name: String,
    /// Its kind, unit, description, temporality and points held.
    #[serde(flatten)]
    pub info: crate::console::store::MetricInfo,
    /// Services that sent it.
    pub services: Vec<String>,
}

/// Every metric held, by name.
pub fn metric_names(store: &Store) -> Vec<MetricSummary> {
    let mut services: HashMap<&str, BTreeSet<&str>> = HashMap::new();
    for p in store.points.iter() {
        services
            .entry(&p.name)
            .or_default()
            .insert(&p.resource.service);
    }
    let mut out: Vec<MetricSummary> = store
        .metrics
        .iter()
        .map(|(name, info)| MetricSummary {
            name: name.to_string(),
            info: info.clone(),
            services: services
                .get(&**name)
                .map(|s| s.iter().map(|x| x.to_string()).collect())
                .unwrap_or_default(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// One line of a chart.
#[derive(Debug, Clone, Serialize)]
pub struct Series {
    /// The service, the point attributes and (for histograms) the `quantile`.
    pub labels: BTreeMap<String, String>,
    /// (Unix milliseconds, value).
    pub points: Vec<(u64, f64)>,
}

/// A metric over time: gauges and up-down counters as their values, counters as rates per
/// second, histograms as p50/p90/p99 of each interval (bucket upper bounds, interpolated).
#[derive(Debug, Clone, Serialize)]
pub struct MetricSeries {
    /// The metric.
    pub name: String,
    /// Its kind.
    pub kind: &'static str,
    /// Its unit.
    pub unit: String,
    /// `value`, `rate per second` or `quantiles`.
    pub shown_as: &'static str,
    /// One series per label set.
    pub series: Vec<Series>,
    /// Measurements made in traces (the newest 200, each once), to lead from a chart to a trace.
    pub exemplars: Vec<ExemplarView>,
}

/// An exemplar as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExemplarView {
    /// Unix milliseconds.
    pub time_ms: u64,
    /// The measurement.
    pub value: f64,
    /// Hex.
    pub trace_id: String,
    /// Hex, if given.
    pub span_id: Option<String>,
}

/// The series of metric `name` (of `service` only, if given); `None` when no point is held.
pub fn metric_series(store: &Store, name: &str, service: Option<&str>) -> Option<MetricSeries> {
    let info = store.metrics.get(name)?;
    let mut groups: BTreeMap<Labels, Vec<Point<'_>>> = BTreeMap::new();
    let mut exemplars: Vec<ExemplarView> = Vec::new();
    let mut seen = HashSet::new();
    for p in store.points.iter().filter(|p| &*p.name == name) {
        if service.is_some_and(|s| s != &*p.resource.service) {
            continue;
        }
        // A cumulative point repeats the exemplars its reservoir still holds.
        for e in p.exemplars.iter() {
            if seen.insert((e.trace_id, e.time, e.value.to_bits())) {
                exemplars.push(ExemplarView {
                    time_ms: e.time / 1_000_000,
                    value: e.value,
                    trace_id: hex(&e.trace_id),
                    span_id: e.span_id.map(|s| hex(&s)),
                });
            }
        }
        let mut labels: BTreeMap<String, String> = p
            .attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.text()))
            .collect();
        labels.insert("service".into(), p.resource.service.to_string());
        groups
            .entry(labels)
            .or_default()
            .push((p.start, p.time, &p.value));
    }
    let shown_as = match info.kind {
        "counter" => "rate per second",
        "histogram" => "quantiles",
        _ => "value",
    };
    let mut series = Vec::new();
    for (labels, mut points) in groups {
        points.sort_by_key(|p| p.1);
        match info.kind {
            "counter" => series.push(Series {
                labels,
                points: rates(&points, info.cumulative),
            }),
            "histogram" => {
                for (q, label) in [(0.5, "p50"), (0.9, "p90"), (0.99, "p99")] {
                    let mut l = labels.clone();
                    l.insert("quantile".into(), label.into());
                    series.push(Series {
                        labels: l,
                        points: quantiles(&points, q, info.cumulative),
                    });
                }
            }
            _ => series.push(Series {
                labels,
                points: points
                    .iter()
                    .filter_map(|(_, t, v)| match v {
                        PointValue::Number(x) => Some((t / 1_000_000, *x)),
                        PointValue::Histogram { count, sum, .. } => {
                            (*count > 0).then(|| (t / 1_000_000, sum / *count as f64))
                        }
                    })
                    .collect(),
            }),
        }
    }
    Some(MetricSeries {
        name: name.to_owned(),
        kind: info.kind,
        unit: info.unit.clone(),
        shown_as,
        series,
        exemplars: {
            exemplars.sort_by_key(|e| e.time_ms);
            let skip = exemplars.len().saturating_sub(200);
            exemplars.split_off(skip)
        },
    })
}

/// A series' labels.
type Labels = BTreeMap<String, String>;
/// (start, time, value) of a point.
type Point<'a> = (u64, u64, &'a PointValue);

fn number(v: &PointValue) -> f64 {
    match v {
        PointValue::Number(x) => *x,
        PointValue::Histogram { sum, .. } => *sum,
    }
}

/// Rates per second: between consecutive cumulative points (a drop is a restart: the new value
/// counts from zero), or a delta point's value over its own interval.
fn rates(points: &[Point<'_>], cumulative: bool) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    if !cumulative {
        for (start, time, v) in points {
            let secs = time.saturating_sub(*start) as f64 / 1e9;
            if secs > 0.0 {
                out.push((time / 1_000_000, number(v) / secs));
            }
        }
        return out;
    }
    for w in points.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let secs = b.1.saturating_sub(a.1) as f64 / 1e9;
        if secs <= 0.0 {
            continue;
        }
        let (x, y) = (number(a.2), number(b.2));
        let increase = if y >= x { y - x } else { y };
        out.push((b.1 / 1_000_000, increase / secs));
    }
    out
}

/// The `q` quantile of each interval's observations, from bucket counts (linear within a bucket;
/// the last, unbounded bucket answers its lower bound).
fn quantiles(points: &[Point<'_>], q: f64, cumulative: bool) -> Vec<(u64, f64)> {
    let mut out = Vec::new();
    let mut previous: Option<&[u64]> = None;
    for (_, time, v) in points {
        let PointValue::Histogram { bounds, counts, .. } = v else {
            continue;
        };
        let interval: Vec<u64> = match previous {
            Some(prev) if cumulative && prev.len() == counts.len() => {
                let drop = counts.iter().zip(prev).any(|(c, p)| c < p);
                counts
                    .iter()
                    .zip(prev)
                    .map(|(c, p)| if drop { *c } else { c - p })
                    .collect()
            }
            _ => counts.to_vec(),
        };
        if cumulative {
            previous = Some(counts);
        }
        if let Some(x) = quantile(bounds, &interval, q) {
            out.push((time / 1_000_000, x));
        }
    }
    out
}

fn quantile(bounds: &[f64], counts: &[u64], q: f64) -> Option<f64> {
    let total: u64 = counts.iter().sum();
    // Buckets that do not match their bounds are not read (ingest keeps such points' count and
    // sum only; this guards the arithmetic anyway).
    if total == 0 || bounds.is_empty() || counts.len() != bounds.len() + 1 {
        return None;
    }
    let rank = q * total as f64;
    let mut seen = 0u64;
    for (i, &c) in counts.iter().enumerate() {
        if c > 0 && (seen + c) as f64 >= rank {
            let lower = match i.checked_sub(1) {
                None => 0.0_f64.min(bounds[0]),
                Some(j) => *bounds.get(j)?,
            };
            let Some(&upper) = bounds.get(i) else {
                return Some(lower);
            };
            let within = (rank - seen as f64) / c as f64;
            return Some(lower + (upper - lower) * within);
        }
        seen += c;
    }
    bounds.last().copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_within_the_bucket() {
        // 10 observations in (0, 1], 10 in (1, 2].
        assert_eq!(quantile(&[1.0, 2.0], &[10, 10, 0], 0.5), Some(1.0));
        assert_eq!(quantile(&[1.0, 2.0], &[10, 10, 0], 0.75), Some(1.5));
        assert_eq!(quantile(&[1.0, 2.0], &[0, 0, 4], 0.99), Some(2.0));
        assert_eq!(quantile(&[1.0], &[0, 0], 0.5), None);
    }

    #[test]
    fn buckets_that_do_not_match_their_bounds_are_not_read() {
        // One bound, three counts: the third has no lower bound to read.
        assert_eq!(quantile(&[1.0], &[0, 0, 5], 0.5), None);
        let v = PointValue::Histogram {
            bounds: Box::new([1.0]),
            counts: Box::new([0, 0, 5]),
            count: 5,
            sum: 10.0,
        };
        assert!(quantiles(&[(0, 1_000_000, &v)], 0.99, false).is_empty());
    }

    #[test]
    fn counter_rates_survive_a_restart() {
        let v = [
            PointValue::Number(10.0),
            PointValue::Number(20.0),
            PointValue::Number(5.0),
        ];
        let pts = [
            (0, 1_000_000_000, &v[0]),
            (0, 2_000_000_000, &v[1]),
            (0, 3_000_000_000, &v[2]),
        ];
        assert_eq!(rates(&pts, true), [(2000, 10.0), (3000, 5.0)]);
    }
}
