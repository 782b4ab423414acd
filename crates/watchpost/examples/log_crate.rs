//! Code that logs through the `log` crate — yours, or a dependency's — ends up in the same JSON
//! lines as `tracing` events: same keys, same redaction, the trace ids of the span it runs in,
//! and the level of the subsystem its target belongs to.
//!
//! ```sh
//! cargo run -p watchpost --example log_crate                         # INFO and WARN lines
//! LOG_LEVEL_STORAGE=debug cargo run -p watchpost --example log_crate # the DEBUG line too
//! ```
//!
//! Nothing to set up: [`watchpost::init`] installs the bridge (`tracing-log`) as the `log`
//! crate's logger. If something else installed a `log` logger first, that one stays and
//! Watchpost says so in a WARN line.

use watchpost::{Config, Subsystem};

/// Stands for a dependency that logs with `log` (its records have its module path as their
/// target, `log_crate::storage` here, as they would be `some_crate::…` for a dependency).
mod storage {
    pub fn open(path: &str) -> Result<u64, String> {
        log::debug!("opening {path}");
        log::info!("opened {path} with 3 segments");
        log::warn!("segment 2 of {path} was not closed cleanly; replaying it");
        Ok(3)
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // A dependency's records are routed like events: declare its target (its crate name) in a
    // subsystem to give it a level of its own (`LOG_LEVEL_STORAGE`).
    let config = Config::builder("log-demo")
        .service_version(env!("CARGO_PKG_VERSION"))
        .subsystem(Subsystem::new("STORAGE").target("log_crate::storage"))
        .from_env()
        .build()?;
    let telemetry = watchpost::init(config)?;

    // Records logged inside a span carry its `trace_id` and `span_id`, like any event.
    let span = tracing::info_span!("startup");
    let segments = span.in_scope(|| storage::open("/var/lib/demo/data"))?;
    tracing::info!(segments, "ready");

    telemetry.shutdown()?;
    Ok(())
}
