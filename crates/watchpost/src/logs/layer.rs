//! The JSON line layer: filtering by subsystem level, encoding, redaction, trace correlation.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_core::{Interest, LevelFilter, Metadata};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::encode;
use super::filter::{self, verbosity, Filter, Route};
use super::redact::{slot_of, Redactor, REDACTED};
use crate::config::Config;
use crate::internal::{Counters, LogWriteFailed};

/// Keys the layer writes itself; event fields with these names are written as `fields.<name>`.
const RESERVED: &[&str] = &["time", "level", "msg", "subsystem", "trace_id", "span_id"];
/// Marker appended to a value cut at the size limit.
pub const TRUNCATED_MARKER: &str = "…[truncated]";

static NEXT_LAYER_ID: AtomicU32 = AtomicU32::new(1);

/// State shared by the layer and the [`crate::Telemetry`] handle.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) filter: Filter,
    pub(crate) counters: Counters,
    pub(crate) resources: Option<super::resource::ResourceLogs>,
    /// The OTel log bridge, set when OTLP log export is on.
    pub(crate) otel_logger: std::sync::OnceLock<LogBridge>,
    /// Set when this pipeline receives the `log` crate's records (its max level follows ours).
    pub(crate) log_crate: std::sync::atomic::AtomicBool,
    /// The id field of each resource kind, by kind index.
    id_fields: Vec<String>,
    redactor: Redactor,
    max_field_bytes: usize,
    id: u32,
}

