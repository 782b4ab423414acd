//! `OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf` with the standard base endpoint sends spans, log
//! records and metrics to a real OTLP/HTTP receiver (official protos, a real socket), each to its
//! `/v1/<signal>` path with a protobuf body; nothing goes anywhere else.

use watchpost_testkit::otlp::{Receiver, Signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_protobuf_delivers_every_signal() {
    let receiver = Receiver::start_http("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
        ])
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let orders = telemetry
        .metrics()
        .meter()
        .u64_counter("shop_orders_total")
        .build();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("checkout").in_scope(|| {
            tracing::info!(order_id = 7, "order placed");
            orders.add(1, &[]);
        });
    });
    tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap()
        .expect("shutdown delivers everything");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();

    let span = r
        .spans
        .iter()
        .find(|s| s.name == "checkout")
        .expect("the span arrived");
    let log = (r.logs.iter())
        .find(|l| format!("{:?}", l.body).contains("order placed"))
        .expect("the log record arrived");
    assert_eq!(
        log.trace_id, span.trace_id,
        "the record belongs to the span's trace"
    );
    assert!(
        r.metrics.iter().any(|m| m.name == "shop_orders_total"),
        "the metric arrived: {:?}",
        r.metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
    );
    for signal in [Signal::Traces, Signal::Metrics, Signal::Logs] {
        let requests: Vec<_> = r.requests.iter().filter(|q| q.signal == signal).collect();
        assert!(!requests.is_empty(), "{signal:?} came");
        for q in requests {
            assert_eq!(q.transport, "http");
            assert_eq!(q.header("content-type"), Some("application/x-protobuf"));
        }
    }
}
