//! The field visitor: encodes an event's or a span's field values as JSON (types kept, secrets
//! redacted, strings masked, cut and escaped) and notes where resource ids are.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use tracing::field::{Field, Visit};

use super::line::SpanFields;
use super::LayerState;
use crate::logs::encode;
use crate::logs::filter::Route;
use crate::redact::REDACTED;
use crate::util::truncate_utf8;

/// Whether the layer writes a key called `name` itself (`time`, `level`, `msg`, `subsystem`, the
/// standard fields `service`, `version`, `environment` — reserved even when they are switched
/// off, as a log shipper then adds them —, `trace_id`, `span_id`): event and span fields with
/// these names are written as `fields.<name>`, so that a line never has a key twice.
#[inline]
pub(super) fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "time"
            | "level"
            | "msg"
            | "subsystem"
            | "service"
            | "version"
            | "environment"
            | "trace_id"
            | "span_id"
    )
}

/// Marker appended to a value cut at the size limit.
pub const TRUNCATED_MARKER: &str = "…[truncated]";

/// Where a visitor puts what it sees.
pub(super) enum Sink<'a> {
    /// Event fields: `,"name":value` into `out`, message text into `msg`, names into `seen`.
    Event {
        out: &'a mut Vec<u8>,
        msg: &'a mut String,
        seen: &'a mut Vec<&'static str>,
        hits: &'a mut Vec<(u16, u32, u32)>,
    },
    /// Span fields: values into the span's buffer; a `subsystem` field is captured by name.
    Span {
        data: &'a mut SpanFields,
        subsystem: &'a mut Option<u16>,
    },
}

/// Encodes the fields of one event or one span record.
pub(super) struct Visitor<'a> {
    shared: &'a LayerState,
    secret_mask: u64,
    resource_mask: u64,
    reserved_mask: u64,
    plain_name_mask: u64,
    trusted_mask: u64,
    /// Fields not written at all (see `skipped`).
    skip_mask: u64,
    /// Where the current field's value starts in its buffer.
    value_at: usize,
    text: &'a mut String,
    sink: Sink<'a>,
}

impl<'a> Visitor<'a> {
    /// A visitor with the callsite's redaction and resource masks; `skip_mask` marks fields not
    /// written at all; `text` is a reusable buffer for formatted values.
    pub(super) fn new(
        shared: &'a LayerState,
        route: &Route,
        skip_mask: u64,
        text: &'a mut String,
        sink: Sink<'a>,
    ) -> Self {
        Visitor {
            shared,
            secret_mask: route.secret_mask,
            resource_mask: route.resource_mask,
            reserved_mask: route.reserved_mask,
            plain_name_mask: route.plain_name_mask,
            trusted_mask: route.trusted_mask,
            skip_mask,
            value_at: 0,
            text,
            sink,
        }
    }

    /// A field that is not written: a dotted span field (`http.route`, `otel.name`: trace data,
    /// never in log lines) or a `log.*` field of a record from the `log` crate (its target, file
    /// and line, already used for routing).
    #[inline]
    fn skipped(&self, field: &Field) -> bool {
        let i = field.index();
        if i < 64 {
            self.skip_mask & (1 << i) != 0
        } else {
            matches!(self.sink, Sink::Span { .. })
                && field.name().contains('.')
                && self.shared.resource_kind_of(field.name()).is_none()
        }
    }

    /// Starts a field: returns the buffer to write the value into, or `None` if the field is
    /// not written (message handled separately).
    fn begin(&mut self, field: &Field) -> Option<&mut Vec<u8>> {
        let name = field.name();
        match &mut self.sink {
            Sink::Event { out, seen, .. } => {
                out.push(b',');
                out.push(b'"');
                let i = field.index();
                let reserved = if i < 64 {
                    self.reserved_mask & (1 << i) != 0
                } else {
                    is_reserved(name)
                };
                if reserved {
                    out.extend_from_slice(b"fields.");
                }
                if i < 64 && self.plain_name_mask & (1 << i) != 0 {
                    out.extend_from_slice(name.as_bytes());
                } else {
                    encode::escape_into(out, name);
                }
                out.extend_from_slice(b"\":");
                seen.push(name);
                self.value_at = out.len();
                Some(out)
            }
            Sink::Span { data, .. } => {
                if data.buf.capacity() == 0 {
                    data.buf.reserve(64); // one allocation for a typical span's values
                }
                self.value_at = data.buf.len();
                data.fields.push((name, data.buf.len() as u32, 0));
                Some(&mut data.buf)
            }
        }
    }

