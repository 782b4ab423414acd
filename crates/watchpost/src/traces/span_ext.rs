//! [`SpanExt`]: `tracing-opentelemetry`'s `OpenTelemetrySpanExt`, on our bridge. Code written for
//! `tracing-opentelemetry` 0.34 moves over by changing its import:
//!
//! ```text
//! - use tracing_opentelemetry::OpenTelemetrySpanExt;
//! + use watchpost::traces::OpenTelemetrySpanExt;
//! ```
//!
//! Every method has the same signature as there; what differs is on [`SpanExt`].

use std::borrow::Cow;
use std::time::SystemTime;

use opentelemetry::trace::{SpanContext, Status};
use opentelemetry::{Context, Key, KeyValue, Value};

use super::bridge::OtelSpan;
use super::TailSampler;

/// Why [`SpanExt::set_parent`] could not set a parent (the variants of `tracing-opentelemetry`'s
/// `SetParentError`, exhaustive as there, so that code matching on them compiles unchanged).
///
/// ```
/// use watchpost::traces::{OpenTelemetrySpanExt as _, SetParentError};
/// // No subscriber: the span is disabled.
/// let span = tracing::info_span!("orphan");
/// let err = span.set_parent(opentelemetry::Context::new()).unwrap_err();
/// assert!(matches!(err, SetParentError::SpanDisabled));
/// assert_eq!(err.to_string(), "the span is disabled (filtered out, or there is no subscriber)");
/// // An exhaustive match, as written for tracing-opentelemetry, compiles as it is.
/// let why = match err {
///     SetParentError::LayerNotFound => "no pipeline",
///     SetParentError::AlreadyStarted => "too late",
///     SetParentError::SpanDisabled => "disabled",
/// };
/// assert_eq!(why, "disabled");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetParentError {
    /// The span's subscriber has no Watchpost pipeline in it, is not built on
    /// `tracing_subscriber::Registry`, or the span was closed.
    LayerNotFound,
    /// Never returned by Watchpost (kept for code that matches on `tracing-opentelemetry`'s
    /// variants): a parent can be set until the span's first child exists.
    AlreadyStarted,
    /// The span is disabled (filtered out by its level, or no subscriber is installed).
    SpanDisabled,
}

impl std::fmt::Display for SetParentError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SetParentError::LayerNotFound => {
                "the span's subscriber has no Watchpost pipeline (built on tracing_subscriber::Registry)"
            }
            SetParentError::AlreadyStarted => "the span has already been started",
            SetParentError::SpanDisabled => {
                "the span is disabled (filtered out, or there is no subscriber)"
            }
        })
    }
}

impl std::error::Error for SetParentError {}

mod sealed {
    pub trait Sealed {}
    impl Sealed for tracing::Span {}
}

