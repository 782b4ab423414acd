//! The log layer's side of [`crate::staged`]: the HTTP server layer's request span and access
//! line written from their staged values, byte for byte what the field visitor writes.
//!
//! A callsite whose fields the configuration treats specially (a field named as a secret or a
//! resource id) is left to the visitor.

use super::line::SpanFields;
use super::visit;
use super::LayerState;
use crate::catalogue::targets;
use crate::logs::encode;
use crate::logs::filter::Route;
use crate::staged;

/// If `meta` is the HTTP layer's access line and its values are staged, writes its fields into
/// `out` as the visitor would (`,"method":"GET",…`), its message into `msg` and its field names
/// into `seen`, and returns `true`; otherwise leaves everything as it was and returns `false`
/// (the caller visits the event's fields).
pub(super) fn write_staged(
    shared: &LayerState,
    route: &Route,
    meta: &tracing::Metadata<'_>,
    out: &mut Vec<u8>,
    msg: &mut String,
    seen: &mut Vec<&'static str>,
) -> bool {
    if meta.target() != targets::HTTP_ACCESS || !targets::is_http_server_callsite(meta) {
        return false;
    }
    // A field the configuration names as a secret or a resource id, or reserved: the visitor's.
    let special = route.secret_mask != 0 || route.resource_mask != 0 || route.reserved_mask != 0;
    staged::take_line(|v| {
        if special {
            return false;
        }
        // Trusted values (see `targets::HTTP_TRUSTED_FIELDS`): cut and escaped, not scanned.
        let text = |out: &mut Vec<u8>, seen: &mut Vec<&'static str>, key, name, v: &str| {
            name_into(out, seen, key, name);
            visit::cut_into(shared, out, v);
        };
        text(out, seen, b",\"method\":", "method", v.method);
        text(out, seen, b",\"path\":", "path", v.path);
        name_into(out, seen, b",\"status\":", "status");
        encode::int_into(out, u64::from(v.status));
        name_into(out, seen, b",\"bytes\":", "bytes");
        encode::int_into(out, v.bytes);
        name_into(out, seen, b",\"duration_ms\":", "duration_ms");
        encode::f64_into(out, v.duration_ms);
        if let Some(remote) = v.remote_addr {
            text(out, seen, b",\"remote_addr\":", "remote_addr", remote);
        }
        text(out, seen, b",\"request_id\":", "request_id", v.request_id);
        name_into(out, seen, b",\"complete\":", "complete");
        out.extend_from_slice(if v.complete { b"true" } else { b"false" });
        msg.clear();
        msg.push_str(v.msg());
        staged::count_taken(0);
        true
    })
    .unwrap_or(false)
}

/// If `meta` is the HTTP layer's request span and its values are staged, writes what the log
/// layer keeps of them (`request_id`; the dotted fields are trace attributes, never in lines)
/// into `data` as the visitor would and returns `Some` with the span's own subsystem (as the
/// visitor returns it); otherwise `None` (the caller visits the span's fields).
pub(super) fn take_span(
    shared: &LayerState,
    meta: &'static tracing::Metadata<'static>,
    data: &mut SpanFields,
) -> Option<Option<u16>> {
    if !meta.is_span() || !targets::is_http_server_callsite(meta) {
        return None;
    }
    // (A reserved name, `subsystem`, is the span's own; it is renamed only in lines.)
    let route = shared.route(meta);
    let special = route.secret_mask != 0 || route.resource_mask != 0;
    staged::take_span_for_logs(|v| {
        if special {
            return None;
        }
        let subsystem = shared
            .filter
            .index(v.subsystem)
            .unwrap_or(shared.filter.default);
        data.buf.reserve(64);
        let start = data.buf.len() as u32;
        visit::cut_into(shared, &mut data.buf, v.request_id);
        data.fields
            .push(("request_id", start, data.buf.len() as u32));
        staged::count_taken(1);
        Some(Some(subsystem))
    })
    .flatten()
}

/// `,"name":` (`key` is that text: the access line's names are plain ASCII, no escaping), and
/// the name seen.
#[inline]
fn name_into(out: &mut Vec<u8>, seen: &mut Vec<&'static str>, key: &[u8], name: &'static str) {
    debug_assert_eq!(key, format!(",\"{name}\":").as_bytes());
    out.extend_from_slice(key);
    seen.push(name);
}
