//! The storage of `function_calls_total` and `function_calls_duration_seconds`: watchpost's own,
//! lock-free, per measured function, instead of the SDK's instruments.
//!
//! Why not the SDK: its bound histogram takes a `Mutex` per point and its bound instruments are
//! a `Box<dyn>` call each; a call paid ~30 ns for them (callgrind: ~157 instructions). Here a call
//! is three relaxed `fetch_add`s (its bucket, the sum, its (caller, result) count) and two loads
//! (minimum and maximum, written only when they change). The families are handed to the encoders
//! as plain data ([`own`](super::super::own)) at each scrape and push, where the points of
//! functions (or callers) with the same labels are added into one series (`super::families`).
//!
//! * Buckets: `AtomicU64` counts, the catalogue's `FUNCTION_SECONDS` bounds in integer
//!   nanoseconds, `+Inf` last; the count is their sum (one add fewer per call, and a count that
//!   always agrees with the buckets).
//! * Sum: integer nanoseconds, so that a call adds with one `fetch_add` (an `f64` sum needs a
//!   compare-and-swap loop, which retries under contention) and concurrent sums are exact; it
//!   wraps after 584 years of summed call time.
//! * Calls: per (caller, result), the caller in one of [`CALLER_SLOTS`] slots taken on first use;
//!   calls from further callers are counted, with their labels, in a map under a mutex.

use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

use opentelemetry::metrics::BoundUpDownCounter;
use opentelemetry::KeyValue;

use super::__private::Function;
use super::Descriptor;
use crate::catalogue::buckets::FUNCTION_SECONDS;
use crate::metrics::exemplars::{Exemplar, Series};
use crate::metrics::own::{CounterPoint, HistogramPoint};

/// Buckets of the duration histogram: one per bound, and `+Inf`.
const BUCKETS: usize = FUNCTION_SECONDS.len() + 1;

/// The bounds in nanoseconds.
const BOUNDS_NS: [u64; BUCKETS - 1] = {
    let mut ns = [0; BUCKETS - 1];
    let mut i = 0;
    while i < ns.len() {
        ns[i] = (FUNCTION_SECONDS[i] * 1e9 + 0.5) as u64;
        i += 1;
    }
    ns
};

/// Callers whose counts a function keeps in slots; calls from more go through a map.
pub(super) const CALLER_SLOTS: usize = 16;

/// The bucket of a call of `ns` nanoseconds: buckets are (previous bound, bound].
#[inline]
fn bucket(ns: u64) -> usize {
    if ns <= BOUNDS_NS[0] {
        0 // nearly every call of a function worth measuring often
    } else {
        1 + BOUNDS_NS[1..].partition_point(|b| *b < ns)
    }
}

/// A function's duration histogram.
struct Histogram {
    buckets: [AtomicU64; BUCKETS],
    sum_ns: AtomicU64,
    min_ns: AtomicU64,
    max_ns: AtomicU64,
}

impl Histogram {
    #[inline]
    fn record(&self, ns: u64) {
        self.buckets[bucket(ns)].fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
        if ns < self.min_ns.load(Relaxed) {
            self.min_ns.fetch_min(ns, Relaxed);
        }
        if ns > self.max_ns.load(Relaxed) {
            self.max_ns.fetch_max(ns, Relaxed);
        }
    }
}

struct CallerSlot {
    caller: AtomicPtr<Function>,
    /// `[ok, error]`.
    calls: [AtomicU64; 2],
}

/// A measured function's storage and instruments, resolved once a pipeline exists.
pub(super) struct Resolved {
    histogram: Histogram,
    /// Calls without a measured caller: `[ok, error]`.
    root: [AtomicU64; 2],
    callers: [CallerSlot; CALLER_SLOTS],
    /// Calls from callers beyond the slots: `(caller, [ok, error])`.
    overflow: Mutex<Vec<(&'static Function, [u64; 2])>>,
    /// The duration series' exemplars (when traces are exported).
    pub(super) exemplars: Option<Series>,
    pub(super) concurrent: Option<BoundUpDownCounter<i64>>,
    /// The histogram's labels: `function`, `module`, `service_name` and the latency objective's.
    histogram_labels: Vec<KeyValue>,
    /// `function`, `module`, `service_name` and the success objective's labels.
    counter_base: Vec<KeyValue>,
}

impl Resolved {
    pub(super) fn new(
        desc: &Descriptor,
        service: &KeyValue,
        duration: &crate::metrics::ExemplarHistogram,
        concurrent: Option<&opentelemetry::metrics::UpDownCounter<i64>>,
    ) -> Resolved {
        let base = [
            KeyValue::new("function", desc.function),
            KeyValue::new("module", desc.module),
            service.clone(),
        ];
        let mut histogram_labels = base.to_vec();
        if let (Some(name), Some((threshold, percentile))) = (desc.objective, desc.latency) {
            histogram_labels.extend([
                KeyValue::new("objective_name", name),
                KeyValue::new("objective_percentile", percentile),
                KeyValue::new("objective_latency_threshold", threshold),
            ]);
        }
        let mut counter_base = base.to_vec();
        if let (Some(name), Some(percentile)) = (desc.objective, desc.success_percentile) {
            counter_base.extend([
                KeyValue::new("objective_name", name),
                KeyValue::new("objective_percentile", percentile),
            ]);
        }
        Resolved {
            histogram: Histogram {
                buckets: Default::default(),
                sum_ns: AtomicU64::new(0),
                min_ns: AtomicU64::new(u64::MAX),
                max_ns: AtomicU64::new(0),
            },
            root: Default::default(),
            callers: std::array::from_fn(|_| CallerSlot {
                caller: AtomicPtr::new(std::ptr::null_mut()),
                calls: Default::default(),
            }),
            overflow: Mutex::new(Vec::new()),
            exemplars: duration.series(&histogram_labels),
            concurrent: desc
                .concurrency
                .then(|| concurrent.map(|c| c.bind(&base)))
                .flatten(),
            histogram_labels,
            counter_base,
        }
    }

