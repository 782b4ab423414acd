//! The request duration histogram's series, bound once per (method, route, status).
//!
//! Recording with attributes makes the SDK sort, hash (SipHash) and look up the attribute set of
//! every request, and the exemplar store hash it again: ~1 500 instructions per request on
//! procman's path (callgrind). A bound series is resolved on a series' first request and kept;
//! later requests find it by a cheap hash of the route text, the status and the method in a
//! fixed open-addressing table read without a lock (a series is never unbound, so a slot, once
//! set, stays: no lock, no reference count per request). Beyond [`MAX_BOUND`] series, requests
//! take the unbound path.

use std::hash::Hasher;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use opentelemetry::metrics::BoundHistogram;
use opentelemetry::KeyValue;

use crate::metrics::ExemplarHistogram;

/// Series kept bound; requests of further series record through the unbound path (the label
/// budget of the histogram bounds them anyway).
pub(super) const MAX_BOUND: usize = 1024;

/// (hash of the route text, status, method index); the route text itself is compared on a hit.
type Key = (u64, u16, u8);

/// Slots of the table (a power of two, twice [`MAX_BOUND`]: at most half full).
const TABLE: usize = 2 * MAX_BOUND;

/// Slots a lookup probes after its own before it gives up (the unbound path then).
const PROBES: usize = 16;

/// One bound series.
struct Bound {
    key: Key,
    /// The route, to tell two routes whose texts hash alike apart.
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

/// The request a duration is of, for its exemplar.
pub(super) struct Request<'a> {
    pub(super) span: &'a tracing::Span,
    /// The span's ids, taken when the layer made it.
    pub(super) ids: Option<crate::traces::SpanIds>,
    /// Whether the tail sampler keeps the trace whatever its sampling (an error, a slow request).
    pub(super) kept: bool,
    /// When the request ended.
    pub(super) end: std::time::Instant,
}

/// The HTTP duration histogram with its bound series.
#[derive(Debug)]
pub(super) struct DurationSeries {
    histogram: ExemplarHistogram,
    /// Open addressing by the key's hash, linear probing; a slot is set once, never cleared
    /// (boxed: an empty table is 32 KiB).
    table: Box<[OnceLock<Box<Bound>>]>,
    /// Series bound (at most [`MAX_BOUND`]; then new series go the unbound way).
    bound: AtomicUsize,
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
            table: (0..TABLE).map(|_| OnceLock::new()).collect(),
            bound: AtomicUsize::new(0),
        }
    }

    /// Records one request's duration: `method` (a known method's name, or `_OTHER`), `route`
    /// (the route template), `status`; the exemplar is `of`'s request when its trace is exported.
    pub(super) fn record(
        &self,
        seconds: f64,
        method: &'static str,
        route: &str,
        status: u16,
        of: &Request<'_>,
    ) {
        let key: Key = (text_hash(route), status, method_index(method));
        let Some(bound) = self.find(key, method, route, status) else {
            // Over the budget of bound series: the unbound path.
            let labels = labels(method, route, status);
            self.histogram.record_in(seconds, &labels, of.span, of.kept);
            return;
        };
        bound.histogram.record(seconds);
        if let Some(series) = &bound.exemplars {
            series.keep_ids(seconds, of.ids, of.kept, of.end);
        }
    }

    /// The bound series of `key` (`route`'s), bound now if it is new and fewer than
    /// [`MAX_BOUND`] are; `None` otherwise, or when another series holds every slot probed.
    #[inline]
    fn find(&self, key: Key, method: &'static str, route: &str, status: u16) -> Option<&Bound> {
        let mut h = Mix::default();
        h.write_u64(key.0);
        h.write_u64(u64::from(key.1) << 8 | u64::from(key.2));
        let start = h.finish() as usize;
        for i in 0..PROBES {
            let slot = &self.table[(start + i) & (TABLE - 1)];
            let b = match slot.get() {
                Some(b) => b,
                None => {
                    if self.full() {
                        return None;
                    }
                    slot.get_or_init(|| self.bind(key, method, route, status))
                }
            };
            if b.key == key && &*b.route == route {
                return Some(b);
            }
            // Another series here (or a route whose text hashes alike): the next slot.
        }
        None
    }

    /// Whether a request's span ids are wanted (for exemplars: only when traces are exported).
    pub(super) fn wants_ids(&self) -> bool {
        self.histogram.keeps_exemplars()
    }

    /// The bound series of `key`, for an empty slot (counts it; past [`MAX_BOUND`] later
    /// requests of new series no longer bind).
    #[cold]
    fn bind(&self, key: Key, method: &'static str, route: &str, status: u16) -> Box<Bound> {
        self.bound.fetch_add(1, Ordering::Relaxed);
        let labels = labels(method, route, status);
        Box::new(Bound {
            key,
            route: route.into(),
            histogram: self.histogram.histogram().bind(&labels),
            exemplars: self.histogram.series(&labels),
        })
    }

    /// [`MAX_BOUND`] series are bound: new series go the unbound way.
    fn full(&self) -> bool {
        self.bound.load(Ordering::Relaxed) >= MAX_BOUND
    }

    /// Bound series now (for tests).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.table.iter().filter(|s| s.get().is_some()).count()
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

