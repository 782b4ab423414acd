//! Measured functions whose labels are the same — two functions of one module given the same
//! `name`, the same method of `impl Foo<u8>` and `impl Foo<u16>` (both `Foo::get`: the label has
//! the type's last path segment only) — are one series of `function_calls_total` and of
//! `function_calls_duration_seconds`, their calls added, as the SDK's instruments would make
//! them; so are two callers with the same labels in one function's counts. Once in the
//! `/metrics` exposition (Prometheus rejects a duplicate sample) and one data point in the OTLP
//! push.

use std::time::Duration;

use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use watchpost::metrics::Format;
use watchpost_testkit::otlp::{attr_text, Receiver};

#[watchpost::measured(name = "lookup")]
fn lookup_by_id(id: u32) -> Result<u32, ()> {
    if id == 0 {
        Err(())
    } else {
        Ok(id)
    }
}

#[watchpost::measured(name = "lookup")]
fn lookup_by_name(name: &str) -> Result<u32, ()> {
    Ok(name.len() as u32)
}

/// Two callers with the same labels: `lookup`'s calls from either are one series.
#[watchpost::measured(name = "handler")]
fn handler_v1() {
    let _ = lookup_by_id(1);
    let _ = lookup_by_name("a");
}

#[watchpost::measured(name = "handler")]
fn handler_v2() {
    let _ = lookup_by_id(2);
}

struct Foo<T>(T);

#[watchpost::measured]
impl Foo<u8> {
    fn get(&self) -> u8 {
        self.0
    }
}

#[watchpost::measured]
impl Foo<u16> {
    fn get(&self) -> u16 {
        self.0
    }
}

/// The lines of `text` that start with `prefix`, sorted.
fn lines(text: &str, prefix: &str) -> Vec<String> {
    let mut found: Vec<String> = (text.lines())
        .filter(|l| l.starts_with(prefix))
        .map(String::from)
        .collect();
    found.sort();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_measured_functions_with_the_same_labels_are_one_series() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("shop")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        .build()
        .unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();

    // lookup, no caller: 2 + 3 ok, 1 error; from handler: 1 + 1 (v1), 2 (v2).
    lookup_by_id(1).unwrap();
    lookup_by_id(2).unwrap();
    lookup_by_id(0).unwrap_err();
    for name in ["a", "b", "c"] {
        lookup_by_name(name).unwrap();
    }
    handler_v1();
    handler_v2();
    handler_v2();
    assert_eq!(Foo(1u8).get(), 1);
    assert_eq!(Foo(2u16).get(), 2);
    assert_eq!(Foo(3u16).get(), 3);

    let m = "two_measured_functions_with_the_same_labels_are_one_series";
    let text = telemetry.metrics().encode(Format::Text);
    let calls = |caller: &str, function: &str, result: &str, n: u64| {
        let caller = match caller {
            "" => String::new(),
            c => format!("caller_function=\"{c}\",caller_module=\"{m}\","),
        };
        format!("function_calls_total{{{caller}function=\"{function}\",module=\"{m}\",result=\"{result}\",service_name=\"shop\"}} {n}")
    };
    let mut expected = vec![
        calls("", "lookup", "ok", 5),
        calls("", "lookup", "error", 1),
        calls("handler", "lookup", "ok", 4),
        calls("", "handler", "ok", 3),
        calls("", "Foo::get", "ok", 3),
    ];
    expected.sort();
    assert_eq!(lines(&text, "function_calls_total{"), expected, "{text}");

    // The histogram: one series per label set, every call of its functions in it. The durations
    // are the machine's, so the buckets under 10 s are checked for their number and order.
    let bounds = watchpost::metrics::buckets::FUNCTION_SECONDS;
    for (function, n) in [("lookup", 10), ("handler", 3), ("Foo::get", 3)] {
        let labels = format!("function=\"{function}\",module=\"{m}\",service_name=\"shop\"");
        let bucket = format!("function_calls_duration_seconds_bucket{{{labels},le=");
        let buckets = lines(&text, &bucket);
        assert_eq!(buckets.len(), bounds.len() + 1, "one series: {text}");
        for exact in [
            format!("{bucket}\"10\"}} {n}"),
            format!("{bucket}\"+Inf\"}} {n}"),
            format!("function_calls_duration_seconds_count{{{labels}}} {n}"),
        ] {
            assert!(
                text.lines().any(|l| l == exact),
                "missing {exact} in\n{text}"
            );
        }
        let sums = lines(
            &text,
            &format!("function_calls_duration_seconds_sum{{{labels}}} "),
        );
        assert_eq!(sums.len(), 1, "one sum: {text}");
        let cumulative: Vec<u64> = (text.lines())
            .filter(|l| l.starts_with(&bucket))
            .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
            .collect();
        assert!(
            cumulative.windows(2).all(|w| w[0] <= w[1]),
            "{function}: cumulative {cumulative:?}"
        );
    }
    assert_eq!(
        lines(&text, "function_calls_duration_seconds_count{").len(),
        3,
        "{text}"
    );

    // The push: one data point per label set too.
    tokio::task::spawn_blocking(move || telemetry.shutdown_with_timeout(Duration::from_secs(10)))
        .await
        .unwrap()
        .expect("shutdown delivers everything");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let request = r.metric_requests.last().expect("a metrics request arrived");
    let metric = |name: &str| {
        (request.resource_metrics.iter())
            .flat_map(|rm| &rm.scope_metrics)
            .flat_map(|sm| &sm.metrics)
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("{name} was pushed"))
    };
    let Some(Data::Sum(sum)) = &metric("function_calls_total").data else {
        panic!("function_calls_total is a sum");
    };
    let mut points: Vec<(String, String, String, i64)> = (sum.data_points.iter())
        .map(|p| {
            let a = |k: &str| attr_text(&p.attributes, k).unwrap_or_default();
            let Some(number_data_point::Value::AsInt(n)) = p.value else {
                panic!("{p:?}");
            };
            (a("function"), a("caller_function"), a("result"), n)
        })
        .collect();
    points.sort();
    let s = |x: &str| x.to_string();
    assert_eq!(
        points,
        [
            (s("Foo::get"), s(""), s("ok"), 3),
            (s("handler"), s(""), s("ok"), 3),
            (s("lookup"), s(""), s("error"), 1),
            (s("lookup"), s(""), s("ok"), 5),
            (s("lookup"), s("handler"), s("ok"), 4),
        ]
    );
    let Some(Data::Histogram(h)) = &metric("function_calls_duration_seconds").data else {
        panic!("function_calls_duration_seconds is a histogram");
    };
    let mut counts: Vec<(String, u64, u64)> = (h.data_points.iter())
        .map(|p| {
            let function = attr_text(&p.attributes, "function").unwrap_or_default();
            (function, p.count, p.bucket_counts.iter().sum())
        })
        .collect();
    counts.sort();
    assert_eq!(
        counts,
        [
            (s("Foo::get"), 3, 3),
            (s("handler"), 3, 3),
            (s("lookup"), 10, 10),
        ]
    );
}
