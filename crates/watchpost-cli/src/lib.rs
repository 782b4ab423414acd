//! `watchpost`, the command: lint an exposition, check a running service's logs, traces and
//! metrics against the standard (`../shared/reference/monitoring-feature-observability.md`), and
//! generate docs from a service's metric catalogue.
//!
//! The crate is a library so that tests and benchmarks drive the same code as the binary:
//!
//! - [`exposition`] reads Prometheus text 0.0.4 and OpenMetrics; [`lint`] applies the metric
//!   rules to it (and to a [`catalogue`] file);
//! - [`logs`] checks JSON log lines, [`spans`] OTLP spans and log records, [`privacy`] finds
//!   secrets and personal data in any of them; [`otlp`] receives OTLP over gRPC and HTTP;
//! - [`check`] runs all of them over a window of time;
//! - [`console`] keeps what OTLP senders send in memory and shows it (`watchpost console`);
//! - every rule is in [`rules`], every finding goes to a [`report::Report`], configured by
//!   [`config`] (`watchpost.toml`); [`docs`] writes Markdown.

pub mod alertmanager;
pub mod bundle;
pub mod catalogue;
pub mod check;
pub mod config;
pub mod console;
pub mod dashboard;
pub mod docs;
pub mod duration;
mod error;
pub mod exposition;
pub mod finding;
pub mod lint;
pub mod logs;
pub mod otlp;
pub mod privacy;
pub mod promql;
pub mod report;
pub mod rules;
pub mod slo;
pub mod source;
pub mod spans;

pub use error::{Error, Result};
