//! With the panic hook installed, a handler that panics under `HttpLayer` is one ERROR line —
//! the hook's, with the location and the request span's fields — not the hook's and the layer's:
//! the layer still answers 500 and counts the panic in `<svc>_http_panics_total`, and writes its
//! own line only for a panic the hook did not write (without a hook:
//! `http_layers_trace_measure_and_survive_panics`).

use axum::routing::get;
use watchpost_testkit::capture::Capture;
use watchpost_testkit::http;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_handler_is_one_error_line_with_the_panic_hook() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("web")
        .subsystem(watchpost::Subsystem::new("API").target("watchpost::http"))
        .metrics_listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    // Installed globally (this test is alone in its binary), so every runtime thread uses it.
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .install()
        .unwrap();
    // Chained: the test harness's own failure messages still reach stderr.
    telemetry.install_panic_hook_chained();

    let app = axum::Router::new()
        .route(
            "/boom",
            get(|| async { panic!("handler exploded") as &'static str }),
        )
        .layer(watchpost::http::HttpLayer::new(&telemetry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let metrics = telemetry.serve_metrics().await.unwrap().local_addr();

    let (status, _, _) = tokio::task::spawn_blocking(move || http::get(addr, "/boom", None))
        .await
        .unwrap();
    assert_eq!(status, 500);
    let (_, _, exposition) =
        tokio::task::spawn_blocking(move || http::get(metrics, "/metrics", None))
            .await
            .unwrap();
    telemetry.force_flush(std::time::Duration::from_secs(5));

    let lines = capture.json();
    let errors: Vec<_> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "one ERROR line per panic: {errors:?}");
    let e = errors[0];
    assert_eq!(e["msg"], "panicked", "the hook's line: {e:?}");
    assert_eq!(e["panic"], "handler exploded");
    assert!(
        e["location"].as_str().unwrap().starts_with(file!()),
        "{e:?}"
    );
    assert!(
        e["request_id"].is_string(),
        "the request span's fields: {e:?}"
    );
    assert_eq!(e["subsystem"], "API", "{e:?}");
    assert!(e["trace_id"].is_string(), "{e:?}");
    assert!(
        exposition.lines().any(|l| l == "web_http_panics_total 1"),
        "{exposition}"
    );
    assert!(
        exposition.lines().any(|l| l == "web_panics_total 1"),
        "{exposition}"
    );
}
