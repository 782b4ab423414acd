//! What a `#[watchpost::measured]` call pays for its exemplar when traces are exported. Run:
//! `cargo bench -p watchpost --bench measured_exemplars`.
//!
//! The pipeline exports traces (to an address where nothing listens: only the calls are timed),
//! so every measured call asks whether the span it runs in is sampled. Peers in the same run,
//! each calling the same empty measured function:
//! * `no_span`: outside any span;
//! * `unsampled_span`: inside an entered span whose trace is not sampled (no exemplar);
//! * `sampled_span`: inside an entered span whose trace is sampled (an exemplar per call);
//! * `bare` (for scale): the function without the attribute.
//!
//! Issue 15: "zero cost when the current span is not sampled" — `unsampled_span` ≈ `no_span`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

#[inline(never)]
fn bare(n: u64) -> u64 {
    black_box(n)
}

#[watchpost::measured]
#[inline(never)]
fn measured(n: u64) -> u64 {
    black_box(n)
}

/// A span continuing a remote trace whose sampled flag is `sampled`.
fn span(sampled: bool) -> tracing::Span {
    let mut headers = http::HeaderMap::new();
    let flags = if sampled { "01" } else { "00" };
    let traceparent = format!("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-{flags}");
    headers.insert("traceparent", traceparent.parse().unwrap());
    let span = tracing::info_span!("request");
    watchpost::traces::set_parent(&span, &watchpost::traces::extract(&headers));
    span
}

fn bench(c: &mut Criterion) {
    let config = watchpost::Config::builder("bench")
        .otel_enabled(true)
        .otel_endpoint("127.0.0.1:9")
        .trace_sampler_ratio(0.0)
        .build()
        .unwrap();
    let (_telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let mut g = c.benchmark_group("measured_exemplars");
    tracing::dispatcher::with_default(&dispatch, || {
        g.bench_function("bare", |b| b.iter(|| bare(black_box(1))));
        g.bench_function("no_span", |b| b.iter(|| measured(black_box(1))));
        let unsampled = span(false);
        unsampled.in_scope(|| {
            g.bench_function("unsampled_span", |b| b.iter(|| measured(black_box(1))));
        });
        let sampled = span(true);
        sampled.in_scope(|| {
            g.bench_function("sampled_span", |b| b.iter(|| measured(black_box(1))));
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
