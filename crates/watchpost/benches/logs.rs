//! Log pipeline benchmarks. Run: `cargo bench -p watchpost --bench logs`.
//!
//! * `event_10_fields_2_spans`: one INFO event with 10 fields of mixed types inside two nested
//!   spans with 3 fields each, written to a sink: Watchpost's `JsonLayer` against
//!   `tracing_subscriber::fmt().json().with_current_span(true).with_span_list(true)`.
//! * `disabled_debug_event`: a DEBUG event that is off, (a) when every subsystem is at INFO,
//!   (b) when another subsystem is at DEBUG (so the global max level lets it through and the
//!   cached per-callsite interest must reject it).
//! * `threads`: the same event from 1, 2 and 4 threads at once (throughput in elements/s).
//! * `resource_fanout`: the same event (it carries `instance_id`) with per-resource log files on
//!   and the resource registered (main log + resource file), against the same pipeline without
//!   per-resource files.

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use tracing::Level;
use watchpost::{Config, Subsystem, Telemetry};

#[derive(Debug)]
struct Endpoint {
    #[allow(dead_code)]
    host: &'static str,
    #[allow(dead_code)]
    port: u16,
}

#[inline(never)]
fn emit_event() {
    let endpoint = Endpoint {
        host: "10.0.0.1",
        port: 8080,
    };
    tracing::info!(
        target: "bench::api",
        instance_id = "inst-7f3a9c",
        pid = 4242_i64,
        bytes = 1_048_576_u64,
        ratio = 0.75_f64,
        cached = true,
        method = "GET",
        path = "/instances/{id}",
        status = 200_u64,
        endpoint = ?endpoint,
        attempt = %3,
        "request handled in {} ms",
        12
    );
}

fn in_spans(f: impl FnOnce()) {
    let outer = tracing::info_span!(target: "bench::api", "request", request_id = "req-1234", method = "GET", remote = "127.0.0.1:5555");
    let _o = outer.enter();
    let inner = tracing::info_span!(target: "bench::api", "get_instance", instance_id = "inst-7f3a9c", attempt = 1_u64, cached = false);
    let _i = inner.enter();
    f();
}

fn watchpost_dispatch(levels: &[(&str, &str)]) -> (Telemetry, tracing::Dispatch) {
    let config = Config::builder("bench")
        .subsystem(Subsystem::new("API").target("bench::api"))
        .subsystem(Subsystem::new("OTHER").target("bench::other"))
        .env_vars(levels.iter().copied())
        .build()
        .unwrap();
    Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch()
}

fn fmt_json_dispatch() -> tracing::Dispatch {
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(Level::INFO)
        .with_writer(std::io::sink)
        .finish();
    tracing::Dispatch::new(subscriber)
}

fn event_10_fields_2_spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_10_fields_2_spans");
    {
        let (_t, d) = watchpost_dispatch(&[]);
        tracing::dispatcher::with_default(&d, || {
            in_spans(|| {
                g.bench_function("watchpost", |b| b.iter(emit_event));
            })
        });
    }
    {
        let d = fmt_json_dispatch();
        tracing::dispatcher::with_default(&d, || {
            in_spans(|| {
                g.bench_function("fmt_json", |b| b.iter(emit_event));
            })
        });
    }
    g.finish();
}

#[inline(never)]
fn emit_debug_api() {
    tracing::debug!(target: "bench::api", pid = 4242_i64, "debug detail");
}

fn disabled_debug_event(c: &mut Criterion) {
    let mut g = c.benchmark_group("disabled_debug_event");
    {
        let (_t, d) = watchpost_dispatch(&[]);
        tracing::dispatcher::with_default(&d, || {
            g.bench_function("all_info", |b| b.iter(emit_debug_api));
        });
    }
    {
        let (_t, d) = watchpost_dispatch(&[("LOG_LEVEL_OTHER", "debug")]);
        tracing::dispatcher::with_default(&d, || {
            g.bench_function("other_subsystem_at_debug", |b| b.iter(emit_debug_api));
        });
    }
    g.finish();
}

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("threads");
    let (_t, d) = watchpost_dispatch(&[]);
    for n in [1usize, 2, 4] {
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(format!("watchpost_{n}"), |b| {
            b.iter_custom(|iters| {
                let barrier = Barrier::new(n + 1);
                std::thread::scope(|s| {
                    for _ in 0..n {
                        s.spawn(|| {
                            tracing::dispatcher::with_default(&d, || {
                                in_spans(|| {
                                    barrier.wait();
                                    for _ in 0..iters {
                                        emit_event();
                                    }
                                    barrier.wait();
                                })
                            })
                        });
                    }
                    barrier.wait();
                    let start = Instant::now();
                    barrier.wait();
                    black_box(start.elapsed())
                })
            })
        });
    }
    g.finish();
}

fn resource_fanout(c: &mut Criterion) {
    let mut g = c.benchmark_group("resource_fanout");
    let dir = std::env::temp_dir().join(format!("watchpost-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    {
        let config = Config::builder("bench")
            .subsystem(Subsystem::new("API").target("bench::api"))
            .resource_logs(
                watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id"),
            )
            .build()
            .unwrap();
        let (t, d) = Telemetry::builder(config)
            .writer(std::io::sink)
            .into_dispatch();
        t.resource_logs()
            .unwrap()
            .register("instance", "inst-7f3a9c")
            .unwrap();
        tracing::dispatcher::with_default(&d, || {
            in_spans(|| {
                g.bench_function("main_and_resource_file", |b| b.iter(emit_event));
            })
        });
        let stats = t.resource_logs().unwrap().stats();
        assert!(stats.lines > 0 && stats.io_errors == 0, "{stats:?}");
    }
    {
        let (_t, d) = watchpost_dispatch(&[]);
        tracing::dispatcher::with_default(&d, || {
            in_spans(|| {
                g.bench_function("main_only", |b| b.iter(emit_event));
            })
        });
    }
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = event_10_fields_2_spans, disabled_debug_event, threads, resource_fanout
}
criterion_main!(benches);
