//! What one attribute may break: `span.unbounded-attribute` (by key and value) and the privacy
//! rules (by key and value, nested values included), and the id-like test span names share.

use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue};

use crate::privacy::{self, Privacy};

/// Longer attribute values than this are unbounded.
pub const MAX_VALUE_BYTES: usize = 1024;

/// Attributes whose values must come from a small set (a route template, an error class, a
/// method): an id-like value in one of them makes it unbounded.
const LOW_CARDINALITY: &[&str] = &[
    "http.route",
    "http.request.method",
    "error.type",
    "rpc.method",
    "rpc.service",
    "db.operation.name",
    "db.collection.name",
    "messaging.operation.name",
    "otel.status_code",
    "subsystem",
];

/// Why an attribute is unbounded, or `None`. Per-instance ids (`instance_id`) are allowed by the
/// standard and pass; user identifiers, payloads, full file paths, values over 1 KiB and id-like
/// values in [`LOW_CARDINALITY`] attributes do not.
pub fn unbounded(key: &str, value: &str) -> Option<&'static str> {
    if value.len() > MAX_VALUE_BYTES {
        return Some("a value longer than 1 KiB");
    }
    let mut last = "";
    let mut prev = "";
    let mut user_id = false;
    for w in key.split(['.', '_', '-']) {
        let lw = w.to_ascii_lowercase_cow();
        if matches!(
            &*lw,
            "enduser" | "userid" | "username" | "useremail" | "userlogin"
        ) || (prev.eq_ignore_ascii_case("user")
            && matches!(&*lw, "id" | "name" | "email" | "login" | "mail"))
        {
            user_id = true;
        }
        prev = w;
        last = w;
    }
    if last.eq_ignore_ascii_case("body") || last.eq_ignore_ascii_case("payload") {
        return Some("a payload field");
    }
    if json_like(value) {
        return Some("a JSON payload");
    }
    if user_id {
        return Some("a user identifier");
    }
    if is_path_key(key, last) && full_path(value) {
        return Some("a full file path");
    }
    if LOW_CARDINALITY.contains(&key) && has_id_like_segment(value, key == "http.route") {
        return Some("an id-like value in a low-cardinality attribute");
    }
    None
}

/// A tiny helper so that key words compare without allocating in the common (lowercase) case.
trait LowerCow {
    fn to_ascii_lowercase_cow(&self) -> std::borrow::Cow<'_, str>;
}

impl LowerCow for str {
    fn to_ascii_lowercase_cow(&self) -> std::borrow::Cow<'_, str> {
        if self.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(self.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(self)
        }
    }
}

fn json_like(v: &str) -> bool {
    let t = v.trim();
    ((t.starts_with('{') && t.ends_with('}')) || (t.starts_with("[{") && t.ends_with("}]")))
        && t.contains("\":")
}

fn is_path_key(key: &str, last: &str) -> bool {
    let path_word = ["path", "filepath", "dir", "directory", "filename", "file"]
        .iter()
        .any(|w| last.eq_ignore_ascii_case(w));
    // URL paths, source locations and routes are bounded by the code or required by the
    // semantic conventions.
    path_word && !key.starts_with("url.") && !key.starts_with("code.") && !key.starts_with("http.")
}

/// An absolute file path with at least three components (`/var/lib/app/x`, `C:\Users\x\y`).
fn full_path(v: &str) -> bool {
    let b = v.as_bytes();
    let unix = b.first() == Some(&b'/') && b.iter().filter(|&&c| c == b'/').count() >= 3;
    let windows = b.len() > 3
        && b[0].is_ascii_alphabetic()
        && b[1] == b':'
        && b[2] == b'\\'
        && b.iter().filter(|&&c| c == b'\\').count() >= 3;
    unix || windows
}

/// Whether a path or name has a segment that looks like an id: a number of 4+ digits (any
/// number when `numbers` — in a route), a UUID, long hex, a long mix of letters and digits, an
/// e-mail address.
pub fn has_id_like_segment(s: &str, numbers: bool) -> bool {
    s.split(['/', ' ', '?', '&', '='])
        .any(|seg| id_like(seg, numbers))
}

