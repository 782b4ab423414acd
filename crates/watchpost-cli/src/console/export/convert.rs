//! From the store's items to OTLP export requests, copied a chunk at a time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1 as otlp_logs;
use opentelemetry_proto::tonic::metrics::v1 as otlp_metrics;
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1 as otlp_trace;

use super::{Document, Range};
use crate::console::store::{
    Attrs, LogRecord, MetricPoint, Numbered, PointValue, Resource, Span, Store, Value,
};

/// Items copied per hold of the store's read lock: ingest waits for one chunk at most.
pub const CHUNK: usize = 4096;

fn any(v: &Value) -> AnyValue {
    AnyValue {
        value: Some(match v {
            Value::Str(s) => any_value::Value::StringValue(s.to_string()),
            Value::Int(i) => any_value::Value::IntValue(*i),
            Value::Double(d) => any_value::Value::DoubleValue(*d),
            Value::Bool(b) => any_value::Value::BoolValue(*b),
        }),
    }
}

fn kvs(attrs: &Attrs) -> Vec<KeyValue> {
    attrs
        .iter()
        .map(|(k, v)| KeyValue {
            key: k.to_string(),
            value: Some(any(v)),
            ..KeyValue::default()
        })
        .collect()
}

fn resource(r: &Resource) -> Option<OtlpResource> {
    Some(OtlpResource {
        attributes: kvs(&r.attributes),
        ..OtlpResource::default()
    })
}

fn scope(name: &str) -> Option<InstrumentationScope> {
    (!name.is_empty()).then(|| InstrumentationScope {
        name: name.to_owned(),
        ..InstrumentationScope::default()
    })
}

/// Where an item goes: its resource's index in the request, by the resource's address (the
/// resource is held by [`Builder::held`], so its address is not reused meanwhile).
type ByResource = HashMap<usize, usize>;
/// … and its scope's index in that resource's list, by resource index and scope name.
type ByScope = HashMap<(usize, Arc<str>), usize>;

/// The index of `r` in `out`, adding an entry made by `make` the first time.
fn resource_index<T>(
    map: &mut ByResource,
    held: &mut Vec<Arc<Resource>>,
    out: &mut Vec<T>,
    r: &Arc<Resource>,
    make: impl FnOnce() -> T,
) -> usize {
    *map.entry(Arc::as_ptr(r) as usize).or_insert_with(|| {
        held.push(r.clone());
        out.push(make());
        out.len() - 1
    })
}

/// Builds the export requests of a range from items handed to it in any number of rounds (the
/// store's lock may be let go between them).
#[derive(Debug)]
pub struct Builder {
    range: Range,
    held: Vec<Arc<Resource>>,
    spans: Vec<otlp_trace::ResourceSpans>,
    span_resources: ByResource,
    span_scopes: ByScope,
    logs: Vec<otlp_logs::ResourceLogs>,
    log_resources: ByResource,
    log_scopes: ByScope,
    metrics: Vec<otlp_metrics::ResourceMetrics>,
    metric_resources: ByResource,
    metric_names: ByScope,
}

impl Builder {
    /// Nothing yet.
    pub fn new(range: Range) -> Builder {
        Builder {
            range,
            held: Vec::new(),
            spans: Vec::new(),
            span_resources: ByResource::new(),
            span_scopes: ByScope::new(),
            logs: Vec::new(),
            log_resources: ByResource::new(),
            log_scopes: ByScope::new(),
            metrics: Vec::new(),
            metric_resources: ByResource::new(),
            metric_names: ByScope::new(),
        }
    }

    /// Adds a span, if its start is in the range.
    pub fn span(&mut self, s: &Span) {
        if !self.range.holds(s.start) {
            return;
        }
        let ri = resource_index(
            &mut self.span_resources,
            &mut self.held,
            &mut self.spans,
            &s.resource,
            || otlp_trace::ResourceSpans {
                resource: resource(&s.resource),
                ..Default::default()
            },
        );
        let list = &mut self.spans[ri].scope_spans;
        let si = *self
            .span_scopes
            .entry((ri, s.scope.clone()))
            .or_insert_with(|| {
                list.push(otlp_trace::ScopeSpans {
                    scope: scope(&s.scope),
                    ..Default::default()
                });
                list.len() - 1
            });
        list[si].spans.push(otlp_trace::Span {
            trace_id: s.trace_id.to_vec(),
            span_id: s.span_id.to_vec(),
            parent_span_id: s.parent.map(|p| p.to_vec()).unwrap_or_default(),
            name: s.name.to_string(),
            kind: s.kind,
            start_time_unix_nano: s.start,
            end_time_unix_nano: s.end,
            attributes: kvs(&s.attributes),
            events: s
                .events
                .iter()
                .map(|e| otlp_trace::span::Event {
                    time_unix_nano: e.time,
                    name: e.name.to_string(),
                    attributes: kvs(&e.attributes),
                    ..Default::default()
                })
                .collect(),
            status: (s.status != 0 || !s.status_message.is_empty()).then(|| otlp_trace::Status {
                message: s.status_message.to_string(),
                code: s.status,
            }),
            ..Default::default()
        });
    }

