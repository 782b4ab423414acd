//! Span pipeline benchmark. Run: `cargo bench -p watchpost --bench traces`.
//!
//! A sampled `tracing` span with 3 fields, created, entered, exited and closed:
//! * `watchpost`: Watchpost's pipeline with export on (bridge, JSON layer span bookkeeping, tail
//!   sampler keeping every trace, bounded export queue; the collector address is closed, so the
//!   background worker's exports fail and are counted — the application side is what is measured);
//! * `tracing_opentelemetry_batch`: `tracing-opentelemetry` + `SdkTracerProvider` with the SDK's
//!   `BatchSpanProcessor` and a no-op exporter.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{BatchSpanProcessor, SdkTracerProvider, SpanData, SpanExporter};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Debug)]
struct NoopExporter;
impl SpanExporter for NoopExporter {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        black_box(batch);
        Ok(())
    }
}

#[inline(never)]
fn one_span() {
    let span = tracing::info_span!(
        "work",
        instance_id = "inst-1",
        attempt = 3_u64,
        cached = true
    );
    let _g = span.enter();
}

fn spans(c: &mut Criterion) {
    let mut g = c.benchmark_group("span_3_fields");
    {
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
        tracing::dispatcher::with_default(&d, || {
            g.bench_function("watchpost", |b| b.iter(one_span));
        });
        let _ = t.shutdown_with_timeout(Duration::from_millis(500));
    }
    {
        let provider = SdkTracerProvider::builder()
            .with_span_processor(BatchSpanProcessor::builder(NoopExporter).build())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
        let d = tracing::Dispatch::new(subscriber);
        tracing::dispatcher::with_default(&d, || {
            g.bench_function("tracing_opentelemetry_batch", |b| b.iter(one_span));
        });
        let _ = provider.shutdown();
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = spans
}
criterion_main!(benches);
