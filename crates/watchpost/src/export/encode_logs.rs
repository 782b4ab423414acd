//! Log records to an OTLP `ExportLogsServiceRequest`, straight to bytes from what the log layer
//! queued ([`PendingLog`]: the JSON line's redacted, masked and cut fields), with no OTel
//! `LogRecord` built in between. What it writes is what `LogMaker::make` (`logs.rs`) and the
//! SDK's transform make of the same record, field for field (the tests decode both): the
//! record's time as both its time and its observed time, severity number and text, the message
//! as the body, the `subsystem` attribute and then the line's fields, the trace context (flags
//! `SAMPLED`) when the line had one; records grouped into one `ScopeLogs` per target (the scope's
//! name), in the order the targets first appear.

use crate::logs::PendingLog;

use super::encode::{
    any_bool, any_double, any_int, any_string, begin, bytes, close_gaps, end, end_wide, fixed32,
    fixed64, key_string, nanos, resource, resource_schema, scope, uint, Gap, WIDE,
};
use super::LogMaker;

/// Encodes batches of log records into one reused buffer.
#[derive(Debug)]
pub(crate) struct LogEncoder {
    /// `ResourceLogs.resource` (field 1, with its key), encoded once.
    resource: Vec<u8>,
    /// `ResourceLogs.schema_url` (field 3), encoded once.
    schema: Vec<u8>,
    /// `ScopeLogs.schema_url` (field 3) of the log scope, encoded once.
    scope_schema: Vec<u8>,
    /// The targets met so far, each with its `ScopeLogs.scope` field.
    scopes: Vec<(std::borrow::Cow<'static, str>, Vec<u8>)>,
    /// Per record of the batch being encoded, the index of its target in `scopes`.
    scope_of: Vec<usize>,
    /// The targets of the batch being encoded, in order of first appearance.
    order: Vec<usize>,
    /// The unused room of the wrappers' length prefixes in the batch being encoded.
    gaps: Vec<Gap>,
    buf: Vec<u8>,
}

impl LogEncoder {
    pub(crate) fn new(res: &opentelemetry_sdk::Resource) -> Self {
        let mut resource_bytes = Vec::new();
        resource(&mut resource_bytes, res);
        let mut schema = Vec::new();
        resource_schema(&mut schema, res);
        LogEncoder {
            resource: resource_bytes,
            schema,
            scope_schema: Vec::new(),
            scopes: Vec::new(),
            scope_of: Vec::new(),
            order: Vec::new(),
            gaps: Vec::new(),
            buf: Vec::new(),
        }
    }

    /// The index of `target`'s scope (added, with its bytes, the first time).
    fn scope_index(&mut self, maker: &LogMaker, log: &PendingLog) -> usize {
        let target = &log.target;
        if let Some(i) = self.scopes.iter().position(|(t, _)| t == target) {
            return i;
        }
        if self.scopes.is_empty() {
            self.scope_schema.clear();
            let url = maker.scope.schema_url().unwrap_or_default();
            bytes(&mut self.scope_schema, 3, url.as_bytes());
        }
        let mut field = Vec::new();
        scope(&mut field, 1, &maker.scope, Some(target));
        self.scopes.push((target.clone(), field));
        self.scopes.len() - 1
    }