    /// Adds a log record, if its time is in the range.
    pub fn log(&mut self, l: &LogRecord) {
        if !self.range.holds(l.time) {
            return;
        }
        let ri = resource_index(
            &mut self.log_resources,
            &mut self.held,
            &mut self.logs,
            &l.resource,
            || otlp_logs::ResourceLogs {
                resource: resource(&l.resource),
                ..Default::default()
            },
        );
        let list = &mut self.logs[ri].scope_logs;
        let si = *self
            .log_scopes
            .entry((ri, l.scope.clone()))
            .or_insert_with(|| {
                list.push(otlp_logs::ScopeLogs {
                    scope: scope(&l.scope),
                    ..Default::default()
                });
                list.len() - 1
            });
        list[si].log_records.push(otlp_logs::LogRecord {
            time_unix_nano: l.time,
            observed_time_unix_nano: l.time,
            severity_number: l.severity,
            severity_text: l.level.to_owned(),
            body: Some(AnyValue {
                value: Some(any_value::Value::StringValue(l.body.to_string())),
            }),
            attributes: kvs(&l.attributes),
            trace_id: l.trace_id.map(|t| t.to_vec()).unwrap_or_default(),
            span_id: l.span_id.map(|s| s.to_vec()).unwrap_or_default(),
            ..Default::default()
        });
    }

    /// Adds a metric point of `store`, if its time is in the range (one scope per resource,
    /// one metric per name in it).
    pub fn point(&mut self, store: &Store, p: &MetricPoint) {
        use otlp_metrics::metric::Data;
        if !self.range.holds(p.time) {
            return;
        }
        let Some(info) = store.metrics.get(&p.name) else {
            return;
        };
        let ri = resource_index(
            &mut self.metric_resources,
            &mut self.held,
            &mut self.metrics,
            &p.resource,
            || otlp_metrics::ResourceMetrics {
                resource: resource(&p.resource),
                scope_metrics: vec![otlp_metrics::ScopeMetrics::default()],
                ..Default::default()
            },
        );
        let list = &mut self.metrics[ri].scope_metrics[0].metrics;
        let temporality = if info.cumulative { 2 } else { 1 };
        let mi = *self
            .metric_names
            .entry((ri, p.name.clone()))
            .or_insert_with(|| {
                let data = match info.kind {
                    "gauge" => Data::Gauge(Default::default()),
                    "counter" | "updowncounter" => Data::Sum(otlp_metrics::Sum {
                        aggregation_temporality: temporality,
                        is_monotonic: info.kind == "counter",
                        ..Default::default()
                    }),
                    "exponential_histogram" => {
                        Data::ExponentialHistogram(otlp_metrics::ExponentialHistogram {
                            aggregation_temporality: temporality,
                            ..Default::default()
                        })
                    }
                    "summary" => Data::Summary(Default::default()),
                    _ => Data::Histogram(otlp_metrics::Histogram {
                        aggregation_temporality: temporality,
                        ..Default::default()
                    }),
                };
                list.push(otlp_metrics::Metric {
                    name: p.name.to_string(),
                    description: info.description.clone(),
                    unit: info.unit.clone(),
                    data: Some(data),
                    ..Default::default()
                });
                list.len() - 1
            });
        let exemplars: Vec<otlp_metrics::Exemplar> = p
            .exemplars
            .iter()
            .map(|e| otlp_metrics::Exemplar {
                time_unix_nano: e.time,
                value: Some(otlp_metrics::exemplar::Value::AsDouble(e.value)),
                trace_id: e.trace_id.to_vec(),
                span_id: e.span_id.map(|s| s.to_vec()).unwrap_or_default(),
                ..Default::default()
            })
            .collect();
        let attributes = kvs(&p.attributes);
        let number = |v: f64| otlp_metrics::NumberDataPoint {
            attributes: attributes.clone(),
            start_time_unix_nano: p.start,
            time_unix_nano: p.time,
            exemplars: exemplars.clone(),
            value: Some(otlp_metrics::number_data_point::Value::AsDouble(v)),
            ..Default::default()
        };
        match (&mut list[mi].data, &p.value) {
            (Some(Data::Gauge(g)), PointValue::Number(v)) => g.data_points.push(number(*v)),
            (Some(Data::Sum(s)), PointValue::Number(v)) => s.data_points.push(number(*v)),
            (
                Some(Data::Histogram(h)),
                PointValue::Histogram {
                    bounds,
                    counts,
                    count,
                    sum,
                },
            ) => {
                h.data_points.push(otlp_metrics::HistogramDataPoint {
                    attributes,
                    start_time_unix_nano: p.start,
                    time_unix_nano: p.time,
                    count: *count,
                    sum: Some(*sum),
                    bucket_counts: counts.to_vec(),
                    explicit_bounds: bounds.to_vec(),
                    exemplars,
                    ..Default::default()
                });
            }
            (Some(Data::ExponentialHistogram(h)), PointValue::Histogram { count, sum, .. }) => {
                h.data_points
                    .push(otlp_metrics::ExponentialHistogramDataPoint {
                        attributes,
                        start_time_unix_nano: p.start,
                        time_unix_nano: p.time,
                        count: *count,
                        sum: Some(*sum),
                        exemplars,
                        ..Default::default()
                    });
            }
            (Some(Data::Summary(s)), PointValue::Histogram { count, sum, .. }) => {
                s.data_points.push(otlp_metrics::SummaryDataPoint {
                    attributes,
                    start_time_unix_nano: p.start,
                    time_unix_nano: p.time,
                    count: *count,
                    sum: *sum,
                    ..Default::default()
                });
            }
            // A point whose value does not fit its metric's kind (a sender changed a metric's
            // kind while its old points were held): left out.
            _ => {}
        }
    }

