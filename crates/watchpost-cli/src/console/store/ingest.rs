//! From OTLP to the store's items: attribute values, ids, levels, and `Store::add_*`.

use std::mem::size_of;
use std::sync::Arc;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric, number_data_point};

use crate::otlp::Batch;

use super::{
    alloc, attrs_bytes, hex, metric_info_bytes, Attrs, Event, Exemplar, LogRecord, MetricInfo,
    MetricPoint, PointValue, Span, Store, Value, INDEX_BYTES,
};

/// A metric point as read: attributes, start, time, value, exemplars.
type Incoming = (Attrs, u64, u64, PointValue, Box<[Exemplar]>);

/// The exemplars that name a trace.
fn exemplars(list: &[opentelemetry_proto::tonic::metrics::v1::Exemplar]) -> Box<[Exemplar]> {
    list.iter()
        .filter_map(|e| {
            Some(Exemplar {
                time: e.time_unix_nano,
                value: match e.value {
                    Some(exemplar::Value::AsDouble(d)) => d,
                    Some(exemplar::Value::AsInt(i)) => i as f64,
                    None => return None,
                },
                trace_id: id::<16>(&e.trace_id)?,
                span_id: id::<8>(&e.span_id),
            })
        })
        .collect()
}

fn any_text(v: &AnyValue) -> Value {
    match &v.value {
        Some(any_value::Value::StringValue(s)) => Value::Str(s.as_str().into()),
        Some(any_value::Value::IntValue(i)) => Value::Int(*i),
        Some(any_value::Value::DoubleValue(d)) => Value::Double(*d),
        Some(any_value::Value::BoolValue(b)) => Value::Bool(*b),
        Some(any_value::Value::BytesValue(b)) => Value::Str(hex(b).into()),
        Some(any_value::Value::ArrayValue(a)) => Value::Str(
            serde_json::Value::Array(a.values.iter().map(any_json).collect())
                .to_string()
                .into(),
        ),
        Some(any_value::Value::KvlistValue(kv)) => Value::Str(
            serde_json::Value::Object(
                kv.values
                    .iter()
                    .map(|kv| {
                        (
                            kv.key.clone(),
                            kv.value.as_ref().map_or(serde_json::Value::Null, any_json),
                        )
                    })
                    .collect(),
            )
            .to_string()
            .into(),
        ),
        // A string by reference into a dictionary we are not sent, or no value.
        Some(any_value::Value::StringValueStrindex(_)) | None => Value::Str("".into()),
    }
}

fn any_json(v: &AnyValue) -> serde_json::Value {
    match any_text(v) {
        Value::Str(s) => serde_json::Value::String(s.into()),
        Value::Int(i) => i.into(),
        Value::Double(d) => d.into(),
        Value::Bool(b) => b.into(),
    }
}

pub(super) fn attrs(kvs: &[KeyValue]) -> Attrs {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.as_str().into(),
                kv.value.as_ref().map_or(Value::Str("".into()), any_text),
            )
        })
        .collect()
}

/// An id from the wire: `None` when empty, all zero or of the wrong length.
fn id<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
    let a: [u8; N] = b.try_into().ok()?;
    (a != [0; N]).then_some(a)
}

fn level(number: i32, text: &str) -> &'static str {
    match number {
        1..=4 => "TRACE",
        5..=8 => "DEBUG",
        9..=12 => "INFO",
        13..=16 => "WARN",
        17..=20 => "ERROR",
        21..=24 => "FATAL",
        _ => match text.to_ascii_uppercase().as_str() {
            "TRACE" => "TRACE",
            "DEBUG" => "DEBUG",
            "WARN" | "WARNING" => "WARN",
            "ERROR" => "ERROR",
            "FATAL" | "CRITICAL" => "FATAL",
            _ => "INFO",
        },
    }
}

impl Store {
    /// Stores an export of any signal, as [`Store::add_traces`], [`Store::add_logs`] or
    /// [`Store::add_metrics`] would; an unreadable export ([`Batch::Invalid`]) stores nothing.
    ///
    /// ```
    /// use watchpost_cli::console::store::Store;
    /// use watchpost_cli::otlp::Batch;
    /// let mut store = Store::new(1 << 20);
    /// store.add_batch(Batch::Logs(Default::default()));
    /// assert_eq!(store.stats().received.logs, 0);
    /// ```
    pub fn add_batch(&mut self, batch: Batch) {
        match batch {
            Batch::Traces(r) => self.add_traces(r),
            Batch::Logs(r) => self.add_logs(r),
            Batch::Metrics(r) => self.add_metrics(r),
            Batch::Invalid { .. } => {}
        }
    }