    /// The `ExportLogsServiceRequest` of `logs` as `maker` describes them: valid until the next
    /// call.
    pub(crate) fn encode<'a, I>(&mut self, maker: &LogMaker, logs: I) -> &[u8]
    where
        I: IntoIterator<Item = &'a PendingLog>,
        I::IntoIter: Clone,
    {
        let logs = logs.into_iter();
        self.scope_of.clear();
        self.order.clear();
        for log in logs.clone() {
            let i = self.scope_index(maker, log);
            if !self.order.contains(&i) {
                self.order.push(i);
            }
            self.scope_of.push(i);
        }
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        self.gaps.clear();
        // ExportLogsServiceRequest.resource_logs = 1
        let rl = begin(&mut buf, 1, WIDE);
        buf.extend_from_slice(&self.resource);
        for &s in &self.order {
            // ResourceLogs.scope_logs = 2
            let sl = begin(&mut buf, 2, WIDE);
            buf.extend_from_slice(&self.scopes[s].1);
            for (log, _) in (logs.clone().zip(&self.scope_of)).filter(|(_, &of)| of == s) {
                // ScopeLogs.log_records = 2
                encode_record(&mut buf, 2, maker, log);
            }
            buf.extend_from_slice(&self.scope_schema);
            end_wide(&mut buf, sl, &mut self.gaps);
        }
        buf.extend_from_slice(&self.schema);
        end_wide(&mut buf, rl, &mut self.gaps);
        let start = close_gaps(&mut buf, &mut self.gaps);
        self.buf = buf;
        &self.buf[start..]
    }
}

/// One `LogRecord` as field `field`.
fn encode_record(buf: &mut Vec<u8>, field: u32, maker: &LogMaker, log: &PendingLog) {
    let m = begin(buf, field, 2);
    let time = nanos(log.time);
    fixed64(buf, 1, time);
    let (number, text) = super::logs::severity(log.verbosity);
    uint(buf, 2, number as u64);
    bytes(buf, 3, text.as_bytes());
    any_string(buf, 5, &log.body);
    if let Some(name) = maker.subsystems.get(log.subsystem as usize) {
        key_string(buf, 6, "subsystem", name);
    }
    fields(buf, 6, &log.fields);
    if let Some((trace_id, span_id)) = &log.ids {
        // The record's trace flags: sampled (what `LogMaker::make` sets).
        fixed32(buf, 8, 1);
        bytes(buf, 9, trace_id);
        bytes(buf, 10, span_id);
    }
    fixed64(buf, 11, time);
    end(buf, m);
}

/// The JSON line's `,"key":value` fields as `KeyValue`s (field `field`), read as
/// `logs::encode::parse_fields` reads them — strings unescaped, `true`/`false`, integers, other
/// numbers as doubles, anything else as its text; the reading stops at the first malformed
/// field — but written straight into `buf`, with no string allocated.
fn fields(buf: &mut Vec<u8>, field: u32, json: &[u8]) {
    // The line's fields are UTF-8 (written from `str`s): checked once here, then a string cut
    // from them at its quotes needs no check of its own.
    let utf8 = std::str::from_utf8(json).is_ok();
    let mut i = 0;
    while json.get(i) == Some(&b',') {
        let start = buf.len();
        let kv = begin(buf, field, 1);
        // KeyValue.key = 1
        let Some(next) = json_string(buf, 1, json, i + 1, utf8) else {
            buf.truncate(start);
            return;
        };
        i = next;
        if json.get(i) != Some(&b':') {
            buf.truncate(start);
            return;
        }
        i += 1;
        // KeyValue.value = 2
        match json.get(i) {
            Some(b'"') => {
                let value = begin(buf, 2, 1);
                // AnyValue.string_value = 1
                let Some(next) = json_string(buf, 1, json, i, utf8) else {
                    buf.truncate(start);
                    return;
                };
                end(buf, value);
                i = next;
            }
            Some(b't') if json[i..].starts_with(b"true") => {
                any_bool(buf, 2, true);
                i += 4;
            }
            Some(b'f') if json[i..].starts_with(b"false") => {
                any_bool(buf, 2, false);
                i += 5;
            }
            Some(_) => {
                let stop =
                    (json[i..].iter().position(|&b| b == b',')).map_or(json.len(), |p| i + p);
                let raw = &json[i..stop];
                i = stop;
                if let Some(n) = small_int(raw) {
                    any_int(buf, 2, n);
                    end(buf, kv);
                    continue;
                }
                if let Some(f) = small_decimal(raw) {
                    // A duration in milliseconds, typically: no string check, no parser.
                    any_double(buf, 2, f);
                    end(buf, kv);
                    continue;
                }
                let text = std::str::from_utf8(raw).unwrap_or("");
                match text.parse::<i64>() {
                    Ok(n) => any_int(buf, 2, n),
                    Err(_) => match text.parse::<f64>() {
                        Ok(f) => any_double(buf, 2, f),
                        Err(_) => any_string(buf, 2, text),
                    },
                }
            }
            None => {
                buf.truncate(start);
                return;
            }
        }
        end(buf, kv);
    }
}

/// The index of the first `"` or `\` of `s`: eight bytes at a time.
fn quote_or_backslash(s: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of each byte of `w` equal to `b` (and maybe of bytes above one that is: the
    // lowest flag is exact).
    let equal = |w: u64, b: u8| {
        let x = w ^ (ONES * u64::from(b));
        x.wrapping_sub(ONES) & !x & HIGHS
    };
    let mut i = 0;
    while let Some(chunk) = s.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let found = equal(w, b'"') | equal(w, b'\\');
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    // The last few bytes as one word too, padded with zeros (neither a quote nor a backslash).
    let tail = &s[i..];
    let mut padded = [0u8; 8];
    padded[..tail.len()].copy_from_slice(tail);
    let w = u64::from_le_bytes(padded);
    let found = equal(w, b'"') | equal(w, b'\\');
    (found != 0).then(|| i + (found.trailing_zeros() / 8) as usize)
}

/// A decimal with one to three digits after its point and at most 15 digits in all, with an
/// optional `-` (`0.003`, `-12.5`): the digits as an integer divided by a power of ten. Exactly
/// what `str::parse::<f64>` reads: the integer (below 2^53) and the power (at most 1000) are
/// exact doubles, and IEEE division rounds their exact quotient, the decimal's value, correctly,
/// as the parser does.
fn small_decimal(raw: &[u8]) -> Option<f64> {
    let (negative, digits) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    };
    let dot = digits.iter().position(|&b| b == b'.')?;
    let decimals = digits.len() - dot - 1;
    if dot == 0 || !(1..=3).contains(&decimals) || digits.len() - 1 > 15 {
        return None;
    }
    let mut n: u64 = 0;
    for (i, &d) in digits.iter().enumerate() {
        if i == dot {
            continue;
        }
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(d - b'0');
    }
    let v = n as f64 / [10.0, 100.0, 1000.0][decimals - 1];
    Some(if negative { -v } else { v })
}

/// An integer of at most 18 digits, with an optional `-` (what `str::parse::<i64>` reads, but
/// for a `+` sign and longer numbers, which are left to it).
fn small_int(raw: &[u8]) -> Option<i64> {
    let (negative, digits) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    };
    if digits.is_empty() || digits.len() > 18 {
        return None;
    }
    let mut n: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + i64::from(d - b'0');
    }
    Some(if negative { -n } else { n })
}

