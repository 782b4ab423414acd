//! The JSON line layer ([`JsonLayer`]) and its handle ([`LogHandle`]): filtering by subsystem
//! level, and the state they share ([`LayerState`]: filter, redaction, resource id fields, the
//! per-thread route cache). `line` builds a line from an event and its spans, `visit` encodes
//! field values, `access` writes the HTTP layer's request span and access line from their staged
//! values ([`crate::staged`]).

mod access;
mod line;
mod visit;

use std::fmt;
use std::io::Write as _;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use tracing::field::Field;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_core::{Interest, LevelFilter, Metadata};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::bridge::LogSink;
use super::encode;
use super::filter::{self, verbosity, Filter, Route};
use crate::config::Config;
use crate::internal::{Counters, LogWriteFailed};
use crate::redact::Redactor;
use crate::util::TwoWayCache;
use line::{Scratch, SpanFields, SCRATCH};
use visit::{Sink, Visitor};

pub use visit::TRUNCATED_MARKER;

static NEXT_LAYER_ID: AtomicU32 = AtomicU32::new(1);

/// What the layer, its [`LogHandle`] and the [`crate::Telemetry`] handle share: the filter and
/// live levels, the self-telemetry counters, the resource logs, the log bridge, and what
/// encoding a line needs (redaction, resource id fields, size limit).
#[derive(Debug)]
pub(crate) struct LayerState {
    pub(crate) filter: Filter,
    pub(crate) counters: Counters,
    pub(crate) resources: Option<super::resource::ResourceLogs>,
    /// The OTel log bridge, set when OTLP log export is on.
    pub(crate) log_sink: std::sync::OnceLock<Box<dyn LogSink>>,
    /// Set when this pipeline receives the `log` crate's records (its max level follows ours).
    pub(crate) log_crate: std::sync::atomic::AtomicBool,
    /// The id field of each resource kind, by kind index.
    id_fields: Vec<String>,
    /// (kind, id field) by kind index; the names live as long as the process (a few per
    /// pipeline), as span field names must.
    kind_fields: Vec<(String, &'static str)>,
    redactor: Redactor,
    max_field_bytes: usize,
    /// `,"service":…,"version":…,"environment":…`, encoded once (empty when switched off).
    standard_fields: Box<[u8]>,
    /// Each subsystem's name as a JSON string, by index, encoded once.
    subsystem_names: Box<[Box<[u8]>]>,
    id: u32,
}

impl LayerState {
    pub(crate) fn new(config: &Config) -> Self {
        let filter = Filter::new(config);
        let subsystem_names = filter
            .names
            .iter()
            .map(|name| {
                let mut json = Vec::new();
                encode::string_into(&mut json, name);
                json.into_boxed_slice()
            })
            .collect();
        Self {
            filter,
            subsystem_names,
            counters: Counters::default(),
            log_sink: std::sync::OnceLock::new(),
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
            kind_fields: config
                .resource_logs
                .as_ref()
                .map(|rl| {
                    rl.kinds
                        .iter()
                        .map(|(k, f)| (k.clone(), intern(f)))
                        .collect()
                })
                .unwrap_or_default(),
            redactor: Redactor::new(&config.redaction),
            max_field_bytes: config.max_field_bytes,
            standard_fields: standard_fields(config),
            id: NEXT_LAYER_ID.fetch_add(1, Ordering::Relaxed),
        }
    }

    /// The route of a callsite (subsystem, level override, secret fields), cached per thread by
    /// metadata address in a 2-way set-associative table.
    #[inline]
    fn route(&self, meta: &'static Metadata<'static>) -> Route {
        thread_local! {
            static ROUTES: TwoWayCache<usize, Route> = TwoWayCache::new(512);
        }
        let addr = meta as *const Metadata<'static> as usize;
        ROUTES.with(|r| r.get_or_insert(self.id, addr, addr, || self.compute_route(meta)))
    }

