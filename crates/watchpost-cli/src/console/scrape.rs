//! `--scrape URL`: the console scrapes a Prometheus text or OpenMetrics exposition every
//! `--scrape-interval` (15 s by default), reads it with the crate's parser
//! ([`crate::exposition`], the one `watchpost lint` uses), stores its samples as metric points
//! and lints it ([`super::findings`]).
//!
//! - **Kinds**: counters become monotonic cumulative sums (charted as rates), gauges, untyped,
//!   info and stateset families gauges, histograms (and gauge histograms) histogram points with
//!   their buckets (Prometheus' cumulative `le` buckets turned into per-bucket counts), summaries
//!   their count and sum. The parser drops exemplars and sample timestamps, so points carry the
//!   scrape's time and no exemplars.
//! - **Service**: a sample's `service_name` or `job` label; else the target's (its `target_info`
//!   family's `service_name` or `job` label); else the URL's `host:port`. Every point's resource
//!   also has `service.instance.id` = `host:port`.
//! - **Bounds**: a scrape times out after `--scrape-timeout` (by default the interval), at most
//!   [`MAX_TIMEOUT`], and a body over [`MAX_BODY`] bytes is refused. Reading, converting and
//!   linting a body runs off the runtime's workers (`spawn_blocking`). A failed scrape (unreachable, not 2xx, over
//!   the bound, not an exposition) is counted and its error shown (`/api/sources`, `/api/stats`
//!   and `watchpost_console_scrapes_total{outcome="failed"}`); it is never fatal.
//!
//! ```
//! use watchpost_cli::console::scrape::to_otlp;
//! use watchpost_cli::exposition::parse;
//! let exp = parse("# TYPE jobs_total counter\njobs_total{job=\"worker\"} 3\n");
//! let req = to_otlp(&exp, "127.0.0.1:9000", 0, 1);
//! let resource = req.resource_metrics[0].resource.as_ref().unwrap();
//! assert_eq!(resource.attributes[0].key, "service.name");
//! assert_eq!(req.resource_metrics[0].scope_metrics[0].metrics[0].name, "jobs_total");
//! ```

use std::collections::BTreeMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, summary_data_point, Gauge, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum, Summary, SummaryDataPoint,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Serialize;

use super::otlp_kv::{kv, text};
use crate::exposition::{Exposition, Family, Kind, Sample};

/// The largest body read from a scrape; a larger one fails the scrape.
pub const MAX_BODY: usize = 16 << 20;
/// The longest a scrape may take (shorter when the interval is).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(10);
/// The scope name of the points a scrape stores.
pub const SCOPE: &str = "watchpost.console.scrape";

/// One scrape target's record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ScrapeStatus {
    /// The URL.
    pub url: String,
    /// `host:port`.
    pub instance: String,
    /// Good scrapes.
    pub ok: u64,
    /// Failed scrapes.
    pub failed: u64,
    /// The last failure's message.
    pub last_error: Option<String>,
    /// Unix nanoseconds of the last good scrape.
    pub last_ok_ns: u64,
    /// Samples in the last good scrape.
    pub last_samples: u64,
    /// Lines of the last good scrape that could not be read.
    pub last_parse_errors: u64,
}

