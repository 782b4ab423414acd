//! Our encoding of spans against the SDK path's (opentelemetry-proto's transform of the same
//! `SpanData`, which opentelemetry-otlp sends), both decoded with prost and compared field by
//! field.

use std::borrow::Cow;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::trace::{
    Event, Link, SpanContext, SpanId, SpanKind, Status, TraceFlags, TraceId, TraceState,
};
use opentelemetry::{Array, InstrumentationScope, KeyValue, StringValue, Value};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::transform::trace::tonic::group_spans_by_resource_and_scope;
use opentelemetry_sdk::trace::{SpanData, SpanEvents, SpanLinks};
use opentelemetry_sdk::Resource;
use prost::Message as _;

use super::SpanEncoder;
use crate::export::encode::tests::assert_canonical;

/// Every kind of attribute value the API has.
fn every_value() -> Vec<KeyValue> {
    vec![
        KeyValue::new("s", "text with \"quotes\" and é"),
        KeyValue::new("empty", ""),
        KeyValue::new("yes", true),
        KeyValue::new("no", false),
        KeyValue::new("i", -42_i64),
        KeyValue::new("zero", 0_i64),
        KeyValue::new("max", i64::MAX),
        KeyValue::new("f", 1.5_f64),
        KeyValue::new("negzero", -0.0_f64),
        KeyValue::new("nan", f64::NAN),
        KeyValue::new("bools", Value::Array(Array::Bool(vec![true, false]))),
        KeyValue::new("ints", Value::Array(Array::I64(vec![1, -2, i64::MIN]))),
        KeyValue::new("floats", Value::Array(Array::F64(vec![0.25, -1e300]))),
        KeyValue::new(
            "strings",
            Value::Array(Array::String(vec![
                StringValue::from("a"),
                StringValue::from(""),
            ])),
        ),
        KeyValue::new("no_items", Value::Array(Array::I64(vec![]))),
    ]
}

fn at(nanos: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(nanos)
}

fn context(trace: u128, span: u64, flags: TraceFlags, remote: bool, state: &str) -> SpanContext {
    let state = if state.is_empty() {
        TraceState::default()
    } else {
        state.parse::<TraceState>().unwrap()
    };
    SpanContext::new(
        TraceId::from(trace),
        SpanId::from(span),
        flags,
        remote,
        state,
    )
}

fn span(name: &'static str, kind: SpanKind, scope: &InstrumentationScope) -> SpanData {
    SpanData {
        span_context: context(0xabc, 0x11, TraceFlags::SAMPLED, false, ""),
        parent_span_id: SpanId::INVALID,
        parent_span_is_remote: false,
        span_kind: kind,
        name: Cow::Borrowed(name),
        start_time: at(1_700_000_000_000_000_001),
        end_time: at(1_700_000_000_123_456_789),
        attributes: Vec::new(),
        dropped_attributes_count: 0,
        events: SpanEvents::default(),
        links: SpanLinks::default(),
        status: Status::Unset,
        instrumentation_scope: scope.clone(),
    }
}