fn id_like(seg: &str, numbers: bool) -> bool {
    let b = seg.as_bytes();
    if b.is_empty() {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == b.len() {
        return numbers || b.len() >= 4;
    }
    if digits == 0 {
        return seg.contains('@');
    }
    let hex = b.iter().all(|c| c.is_ascii_hexdigit() || *c == b'-');
    if hex && b.len() >= 12 {
        return true; // UUIDs, hashes, hex ids
    }
    let alnum = b
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'));
    let letters = b.iter().filter(|c| c.is_ascii_alphabetic()).count();
    (alnum && b.len() >= 16 && letters > 0) || seg.contains('@')
}

/// The first secret or personal data in an attribute value (strings, arrays and nested
/// key/value lists; integers long enough to be card numbers), by the value's own key.
pub fn privacy(key: &str, value: &AnyValue) -> Option<Privacy> {
    match value.value.as_ref()? {
        Value::StringValue(s) => privacy::scan_field(key, s),
        Value::ArrayValue(a) => a.values.iter().find_map(|v| privacy(key, v)),
        Value::KvlistValue(kv) => kv
            .values
            .iter()
            .find_map(|kv| privacy(&kv.key, kv.value.as_ref()?)),
        Value::IntValue(i) if i.unsigned_abs() >= 1_000_000_000_000 => {
            let mut buf = [0u8; 20];
            privacy::scan_value(digits(i.unsigned_abs(), &mut buf))
        }
        _ => None,
    }
}

/// `n` in decimal, written into `buf` (no allocation).
fn digits(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("")
}

/// A string attribute value (`None` for other types).
pub fn string(value: &AnyValue) -> Option<&str> {
    match value.value.as_ref()? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbounded_values_are_named_by_why() {
        let long = "x".repeat(1025);
        for (key, value, why) in [
            ("note", long.as_str(), "a value longer than 1 KiB"),
            ("http.request.body", "hello", "a payload field"),
            ("payload", "1", "a payload field"),
            ("args", "{\"name\": \"web\"}", "a JSON payload"),
            ("user.id", "u-42", "a user identifier"),
            ("enduser.id", "u-42", "a user identifier"),
            ("username", "bob", "a user identifier"),
            (
                "file.path",
                "/var/lib/guests/vm-1/disk.img",
                "a full file path",
            ),
            (
                "http.route",
                "/users/12",
                "an id-like value in a low-cardinality attribute",
            ),
            (
                "error.type",
                "timeout 550e8400-e29b-41d4-a716-446655440000",
                "an id-like value in a low-cardinality attribute",
            ),
        ] {
            assert_eq!(unbounded(key, value), Some(why), "{key}={value}");
        }
    }

    #[test]
    fn procman_and_semantic_convention_attributes_are_bounded() {
        for (key, value) in [
            ("instance_id", "550e8400-e29b-41d4-a716-446655440000"),
            ("request_id", "4bf92f3577b34da6a3ce929d0e0e4736"),
            ("http.route", "/instances/{id}"),
            ("http.route", "__unmatched__"),
            ("http.route", "/v1/items/:id"),
            ("http.request.method", "GET"),
            ("http.response.status_code", "200"),
            ("error.type", "500"),
            ("error.type", "timeout"),
            (
                "url.path",
                "/instances/550e8400-e29b-41d4-a716-446655440000",
            ),
            ("url.scheme", "http"),
            ("client.address", "127.0.0.1"),
            ("server.address", "localhost"),
            ("user_agent.original", "python-requests/2.32"),
            ("http.request.body.size", "1234"),
            ("code.filepath", "/home/me/src/app/main.py"),
            ("command", "sleep 100"),
            ("name", "web"),
            ("signal", "TERM"),
            ("subsystem", "API"),
            ("otel.status_code", "ERROR"),
        ] {
            assert_eq!(unbounded(key, value), None, "{key}={value}");
        }
    }

    #[test]
    fn id_like_segments_are_numbers_uuids_hex_and_long_tokens() {
        assert!(has_id_like_segment("GET /users/12345", false));
        assert!(has_id_like_segment("/users/12", true));
        assert!(!has_id_like_segment("/users/12", false));
        assert!(has_id_like_segment(
            "/x/550e8400-e29b-41d4-a716-446655440000",
            false
        ));
        assert!(has_id_like_segment("/blob/a1b2c3d4e5f6", false));
        assert!(has_id_like_segment("/u/bob@example.com", false));
        assert!(!has_id_like_segment("GET /instances/{id}", false));
        assert!(!has_id_like_segment("GET /v2/items", false));
        assert!(!has_id_like_segment("GET /healthz", false));
    }

    #[test]
    fn nested_and_numeric_values_are_scanned_for_privacy() {
        use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValue, KeyValueList};
        let s = |v: &str| AnyValue {
            value: Some(Value::StringValue(v.into())),
        };
        let list = AnyValue {
            value: Some(Value::KvlistValue(KeyValueList {
                values: vec![KeyValue {
                    key: "api_key".into(),
                    value: Some(s("abc")),
                    key_strindex: 0,
                }],
            })),
        };
        assert!(matches!(privacy("args", &list), Some(Privacy::Secret(_))));
        let arr = AnyValue {
            value: Some(Value::ArrayValue(ArrayValue {
                values: vec![s("ok"), s("bob@example.com")],
            })),
        };
        assert!(matches!(
            privacy("to", &arr),
            Some(Privacy::PersonalData(_))
        ));
        let card = AnyValue {
            value: Some(Value::IntValue(4111111111111111)),
        };
        assert!(matches!(
            privacy("n", &card),
            Some(Privacy::PersonalData(_))
        ));
        let small = AnyValue {
            value: Some(Value::IntValue(200)),
        };
        assert_eq!(privacy("n", &small), None);
    }
}
