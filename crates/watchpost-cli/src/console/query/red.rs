//! The RED view: per service and route, the rate of requests, the share that failed, and their
//! duration percentiles over a window.
//!
//! It is computed from the stored **spans**, not from metric points: the requests are the
//! server and consumer spans (kind SERVER or CONSUMER) that ended in the window, grouped by
//! their service and `http.route` (else their name). A request failed when its span's status is
//! ERROR or, for HTTP, its `http.response.status_code` is 5xx. The rate is the requests divided
//! by the window (as Prometheus' `rate` over the same range, without extrapolation); the
//! percentiles are nearest-rank over the exact durations. When a sender samples its traces, the
//! view counts the sampled requests only: its metrics (e.g.
//! `http_server_request_duration_seconds`, charted on the Metrics page) count them all.
//!
//! ```
//! use watchpost_cli::console::{query::red, store::Store};
//! let store = Store::new(1 << 20);
//! assert!(red::red(&store, 300_000_000_000, 1_000, None).is_empty());
//! ```

use std::collections::BTreeMap;

use serde::Serialize;

use crate::console::store::{attr, hex, Span, Store, Value};

/// The window when none is asked for: 5 minutes.
pub const DEFAULT_WINDOW_NS: u64 = 300_000_000_000;

/// One route of one service.
#[derive(Debug, Clone, Serialize)]
pub struct RedRow {
    /// The service.
    pub service: String,
    /// `http.route`, else the span name.
    pub route: String,
    /// Requests that ended in the window.
    pub requests: u64,
    /// Requests per second over the window.
    pub rate_per_s: f64,
    /// Of which failed.
    pub errors: u64,
    /// `errors / requests`.
    pub error_ratio: f64,
    /// Median duration (nearest rank).
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// The trace of the slowest, hex.
    pub slowest_trace_id: String,
}

/// Whether a request span failed: status ERROR, or an HTTP status of 500 or more.
pub fn failed(s: &Span) -> bool {
    s.is_error()
        || match attr(&s.attributes, "http.response.status_code") {
            Some(Value::Int(c)) => *c >= 500,
            Some(Value::Str(c)) => c.parse::<i64>().is_ok_and(|c| c >= 500),
            _ => false,
        }
}

/// The RED rows of the requests that ended in `(now_ns - window_ns, now_ns]` (of `service`
/// only, if given), by service then route.
pub fn red(store: &Store, window_ns: u64, now_ns: u64, service: Option<&str>) -> Vec<RedRow> {
    let from = now_ns.saturating_sub(window_ns);
    let mut groups: BTreeMap<(&str, String), Vec<&Span>> = BTreeMap::new();
    for s in store.spans.iter() {
        if !matches!(s.kind, 2 | 5) || s.end <= from || s.end > now_ns {
            continue;
        }
        if service.is_some_and(|svc| svc != &*s.resource.service) {
            continue;
        }
        let route =
            attr(&s.attributes, "http.route").map_or_else(|| s.name.to_string(), Value::text);
        groups
            .entry((&s.resource.service, route))
            .or_default()
            .push(s);
    }
    let secs = (window_ns as f64 / 1e9).max(1e-9);
    groups
        .into_iter()
        .map(|((service, route), mut spans)| {
            spans.sort_by_key(|s| s.duration());
            let rank = |q: f64| {
                let i = ((q * spans.len() as f64).ceil() as usize).clamp(1, spans.len()) - 1;
                spans[i].duration()
            };
            let errors = spans.iter().filter(|s| failed(s)).count() as u64;
            let n = spans.len() as u64;
            RedRow {
                service: service.to_owned(),
                route,
                requests: n,
                rate_per_s: n as f64 / secs,
                errors,
                error_ratio: errors as f64 / n as f64,
                p50_ns: rank(0.5),
                p90_ns: rank(0.9),
                p99_ns: rank(0.99),
                slowest_trace_id: hex(&spans[spans.len() - 1].trace_id),
            }
        })
        .collect()
}
