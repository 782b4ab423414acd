//! The wire primitives' tests, and a walk of a whole OTLP request that checks every varint in it
//! is minimal (used by the span and log encoders' tests).

use super::*;

/// The message held by field `field` of an OTLP message `message`, for the fields that hold
/// one (the others are scalars, strings or bytes): enough to walk a whole trace or logs
/// request.
fn child(message: &str, field: u32) -> Option<&'static str> {
    Some(match (message, field) {
        ("ExportTraceServiceRequest", 1) => "ResourceSpans",
        ("ExportLogsServiceRequest", 1) => "ResourceLogs",
        ("ResourceSpans" | "ResourceLogs", 1) => "Resource",
        ("ResourceSpans", 2) => "ScopeSpans",
        ("ResourceLogs", 2) => "ScopeLogs",
        ("Resource", 1) => "KeyValue",
        ("ScopeSpans" | "ScopeLogs", 1) => "InstrumentationScope",
        ("ScopeSpans", 2) => "Span",
        ("ScopeLogs", 2) => "LogRecord",
        ("InstrumentationScope", 3) => "KeyValue",
        ("KeyValue", 2) => "AnyValue",
        ("AnyValue", 5) => "ArrayValue",
        ("AnyValue", 6) => "KeyValueList",
        ("ArrayValue", 1) => "AnyValue",
        ("KeyValueList", 1) => "KeyValue",
        ("Span", 9) => "KeyValue",
        ("Span", 11) => "Event",
        ("Span", 13) => "Link",
        ("Span", 15) => "Status",
        ("Event", 3) => "KeyValue",
        ("Link", 4) => "KeyValue",
        ("LogRecord", 5) => "AnyValue",
        ("LogRecord", 6) => "KeyValue",
        _ => return None,
    })
}

/// What [`walk`] saw: how many length prefixes, and the longest length.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub(crate) lengths: usize,
    pub(crate) longest: usize,
}

/// Reads a varint at `*at` and checks that its bytes are the canonical (minimal) encoding
/// of its value.
fn canonical_varint(buf: &[u8], at: &mut usize, path: &str) -> Result<u64, String> {
    let start = *at;
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let &b = buf
            .get(*at)
            .ok_or_else(|| format!("{path}: a varint cut at byte {start}"))?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            break;
        }
        shift += 7;
        if shift >= 64 {
            return Err(format!(
                "{path}: a varint of more than ten bytes at {start}"
            ));
        }
    }
    let mut minimal = Vec::new();
    varint(&mut minimal, v);
    if buf[start..*at] != minimal[..] {
        return Err(format!(
            "{path}: {v} written as {:02x?} at byte {start}, not {minimal:02x?}",
            &buf[start..*at]
        ));
    }
    Ok(v)
}

/// Walks the OTLP message `message` in `buf` field by field, into every nested message:
/// every key, varint value and length prefix must be a minimal varint, every length must
/// fit, and nothing may be left over.
pub(crate) fn walk(buf: &[u8], message: &str, seen: &mut Walked) -> Result<(), String> {
    let mut at = 0;
    while at < buf.len() {
        let k = canonical_varint(buf, &mut at, message)?;
        let (field, wire) = ((k >> 3) as u32, (k & 7) as u32);
        let path = format!("{message}.{field}");
        match wire {
            VARINT => {
                canonical_varint(buf, &mut at, &path)?;
            }
            FIXED64 | FIXED32 => at += if wire == FIXED64 { 8 } else { 4 },
            LEN => {
                let n = canonical_varint(buf, &mut at, &path)? as usize;
                let body = buf
                    .get(at..at + n)
                    .ok_or_else(|| format!("{path}: a length of {n} past the end"))?;
                seen.lengths += 1;
                seen.longest = seen.longest.max(n);
                if let Some(inner) = child(message, field) {
                    walk(body, inner, seen).map_err(|e| format!("{path} > {e}"))?;
                }
                at += n;
            }
            _ => return Err(format!("{path}: wire type {wire}")),
        }
    }
    if at != buf.len() {
        return Err(format!("{message}: a fixed field past the end"));
    }
    Ok(())
}

/// [`walk`], failing the test with the path of the first length (or key, or value) that is
/// not minimal.
pub(crate) fn assert_canonical(buf: &[u8], request: &str) -> Walked {
    let mut seen = Walked::default();
    if let Err(e) = walk(buf, request, &mut seen) {
        panic!("not canonical protobuf: {e}");
    }
    seen
}

