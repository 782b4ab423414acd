//! Request context: fields that follow a request onto every log line and span, without being
//! passed to every log call.
//!
//! [`set`] attaches `name = value` to the *request* the current span belongs to — the nearest
//! server span (the one the HTTP layer opened), else the outermost span the code runs in. From
//! then on every log line inside the request (the access line included) carries the field, and so
//! does every span created inside it, as an attribute; the request span and the spans the call is
//! made in get the attribute too (spans that already ended do not). Other requests never see it:
//! the field lives in the request's own span data, never in a span around several requests. The HTTP layer copies
//! the W3C baggage keys listed in [`ConfigBuilder::baggage_fields`](crate::ConfigBuilder::baggage_fields)
//! (`OTEL_BAGGAGE_FIELDS`) the same way, and every request's `request_id` is a field of its span,
//! so it is on every line of the request.
//!
//! Redaction applies as to any field: a secret name's value is `[REDACTED]`, e-mail addresses and
//! card numbers are masked, long values are cut.
//!
//! ```
//! # let config = watchpost::Config::builder("demo").build().unwrap();
//! # let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
//! # let out = lines.clone();
//! # let (_t, dispatch) = watchpost::Telemetry::builder(config)
//! #     .writer(move || Writer(out.clone()))
//! #     .into_dispatch();
//! # struct Writer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
//! # impl std::io::Write for Writer {
//! #     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().extend_from_slice(b); Ok(b.len()) }
//! #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! # }
//! tracing::dispatcher::with_default(&dispatch, || {
//!     let request = tracing::info_span!("request");
//!     let _in = request.enter();
//!     assert!(watchpost::context::set("user_id", "u-42"));
//!     let step = tracing::info_span!("step");
//!     step.in_scope(|| tracing::info!("deep inside"));
//! });
//! let text = String::from_utf8(lines.lock().unwrap().clone()).unwrap();
//! assert!(text.contains(r#""user_id":"u-42""#), "{text}");
//! ```

use tracing_subscriber::registry::LookupSpan as _;

/// Distinct context field names a process may use (names are kept for its whole life).
pub const MAX_NAMES: usize = 64;

/// Attaches `name = value` to the current request (the nearest server span, else the outermost
/// span): every later log line inside it and every span created inside it carry the field. A
/// second call with the same name replaces the value.
///
/// Returns `false` and records nothing when there is no current span, Watchpost is not the
/// subscriber, `name` is not a valid name ([`valid_context_name`](crate::config::valid_context_name)),
/// more than [`MAX_NAMES`] distinct names were used, or `name` is a resource id field of the
/// per-resource logs (it would route the request's lines to that resource's file).
///
/// ```
/// // Outside any span there is no request to attach to.
/// assert!(!watchpost::context::set("user_id", "u-1"));
/// ```
pub fn set(name: &str, value: &str) -> bool {
    set_on(&tracing::Span::current(), name, value)
}

/// [`set`] for the request `span` belongs to, from outside it.
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (_t, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// tracing::dispatcher::with_default(&dispatch, || {
///     let request = tracing::info_span!("request");
///     assert!(watchpost::context::set_on(&request, "tenant_id", "acme"));
///     assert!(!watchpost::context::set_on(&request, "tenant id", "acme"), "not a field name");
/// });
/// ```
pub fn set_on(span: &tracing::Span, name: &str, value: &str) -> bool {
    if !crate::config::valid_context_name(name) {
        return false;
    }
    span.with_subscriber(|(id, dispatch)| {
        if crate::logs::is_resource_id_field(dispatch, name) {
            return None;
        }
        let registry = dispatch.downcast_ref::<tracing_subscriber::Registry>()?;
        let here = registry.span(id)?;
        // The request: the nearest server span (the HTTP layer's), else the outermost span. A
        // span around many requests (a connection's) is never the request.
        let chain: Vec<_> = here.scope().collect();
        let root_at = chain
            .iter()
            .position(|s| crate::traces::is_server_span(s))
            .unwrap_or(chain.len() - 1);
        let name = intern(name)?;
        let logged = crate::logs::record_context(dispatch, &chain[root_at], name, value);
        // Trace attributes: the request span and the spans the call is made in (open now), so
        // that spans they create later inherit it too.
        let mut traced = false;
        for s in &chain[..=root_at] {
            traced |= crate::traces::record_context(dispatch, s, name, value);
        }
        Some(logged || traced)
    })
    .flatten()
    .unwrap_or(false)
}

/// `name` as a `&'static str` (span field names must be), at most [`MAX_NAMES`] of them.
fn intern(name: &str) -> Option<&'static str> {
    static NAMES: crate::util::Interner = crate::util::Interner::new(MAX_NAMES);
    NAMES.intern(name)
}
