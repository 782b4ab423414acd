//! `function_calls_total` and `function_calls_duration_seconds` are kept by the library, not by
//! the SDK; the OTLP metric push carries them all the same, beside the SDK's metrics and in the
//! library's scope: a cumulative monotonic sum per (function, caller, result) and a cumulative
//! histogram per function, whose points started when the pipeline was built, with the bounds,
//! counts, sum and labels of the exposition.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry_proto::tonic::metrics::v1::{
    metric::Data, number_data_point, AggregationTemporality,
};
use watchpost_testkit::otlp::{attr_text, Receiver};

#[watchpost::measured]
fn checkout(ok: bool) -> Result<(), ()> {
    if ok {
        Ok(())
    } else {
        Err(())
    }
}

#[watchpost::measured]
fn handler() -> Result<(), ()> {
    checkout(true)
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_otlp_push_carries_the_measured_functions_metrics() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let before_build = now_ns();
    let config = watchpost::Config::builder("shop")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        .build()
        .unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let after_build = now_ns();
    for _ in 0..3 {
        checkout(true).unwrap();
    }
    checkout(false).unwrap_err();
    handler().unwrap();

    tokio::task::spawn_blocking(move || telemetry.shutdown_with_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("shutdown delivers everything");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let request = r.metric_requests.last().expect("a metrics request arrived");
    let scope = (request.resource_metrics.iter())
        .flat_map(|rm| &rm.scope_metrics)
        .find(|sm| sm.metrics.iter().any(|m| m.name == "function_calls_total"))
        .expect("function_calls_total was pushed");
    assert_eq!(
        scope.scope.as_ref().map(|s| s.name.as_str()),
        Some("watchpost")
    );
    assert!(
        scope.metrics.iter().any(|m| m.name.starts_with("shop_")),
        "in the scope of the SDK's metrics: {:?}",
        scope.metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
    );
    let metric = |name: &str| {
        let found: Vec<_> = scope.metrics.iter().filter(|m| m.name == name).collect();
        assert_eq!(found.len(), 1, "{name} once per request");
        found[0]
    };
    let m = "the_otlp_push_carries_the_measured_functions_metrics";

    let calls = metric("function_calls_total");
    assert_eq!(
        calls.description,
        "Calls of measured functions, by result (ok or error) and calling measured function"
    );
    let Some(Data::Sum(sum)) = &calls.data else {
        panic!("not a sum: {calls:?}");
    };
    assert!(sum.is_monotonic);
    assert_eq!(
        sum.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let mut points: Vec<(String, String, String, String, i64)> = (sum.data_points.iter())
        .map(|p| {
            assert!(
                (before_build..=after_build).contains(&p.start_time_unix_nano),
                "started when the pipeline was built: {p:?}"
            );
            assert!(p.time_unix_nano >= p.start_time_unix_nano);
            let a = |k: &str| attr_text(&p.attributes, k).unwrap_or_default();
            assert_eq!(
                (a("module"), a("service_name")),
                (m.to_string(), "shop".to_string())
            );
            let Some(number_data_point::Value::AsInt(n)) = p.value else {
                panic!("{p:?}");
            };
            (
                a("function"),
                a("result"),
                a("caller_function"),
                a("caller_module"),
                n,
            )
        })
        .collect();
    points.sort();
    let s = |x: &str| x.to_string();
    assert_eq!(
        points,
        [
            (s("checkout"), s("error"), s(""), s(""), 1),
            (s("checkout"), s("ok"), s(""), s(""), 3),
            (s("checkout"), s("ok"), s("handler"), s(m), 1),
            (s("handler"), s("ok"), s(""), s(""), 1),
        ]
    );

    let duration = metric("function_calls_duration_seconds");
    assert_eq!(duration.unit, "s");
    assert_eq!(
        duration.description,
        "Duration of measured functions' calls"
    );
    let Some(Data::Histogram(h)) = &duration.data else {
        panic!("not a histogram: {duration:?}");
    };
    assert_eq!(
        h.aggregation_temporality,
        AggregationTemporality::Cumulative as i32
    );
    let point = |function: &str| {
        (h.data_points.iter())
            .find(|p| attr_text(&p.attributes, "function").as_deref() == Some(function))
            .unwrap_or_else(|| panic!("{function} was measured"))
    };
    for (function, n) in [("checkout", 5), ("handler", 1)] {
        let p = point(function);
        assert_eq!(p.count, n, "{function}");
        assert_eq!(
            p.explicit_bounds,
            watchpost::metrics::buckets::FUNCTION_SECONDS
        );
        assert_eq!(p.bucket_counts.len(), p.explicit_bounds.len() + 1);
        assert_eq!(p.bucket_counts.iter().sum::<u64>(), n);
        let (sum, min, max) = (p.sum.unwrap(), p.min.unwrap(), p.max.unwrap());
        assert!(
            min <= max && min * n as f64 <= sum + 1e-12 && sum <= max * n as f64 + 1e-12,
            "{p:?}"
        );
        assert!((before_build..=after_build).contains(&p.start_time_unix_nano));
        assert_eq!(
            p.attributes.len(),
            3,
            "function, module, service_name: {p:?}"
        );
    }
    assert_eq!(h.data_points.len(), 2, "one point per function");
}