    /// Stores an export's spans.
    pub fn add_traces(&mut self, req: ExportTraceServiceRequest) {
        for rs in req.resource_spans {
            let resource = self.resource(rs.resource.as_ref());
            for ss in rs.scope_spans {
                let scope: Arc<str> = ss.scope.map_or_else(|| "".into(), |s| s.name.into());
                for s in ss.spans {
                    self.received.spans += 1;
                    let Some(trace_id) = id::<16>(&s.trace_id) else {
                        self.unreadable.spans += 1;
                        continue;
                    };
                    let events: Vec<Event> = s
                        .events
                        .iter()
                        .map(|e| Event {
                            time: e.time_unix_nano,
                            name: e.name.as_str().into(),
                            attributes: attrs(&e.attributes),
                        })
                        .collect();
                    let (status, status_message) = s
                        .status
                        .map(|st| (st.code, st.message.into()))
                        .unwrap_or((0, "".into()));
                    let mut span = Span {
                        trace_id,
                        span_id: id::<8>(&s.span_id).unwrap_or_default(),
                        parent: id::<8>(&s.parent_span_id),
                        name: s.name.into(),
                        kind: s.kind,
                        start: s.start_time_unix_nano,
                        end: s.end_time_unix_nano.max(s.start_time_unix_nano),
                        status,
                        status_message,
                        attributes: attrs(&s.attributes),
                        events,
                        scope: scope.clone(),
                        resource: resource.clone(),
                        arrived: self.arrival(),
                        bytes: 0,
                    };
                    // Its box and the deque's pointer to it, its strings, attributes and events.
                    span.bytes = alloc(size_of::<Span>())
                        + size_of::<usize>()
                        + alloc(span.name.len())
                        + alloc(span.status_message.len())
                        + attrs_bytes(&span.attributes)
                        + alloc(span.events.len() * size_of::<Event>())
                        + span
                            .events
                            .iter()
                            .map(|e| alloc(e.name.len()) + attrs_bytes(&e.attributes))
                            .sum::<usize>()
                        + alloc(16 + span.scope.len())
                        + INDEX_BYTES;
                    self.bytes += span.bytes;
                    let n = self.spans.push(span);
                    self.traces.entry(trace_id).or_default().spans.push_back(n);
                    self.evict();
                }
            }
            // Held here too: released now if every item that used it was evicted.
            self.release(resource);
        }
    }

    /// Stores an export's log records.
    pub fn add_logs(&mut self, req: ExportLogsServiceRequest) {
        for rl in req.resource_logs {
            let resource = self.resource(rl.resource.as_ref());
            for sl in rl.scope_logs {
                let scope: Arc<str> = sl.scope.map_or_else(|| "".into(), |s| s.name.into());
                for r in sl.log_records {
                    self.received.logs += 1;
                    let body: Box<str> = match r.body.as_ref().map(any_text) {
                        Some(Value::Str(s)) => s,
                        Some(other) => other.text().into(),
                        None => "".into(),
                    };
                    let trace_id = id::<16>(&r.trace_id);
                    let mut rec = LogRecord {
                        time: if r.time_unix_nano != 0 {
                            r.time_unix_nano
                        } else {
                            r.observed_time_unix_nano
                        },
                        severity: r.severity_number,
                        level: level(r.severity_number, &r.severity_text),
                        body,
                        attributes: attrs(&r.attributes),
                        trace_id,
                        span_id: id::<8>(&r.span_id),
                        scope: scope.clone(),
                        resource: resource.clone(),
                        arrived: self.arrival(),
                        bytes: 0,
                    };
                    rec.bytes = alloc(size_of::<LogRecord>())
                        + size_of::<usize>()
                        + alloc(rec.body.len())
                        + attrs_bytes(&rec.attributes)
                        + alloc(16 + rec.scope.len())
                        + INDEX_BYTES;
                    self.bytes += rec.bytes;
                    let n = self.logs.push(rec);
                    if let Some(t) = trace_id {
                        self.traces.entry(t).or_default().logs.push_back(n);
                    }
                    self.evict();
                }
            }
            // Held here too: released now if every item that used it was evicted.
            self.release(resource);
        }
    }

