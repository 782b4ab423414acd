//! Spans to an OTLP `ExportTraceServiceRequest`, straight to bytes (`encode.rs` has the wire
//! primitives): one `ResourceSpans` whose resource is encoded once, and one `ScopeSpans` per
//! instrumentation scope in the order the scopes first appear in the batch (as the SDK's
//! `group_spans_by_resource_and_scope` has them); each scope's bytes are encoded once and kept.

use opentelemetry::trace::{SpanId, SpanKind, Status};
use opentelemetry::InstrumentationScope;
use opentelemetry_sdk::trace::SpanData;

use super::encode::{
    begin, bytes, close_gaps, end, end_wide, fixed32, fixed64, key_value, nanos, resource,
    resource_schema, scope, uint, Gap, WIDE,
};

/// `SpanFlags`: the span's context says whether its parent is remote, and whether it is.
const HAS_IS_REMOTE: u32 = 0x100;
const IS_REMOTE: u32 = 0x200;

/// Encodes batches of spans into one reused buffer.
#[derive(Debug)]
pub(crate) struct SpanEncoder {
    /// `ResourceSpans.resource` (field 1, with its key), encoded once.
    resource: Vec<u8>,
    /// `ResourceSpans.schema_url` (field 3), encoded once.
    schema: Vec<u8>,
    /// The scopes met so far, each with its `ScopeSpans.scope` field and `schema_url` field.
    scopes: Vec<(InstrumentationScope, Vec<u8>, Vec<u8>)>,
    /// Per span of the batch being encoded, the index of its scope in `scopes`.
    scope_of: Vec<usize>,
    /// The scopes of the batch being encoded, in order of first appearance.
    order: Vec<usize>,
    /// The unused room of the wrappers' length prefixes in the batch being encoded.
    gaps: Vec<Gap>,
    buf: Vec<u8>,
}

