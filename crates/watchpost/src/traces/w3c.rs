//! The W3C header grammars, parsed strictly: `traceparent` and `tracestate` (Trace Context) and
//! `baggage` (W3C Baggage). Pure functions over header values; [`super::propagation`] wires
//! them to HTTP headers and OpenTelemetry contexts.

use std::sync::Arc;

use opentelemetry::baggage::Baggage;
use opentelemetry::trace::{SpanId, TraceFlags, TraceId};

/// `tracestate` list members kept at most (Trace Context: "a maximum of 32 list-members").
pub(crate) const MAX_TRACESTATE_MEMBERS: usize = 32;
/// Baggage list members kept at most (W3C Baggage: at least 64 must be propagated).
pub(crate) const MAX_BAGGAGE_MEMBERS: usize = 64;
/// Bytes of baggage kept at most (W3C Baggage: at least 8192 must be propagated).
pub(crate) const MAX_BAGGAGE_BYTES: usize = 8192;

/// A parsed `traceparent`: the ids and the sampled flag (other flag bits are not passed on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TraceParent {
    pub(crate) trace_id: TraceId,
    pub(crate) span_id: SpanId,
    pub(crate) flags: TraceFlags,
}

/// Parses a `traceparent` value: `vv-<32 hex>-<16 hex>-ff` in lower case, version not `ff`, ids
/// not all zero; version `00` has exactly four parts, a later version may add parts after a `-`.
/// Surrounding OWS is ignored.
pub(crate) fn parse_traceparent(v: &str) -> Option<TraceParent> {
    let v = v.trim_matches([' ', '\t']);
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    let mut parts = v.splitn(5, '-');
    let (version, trace, span, flags) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let more = parts.next().is_some();
    let ok = hex(version, 2)
        && version != "ff"
        && !(more && version == "00")
        && hex(trace, 32)
        && trace.bytes().any(|b| b != b'0')
        && hex(span, 16)
        && span.bytes().any(|b| b != b'0')
        && hex(flags, 2);
    if !ok {
        return None;
    }
    let trace_id = TraceId::from(u128::from_str_radix(trace, 16).ok()?);
    let span_id = SpanId::from(u64::from_str_radix(span, 16).ok()?);
    let sampled = u8::from_str_radix(flags, 16).ok()? & 1 == 1;
    Some(TraceParent {
        trace_id,
        span_id,
        flags: if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
    })
}

/// A `tracestate` key: `[a-z0-9][a-z0-9_\-*/@]{0,255}` (the grammar of Trace Context Level 2,
/// which accepts every Level 1 key: simple keys and `tenant@system` keys).
pub(crate) fn valid_tracestate_key(k: &str) -> bool {
    let b = k.as_bytes();
    !b.is_empty()
        && b.len() <= 256
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|&c| {
            c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
        })
}

/// A `tracestate` value: 1 to 256 printable ASCII characters without `,` and `=`, not ending
/// in a space.
pub(crate) fn valid_tracestate_value(v: &str) -> bool {
    let b = v.as_bytes();
    let chr = |c: u8| (0x20..=0x7e).contains(&c) && c != b',' && c != b'=';
    !b.is_empty() && b.len() <= 256 && b.iter().all(|&c| chr(c)) && b[b.len() - 1] != b' '
}

/// Combines `tracestate` header values (several headers join in order, as one list), trims OWS
/// around members and skips empty ones. Returns the list as one normalised header value
/// (`k=v,k=v`), `None` for no members, or `Err(())` when the list is invalid: a member that
/// breaks the grammar, or more than [`MAX_TRACESTATE_MEMBERS`] members. An invalid list is
/// discarded whole, as the specification says. A duplicated key keeps its first value.
pub(crate) fn parse_tracestate<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Result<Option<Arc<str>>, ()> {
    let mut out = String::new();
    let mut keys: Vec<&str> = Vec::new();
    for value in values {
        for member in value.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (k, v) = member.split_once('=').ok_or(())?;
            if !valid_tracestate_key(k) || !valid_tracestate_value(v) {
                return Err(());
            }
            if keys.contains(&k) {
                continue;
            }
            if keys.len() == MAX_TRACESTATE_MEMBERS {
                return Err(());
            }
            keys.push(k);
            if !out.is_empty() {
                out.push(',');
            }
            out.push_str(member);
        }
    }
    Ok((!out.is_empty()).then(|| Arc::from(out)))
}