/// Spans with every attribute type, events, links, statuses, kinds, flags, trace state, dropped
/// counts and two scopes, interleaved.
fn spans() -> Vec<SpanData> {
    let ours = InstrumentationScope::builder("watchpost")
        .with_version("1.2.3")
        .build();
    let other = InstrumentationScope::builder("other")
        .with_schema_url("https://opentelemetry.io/schemas/1.26.0")
        .with_attributes([KeyValue::new("scope.attr", 7_i64)])
        .build();
    let mut server = span("GET /instances/{id}", SpanKind::Server, &ours);
    server.span_context = context(
        0x0102_0304_0506_0708_090a_0b0c_0d0e_0f10,
        0x1112_1314_1516_1718,
        TraceFlags::SAMPLED,
        false,
        "vendor=value,other=x",
    );
    server.parent_span_id = SpanId::from(0x2122_2324_2526_2728);
    server.parent_span_is_remote = true;
    server.attributes = every_value();
    server.dropped_attributes_count = 3;
    let mut events = SpanEvents::default();
    events.events.push(Event::new(
        "exception",
        at(1_700_000_000_000_000_500),
        vec![
            KeyValue::new("exception.message", "boom"),
            KeyValue::new("n", 2_i64),
        ],
        1,
    ));
    events.events.push(Event::new(
        "",
        UNIX_EPOCH - Duration::from_secs(1),
        vec![],
        0,
    ));
    events.dropped_count = 4;
    server.events = events;
    let mut links = SpanLinks::default();
    links.links.push(Link::new(
        context(0x99, 0x98, TraceFlags::SAMPLED, true, "k=v"),
        vec![KeyValue::new("link.kind", "follows")],
        2,
    ));
    links.links.push(Link::new(
        context(0x77, 0x76, TraceFlags::default(), false, ""),
        vec![],
        0,
    ));
    links.dropped_count = 5;
    server.links = links;
    server.status = Status::error("upstream failed");

    let mut child = span("db.query", SpanKind::Internal, &ours);
    child.parent_span_id = SpanId::from(0x1112_1314_1516_1718);
    child.span_context = context(0xabc, 0x12, TraceFlags::default(), false, "");
    child.status = Status::Ok;
    child.attributes = vec![KeyValue::new("db.system", "sqlite")];

    let mut big = span("big", SpanKind::Client, &other);
    // A body of several kilobytes: its length takes more bytes than were reserved.
    big.attributes = vec![KeyValue::new("payload", "x".repeat(20_000))];
    big.status = Status::error("");

    vec![
        server,
        span("", SpanKind::Producer, &other),
        child,
        big,
        span("consume", SpanKind::Consumer, &ours),
    ]
}

fn resource() -> Resource {
    Resource::builder_empty()
        .with_attributes([
            KeyValue::new("service.name", "procman"),
            KeyValue::new("service.version", "0.1.0"),
            KeyValue::new("host.cpus", 2_i64),
            KeyValue::new("flag", true),
        ])
        .with_schema_url(
            Vec::<KeyValue>::new(),
            "https://opentelemetry.io/schemas/1.26.0",
        )
        .build()
}

/// What the SDK path sends for `spans`.
fn sdk(spans: &[SpanData], resource: &Resource) -> ExportTraceServiceRequest {
    let request = ExportTraceServiceRequest {
        resource_spans: group_spans_by_resource_and_scope(spans.to_vec(), &resource.into()),
    };
    // Through the wire as well, as the collector sees it.
    normalized(ExportTraceServiceRequest::decode(&*request.encode_to_vec()).unwrap())
}

/// Resource attributes sorted by key (the SDK's resource iterates in a hash map's order).
fn normalized(mut request: ExportTraceServiceRequest) -> ExportTraceServiceRequest {
    for rs in &mut request.resource_spans {
        if let Some(r) = &mut rs.resource {
            r.attributes.sort_by(|a, b| a.key.cmp(&b.key));
        }
    }
    request
}

fn decode(bytes: &[u8]) -> ExportTraceServiceRequest {
    normalized(ExportTraceServiceRequest::decode(bytes).expect("our bytes are valid protobuf"))
}

/// Compares span by span first (a readable failure), then everything.
fn assert_same(ours: &ExportTraceServiceRequest, sdk: &ExportTraceServiceRequest) {
    assert_eq!(ours.resource_spans.len(), sdk.resource_spans.len());
    for (o, s) in ours.resource_spans.iter().zip(&sdk.resource_spans) {
        assert_eq!(o.resource, s.resource, "resource");
        assert_eq!(o.schema_url, s.schema_url, "resource schema");
        assert_eq!(o.scope_spans.len(), s.scope_spans.len(), "scopes");
        for (os, ss) in o.scope_spans.iter().zip(&s.scope_spans) {
            assert_eq!(os.scope, ss.scope, "scope");
            assert_eq!(os.schema_url, ss.schema_url, "scope schema");
            assert_eq!(os.spans.len(), ss.spans.len(), "spans of {:?}", os.scope);
            for (a, b) in os.spans.iter().zip(&ss.spans) {
                assert_eq!(a.attributes.len(), b.attributes.len(), "{}", a.name);
                for (x, y) in a.attributes.iter().zip(&b.attributes) {
                    // NaN is not equal to itself: compare the bits.
                    assert_eq!(format!("{x:?}"), format!("{y:?}"), "{}", a.name);
                }
                let strip = |s: &opentelemetry_proto::tonic::trace::v1::Span| {
                    let mut s = s.clone();
                    s.attributes.clear();
                    s
                };
                assert_eq!(strip(a), strip(b));
            }
        }
    }
    assert_eq!(format!("{ours:?}"), format!("{sdk:?}"));
}

