//! A resource kind whose id field has a dot in its name (`job.id`) routes the lines of events
//! inside a span carrying it to that resource's file, although dotted span fields (trace
//! attributes such as `http.route`) are otherwise left out of log lines.
use watchpost_testkit::tools::TempDir;

#[test]
fn a_dotted_resource_id_on_a_span_routes_its_lines() {
    let dir = TempDir::new("dotted-id");
    let config = watchpost::Config::builder("svc")
        .resource_logs(watchpost::logs::ResourceLogConfig::new(&dir.0).kind("job", "job.id"))
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let logs = telemetry.resource_logs().unwrap().clone();
    logs.register("job", "j1").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        let span = tracing::info_span!("job", job.id = "j1", http.route = "/jobs/{id}");
        let _g = span.enter();
        tracing::info!(step = 3, "step done");
    });
    logs.flush();
    let lines = logs.read("job", "j1", 10).unwrap();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["msg"], "step done");
    assert_eq!(line["step"], 3);
    assert!(
        line.get("http.route").is_none(),
        "trace attributes stay out: {line}"
    );
}