#[test]
fn the_walk_refuses_an_overlong_length_anywhere_in_a_request() {
    // ExportTraceServiceRequest { resource_spans { scope_spans { spans { name: "a" } } } }
    let minimal = [0x0a, 0x07, 0x12, 0x05, 0x12, 0x03, 0x2a, 0x01, b'a'];
    assert_eq!(
        assert_canonical(&minimal, "ExportTraceServiceRequest").lengths,
        4
    );
    // The same with the span's name length (a string) padded to two bytes, then the
    // ScopeSpans length padded to five (as the wrappers were once written).
    let name = [0x0a, 0x08, 0x12, 0x06, 0x12, 0x04, 0x2a, 0x81, 0x00, b'a'];
    let scope = [
        0x0a, 0x0b, 0x12, 0x89, 0x80, 0x80, 0x80, 0x00, 0x12, 0x03, 0x2a, 0x01, b'a',
    ];
    for bad in [&name[..], &scope[..]] {
        let e = walk(bad, "ExportTraceServiceRequest", &mut Walked::default()).unwrap_err();
        assert!(e.contains("not ["), "{e}");
    }
    // A padded key is refused too.
    let key = [0x8a, 0x00, 0x00];
    assert!(walk(&key, "ExportLogsServiceRequest", &mut Walked::default()).is_err());
}

#[test]
fn gaps_close_with_every_byte_in_order_and_the_lengths_minimal() {
    // An outer wrapper around a constant part and three inner wrappers of different sizes
    // (1-, 2- and 3-byte lengths), as the span and log encoders write them.
    for sizes in [[0usize, 0, 0], [5, 200, 20_000], [20_000, 3, 127]] {
        let mut buf = Vec::new();
        let mut gaps = Vec::new();
        let outer = begin(&mut buf, 1, WIDE);
        bytes(&mut buf, 1, b"resource");
        for (i, &n) in sizes.iter().enumerate() {
            let inner = begin(&mut buf, 2, WIDE);
            buf.extend(std::iter::repeat_n(i as u8, n));
            end_wide(&mut buf, inner, &mut gaps);
        }
        bytes(&mut buf, 3, b"schema");
        end_wide(&mut buf, outer, &mut gaps);
        let start = close_gaps(&mut buf, &mut gaps);
        let out = &buf[start..];
        // What prost would write: every length minimal.
        let mut want = Vec::new();
        let mut body = Vec::new();
        bytes(&mut body, 1, b"resource");
        for (i, &n) in sizes.iter().enumerate() {
            bytes_always(&mut body, 2, &vec![i as u8; n]);
        }
        bytes(&mut body, 3, b"schema");
        bytes_always(&mut want, 1, &body);
        assert_eq!(out, &want[..], "{sizes:?}");
    }
}

#[test]
fn varint_lengths_match_what_is_written() {
    for v in [0u64, 1, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
        let mut buf = Vec::new();
        varint(&mut buf, v);
        assert_eq!(buf.len(), varint_len(v), "{v}");
        let mut r = Fields::new(&[]);
        r.buf = &buf;
        assert_eq!(r.varint(), Some(v));
    }
}

#[test]
fn a_nested_message_gets_its_length_whatever_room_was_reserved() {
    for reserved in [1, 2, 3] {
        for len in [0usize, 1, 127, 128, 300, 20_000] {
            let mut buf = vec![0xAA];
            let m = begin(&mut buf, 7, reserved);
            buf.extend(std::iter::repeat_n(0x55, len));
            end(&mut buf, m);
            let mut fields = Fields::new(&buf[1..]);
            match fields.next() {
                Some((7, Field::Bytes(b))) => assert_eq!(b.len(), len),
                _ => panic!("reserved {reserved}, len {len}"),
            }
            assert!(fields.next().is_none());
            assert_eq!(buf.len(), 1 + 1 + varint_len(len as u64) + len);
        }
    }
    let mut buf = Vec::new();
    let mut gaps = Vec::new();
    let m = begin(&mut buf, 1, WIDE);
    buf.extend(std::iter::repeat_n(1, 200));
    end_wide(&mut buf, m, &mut gaps);
    let start = close_gaps(&mut buf, &mut gaps);
    assert_eq!(buf.len() - start, 1 + 2 + 200, "a two-byte length");
    match Fields::new(&buf[start..]).next() {
        Some((1, Field::Bytes(b))) => assert_eq!(b.len(), 200),
        _ => panic!("a wide length reads back"),
    }
}
