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
//! * [`traces`] — the `tracing` → OpenTelemetry bridge, W3C propagation, tail sampling, and
//!   [`traces::SpanExt`] (`tracing-opentelemetry`'s span methods: moving over is a change of
//!   import);
//! * [`context`] — request context: a field (`user_id`, listed baggage keys) put once on the
//!   request and carried by every later log line and span of it;
//! * [`http`] — the axum/tower server layer, client layers and the `reqwest` middleware;
//! * [`health`] — `/healthz` and `/readyz` (listeners, exporter, log writer) as a router and
//!   as data;
//! * [`redact`] — what redaction hides: the masks, the secret field names and the personal data
//!   found in values (for checkers that look for what should have been redacted).
//!
//! OTLP export, redaction and the pipeline's telemetry about itself work behind these (see
//! `ARCHITECTURE.md` in the repository for the layers and how data flows between them).
//!
//! Whole programs are in the repository's `crates/watchpost/examples/`: an axum service
//! (`HttpLayer`, `/metrics` on its own listener and on the app's router, per-resource logs,
//! graceful shutdown), a worker without HTTP, and a program whose dependencies log through the
//! `log` crate (`cargo run -p watchpost --example axum_service`).

#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]
// Parts that only the `otlp` or `http` features use (export counters, the SSE plumbing) are
// dead in a reduced build; the default build (what CI lints first) keeps these lints.
#![cfg_attr(
    not(all(feature = "otlp", feature = "http")),
    allow(dead_code, unused_imports)
)]

pub mod catalogue;
pub mod config;
pub mod context;
mod error;
#[cfg(feature = "otlp")]
mod export;
pub mod health;
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub mod http;
mod internal;
pub mod logs;
pub mod metrics;
pub mod redact;
#[cfg_attr(not(feature = "http"), allow(dead_code))]
mod staged;
mod telemetry;
pub mod traces;
mod util;

pub use config::{Config, ConfigBuilder, ExportPriority, Redaction, Subsystem};
pub use error::{Error, ErrorKind};
pub use internal::SelfStats;
pub use telemetry::{init, Telemetry, TelemetryBuilder};

/// Per-function metrics, with autometrics' names and labels: `function_calls_total`,
/// `function_calls_duration_seconds` and (optionally) `function_calls_concurrent`, on sync and
/// async functions and methods, with a slow-call threshold and objectives. The runtime and its
/// rules are in [`metrics::function`]; the README's "Measured functions" section has the whole
/// story.
///
/// ```
/// #[watchpost::measured(slow = "100ms", objective = "api", success = 99.9, latency = "250ms")]
/// async fn fetch(id: u32) -> Result<String, std::io::Error> {
///     Ok(format!("item {id}"))
/// }
///
/// #[watchpost::measured]
/// fn parse(text: &str) -> Option<u32> {
///     text.parse().ok()
/// }
///
/// let config = watchpost::Config::builder("shop").build().unwrap();
/// let (telemetry, _dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// assert_eq!(rt.block_on(fetch(7)).unwrap(), "item 7");
/// assert_eq!(parse("x"), None);
/// let text = telemetry.metrics().encode(watchpost::metrics::Format::Text);
/// assert!(text.contains(r#"function_calls_total{function="parse","#), "{text}");
/// assert!(text.contains(r#"function_calls_duration_seconds_bucket{function="fetch","#), "{text}");
/// ```
///
/// Options (all optional, in any order):
///
/// | option | meaning |
/// |---|---|
/// | `span`, `span = "debug"` | a span per call (off by default), named after the function |
/// | `slow = "100ms"` | a call at or over it marks its trace slow (the tail sampler keeps it) and logs a WARN, at most one per function per `slow_warn_every` (default `"1m"`) |
/// | `concurrency` | `function_calls_concurrent` tracks the calls in progress |
/// | `objective = "name"`, `success = 99.9`, `latency = "250ms"`, `latency_percentile = 99` | an objective (autometrics' labels); the name defaults to the function's; percentiles are 90, 95, 99 or 99.9; the latency is a bucket boundary |
/// | `name = "Type::method"` | the `function` label (default: the function's name; `Type::method` inside a measured `impl` block) |
/// | `skip` | on a method of a measured `impl` block: not measured |
pub use watchpost_macros::measured;

/// The OTLP encoders of spans and log records, for the `export` benchmark (not part of the API).
#[cfg(feature = "otlp")]
#[doc(hidden)]
pub use export::bench as __export_bench;
/// The HTTP layer's duration recording, for the `metrics` benchmark (not part of the API).
#[cfg(all(feature = "otlp", feature = "http"))]
#[doc(hidden)]
pub use http::bench as __http_bench;
#[doc(hidden)]
pub use metrics::function::__private as __measured;
