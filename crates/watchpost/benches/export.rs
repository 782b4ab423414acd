//! OTLP encoding benchmark: the export thread's work per batch, up to the bytes handed to the
//! channel. Run: `cargo bench -p watchpost --bench export`.
//!
//! * `spans_512`: 512 spans like procman's (128 requests: a server span with 9 HTTP attributes
//!   and three internal children with 2 attributes each), encoded and dropped.
//!   `watchpost`: our encoder (`export/encode_traces.rs`) into its reused buffer, copied into the
//!   `Bytes` the transport sends. `sdk`: what opentelemetry-otlp 0.33 does with the same batch —
//!   opentelemetry-proto's transform to prost structs, then prost's encoding.
//! * `logs_512`: 512 queued log lines (an access-log-like record: subsystem, 6 fields, trace
//!   context). `watchpost`: our encoder straight from the queued lines
//!   (`export/encode_logs.rs`). `sdk`: the SDK's `LogRecord`s built from them (what the worker
//!   did before: `LogMaker::make`), opentelemetry-proto's transform, prost's encoding.
//!
//! Throughput is per span or per record. Instructions per span and per record, with callgrind:
//! `EXPORT_BENCH_CALLGRIND=1 valgrind --tool=callgrind --collect-atstart=no
//! --toggle-collect='*spans_watchpost*' target/release/deps/export-…` (and `*spans_sdk*`,
//! `*logs_watchpost*`, `*logs_sdk*`), the total divided by 5120 (10 batches of 512).

use std::borrow::Cow;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use criterion::{criterion_group, BatchSize, Criterion, Throughput};
use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId};
use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::common::tonic::ResourceAttributesWithSchema;
use opentelemetry_proto::transform::logs::tonic::group_logs_by_resource_and_scope;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::logs::LogBatch;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use prost::Message as _;
use watchpost::__export_bench::{LogLines, SpanBatch};

const BATCH: usize = 512;

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "procman"),
            KeyValue::new("service.version", "0.1.0"),
            KeyValue::new("deployment.environment.name", "production"),
            KeyValue::new("service.instance.id", "procman-7f9c4d-x2k8p"),
            KeyValue::new("host.name", "node-17"),
            KeyValue::new("telemetry.sdk.name", "watchpost"),
            KeyValue::new("telemetry.sdk.language", "rust"),
        ])
        .build()
}

/// 128 requests of procman: a server span and three internal children each.
fn spans() -> Vec<SpanData> {
    let scope = InstrumentationScope::builder("watchpost")
        .with_version("0.1.0")
        .build();
    let start = SystemTime::now();
    let mut spans = Vec::with_capacity(BATCH);
    for r in 0..(BATCH / 4) as u64 {
        let trace = TraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_0000 + u128::from(r));
        let root = SpanId::from(0x00f0_67aa_0ba9_0000 + r);
        let cx = |id: SpanId| {
            SpanContext::new(trace, id, TraceFlags::SAMPLED, false, Default::default())
        };
        let span = |id, parent, kind, name: &'static str, attributes| SpanData {
            span_context: cx(id),
            parent_span_id: parent,
            parent_span_is_remote: false,
            span_kind: kind,
            name: Cow::Borrowed(name),
            start_time: start,
            end_time: start + Duration::from_micros(850),
            attributes,
            dropped_attributes_count: 0,
            events: SpanEvents::default(),
            links: SpanLinks::default(),
            status: Status::Unset,
            instrumentation_scope: scope.clone(),
        };
        spans.push(span(
            root,
            SpanId::INVALID,
            SpanKind::Server,
            "GET /instances/{id}",
            vec![
                KeyValue::new("http.request.method", "GET"),
                KeyValue::new("http.route", "/instances/{id}"),
                KeyValue::new("url.path", format!("/instances/inst-{r}")),
                KeyValue::new("url.scheme", "http"),
                KeyValue::new("http.response.status_code", 200_i64),
                KeyValue::new("network.protocol.version", "1.1"),
                KeyValue::new("server.address", "127.0.0.1"),
                KeyValue::new("server.port", 8080_i64),
                KeyValue::new("user_agent.original", "wrk/4.1.0"),
            ],
        ));
        for (i, name) in ["instances.lookup", "instances.render", "db.read"]
            .into_iter()
            .enumerate()
        {
            spans.push(span(
                SpanId::from(0x00f0_67aa_0bb0_0000 + r * 4 + i as u64),
                root,
                SpanKind::Internal,
                name,
                vec![
                    KeyValue::new("instance_id", format!("inst-{r}")),
                    KeyValue::new("cached", i == 0),
                ],
            ));
        }
    }
    spans
}

