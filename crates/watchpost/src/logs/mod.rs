//! Structured JSON logs: one JSON object per line, per-subsystem levels, redaction and trace
//! correlation, as a `tracing_subscriber` layer ([`JsonLayer`]).
//!
//! A line looks like this (keys always in this order: `time`, `level`, `msg`, `subsystem`; the
//! standard fields `service`, `version`, `environment`; `trace_id`/`span_id` only inside an
//! OpenTelemetry span; then the event's fields; then the enclosing spans' fields, innermost
//! first, each key once):
//!
//! ```text
//! {"time":"2026-11-23T10:54:54.123456Z","level":"INFO","msg":"instance started","subsystem":"INSTANCES","service":"procman","version":"0.1.0","environment":"prod","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7","pid":4242,"instance_id":"web-1"}
//! ```
//!
//! * **Standard fields:** `service`, `version` and `environment` are the OpenTelemetry
//!   resource's `service.name`, `service.version` and `deployment.environment.name`
//!   ([`Config::service_name`](crate::Config::service_name),
//!   [`service_version`](crate::Config::service_version),
//!   [`environment`](crate::Config::environment)), so that lines of many services can share one
//!   store. They are JSON-encoded once, when the layer is built, and copied into each line. On
//!   by default; [`ConfigBuilder::log_standard_fields`](crate::ConfigBuilder::log_standard_fields)
//!   or `LOG_STANDARD_FIELDS=false` leaves them out (for a log shipper that adds them). They go
//!   to the main log and per-resource files alike, not into OTLP log records (whose resource
//!   carries them).
//! * **Subsystem:** the longest declared target prefix that matches the event's target; else the
//!   `subsystem` field of the innermost enclosing span that has one (inherited by child spans);
//!   else the default subsystem. Noisy dependencies ([`crate::config::NOISY_TARGETS`]) have their
//!   own level (WARN) whatever their subsystem.
//! * **Levels:** DEBUG, INFO, WARN, ERROR. TRACE callsites are disabled once, at registration, and
//!   cost one branch. Interest is cached per callsite and rebuilt when
//!   [`Telemetry::set_level`](crate::Telemetry::set_level) changes a level.
//! * **Span fields** with a dot in their name (`http.route`, `otel.name`: OpenTelemetry
//!   semantic-convention attributes and bridge controls) stay on the trace and are not copied
//!   into log lines; plain ones (`instance_id`, `request_id`) are.
//! * **Values** keep their JSON type (numbers, booleans, strings); non-finite floats become
//!   strings. Strings are escaped so that one event is always one line; values longer than
//!   [`max_field_bytes`](crate::ConfigBuilder::max_field_bytes) are cut and end with
//!   [`TRUNCATED_MARKER`]. Event and span fields named like one of the line's own keys (the
//!   standard fields too, even when they are switched off) are written as `fields.<name>`.
//! * **Redaction:** see [`crate::Redaction`]; secret fields become [`REDACTED`], e-mail
//!   addresses and card numbers inside strings become [`EMAIL_MASK`] and [`CARD_MASK`].
//! * **The `log` crate:** with [`crate::init`] (a global install), records of dependencies that
//!   log through `log` become events of the pipeline, routed and filtered by their own target
//!   like any event (noisy dependencies at WARN), without `log.*` bookkeeping fields; `log`'s
//!   max level follows the most verbose subsystem, also after a runtime change.
//! * **Writing** never blocks the thread that logs: by default lines go through [`NonBlocking`]
//!   (a bounded buffer and one writer thread, many lines per system call), to stdout or, with
//!   [`LogOutput::File`](crate::config::LogOutput::File) (`LOG_OUTPUT=file:PATH`), to a
//!   [`LogFile`] rotated, gzipped and aged like the per-resource files.
//! * **Failures** of the writer, and lines dropped because the buffer was full, are counted
//!   ([`crate::SelfStats::log_write_errors`]) and reported on stderr at most once a minute; they
//!   never panic.

mod bridge;
pub(crate) mod encode;
mod filter;
mod layer;
mod resource;
mod rotate;
mod writer;

/// `t` as RFC 3339 UTC with microseconds, as in the `time` key of every log line (e.g.
/// `2026-11-23T10:54:54.123456Z`): for timestamps a service shows next to its logs.
///
/// ```
/// let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_795_949_694_123_456);
/// assert_eq!(watchpost::logs::rfc3339(t), "2026-11-29T10:54:54.123456Z");
/// ```
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let mut out = Vec::with_capacity(27);
    encode::rfc3339_micros_into(&mut out, t);
    String::from_utf8(out).expect("ASCII")
}

pub use crate::redact::{CARD_MASK, EMAIL_MASK, REDACTED};
pub use layer::{record_current_resource, record_resource, JsonLayer, LogHandle, TRUNCATED_MARKER};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use resource::{sse_handler, LogQuery, SseState, DEFAULT_TAIL, MAX_TAIL};
pub use resource::{valid_id, ResourceLogConfig, ResourceLogStats, ResourceLogs};
pub use rotate::LogFile;
pub use writer::{LineWriter, NonBlocking, DEFAULT_BUFFER_BYTES};

pub(crate) use bridge::{LogSink, PendingLog};
pub(crate) use layer::{is_resource_id_field, log_level_filter, record_context};
