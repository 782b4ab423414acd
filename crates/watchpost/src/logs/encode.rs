//! Low-level JSON encoding into a byte buffer: string escaping, RFC 3339 timestamps, hex ids.
//!
//! Everything writes into a caller-owned `Vec<u8>` (a thread-local buffer in the layer), never
//! allocates on its own and never fails.

use std::time::{SystemTime, UNIX_EPOCH};

/// For each byte: 0 = copy as is, `b'u'` = `\u00XX`, anything else = backslash + that byte.
static ESCAPE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 0x20 {
        t[i] = b'u';
        i += 1;
    }
    t[b'\n' as usize] = b'n';
    t[b'\r' as usize] = b'r';
    t[b'\t' as usize] = b't';
    t[0x08] = b'b';
    t[0x0c] = b'f';
    t[b'"' as usize] = b'"';
    t[b'\\' as usize] = b'\\';
    t[0x7f] = b'u';
    t
};

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends `s` as the inside of a JSON string (no surrounding quotes). Control characters,
/// quotes and backslashes are escaped, so the output never contains a raw newline.
pub(crate) fn escape_into(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most values need no escaping at all: tested a word at a time (the tail padded with
    // spaces), then copied in one go.
    if !needs_any_escape(bytes) {
        out.extend_from_slice(bytes);
        return;
    }
    out.reserve(bytes.len());
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Eight bytes at a time while none needs escaping (most text: one test per word).
        while let Some(word) = bytes.get(i..i + 8) {
            let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
            if needs_escape(w) {
                break;
            }
            i += 8;
        }
        let end = (i + 8).min(bytes.len());
        while i < end {
            let b = bytes[i];
            let e = ESCAPE[b as usize];
            if e != 0 {
                out.extend_from_slice(&bytes[start..i]);
                if e == b'u' {
                    out.extend_from_slice(&[
                        b'\\',
                        b'u',
                        b'0',
                        b'0',
                        HEX[(b >> 4) as usize],
                        HEX[(b & 0xf) as usize],
                    ]);
                } else {
                    out.extend_from_slice(&[b'\\', e]);
                }
                start = i + 1;
            }
            i += 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// Whether a byte of `bytes` is escaped by [`escape_into`].
#[inline]
fn needs_any_escape(bytes: &[u8]) -> bool {
    let mut words = bytes.chunks_exact(8);
    for word in &mut words {
        if needs_escape(u64::from_le_bytes(word.try_into().expect("eight bytes"))) {
            return true;
        }
    }
    let tail = words.remainder();
    let mut padded = [b' '; 8];
    padded[..tail.len()].copy_from_slice(tail);
    needs_escape(u64::from_le_bytes(padded))
}

/// Whether one of the eight bytes in `w` is escaped by [`escape_into`]: below 0x20, `"`, `\`
/// or 0x7f (the classic "has a zero byte" tests; a false positive only follows a true one).
#[inline]
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = w.wrapping_sub(ONES * 0x20) & !w & HIGH;
    below_space
        | zero(w ^ (ONES * u64::from(b'"')))
        | zero(w ^ (ONES * u64::from(b'\\')))
        | zero(w ^ (ONES * 0x7f))
        != 0
}

/// Appends `"s"`.
pub(crate) fn string_into(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Appends `bytes` as lowercase hex.
pub(crate) fn hex_into(out: &mut Vec<u8>, bytes: &[u8]) {
    // Through a stack buffer, 32 bytes at a time: one copy into `out` (trace and span ids are 16
    // and 8 bytes), not a capacity check per digit.
    for chunk in bytes.chunks(32) {
        let mut digits = [0u8; 64];
        for (pair, &b) in digits.chunks_exact_mut(2).zip(chunk) {
            pair[0] = HEX[(b >> 4) as usize];
            pair[1] = HEX[(b & 0xf) as usize];
        }
        out.extend_from_slice(&digits[..2 * chunk.len()]);
    }
}

/// Appends a finite float as a JSON number, a non-finite one as a string (`"NaN"`, `"inf"`,
/// `"-inf"`): JSON has no literal for them.
pub(crate) fn f64_into(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        // A value with at most three decimals (a duration in milliseconds to the microsecond)
        // written from its integer thousandths: the same text as ryu's shortest form (below
        // 10^12 every such decimal is its own double, so no shorter text reads back as `v`),
        // at a fraction of the cost.
        let thousandths = (v * 1000.0).round();
        if v != 0.0 && thousandths.abs() < 1e15 && thousandths / 1000.0 == v {
            millis_into(out, thousandths as i64);
            return;
        }
        let mut b = ryu::Buffer::new();
        out.extend_from_slice(b.format_finite(v).as_bytes());
    } else if v.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if v > 0.0 {
        out.extend_from_slice(b"\"inf\"");
    } else {
        out.extend_from_slice(b"\"-inf\"");
    }
}

/// Appends `thousandths / 1000` as a decimal with at most three decimals and at least one
/// (`5.604`, `0.1`, `12.0`), as ryu writes such a value.
fn millis_into(out: &mut Vec<u8>, thousandths: i64) {
    if thousandths < 0 {
        out.push(b'-');
    }
    let t = thousandths.unsigned_abs();
    int_into(out, t / 1000);
    let frac = (t % 1000) as usize;
    out.push(b'.');
    if frac == 0 {
        out.push(b'0');
        return;
    }
    let digits = [
        b'0' + (frac / 100) as u8,
        b'0' + (frac / 10 % 10) as u8,
        b'0' + (frac % 10) as u8,
    ];
    let len = if frac.is_multiple_of(100) {
        1
    } else if frac.is_multiple_of(10) {
        2
    } else {
        3
    };
    out.extend_from_slice(&digits[..len]);
}

pub(crate) fn int_into<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    let mut b = itoa::Buffer::new();
    out.extend_from_slice(b.format(v).as_bytes());
}

/// Appends `now` as RFC 3339 UTC with microseconds, e.g. `2026-11-23T10:54:54.123456Z`
/// (27 bytes, no quotes). The calendar part is cached per thread and recomputed once a second.
pub(crate) fn rfc3339_micros_into(out: &mut Vec<u8>, now: SystemTime) {
    let d = now.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let micros = d.subsec_micros();
    thread_local! {
        static CACHE: std::cell::Cell<(u64, [u8; 20])> = const { std::cell::Cell::new((u64::MAX, [0; 20])) };
    }
    let prefix = CACHE.with(|c| {
        let (cached_secs, cached) = c.get();
        if cached_secs == secs {
            return cached;
        }
        let p = civil_prefix(secs);
        c.set((secs, p));
        p
    });
    out.extend_from_slice(&prefix);
    let mut frac = [b'0'; 6];
    let mut m = micros;
    for slot in frac.iter_mut().rev() {
        *slot = b'0' + (m % 10) as u8;
        m /= 10;
    }
    out.extend_from_slice(&frac);
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS.` for a Unix time in seconds (proleptic Gregorian, years 1970–9999).
fn civil_prefix(secs: u64) -> [u8; 20] {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (h, mi, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Howard Hinnant's days_from_civil inverse.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let mut y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    if m <= 2 {
        y += 1;
    }
    let y = y.clamp(0, 9999) as u64;
    let mut p = *b"0000-00-00T00:00:00.";
    let two = |v: u64, at: usize, p: &mut [u8; 20]| {
        p[at] = b'0' + (v / 10) as u8;
        p[at + 1] = b'0' + (v % 10) as u8;
    };
    p[0] = b'0' + (y / 1000) as u8;
    p[1] = b'0' + (y / 100 % 10) as u8;
    p[2] = b'0' + (y / 10 % 10) as u8;
    p[3] = b'0' + (y % 10) as u8;
    two(m as u64, 5, &mut p);
    two(d as u64, 8, &mut p);
    two(h, 11, &mut p);
    two(mi, 14, &mut p);
    two(s, 17, &mut p);
    p
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn esc(s: &str) -> String {
        let mut v = Vec::new();
        string_into(&mut v, s);
        String::from_utf8(v).unwrap()
    }

    /// The word-at-a-time scan escapes exactly what a byte-at-a-time one does: every ASCII
    /// byte and a multi-byte character, at every offset of strings up to 40 bytes, among
    /// clean text that fills whole words before and after it.
    #[test]
    fn every_byte_is_escaped_the_same_at_every_offset() {
        fn reference(s: &str) -> Vec<u8> {
            let mut out = Vec::new();
            for &b in s.as_bytes() {
                match ESCAPE[b as usize] {
                    0 => out.push(b),
                    b'u' => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
                    e => out.extend_from_slice(&[b'\\', e]),
                }
            }
            out
        }
        let specials: Vec<String> = (0u8..0x80)
            .map(|b| (b as char).to_string())
            .chain(["é".to_string(), "\u{2028}".to_string()])
            .collect();
        for special in &specials {
            for len in 0..40 {
                for at in 0..=len {
                    let s = format!("{}{special}{}", "a".repeat(at), "b".repeat(len - at));
                    let mut got = Vec::new();
                    escape_into(&mut got, &s);
                    assert_eq!(got, reference(&s), "{s:?}");
                }
            }
        }
    }

    /// The word test itself, lane by lane: every byte value in each of the eight positions,
    /// among neighbours at the edges of the tested ranges (and non-ASCII ones), against the table.
    #[test]
    fn the_word_test_agrees_with_the_table_in_every_lane() {
        let backgrounds = [
            0x00u8, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f, 0x80, 0xff, b'a',
        ];
        for bg in backgrounds {
            for lane in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [bg; 8];
                    bytes[lane] = b;
                    let expected = bytes.iter().any(|&x| ESCAPE[x as usize] != 0);
                    assert_eq!(
                        needs_escape(u64::from_le_bytes(bytes)),
                        expected,
                        "{bytes:02x?}"
                    );
                }
            }
        }
    }

    /// Floats with at most three decimals take a short path that must write exactly what ryu
    /// writes; so must everything else (exponents, long fractions, zeros, negatives).
    #[test]
    fn floats_are_written_as_ryu_writes_them() {
        let ryu = |v: f64| ryu::Buffer::new().format_finite(v).to_string();
        let ours = |v: f64| {
            let mut out = Vec::new();
            f64_into(&mut out, v);
            String::from_utf8(out).unwrap()
        };
        let mut values: Vec<f64> = vec![
            0.0,
            -0.0,
            0.001,
            -0.001,
            0.1,
            1.0,
            12.0,
            5.604,
            100.544,
            0.0005,
            1e-7,
            1e11,
            999_999_999_999.999,
            1e12,
            123_456_789_012.345,
            1e15,
            1e16,
            1e300,
            5e-324,
            f64::MAX,
            f64::MIN_POSITIVE,
            0.1 + 0.2,
            1.0 / 3.0,
        ];
        // Every thousandth below 3 s, in steps that cover every last digit, and large ones.
        values.extend((0..3_000_000i64).step_by(7).map(|m| m as f64 / 1000.0));
        values.extend((0..3_000_000i64).step_by(7).map(|m| -(m as f64) / 1000.0));
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..200_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            values.push((x % 1_000_000_000_000_000) as f64 / 1000.0);
            values.push(f64::from_bits(x >> 2)); // arbitrary finite doubles
            values.push((x % 10_000_000) as f64 / 10_000.0); // four decimals
        }
        for v in values.into_iter().filter(|v| v.is_finite()) {
            assert_eq!(ours(v), ryu(v), "{v:e}");
        }
    }

    #[test]
    fn escaped_strings_round_trip_through_a_json_parser() {
        for s in [
            "plain",
            "quote \" backslash \\ slash /",
            "newline\nreturn\rtab\t",
            "\u{0}\u{1}\u{1f}\u{7f}",
            "\"\n{\"level\":\"ERROR\"}",
            "emoji 🦀 and ünïcødé",
            "\u{2028}\u{2029}",
        ] {
            let out = esc(s);
            assert!(!out.contains('\n') && !out.contains('\r'), "{out}");
            let back: String = serde_json::from_str(&out).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let cases = [
            (0u64, 0u32, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 5, "2000-02-29T00:00:00.000005Z"),
            (1_795_431_294, 123_456, "2026-11-23T10:54:54.123456Z"),
            (4_102_444_799, 999_999, "2099-12-31T23:59:59.999999Z"),
        ];
        for (secs, micros, want) in cases {
            let t = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros as u64);
            let mut v = Vec::new();
            rfc3339_micros_into(&mut v, t);
            assert_eq!(std::str::from_utf8(&v).unwrap(), want);
        }
    }

    #[test]
    fn floats_that_json_cannot_hold_become_strings() {
        let mut v = Vec::new();
        for f in [1.5, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            f64_into(&mut v, f);
            v.push(b',');
        }
        assert_eq!(
            std::str::from_utf8(&v).unwrap(),
            "1.5,\"NaN\",\"inf\",\"-inf\","
        );
    }

    #[test]
    fn hex_is_lowercase() {
        let mut v = Vec::new();
        hex_into(&mut v, &[0xAB, 0x01, 0xff]);
        assert_eq!(v, b"ab01ff");
        // Longer than one chunk of the stack buffer: every byte, in order.
        let bytes: Vec<u8> = (0..=255).collect();
        let mut long = b"x".to_vec();
        hex_into(&mut long, &bytes);
        let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(long, format!("x{expected}").as_bytes());
    }
}

/// A field value read back from the encoded `,"key":value` form.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FieldValue {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// Reads back the `,"key":value,"key2":value2` sequence this module writes (strings, numbers,
/// booleans). Used by the OTLP log bridge so that exported records carry exactly the (redacted,
/// masked, truncated) fields of the JSON line.
pub(crate) fn parse_fields(buf: &[u8]) -> Vec<(String, FieldValue)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < buf.len() {
        if buf[i] != b',' {
            break;
        }
        i += 1;
        let Some((key, next)) = parse_string(buf, i) else {
            break;
        };
        i = next;
        if buf.get(i) != Some(&b':') {
            break;
        }
        i += 1;
        let value = match buf.get(i) {
            Some(b'"') => match parse_string(buf, i) {
                Some((s, next)) => {
                    i = next;
                    FieldValue::Str(s)
                }
                None => break,
            },
            Some(b't') if buf[i..].starts_with(b"true") => {
                i += 4;
                FieldValue::Bool(true)
            }
            Some(b'f') if buf[i..].starts_with(b"false") => {
                i += 5;
                FieldValue::Bool(false)
            }
            Some(_) => {
                let end = buf[i..]
                    .iter()
                    .position(|&b| b == b',')
                    .map_or(buf.len(), |p| i + p);
                let text = std::str::from_utf8(&buf[i..end]).unwrap_or("");
                i = end;
                match text.parse::<i64>() {
                    Ok(n) => FieldValue::Int(n),
                    Err(_) => match text.parse::<f64>() {
                        Ok(f) => FieldValue::Float(f),
                        Err(_) => FieldValue::Str(text.to_string()),
                    },
                }
            }
            None => break,
        };
        out.push((key, value));
    }
    out
}

/// Parses a JSON string starting at `buf[at] == '"'`; returns it and the index after it.
fn parse_string(buf: &[u8], at: usize) -> Option<(String, usize)> {
    if buf.get(at) != Some(&b'"') {
        return None;
    }
    let mut out = Vec::new();
    let mut i = at + 1;
    while i < buf.len() {
        match buf[i] {
            b'"' => return Some((String::from_utf8(out).ok()?, i + 1)),
            b'\\' => {
                let c = *buf.get(i + 1)?;
                match c {
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'u' => {
                        let hex = std::str::from_utf8(buf.get(i + 2..i + 6)?).ok()?;
                        let code = u32::from_str_radix(hex, 16).ok()?;
                        let ch = char::from_u32(code)?;
                        let mut tmp = [0u8; 4];
                        out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                        i += 4;
                    }
                    other => out.push(other),
                }
                i += 2;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    None
}

#[cfg(test)]
mod parse_tests {
    use super::*;

    #[test]
    fn encoded_fields_read_back_with_their_types() {
        let mut buf = Vec::new();
        for (k, v) in [("s", "a \"q\"\n\u{1}🦀"), ("e", "")] {
            buf.extend_from_slice(b",");
            string_into(&mut buf, k);
            buf.push(b':');
            string_into(&mut buf, v);
        }
        buf.extend_from_slice(b",\"n\":-42,\"f\":1.5,\"t\":true,\"x\":false,\"nan\":\"NaN\"");
        let got = parse_fields(&buf);
        assert_eq!(
            got,
            vec![
                ("s".into(), FieldValue::Str("a \"q\"\n\u{1}🦀".into())),
                ("e".into(), FieldValue::Str(String::new())),
                ("n".into(), FieldValue::Int(-42)),
                ("f".into(), FieldValue::Float(1.5)),
                ("t".into(), FieldValue::Bool(true)),
                ("x".into(), FieldValue::Bool(false)),
                ("nan".into(), FieldValue::Str("NaN".into())),
            ]
        );
    }
}