/// 512 queued lines like procman's access log, each in a trace.
fn logs(resource: &Resource) -> LogLines {
    let mut lines = LogLines::new(resource, vec!["api".into(), "instances".into()]);
    for r in 0..BATCH as u64 {
        let mut trace = [0x4b; 16];
        trace[8..].copy_from_slice(&r.to_be_bytes());
        let fields = format!(
            r#","method":"GET","path":"/instances/inst-{r}","route":"/instances/{{id}}","status":200,"duration_ms":0.85,"request_id":"req-{r:08x}""#
        );
        lines.push(
            3,
            "procman::api",
            "request completed",
            0,
            Some((trace, [0x22; 8])),
            &fields,
        );
    }
    lines
}

/// The four paths, each one call per batch (not inlined: `callgrind --toggle-collect` finds
/// them by name).
#[inline(never)]
fn spans_watchpost(encoder: &mut SpanBatch, batch: Vec<SpanData>) -> Bytes {
    let body = Bytes::copy_from_slice(encoder.encode(&batch));
    drop(batch);
    body
}

#[inline(never)]
fn spans_sdk(attributes: &ResourceAttributesWithSchema, batch: Vec<SpanData>) -> Bytes {
    let request = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(batch, attributes),
    };
    Bytes::from(request.encode_to_vec())
}

#[inline(never)]
fn logs_watchpost(lines: &mut LogLines) -> Bytes {
    Bytes::copy_from_slice(lines.encode())
}

#[inline(never)]
fn logs_sdk(attributes: &ResourceAttributesWithSchema, lines: &LogLines) -> Bytes {
    let records = lines.sdk_records();
    let refs: Vec<_> = records.iter().map(|(r, s)| (r, s)).collect();
    let request = ExportLogsServiceRequest {
        resource_logs: group_logs_by_resource_and_scope(&LogBatch::new(&refs), attributes),
    };
    Bytes::from(request.encode_to_vec())
}

fn encode(c: &mut Criterion) {
    let resource = resource();
    let attributes = ResourceAttributesWithSchema::from(&resource);
    let spans = spans();
    let mut g = c.benchmark_group("spans_512");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut ours = SpanBatch::new(&resource);
    g.bench_function("watchpost", |b| {
        b.iter_batched(
            || spans.clone(),
            |batch| spans_watchpost(&mut ours, batch),
            BatchSize::LargeInput,
        )
    });
    g.bench_function("sdk", |b| {
        b.iter_batched(
            || spans.clone(),
            |batch| spans_sdk(&attributes, batch),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut lines = logs(&resource);
    let mut g = c.benchmark_group("logs_512");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("watchpost", |b| {
        b.iter(|| logs_watchpost(black_box(&mut lines)))
    });
    g.bench_function("sdk", |b| {
        b.iter(|| logs_sdk(&attributes, black_box(&lines)))
    });
    g.finish();
}

/// `EXPORT_BENCH_CALLGRIND=1`: each path on 10 batches, once, for
/// `valgrind --tool=callgrind --collect-atstart=no --toggle-collect='*spans_watchpost*' …`
/// (instructions per span: the total over 5120).
fn callgrind() {
    let resource = resource();
    let attributes = ResourceAttributesWithSchema::from(&resource);
    let spans = spans();
    let mut ours = SpanBatch::new(&resource);
    let mut lines = logs(&resource);
    // One batch each first: buffers grown, scopes known, as in a running worker.
    black_box(ours.encode(&spans).len());
    black_box(lines.encode().len());
    for _ in 0..10 {
        black_box(spans_watchpost(&mut ours, spans.clone()));
        black_box(spans_sdk(&attributes, spans.clone()));
        black_box(logs_watchpost(&mut lines));
        black_box(logs_sdk(&attributes, &lines));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(4)).warm_up_time(Duration::from_secs(1));
    targets = encode
}

fn main() {
    if std::env::var_os("EXPORT_BENCH_CALLGRIND").is_some() {
        callgrind();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
