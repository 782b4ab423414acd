//! Metric pipeline benchmarks. Run: `cargo bench -p watchpost --bench metrics`.
//!
//! * `scrape_10k_series`: 5 000 counter series with 3 labels plus 5 000 histogram series with
//!   12 buckets. Watchpost: a whole scrape (collection from the OpenTelemetry SDK included) to
//!   OpenMetrics text. Peer: `prometheus-client` encoding the same series from its own store.
//! * `counter_add_existing_series`: `Counter::add` with 3 attributes on an existing series, on
//!   Watchpost's pipeline vs a bare `SdkMeterProvider` with a plain `ManualReader` (no wrapper,
//!   no views). (A provider without any reader is a no-op and not a fair peer.)
//! * Heap bytes per series (both stores) are printed once, from a counting allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::KeyValue;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;
use prometheus_client::registry::Registry;
use watchpost::metrics::Format;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}
#[global_allocator]
static GLOBAL: Counting = Counting;

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const STATUSES: [&str; 10] = [
    "200", "201", "204", "400", "401", "403", "404", "409", "500", "503",
];
const BUCKETS: [f64; 12] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

fn paths() -> Vec<String> {
    (0..100)
        .map(|i| format!("/api/v1/resource{i}/{{id}}"))
        .collect()
}

fn label_sets() -> Vec<(&'static str, String, &'static str)> {
    let paths = paths();
    let mut out = Vec::with_capacity(5000);
    for m in METHODS {
        for p in &paths {
            for s in STATUSES {
                out.push((m, p.clone(), s));
            }
        }
    }
    out
}