    /// Stores an export's metric points (exponential histograms and summaries keep their count
    /// and sum only).
    pub fn add_metrics(&mut self, req: ExportMetricsServiceRequest) {
        for rm in req.resource_metrics {
            let resource = self.resource(rm.resource.as_ref());
            for sm in rm.scope_metrics {
                for m in sm.metrics {
                    let Some(data) = m.data else {
                        self.unreadable.metric_points += 1;
                        continue;
                    };
                    let (kind, cumulative) = match &data {
                        metric::Data::Gauge(_) => ("gauge", true),
                        metric::Data::Sum(s) if s.is_monotonic => {
                            ("counter", s.aggregation_temporality != 1)
                        }
                        metric::Data::Sum(s) => ("updowncounter", s.aggregation_temporality != 1),
                        metric::Data::Histogram(h) => ("histogram", h.aggregation_temporality != 1),
                        metric::Data::ExponentialHistogram(h) => {
                            ("exponential_histogram", h.aggregation_temporality != 1)
                        }
                        metric::Data::Summary(_) => ("summary", true),
                    };
                    let mut points: Vec<Incoming> = Vec::new();
                    let number = |v: &Option<number_data_point::Value>| match v {
                        Some(number_data_point::Value::AsDouble(d)) => *d,
                        Some(number_data_point::Value::AsInt(i)) => *i as f64,
                        None => 0.0,
                    };
                    match data {
                        metric::Data::Gauge(g) => {
                            for p in g.data_points {
                                points.push((
                                    attrs(&p.attributes),
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    PointValue::Number(number(&p.value)),
                                    exemplars(&p.exemplars),
                                ));
                            }
                        }
                        metric::Data::Sum(s) => {
                            for p in s.data_points {
                                points.push((
                                    attrs(&p.attributes),
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    PointValue::Number(number(&p.value)),
                                    exemplars(&p.exemplars),
                                ));
                            }
                        }
                        metric::Data::Histogram(h) => {
                            for p in h.data_points {
                                points.push((
                                    attrs(&p.attributes),
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    self.histogram(
                                        p.explicit_bounds,
                                        p.bucket_counts,
                                        p.count,
                                        p.sum.unwrap_or(0.0),
                                    ),
                                    exemplars(&p.exemplars),
                                ));
                            }
                        }
                        metric::Data::ExponentialHistogram(h) => {
                            for p in h.data_points {
                                points.push((
                                    attrs(&p.attributes),
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    PointValue::Histogram {
                                        bounds: Box::new([]),
                                        counts: Box::new([p.count]),
                                        count: p.count,
                                        sum: p.sum.unwrap_or(0.0),
                                    },
                                    exemplars(&p.exemplars),
                                ));
                            }
                        }
                        metric::Data::Summary(s) => {
                            for p in s.data_points {
                                points.push((
                                    attrs(&p.attributes),
                                    p.start_time_unix_nano,
                                    p.time_unix_nano,
                                    PointValue::Histogram {
                                        bounds: Box::new([]),
                                        counts: Box::new([p.count]),
                                        count: p.count,
                                        sum: p.sum,
                                    },
                                    Box::new([]),
                                ));
                            }
                        }
                    }
                    if points.is_empty() {
                        self.unreadable.metric_points += 1;
                        continue;
                    }
                    for (attributes, start, time, value, exemplars) in points {
                        self.received.metric_points += 1;
                        // The index entry is made (and charged) with the metric's first point
                        // held, and released with its last.
                        let name =
                            self.metric_name(&m.name, kind, &m.unit, &m.description, cumulative);
                        let heap = match &value {
                            PointValue::Number(_) => 0,
                            PointValue::Histogram { bounds, counts, .. } => {
                                alloc(bounds.len() * 8) + alloc(counts.len() * 8)
                            }
                        };
                        let bytes = alloc(size_of::<MetricPoint>())
                            + size_of::<usize>()
                            + attrs_bytes(&attributes)
                            + heap
                            + alloc(exemplars.len() * size_of::<Exemplar>())
                            + INDEX_BYTES;
                        let point = MetricPoint {
                            name: name.clone(),
                            attributes,
                            start,
                            time,
                            value,
                            exemplars,
                            resource: resource.clone(),
                            arrived: self.arrival(),
                            bytes,
                        };
                        self.bytes += bytes;
                        self.points.push(point);
                        self.evict();
                    }
                }
            }
            // Held here too: released now if every item that used it was evicted.
            self.release(resource);
        }
    }

    /// A histogram point's value: its buckets only when they can be read (one more count than
    /// bounds, or none of either; finite bounds in increasing order), else its count and sum
    /// only (counted in `malformed_histograms`).
    fn histogram(
        &mut self,
        bounds: Vec<f64>,
        counts: Vec<u64>,
        count: u64,
        sum: f64,
    ) -> PointValue {
        let readable = (bounds.is_empty() && counts.is_empty())
            || (counts.len() == bounds.len() + 1
                && bounds.iter().all(|b| b.is_finite())
                && bounds.windows(2).all(|w| w[0] < w[1]));
        if readable {
            PointValue::Histogram {
                bounds: bounds.into(),
                counts: counts.into(),
                count,
                sum,
            }
        } else {
            self.malformed_histograms += 1;
            PointValue::Histogram {
                bounds: Box::new([]),
                counts: Box::new([]),
                count,
                sum,
            }
        }
    }

