//! Our `tracing` → OpenTelemetry bridge: a `tracing_subscriber` layer that gives every span
//! OpenTelemetry ids at creation, keeps its data in the registry's extensions, builds the
//! exportable `SpanData` once at close and hands it straight to the tail sampler.
//!
//! It replaces `tracing-opentelemetry` on the hot path (see BENCHMARKS.md): no `SpanBuilder`, no
//! OTel context attached on every enter, no SDK span processor chain.
//!
//! * Parent: the enclosing `tracing` span; else the OpenTelemetry context current on this thread
//!   (a span started with the OTel API); else a new trace. [`set_parent`] makes a span continue a
//!   remote trace (e.g. from an incoming `traceparent`); call it before the span's children are
//!   created.
//! * `otel.name`, `otel.kind` and `otel.status_code` (`"ERROR"`/`"OK"`) fields set the span's
//!   name, kind and status; other fields are attributes (when export is on), at most 128.
//! * Events inside a span become span events (message, `level`, fields); an ERROR event sets the
//!   span's status to Error.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::SystemTime;

use opentelemetry::baggage::BaggageExt;
use opentelemetry::trace::{
    Event as OtelEvent, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId,
};
use opentelemetry::{InstrumentationScope, KeyValue, Value};
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::TailSampler;

/// Attributes kept per span (and per span event); more are dropped.
pub(super) const MAX_ATTRIBUTES: usize = 128;

/// Per-span OpenTelemetry data, in the registry's extensions.
#[derive(Debug)]
pub(crate) struct OtelSpan {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    parent_span_id: SpanId,
    parent_remote: bool,
    /// The caller's `tracestate` (validated header text), passed on by every span of the trace.
    trace_state: Option<Arc<str>>,
    /// A context holding the caller's baggage (the one it came in, shared, not copied), passed
    /// on by every span of the trace.
    baggage: Option<opentelemetry::Context>,
    /// Request context attributes ([`crate::context`]), set on the local root and inherited
    /// by every span created inside it afterwards.
    context: Option<Arc<Vec<KeyValue>>>,
    /// The sampled flag this span passes on (`traceparent`): the remote caller's decision, inherited
    /// by every local span of the trace; for a trace that starts here, the sampling ratio's.
    flags: TraceFlags,
    start: SystemTime,
    name: Cow<'static, str>,
    kind: SpanKind,
    /// Its attributes, but for `deferred`'s (which come first when made).
    pub(super) attributes: Vec<KeyValue>,
    /// The HTTP layer's request span's own attributes, as staged: made into attributes only
    /// when the span is kept or an attribute is looked up by key ([`OtelSpan::materialize`]).
    pub(super) deferred: Option<super::deferred::Deferred>,
    pub(super) events: Vec<OtelEvent>,
    /// Links added with [`SpanExt::add_link`](super::SpanExt::add_link).
    pub(super) links: Vec<opentelemetry::trace::Link>,
    pub(super) status: Status,
}

thread_local! {
    /// The ids of the span this thread's bridge made last, by its `tracing` id: what
    /// [`new_span_ids`] hands the code that has just created a span, without a lookup.
    static NEW_SPAN: Cell<Option<(u64, SpanIds)>> = const { Cell::new(None) };
    static RNG: Cell<u64> = Cell::new({
        let t = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15);
        let here = &t as *const u64 as u64;
        (t ^ here.rotate_left(32)) | 1
    });
}

/// SplitMix64 per thread: fast, well-distributed ids (not cryptographic; ids need not be).
fn next_u64() -> u64 {
    RNG.with(|r| {
        let mut z = r.get().wrapping_add(0x9E37_79B9_7F4A_7C15);
        r.set(z);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    })
}

/// A random `u64` from the per-thread generator (ids, request ids).
pub(crate) fn random_u64() -> u64 {
    next_u64()
}

fn new_span_id() -> SpanId {
    loop {
        let v = next_u64();
        if v != 0 {
            return SpanId::from(v);
        }
    }
}

fn new_trace_id() -> TraceId {
    TraceId::from(((next_u64() as u128) << 64) | next_u64() as u128 | 1)
}