fn watchpost_pipeline() -> (watchpost::Telemetry, tracing::Dispatch) {
    let config = watchpost::Config::builder("bench")
        .metric_series_budget("bench_requests_total", 10_000)
        .metric_series_budget("bench_request_duration_seconds", 10_000)
        .build()
        .unwrap();
    let (t, d) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let meter = t.metrics().meter();
    let c = meter
        .u64_counter("bench_requests_total")
        .with_description("Requests")
        .build();
    let h = meter
        .f64_histogram("bench_request_duration_seconds")
        .with_unit("s")
        .with_description("Latency")
        .with_boundaries(BUCKETS.to_vec())
        .build();
    for (i, (m, p, s)) in label_sets().into_iter().enumerate() {
        let attrs = [
            KeyValue::new("method", m),
            KeyValue::new("path", p),
            KeyValue::new("status", s),
        ];
        c.add(i as u64, &attrs);
        h.record((i % 1000) as f64 / 100.0, &attrs);
    }
    (t, d)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Labels {
    method: &'static str,
    path: String,
    status: &'static str,
}

fn prometheus_client_registry() -> Registry {
    let mut registry = Registry::default();
    let c = Family::<Labels, PcCounter>::default();
    let h = Family::<Labels, PcHistogram>::new_with_constructor(|| PcHistogram::new(BUCKETS));
    registry.register("bench_requests", "Requests", c.clone());
    registry.register("bench_request_duration_seconds", "Latency", h.clone());
    for (i, (m, p, s)) in label_sets().into_iter().enumerate() {
        let l = Labels {
            method: m,
            path: p,
            status: s,
        };
        c.get_or_create(&l).inc_by(i as u64);
        h.get_or_create(&l).observe((i % 1000) as f64 / 100.0);
    }
    registry
}

fn report_heap_per_series() {
    let before = LIVE.load(Ordering::Relaxed);
    let ours = watchpost_pipeline();
    let after_ours = LIVE.load(Ordering::Relaxed);
    let theirs = prometheus_client_registry();
    let after_theirs = LIVE.load(Ordering::Relaxed);
    eprintln!(
        "heap bytes per series (10 000 series, incl. label strings): watchpost/otel-sdk {} B, prometheus-client {} B",
        (after_ours - before) / 10_000,
        (after_theirs - after_ours) / 10_000
    );
    drop((ours, theirs));
}

fn scrape_10k_series(c: &mut Criterion) {
    report_heap_per_series();
    let mut g = c.benchmark_group("scrape_10k_series");
    g.sample_size(30);
    let (t, _d) = watchpost_pipeline();
    let mut buf = String::with_capacity(4 << 20);
    g.bench_function("watchpost_collect_and_encode", |b| {
        b.iter(|| {
            buf.clear();
            t.metrics().encode_into(&mut buf, Format::OpenMetrics);
            black_box(buf.len())
        })
    });
    eprintln!("watchpost scrape size: {} bytes", buf.len());
    let registry = prometheus_client_registry();
    g.bench_function("prometheus_client_encode", |b| {
        b.iter(|| {
            buf.clear();
            prometheus_client::encoding::text::encode(&mut buf, &registry).unwrap();
            black_box(buf.len())
        })
    });
    eprintln!("prometheus-client scrape size: {} bytes", buf.len());
    g.finish();
}

fn counter_add_existing_series(c: &mut Criterion) {
    let mut g = c.benchmark_group("counter_add_existing_series");
    let attrs = [
        KeyValue::new("method", "GET"),
        KeyValue::new("path", "/instances/{id}"),
        KeyValue::new("status", "200"),
    ];
    let (t, _d) = watchpost_pipeline();
    let ours = t.metrics().meter().u64_counter("bench_hot_total").build();
    ours.add(1, &attrs);
    g.bench_function("watchpost", |b| b.iter(|| ours.add(black_box(1), &attrs)));
    // The peer: the SDK's own provider with its own ManualReader, no wrapper, no views.
    let bare = opentelemetry_sdk::metrics::SdkMeterProvider::builder()
        .with_reader(opentelemetry_sdk::metrics::ManualReader::builder().build())
        .build();
    let theirs = bare.meter("bench").u64_counter("bench_hot_total").build();
    theirs.add(1, &attrs);
    g.bench_function("bare_sdk_manual_reader", |b| {
        b.iter(|| theirs.add(black_box(1), &attrs))
    });
    g.finish();
}

/// What an exemplar adds to a histogram measurement made in a sampled span (the HTTP layer's
/// case): the same histogram recorded plainly vs with its exemplar, in one span.
fn histogram_record_with_exemplar(c: &mut Criterion) {
    use watchpost::catalogue::{MetricDef, Unit};
    const LATENCY: MetricDef =
        MetricDef::histogram("bench_latency_seconds", "Latency", &[0.005, 0.05, 0.5, 5.0])
            .unit(Unit::Seconds);
    let mut g = c.benchmark_group("histogram_record_in_sampled_span");
    let attrs = [
        KeyValue::new("method", "GET"),
        KeyValue::new("path", "/instances/{id}"),
        KeyValue::new("status", "200"),
    ];
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let config = watchpost::Config::builder("bench")
        .otel_enabled(true)
        .otel_endpoint(closed.to_string())
        .trace_sampler_ratio(1.0)
        .export_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let (t, d) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let with = t.metrics().exemplar_histogram(&LATENCY);
    let plain = with.histogram().clone();
    tracing::dispatcher::with_default(&d, || {
        let span = tracing::info_span!("request");
        g.bench_function("plain", |b| {
            b.iter(|| plain.record(black_box(0.012), &attrs))
        });
        g.bench_function("with_exemplar", |b| {
            b.iter(|| with.record_in(black_box(0.012), &attrs, &span, false))
        });
    });
    let _ = t.shutdown_with_timeout(Duration::from_millis(500));
    g.finish();
}

/// What the exemplar adds to the HTTP layer's duration recording when the request's trace is
/// sampled (issue 15: <= 30 ns): the layer's bound series recorded for a request of an unsampled
/// trace (no exemplar) and of a sampled one (its exemplar kept), traces exported in both.
#[cfg(all(feature = "otlp", feature = "http"))]
fn http_duration_exemplar(c: &mut Criterion) {
    let config = watchpost::Config::builder("bench")
        .otel_enabled(true)
        .otel_endpoint("127.0.0.1:9")
        .export_timeout(Duration::from_millis(200))
        .build()
        .unwrap();
    let (t, _d) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let recorder = watchpost::__http_bench::DurationRecorder::new(&t);
    let mut g = c.benchmark_group("http_duration");
    g.bench_function("unsampled", |b| {
        b.iter(|| recorder.record(black_box(0.012), black_box(false)))
    });
    g.bench_function("sampled", |b| {
        b.iter(|| recorder.record(black_box(0.012), black_box(true)))
    });
    g.finish();
    let _ = t.shutdown_with_timeout(Duration::from_millis(500));
}

#[cfg(not(all(feature = "otlp", feature = "http")))]
fn http_duration_exemplar(_: &mut Criterion) {}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = scrape_10k_series, counter_add_existing_series, histogram_record_with_exemplar, http_duration_exemplar
}
criterion_main!(benches);
