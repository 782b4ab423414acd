//! With the panic hook installed, a panic in a spawned Tokio task is one JSON ERROR line through
//! the pipeline — the message, where it happened (`file:line:column`), the thread, a backtrace
//! because `RUST_BACKTRACE` asks for one, and the trace id of the span the task ran in — and
//! `svc_panics_total` on `/metrics` counts it.

use tracing::Instrument as _;
use watchpost_testkit::capture::Capture;
use watchpost_testkit::http;

#[test]
fn a_panic_in_a_spawned_task_writes_one_json_error_line() {
    // Before any thread starts (edition 2021: `set_var` is safe, and no thread reads it yet).
    std::env::set_var("RUST_BACKTRACE", "1");
    let capture = Capture::default();
    let config = watchpost::Config::builder("svc")
        .metrics_listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .install()
        .unwrap();
    // Chained: the test harness's own failure messages still reach stderr.
    telemetry.install_panic_hook_chained();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (trace_id, line, exposition) = rt.block_on(async {
        let server = telemetry.serve_metrics().await.unwrap();
        let span = tracing::info_span!("job", job_id = "j-1");
        let trace_id = watchpost::traces::trace_id(&span).unwrap();
        let line = line!() + 1;
        let task = tokio::spawn(async { panic!("job exploded") }.instrument(span));
        assert!(task.await.unwrap_err().is_panic());
        let metrics = server.local_addr();
        let (_, _, exposition) =
            tokio::task::spawn_blocking(move || http::get(metrics, "/metrics", None))
                .await
                .unwrap();
        (trace_id, line, exposition)
    });
    telemetry.force_flush(std::time::Duration::from_secs(5));

    let errors: Vec<_> = capture
        .json()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let e = &errors[0];
    assert_eq!(e["msg"], "panicked");
    assert_eq!(e["panic"], "job exploded");
    let location = e["location"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("{}:{line}:", file!())),
        "{location}"
    );
    assert_eq!(e["trace_id"], trace_id.as_str());
    assert_eq!(e["job_id"], "j-1", "the span's fields are on the line");
    assert!(e["thread"].as_str().unwrap().starts_with("tokio-"), "{e:?}");
    let backtrace = e["backtrace"].as_str().expect("a backtrace field");
    assert!(
        backtrace.contains("a_panic_in_a_spawned_task"),
        "{backtrace}"
    );
    assert!(
        !backtrace.contains("watchpost::telemetry::panic"),
        "the hook's own frames are left out: {backtrace}"
    );
    assert!(
        exposition.lines().any(|l| l == "svc_panics_total 1"),
        "{exposition}"
    );
}
