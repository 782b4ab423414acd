//! The request duration histogram's series, bound once per (method, route, status).
//!
//! Recording with attributes makes the SDK sort, hash (SipHash) and look up the attribute set of
//! every request, and the exemplar store hash it again: ~1 500 instructions per request on
//! procman's path (callgrind). A bound series is resolved on a series' first request and kept;
//! later requests find it by the route's address (axum hands every request of a route the same
//! shared route text), a short read lock and a word comparison.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, RwLock};

use opentelemetry::metrics::BoundHistogram;
use opentelemetry::KeyValue;

use crate::metrics::ExemplarHistogram;

/// Series kept bound; requests of further series record through the unbound path (the label
/// budget of the histogram bounds them anyway).
pub(super) const MAX_BOUND: usize = 1024;

/// (route text address, route length, status, method index).
type Key = (usize, usize, u16, u8);

/// One bound series.
struct Bound {
    /// The route, to tell a reused address from the same route.
    route: Box<str>,
    histogram: BoundHistogram<f64>,
    exemplars: Option<crate::metrics::ExemplarSeries>,
}

/// A hasher for [`Key`]: the fields are words already (a multiply-rotate mix of each).
#[derive(Default)]
struct Mix(u64);
impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0 ^ v)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }
    fn write_usize(&mut self, v: usize) {
        self.write_u64(v as u64);
    }
    fn write_u16(&mut self, v: u16) {
        self.write_u64(u64::from(v));
    }
    fn write_u8(&mut self, v: u8) {
        self.write_u64(u64::from(v));
    }
}

/// The HTTP duration histogram with its bound series.
#[derive(Debug)]
pub(super) struct DurationSeries {
    histogram: ExemplarHistogram,
    bound: RwLock<HashMap<Key, Arc<Bound>, BuildHasherDefault<Mix>>>,
}

impl std::fmt::Debug for Bound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bound").field("route", &self.route).finish()
    }
}

impl Clone for DurationSeries {
    /// A copy starts with no bound series of its own (layers are cloned when built, not per
    /// request).
    fn clone(&self) -> Self {
        DurationSeries::new(self.histogram.clone())
    }
}

impl DurationSeries {
    pub(super) fn new(histogram: ExemplarHistogram) -> Self {
        DurationSeries {
            histogram,
            bound: RwLock::new(HashMap::default()),
        }
    }

    /// Records one request's duration: `method` (a known method's name, or `_OTHER`), `route`
    /// (the route template), `status`. The exemplar comes from `span` when its trace is exported
    /// (sampled, or `kept` by the tail sampler: an error, a slow request).
    pub(super) fn record(
        &self,
        seconds: f64,
        method: &'static str,
        route: &str,
        status: u16,
        span: &tracing::Span,
        kept: bool,
    ) {
        let key: Key = (
            route.as_ptr() as usize,
            route.len(),
            status,
            method_index(method),
        );
        let found = {
            let map = self.bound.read().unwrap_or_else(|p| p.into_inner());
            map.get(&key).filter(|b| &*b.route == route).cloned()
        };
        let bound = match found {
            Some(b) => b,
            None => match self.bind(key, method, route, status) {
                Some(b) => b,
                None => {
                    // Over the budget of bound series: the unbound path.
                    let labels = labels(method, route, status);
                    self.histogram.record_in(seconds, &labels, span, kept);
                    return;
                }
            },
        };
        bound.histogram.record(seconds);
        if let Some(series) = &bound.exemplars {
            series.keep(seconds, Some(span), kept);
        }
    }

    /// Binds the series of `key` (replacing a stale entry for a reused address), unless
    /// [`MAX_BOUND`] series are bound already.
    fn bind(&self, key: Key, method: &'static str, route: &str, status: u16) -> Option<Arc<Bound>> {
        let mut map = self.bound.write().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get(&key).filter(|b| &*b.route == route) {
            return Some(b.clone()); // bound by another request meanwhile
        }
        if map.len() >= MAX_BOUND && !map.contains_key(&key) {
            return None;
        }
        let labels = labels(method, route, status);
        let b = Arc::new(Bound {
            route: route.into(),
            histogram: self.histogram.histogram().bind(&labels),
            exemplars: self.histogram.series(&labels),
        });
        map.insert(key, b.clone());
        Some(b)
    }

    /// Bound series now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.bound.read().unwrap().len()
    }
}

/// The histogram's labels for one series.
fn labels(method: &'static str, route: &str, status: u16) -> [KeyValue; 3] {
    [
        KeyValue::new("method", method),
        KeyValue::new("path", route.to_owned()),
        KeyValue::new("status", super::server::status_label(status)),
    ]
}

fn method_index(method: &'static str) -> u8 {
    const METHODS: [&str; 10] = [
        "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "_OTHER",
    ];
    METHODS.iter().position(|m| *m == method).unwrap_or(9) as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Requests of one series share one binding; a new status, method or route is a new series;
    /// the same route text at another address (another router) is told apart by its text.
    #[test]
    fn each_series_is_bound_once_and_found_by_its_route() {
        let config = crate::Config::builder("series").build().unwrap();
        let (telemetry, _d) = crate::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        let histogram = telemetry
            .metrics()
            .exemplar_histogram(&crate::catalogue::HTTP_REQUEST_DURATION);
        let series = DurationSeries::new(histogram);
        let span = tracing::Span::none();
        let route: Arc<str> = Arc::from("/items/{id}");
        for _ in 0..3 {
            series.record(0.01, "GET", &route, 200, &span, false);
        }
        assert_eq!(series.len(), 1);
        series.record(0.01, "GET", &route, 404, &span, false);
        series.record(0.01, "POST", &route, 200, &span, false);
        assert_eq!(series.len(), 3);
        let other: Arc<str> = Arc::from("/items/{id}");
        series.record(0.01, "GET", &other, 200, &span, false);
        assert_eq!(
            series.len(),
            4,
            "the same text at another address is its own key"
        );
        let text = telemetry.metrics().encode(crate::metrics::Format::Text);
        assert!(
            text.contains(
                r#"http_request_duration_seconds_count{method="GET",path="/items/{id}",status="200"} 4"#
            ),
            "{text}"
        );
    }
}
