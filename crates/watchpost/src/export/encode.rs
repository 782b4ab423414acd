//! Hand-written protobuf for OTLP: the wire primitives (varints, tags, length-delimited fields)
//! and the parts spans and log records share (`AnyValue`, `KeyValue`, `Resource`,
//! `InstrumentationScope`), written straight into a caller's reused `Vec<u8>`.
//!
//! No prost structs are built: a nested message is written in place behind a reserved length
//! prefix, which is filled in (and, when the guess was wrong, the body moved by a byte or two)
//! once the message ends. Every length is written as a minimal varint, as prost writes it:
//! overlong varints decode in most places, but they are not the canonical encoding and stricter
//! decoders refuse them, and we send to every collector in the field. The batch-level wrappers
//! (`ResourceSpans`, `ScopeSpans`, …), whose size is not known until the batch is written,
//! reserve five bytes: their minimal length is written at the end of that room ([`end_wide`]),
//! and once the batch is written the unused room is closed by moving what comes *before* it
//! ([`close_gaps`]), so the records of the last scope never move and no byte moves twice. What
//! is written is what `opentelemetry-proto`'s prost structs encode to, field for field (proven
//! by the tests beside `encode_traces.rs` and `encode_logs.rs`, which decode both with prost,
//! and by a walk of every varint of whole requests in `encode_tests.rs`): a proto3 scalar at its
//! default is left out as prost leaves it out, a message the SDK sets (`status`, `body`, a
//! value) is written even when empty.
//!
//! Field numbers are those of opentelemetry-proto v1 (`common.proto`, `resource.proto`,
//! `trace.proto`, `logs.proto`, `collector/*/v1/*_service.proto`).

use std::time::{SystemTime, UNIX_EPOCH};

use opentelemetry::{Array, KeyValue, Value};

/// Wire types.
const VARINT: u32 = 0;
const FIXED64: u32 = 1;
const LEN: u32 = 2;
const FIXED32: u32 = 5;

/// Appends `v` as a varint.
#[inline]
pub(super) fn varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Appends the key of field `field` with wire type `wire`.
#[inline]
fn key(buf: &mut Vec<u8>, field: u32, wire: u32) {
    varint(buf, u64::from((field << 3) | wire));
}

/// A `uint32`/`uint64`/`int64`/enum field, left out at 0 (proto3).
#[inline]
pub(super) fn uint(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(buf, field, VARINT);
        varint(buf, v);
    }
}