impl Shared {
    pub(crate) fn new(config: &Config) -> Self {
        Self {
            filter: Filter::new(config),
            counters: Counters::default(),
            otel_logger: std::sync::OnceLock::new(),
            log_crate: std::sync::atomic::AtomicBool::new(false),
            resources: config
                .resource_logs
                .clone()
                .map(|rl| super::resource::ResourceLogs::new(rl, &config.service_name)),
            id_fields: config
                .resource_logs
                .as_ref()
                .map(|rl| rl.kinds.iter().map(|(_, f)| f.clone()).collect())
                .unwrap_or_default(),
            redactor: Redactor::new(&config.redaction),
            max_field_bytes: config.max_field_bytes,
            id: NEXT_LAYER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The route of a callsite (subsystem, level override, secret fields), cached per thread by
    /// metadata address in a 2-way set-associative table.
    #[inline]
    fn route(&self, meta: &'static Metadata<'static>) -> Route {
        const SLOTS: usize = 512;
        type Slot = (u32, usize, Route);
        const EMPTY: Slot = (
            0,
            0,
            Route {
                subsystem: None,
                target_verbosity: None,
                secret_mask: 0,
                resource_mask: 0,
                dotted_mask: 0,
            },
        );
        thread_local! {
            static ROUTES: RefCell<Vec<Slot>> = RefCell::new(vec![EMPTY; SLOTS]);
        }
        let addr = meta as *const Metadata<'static> as usize;
        let slot = slot_of(addr, self.id, SLOTS);
        let hit = ROUTES.with(|r| {
            let r = r.borrow();
            [slot, slot ^ 1]
                .into_iter()
                .map(|i| r[i])
                .find(|e| e.0 == self.id && e.1 == addr)
                .map(|e| e.2)
        });
        if let Some(route) = hit {
            return route;
        }
        let route = self.compute_route(meta);
        ROUTES.with(|r| {
            let mut r = r.borrow_mut();
            r[slot ^ 1] = r[slot];
            r[slot] = (self.id, addr, route);
        });
        route
    }

    fn compute_route(&self, meta: &Metadata<'_>) -> Route {
        let mut route = self.filter.route(meta.target());
        for field in meta.fields().iter().take(64) {
            if self.redactor.is_secret_name(field.name()) {
                route.secret_mask |= 1 << field.index();
            }
            if self.resource_kind_of(field.name()).is_some() {
                route.resource_mask |= 1 << field.index();
            } else if field.name().contains('.') {
                // A dotted resource id field (`job.id`) is still encoded: it routes lines.
                route.dotted_mask |= 1 << field.index();
            }
        }
        route
    }

    /// Encodes span fields into `data` (with the callsite's redaction and resource masks);
    /// returns the value of a `subsystem` field, if any.
    fn record_span_fields(
        &self,
        meta: &'static Metadata<'static>,
        data: &mut SpanFields,
        record: impl FnOnce(&mut Visitor<'_>),
    ) -> Option<String> {
        let mut subsystem = None;
        let mut text = String::new();
        let route = self.route(meta);
        record(&mut Visitor {
            shared: self,
            secret_mask: route.secret_mask,
            resource_mask: route.resource_mask,
            skip_mask: route.dotted_mask,
            value_at: 0,
            text: &mut text,
            sink: Sink::Span {
                data,
                subsystem: &mut subsystem,
            },
        });
        subsystem
    }

    /// The resource kind whose id field is `name`.
    #[inline]
    pub(crate) fn resource_kind_of(&self, name: &str) -> Option<u16> {
        self.id_fields
            .iter()
            .position(|f| f == name)
            .map(|i| i as u16)
    }

    #[inline]
    fn is_secret(&self, secret_mask: u64, field: &Field) -> bool {
        let i = field.index();
        if i < 64 {
            secret_mask & (1 << i) != 0
        } else {
            self.redactor.is_secret_name(field.name())
        }
    }
}

/// A `tracing_subscriber` [`Layer`](tracing_subscriber::Layer) that writes one JSON object per
/// event and line, filters by per-subsystem level, redacts secrets and adds OpenTelemetry trace
/// ids.
///
/// Most applications get it through [`crate::init`]; build it directly to compose it with other
/// layers in your own subscriber. Its filtering is global to the subscriber it is part of (it
/// implements `register_callsite`), so every other layer sees the same events.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let config = watchpost::Config::builder("demo").build().unwrap();
/// let (layer, handle) = watchpost::logs::JsonLayer::new(&config, std::io::sink);
/// let subscriber = tracing_subscriber::registry().with(layer);
/// tracing::subscriber::with_default(subscriber, || tracing::info!(answer = 42, "hello"));
/// assert_eq!(handle.self_stats().log_write_errors, 0);
/// ```
pub struct JsonLayer<W> {
    shared: Arc<Shared>,
    make_writer: W,
}

impl<W> fmt::Debug for JsonLayer<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLayer")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<W> JsonLayer<W>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    /// A layer writing to `make_writer` (e.g. `std::io::stdout`, a `Mutex<File>`, or a
    /// non-blocking writer), and the [`LogHandle`] that controls its levels.
    ///
    /// ```
    /// let config = watchpost::Config::builder("demo").build().unwrap();
    /// let (_layer, handle) = watchpost::logs::JsonLayer::new(&config, std::io::stdout);
    /// assert_eq!(handle.level("APP"), Some(tracing::Level::INFO));
    /// ```
    pub fn new(config: &Config, make_writer: W) -> (Self, LogHandle) {
        let shared = Arc::new(Shared::new(config));
        (
            Self {
                shared: shared.clone(),
                make_writer,
            },
            LogHandle { shared },
        )
    }
}

/// Controls a [`JsonLayer`]: levels at runtime and its self-telemetry. Cheap to clone.
///
/// ```
/// use tracing::Level;
/// let config = watchpost::Config::builder("demo")
///     .subsystem(watchpost::Subsystem::new("INSTANCES"))
///     .build()
///     .unwrap();
/// let (_layer, handle) = watchpost::logs::JsonLayer::new(&config, std::io::sink);
/// handle.set_level("INSTANCES", Level::DEBUG).unwrap();
/// assert_eq!(handle.level("instances"), Some(Level::DEBUG));
/// assert!(handle.set_level("INSTANCES", Level::TRACE).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct LogHandle {
    pub(crate) shared: Arc<Shared>,
}

impl LogHandle {
    /// Changes a subsystem's level (name case-insensitive). Takes effect at once, for callsites
    /// already registered too.
    ///
    /// # Errors
    /// [`ErrorKind::UnknownSubsystem`](crate::ErrorKind::UnknownSubsystem) for an undeclared
    /// name, [`ErrorKind::InvalidValue`](crate::ErrorKind::InvalidValue) for `TRACE`.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (_layer, handle) = watchpost::logs::JsonLayer::new(&config, std::io::sink);
    /// handle.set_level("APP", tracing::Level::WARN).unwrap();
    /// assert!(handle.set_level("NOPE", tracing::Level::WARN).is_err());
    /// ```
    pub fn set_level(&self, subsystem: &str, level: tracing::Level) -> Result<(), crate::Error> {
        let filter = &self.shared.filter;
        let index = filter.index(subsystem).ok_or_else(|| {
            crate::Error::new(crate::ErrorKind::UnknownSubsystem {
                name: subsystem.to_string(),
                known: filter.names.clone(),
            })
        })?;
        if level == tracing::Level::TRACE {
            return Err(crate::Error::invalid(
                format!("level of {subsystem}"),
                "TRACE",
                "one of DEBUG, INFO, WARN, ERROR (TRACE is not allowed by the logging standard)",
            ));
        }
        filter.set_level(index, level);
        tracing_core::callsite::rebuild_interest_cache();
        if self.shared.log_crate.load(Ordering::Relaxed) {
            // Read and set under one lock: two concurrent changes must not leave the older max.
            static LOG_MAX: std::sync::Mutex<()> = std::sync::Mutex::new(());
            let _g = LOG_MAX.lock().unwrap_or_else(|p| p.into_inner());
            log::set_max_level(log_level_filter(filter.max_verbosity()));
        }
        Ok(())
    }

