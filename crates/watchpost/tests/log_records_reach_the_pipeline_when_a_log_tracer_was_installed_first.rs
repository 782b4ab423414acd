//! The pipeline as a layer, in a registry installed with tracing-subscriber's `init()`: that
//! `init()` installs tracing-log's `LogTracer` first (at the level of the moment), so
//! `install_globals` finds a `log` logger already there. It is one that hands `log` records to
//! the pipeline: no warning that they do not reach Watchpost, and raising a subsystem's level
//! at runtime raises `log`'s maximum level too, so `log::debug!` records arrive.

use tracing_subscriber::layer::SubscriberExt as _;
use watchpost_testkit::capture::Capture;

#[test]
fn log_records_reach_the_pipeline_when_a_log_tracer_was_installed_first() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("svc").build().unwrap();
    let (telemetry, layer) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_layer();
    // What `tracing_subscriber::registry().with(layer).init()` does with its default
    // `tracing-log` feature: the global subscriber, then a `LogTracer` at the current level.
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).unwrap();
    tracing_log::LogTracer::builder()
        .with_max_level(log::LevelFilter::Info)
        .init()
        .unwrap();
    telemetry.install_globals();

    log::info!("info from log");
    telemetry.set_level("APP", tracing::Level::DEBUG).unwrap();
    log::debug!("debug from log");
    telemetry.force_flush(std::time::Duration::from_secs(5));

    let lines = capture.json();
    let msgs: Vec<&str> = lines.iter().filter_map(|l| l["msg"].as_str()).collect();
    assert!(
        !msgs.iter().any(|m| m.contains("do not reach Watchpost")),
        "no false warning: {msgs:?}"
    );
    assert!(msgs.contains(&"info from log"), "{msgs:?}");
    assert!(
        msgs.contains(&"debug from log"),
        "set_level raised log's maximum level: {msgs:?}"
    );
}