#[test]
fn spans_encode_to_what_the_sdk_path_sends() {
    let resource = resource();
    let spans = spans();
    let mut encoder = SpanEncoder::new(&resource);
    let ours = decode(encoder.encode(&spans));
    let sdk = sdk(&spans, &resource);
    assert_eq!(ours.resource_spans[0].scope_spans.len(), 2, "two scopes");
    assert_same(&ours, &sdk);
    // The encoder's buffer and scopes are reused: a second batch (part of the first, scopes in
    // another order) is encoded afresh.
    let again = &spans[1..];
    assert_same(&decode(encoder.encode(again)), &self::sdk(again, &resource));
}

#[test]
fn an_empty_batch_and_an_empty_resource_encode_as_the_sdk_path_does() {
    let empty = Resource::builder_empty().build();
    let mut encoder = SpanEncoder::new(&empty);
    assert_same(&decode(encoder.encode(&[])), &sdk(&[], &empty));
    let one = [span(
        "x",
        SpanKind::Internal,
        &InstrumentationScope::default(),
    )];
    assert_same(&decode(encoder.encode(&one)), &sdk(&one, &empty));
}

#[test]
fn a_typical_span_encodes_to_the_bytes_prost_writes() {
    // Every length minimal, the wrappers' too: the same bytes as prost's, not just the same
    // fields (one scope, so no grouping order to differ).
    let resource = resource();
    let spans = spans();
    for batch in [&spans[2..3], &spans[..1], &spans[3..4]] {
        let ours = SpanEncoder::new(&resource).encode(batch).to_vec();
        let request = ExportTraceServiceRequest {
            resource_spans: group_spans_by_resource_and_scope(batch.to_vec(), &(&resource).into()),
        };
        let theirs = request.encode_to_vec();
        assert_eq!(ours.len(), theirs.len(), "{}", batch[0].name);
        // The resource's attributes come in a hash map's order: compare them decoded.
        assert_same(&decode(&ours), &normalized(request));
    }
}

#[test]
fn every_length_prefix_in_a_span_request_is_minimal() {
    let resource = resource();
    let spans = spans();
    let mut encoder = SpanEncoder::new(&resource);
    // Two scopes, a span of 20 kB (3-byte lengths), and smaller batches whose wrappers take
    // one or two bytes; the empty batch.
    let mut longest = 0;
    for batch in [
        &spans[..],
        &spans[..0],
        &spans[1..2],
        &spans[..3],
        &spans[3..],
    ] {
        let seen = assert_canonical(encoder.encode(batch), "ExportTraceServiceRequest");
        assert!(seen.lengths > 0);
        longest = longest.max(seen.longest);
    }
    assert!(
        longest >= 16_384,
        "a three-byte length was walked: {longest}"
    );
    // A batch of many small spans: the wrappers' lengths need three bytes, the spans' one or
    // two.
    let many: Vec<SpanData> = std::iter::repeat_n(spans[2].clone(), 400).collect();
    let seen = assert_canonical(encoder.encode(&many), "ExportTraceServiceRequest");
    assert!(seen.longest >= 16_384, "{seen:?}");
    assert_same(&decode(encoder.encode(&many)), &sdk(&many, &resource));
}