    fn compute_route(&self, meta: &Metadata<'_>) -> Route {
        let mut route = self.filter.route(meta.target());
        use crate::catalogue::targets;
        let ours = targets::is_http_server_callsite(meta);
        for field in meta.fields().iter().take(64) {
            if ours && targets::HTTP_TRUSTED_FIELDS.contains(&field.name()) {
                route.trusted_mask |= 1 << field.index();
            }
            if self.redactor.is_secret_name(field.name()) {
                route.secret_mask |= 1 << field.index();
            }
            if field
                .name()
                .bytes()
                .all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\')
            {
                route.plain_name_mask |= 1 << field.index();
            }
            if visit::is_reserved(field.name()) {
                route.reserved_mask |= 1 << field.index();
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
    /// returns the value of a `subsystem` field, if any. `created`: the values the span was
    /// created with (a later `record` is the application's, never trusted unscanned).
    fn record_span_fields(
        &self,
        meta: &'static Metadata<'static>,
        data: &mut SpanFields,
        created: bool,
        record: impl FnOnce(&mut Visitor<'_>),
    ) -> Option<u16> {
        let mut subsystem = None;
        let mut text = String::new();
        let mut route = self.route(meta);
        if !created {
            route.trusted_mask = 0;
        }
        record(&mut Visitor::new(
            self,
            &route,
            route.dotted_mask,
            &mut text,
            Sink::Span {
                data,
                subsystem: &mut subsystem,
            },
        ));
        subsystem
    }

    /// Adds resource `kind`'s id field with value `id` to a span's fields (replacing an earlier
    /// value), so that the span's lines route to that resource.
    fn record_resource(&self, data: &mut SpanFields, kind: &str, id: &str) -> bool {
        let Some((index, field)) = self
            .kind_fields
            .iter()
            .enumerate()
            .find(|(_, (k, _))| k == kind)
            .map(|(i, (_, f))| (i as u16, *f))
        else {
            return false;
        };
        if !crate::config::valid_id(id) {
            return false;
        }
        if data.fields.iter().any(|(n, _, _)| *n == field) {
            // Recorded before: the new value replaces it.
            let mut added = SpanFields::default();
            encode::string_into(&mut added.buf, id);
            added.fields.push((field, 0, added.buf.len() as u32));
            data.merge(&added, self);
        } else {
            // The usual case, in place: the value, its field and its resource range.
            let start = data.buf.len() as u32;
            encode::string_into(&mut data.buf, id);
            let end = data.buf.len() as u32;
            data.fields.push((field, start, end));
            data.resources.push((index, start, end));
        }
        true
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

/// Whether `name` is the id field of a per-resource log kind in `dispatch`'s pipeline.
pub(crate) fn is_resource_id_field(dispatch: &tracing::Dispatch, name: &str) -> bool {
    dispatch
        .downcast_ref::<LayerState>()
        .is_some_and(|state| state.resource_kind_of(name).is_some())
}

/// Adds request context field `name` = `value` to the log fields of `span` (the request's local
/// root, found by [`crate::context`]): every later line inside it carries the field. Redacted when
/// the name means a secret, masked and cut like any string value; a second value replaces the
/// first. `false` when the dispatch has no Watchpost log layer or the span no log data.
pub(crate) fn record_context(
    dispatch: &tracing::Dispatch,
    span: &tracing_subscriber::registry::SpanRef<'_, tracing_subscriber::Registry>,
    name: &'static str,
    value: &str,
) -> bool {
    let Some(state) = dispatch.downcast_ref::<LayerState>() else {
        return false;
    };
    if state.resource_kind_of(name).is_some() {
        // A resource id field routes lines to that resource's file: not a context field.
        return false;
    }
    let mut ext = span.extensions_mut();
    let Some(data) = ext.get_mut::<SpanFields>() else {
        return false;
    };
    let mut added = SpanFields::default();
    if state.redactor.is_secret_name(name) {
        encode::string_into(&mut added.buf, crate::redact::REDACTED);
    } else {
        visit::write_text(state, &mut added.buf, value);
    }
    added.fields.push((name, 0, added.buf.len() as u32));
    data.merge(&added, state);
    true
}

/// The standard fields of every line, `,"service":"…","version":"…","environment":"…"` (the
/// OpenTelemetry resource's `service.name`, `service.version` and
/// `deployment.environment.name`), JSON-escaped once here so that a line only copies them; empty
/// when [`Config::log_standard_fields`] is off.
fn standard_fields(config: &Config) -> Box<[u8]> {
    if !config.log_standard_fields {
        return Box::default();
    }
    let mut out = Vec::new();
    for (key, value) in [
        ("service", &config.service_name),
        ("version", &config.service_version),
        ("environment", &config.environment),
    ] {
        out.push(b',');
        encode::string_into(&mut out, key);
        out.push(b':');
        encode::string_into(&mut out, value);
    }
    out.into_boxed_slice()
}

/// `name` as a `&'static str` (span field names must be), stored once per distinct name for the
/// life of the process however many pipelines are built.
fn intern(name: &str) -> &'static str {
    static NAMES: crate::util::Interner = crate::util::Interner::new(usize::MAX);
    NAMES.intern(name).unwrap_or("field")
}

/// Routes the lines of `span` — and of every span and event inside it — to resource `kind`'s
/// log file for `id`, as if the span had been created with the kind's id field (`instance_id =
/// "…"`), which the lines then carry too (unless the field name is dotted, like `job.id`: dotted
/// span fields route lines but are not written into them). For a span whose resource is known only later: an HTTP
/// request span, once the handler has found the instance, so that the request's access line
/// lands in the instance's log.
///
/// Returns `false` and records nothing if the span is disabled or not in a Watchpost pipeline,
/// the kind is not declared, or `id` is not a valid id ([`valid_id`](crate::config::valid_id)).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("wp-doc-record-{}", std::process::id()));
/// let config = watchpost::Config::builder("svc")
///     .resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id"))
///     .build()
///     .unwrap();
/// let (telemetry, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let logs = telemetry.resource_logs().unwrap();
/// logs.register("instance", "web-1").unwrap();
/// tracing::dispatcher::with_default(&dispatch, || {
///     let request = tracing::info_span!("request");
///     assert!(watchpost::logs::record_resource(&request, "instance", "web-1"));
///     assert!(!watchpost::logs::record_resource(&request, "volume", "v1"), "undeclared kind");
///     request.in_scope(|| tracing::info!("request handled"));
/// });
/// logs.flush();
/// let lines = logs.read("instance", "web-1", 10).unwrap();
/// assert!(lines[0].contains(r#""instance_id":"web-1""#), "{lines:?}");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn record_resource(span: &tracing::Span, kind: &str, id: &str) -> bool {
    span.with_subscriber(|(span_id, dispatch)| record_resource_in(dispatch, span_id, kind, id))
        .unwrap_or(false)
}

/// [`record_resource`] for the current span: what a handler inside its request's span
/// usually means, without the clone (and drop) of a span handle that `Span::current()` costs —
/// a round through every layer each.
///
/// Returns `false` and records nothing if no span is current, and as [`record_resource`] does.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("wp-doc-current-{}", std::process::id()));
/// let config = watchpost::Config::builder("svc")
///     .resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id"))
///     .build()
///     .unwrap();
/// let (telemetry, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let logs = telemetry.resource_logs().unwrap();
/// logs.register("instance", "web-1").unwrap();
/// assert!(!watchpost::logs::record_current_resource("instance", "web-1"), "no subscriber");
/// tracing::dispatcher::with_default(&dispatch, || {
///     assert!(!watchpost::logs::record_current_resource("instance", "web-1"), "no span");
///     tracing::info_span!("request").in_scope(|| {
///         assert!(watchpost::logs::record_current_resource("instance", "web-1"));
///         tracing::info!("request handled");
///     });
/// });
/// logs.flush();
/// let lines = logs.read("instance", "web-1", 10).unwrap();
/// assert!(lines[0].contains(r#""instance_id":"web-1""#), "{lines:?}");
/// # std::fs::remove_dir_all(&dir).ok();
/// ```
pub fn record_current_resource(kind: &str, id: &str) -> bool {
    tracing::dispatcher::get_default(|dispatch| {
        let current = dispatch.current_span();
        current
            .id()
            .is_some_and(|span_id| record_resource_in(dispatch, span_id, kind, id))
    })
}

fn record_resource_in(
    dispatch: &tracing::Dispatch,
    span_id: &tracing::span::Id,
    kind: &str,
    id: &str,
) -> bool {
    let (Some(state), Some(registry)) = (
        dispatch.downcast_ref::<LayerState>(),
        dispatch.downcast_ref::<tracing_subscriber::Registry>(),
    ) else {
        return false;
    };
    let Some(span) = registry.span(span_id) else {
        return false;
    };
    let mut ext = span.extensions_mut();
    match ext.get_mut::<SpanFields>() {
        Some(data) => state.record_resource(data, kind, id),
        None => false,
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
#[must_use = "a layer does nothing until it is added to a subscriber"]
pub struct JsonLayer<W> {
    shared: Arc<LayerState>,
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
        let shared = Arc::new(LayerState::new(config));
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
    pub(crate) shared: Arc<LayerState>,
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

impl<S, W> tracing_subscriber::Layer<S> for JsonLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    /// Lets [`record_resource`] reach this layer's state through the dispatcher.
    unsafe fn downcast_raw(&self, id: std::any::TypeId) -> Option<*const ()> {
        if id == std::any::TypeId::of::<Self>() {
            Some(self as *const Self as *const ())
        } else if id == std::any::TypeId::of::<LayerState>() {
            Some(Arc::as_ptr(&self.shared) as *const ())
        } else {
            None
        }
    }

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
            fields: smallvec::SmallVec::new(),
            resources: smallvec::SmallVec::new(),
        };
        // The HTTP layer's request span: its values staged typed (see `access`), else visited.
        let subsystem = match access::take_span(&self.shared, attrs.metadata(), &mut data) {
            Some(subsystem) => subsystem,
            None => self
                .shared
                .record_span_fields(attrs.metadata(), &mut data, true, |v| attrs.record(v)),
        };
        data.subsystem = match subsystem {
            Some(index) => Some(index),
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
            .record_span_fields(span.metadata(), &mut new, false, |v| values.record(v));
        let mut ext = span.extensions_mut();
        let Some(data) = ext.get_mut::<SpanFields>() else {
            return;
        };
        if new.fields.is_empty() && subsystem.is_none() {
            return; // only trace fields (e.g. `http.response.status_code`) were recorded
        }
        if let Some(index) = subsystem {
            data.subsystem = Some(index);
        }
        data.merge(&new, &self.shared);
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
            line::encode_event(&self.shared, event, &ctx, scratch);
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
}