/// `host:port` of a URL (the port the scheme implies when absent).
pub fn instance(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("");
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

/// GETs `url` as Prometheus does (the `Accept` of [`crate::source::SCRAPE_ACCEPT`]) and returns
/// its body, or why not: an error, a status other than 2xx, or a body over [`MAX_BODY`].
pub async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, String> {
    let mut resp = client
        .get(url)
        .header("accept", crate::source::SCRAPE_ACCEPT)
        .send()
        .await
        .map_err(|e| format!("cannot scrape {url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("{url} answered HTTP {status}"));
    }
    if resp.content_length().is_some_and(|n| n > MAX_BODY as u64) {
        return Err(format!("{url}: the body is over {MAX_BODY} bytes"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("{url}: the body is over {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// The service a sample's labels name (`service_name`, else `job`).
fn named_service(labels: &[(String, String)]) -> Option<&str> {
    let get = |k: &str| {
        labels
            .iter()
            .find(|(n, v)| n == k && !v.is_empty())
            .map(|(_, v)| v.as_str())
    };
    get("service_name").or_else(|| get("job"))
}

/// The service of the whole target: its `target_info`'s `service_name` or `job`, else
/// `instance`.
pub fn target_service(exp: &Exposition, instance: &str) -> String {
    exp.family("target_info")
        .and_then(|f| f.samples.iter().find_map(|s| named_service(&s.labels)))
        .unwrap_or(instance)
        .to_owned()
}

/// Labels without `drop` (`le`, `quantile`).
fn without(labels: &[(String, String)], drop: &str) -> Vec<(String, String)> {
    labels.iter().filter(|(k, _)| k != drop).cloned().collect()
}

type Points = BTreeMap<String, Vec<metric::Data>>;

/// Converts an exposition scraped at `now_ns` from `instance` into an OTLP export (one resource
/// per service; `start_ns` is the start of every cumulative point: the first scrape's time).
pub fn to_otlp(
    exp: &Exposition,
    instance: &str,
    start_ns: u64,
    now_ns: u64,
) -> ExportMetricsServiceRequest {
    let target = target_service(exp, instance);
    let mut by_service: BTreeMap<String, Vec<Metric>> = BTreeMap::new();
    for f in &exp.families {
        let mut data: Points = BTreeMap::new();
        let service_of = |s: &Sample| named_service(&s.labels).unwrap_or(&target).to_owned();
        match f.kind {
            Kind::Counter => {
                for s in f.samples.iter().filter(|s| s.value.is_finite()) {
                    let p = number(&s.labels, s.value, start_ns, now_ns);
                    push_sum(data.entry(service_of(s)).or_default(), p);
                }
            }
            Kind::Histogram | Kind::GaugeHistogram => {
                histograms(f, &service_of, start_ns, now_ns, &mut data)
            }
            Kind::Summary => summaries(f, &service_of, start_ns, now_ns, &mut data),
            Kind::Gauge | Kind::Unknown | Kind::Info | Kind::StateSet => {
                for s in &f.samples {
                    let p = number(&s.labels, s.value, 0, now_ns);
                    let list = data.entry(service_of(s)).or_default();
                    match list.first_mut() {
                        Some(metric::Data::Gauge(g)) => g.data_points.push(p),
                        _ => list.push(metric::Data::Gauge(Gauge {
                            data_points: vec![p],
                        })),
                    }
                }
            }
        }
        for (service, list) in data {
            for d in list {
                by_service.entry(service.clone()).or_default().push(Metric {
                    name: f.name.clone(),
                    description: f.help.clone().unwrap_or_default(),
                    unit: f.unit.clone().unwrap_or_default(),
                    data: Some(d),
                    ..Metric::default()
                });
            }
        }
    }
    ExportMetricsServiceRequest {
        resource_metrics: by_service
            .into_iter()
            .map(|(service, metrics)| ResourceMetrics {
                resource: Some(Resource {
                    attributes: vec![
                        kv("service.name", text(&service)),
                        kv("service.instance.id", text(instance)),
                    ],
                    ..Resource::default()
                }),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(InstrumentationScope {
                        name: SCOPE.to_owned(),
                        ..InstrumentationScope::default()
                    }),
                    metrics,
                    ..ScopeMetrics::default()
                }],
                ..ResourceMetrics::default()
            })
            .collect(),
    }
}

fn number(labels: &[(String, String)], value: f64, start: u64, time: u64) -> NumberDataPoint {
    NumberDataPoint {
        attributes: labels.iter().map(|(k, v)| kv(k, text(v))).collect(),
        start_time_unix_nano: start,
        time_unix_nano: time,
        value: Some(number_data_point::Value::AsDouble(value)),
        ..NumberDataPoint::default()
    }
}

fn push_sum(list: &mut Vec<metric::Data>, p: NumberDataPoint) {
    match list.first_mut() {
        Some(metric::Data::Sum(s)) => s.data_points.push(p),
        _ => list.push(metric::Data::Sum(Sum {
            data_points: vec![p],
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
    }
}

/// A series' samples of one histogram or summary: (`le`/`quantile`, value) pairs, sum, count.
#[derive(Default)]
struct Parts {
    service: String,
    parts: Vec<(f64, f64)>,
    sum: f64,
    count: Option<f64>,
}

/// Groups a family's samples by series (labels without `drop`), the suffix telling the part.
fn parts(
    f: &Family,
    drop: &str,
    suffixes: [&str; 3],
    service_of: &dyn Fn(&Sample) -> String,
) -> BTreeMap<Vec<(String, String)>, Parts> {
    let mut series: BTreeMap<Vec<(String, String)>, Parts> = BTreeMap::new();
    for s in &f.samples {
        let suffix = s.name.strip_prefix(f.name.as_str()).unwrap_or("");
        let e = series.entry(without(&s.labels, drop)).or_default();
        e.service = service_of(s);
        if suffix == suffixes[0] {
            if let Some(b) = s.label(drop).and_then(parse_bound) {
                e.parts.push((b, s.value));
            }
        } else if suffix == suffixes[1] {
            e.sum = s.value;
        } else if suffix == suffixes[2] {
            e.count = Some(s.value);
        }
    }
    series
}

fn parse_bound(s: &str) -> Option<f64> {
    match s {
        "+Inf" | "Inf" | "inf" => Some(f64::INFINITY),
        _ => s.parse().ok(),
    }
}

fn histograms(
    f: &Family,
    service_of: &dyn Fn(&Sample) -> String,
    start: u64,
    now: u64,
    out: &mut Points,
) {
    let suffixes = if f.kind == Kind::GaugeHistogram {
        ["_gbucket", "_gsum", "_gcount"]
    } else {
        ["_bucket", "_sum", "_count"]
    };
    for (labels, mut p) in parts(f, "le", suffixes, service_of) {
        p.parts.sort_by(|a, b| a.0.total_cmp(&b.0));
        p.parts.dedup_by(|b, a| a.0 == b.0);
        let total = p
            .count
            .or_else(|| p.parts.iter().find(|(le, _)| le.is_infinite()).map(|x| x.1))
            .unwrap_or(0.0)
            .max(0.0) as u64;
        let mut bounds = Vec::new();
        let mut counts = Vec::new();
        let mut below = 0u64;
        for (le, cumulative) in p.parts.iter().filter(|(le, _)| le.is_finite()) {
            let c = cumulative.max(0.0) as u64;
            bounds.push(*le);
            counts.push(c.saturating_sub(below));
            below = below.max(c);
        }
        counts.push(total.saturating_sub(below));
        let point = HistogramDataPoint {
            attributes: labels.iter().map(|(k, v)| kv(k, text(v))).collect(),
            start_time_unix_nano: start,
            time_unix_nano: now,
            count: total,
            sum: Some(p.sum),
            bucket_counts: counts,
            explicit_bounds: bounds,
            ..HistogramDataPoint::default()
        };
        let list = out.entry(p.service).or_default();
        match list.first_mut() {
            Some(metric::Data::Histogram(h)) => h.data_points.push(point),
            _ => list.push(metric::Data::Histogram(Histogram {
                data_points: vec![point],
                aggregation_temporality: 2,
            })),
        }
    }
}

fn summaries(
    f: &Family,
    service_of: &dyn Fn(&Sample) -> String,
    start: u64,
    now: u64,
    out: &mut Points,
) {
    // A summary's quantiles are samples named as the family itself.
    for (labels, p) in parts(f, "quantile", ["", "_sum", "_count"], service_of) {
        let point = SummaryDataPoint {
            attributes: labels.iter().map(|(k, v)| kv(k, text(v))).collect(),
            start_time_unix_nano: start,
            time_unix_nano: now,
            count: p.count.unwrap_or(0.0).max(0.0) as u64,
            sum: p.sum,
            quantile_values: p
                .parts
                .iter()
                .map(|(q, v)| summary_data_point::ValueAtQuantile {
                    quantile: *q,
                    value: *v,
                })
                .collect(),
            ..SummaryDataPoint::default()
        };
        let list = out.entry(p.service).or_default();
        match list.first_mut() {
            Some(metric::Data::Summary(s)) => s.data_points.push(point),
            _ => list.push(metric::Data::Summary(Summary {
                data_points: vec![point],
            })),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::parse;
    use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue};

    #[test]
    fn cumulative_buckets_become_per_bucket_counts() {
        let exp = parse(
            "# TYPE d_seconds histogram\n\
d_seconds_bucket{route=\"/a\",le=\"0.1\"} 2\n\
d_seconds_bucket{route=\"/a\",le=\"1\"} 5\n\
d_seconds_bucket{route=\"/a\",le=\"+Inf\"} 6\n\
d_seconds_sum{route=\"/a\"} 3.5\n\
d_seconds_count{route=\"/a\"} 6\n",
        );
        let req = to_otlp(&exp, "h:1", 0, 1);
        let m = &req.resource_metrics[0].scope_metrics[0].metrics[0];
        let Some(metric::Data::Histogram(h)) = &m.data else {
            panic!("a histogram: {m:?}");
        };
        let p = &h.data_points[0];
        assert_eq!(p.explicit_bounds, [0.1, 1.0]);
        assert_eq!(p.bucket_counts, [2, 3, 1]);
        assert_eq!((p.count, p.sum), (6, Some(3.5)));
        assert_eq!(p.attributes.len(), 1, "le is not an attribute");
    }

    #[test]
    fn the_service_comes_from_labels_then_target_info_then_the_address() {
        let exp = parse("a 1\nb{job=\"w\"} 2\n");
        assert_eq!(target_service(&exp, "h:1"), "h:1");
        let req = to_otlp(&exp, "h:1", 0, 1);
        let services: Vec<String> = req
            .resource_metrics
            .iter()
            .map(
                |r| match &r.resource.as_ref().unwrap().attributes[0].value {
                    Some(AnyValue {
                        value: Some(any_value::Value::StringValue(s)),
                    }) => s.clone(),
                    _ => String::new(),
                },
            )
            .collect();
        assert_eq!(services, ["h:1", "w"]);
        let exp = parse("target_info{service_name=\"svc\"} 1\na 1\n");
        assert_eq!(target_service(&exp, "h:1"), "svc");
    }
}