    /// The current level of a subsystem (name case-insensitive), `None` if undeclared.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (_layer, handle) = watchpost::logs::JsonLayer::new(&config, std::io::sink);
    /// assert_eq!(handle.level("APP"), Some(tracing::Level::INFO));
    /// ```
    pub fn level(&self, subsystem: &str) -> Option<tracing::Level> {
        let filter = &self.shared.filter;
        filter.index(subsystem).map(|i| filter.level(i))
    }

    /// Every declared subsystem with its current level, in declaration order.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (_layer, handle) = watchpost::logs::JsonLayer::new(&config, std::io::sink);
    /// assert_eq!(handle.levels(), vec![("APP".to_string(), tracing::Level::INFO)]);
    /// ```
    pub fn levels(&self) -> Vec<(String, tracing::Level)> {
        let filter = &self.shared.filter;
        filter
            .names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), filter.level(i as u16)))
            .collect()
    }

    /// Counters of the log pipeline's own failures.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (_layer, handle) = watchpost::logs::JsonLayer::new(&config, std::io::sink);
    /// assert_eq!(handle.self_stats().log_write_errors, 0);
    /// ```
    pub fn self_stats(&self) -> crate::SelfStats {
        self.shared.counters.snapshot()
    }
}

/// Per-span data kept in the registry's extensions.
#[derive(Debug, Default)]
struct SpanFields {
    /// The span's subsystem: its own `subsystem` field, else its parent's.
    subsystem: Option<u16>,
    /// Encoded JSON values, back to back.
    buf: Vec<u8>,
    /// (name, start, end) of each value in `buf`, in recording order.
    fields: Vec<(&'static str, u32, u32)>,
    /// (resource kind, start, end) of resource id values in `buf`.
    resources: Vec<(u16, u32, u32)>,
}

/// Reused per-thread buffers.
#[derive(Default)]
struct Scratch {
    line: Vec<u8>,
    fields: Vec<u8>,
    msg: String,
    text: String,
    seen: Vec<&'static str>,
    /// (resource kind, start, end) of resource id values in `fields`.
    hits: Vec<(u16, u32, u32)>,
    /// Resource ids of this event (kind, id), event first, then innermost span.
    ids: Vec<(u16, String)>,
    /// Spare strings for `ids`, reused.
    spare: Vec<String>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Where a visitor puts what it sees.
enum Sink<'a> {
    /// Event fields: `,"name":value` into `out`, message text into `msg`, names into `seen`.
    Event {
        out: &'a mut Vec<u8>,
        msg: &'a mut String,
        seen: &'a mut Vec<&'static str>,
        hits: &'a mut Vec<(u16, u32, u32)>,
    },
    /// Span fields: values into the span's buffer; a `subsystem` field is captured by name.
    Span {
        data: &'a mut SpanFields,
        subsystem: &'a mut Option<String>,
    },
}

struct Visitor<'a> {
    shared: &'a Shared,
    secret_mask: u64,
    resource_mask: u64,
    /// Fields not written at all (see `skipped`).
    skip_mask: u64,
    /// Where the current field's value starts in its buffer.
    value_at: usize,
    text: &'a mut String,
    sink: Sink<'a>,
}