    /// Ends a field whose value started at `start`: records the span field's range, and the
    /// value's range if the field is a resource id.
    fn end(&mut self, field: &Field, start: usize) {
        let i = field.index();
        let kind = if i < 64 && self.resource_mask & (1 << i) != 0 {
            self.shared.resource_kind_of(field.name())
        } else {
            None
        };
        match &mut self.sink {
            Sink::Span { data, .. } => {
                let end = data.buf.len() as u32;
                if let Some(last) = data.fields.last_mut() {
                    last.2 = end;
                }
                if let Some(k) = kind {
                    data.resources.push((k, start as u32, end));
                }
            }
            Sink::Event { out, hits, .. } => {
                if let Some(k) = kind {
                    hits.push((k, start as u32, out.len() as u32));
                }
            }
        }
    }

    /// Writes a string value: masked, truncated, escaped.
    fn string_value(&mut self, field: &Field, s: &str) {
        if self.skipped(field) {
            return;
        }
        let name = field.name();
        if let Sink::Event { msg, .. } = &mut self.sink {
            if name == "message" {
                msg.clear();
                msg.push_str(s);
                return;
            }
        }
        if let Sink::Span { subsystem, .. } = &mut self.sink {
            if name == "subsystem" {
                **subsystem = Some(
                    self.shared
                        .filter
                        .index(s)
                        .unwrap_or(self.shared.filter.default),
                );
                return;
            }
        }
        let shared = self.shared;
        let secret = shared.is_secret(self.secret_mask, field);
        let i = field.index();
        let trusted = i < 64 && self.trusted_mask & (1 << i) != 0;
        let Some(out) = self.begin(field) else { return };
        if secret {
            encode::string_into(out, REDACTED);
        } else if trusted {
            cut_into(shared, out, s);
        } else {
            write_text(shared, out, s);
        }
        self.end(field, self.value_at);
    }

    fn raw_value(&mut self, field: &Field, write: impl FnOnce(&mut Vec<u8>)) {
        if self.skipped(field) {
            return;
        }
        let secret = self.shared.is_secret(self.secret_mask, field);
        let Some(out) = self.begin(field) else { return };
        if secret {
            encode::string_into(out, REDACTED);
        } else {
            write(out);
        }
        self.end(field, self.value_at);
    }
}

/// `s` with e-mail addresses and card numbers masked, if the redaction masks values.
fn masked<'s>(shared: &LayerState, s: &'s str) -> Cow<'s, str> {
    if shared.redactor.masks_values() {
        shared.redactor.mask(s)
    } else {
        Cow::Borrowed(s)
    }
}

/// Masks, truncates and escapes `s` as a JSON string into `out`.
pub(super) fn write_text(shared: &LayerState, out: &mut Vec<u8>, s: &str) {
    cut_into(shared, out, &masked(shared, s));
}

/// Truncates and escapes `s` as a JSON string into `out` (not masked: see [`write_text`]).
pub(super) fn cut_into(shared: &LayerState, out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    match truncate_utf8(s, shared.max_field_bytes) {
        Some(head) => {
            encode::escape_into(out, head);
            out.extend_from_slice(TRUNCATED_MARKER.as_bytes());
        }
        None => encode::escape_into(out, s),
    }
    out.push(b'"');
}

/// `s` masked and cut like [`write_text`] writes it, unescaped: the body of the line's
/// OpenTelemetry log record, so a huge message cannot make a huge queued record.
pub(super) fn body_text(shared: &LayerState, s: &str) -> String {
    let s = masked(shared, s);
    match truncate_utf8(&s, shared.max_field_bytes) {
        Some(head) => format!("{head}{TRUNCATED_MARKER}"),
        None => s.into_owned(),
    }
}

impl Visit for Visitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.raw_value(field, |out| encode::f64_into(out, value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_i128(&mut self, field: &Field, value: i128) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_u128(&mut self, field: &Field, value: u128) {
        self.raw_value(field, |out| encode::int_into(out, value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.raw_value(field, |out| {
            out.extend_from_slice(if value { b"true" } else { b"false" })
        });
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.string_value(field, value);
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if self.skipped(field) {
            return;
        }
        let mut text = std::mem::take(self.text);
        text.clear();
        let _ = write!(text, "{value}");
        let mut source = value.source();
        while let Some(s) = source {
            let _ = write!(text, ": {s}");
            source = s.source();
        }
        self.string_value(field, &text);
        *self.text = text;
    }
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.skipped(field) {
            return;
        }
        let mut text = std::mem::take(self.text);
        text.clear();
        let _ = write!(text, "{value:?}");
        self.string_value(field, &text);
        *self.text = text;
    }
}
