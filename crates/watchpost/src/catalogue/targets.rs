//! The `tracing` targets of the library's own events: filter or route them by these names (a
//! subsystem's `.target("watchpost::http")` covers every target below it).

/// The HTTP server layer's events (panics), and the prefix of the other HTTP targets.
pub const HTTP: &str = "watchpost::http";
/// The access line: one per request. Not recorded as a span event (the server span carries its
/// data as attributes, and its duration).
pub const HTTP_ACCESS: &str = "watchpost::http::access";
/// The module of the HTTP server layer's own callsites (its request span and access line): with
/// the target and name, what tells them from a span or event an application makes with the same
/// (public) target.
pub(crate) const HTTP_SERVER_MODULE: &str = "watchpost::http::server";

/// The fields of the HTTP server layer's access line ([`HTTP_ACCESS`]) and request span
/// ([`HTTP`]) whose values the layer makes itself and that cannot hold personal data: the
/// method (a standard method, or an extension method the layer checked), the route template,
/// the client's `ip:port`, and the request id (32 hex digits, or the caller's, masked by the
/// layer when it could hold a card number). The log layer writes them without scanning for
/// e-mail addresses and card numbers — when the layer's own callsite
/// ([`is_http_server_callsite`]) creates them, never when recorded later.
pub(crate) const HTTP_TRUSTED_FIELDS: &[&str] = &["method", "path", "remote_addr", "request_id"];

/// Whether `meta` is the HTTP server layer's own request span or access line (not merely the same
/// target and name: the module is checked too).
pub(crate) fn is_http_server_callsite(meta: &tracing::Metadata<'_>) -> bool {
    meta.module_path() == Some(HTTP_SERVER_MODULE)
        && (meta.target() == HTTP_ACCESS
            || (meta.target() == HTTP && meta.is_span() && meta.name() == "request"))
}

/// Client spans of the HTTP client layers.
pub const HTTP_CLIENT: &str = "watchpost::http::client";
/// The export pipeline's reports (failing exports).
pub const EXPORT: &str = "watchpost::export";
/// The metrics pipeline's reports (series budgets).
pub const METRICS: &str = "watchpost::metrics";
/// The log pipeline's reports (per-resource files).
pub const LOGS: &str = "watchpost::logs";
/// The panic hook's lines (`Telemetry::install_panic_hook`): one ERROR line per panic.
pub const PANIC: &str = "watchpost::panic";
/// The pipeline's own configuration reports.
pub const PIPELINE: &str = "watchpost";
