//! `OTEL_TRACES_EXPORTER=none` exports no span while log records and metrics still reach the
//! collector, and the log lines keep their trace ids.

use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::{Receiver, Signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otel_traces_exporter_none_exports_logs_but_no_spans() {
    let receiver = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.url().as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            ("OTEL_TRACES_EXPORTER", "none"),
        ])
        .build()
        .unwrap();
    let capture = Capture::default();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("checkout").in_scope(|| tracing::error!("payment refused"));
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    assert!(r.spans.is_empty(), "no span, not even an error trace's");
    assert!(r.requests.iter().all(|q| q.signal != Signal::Traces));
    let record = (r.logs.iter())
        .find(|l| format!("{:?}", l.body).contains("payment refused"))
        .expect("the log record arrived");
    assert_eq!(record.trace_id.len(), 16, "the record names its trace");
    assert!(!r.metrics.is_empty(), "metrics arrived");
    let line = (capture.json().into_iter())
        .find(|l| l["msg"] == "payment refused")
        .expect("the line");
    assert!(line["trace_id"].is_string());
}
