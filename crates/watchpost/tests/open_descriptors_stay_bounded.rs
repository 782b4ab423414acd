//! With many resources, open file descriptors stay within `max_open_files` (least recently used
//! are closed and reopened on demand) and no line is lost.
mod support;

use watchpost_testkit::tools::TempDir;

#[test]
fn open_descriptors_stay_bounded() {
    let dir = TempDir::new("lru");
    let (telemetry, dispatch) =
        support::resource_pipeline(&dir.0, |rl| rl.max_open_files = 8, std::io::sink);
    let logs = telemetry.resource_logs().unwrap();
    let ids: Vec<String> = (0..300).map(|i| format!("inst-{i}")).collect();
    for id in &ids {
        logs.register("instance", id).unwrap();
    }
    let mut max_open = 0;
    tracing::dispatcher::with_default(&dispatch, || {
        for round in 0..5 {
            for id in &ids {
                tracing::info!(instance_id = id.as_str(), round, "tick");
            }
            logs.flush();
            max_open = max_open.max(logs.open_files());
        }
    });
    assert!(max_open <= 8, "{max_open} descriptors open");
    for id in &ids {
        let lines = logs.read("instance", id, 100).unwrap();
        assert_eq!(lines.len(), 5, "{id}");
    }
    assert_eq!(logs.stats().io_errors, 0);
}