/// A baggage key: an HTTP token (RFC 7230).
fn valid_baggage_key(k: &str) -> bool {
    !k.is_empty()
        && k.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

/// A baggage value before decoding: `baggage-octet`s (printable ASCII but space, `"`, `,`,
/// `;` and `\`), percent-encoded UTF-8.
fn valid_baggage_value(v: &str) -> bool {
    v.bytes()
        .all(|c| (0x21..=0x7e).contains(&c) && !matches!(c, b'"' | b',' | b';' | b'\\'))
}

/// Parses `baggage` header values (several headers join in order) into [`Baggage`]: members
/// `key=value` with optional `;property` metadata, OWS trimmed, values percent-decoded. A
/// member that breaks the grammar is skipped; beyond [`MAX_BAGGAGE_MEMBERS`] members or
/// [`MAX_BAGGAGE_BYTES`] bytes the rest is dropped. Returns the baggage and how many members
/// were dropped.
pub(crate) fn parse_baggage<'a>(values: impl IntoIterator<Item = &'a str>) -> (Baggage, usize) {
    let mut baggage = Baggage::new();
    let mut dropped = 0;
    let mut bytes = 0;
    for value in values {
        for member in value.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (pair, props) = member.split_once(';').unwrap_or((member, ""));
            let Some((k, v)) = pair.split_once('=') else {
                dropped += 1;
                continue;
            };
            let (k, v) = (k.trim_matches([' ', '\t']), v.trim_matches([' ', '\t']));
            let decoded = percent_encoding::percent_decode_str(v).decode_utf8();
            let (true, true, Ok(decoded)) = (valid_baggage_key(k), valid_baggage_value(v), decoded)
            else {
                dropped += 1;
                continue;
            };
            bytes += member.len() + usize::from(bytes > 0);
            if baggage.len() == MAX_BAGGAGE_MEMBERS || bytes > MAX_BAGGAGE_BYTES {
                dropped += 1;
                continue;
            }
            let props: String = props
                .split(';')
                .map(|p| p.trim_matches([' ', '\t']))
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(";");
            baggage.insert_with_metadata(k.to_string(), decoded.into_owned(), props);
        }
    }
    (baggage, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn traceparent_accepts_the_spec_form_and_later_versions() {
        let tp = parse_traceparent(TP).unwrap();
        assert_eq!(tp.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(tp.span_id.to_string(), "00f067aa0ba902b7");
        assert!(tp.flags.is_sampled());
        assert!(parse_traceparent(&format!(" {TP}\t")).is_some());
        let future = "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-09-what-comes-next";
        assert!(parse_traceparent(future).unwrap().flags.is_sampled());
        let unsampled = parse_traceparent(&TP.replace("-01", "-02")).unwrap();
        assert!(!unsampled.flags.is_sampled(), "only the sampled bit counts");
    }

    #[test]
    fn traceparent_rejects_what_the_spec_rejects() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
            "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
            "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?}");
        }
    }

    fn ts(values: &[&str]) -> Result<Option<String>, ()> {
        parse_tracestate(values.iter().copied()).map(|o| o.map(|s| s.to_string()))
    }

    #[test]
    fn tracestate_combines_headers_trims_ows_and_keeps_the_first_duplicate() {
        assert_eq!(
            ts(&["foo=1,bar=2", "rojo=1", "baz=3"]),
            Ok(Some("foo=1,bar=2,rojo=1,baz=3".into()))
        );
        assert_eq!(
            ts(&["foo=1 \t , \t bar=2, \t baz=3"]),
            Ok(Some("foo=1,bar=2,baz=3".into()))
        );
        assert_eq!(ts(&["", "foo=1", ""]), Ok(Some("foo=1".into())));
        assert_eq!(ts(&["foo=1,,bar=2"]), Ok(Some("foo=1,bar=2".into())));
        assert_eq!(ts(&["foo=1,foo=2", "foo=3"]), Ok(Some("foo=1".into())));
        assert_eq!(ts(&[""]), Ok(None));
        assert_eq!(ts(&[]), Ok(None));
    }

    #[test]
    fn tracestate_accepts_every_allowed_character() {
        let key = "abcdefghijklmnopqrstuvwxyz0123456789_-*/";
        let value: String = (0x20u8..=0x7e)
            .filter(|c| *c != b',' && *c != b'=')
            .map(char::from)
            .collect();
        for k in [
            key.to_string(),
            format!("{key}@a-z0-9_-*/"),
            "z".repeat(256),
        ] {
            let header = format!("{k}={value}");
            assert_eq!(ts(&[&header]), Ok(Some(header.clone())));
        }
        for k in [
            "foo@",
            "foo@@bar",
            "foo@bar@baz",
            &format!("t@{}", "v".repeat(15)),
        ] {
            assert!(ts(&[&format!("{k}=1,bar=2")]).unwrap().is_some(), "{k}");
        }
    }

    #[test]
    fn an_invalid_tracestate_member_discards_the_whole_list() {
        let long = format!("{}=1", "z".repeat(257));
        for bad in [
            &["foo =1"][..],
            &["FOO=1"],
            &["foo.bar=1"],
            &["@foo=1,bar=2"],
            &["foo=bar=baz"],
            &["foo=,bar=3"],
            &["foo=1 x=2"],
            &["foo"],
            &["foo=1", &long],
            &["foo=a,b"],
        ] {
            assert_eq!(ts(bad), Err(()), "{bad:?}");
        }
        let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
        assert_eq!(
            ts(&[&members[..32].join(",")])
                .unwrap()
                .unwrap()
                .split(',')
                .count(),
            32
        );
        assert_eq!(ts(&[&members[..32].join(","), &members[32]]), Err(()));
    }

    #[test]
    fn baggage_decodes_values_keeps_properties_and_skips_bad_members() {
        let (b, dropped) = parse_baggage([
            "user_id=u%201 ; tier=gold, tenant = acme",
            "bad key=1,x=a=b,=v,ok=2",
        ]);
        assert_eq!(b.get("user_id").map(|v| v.as_str()), Some("u 1"));
        assert_eq!(
            b.get_with_metadata("user_id").map(|(_, m)| m.as_str()),
            Some("tier=gold")
        );
        assert_eq!(b.get("tenant").map(|v| v.as_str()), Some("acme"));
        assert_eq!(
            b.get("x").map(|v| v.as_str()),
            Some("a=b"),
            "`=` is a baggage-octet"
        );
        assert_eq!(b.get("ok").map(|v| v.as_str()), Some("2"));
        assert_eq!((b.len(), dropped), (4, 2));
    }

    #[test]
    fn baggage_keeps_at_most_64_members_and_8192_bytes() {
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let (b, dropped) = parse_baggage([many.join(",").as_str()]);
        assert_eq!((b.len(), dropped), (64, 6));
        let big = format!("a={},b={}", "x".repeat(8000), "y".repeat(500));
        let (b, dropped) = parse_baggage([big.as_str()]);
        assert_eq!((b.len(), dropped), (1, 1));
        assert!(b.get("a").is_some());
    }
}
