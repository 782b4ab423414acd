//! One line's state: the per-thread scratch buffers, the encoded fields each span keeps, and
//! how an event and its enclosing spans become one JSON line.

use std::borrow::Cow;
use std::cell::RefCell;
use std::time::SystemTime;

use opentelemetry::trace::TraceContextExt;
use smallvec::SmallVec;
use tracing::{Event, Subscriber};
use tracing_log::NormalizeEvent as _;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use super::access;
use super::visit::{self, Sink, Visitor};
use super::LayerState;
use crate::logs::bridge::PendingLog;
use crate::logs::encode;
use crate::logs::filter::verbosity;

/// Per-span data kept in the registry's extensions.
#[derive(Debug, Default)]
pub(super) struct SpanFields {
    /// The span's subsystem: its own `subsystem` field, else its parent's.
    pub(super) subsystem: Option<u16>,
    /// Encoded JSON values, back to back.
    pub(super) buf: Vec<u8>,
    /// (name, start, end) of each value in `buf`, in recording order (a few inline: most spans
    /// have a few fields the lines keep, the dotted ones are not kept).
    pub(super) fields: SmallVec<[(&'static str, u32, u32); 4]>,
    /// (resource kind, start, end) of resource id values in `buf`.
    pub(super) resources: SmallVec<[(u16, u32, u32); 1]>,
}

impl SpanFields {
    /// Adds the values of a later record: old fields not re-recorded keep their place,
    /// re-recorded ones move to the end.
    pub(super) fn merge(&mut self, new: &SpanFields, shared: &LayerState) {
        let mut merged = SpanFields {
            subsystem: self.subsystem,
            buf: Vec::with_capacity(self.buf.len() + new.buf.len()),
            fields: SmallVec::with_capacity(self.fields.len() + new.fields.len()),
            resources: SmallVec::new(),
        };
        let kept = self
            .fields
            .iter()
            .filter(|(n, _, _)| !new.fields.iter().any(|(m, _, _)| m == n))
            .map(|f| (f, &self.buf));
        for (&(name, s, e), buf) in kept.chain(new.fields.iter().map(|f| (f, &new.buf))) {
            let start = merged.buf.len() as u32;
            merged.buf.extend_from_slice(&buf[s as usize..e as usize]);
            merged.fields.push((name, start, merged.buf.len() as u32));
            if let Some(kind) = shared.resource_kind_of(name) {
                merged
                    .resources
                    .push((kind, start, merged.buf.len() as u32));
            }
        }
        *self = merged;
    }
}

/// Reused per-thread buffers.
#[derive(Default)]
pub(super) struct Scratch {
    /// The line being built.
    pub(super) line: Vec<u8>,
    fields: Vec<u8>,
    msg: String,
    text: String,
    seen: Vec<&'static str>,
    /// (resource kind, start, end) of resource id values in `fields`.
    hits: Vec<(u16, u32, u32)>,
    /// Resource ids of this event (kind, id), event first, then innermost span.
    pub(super) ids: Vec<(u16, String)>,
    /// Spare strings for `ids`, reused.
    spare: Vec<String>,
}

thread_local! {
    pub(super) static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// Encodes `event` with its enclosing spans' fields into `scratch.line` (and its resource ids
/// into `scratch.ids`), and queues it for the OpenTelemetry log bridge if that is on.
pub(super) fn encode_event<S>(
    shared: &LayerState,
    event: &Event<'_>,
    ctx: &Context<'_, S>,
    scratch: &mut Scratch,
) where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    // A record from the `log` crate: its real target, level, file and line.
    let normalized = event.normalized_metadata();
    let meta = normalized.as_ref().unwrap_or_else(|| event.metadata());
    let Scratch {
        line,
        fields,
        msg,
        text,
        seen,
        hits,
        ids,
        spare,
    } = scratch;
    line.clear();
    fields.clear();
    msg.clear();
    seen.clear();
    hits.clear();
    spare.extend(ids.drain(..).map(|(_, s)| s));

    // Event fields, in declaration order; the message is set aside.
    let (route, skip_mask) = if normalized.is_some() {
        let log_fields = event
            .metadata()
            .fields()
            .iter()
            .take(64)
            .filter(|f| f.name().starts_with("log."))
            .fold(0u64, |m, f| m | 1 << f.index());
        (shared.compute_route(meta), log_fields)
    } else {
        (shared.route(event.metadata()), 0)
    };
    // The HTTP layer's access line: its values staged typed (see `access`), else visited.
    let staged = route.trusted_mask != 0
        && normalized.is_none()
        && access::write_staged(shared, &route, meta, fields, msg, seen);
    if !staged {
        let mut visitor = Visitor::new(
            shared,
            &route,
            skip_mask,
            text,
            Sink::Event {
                out: fields,
                msg,
                seen,
                hits,
            },
        );
        event.record(&mut visitor);
    }
    let mut take_id = |kind: u16, raw: &[u8], ids: &mut Vec<(u16, String)>| {
        if ids.iter().any(|(k, _)| *k == kind) {
            return; // the event's own (or an inner span's) id wins
        }
        let raw = raw
            .strip_prefix(b"\"")
            .and_then(|r| r.strip_suffix(b"\""))
            .unwrap_or(raw);
        let mut s = spare.pop().unwrap_or_default();
        s.clear();
        match std::str::from_utf8(raw) {
            Ok(text) => s.push_str(text),
            Err(_) => s.push_str(&String::from_utf8_lossy(raw)),
        }
        ids.push((kind, s));
    };
    if shared.resources.is_some() {
        for &(kind, s, e) in hits.iter() {
            take_id(kind, &fields[s as usize..e as usize], ids);
        }
    }

    // Enclosing span fields, innermost first, skipping names already written.
    let mut subsystem = route.subsystem;
    let mut span_subsystem_found = subsystem.is_some();
    let mut span_ids = None;
    if let Some(scope) = ctx.event_scope(event) {
        for span in scope {
            let ext = span.extensions();
            if span_ids.is_none() {
                if let Some(o) = ext.get::<crate::traces::OtelSpan>() {
                    span_ids = Some((o.trace_id.to_bytes(), o.span_id.to_bytes()));
                }
            }
            let Some(data) = ext.get::<SpanFields>() else {
                continue;
            };
            if !span_subsystem_found {
                subsystem = data.subsystem;
                span_subsystem_found = true;
            }
            for &(kind, s, e) in &data.resources {
                take_id(kind, &data.buf[s as usize..e as usize], ids);
            }
            for &(name, s, e) in &data.fields {
                // Dotted span fields (`http.route`, `otel.name`: semantic-convention
                // attributes and bridge controls) belong to the trace, not to every line.
                if seen.contains(&name) || name.contains('.') {
                    continue;
                }
                seen.push(name);
                fields.push(b',');
                fields.push(b'"');
                if visit::is_reserved(name) {
                    fields.extend_from_slice(b"fields.");
                }
                encode::escape_into(fields, name);
                fields.extend_from_slice(b"\":");
                fields.extend_from_slice(&data.buf[s as usize..e as usize]);
            }
        }
    }
    let subsystem = subsystem.unwrap_or(shared.filter.default);

    line.extend_from_slice(b"{\"time\":\"");
    encode::rfc3339_micros_into(line, SystemTime::now());
    line.extend_from_slice(b"\",\"level\":\"");
    line.extend_from_slice(level_str(meta.level()));
    line.extend_from_slice(b"\",\"msg\":");
    if staged {
        // The HTTP layer's own message: a literal, nothing to mask.
        visit::cut_into(shared, line, msg);
    } else {
        visit::write_text(shared, line, msg);
    }
    line.extend_from_slice(b",\"subsystem\":");
    line.extend_from_slice(&shared.subsystem_names[subsystem as usize]);
    // `service`, `version`, `environment`: encoded once, copied (nothing when switched off).
    line.extend_from_slice(&shared.standard_fields);
    let span_ids = span_ids.or_else(current_ids);
    if let Some((trace_id, span_id)) = span_ids {
        line.extend_from_slice(b",\"trace_id\":\"");
        encode::hex_into(line, &trace_id);
        line.extend_from_slice(b"\",\"span_id\":\"");
        encode::hex_into(line, &span_id);
        line.push(b'"');
    }
    line.extend_from_slice(fields);
    line.extend_from_slice(b"}\n");
    if let Some(bridge) = shared.log_sink.get() {
        let target = if normalized.is_some() {
            Cow::Owned(meta.target().to_string())
        } else {
            Cow::Borrowed(event.metadata().target())
        };
        // Exactly the line's fields (already redacted, masked and cut) and its message.
        let body = if staged {
            msg.clone()
        } else {
            visit::body_text(shared, msg)
        };
        let verbosity = verbosity(meta.level());
        let pending = PendingLog::new(verbosity, target, body, subsystem, span_ids, fields);
        bridge.send(pending, verbosity <= 2);
    }
}

/// The active OpenTelemetry span's ids, if any: read from the thread's current OTel context,
/// which the tracing bridge sets when a span is entered. No allocation.
#[inline]
fn current_ids() -> Option<([u8; 16], [u8; 8])> {
    opentelemetry::Context::map_current(|cx| {
        if !cx.has_active_span() {
            return None;
        }
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid()
            .then(|| (sc.trace_id().to_bytes(), sc.span_id().to_bytes()))
    })
}

/// The `level` value of a line.
fn level_str(level: &tracing::Level) -> &'static [u8] {
    match verbosity(level) {
        1 => b"ERROR",
        2 => b"WARN",
        3 => b"INFO",
        4 => b"DEBUG",
        _ => b"TRACE",
    }
}