/// FNV-1a over the route text, eight bytes at a time (routes are short).
fn text_hash(route: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = route.as_bytes().chunks_exact(8);
    for w in &mut words {
        h = (h ^ u64::from_le_bytes(w.try_into().expect("eight bytes")))
            .wrapping_mul(0x100_0000_01b3);
    }
    for &b in words.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    h
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
    use std::time::Instant;

    /// Requests of one series share one binding, whatever the address of the route text (a
    /// nested router makes a new one per request); a new status, method or route is a new
    /// series; past the budget, requests are still recorded (unbound).
    #[test]
    fn each_series_is_bound_once_and_found_by_its_route_text() {
        let config = crate::Config::builder("series").build().unwrap();
        let (telemetry, _d) = crate::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        let histogram = telemetry
            .metrics()
            .exemplar_histogram(&crate::catalogue::HTTP_REQUEST_DURATION);
        let series = DurationSeries::new(histogram);
        let span = tracing::Span::none();
        let of = Request {
            span: &span,
            ids: None,
            kept: false,
            end: Instant::now(),
        };
        for _ in 0..3 {
            // A fresh text each time, as `nest_service` makes it.
            let route = String::from("/items/{id}");
            series.record(0.01, "GET", &route, 200, &of);
        }
        assert_eq!(series.len(), 1);
        series.record(0.01, "GET", "/items/{id}", 404, &of);
        series.record(0.01, "POST", "/items/{id}", 200, &of);
        assert_eq!(series.len(), 3);
        for i in 0..MAX_BOUND + 10 {
            series.record(0.01, "GET", &format!("/r{i}"), 200, &of);
        }
        assert_eq!(series.len(), MAX_BOUND);
        assert!(series.full());
        series.record(0.01, "GET", "/items/{id}", 200, &of);
        let text = telemetry.metrics().encode(crate::metrics::Format::Text);
        assert!(
            text.contains(
                r#"http_request_duration_seconds_count{method="GET",path="/items/{id}",status="200"} 4"#
            ),
            "{text}"
        );
        let last = format!("path=\"/r{}\"", MAX_BOUND + 9);
        assert!(text.contains(&last), "an unbound series is recorded too");
    }

    /// Threads that record the same series at once bind it once and lose no request.
    #[test]
    fn concurrent_requests_bind_each_series_once_and_are_all_counted() {
        let config = crate::Config::builder("series").build().unwrap();
        let (telemetry, _d) = crate::Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        let series = DurationSeries::new(
            telemetry
                .metrics()
                .exemplar_histogram(&crate::catalogue::HTTP_REQUEST_DURATION),
        );
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let span = tracing::Span::none();
                    let of = Request {
                        span: &span,
                        ids: None,
                        kept: false,
                        end: Instant::now(),
                    };
                    for i in 0..2000 {
                        series.record(0.01, "GET", &format!("/r{}", i % 8), 200, &of);
                    }
                });
            }
        });
        assert_eq!(series.len(), 8);
        let text = telemetry.metrics().encode(crate::metrics::Format::Text);
        for r in 0..8 {
            let line = format!(
                "http_request_duration_seconds_count{{method=\"GET\",path=\"/r{r}\",status=\"200\"}} 1000"
            );
            assert!(text.contains(&line), "{line} in {text}");
        }
    }
}