impl Visitor<'_> {
    /// A field that is not written: a dotted span field (`http.route`, `otel.name`: trace data,
    /// never in log lines) or a `log.*` field of a record from the `log` crate (its target, file
    /// and line, already used for routing).
    #[inline]
    fn skipped(&self, field: &Field) -> bool {
        let i = field.index();
        if i < 64 {
            self.skip_mask & (1 << i) != 0
        } else {
            matches!(self.sink, Sink::Span { .. })
                && field.name().contains('.')
                && self.shared.resource_kind_of(field.name()).is_none()
        }
    }

    /// Starts a field: returns the buffer to write the value into, or `None` if the field is
    /// not written (message handled separately).
    fn begin(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        let name = field.name();
        match &mut self.sink {
            Sink::Event { out, seen, .. } => {
                out.push(b',');
                out.push(b'"');
                if RESERVED.contains(&name) {
                    out.extend_from_slice(b"fields.");
                }
                encode::escape_into(out, name);
                out.extend_from_slice(b"\":");
                seen.push(name);
                self.value_at = out.len();
                Some(out)
            }
            Sink::Span { data, .. } => {
                self.value_at = data.buf.len();
                data.fields.push((name, data.buf.len() as u32, 0));
                Some(&mut data.buf)
            }
        }
    }

    /// Ends a field whose value started at `start`: records the span field's range, and the
    /// value's range if the field is a resource id.
    fn end(&mut self, field: &Field, start: usize) {
        let i = field.index();
        let kind = if i < 64 && self.resource_mask & (1 << i) != 0 {
            self.shared.resource_kind_of(field.name())
        } else {
            None
        };
        match &mut self.sink {
            Sink::Span { data, .. } => {
                let end = data.buf.len() as u32;
                if let Some(last) = data.fields.last_mut() {
                    last.2 = end;
                }
                if let Some(k) = kind {
                    data.resources.push((k, start as u32, end));
                }
            }
            Sink::Event { out, hits, .. } => {
                if let Some(k) = kind {
                    hits.push((k, start as u32, out.len() as u32));
                }
            }
        }
    }

    /// Writes a string value: masked, truncated, escaped.
    fn string_value(&mut self, field: &Field, s: &str) {
        if self.skipped(field) {
            return;
        }
        let name = field.name();
        if let Sink::Event { msg, .. } = &mut self.sink {
            if name == "message" {
                msg.clear();
                msg.push_str(s);
                return;
            }
        }
        if let Sink::Span { subsystem, .. } = &mut self.sink {
            if name == "subsystem" {
                **subsystem = Some(s.to_string());
                return;
            }
        }
        let shared = self.shared;
        let secret = shared.is_secret(self.secret_mask, field);
        let Some(out) = self.begin(field) else { return };
        if secret {
            encode::string_into(out, REDACTED);
        } else {
            write_text(shared, out, s);
        }
        self.end(field, self.value_at);
    }

    fn raw_value(&mut self, field: &Field, write: impl FnOnce(&mut Vec<u8>)) {
        if self.skipped(field) {
            return;
        }
        let secret = self.shared.is_secret(self.secret_mask, field);
        let Some(out) = self.begin(field) else { return };
        if secret {
            encode::string_into(out, REDACTED);
        } else {
            write(out);
        }
        self.end(field, self.value_at);
    }
}

