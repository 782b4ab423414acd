//! Metrics: the SDK's collection as an OTLP `ExportMetricsServiceRequest`, with the exemplars
//! the SDK does not carry.
//!
//! The OpenTelemetry Rust SDK collects no exemplars, its data types cannot be given any (private
//! fields, getters only), and opentelemetry-otlp turns them into the protobuf request inside its
//! exporter, with no hook. So the push builds the request itself, with the very conversion that
//! exporter runs (`opentelemetry-proto`'s `From<&ResourceMetrics>`), adds the exemplars that
//! `metrics::exemplars` keeps to the histogram points they belong to (by instrument name and
//! attribute set, as the OpenMetrics exposition matches them), encodes it with prost and sends
//! it like the spans and log records (`send.rs`).

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, ScopeMetrics};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData, ResourceMetrics};

use crate::metrics::ExemplarStore;

/// The gRPC method of the metrics service.
pub(super) const METRICS_PATH: &str =
    "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

/// The encoded OTLP request for `rm` (see [`request`]).
pub(super) fn encode(rm: &ResourceMetrics, exemplars: &ExemplarStore) -> Vec<u8> {
    prost::Message::encode_to_vec(&request(rm, exemplars))
}

/// The OTLP request for `rm`: what opentelemetry-otlp would send, plus the exemplars of the
/// histograms that keep them (`time_unix_nano`, `as_double`, `span_id`, `trace_id`; no filtered
/// attributes), one per bucket that has one, in bucket order.
pub(super) fn request(
    rm: &ResourceMetrics,
    exemplars: &ExemplarStore,
) -> ExportMetricsServiceRequest {
    let mut request = ExportMetricsServiceRequest::from(rm);
    // The conversion keeps the SDK's order: scopes, metrics and points pair up one to one.
    let Some(out) = request.resource_metrics.first_mut() else {
        return request;
    };
    // The families the library keeps itself (measured functions'), if this pipeline records
    // them: after the SDK's, in the library's scope. `exemplars` identifies the pipeline.
    if let Some((own, start)) = crate::metrics::function::families(exemplars) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let metrics = crate::metrics::own::to_otlp(&own, start, now);
        let scope = out.scope_metrics.iter().position(|sm| {
            sm.scope
                .as_ref()
                .is_some_and(|s| s.name == "watchpost" && s.version.is_empty())
        });
        match scope {
            Some(i) => out.scope_metrics[i].metrics.extend(metrics),
            None if !metrics.is_empty() => out.scope_metrics.push(ScopeMetrics {
                scope: Some(InstrumentationScope {
                    name: "watchpost".into(),
                    ..Default::default()
                }),
                metrics,
                schema_url: String::new(),
            }),
            None => {}
        }
    }
    for (scope, out) in rm.scope_metrics().zip(&mut out.scope_metrics) {
        for (metric, out) in scope.metrics().zip(&mut out.metrics) {
            let (AggregatedMetrics::F64(MetricData::Histogram(h)), Some(Data::Histogram(out))) =
                (metric.data(), &mut out.data)
            else {
                continue;
            };
            let Some(slots) = exemplars.find(metric.name()) else {
                continue;
            };
            for (point, out) in h.data_points().zip(&mut out.data_points) {
                let Some(by_bucket) = slots.of(point.attributes()) else {
                    continue;
                };
                out.exemplars
                    .extend(by_bucket.iter().flatten().map(|e| e.to_otlp()));
            }
        }
    }
    request
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use opentelemetry::KeyValue;
    use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
    use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric::Data, HistogramDataPoint};
    use opentelemetry_sdk::metrics::exporter::PushMetricExporter as _;
    use watchpost_testkit::otlp::{ExportRequest, Receiver};

    use crate::catalogue::{Label, MetricDef, Unit};
    use crate::config::OtlpSignal;

    const WAIT: MetricDef = MetricDef::histogram("shop_wait_seconds", "Wait", &[0.1, 1.0])
        .unit(Unit::Seconds)
        .labels(&[Label::closed("queue", &["a", "b"])]);
    const SIZE: MetricDef = MetricDef::histogram("shop_size_bytes", "Size", &[10.0, 100.0]);
    const ORDERS: MetricDef = MetricDef::counter("shop_orders_total", "Orders");

    fn now_ns() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64
    }

    /// The points of histogram `name` in `request`, by their `queue` attribute (if any).
    fn points<'r>(
        request: &'r ExportMetricsServiceRequest,
        name: &str,
    ) -> Vec<&'r HistogramDataPoint> {
        let metric = (request.resource_metrics.iter())
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} was sent"));
        match &metric.data {
            Some(Data::Histogram(h)) => h.data_points.iter().collect(),
            other => panic!("{name} is not a histogram: {other:?}"),
        }
    }

    fn queue(point: &HistogramDataPoint) -> String {
        watchpost_testkit::otlp::attr_text(&point.attributes, "queue").unwrap_or_default()
    }

    /// What a receiver got: one metrics request and its headers.
    async fn one_request(receiver: Receiver) -> (ExportMetricsServiceRequest, ExportRequest) {
        let received = receiver.stop().await;
        let mut r = received.lock().unwrap();
        assert_eq!(r.metric_requests.len(), 1, "one request");
        (r.metric_requests.remove(0), r.requests.remove(0))
    }

    /// The same collection sent once by opentelemetry-otlp's exporter and once by the push, each to
    /// its own real receiver, over gRPC and over OTLP/HTTP: the push's request, decoded, is the
    /// exporter's field by field but for the exemplars it adds to the histograms that keep them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_push_sends_what_the_sdk_exporter_would_plus_the_exemplars() {
        // Traces are exported (so the histogram keeps exemplars); where they go does not matter.
        let config = crate::Config::builder("shop")
            .otel_enabled(true)
            .otel_endpoint("127.0.0.1:9")
            .trace_sampler_ratio(1.0)
            .build()
            .unwrap();
        let (telemetry, dispatch) = crate::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        let metrics = telemetry.metrics();
        let wait = metrics.exemplar_histogram(&WAIT);
        let size = metrics.histogram(&SIZE);
        metrics.counter(&ORDERS).add(3, &[]);
        let before = now_ns();
        let ids = tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("job");
            let _in = span.enter();
            wait.record(0.05, &[KeyValue::new("queue", "a")]);
            wait.record(5.0, &[KeyValue::new("queue", "a")]);
            wait.record(0.5, &[KeyValue::new("queue", "b")]);
            size.record(50.0, &[]);
            crate::traces::span_ids(&span).expect("the span has ids")
        });
        let after = now_ns();
        let rm = metrics.collect_owned().expect("collected");
        let ours = super::request(&rm, metrics.exemplars());

        // The exemplars: per point, one per bucket that has one, in bucket order.
        for point in points(&ours, "shop_wait_seconds") {
            let values: Vec<f64> = (point.exemplars.iter())
                .map(|e| match e.value {
                    Some(exemplar::Value::AsDouble(v)) => v,
                    other => panic!("{other:?}"),
                })
                .collect();
            let expected: &[f64] = if queue(point) == "a" {
                &[0.05, 5.0]
            } else {
                &[0.5]
            };
            assert_eq!(values, expected, "queue {}", queue(point));
            for e in &point.exemplars {
                assert_eq!(e.trace_id, ids.trace_id);
                assert_eq!(e.span_id, ids.span_id);
                assert!(e.filtered_attributes.is_empty());
                assert!((before..=after).contains(&e.time_unix_nano), "{e:?}");
            }
        }
        assert!(
            points(&ours, "shop_size_bytes")[0].exemplars.is_empty(),
            "a histogram that keeps none has none"
        );

        for http in [false, true] {
            let start = |addr| async move {
                if http {
                    Receiver::start_http(addr, None).await
                } else {
                    Receiver::start(addr, None).await
                }
            };
            let addr = "127.0.0.1:0".parse().unwrap();
            let (theirs_rx, ours_rx) = (start(addr).await, start(addr).await);
            let config_for = |receiver: &Receiver| {
                let mut b = crate::Config::builder("shop").otel_enabled(true);
                b = if http {
                    b.env_vars([
                        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf".to_string()),
                        ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url()),
                    ])
                } else {
                    b.otel_endpoint(receiver.addr.to_string())
                };
                b.build().unwrap()
            };

            // opentelemetry-otlp's exporter, configured as the library configured it (the same
            // HTTP client: exactly the target's headers).
            let theirs_config = config_for(&theirs_rx);
            let t = theirs_config.otlp(OtlpSignal::Metrics);
            let exporter = if http {
                use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
                let client = super::super::http_client::client(t, None).unwrap();
                opentelemetry_otlp::MetricExporter::builder()
                    .with_http()
                    .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
                    .with_endpoint(t.url())
                    .with_shared_http_client(client)
                    .build()
            } else {
                use opentelemetry_otlp::WithExportConfig as _;
                opentelemetry_otlp::MetricExporter::builder()
                    .with_tonic()
                    .with_endpoint(t.url())
                    .build()
            }
            .unwrap();
            exporter.export(&rm).await.expect("the exporter sent it");

            // The push, as the worker does it.
            let ours_config = config_for(&ours_rx);
            let resource = opentelemetry_sdk::Resource::builder_empty().build();
            let (exporters, failures) =
                super::super::otlp::build(&ours_config.otlp, [false, true, false], &resource);
            assert!(failures.is_empty(), "{failures:?}");
            let push = exporters.metrics.expect("a metrics exporter");
            let body = push.body(&super::encode(&rm, metrics.exemplars())).unwrap();
            push.export(body, Duration::from_secs(10))
                .await
                .expect("the push sent it");

            let (theirs, theirs_headers) = one_request(theirs_rx).await;
            let (mut received, ours_headers) = one_request(ours_rx).await;
            assert_eq!(
                received, ours,
                "http: {http}: what arrived is what was built"
            );
            for rm in &mut received.resource_metrics {
                for sm in &mut rm.scope_metrics {
                    for m in &mut sm.metrics {
                        if let Some(Data::Histogram(h)) = &mut m.data {
                            for p in &mut h.data_points {
                                p.exemplars.clear();
                            }
                        }
                    }
                }
            }
            assert!(
                !theirs.resource_metrics[0].scope_metrics.is_empty(),
                "something was compared"
            );
            assert_eq!(
                received, theirs,
                "http: {http}: the exporter's request, field by field, but for the exemplars"
            );
            // The same headers; their values too, but for the address, the body's length (the
            // exemplars) and, over gRPC, `user-agent` (the library's channel names itself there,
            // ours is tonic's).
            let names = |r: &ExportRequest| {
                let mut n: Vec<(String, String)> = (r.headers.iter())
                    .map(|(k, v)| match k.as_str() {
                        "host" | "content-length" => (k.clone(), String::new()),
                        "user-agent" if !http => (k.clone(), String::new()),
                        _ => (k.clone(), v.clone()),
                    })
                    .collect();
                n.sort();
                n
            };
            assert_eq!(
                names(&ours_headers),
                names(&theirs_headers),
                "http: {http}: the same headers"
            );
        }
        telemetry
            .shutdown_with_timeout(Duration::from_millis(100))
            .ok();
    }
}