    /// The document: the signals the range asks for.
    pub fn finish(self) -> Document {
        Document {
            traces: self.range.traces.then_some(ExportTraceServiceRequest {
                resource_spans: self.spans,
            }),
            logs: self.range.logs.then_some(ExportLogsServiceRequest {
                resource_logs: self.logs,
            }),
            metrics: self.range.metrics.then_some(ExportMetricsServiceRequest {
                resource_metrics: self.metrics,
            }),
        }
    }
}

/// Hands `f` the items of `items` numbered from `from` (or the oldest held, if later) up to
/// `until` (excluded), [`CHUNK`] at most: the number to go on from, or `None` when done.
fn chunk<T>(items: &Numbered<T>, from: u64, until: u64, mut f: impl FnMut(&T)) -> Option<u64> {
    let (base, _) = items.numbered().next()?;
    let start = from.max(base);
    let end = until.min(start + CHUNK as u64);
    for n in start..end {
        f(items.get(n)?);
    }
    (end < until).then_some(end)
}

/// The number after the newest item held (what arrives later is not exported).
fn end<T>(items: &Numbered<T>) -> u64 {
    items.numbered().next_back().map_or(0, |(n, _)| n + 1)
}

/// The export document of the range, copied [`CHUNK`] items at a time: the read lock is let go
/// between chunks, so ingest waits for one chunk at most. Items evicted meanwhile are left out;
/// items received meanwhile are not included.
pub fn document(store: &RwLock<Store>, range: &Range) -> Document {
    let read = || store.read().unwrap_or_else(|e| e.into_inner());
    let mut b = Builder::new(*range);
    let (spans_end, logs_end, points_end) = {
        let s = read();
        (end(&s.spans), end(&s.logs), end(&s.points))
    };
    let mut next = range.traces.then_some(0);
    while let Some(from) = next {
        let s = read();
        next = chunk(&s.spans, from, spans_end, |t| b.span(t));
    }
    let mut next = range.logs.then_some(0);
    while let Some(from) = next {
        let s = read();
        next = chunk(&s.logs, from, logs_end, |l| b.log(l));
    }
    let mut next = range.metrics.then_some(0);
    while let Some(from) = next {
        let s = read();
        next = chunk(&s.points, from, points_end, |p| b.point(&s, p));
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span as OtlpSpan};

    #[test]
    fn a_range_over_several_chunks_is_exported_whole_and_grouped_once() {
        let n = 2 * CHUNK + 5;
        let spans = (0..n)
            .map(|i| OtlpSpan {
                trace_id: (i as u128 + 1).to_be_bytes().to_vec(),
                span_id: (i as u64 + 1).to_be_bytes().to_vec(),
                name: "GET /".into(),
                start_time_unix_nano: 1_000 + i as u64,
                end_time_unix_nano: 2_000 + i as u64,
                ..OtlpSpan::default()
            })
            .collect();
        let mut store = Store::new(256 << 20);
        store.add_traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans,
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        });
        assert_eq!(store.spans.len(), n);
        let store = RwLock::new(store);
        let range = Range {
            from: 1_001,
            to: u64::MAX,
            traces: true,
            logs: false,
            metrics: false,
        };
        let doc = document(&store, &range);
        let traces = doc.traces.unwrap();
        assert_eq!(traces.resource_spans.len(), 1);
        assert_eq!(traces.resource_spans[0].scope_spans.len(), 1);
        let got = &traces.resource_spans[0].scope_spans[0].spans;
        assert_eq!(got.len(), n - 1, "every span but the one before `from`");
        assert_eq!(
            got.last().unwrap().start_time_unix_nano,
            1_000 + n as u64 - 1
        );
        assert!(doc.logs.is_none() && doc.metrics.is_none());
    }
}