/// The bridge layer. With no tail sampler (export off) spans still get ids (for log
/// correlation) but no attributes or events are kept.
#[derive(Debug)]
pub(crate) struct Bridge {
    tail: Option<Arc<TailSampler>>,
    /// The sampling ratio: a trace that starts here passes on "sampled" when it keeps the trace.
    root_ratio: f64,
    scope: InstrumentationScope,
    /// Targets whose events are not recorded as span events (their data is on the span
    /// already, such as the HTTP access line's).
    no_span_events: &'static [&'static str],
    /// This bridge's tag in [`super::current`]'s table (0: traces are not exported, no table).
    tag: u32,
    /// Which of the request span's staged keys are secret names (decided once: see
    /// [`super::deferred`]).
    staged_secret: u64,
}

impl Bridge {
    pub(crate) fn new(
        tail: Option<Arc<TailSampler>>,
        root_ratio: f64,
        no_span_events: &'static [&'static str],
        tag: u32,
    ) -> Self {
        Self {
            // Without export there is no trace for an exemplar to point at.
            tag: if tail.is_some() { tag } else { 0 },
            staged_secret: tail
                .as_ref()
                .map_or(0, |t| t.secret_mask(super::deferred::STAGED_KEYS)),
            tail,
            root_ratio,
            no_span_events,
            scope: InstrumentationScope::builder("watchpost")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
        }
    }
}

struct FieldVisitor<'a> {
    tail: &'a TailSampler,
    attributes: &'a mut Vec<KeyValue>,
    status: &'a mut Option<Status>,
    name: &'a mut Option<String>,
    kind: &'a mut Option<SpanKind>,
    message: Option<&'a mut String>,
    /// The HTTP server layer's request span: its values are the library's own (see
    /// [`trusted_span`]), written unscanned.
    trusted: bool,
}

/// Whether `meta` is the HTTP server layer's own request span
/// ([`is_http_server_callsite`](crate::catalogue::targets::is_http_server_callsite)), whose
/// values at creation the layer makes itself.
fn trusted_span(meta: &tracing::Metadata<'_>) -> bool {
    meta.is_span() && crate::catalogue::targets::is_http_server_callsite(meta)
}

/// The request span's attributes whose values the layer makes itself (a known method, the route
/// template, the client's IP and port, a checked request id): not `http.request.method_original`,
/// the caller's own extension method.
const TRUSTED_ATTRIBUTES: &[&str] = &[
    "http.request.method",
    "http.route",
    "url.scheme",
    "client.address",
    "client.port",
    "request_id",
    "subsystem",
];

impl FieldVisitor<'_> {
    fn push(&mut self, field: &Field, value: Value) {
        if self.attributes.len() >= MAX_ATTRIBUTES {
            return; // bounded, like the SDK's span limits
        }
        let name = field.name();
        let value = if self.trusted && TRUSTED_ATTRIBUTES.contains(&name) {
            self.tail.clean_trusted(name, value)
        } else {
            self.tail.clean_value(name, value)
        };
        self.attributes.push(KeyValue::new(name, value));
    }
    fn special(&mut self, field: &Field, s: &str) -> bool {
        match field.name() {
            "otel.name" => {
                let mut name = Cow::Owned(s.to_string());
                if !self.trusted {
                    self.tail.mask_text(&mut name);
                }
                *self.name = Some(name.into_owned());
            }
            "otel.status_code" => {
                if s.eq_ignore_ascii_case("error") {
                    *self.status = Some(Status::error(""));
                } else if s.eq_ignore_ascii_case("ok") {
                    *self.status = Some(Status::Ok);
                }
            }
            "otel.kind" => {
                *self.kind = Some(match s {
                    "server" => SpanKind::Server,
                    "client" => SpanKind::Client,
                    "producer" => SpanKind::Producer,
                    "consumer" => SpanKind::Consumer,
                    _ => SpanKind::Internal,
                })
            }
            "message" => match &mut self.message {
                Some(m) => m.push_str(s),
                None => return false,
            },
            _ => return false,
        }
        true
    }
}

