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
//! Modules:
//! * [`config`] — [`Config`] and its builder, the environment variables ([`config::ENV_VARS`]);
//! * [`catalogue`] — every metric declared once as data ([`catalogue::MetricDef`]), the
//!   library's own metrics, bucket presets and tracing targets;
//! * [`logs`] — the JSON line layer, per-subsystem levels, the non-blocking writer, per-resource
//!   log files and their Server-Sent Events;
//! * [`metrics`] — OpenTelemetry metrics registered from the catalogue, the
//!   Prometheus/OpenMetrics exposition and the `/metrics` endpoint;
//! * [`traces`] — the `tracing` → OpenTelemetry bridge, W3C propagation, tail sampling;
//! * [`http`] — the axum/tower server layer, client layers and the `reqwest` middleware;
//! * [`redact`] — what redaction hides: the masks, the secret field names and the personal data
//!   found in values (for checkers that look for what should have been redacted).
//!
//! OTLP export, redaction and the pipeline's telemetry about itself work behind these (see
//! `ARCHITECTURE.md` in the repository for the layers and how data flows between them).

#![warn(missing_docs)]

pub mod catalogue;
pub mod config;
mod error;
mod export;
pub mod http;
mod internal;
pub mod logs;
pub mod metrics;
pub mod redact;
mod telemetry;
pub mod traces;
mod util;

pub use config::{Config, ConfigBuilder, ExportPriority, Redaction, Subsystem};
pub use error::{Error, ErrorKind};
pub use internal::SelfStats;
pub use telemetry::{init, Telemetry, TelemetryBuilder};