/// Where bridged log records go: the export queue. The logging thread masks and cuts the message
/// and copies the line's fields; the OTel record is built on the export thread ([`LogMaker`]).
#[derive(Debug)]
pub(crate) struct LogBridge {
    pub(crate) exporter: crate::export::Exporter,
}

/// A log record as its JSON line had it (redacted, masked, truncated), waiting for export.
#[derive(Debug)]
pub(crate) struct PendingLog {
    time: SystemTime,
    verbosity: u8,
    target: std::borrow::Cow<'static, str>,
    body: String,
    subsystem: u16,
    ids: Option<([u8; 16], [u8; 8])>,
    /// The line's `,"key":value` fields.
    fields: Vec<u8>,
}

/// Builds OTel log records from [`PendingLog`]s, on the export thread.
#[derive(Debug)]
pub(crate) struct LogMaker {
    pub(crate) logger: opentelemetry_sdk::logs::SdkLogger,
    pub(crate) scope: opentelemetry::InstrumentationScope,
    pub(crate) subsystems: Vec<String>,
}

impl LogMaker {
    pub(crate) fn make(
        &self,
        p: PendingLog,
    ) -> (
        opentelemetry_sdk::logs::SdkLogRecord,
        opentelemetry::InstrumentationScope,
    ) {
        use opentelemetry::logs::{AnyValue, LogRecord as _, Logger as _};
        let mut rec = self.logger.create_log_record();
        rec.set_timestamp(p.time);
        rec.set_observed_timestamp(p.time);
        let (sev, text) = severity(p.verbosity);
        rec.set_severity_number(sev);
        rec.set_severity_text(text);
        rec.set_target(p.target);
        rec.set_body(AnyValue::from(p.body));
        if let Some(name) = self.subsystems.get(p.subsystem as usize) {
            rec.add_attribute("subsystem", name.clone());
        }
        for (k, v) in encode::parse_fields(&p.fields) {
            let v = match v {
                encode::FieldValue::Str(s) => AnyValue::from(s),
                encode::FieldValue::Int(i) => AnyValue::from(i),
                encode::FieldValue::Float(f) => AnyValue::from(f),
                encode::FieldValue::Bool(b) => AnyValue::from(b),
            };
            rec.add_attribute(k, v);
        }
        if let Some((t, s)) = p.ids {
            rec.set_trace_context(
                opentelemetry::trace::TraceId::from_bytes(t),
                opentelemetry::trace::SpanId::from_bytes(s),
                Some(opentelemetry::trace::TraceFlags::SAMPLED),
            );
        }
        (rec, self.scope.clone())
    }
}

fn severity(verbosity: u8) -> (opentelemetry::logs::Severity, &'static str) {
    use opentelemetry::logs::Severity;
    match verbosity {
        1 => (Severity::Error, "ERROR"),
        2 => (Severity::Warn, "WARN"),
        3 => (Severity::Info, "INFO"),
        _ => (Severity::Debug, "DEBUG"),
    }
}

/// Queues the event for the OpenTelemetry log bridge with exactly the fields of the JSON line
/// (already redacted, masked and truncated) and its message, masked and cut like the line's.
/// The record is built on the export thread.
#[allow(clippy::too_many_arguments)]
fn bridge_log(
    shared: &Shared,
    bridge: &LogBridge,
    meta: &Metadata<'_>,
    target: std::borrow::Cow<'static, str>,
    msg: &str,
    subsystem: u16,
    ids: Option<([u8; 16], [u8; 8])>,
    fields: &[u8],
) {
    let v = verbosity(meta.level());
    let masked;
    let text = if shared.redactor.masks_values() {
        masked = shared.redactor.mask(msg);
        &*masked
    } else {
        msg
    };
    // Cut like the JSON line's message, so a huge message cannot make a huge queued record.
    let body = if text.len() > shared.max_field_bytes {
        let mut cut = shared.max_field_bytes;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}{TRUNCATED_MARKER}", &text[..cut])
    } else {
        text.to_string()
    };
    let pending = PendingLog {
        time: SystemTime::now(),
        verbosity: v,
        target,
        body,
        subsystem,
        ids,
        fields: fields.to_vec(),
    };
    // WARN and ERROR records may use the export queue's reserve.
    bridge.exporter.send_log(pending, v <= 2);
}

