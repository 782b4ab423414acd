//! A histogram that keeps exemplars carries them in the OTLP metric push too, over gRPC and over
//! OTLP/HTTP: a real receiver gets, on the point of the series that was measured, an exemplar
//! per bucket that was measured in a sampled span — with that span's trace and span id (a span
//! the same receiver got), the value and the time of the measurement, no filtered attributes —
//! and none on a bucket measured outside any span.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::KeyValue;
use opentelemetry_proto::tonic::metrics::v1::{exemplar, metric::Data};
use watchpost::catalogue::{Label, MetricDef, Unit};
use watchpost_testkit::otlp::{attr_text, Receiver};

const WAIT: MetricDef = MetricDef::histogram("shop_wait_seconds", "Time in the queue", &[0.1, 1.0])
    .unit(Unit::Seconds)
    .labels(&[Label::closed("queue", &["fast", "slow"])]);

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exemplars_travel_with_otlp_histogram_points() {
    for http in [false, true] {
        let addr = "127.0.0.1:0".parse().unwrap();
        let receiver = if http {
            Receiver::start_http(addr, None).await
        } else {
            Receiver::start(addr, None).await
        };
        let endpoint = receiver.url();
        let protocol = if http { "http/protobuf" } else { "grpc" };
        let config = watchpost::Config::builder("shop")
            .env_vars([
                ("OTEL_ENABLED", "true"),
                ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
                ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
                ("OTEL_TRACES_SAMPLER", "always_on"),
            ])
            .build()
            .unwrap();
        let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        let wait = telemetry.metrics().exemplar_histogram(&WAIT);
        let before = now_ns();
        tracing::dispatcher::with_default(&dispatch, || {
            // Outside any span: counted, no exemplar (bucket +Inf).
            wait.record(3.0, &[KeyValue::new("queue", "slow")]);
            tracing::info_span!("dequeue").in_scope(|| {
                wait.record(0.05, &[KeyValue::new("queue", "fast")]); // bucket ≤ 0.1
                wait.record(0.5, &[KeyValue::new("queue", "slow")]); // bucket ≤ 1
            });
        });
        let after = now_ns();
        tokio::task::spawn_blocking(move || {
            telemetry.shutdown_with_timeout(Duration::from_secs(10))
        })
        .await
        .unwrap()
        .expect("shutdown delivers everything");
        let received = receiver.stop().await;
        let r = received.lock().unwrap();

        let span = (r.spans.iter())
            .find(|s| s.name == "dequeue")
            .expect("the span arrived");
        // The last push (at shutdown) holds every measurement.
        let metric = (r.metrics.iter().rev())
            .find(|m| m.name == "shop_wait_seconds")
            .expect("the histogram arrived");
        let Some(Data::Histogram(h)) = &metric.data else {
            panic!("not a histogram: {metric:?}");
        };
        let mut seen = Vec::new();
        for point in &h.data_points {
            let queue = attr_text(&point.attributes, "queue").unwrap();
            let values: Vec<f64> = (point.exemplars.iter())
                .map(|e| match e.value {
                    Some(exemplar::Value::AsDouble(v)) => v,
                    ref other => panic!("{other:?}"),
                })
                .collect();
            let expected: &[f64] = if queue == "fast" { &[0.05] } else { &[0.5] };
            assert_eq!(values, expected, "{protocol}: queue {queue}");
            for e in &point.exemplars {
                assert_eq!(
                    e.trace_id, span.trace_id,
                    "{protocol}: the exported span's trace"
                );
                assert_eq!(e.span_id, span.span_id, "{protocol}: the exported span");
                assert!(e.filtered_attributes.is_empty());
                assert!(
                    (before..=after).contains(&e.time_unix_nano),
                    "{protocol}: the measurement's time: {e:?}"
                );
            }
            seen.push(queue);
        }
        seen.sort();
        assert_eq!(seen, ["fast", "slow"], "{protocol}");
    }
}
