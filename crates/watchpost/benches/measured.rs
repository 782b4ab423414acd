//! `#[watchpost::measured]` overhead. Run: `cargo bench -p watchpost --bench measured`.
//!
//! Peers in the same run, each calling the same empty function (`#[inline(never)]`, so the call
//! is not folded away):
//! * `bare`: the function alone;
//! * `measured`: the function with `#[watchpost::measured]` (no span, no slow threshold), called
//!   from outside any measured function;
//! * `measured_from_a_measured_caller`: the same, with a measured caller (the caller's bindings);
//! * `sdk_by_hand`: what one writes with the OpenTelemetry SDK instead: two clock reads, a
//!   `Counter::add` and a `Histogram::record` with the same attribute sets (built once, reused),
//!   on the same pipeline;
//! * `measured_with_span`: `#[measured(span)]` (for information: a span per call);
//! * `two_instant_reads` and `bound_counter_and_histogram` (for information): `Instant` around
//!   the call (what `measured` avoids by reading the time-stamp counter), and what `measured`
//!   paid the SDK until session 9 (a bound counter add and a bound histogram record; the
//!   counter and histogram are watchpost's own, lock-free, since).
//!
//! Targets (issue): `measured` ≤ `bare` + 60 ns, and ≤ 1.1 × `sdk_by_hand`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::KeyValue;
use watchpost::catalogue::{FUNCTION_CALLS, FUNCTION_CALLS_DURATION};

#[inline(never)]
fn bare(n: u64) -> u64 {
    black_box(n)
}

#[watchpost::measured]
#[inline(never)]
fn measured(n: u64) -> u64 {
    black_box(n)
}

#[watchpost::measured(span)]
#[inline(never)]
fn measured_with_span(n: u64) -> u64 {
    black_box(n)
}

/// A measured caller that calls `measured` `iters` times (the callee's bindings per caller).
#[watchpost::measured]
#[inline(never)]
fn caller(iters: u64) -> Duration {
    let start = Instant::now();
    for i in 0..iters {
        black_box(measured(black_box(i)));
    }
    start.elapsed()
}

fn bench(c: &mut Criterion) {
    let config = watchpost::Config::builder("bench").build().unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    // The hand-written peer: the same instruments, the same attribute sets.
    let counter = telemetry.metrics().counter(&FUNCTION_CALLS);
    let histogram = telemetry.metrics().histogram(&FUNCTION_CALLS_DURATION);
    let base = [
        KeyValue::new("function", "by_hand"),
        KeyValue::new("module", "measured"),
        KeyValue::new("service_name", "bench"),
    ];
    let counted: Vec<KeyValue> = base
        .iter()
        .cloned()
        .chain([KeyValue::new("result", "ok")])
        .collect();

    let mut g = c.benchmark_group("measured");
    g.bench_function("bare", |b| b.iter(|| bare(black_box(1))));
    g.bench_function("measured", |b| b.iter(|| measured(black_box(1))));
    g.bench_function("measured_from_a_measured_caller", |b| {
        b.iter_custom(caller);
    });
    g.bench_function("sdk_by_hand", |b| {
        b.iter(|| {
            let start = Instant::now();
            let r = bare(black_box(1));
            histogram.record(start.elapsed().as_secs_f64(), &base);
            counter.add(1, &counted);
            r
        })
    });
    g.bench_function("two_instant_reads", |b| {
        b.iter(|| {
            let start = Instant::now();
            let r = bare(black_box(1));
            black_box(start.elapsed());
            r
        })
    });
    let bound_c = counter.bind(&counted);
    let bound_h = histogram.bind(&base);
    g.bench_function("bound_counter_and_histogram", |b| {
        b.iter(|| {
            bound_h.record(black_box(0.000001));
            bound_c.add(1);
        })
    });
    tracing::dispatcher::with_default(&dispatch, || {
        g.bench_function("measured_with_span", |b| {
            b.iter(|| measured_with_span(black_box(1)))
        });
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