    /// The metric's shared name; its index entry is made (and charged) if absent, and counts
    /// one more point held.
    fn metric_name(
        &mut self,
        name: &str,
        kind: &'static str,
        unit: &str,
        description: &str,
        cumulative: bool,
    ) -> Arc<str> {
        if let Some(info) = self.metrics.get_mut(name) {
            info.kind = kind;
            info.cumulative = cumulative;
            info.points += 1;
            return info.name.clone();
        }
        let shared: Arc<str> = name.into();
        self.bytes += metric_info_bytes(name, unit, description);
        self.metrics.insert(
            shared.clone(),
            MetricInfo {
                kind,
                unit: unit.to_owned(),
                description: description.to_owned(),
                cumulative,
                points: 1,
                name: shared.clone(),
            },
        );
        shared
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::{
        Gauge, Histogram, HistogramDataPoint, Metric, ResourceMetrics, ScopeMetrics,
    };
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan};

    use super::*;

    fn metrics(list: Vec<Metric>) -> ExportMetricsServiceRequest {
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                scope_metrics: vec![ScopeMetrics {
                    metrics: list,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            }],
        }
    }

    #[test]
    fn metrics_without_data_points_store_nothing_and_are_counted() {
        let mut store = Store::new(1 << 20);
        let empty: Vec<Metric> = (0..10_000)
            .map(|i| Metric {
                name: format!("metric_{i}_{}", "x".repeat(200)),
                description: "d".repeat(200),
                data: Some(metric::Data::Gauge(Gauge {
                    data_points: vec![],
                })),
                ..Metric::default()
            })
            .chain(std::iter::once(Metric {
                name: "no_data".into(),
                ..Metric::default()
            }))
            .collect();
        store.add_metrics(metrics(empty));
        let stats = store.stats();
        assert_eq!(stats.bytes, 0, "no index entry without a point");
        assert!(store.metrics.is_empty());
        assert_eq!(stats.unreadable.metric_points, 10_001);
        store.add_traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: vec![
                        OtlpSpan {
                            trace_id: vec![1; 16],
                            span_id: vec![1; 8],
                            ..OtlpSpan::default()
                        },
                        OtlpSpan {
                            trace_id: vec![0; 16],
                            ..OtlpSpan::default()
                        },
                    ],
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        });
        let stats = store.stats();
        assert_eq!(stats.stored.spans, 1, "later spans are still stored");
        assert_eq!(stats.unreadable.spans, 1, "a span without a trace id");
        assert_eq!(stats.evicted.spans, 0);
    }

    #[test]
    fn a_metric_entry_goes_with_its_last_point() {
        // A budget smaller than one point: each is evicted as it arrives, with its entry.
        let mut store = Store::new(100);
        let gauge = Metric {
            name: "g".into(),
            data: Some(metric::Data::Gauge(Gauge {
                data_points: vec![Default::default(), Default::default()],
            })),
            ..Metric::default()
        };
        store.add_metrics(metrics(vec![gauge]));
        let stats = store.stats();
        assert_eq!(
            (stats.stored.metric_points, stats.evicted.metric_points),
            (0, 2)
        );
        assert_eq!(stats.bytes, 0);
        assert!(store.metrics.is_empty());
    }

    #[test]
    fn histogram_buckets_that_do_not_match_their_bounds_are_dropped_and_counted() {
        let mut store = Store::new(1 << 20);
        let point = |bounds: Vec<f64>, counts: Vec<u64>| HistogramDataPoint {
            count: counts.iter().sum(),
            sum: Some(12.0),
            explicit_bounds: bounds,
            bucket_counts: counts,
            ..HistogramDataPoint::default()
        };
        let h = Metric {
            name: "h".into(),
            data: Some(metric::Data::Histogram(Histogram {
                data_points: vec![
                    point(vec![1.0], vec![0, 0, 5]),
                    point(vec![2.0, 1.0], vec![1, 1, 1]),
                    point(vec![f64::NAN], vec![1, 1]),
                    point(vec![1.0, 2.0], vec![1, 2, 3]),
                ],
                aggregation_temporality: 2,
            })),
            ..Metric::default()
        };
        store.add_metrics(metrics(vec![h]));
        assert_eq!(store.stats().malformed_histograms, 3);
        let kept: Vec<(usize, usize, u64)> = store
            .points
            .iter()
            .map(|p| match &p.value {
                PointValue::Histogram {
                    bounds,
                    counts,
                    count,
                    ..
                } => (bounds.len(), counts.len(), *count),
                PointValue::Number(_) => panic!("a histogram"),
            })
            .collect();
        assert_eq!(kept, [(0, 0, 5), (0, 0, 3), (0, 0, 2), (2, 3, 6)]);
    }
}
