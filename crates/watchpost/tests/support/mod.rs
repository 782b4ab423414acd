//! A resource-log pipeline for in-process tests (the shared helpers are in `watchpost-testkit`;
//! this one needs `watchpost`'s own types).

use tracing_subscriber::fmt::MakeWriter;

/// A pipeline of service `svc` with per-resource logs of kind `instance` (`instance_id`) under
/// `dir`, after `tweak` adjusts the resource-log settings; log lines go to `writer`.
pub fn resource_pipeline<W>(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut watchpost::logs::ResourceLogConfig),
    writer: W,
) -> (watchpost::Telemetry, tracing::Dispatch)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut rl = watchpost::logs::ResourceLogConfig::new(dir).kind("instance", "instance_id");
    tweak(&mut rl);
    let config = watchpost::Config::builder("svc")
        .resource_logs(rl)
        .build()
        .unwrap();
    watchpost::Telemetry::builder(config)
        .writer(writer)
        .into_dispatch()
}
