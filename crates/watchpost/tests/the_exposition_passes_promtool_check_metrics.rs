//! A scrape of the real `/metrics` listener, with application metrics of every kind and hostile
//! label values, passes `promtool check metrics` with zero problems; the format and content type
//! follow the `Accept` header.

use opentelemetry::KeyValue;
use watchpost::metrics::buckets;
use watchpost_testkit::http;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_exposition_passes_promtool_check_metrics() {
    let config = watchpost::Config::builder("promcheck")
        .metrics_listen(([127, 0, 0, 1], 0).into())
        .build()
        .unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let meter = telemetry.metrics().meter();
    let requests = meter
        .u64_counter("promcheck_http_requests_total")
        .with_description("Total HTTP requests")
        .build();
    let duration = meter
        .f64_histogram("promcheck_http_request_duration_seconds")
        .with_unit("s")
        .with_description("Request latency")
        .with_boundaries(buckets::DURATION_SECONDS.to_vec())
        .build();
    let otel_style = meter
        .f64_histogram("rpc.client.duration")
        .with_unit("s")
        .with_description("OTel-style name, converted")
        .build();
    let queue = meter
        .i64_up_down_counter("promcheck_queue_length")
        .with_description("Queued jobs")
        .build();
    let bytes = meter
        .u64_counter("io.read")
        .with_unit("By")
        .with_description("Bytes read, with a \"quoted\" help and a \\ backslash")
        .build();
    for (method, path, status) in [
        ("GET", "/instances/{id}", "200"),
        ("POST", "/instances", "201"),
        ("GET", "weird \"quoted\" \\ path\nnewline 🦀", "404"),
    ] {
        let attrs = [
            KeyValue::new("method", method),
            KeyValue::new("path", path),
            KeyValue::new("status", status),
        ];
        requests.add(3, &attrs);
        duration.record(0.042, &attrs);
    }
    otel_style.record(1.5, &[KeyValue::new("rpc.method", "Get")]);
    queue.add(-2, &[]);
    bytes.add(4096, &[]);

    let server = telemetry.serve_metrics().await.unwrap();
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback());

    let (status, content_type, text) =
        tokio::task::spawn_blocking(move || http::get(addr, "/metrics", None))
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");
    for family in [
        "# TYPE promcheck_http_requests_total counter",
        "# TYPE promcheck_http_request_duration_seconds histogram",
        "# TYPE rpc_client_duration_seconds histogram",
        "# TYPE promcheck_queue_length gauge",
        "# TYPE io_read_bytes_total counter",
        "# TYPE process_cpu_seconds_total counter",
        "# TYPE promcheck_uptime_seconds gauge",
        "# TYPE target_info gauge",
    ] {
        assert!(text.contains(family), "missing {family:?} in\n{text}");
    }
    assert!(
        text.contains(r#"path="weird \"quoted\" \\ path\nnewline 🦀""#),
        "{text}"
    );

    let prometheus_accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    let (status, content_type, om) =
        tokio::task::spawn_blocking(move || http::get(addr, "/metrics", Some(prometheus_accept)))
            .await
            .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE promcheck_http_requests counter\n"));
    assert!(om.contains("# UNIT promcheck_http_request_duration_seconds seconds\n"));

    let (status, _, _) =
        tokio::task::spawn_blocking(move || http::get(addr, "/metrics?format=xml", None))
            .await
            .unwrap();
    assert_eq!(status, 400);
    server.shutdown().await;

    watchpost_testkit::tools::assert_promtool_clean(&text);
}