/// Masks, truncates and escapes `s` as a JSON string into `out`.
fn write_text(shared: &Shared, out: &mut Vec<u8>, s: &str) {
    let masked;
    let s = if shared.redactor.masks_values() {
        masked = shared.redactor.mask(s);
        &*masked
    } else {
        s
    };
    out.push(b'"');
    if s.len() > shared.max_field_bytes {
        let mut cut = shared.max_field_bytes;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        encode::escape_into(out, &s[..cut]);
        out.extend_from_slice(TRUNCATED_MARKER.as_bytes());
    } else {
        encode::escape_into(out, s);
    }
    out.push(b'"');
}

impl Visit for Visitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.raw_value(field, |out| encode::f64_into(out, value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw_value(field, |out| {
            out.extend_from_slice(if value { b"true" } else { b"false" })
        });
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.string_value(field, value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.skipped(field) {
            return;
        }
        let mut text = std::mem::take(self.text);
        text.clear();
        let _ = write!(text, "{value}");
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.string_value(field, &text);
        *self.text = text;
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.skipped(field) {
            return;
        }
        let mut text = std::mem::take(self.text);
        text.clear();
        let _ = write!(text, "{value:?}");
        self.string_value(field, &text);
        *self.text = text;
    }
}

/// The active OpenTelemetry span's ids, if any: read from the thread's current OTel context,
/// which the tracing bridge sets when a span is entered. No allocation.
#[inline]
fn current_ids() -> Option<([u8; 16], [u8; 8])> {
    opentelemetry::Context::map_current(|cx| {
        if !cx.has_active_span() {
            return None;
        }
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_bytes(), sc.span_id().to_bytes()))
    })
}

/// The `log` crate's filter for a verbosity (1 = ERROR … 4 = DEBUG).
pub(crate) fn log_level_filter(v: u8) -> log::LevelFilter {
    match v {
        0 => log::LevelFilter::Off,
        1 => log::LevelFilter::Error,
        2 => log::LevelFilter::Warn,
        3 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    }
}

