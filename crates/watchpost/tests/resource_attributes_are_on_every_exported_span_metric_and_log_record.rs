//! `OTEL_RESOURCE_ATTRIBUTES` (percent-decoded) is on the resource of every batch of spans,
//! metrics and log records a real collector receives, beside the service's own attributes; its
//! `service.version` is also the log lines' `version`, and `OTEL_SERVICE_NAME` wins over its
//! `service.name`.

use opentelemetry_proto::tonic::common::v1::KeyValue;
use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::{attr_text, Receiver, Signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resource_attributes_are_on_every_exported_span_metric_and_log_record() {
    let receiver = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "team=pay%2Cments,k8s.pod.name=shop-7f9,service.version=2.4.1,service.name=other",
            ),
            ("OTEL_SERVICE_NAME", "checkout"),
        ])
        .build()
        .unwrap();
    let capture = Capture::default();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..5 {
            tracing::info_span!("order", i).in_scope(|| tracing::info!(i, "order placed"));
        }
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();

    let expected = [
        ("team", "pay,ments"),
        ("k8s.pod.name", "shop-7f9"),
        ("service.version", "2.4.1"),
        ("service.name", "checkout"),
    ];
    let has_all = |attrs: &[KeyValue]| {
        expected
            .iter()
            .all(|(k, v)| attr_text(attrs, k).as_deref() == Some(*v))
    };
    for (signal, items) in [
        (Signal::Traces, r.spans.len()),
        (Signal::Metrics, r.metrics.len()),
        (Signal::Logs, r.logs.len()),
    ] {
        let batches: Vec<_> = r.resources.iter().filter(|b| b.signal == signal).collect();
        assert!(items > 0, "{signal:?} arrived");
        assert_eq!(
            batches.iter().map(|b| b.items).sum::<usize>(),
            items,
            "every {signal:?} item is in a batch with a resource"
        );
        for b in batches {
            assert!(has_all(&b.attributes), "{signal:?}: {:?}", b.attributes);
        }
    }
    let line = (capture.json().into_iter())
        .find(|l| l["msg"] == "order placed")
        .expect("the log line");
    assert_eq!(line["version"], "2.4.1");
    assert_eq!(line["service"], "checkout");
}