    /// Records a call of `ns` nanoseconds from `caller`.
    #[inline]
    pub(super) fn record(&self, ns: u64, caller: Option<&'static Function>, error: bool) {
        self.histogram.record(ns);
        let i = usize::from(error);
        let Some(c) = caller else {
            self.root[i].fetch_add(1, Relaxed);
            return;
        };
        let ptr = c as *const Function as *mut Function;
        for slot in &self.callers {
            let mut held = slot.caller.load(Relaxed);
            if held.is_null() {
                held =
                    match slot
                        .caller
                        .compare_exchange(std::ptr::null_mut(), ptr, Relaxed, Relaxed)
                    {
                        Ok(_) => ptr,
                        Err(other) => other,
                    };
            }
            if held == ptr {
                slot.calls[i].fetch_add(1, Relaxed);
                return;
            }
        }
        self.count_overflow(c, i);
    }

    #[cold]
    fn count_overflow(&self, caller: &'static Function, i: usize) {
        let mut overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        match overflow.iter_mut().find(|(c, _)| std::ptr::eq(*c, caller)) {
            Some((_, calls)) => calls[i] += 1,
            None => {
                let mut calls = [0; 2];
                calls[i] = 1;
                overflow.push((caller, calls));
            }
        }
    }

    fn attributes(&self, caller: Option<&Descriptor>, error: bool) -> Vec<KeyValue> {
        let mut attrs = self.counter_base.clone();
        attrs.push(KeyValue::new("result", if error { "error" } else { "ok" }));
        if let Some(c) = caller {
            attrs.push(KeyValue::new("caller_function", c.function));
            attrs.push(KeyValue::new("caller_module", c.module));
        }
        attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        attrs
    }

    /// The counter's series that have calls (a series exists from its first call on).
    pub(super) fn counter_points(&self, out: &mut Vec<CounterPoint>) {
        let mut push = |caller: Option<&Descriptor>, calls: [u64; 2]| {
            for (i, value) in calls.into_iter().enumerate() {
                if value > 0 {
                    out.push(CounterPoint {
                        labels: self.attributes(caller, i == 1),
                        value,
                    });
                }
            }
        };
        push(None, self.root.each_ref().map(|c| c.load(Relaxed)));
        for slot in &self.callers {
            let caller = slot.caller.load(Relaxed);
            if caller.is_null() {
                break; // slots are taken in order
            }
            // SAFETY: a slot holds only `&'static Function`s.
            let caller = unsafe { &*caller };
            push(
                Some(&caller.desc),
                slot.calls.each_ref().map(|c| c.load(Relaxed)),
            );
        }
        let overflow = self.overflow.lock().unwrap_or_else(|p| p.into_inner());
        for (caller, calls) in overflow.iter() {
            push(Some(&caller.desc), *calls);
        }
    }

    /// The histogram's series, once it has a call, with its exemplars by bucket.
    pub(super) fn histogram_point(&self) -> Option<HistogramPoint> {
        let h = &self.histogram;
        let bucket_counts: Vec<u64> = h.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let count: u64 = bucket_counts.iter().sum();
        if count == 0 {
            return None;
        }
        let mut labels = self.histogram_labels.clone();
        let exemplars: Vec<Option<Exemplar>> = (self.exemplars.as_ref())
            .and_then(Series::exemplars)
            .unwrap_or_default();
        labels.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        let (min, max) = (h.min_ns.load(Relaxed), h.max_ns.load(Relaxed));
        Some(HistogramPoint {
            labels,
            bucket_counts,
            sum: super::clock::seconds(h.sum_ns.load(Relaxed)),
            count,
            min: (min != u64::MAX).then(|| super::clock::seconds(min)),
            max: Some(super::clock::seconds(max)),
            exemplars,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_lands_in_the_bucket_the_sdk_would_put_it_in() {
        for ns in [
            0,
            1,
            4_999_999,
            5_000_000,
            5_000_001,
            99_999_999,
            100_000_000,
            10_000_000_000,
            10_000_000_001,
            u64::MAX,
        ] {
            let seconds = super::super::clock::seconds(ns);
            let sdk = FUNCTION_SECONDS.partition_point(|b| *b < seconds);
            assert_eq!(bucket(ns), sdk, "{ns} ns");
        }
    }
}