/// OpenTelemetry operations on a `tracing` span, as `tracing-opentelemetry`'s
/// `OpenTelemetrySpanExt` has them (same names and signatures), on Watchpost's bridge.
/// [`OpenTelemetrySpanExt`](super::OpenTelemetrySpanExt) is another name for it.
///
/// Every method has the same signature as there. What differs:
///
/// * **Entering a span does not make its OpenTelemetry context current.** `tracing-opentelemetry`
///   attaches the span's context on every enter (its `with_context_activation`, on by default);
///   Watchpost does not (that is a context built and swapped on the hot path of every enter).
///   Inside an entered `tracing` span, `opentelemetry::Context::current()` is not that span's:
///   a span started with the OpenTelemetry API (`tracer.start(…)`) begins a new trace, and the
///   global propagator injects nothing. Code that reads the current context attaches the
///   span's itself — `let _guard = span.context().attach();` — or is given it:
///   `tracer.start_with_context(name, &span.context())`,
///   [`inject`](super::inject)`(&span.context(), &mut headers)`. (`tracing` spans created
///   inside a `tracing` span need nothing: the bridge follows `tracing`'s own parent.)
/// * [`SpanExt::set_parent`] never fails with `AlreadyStarted` (our spans have their ids from
///   creation, and a new parent applies until the span's first child exists: lines written
///   inside the span before the call keep its old trace id).
/// * Attributes, event and link attributes, event names and status messages are redacted and
///   masked like every attribute of the bridge.
/// * Without OTLP export only `set_parent` and `context` do anything (nothing else would be
///   exported).
///
/// ```
/// use opentelemetry::trace::{Span as _, TraceContextExt as _, Tracer as _};
/// use watchpost::traces::OpenTelemetrySpanExt as _;
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (telemetry, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// # tracing::dispatcher::with_default(&dispatch, || {
/// let span = tracing::info_span!("request");
/// let _entered = span.enter();
/// // Entering is not enough for code that uses the OpenTelemetry API…
/// assert!(!opentelemetry::Context::current().has_active_span());
/// // …attach the span's context where such code runs.
/// let _guard = span.context().attach();
/// let child = telemetry.tracer().start("from the OpenTelemetry API");
/// assert_eq!(
///     child.span_context().trace_id().to_string(),
///     watchpost::traces::trace_id(&span).unwrap()
/// );
/// # });
/// ```
///
/// ```
/// use opentelemetry::propagation::TextMapPropagator as _;
/// use opentelemetry::trace::TraceContextExt as _;
/// use watchpost::traces::OpenTelemetrySpanExt as _;
///
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (_t, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// # tracing::dispatcher::with_default(&dispatch, || {
/// let mut headers = std::collections::HashMap::new();
/// headers.insert("traceparent".to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".to_string());
/// let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&headers);
/// let span = tracing::info_span!("request");
/// span.set_parent(parent).unwrap();
/// span.set_attribute("tenant", "acme");
/// span.add_event("cache miss", vec![opentelemetry::KeyValue::new("key", "k1")]);
/// let cx = span.context();
/// assert_eq!(cx.span().span_context().trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// # });
/// ```
pub trait SpanExt: sealed::Sealed {
    /// Makes the span continue the trace of `cx` (typically extracted from an incoming request):
    /// same trace id, `cx`'s span as remote parent, its sampled flag, `tracestate` and baggage
    /// passed on. Call it before the span's first child is created (see
    /// [`set_parent`](super::set_parent), which this calls).
    ///
    /// # Errors
    /// [`SetParentError::SpanDisabled`] for a disabled span, [`SetParentError::LayerNotFound`]
    /// when its subscriber has no Watchpost pipeline. A `cx` without a valid span context
    /// changes nothing but the baggage, and is not an error.
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError>;

    /// Links the span to another span (e.g. the message a consumer handles). Ignored for an
    /// invalid span context; at most 128 links per span.
    fn add_link(&self, cx: SpanContext);

    /// [`add_link`](Self::add_link) with attributes on the link.
    fn add_link_with_attributes(&self, cx: SpanContext, attributes: Vec<KeyValue>);

    /// An OpenTelemetry context whose active span is this span (see
    /// [`context`](super::context), which this calls); an empty context for a span outside a
    /// Watchpost pipeline. Entering the span does not make this context current (unlike
    /// `tracing-opentelemetry`, see [`SpanExt`]): attach it —
    /// `let _guard = span.context().attach();` — where code using the OpenTelemetry API
    /// (`Context::current()`, `tracer.start`, the global propagator) must see the span.
    fn context(&self) -> Context;

    /// Sets an attribute (replacing an earlier value of the same key).
    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>);

    /// Sets the span's status: `Ok` is final, `Error` marks the span failed (and its trace is
    /// kept by the tail sampler), `Unset` changes nothing.
    fn set_status(&self, status: Status);

    /// Adds a span event, timestamped now (at most 128 per span).
    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>);

    /// Adds a span event with its own timestamp.
    fn add_event_with_timestamp(
        &self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    );
}

impl SpanExt for tracing::Span {
    fn set_parent(&self, cx: Context) -> Result<(), SetParentError> {
        super::bridge::try_set_parent(self, &cx)
    }

    fn add_link(&self, cx: SpanContext) {
        self.add_link_with_attributes(cx, Vec::new());
    }

