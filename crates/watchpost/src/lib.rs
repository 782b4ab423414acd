//! # Watchpost
//!
//! A production observability foundation for Rust services. One call configures structured JSON
//! logs with per-subsystem levels, redaction and trace correlation:
//!
//! ```no_run
//! use watchpost::{Config, Subsystem};
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let config = Config::builder("procman")
//!         .service_version(env!("CARGO_PKG_VERSION"))
//!         .subsystem(Subsystem::new("API").target("procman::api"))
//!         .subsystem(Subsystem::new("INSTANCES").target("procman::instances"))
//!         .from_env() // ENV, OTEL_*, LOG_LEVEL, LOG_LEVEL_<SUBSYSTEM>, METRICS_LISTEN
//!         .build()?;
//!     let telemetry = watchpost::init(config)?;
//!     tracing::info!(instance_id = "web-1", "instance started");
//!     telemetry.set_level("INSTANCES", tracing::Level::DEBUG)?;
//!     telemetry.shutdown()?;
//!     Ok(())
//! }
//! ```
//!
//! Modules: [`config`] (configuration and environment), [`logs`] (the JSON line layer),
//! [`metrics`] (OpenTelemetry metrics, Prometheus/OpenMetrics exposition). See
//! `ARCHITECTURE.md` in the repository for how data flows between them.

#![warn(missing_docs)]

pub mod catalogue;
pub mod config;
mod error;
mod export;
pub mod http;
mod internal;
pub mod logs;
pub mod metrics;
mod redact;
mod telemetry;
pub mod traces;
mod util;

pub use config::{Config, ConfigBuilder, ExportPriority, Redaction, Subsystem};
pub use error::{Error, ErrorKind};
pub use internal::SelfStats;
pub use telemetry::{init, Telemetry, TelemetryBuilder};