/// The JSON string at `json[at] == '"'`, unescaped, as string field `field` (written even when
/// empty: a oneof member or a key); the index after it, or `None` (and a partial field left in
/// `buf` for the caller to cut) if it is malformed or, unless `utf8` says `json` is UTF-8 as a
/// whole, not UTF-8.
fn json_string(buf: &mut Vec<u8>, field: u32, json: &[u8], at: usize, utf8: bool) -> Option<usize> {
    if json.get(at) != Some(&b'"') {
        return None;
    }
    let m = begin(buf, field, 1);
    let body = buf.len();
    let mut i = at + 1;
    loop {
        let run = quote_or_backslash(json.get(i..)?)?;
        buf.extend_from_slice(&json[i..i + run]);
        i += run;
        if json[i] == b'"' {
            // Cut at ASCII quotes and backslashes from UTF-8, unescaped into whole characters
            // (a backslash before a multi-byte character drops only the backslash): UTF-8.
            if !utf8 {
                std::str::from_utf8(&buf[body..]).ok()?;
            }
            end(buf, m);
            return Some(i + 1);
        }
        let c = *json.get(i + 1)?;
        match c {
            b'n' => buf.push(b'\n'),
            b'r' => buf.push(b'\r'),
            b't' => buf.push(b'\t'),
            b'b' => buf.push(0x08),
            b'f' => buf.push(0x0c),
            b'u' => {
                let hex = std::str::from_utf8(json.get(i + 2..i + 6)?).ok()?;
                let ch = char::from_u32(u32::from_str_radix(hex, 16).ok()?)?;
                buf.extend_from_slice(ch.encode_utf8(&mut [0u8; 4]).as_bytes());
                i += 4;
            }
            other => buf.push(other),
        }
        i += 2;
    }
}

#[cfg(test)]
#[path = "encode_logs_tests.rs"]
mod tests;
