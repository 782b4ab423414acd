//! With the collector up and every trace kept (ratio 1), a graceful shutdown of a real service
//! process delivers 100% of the spans, log records and metric points it produced, and the trace
//! ids in the log records are those of the spans.
mod support;

use std::collections::HashSet;

use watchpost_testkit::otlp::{hex, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_export_delivers_every_signal_on_shutdown() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let endpoint = receiver.addr.to_string();
    let service = support::otlpdemo(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_ENDPOINT", &endpoint),
        ("OTEL_TRACES_SAMPLER_RATIO", "1"),
        ("OTEL_METRIC_EXPORT_INTERVAL", "3600000"), // only the final push at shutdown
    ]);
    let client = reqwest::Client::new();
    const N: usize = 20;
    for _ in 0..N {
        let r = client
            .get(format!("http://{}/ok", service.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let (code, _ms, ok) = tokio::task::spawn_blocking(move || service.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(ok, "shutdown reported an error");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();

    // Spans: one server span and one child per request.
    let roots: Vec<_> = r.spans.iter().filter(|s| s.name == "GET /ok").collect();
    let children: Vec<_> = r.spans.iter().filter(|s| s.name == "work_step").collect();
    assert_eq!(
        (roots.len(), children.len()),
        (N, N),
        "spans: {:?}",
        r.spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    assert!(r.service_names.iter().all(|n| n == "otlpdemo"));
    let trace_ids: HashSet<String> = roots.iter().map(|s| hex(&s.trace_id)).collect();
    assert_eq!(trace_ids.len(), N);
    for c in &children {
        assert!(
            trace_ids.contains(&hex(&c.trace_id)),
            "child in a known trace"
        );
        assert!(
            roots.iter().any(|p| p.span_id == c.parent_span_id),
            "child's parent is a root"
        );
    }

    // Logs: the INFO line of each request, inside its trace, with the JSON line's fields.
    let handled: Vec<_> = r
        .logs
        .iter()
        .filter(|l| {
            matches!(&l.body.as_ref().and_then(|b| b.value.as_ref()),
                Some(opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s)) if s == "request handled")
        })
        .collect();
    assert_eq!(handled.len(), N);
    for l in &handled {
        assert!(
            trace_ids.contains(&hex(&l.trace_id)),
            "log record's trace id is a span's"
        );
        assert!(
            roots.iter().any(|s| s.span_id == l.span_id),
            "log record's span id is the server span's"
        );
        let keys: Vec<&str> = l.attributes.iter().map(|kv| kv.key.as_str()).collect();
        assert!(
            keys.contains(&"subsystem") && keys.contains(&"status"),
            "{keys:?}"
        );
    }

    // Metrics: the final push carries the counter with every request.
    let total: f64 = r
        .metrics
        .iter()
        .filter(|m| m.name == "otlpdemo_requests_total")
        .filter_map(|m| match &m.data {
            Some(opentelemetry_proto::tonic::metrics::v1::metric::Data::Sum(s)) => {
                s.data_points.last().map(|p| match p.value {
                    Some(
                        opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(i),
                    ) => i as f64,
                    Some(
                        opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsDouble(
                            d,
                        ),
                    ) => d,
                    None => 0.0,
                })
            }
            _ => None,
        })
        .fold(0.0, f64::max);
    assert_eq!(
        total,
        N as f64,
        "metric points: {:?}",
        r.metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
    );
}