/// A `fixed64` field, left out at 0.
#[inline]
pub(super) fn fixed64(buf: &mut Vec<u8>, field: u32, v: u64) {
    if v != 0 {
        key(buf, field, FIXED64);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `fixed32` field, left out at 0.
#[inline]
pub(super) fn fixed32(buf: &mut Vec<u8>, field: u32, v: u32) {
    if v != 0 {
        key(buf, field, FIXED32);
        buf.extend_from_slice(&v.to_le_bytes());
    }
}

/// A `bytes` or `string` field, left out when empty.
#[inline]
pub(super) fn bytes(buf: &mut Vec<u8>, field: u32, v: &[u8]) {
    if !v.is_empty() {
        bytes_always(buf, field, v);
    }
}

/// A `bytes` or `string` field written even when empty (a oneof member).
#[inline]
fn bytes_always(buf: &mut Vec<u8>, field: u32, v: &[u8]) {
    key(buf, field, LEN);
    varint(buf, v.len() as u64);
    buf.extend_from_slice(v);
}

/// The start of a nested message: its key and `reserved` bytes for its length. Hand the result
/// to [`end`].
#[inline]
pub(super) fn begin(buf: &mut Vec<u8>, field: u32, reserved: usize) -> Mark {
    key(buf, field, LEN);
    let at = buf.len();
    match reserved {
        1 => buf.push(0),
        2 => buf.extend_from_slice(&[0, 0]),
        _ => buf.resize(at + reserved, 0),
    }
    Mark { at, reserved }
}

/// Where a nested message's length goes, and how many bytes were reserved for it.
#[derive(Clone, Copy)]
pub(super) struct Mark {
    at: usize,
    reserved: usize,
}

/// The number of bytes of `v` as a varint.
#[inline]
fn varint_len(v: u64) -> usize {
    // 1 + (bits above the first 7) / 7, at least 1.
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// Ends the message begun at `mark`: writes its length as a minimal varint, moving the body
/// when the reserved room was not its size.
#[inline]
pub(super) fn end(buf: &mut Vec<u8>, mark: Mark) {
    let len = buf.len() - mark.at - mark.reserved;
    // The common cases: the guess was right.
    match (mark.reserved, len) {
        (1, 0..0x80) => buf[mark.at] = len as u8,
        (2, 0x80..0x4000) => {
            buf[mark.at] = (len as u8) | 0x80;
            buf[mark.at + 1] = (len >> 7) as u8;
        }
        _ => end_moving(buf, mark),
    }
}

/// [`end`] when the reserved room was not the length's size.
#[cold]
#[inline(never)]
fn end_moving(buf: &mut Vec<u8>, mark: Mark) {
    let body = mark.at + mark.reserved;
    let len = buf.len() - body;
    let need = varint_len(len as u64);
    if need != mark.reserved {
        let old_end = buf.len();
        if need > mark.reserved {
            buf.resize(old_end + need - mark.reserved, 0);
            buf.copy_within(body..old_end, mark.at + need);
        } else {
            buf.copy_within(body..old_end, mark.at + need);
            buf.truncate(old_end - (mark.reserved - need));
        }
    }
    let mut v = len as u64;
    for b in &mut buf[mark.at..mark.at + need] {
        *b = (v as u8) | 0x80;
        v >>= 7;
    }
    buf[mark.at + need - 1] &= 0x7f;
}

/// Room reserved for a batch-level wrapper's length (a length below 2^35).
pub(super) const WIDE: usize = 5;

/// Unused room left in front of a wrapper's length: `(where, how many bytes)`.
pub(super) type Gap = (usize, usize);

/// Ends a wrapper begun with [`WIDE`] reserved bytes: its length (not counting the room in
/// `gaps` inside it, which [`close_gaps`] will remove) as a minimal varint at the end of the
/// room, and the room left in front of it added to `gaps` (in any order: [`close_gaps`] sorts
/// them).
#[inline]
pub(super) fn end_wide(buf: &mut [u8], mark: Mark, gaps: &mut Vec<Gap>) {
    debug_assert_eq!(mark.reserved, WIDE);
    let body = mark.at + WIDE;
    let inside: usize = gaps
        .iter()
        .filter(|&&(at, _)| at > mark.at)
        .map(|&(_, n)| n)
        .sum();
    let len = (buf.len() - body - inside) as u64;
    let need = varint_len(len);
    debug_assert!(need <= WIDE, "a wrapper of 2^35 bytes or more");
    let mut v = len;
    for b in &mut buf[body - need..body] {
        *b = (v as u8) | 0x80;
        v >>= 7;
    }
    buf[body - 1] &= 0x7f;
    if need < WIDE {
        gaps.push((mark.at, WIDE - need));
    }
}

/// Closes the `gaps` [`end_wide`] left: everything in front of a gap moves towards the end of
/// the buffer by the room of that gap and of every gap after it (each byte at most once; nothing
/// after the last gap moves). Returns where the message now starts: `&buf[start..]` is it.
pub(super) fn close_gaps(buf: &mut [u8], gaps: &mut [Gap]) -> usize {
    gaps.sort_unstable_by_key(|&(at, _)| at);
    let mut shift = 0;
    let mut end = buf.len();
    for &(at, n) in gaps.iter().rev() {
        // What lies between this gap and the next, already moved by `shift`.
        let from = at + n;
        if shift > 0 {
            buf.copy_within(from..end, from + shift);
        }
        shift += n;
        end = at;
    }
    if shift > 0 {
        buf.copy_within(0..end, shift);
    }
    shift
}

/// Nanoseconds since the Unix epoch, 0 before it (as the SDK's transform has it).
#[inline]
pub(super) fn nanos(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

// AnyValue's oneof members.
const STRING_VALUE: u32 = 1;
const BOOL_VALUE: u32 = 2;
const INT_VALUE: u32 = 3;
const DOUBLE_VALUE: u32 = 4;
const ARRAY_VALUE: u32 = 5;

/// An `AnyValue` holding a string, as field `field`.
#[inline]
pub(super) fn any_string(buf: &mut Vec<u8>, field: u32, s: &str) {
    let m = begin(buf, field, 1);
    bytes_always(buf, STRING_VALUE, s.as_bytes());
    end(buf, m);
}

/// An `AnyValue` holding an `int64`, as field `field`.
#[inline]
pub(super) fn any_int(buf: &mut Vec<u8>, field: u32, v: i64) {
    let m = begin(buf, field, 1);
    key(buf, INT_VALUE, VARINT);
    varint(buf, v as u64);
    end(buf, m);
}

/// An `AnyValue` holding a `double`, as field `field`.
#[inline]
pub(super) fn any_double(buf: &mut Vec<u8>, field: u32, v: f64) {
    let m = begin(buf, field, 1);
    key(buf, DOUBLE_VALUE, FIXED64);
    buf.extend_from_slice(&v.to_le_bytes());
    end(buf, m);
}

/// An `AnyValue` holding a `bool`, as field `field`.
#[inline]
pub(super) fn any_bool(buf: &mut Vec<u8>, field: u32, v: bool) {
    let m = begin(buf, field, 1);
    key(buf, BOOL_VALUE, VARINT);
    buf.push(u8::from(v));
    end(buf, m);
}

/// An attribute value as an `AnyValue` (arrays as an `ArrayValue` of `AnyValue`s), as field
/// `field`.
fn any_value(buf: &mut Vec<u8>, field: u32, value: &Value) {
    match value {
        Value::String(s) => any_string(buf, field, s.as_str()),
        Value::I64(v) => any_int(buf, field, *v),
        Value::F64(v) => any_double(buf, field, *v),
        Value::Bool(v) => any_bool(buf, field, *v),
        Value::Array(array) => {
            let m = begin(buf, field, 1);
            let values = begin(buf, ARRAY_VALUE, 1);
            // ArrayValue.values = 1
            match array {
                Array::Bool(vs) => vs.iter().for_each(|v| any_bool(buf, 1, *v)),
                Array::I64(vs) => vs.iter().for_each(|v| any_int(buf, 1, *v)),
                Array::F64(vs) => vs.iter().for_each(|v| any_double(buf, 1, *v)),
                Array::String(vs) => vs.iter().for_each(|v| any_string(buf, 1, v.as_str())),
                // A kind of array added to the API later: its text, rather than nothing.
                other => any_string(buf, 1, &other.to_string()),
            }
            end(buf, values);
            end(buf, m);
        }
        // A kind of value added to the API later: its text, rather than nothing.
        other => any_string(buf, field, other.as_str().as_ref()),
    }
}

/// One attribute as a `KeyValue` (key = 1, value = 2), as field `field`.
#[inline]
pub(super) fn key_value(buf: &mut Vec<u8>, field: u32, kv: &KeyValue) {
    let m = begin(buf, field, 1);
    bytes(buf, 1, kv.key.as_str().as_bytes());
    any_value(buf, 2, &kv.value);
    end(buf, m);
}

/// A `KeyValue` whose value is a string, as field `field`.
#[inline]
pub(super) fn key_string(buf: &mut Vec<u8>, field: u32, k: &str, v: &str) {
    let m = begin(buf, field, 1);
    bytes(buf, 1, k.as_bytes());
    any_string(buf, 2, v);
    end(buf, m);
}

/// The first field of a `ResourceSpans`/`ResourceLogs`, `resource` (= 1), as the SDK's transform
/// writes it: every attribute of the resource (no dropped count, no entity refs). Its
/// `schema_url` (= 3) is written by [`resource_schema`] after the scopes.
pub(super) fn resource(buf: &mut Vec<u8>, resource: &opentelemetry_sdk::Resource) {
    let m = begin(buf, 1, 2);
    for (k, v) in resource.iter() {
        // Resource.attributes = 1
        let kv = begin(buf, 1, 1);
        bytes(buf, 1, k.as_str().as_bytes());
        any_value(buf, 2, v);
        end(buf, kv);
    }
    end(buf, m);
}

/// The `schema_url` (= 3) of a `ResourceSpans`/`ResourceLogs`.
pub(super) fn resource_schema(buf: &mut Vec<u8>, resource: &opentelemetry_sdk::Resource) {
    bytes(buf, 3, resource.schema_url().unwrap_or_default().as_bytes());
}

/// An `InstrumentationScope` (name = 1, version = 2, attributes = 3) as field `field`; `name`
/// replaces the scope's own (log records are grouped by their target, which names the scope).
pub(super) fn scope(
    buf: &mut Vec<u8>,
    field: u32,
    scope: &opentelemetry::InstrumentationScope,
    name: Option<&str>,
) {
    let m = begin(buf, field, 1);
    bytes(buf, 1, name.unwrap_or(scope.name()).as_bytes());
    bytes(buf, 2, scope.version().unwrap_or_default().as_bytes());
    for kv in scope.attributes() {
        key_value(buf, 3, kv);
    }
    end(buf, m);
}

/// A small reader of protobuf, for the collector's answers (`partial_success`) and a gRPC
/// status's `RetryInfo`: the fields of one message, in order.
pub(super) struct Fields<'a> {
    buf: &'a [u8],
}

/// One field read by [`Fields`].
pub(super) enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    /// A fixed-size field (its value is not needed here).
    Fixed,
}

impl<'a> Fields<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Fields { buf }
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self.buf.split_first()?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }
}

impl<'a> Iterator for Fields<'a> {
    /// `(field number, value)`; the reading stops at the first malformed byte.
    type Item = (u32, Field<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.buf.is_empty() {
            return None;
        }
        let k = self.varint()?;
        let field = (k >> 3) as u32;
        let value = match (k & 7) as u32 {
            VARINT => Field::Varint(self.varint()?),
            LEN => {
                let n = usize::try_from(self.varint()?).ok()?;
                if n > self.buf.len() {
                    self.buf = &[];
                    return None;
                }
                let (v, rest) = self.buf.split_at(n);
                self.buf = rest;
                Field::Bytes(v)
            }
            FIXED64 | FIXED32 => {
                let n = if k & 7 == 1 { 8 } else { 4 };
                if n > self.buf.len() {
                    self.buf = &[];
                    return None;
                }
                self.buf = &self.buf[n..];
                Field::Fixed
            }
            _ => {
                self.buf = &[];
                return None;
            }
        };
        Some((field, value))
    }
}

#[cfg(test)]
#[path = "encode_tests.rs"]
pub(super) mod tests;