    fn add_link_with_attributes(&self, cx: SpanContext, attributes: Vec<KeyValue>) {
        if !cx.is_valid() {
            return;
        }
        let _ = super::bridge::with_span_data(self, |o, tail| {
            if let Some(tail) = tail {
                o.add_link(tail, cx, attributes);
            }
        });
    }

    fn context(&self) -> Context {
        super::bridge::context(self)
    }

    fn set_attribute(&self, key: impl Into<Key>, value: impl Into<Value>) {
        let _ = super::bridge::with_span_data(self, |o, tail| {
            if let Some(tail) = tail {
                o.set_attribute(tail, key.into(), value.into());
            }
        });
    }

    fn set_status(&self, status: Status) {
        let _ = super::bridge::with_span_data(self, |o, tail| o.set_status(tail, status));
    }

    fn add_event(&self, name: impl Into<Cow<'static, str>>, attributes: Vec<KeyValue>) {
        self.add_event_with_timestamp(name, SystemTime::now(), attributes);
    }

    fn add_event_with_timestamp(
        &self,
        name: impl Into<Cow<'static, str>>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        let _ = super::bridge::with_span_data(self, |o, tail| {
            if let Some(tail) = tail {
                o.add_event(tail, name.into(), timestamp, attributes);
            }
        });
    }
}

// What the methods do to the bridge's span data.
impl OtelSpan {
    /// Adds (or replaces) an attribute, cleaned like the bridge's own (redaction, masking,
    /// truncation), within the span's attribute limit.
    pub(crate) fn set_attribute(
        &mut self,
        tail: &TailSampler,
        key: opentelemetry::Key,
        value: Value,
    ) {
        let value = tail.clean_named(key.as_str(), value);
        self.materialize(tail);
        if let Some(kv) = self.attributes.iter_mut().find(|kv| kv.key == key) {
            kv.value = value;
        } else if self.attributes.len() < super::bridge::MAX_ATTRIBUTES {
            self.attributes.push(KeyValue::new(key, value));
        }
    }

    /// Sets the status as the OpenTelemetry API does (`Ok` is final, `Unset` changes nothing), an
    /// error's description masked like an event's message.
    pub(crate) fn set_status(&mut self, tail: Option<&TailSampler>, status: Status) {
        match status {
            Status::Unset => {}
            Status::Ok => self.status = Status::Ok,
            Status::Error { description } if self.status != Status::Ok => {
                let mut description = description;
                if let Some(tail) = tail {
                    tail.mask_text(&mut description);
                }
                self.status = Status::Error { description };
            }
            Status::Error { .. } => {}
        }
    }

    /// Adds a span event (name masked, attributes cleaned), at most 128 per span.
    pub(crate) fn add_event(
        &mut self,
        tail: &TailSampler,
        name: Cow<'static, str>,
        timestamp: SystemTime,
        attributes: Vec<KeyValue>,
    ) {
        if self.events.len() >= 128 {
            return;
        }
        let mut name = name;
        tail.mask_text(&mut name);
        let attributes = clean_attributes(tail, attributes);
        self.events.push(opentelemetry::trace::Event::new(
            name, timestamp, attributes, 0,
        ));
    }

    /// Adds a link to `cx` (attributes cleaned), at most 128 per span.
    pub(crate) fn add_link(
        &mut self,
        tail: &TailSampler,
        cx: SpanContext,
        attributes: Vec<KeyValue>,
    ) {
        if self.links.len() >= 128 {
            return;
        }
        let attributes = clean_attributes(tail, attributes);
        self.links
            .push(opentelemetry::trace::Link::new(cx, attributes, 0));
    }
}

/// At most [`super::bridge::MAX_ATTRIBUTES`] attributes, each cleaned like the bridge's own.
fn clean_attributes(tail: &TailSampler, attributes: Vec<KeyValue>) -> Vec<KeyValue> {
    attributes
        .into_iter()
        .take(super::bridge::MAX_ATTRIBUTES)
        .map(|kv| {
            let value = tail.clean_named(kv.key.as_str(), kv.value);
            KeyValue::new(kv.key, value)
        })
        .collect()
}
