//! OTLP endpoints: [`Endpoint`] as configured, [`check_endpoint`], which every endpoint passes
//! when the configuration is built (from the environment or from code), and [`shown_endpoint`],
//! the form errors and `Debug` show (credentials and a query hidden).

use std::fmt;

use crate::error::Error;

/// An endpoint as configured, the input it came from (a variable or a setter, named by errors),
/// and whether it came from Watchpost's own setting (`OTEL_ENDPOINT`,
/// [`ConfigBuilder::otel_endpoint`](super::ConfigBuilder::otel_endpoint)): then it is gRPC and
/// plaintext unless told otherwise. `Debug` hides credentials in it.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Endpoint {
    pub(crate) value: String,
    pub(crate) ours: bool,
    pub(crate) source: String,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("value", &shown_endpoint(&self.value))
            .field("ours", &self.ours)
            .field("source", &self.source)
            .finish()
    }
}

/// An endpoint as errors and `Debug` show it: credentials (`user:password@`) replaced by
/// `[REDACTED]@`, a query by `?[REDACTED]` (both can carry secrets).
///
/// The part after the scheme up to the first `/`, `?` or `#` is the authority; its last `@` ends
/// the credentials.
pub(crate) fn shown_endpoint(value: &str) -> String {
    let v = value.trim();
    let start = if has_scheme(v) {
        v.find("://").map_or(0, |i| i + 3)
    } else {
        0
    };
    let end = v[start..]
        .find(['/', '?', '#'])
        .map_or(v.len(), |i| start + i);
    let mut shown = match v[start..end].rfind('@') {
        Some(at) => format!("{}[REDACTED]@{}", &v[..start], &v[start + at + 1..]),
        None => v.to_string(),
    };
    let authority_end = shown[start..]
        .find(['/', '?', '#'])
        .map_or(shown.len(), |i| start + i);
    if let Some(q) = shown[authority_end..].find('?') {
        shown.truncate(authority_end + q);
        shown.push_str("?[REDACTED]");
    }
    shown
}

/// What an endpoint is used for: the base of every signal (OTLP/HTTP appends `/v1/<signal>` to
/// its path), or one signal's own URL, used as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EndpointUse {
    Base,
    Signal,
}

/// Checks an OTLP endpoint given by `input`: an `http://` or `https://` URL (port and path
/// optional), or `host:port`; `port_required` for Watchpost's own `OTEL_ENDPOINT`. Refused:
/// credentials in it (they belong in the headers), a fragment (it would be dropped), and on a
/// base endpoint a query (the signal's path is appended after it). Parsed as [`http::Uri`], as
/// the exporters parse it, so an endpoint that passes here is one they take. An error shows the
/// value without credentials or query. Returns the value, trimmed.
pub(crate) fn check_endpoint(
    input: &str,
    value: &str,
    usage: EndpointUse,
    port_required: bool,
) -> Result<String, Error> {
    let v = value.trim();
    let shown = shown_endpoint(v);
    let allowed = if port_required {
        "host:port or an http:// or https:// URL with a port, e.g. 127.0.0.1:4317"
    } else {
        "an http:// or https:// URL such as https://collector.example:4318, or host:port"
    };
    let refuse = |allowed: &str| Err(Error::invalid(input, shown.clone(), allowed));
    let scheme = has_scheme(v).then(|| &v[..v.find("://").unwrap_or(0)]);
    if scheme.is_some_and(|s| !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https")) {
        return refuse(allowed);
    }
    let rest = scheme.map_or(v, |s| &v[s.len() + 3..]);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return refuse("a URL without credentials (user:password@): send them as a header, in `OTEL_EXPORTER_OTLP_HEADERS` (e.g. authorization=Basic%20…) or `ConfigBuilder::otel_header`");
    }
    if rest.contains('#') {
        return refuse("a URL without a fragment (#…)");
    }
    if usage == EndpointUse::Base && rest.contains('?') {
        return refuse("a base endpoint without a query (?…): /v1/traces, /v1/metrics and /v1/logs are appended to its path; give a signal a URL with a query in `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`");
    }
    let full = match scheme {
        Some(_) => v.to_string(),
        None => format!("http://{v}"),
    };
    let Ok(uri) = full.parse::<http::Uri>() else {
        return refuse(allowed);
    };
    let host_ok = uri.host().is_some_and(|h| !h.is_empty());
    let port_ok = uri.port().is_some() || (scheme.is_some() && !port_required);
    if !host_ok || !port_ok || authority.is_empty() {
        return refuse(allowed);
    }
    Ok(v.to_string())
}

/// Whether `endpoint` starts with a URL scheme (`http://`, `https://`, …).
pub(crate) fn has_scheme(endpoint: &str) -> bool {
    endpoint
        .split_once("://")
        .is_some_and(|(scheme, _)| !scheme.is_empty() && !scheme.contains(['/', '?', '#', ':']))
}

/// Whether `url` starts with `https://` (any case).
pub(crate) fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}