impl Visit for FieldVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.push(field, Value::F64(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.push(field, Value::I64(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        // OpenTelemetry has no unsigned integer: above `i64::MAX` the exact value as a string
        // (a cast would wrap it to a negative number).
        match i64::try_from(value) {
            Ok(v) => self.push(field, Value::I64(v)),
            Err(_) => self.push(field, Value::from(value.to_string())),
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.push(field, Value::Bool(value));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if !self.special(field, value) {
            self.push(field, Value::from(value.to_string()));
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut s = String::new();
        let _ = write!(s, "{value:?}");
        if !self.special(field, &s) {
            self.push(field, Value::from(s));
        }
    }
}

impl<S> tracing_subscriber::Layer<S> for Bridge
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let parent = span.parent();
        let mut remote_sampled = None;
        let mut baggage = None;
        let mut context: Option<Arc<Vec<KeyValue>>> = None;
        let (trace_id, parent_span_id, parent_remote, trace_state, flags) =
            match parent.as_ref().and_then(|p| {
                p.extensions().get::<OtelSpan>().map(|o| {
                    baggage = o.baggage.clone();
                    context = o.context.clone();
                    (o.trace_id, o.span_id, o.trace_state.clone(), o.flags)
                })
            }) {
                // A local parent: its trace state, baggage and sampled flag are the trace's.
                Some((t, s, state, flags)) => (t, s, false, state, flags),
                None => {
                    // A root in `tracing` terms: continue an OTel context current on this thread.
                    let current = opentelemetry::Context::map_current(|cx| {
                        baggage = baggage_of(cx);
                        cx.has_active_span().then(|| {
                            let sc = cx.span().span_context().clone();
                            let state = super::tracestate_of(cx, &sc);
                            (sc, state)
                        })
                    });
                    match current.filter(|(sc, _)| sc.is_valid()) {
                        Some((sc, state)) => {
                            remote_sampled = sc.is_remote().then(|| sc.is_sampled());
                            (
                                sc.trace_id(),
                                sc.span_id(),
                                sc.is_remote(),
                                state,
                                sampled_flag(&sc),
                            )
                        }
                        None => {
                            // A trace starts here: our root decision is the ratio's.
                            let t = new_trace_id();
                            let flags = if super::sampling::ratio_keeps(self.root_ratio, t) {
                                TraceFlags::SAMPLED
                            } else {
                                TraceFlags::default()
                            };
                            (t, SpanId::INVALID, false, None, flags)
                        }
                    }
                }
            };
        let meta = attrs.metadata();
        let mut attributes = Vec::new();
        let mut name = None;
        let mut kind = None;
        let mut status = None;
        let mut deferred = None;
        if let Some(tail) = &self.tail {
            let trusted = trusted_span(meta);
            // The HTTP layer's request span: its values staged typed (see `crate::staged`), kept
            // as they are until the span is kept (see `super::deferred`).
            let staged = trusted
                && crate::staged::take_span_for_trace(|v| {
                    crate::staged::count_taken(2);
                    name = Some(super::deferred::span_name(v));
                    kind = Some(SpanKind::Server);
                    if flags.is_sampled() {
                        // Kept (most likely): made now, no copy first.
                        let secret = self.staged_secret;
                        super::deferred::make_attributes(tail, secret, v, &mut attributes);
                    } else {
                        deferred = Some(super::deferred::Deferred::new(v, self.staged_secret));
                    }
                })
                .is_some();
            if !staged {
                attributes.reserve(meta.fields().len());
                attrs.record(&mut FieldVisitor {
                    tail,
                    attributes: &mut attributes,
                    status: &mut status,
                    name: &mut name,
                    kind: &mut kind,
                    message: None,
                    trusted,
                });
            }
            if let Some(sampled) = remote_sampled {
                attributes.push(KeyValue::new(super::sampling::PARENT_SAMPLED, sampled));
            }
            if let Some(c) = &context {
                // Checked against every attribute, the deferred ones too.
                if let Some(d) = deferred.take() {
                    d.prepend_to(tail, &mut attributes);
                }
                for kv in c.iter() {
                    if attributes.len() < MAX_ATTRIBUTES
                        && !attributes.iter().any(|a| a.key == kv.key)
                    {
                        attributes.push(kv.clone());
                    }
                }
            }
        }
        let span_id = new_span_id();
        let ids = SpanIds {
            trace_id: trace_id.to_bytes(),
            span_id: span_id.to_bytes(),
            sampled: flags.is_sampled(),
        };
        if self.tag != 0 {
            super::current::made(self.tag, id.into_u64(), &ids);
        }
        NEW_SPAN.set(Some((id.into_u64(), ids)));
        span.extensions_mut().insert(OtelSpan {
            trace_id,
            span_id,
            parent_span_id,
            parent_remote,
            trace_state,
            baggage,
            context,
            flags,
            start: SystemTime::now(),
            name: name.map_or(Cow::Borrowed(meta.name()), Cow::Owned),
            kind: kind.unwrap_or(SpanKind::Internal),
            attributes,
            deferred,
            events: Vec::new(),
            links: Vec::new(),
            status: status.unwrap_or(Status::Unset),
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(tail) = &self.tail else { return };
        let Some(span) = ctx.span(id) else { return };
        // Visited before the span's extensions are locked: a value's `Debug` is the
        // application's code, which may log (an event of this span would wait for the lock) or
        // panic (the panic hook's line would).
        let mut attributes = Vec::new();
        let mut name = None;
        let mut kind = None;
        let mut status = None;
        values.record(&mut FieldVisitor {
            tail,
            attributes: &mut attributes,
            status: &mut status,
            name: &mut name,
            kind: &mut kind,
            message: None,
            // Values recorded after creation are the application's (`Span::current().record`
            // inside a handler): scanned like any other.
            trusted: false,
        });
        let mut ext = span.extensions_mut();
        let Some(o) = ext.get_mut::<OtelSpan>() else {
            return;
        };
        let room = MAX_ATTRIBUTES.saturating_sub(o.attribute_count());
        o.attributes.extend(attributes.into_iter().take(room));
        if let Some(n) = name {
            o.name = Cow::Owned(n);
        }
        if let Some(k) = kind {
            o.kind = k;
        }
        if let Some(st) = status {
            o.status = st;
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let Some(tail) = &self.tail else { return };
        if self.no_span_events.contains(&event.metadata().target()) {
            return;
        }
        let Some(span) = ctx.event_span(event) else {
            return;
        };
        let level = *event.metadata().level();
        let mut message = String::new();
        let mut attributes = vec![KeyValue::new("level", level.as_str())];
        let (mut name, mut kind, mut status) = (None, None, None);
        event.record(&mut FieldVisitor {
            tail,
            attributes: &mut attributes,
            status: &mut status,
            name: &mut name,
            kind: &mut kind,
            message: Some(&mut message),
            trusted: false,
        });
        // The message becomes the event's name and an error status's description: masked like
        // the attribute values.
        let mut message: Cow<'static, str> = Cow::Owned(message);
        tail.mask_text(&mut message);
        let mut ext = span.extensions_mut();
        let Some(o) = ext.get_mut::<OtelSpan>() else {
            return;
        };
        if level == tracing::Level::ERROR {
            o.status = Status::error(message.clone());
        }
        if o.events.len() < 128 {
            o.events.push(OtelEvent::new(
                if message.is_empty() {
                    Cow::Borrowed("event")
                } else {
                    message
                },
                SystemTime::now(),
                attributes,
                0,
            ));
        }
    }

    fn on_enter(&self, id: &Id, _ctx: Context<'_, S>) {
        if self.tag != 0 {
            super::current::entered(self.tag, id.into_u64());
        }
    }

    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        if self.tag != 0 {
            super::current::exited(self.tag, id.into_u64());
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let Some(tail) = &self.tail else { return };
        // Before the registry frees the id for another span.
        super::current::closed(self.tag, id.into_u64());
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut o) = span.extensions_mut().remove::<OtelSpan>() else {
            return;
        };
        let end = SystemTime::now();
        // (What the sampler judges by is never deferred: status, events, the parent-sampled
        // and slow marks.)
        let ended = tail.ended(
            o.trace_id,
            o.parent_span_id,
            o.parent_remote,
            &o.status,
            &o.events,
            &o.attributes,
            end.duration_since(o.start).ok(),
        );
        // Built only if the sampler keeps it or holds it for its trace: the deferred attributes
        // of a span that is dropped are never made.
        tail.on_end_with(ended, || {
            o.materialize(tail);
            let mut events = SpanEvents::default();
            events.events = o.events;
            let mut links = SpanLinks::default();
            links.links = o.links;
            SpanData {
                span_context: SpanContext::new(
                    o.trace_id,
                    o.span_id,
                    TraceFlags::SAMPLED,
                    false,
                    super::sdk_trace_state(o.trace_state.as_ref()),
                ),
                parent_span_id: o.parent_span_id,
                parent_span_is_remote: o.parent_remote,
                span_kind: o.kind,
                name: o.name,
                start_time: o.start,
                end_time: end,
                attributes: o.attributes,
                dropped_attributes_count: 0,
                events,
                links,
                status: o.status,
                instrumentation_scope: self.scope.clone(),
            }
        });
    }
}

/// Makes `span` continue the trace of `cx` (typically [`extract`](super::extract)ed from an
/// incoming request): same trace id, `cx`'s span as remote parent, its sampled flag honoured by
/// the tail sampler, its `tracestate` and baggage passed on by the span and its children. Call it
/// right after creating the span, before its children exist. Without a valid span context in
/// `cx` the span keeps its new trace (and takes `cx`'s baggage, if any).
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse().unwrap());
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (_t, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// # tracing::dispatcher::with_default(&dispatch, || {
/// let span = tracing::info_span!("request");
/// watchpost::traces::set_parent(&span, &watchpost::traces::extract(&headers));
/// assert_eq!(watchpost::traces::trace_id(&span).unwrap(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// # });
/// ```
pub fn set_parent(span: &tracing::Span, cx: &opentelemetry::Context) {
    let _ = try_set_parent(span, cx);
}

/// [`set_parent`], saying why nothing was set (for [`SpanExt::set_parent`](super::SpanExt)).
pub(crate) fn try_set_parent(
    span: &tracing::Span,
    cx: &opentelemetry::Context,
) -> Result<(), super::SetParentError> {
    let sc = cx.span().span_context().clone();
    let baggage = baggage_of(cx);
    if !sc.is_valid() {
        return with_span_data(span, |o, _| {
            if baggage.is_some() {
                o.baggage = baggage;
            }
        });
    }
    let id = span.id().map(|id| id.into_u64());
    with_span_data(span, |o, _| {
        // The ids [`new_span_ids`] hands out change with the trace.
        if let Some((new, mut ids)) = NEW_SPAN.get().filter(|(new, _)| Some(*new) == id) {
            ids.trace_id = sc.trace_id().to_bytes();
            ids.sampled = sc.is_sampled();
            NEW_SPAN.set(Some((new, ids)));
        }
        o.baggage = baggage;
        o.trace_id = sc.trace_id();
        o.parent_span_id = sc.span_id();
        o.parent_remote = sc.is_remote();
        o.trace_state = super::tracestate_of(cx, &sc);
        o.flags = sampled_flag(&sc);
        o.attributes
            .retain(|kv| kv.key.as_str() != super::sampling::PARENT_SAMPLED);
        if sc.is_remote() {
            o.attributes.push(KeyValue::new(
                super::sampling::PARENT_SAMPLED,
                sc.is_sampled(),
            ));
        }
    })
}

/// Marks `span` slow (a measured function over its threshold): the tail sampler keeps its trace
/// like an error trace. The span carries `watchpost.slow = true` when exported.
pub(crate) fn mark_slow(span: &tracing::Span) {
    with_otel_span(span, |o| {
        if !o
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == super::sampling::SLOW)
        {
            o.attributes
                .push(KeyValue::new(super::sampling::SLOW, true));
        }
    });
}

/// The trace id of a span (lowercase hex), if it has one (Watchpost installed as its subscriber).
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (_t, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// # tracing::dispatcher::with_default(&dispatch, || {
/// let span = tracing::info_span!("work");
/// assert_eq!(watchpost::traces::trace_id(&span).unwrap().len(), 32);
/// # });
/// ```
pub fn trace_id(span: &tracing::Span) -> Option<String> {
    let mut out = None;
    with_otel_span(span, |o| out = Some(o.trace_id.to_string()));
    out
}

/// An OpenTelemetry context whose active span is `span`, with the trace's `tracestate` and
/// baggage (what the caller sent, for every span of the request): for injecting into outgoing
/// requests, for reading the baggage, or for code using the OTel API.
///
/// ```
/// use opentelemetry::baggage::BaggageExt;
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (_t, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// # tracing::dispatcher::with_default(&dispatch, || {
/// let mut incoming = http::HeaderMap::new();
/// incoming.insert("baggage", "user_id=u1".parse().unwrap());
/// let request = tracing::info_span!("request");
/// watchpost::traces::set_parent(&request, &watchpost::traces::extract(&incoming));
/// let call = request.in_scope(|| tracing::info_span!("call"));
/// let cx = watchpost::traces::context(&call);
/// assert_eq!(cx.baggage().get("user_id").unwrap().as_str(), "u1");
/// let mut headers = http::HeaderMap::new();
/// watchpost::traces::inject(&cx, &mut headers);
/// assert!(headers.contains_key("traceparent"));
/// assert_eq!(headers["baggage"], "user_id=u1");
/// # });
/// ```
pub fn context(span: &tracing::Span) -> opentelemetry::Context {
    let mut cx = None;
    with_otel_span(span, |o| {
        let sc = SpanContext::new(
            o.trace_id,
            o.span_id,
            o.flags,
            false,
            super::sdk_trace_state(o.trace_state.as_ref()),
        );
        // Built on the context the baggage came in: it is shared, not copied.
        let base = o.baggage.clone().unwrap_or_default();
        let mut c = base.with_remote_span_context(sc);
        if let Some(ts) = &o.trace_state {
            c = c.with_value(super::propagation::TraceStateHeader(ts.clone()));
        }
        cx = Some(c);
    });
    cx.unwrap_or_default()
}

/// `cx` itself if it carries baggage (a cheap clone), to be passed on.
fn baggage_of(cx: &opentelemetry::Context) -> Option<opentelemetry::Context> {
    (!cx.baggage().is_empty()).then(|| cx.clone())
}

/// The trace id, span id and sampled flag (the one passed on: the caller's or the ratio's
/// decision) of `span`, if it has OpenTelemetry ids (for exemplars).
pub(crate) fn span_ids(span: &tracing::Span) -> Option<SpanIds> {
    let mut out = None;
    span.with_subscriber(|(id, dispatch)| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let s = registry.span(id)?;
        let ext = s.extensions();
        let o = ext.get::<OtelSpan>()?;
        out = Some(SpanIds {
            trace_id: o.trace_id.to_bytes(),
            span_id: o.span_id.to_bytes(),
            sampled: o.flags.is_sampled(),
        });
        Some(())
    });
    out
}

/// [`span_ids`] of a span this thread has just created (and perhaps given a parent with
/// [`set_parent`]), without the span lookup when the bridge's note of its newest span is still
/// this span's; a lookup otherwise. The note is taken: a second call looks the span up.
pub(crate) fn new_span_ids(span: &tracing::Span) -> Option<SpanIds> {
    let id = span.id()?.into_u64();
    match NEW_SPAN.take() {
        Some((new, ids)) if new == id => Some(ids),
        _ => span_ids(span),
    }
}

/// [`span_ids`] of the current span of the pipeline whose bridge has `tag`, found without a
/// `Span` handle (which takes and drops a reference to the span): for measurements that look for
/// their exemplar on every call. Read from the bridge's per-thread note of the spans entered
/// ([`super::current`]) when it knows them, looked up otherwise.
#[inline]
pub(crate) fn current_span_ids(tag: u32) -> Option<SpanIds> {
    match super::current::current(tag) {
        super::current::Current::None => None,
        super::current::Current::Ids(ids) => Some(ids),
        super::current::Current::Unknown => look_up_current_span_ids(),
    }
}

/// [`current_span_ids`] through the dispatcher and the registry.
#[cold]
fn look_up_current_span_ids() -> Option<SpanIds> {
    tracing::dispatcher::get_default(|dispatch| {
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let current = registry.current_span();
        let s = registry.span(current.id()?)?;
        let ext = s.extensions();
        let o = ext.get::<OtelSpan>()?;
        Some(SpanIds {
            trace_id: o.trace_id.to_bytes(),
            span_id: o.span_id.to_bytes(),
            sampled: o.flags.is_sampled(),
        })
    })
}

/// Whether `span` is a server span: the HTTP layer's request span, or any span with
/// `otel.kind = "server"` (known only when spans are exported).
pub(crate) fn is_server_span(
    span: &tracing_subscriber::registry::SpanRef<'_, tracing_subscriber::Registry>,
) -> bool {
    span.metadata().target() == crate::catalogue::targets::HTTP
        || span
            .extensions()
            .get::<OtelSpan>()
            .is_some_and(|o| o.kind == SpanKind::Server)
}

/// Adds request context attribute `name` = `value` to `span` (a local root, see
/// [`crate::context`]) and to every span created inside it from now on: redacted and masked like
/// any attribute, a second value replacing the first. `false` when spans are not exported (there
/// is nothing to add them to) or the span has no trace data.
pub(crate) fn record_context(
    dispatch: &tracing::Dispatch,
    span: &tracing_subscriber::registry::SpanRef<'_, tracing_subscriber::Registry>,
    name: &'static str,
    value: &str,
) -> bool {
    let Some(tail) = dispatch
        .downcast_ref::<Bridge>()
        .and_then(|b| b.tail.as_ref())
    else {
        return false;
    };
    let kv = KeyValue::new(name, tail.clean_value(name, Value::from(value.to_string())));
    let mut ext = span.extensions_mut();
    let Some(o) = ext.get_mut::<OtelSpan>() else {
        return false;
    };
    let mut context: Vec<KeyValue> = o.context.as_deref().cloned().unwrap_or_default();
    context.retain(|c| c.key.as_str() != name);
    context.push(kv.clone());
    o.context = Some(Arc::new(context));
    o.materialize(tail);
    o.attributes.retain(|a| a.key.as_str() != name);
    if o.attributes.len() < MAX_ATTRIBUTES {
        o.attributes.push(kv);
    }
    true
}

/// What [`span_ids`] reads of a span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanIds {
    pub(crate) trace_id: [u8; 16],
    pub(crate) span_id: [u8; 8],
    /// The sampled flag passed on (the caller's or the ratio's decision).
    pub(crate) sampled: bool,
}

/// The sampled flag of a span context (the other flag bits are not passed on).
fn sampled_flag(sc: &SpanContext) -> TraceFlags {
    if sc.is_sampled() {
        TraceFlags::SAMPLED
    } else {
        TraceFlags::default()
    }
}

fn with_otel_span(span: &tracing::Span, f: impl FnOnce(&mut OtelSpan)) {
    let _ = with_span_data(span, |o, _| f(o));
}

/// Runs `f` on `span`'s OpenTelemetry data, with the pipeline's tail sampler (`None` when spans
/// are not exported: attributes, events and links are then not kept). The span's subscriber must
/// be built on a `tracing_subscriber::Registry` (any layers around it) with our bridge in it.
///
/// # Errors
/// [`SpanDisabled`](super::SetParentError::SpanDisabled) for a disabled span (filtered out, or no
/// subscriber); [`LayerNotFound`](super::SetParentError::LayerNotFound) when its subscriber has no
/// Watchpost bridge (or is not built on a `Registry`), or the span has no data (closed).
pub(crate) fn with_span_data<R>(
    span: &tracing::Span,
    f: impl FnOnce(&mut OtelSpan, Option<&TailSampler>) -> R,
) -> Result<R, super::SetParentError> {
    use super::SetParentError;
    let mut f = Some(f);
    span.with_subscriber(|(id, dispatch)| {
        let (Some(registry), Some(bridge)) = (
            dispatch.downcast_ref::<tracing_subscriber::Registry>(),
            dispatch.downcast_ref::<Bridge>(),
        ) else {
            return Err(SetParentError::LayerNotFound);
        };
        let s = registry.span(id).ok_or(SetParentError::LayerNotFound)?;
        let mut ext = s.extensions_mut();
        let o = ext
            .get_mut::<OtelSpan>()
            .ok_or(SetParentError::LayerNotFound)?;
        let f = f.take().ok_or(SetParentError::LayerNotFound)?;
        let before = (o.trace_id, o.span_id, o.flags);
        let out = f(o, bridge.tail.as_deref());
        if bridge.tag != 0 && before != (o.trace_id, o.span_id, o.flags) {
            // The trace changed (`set_parent`): measurements in this span read the new one.
            let ids = SpanIds {
                trace_id: o.trace_id.to_bytes(),
                span_id: o.span_id.to_bytes(),
                sampled: o.flags.is_sampled(),
            };
            super::current::made(bridge.tag, id.into_u64(), &ids);
        }
        Ok(out)
    })
    .unwrap_or(Err(SetParentError::SpanDisabled))
}