fn level_str(level: &tracing::Level) -> &'static [u8] {
    match verbosity(level) {
        1 => b"ERROR",
        2 => b"WARN",
        3 => b"INFO",
        4 => b"DEBUG",
        _ => b"TRACE",
    }
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        self.shared.filter.interest(meta)
    }

    fn enabled(&self, meta: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        let filter = &self.shared.filter;
        let v = verbosity(meta.level());
        if meta.is_span() {
            return filter.span_enabled(v);
        }
        if filter::is_log_callsite(meta) {
            // Decided per record in `event_enabled`, by the record's own target.
            return v <= filter.max_verbosity();
        }
        self.event_enabled_for(meta.target(), v, &ctx)
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        match event.normalized_metadata() {
            Some(meta) => self.event_enabled_for(meta.target(), verbosity(meta.level()), &ctx),
            None => true,
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.shared.filter.max_level_hint())
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut data = SpanFields {
            subsystem: None,
            buf: Vec::new(),
            fields: Vec::with_capacity(attrs.metadata().fields().len()),
            resources: Vec::new(),
        };
        let subsystem = self
            .shared
            .record_span_fields(attrs.metadata(), &mut data, |v| attrs.record(v));
        data.subsystem = match subsystem {
            Some(name) => Some(
                self.shared
                    .filter
                    .index(&name)
                    .unwrap_or(self.shared.filter.default),
            ),
            None => span
                .parent()
                .and_then(|p| p.extensions().get::<SpanFields>().and_then(|d| d.subsystem)),
        };
        span.extensions_mut().insert(data);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut new = SpanFields::default();
        let subsystem = self
            .shared
            .record_span_fields(span.metadata(), &mut new, |v| values.record(v));
        let mut ext = span.extensions_mut();
        let Some(data) = ext.get_mut::<SpanFields>() else {
            return;
        };
        if new.fields.is_empty() && subsystem.is_none() {
            return; // only trace fields (e.g. `http.response.status_code`) were recorded
        }
        if let Some(name) = subsystem {
            data.subsystem = Some(
                self.shared
                    .filter
                    .index(&name)
                    .unwrap_or(self.shared.filter.default),
            );
        }
        // Rebuild: old fields not re-recorded keep their place, re-recorded ones move to the end.
        let mut merged = SpanFields {
            subsystem: data.subsystem,
            buf: Vec::with_capacity(data.buf.len() + new.buf.len()),
            fields: Vec::with_capacity(data.fields.len() + new.fields.len()),
            resources: Vec::new(),
        };
        let kept = data
            .fields
            .iter()
            .filter(|(n, _, _)| !new.fields.iter().any(|(m, _, _)| m == n))
            .map(|f| (f, &data.buf));
        for (&(name, s, e), buf) in kept.chain(new.fields.iter().map(|f| (f, &new.buf))) {
            let start = merged.buf.len() as u32;
            merged.buf.extend_from_slice(&buf[s as usize..e as usize]);
            merged.fields.push((name, start, merged.buf.len() as u32));
            if let Some(kind) = self.shared.resource_kind_of(name) {
                merged
                    .resources
                    .push((kind, start, merged.buf.len() as u32));
            }
        }
        *data = merged;
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut fresh = None;
        SCRATCH.with(|cell| {
            // Re-entrancy (a field's Debug impl that logs) gets its own buffers.
            let mut guard = cell.try_borrow_mut().ok();
            let scratch = match guard.as_deref_mut() {
                Some(s) => s,
                None => fresh.insert(Scratch::default()),
            };
            self.encode_event(event, &ctx, scratch);
            let mut writer = self.make_writer.make_writer_for(event.metadata());
            if let Err(error) = writer.write_all(&scratch.line) {
                LogWriteFailed { error: &error }.emit(&self.shared.counters);
            }
            if let Some(resources) = &self.shared.resources {
                for (kind, id) in &scratch.ids {
                    resources.fan_out(*kind, id, &scratch.line);
                }
            }
        });
    }
}

impl<W> JsonLayer<W> {
    /// Whether an event of `target` at verbosity `v` is written (its target's subsystem, else
    /// the current span's).
    fn event_enabled_for<S>(&self, target: &str, v: u8, ctx: &Context<'_, S>) -> bool
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let filter = &self.shared.filter;
        let route = filter.route(target);
        let span_subsystem = if route.subsystem.is_none() && route.target_verbosity.is_none() {
            ctx.lookup_current()
                .and_then(|s| s.extensions().get::<SpanFields>().and_then(|d| d.subsystem))
        } else {
            None
        };
        filter.event_enabled(route, v, span_subsystem)
    }

    fn encode_event<S>(&self, event: &Event<'_>, ctx: &Context<'_, S>, scratch: &mut Scratch)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let shared = &*self.shared;
        // A record from the `log` crate: its real target, level, file and line.
        let normalized = event.normalized_metadata();
        let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
        let Scratch {
            line,
            fields,
            msg,
            text,
            seen,
            hits,
            ids,
            spare,
        } = scratch;
        line.clear();
        fields.clear();
        msg.clear();
        seen.clear();
        hits.clear();
        spare.extend(ids.drain(..).map(|(_, s)| s));