impl SpanEncoder {
    pub(crate) fn new(res: &opentelemetry_sdk::Resource) -> Self {
        let mut resource_bytes = Vec::new();
        resource(&mut resource_bytes, res);
        let mut schema = Vec::new();
        resource_schema(&mut schema, res);
        SpanEncoder {
            resource: resource_bytes,
            schema,
            scopes: Vec::new(),
            scope_of: Vec::new(),
            order: Vec::new(),
            gaps: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// The index of `s` in the known scopes (added, with its bytes, the first time).
    fn scope_index(&mut self, s: &InstrumentationScope) -> usize {
        if let Some(i) = self.scopes.iter().position(|(known, _, _)| known == s) {
            return i;
        }
        let mut field = Vec::new();
        scope(&mut field, 1, s, None);
        let mut schema = Vec::new();
        bytes(
            &mut schema,
            3,
            s.schema_url().unwrap_or_default().as_bytes(),
        );
        self.scopes.push((s.clone(), field, schema));
        self.scopes.len() - 1
    }

    /// The `ExportTraceServiceRequest` of `spans`: valid until the next call.
    pub(crate) fn encode<'a, I>(&mut self, spans: I) -> &[u8]
    where
        I: IntoIterator<Item = &'a SpanData>,
        I::IntoIter: Clone,
    {
        let spans = spans.into_iter();
        self.scope_of.clear();
        self.order.clear();
        for span in spans.clone() {
            let i = self.scope_index(&span.instrumentation_scope);
            if !self.order.contains(&i) {
                self.order.push(i);
            }
            self.scope_of.push(i);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.gaps.clear();
        // ExportTraceServiceRequest.resource_spans = 1
        let rs = begin(&mut buf, 1, WIDE);
        buf.extend_from_slice(&self.resource);
        for &s in &self.order {
            // ResourceSpans.scope_spans = 2
            let ss = begin(&mut buf, 2, WIDE);
            buf.extend_from_slice(&self.scopes[s].1);
            for (span, _) in (spans.clone().zip(&self.scope_of)).filter(|(_, &of)| of == s) {
                // ScopeSpans.spans = 2
                encode_span(&mut buf, 2, span);
            }
            buf.extend_from_slice(&self.scopes[s].2);
            end_wide(&mut buf, ss, &mut self.gaps);
        }
        buf.extend_from_slice(&self.schema);
        end_wide(&mut buf, rs, &mut self.gaps);
        let start = close_gaps(&mut buf, &mut self.gaps);
        self.buf = buf;
        &self.buf[start..]
    }
}

/// One `Span` as field `field`.
fn encode_span(buf: &mut Vec<u8>, field: u32, span: &SpanData) {
    let m = begin(buf, field, 2);
    let cx = &span.span_context;
    bytes(buf, 1, &cx.trace_id().to_bytes());
    bytes(buf, 2, &cx.span_id().to_bytes());
    let state = cx.trace_state().header();
    bytes(buf, 3, state.as_bytes());
    if span.parent_span_id != SpanId::INVALID {
        bytes(buf, 4, &span.parent_span_id.to_bytes());
    }
    bytes(buf, 5, span.name.as_bytes());
    uint(buf, 6, kind(&span.span_kind));
    fixed64(buf, 7, nanos(span.start_time));
    fixed64(buf, 8, nanos(span.end_time));
    for kv in &span.attributes {
        key_value(buf, 9, kv);
    }
    uint(buf, 10, u64::from(span.dropped_attributes_count));
    for event in span.events.iter() {
        // Span.Event: time_unix_nano = 1, name = 2, attributes = 3, dropped = 4
        let e = begin(buf, 11, 1);
        fixed64(buf, 1, nanos(event.timestamp));
        bytes(buf, 2, event.name.as_bytes());
        for kv in &event.attributes {
            key_value(buf, 3, kv);
        }
        uint(buf, 4, u64::from(event.dropped_attributes_count));
        end(buf, e);
    }
    uint(buf, 12, u64::from(span.events.dropped_count));
    for link in span.links.iter() {
        // Span.Link: trace_id = 1, span_id = 2, trace_state = 3, attributes = 4, dropped = 5,
        // flags = 6
        let l = begin(buf, 13, 1);
        let lc = &link.span_context;
        bytes(buf, 1, &lc.trace_id().to_bytes());
        bytes(buf, 2, &lc.span_id().to_bytes());
        bytes(buf, 3, lc.trace_state().header().as_bytes());
        for kv in &link.attributes {
            key_value(buf, 4, kv);
        }
        uint(buf, 5, u64::from(link.dropped_attributes_count));
        fixed32(buf, 6, flags(lc.trace_flags().to_u8(), lc.is_remote()));
        end(buf, l);
    }
    uint(buf, 14, u64::from(span.links.dropped_count));
    // Status: message = 2, code = 3 (always set by the SDK's transform, even when unset)
    let st = begin(buf, 15, 1);
    match &span.status {
        Status::Unset => {}
        Status::Ok => uint(buf, 3, 1),
        Status::Error { description } => {
            bytes(buf, 2, description.as_bytes());
            uint(buf, 3, 2);
        }
    }
    end(buf, st);
    fixed32(
        buf,
        16,
        flags(cx.trace_flags().to_u8(), span.parent_span_is_remote),
    );
    end(buf, m);
}

/// `Span.flags`/`Link.flags`: the W3C trace flags and whether the parent (or the linked
/// context) is remote.
fn flags(trace_flags: u8, remote: bool) -> u32 {
    u32::from(trace_flags) | HAS_IS_REMOTE | if remote { IS_REMOTE } else { 0 }
}

/// `Span.SpanKind`.
fn kind(kind: &SpanKind) -> u64 {
    match kind {
        SpanKind::Internal => 1,
        SpanKind::Server => 2,
        SpanKind::Client => 3,
        SpanKind::Producer => 4,
        SpanKind::Consumer => 5,
    }
}

#[cfg(test)]
#[path = "encode_traces_tests.rs"]
mod tests;