        // Event fields, in declaration order; the message is set aside.
        let (route, skip_mask) = if normalized.is_some() {
            let log_fields = event
                .metadata()
                .fields()
                .iter()
                .take(64)
                .filter(|f| f.name().starts_with("log."))
                .fold(0u64, |m, f| m | 1 << f.index());
            (shared.compute_route(meta), log_fields)
        } else {
            (shared.route(event.metadata()), 0)
        };
        let mut visitor = Visitor {
            shared,
            secret_mask: route.secret_mask,
            resource_mask: route.resource_mask,
            skip_mask,
            value_at: 0,
            text,
            sink: Sink::Event {
                out: fields,
                msg,
                seen,
                hits,
            },
        };
        event.record(&mut visitor);
        let mut take_id = |kind: u16, raw: &[u8], ids: &mut Vec<(u16, String)>| {
            if ids.iter().any(|(k, _)| *k == kind) {
                return; // the event's own (or an inner span's) id wins
            }
            let raw = raw
                .strip_prefix(b"\"")
                .and_then(|r| r.strip_suffix(b"\""))
                .unwrap_or(raw);
            let mut s = spare.pop().unwrap_or_default();
            s.clear();
            s.push_str(&String::from_utf8_lossy(raw));
            ids.push((kind, s));
        };
        if shared.resources.is_some() {
            for &(kind, s, e) in hits.iter() {
                take_id(kind, &fields[s as usize..e as usize], ids);
            }
        }

        // Enclosing span fields, innermost first, skipping names already written.
        let mut subsystem = route.subsystem;
        let mut span_subsystem_found = subsystem.is_some();
        let mut span_ids = None;
        if let Some(scope) = ctx.event_scope(event) {
            for span in scope {
                let ext = span.extensions();
                if span_ids.is_none() {
                    if let Some(o) = ext.get::<crate::traces::OtelSpan>() {
                        span_ids = Some((o.trace_id.to_bytes(), o.span_id.to_bytes()));
                    }
                }
                let Some(data) = ext.get::<SpanFields>() else {
                    continue;
                };
                if !span_subsystem_found {
                    subsystem = data.subsystem;
                    span_subsystem_found = true;
                }
                for &(kind, s, e) in &data.resources {
                    take_id(kind, &data.buf[s as usize..e as usize], ids);
                }
                for &(name, s, e) in &data.fields {
                    // Dotted span fields (`http.route`, `otel.name`: semantic-convention
                    // attributes and bridge controls) belong to the trace, not to every line.
                    if seen.contains(&name) || name.contains('.') {
                        continue;
                    }
                    seen.push(name);
                    fields.push(b',');
                    fields.push(b'"');
                    encode::escape_into(fields, name);
                    fields.extend_from_slice(b"\":");
                    fields.extend_from_slice(&data.buf[s as usize..e as usize]);
                }
            }
        }
        let subsystem = subsystem.unwrap_or(shared.filter.default);

        line.extend_from_slice(b"{\"time\":\"");
        encode::rfc3339_micros_into(line, SystemTime::now());
        line.extend_from_slice(b"\",\"level\":\"");
        line.extend_from_slice(level_str(meta.level()));
        line.extend_from_slice(b"\",\"msg\":");
        write_text(shared, line, msg);
        line.extend_from_slice(b",\"subsystem\":");
        encode::string_into(line, &shared.filter.names[subsystem as usize]);
        let span_ids = span_ids.or_else(current_ids);
        if let Some((trace_id, span_id)) = span_ids {
            line.extend_from_slice(b",\"trace_id\":\"");
            encode::hex_into(line, &trace_id);
            line.extend_from_slice(b"\",\"span_id\":\"");
            encode::hex_into(line, &span_id);
            line.push(b'"');
        }
        line.extend_from_slice(fields);
        line.extend_from_slice(b"}\n");
        if let Some(bridge) = shared.otel_logger.get() {
            let target = if normalized.is_some() {
                std::borrow::Cow::Owned(meta.target().to_string())
            } else {
                std::borrow::Cow::Borrowed(event.metadata().target())
            };
            bridge_log(
                shared, bridge, meta, target, msg, subsystem, span_ids, fields,
            );
        }
    }
}
