//! Secrets and personal data in any signal: log line values, span attributes, span events and
//! status messages, OTLP log bodies and attributes.
//!
//! Personal data is what the library masks ([`watchpost::redact::find_personal_data`]: e-mail
//! addresses and card numbers), secret field names are the library's defaults
//! ([`watchpost::redact::is_secret_name`]) — one source of truth, so a service using the library
//! with its defaults is clean by construction. Secrets inside strings are found by their shape:
//! `Bearer <token>`, JSON Web Tokens (`eyJ….….…`), AWS access key ids (`AKIA…`), PEM private keys,
//! `password=…` (any secret-named key before `=`) and credentials in URLs (`scheme://user:pass@`).
//! What the library writes in their place (`[REDACTED]`, `[REDACTED:email]`, `[REDACTED:card]`)
//! never counts.
//!
//! The checks run on every string of every log line, so the common case — no `@`, no `=`, few
//! digits, none of the secret shapes — is a few byte scans and allocates nothing.
//!
//! ```
//! use watchpost_cli::privacy::{scan_field, scan_value, Privacy};
//!
//! assert_eq!(scan_value("GET /instances/web-1 200"), None);
//! assert!(matches!(scan_value("mail bob@example.com"), Some(Privacy::PersonalData(_))));
//! assert!(matches!(scan_value("Authorization: Bearer abcdefghijklmnop"), Some(Privacy::Secret(_))));
//! assert_eq!(scan_field("password", "[REDACTED]"), None);
//! assert!(matches!(scan_field("password", "hunter2"), Some(Privacy::Secret(_))));
//! ```

use watchpost::redact::{self, PersonalData, REDACTED};

use crate::rules::{self, Rule};

/// What a scan found (never the value itself: reports must not repeat it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// A secret; the text says which shape (`bearer token`, `JWT`, `AWS access key id`,
    /// `private key`, `password=… pair`, `credentials in a URL`, `secret-named field`).
    Secret(&'static str),
    /// Personal data the library would have masked.
    PersonalData(PersonalData),
}

impl Privacy {
    /// The rule it breaks: `privacy.secret` or `privacy.personal-data`.
    pub fn rule(self) -> &'static Rule {
        match self {
            Privacy::Secret(_) => &rules::PRIVACY_SECRET,
            Privacy::PersonalData(_) => &rules::PRIVACY_PERSONAL_DATA,
        }
    }

    /// What was found, in a few words (for a finding's context).
    pub fn what(self) -> &'static str {
        match self {
            Privacy::Secret(s) => s,
            Privacy::PersonalData(PersonalData::Email) => "e-mail address",
            Privacy::PersonalData(PersonalData::Card) => "card number",
            Privacy::PersonalData(_) => "personal data",
        }
    }
}

/// A secret or personal data inside a string value (a message, an attribute value, a status
/// message). Secrets are looked for first; `None` when the value is clean.
pub fn scan_value(value: &str) -> Option<Privacy> {
    let cues = Cues::of(value.as_bytes());
    if cues.none() {
        return None;
    }
    secret_shape(value, &cues).map(Privacy::Secret).or_else(|| {
        if cues.at || cues.digits >= 13 {
            redact::find_personal_data(value).map(|(_, k)| Privacy::PersonalData(k))
        } else {
            None
        }
    })
}

/// What one pass over a value saw: the cheap signs that a closer look is worth it.
#[derive(Default)]
struct Cues {
    at: bool,
    eq: bool,
    digits: usize,
    bearer: Option<usize>,
    jwt: bool,
    aws: bool,
    pem: Option<usize>,
}

impl Cues {
    fn of(b: &[u8]) -> Cues {
        let mut c = Cues::default();
        for (i, &x) in b.iter().enumerate() {
            match x {
                b'@' => c.at = true,
                b'=' => c.eq = true,
                b'0'..=b'9' => c.digits += 1,
                b'B' | b'b' if c.bearer.is_none() && b[i + 1..].starts_with(b"earer ") => {
                    c.bearer = Some(i + 1)
                }
                b'e' if b[i + 1..].starts_with(b"yJ") => c.jwt = true,
                b'A' if b[i + 1..].starts_with(b"KIA") || b[i + 1..].starts_with(b"SIA") => {
                    c.aws = true
                }
                b'-' if c.pem.is_none() && b[i + 1..].starts_with(b"----BEGIN ") => c.pem = Some(i),
                _ => {}
            }
        }
        c
    }

    fn none(&self) -> bool {
        !self.at
            && !self.eq
            && self.digits < 13
            && self.bearer.is_none()
            && !self.jwt
            && !self.aws
            && self.pem.is_none()
    }
}

/// A field (a log key, an attribute key) and its string value: a secret-named field whose value
/// is neither empty nor `[REDACTED]` is a secret; otherwise the value is scanned as by
/// [`scan_value`]. Call this instead of (not besides) [`scan_value`] for named values.
pub fn scan_field(name: &str, value: &str) -> Option<Privacy> {
    if !value.is_empty() && value != REDACTED && redact::is_secret_name(name) {
        return Some(Privacy::Secret("secret-named field"));
    }
    scan_value(value)
}

/// The secret shapes, looked at closely only where [`Cues`] saw a sign of them.
fn secret_shape(s: &str, cues: &Cues) -> Option<&'static str> {
    let b = s.as_bytes();
    if let Some(at) = cues.bearer {
        if bearer(b, at) {
            return Some("bearer token");
        }
    }
    if cues.jwt && jwt(b) {
        return Some("JWT");
    }
    if cues.aws && aws_key(b) {
        return Some("AWS access key id");
    }
    if let Some(at) = cues.pem {
        let rest = &s[at + "-----BEGIN ".len()..];
        if rest
            .find("-----")
            .is_some_and(|end| rest[..end].ends_with("PRIVATE KEY"))
        {
            return Some("private key");
        }
    }
    if cues.eq && secret_pair(s) {
        return Some("password=… pair");
    }
    if cues.at && find(b, b"://").is_some() && url_credentials(b) {
        return Some("credentials in a URL");
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if hay.len() < needle.len() {
        return None;
    }
    let first = needle[0];
    let last_start = hay.len() - needle.len();
    let mut i = 0;
    while i <= last_start {
        match hay[i..=last_start].iter().position(|&c| c == first) {
            None => return None,
            Some(p) => {
                i += p;
                if &hay[i..i + needle.len()] == needle {
                    return Some(i);
                }
                i += 1;
            }
        }
    }
    None
}

fn is_token_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// `Bearer <token>` (any case of the `B`), the token plausible ([`plausible_token`]) and not a
/// mask. Each `earer ` is looked at once and a token ends at the next space, so this is linear.
fn bearer(b: &[u8], mut at: usize) -> bool {
    loop {
        if at >= 1
            && matches!(b[at - 1], b'B' | b'b')
            && (at == 1 || !b[at - 2].is_ascii_alphanumeric())
        {
            let tok = &b[at + 6..];
            let n = tok.iter().take_while(|&&c| is_token_char(c)).count();
            if !tok.starts_with(REDACTED.as_bytes()) && plausible_token(&tok[..n]) {
                return true;
            }
        }
        match find(&b[at + 1..], b"earer ") {
            Some(p) => at = at + 1 + p,
            None => return false,
        }
    }
}

/// Whether what follows `Bearer ` looks like a credential rather than a word of prose
/// (`expected Bearer credentials`, `Bearer authentication failed`): at least 8 token characters
/// and either a digit beside a letter, an upper-case letter after a lower-case one (random
/// base64), or 16+ characters of letters and digits alone (no word separators `-_./`).
fn plausible_token(tok: &[u8]) -> bool {
    if tok.len() < 8 {
        return false;
    }
    let letter = tok.iter().any(u8::is_ascii_alphabetic);
    let digit = tok.iter().any(u8::is_ascii_digit);
    let camel = tok
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase());
    (letter && digit) || camel || (tok.len() >= 16 && tok.iter().all(u8::is_ascii_alphanumeric))
}

fn is_b64url(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_')
}

/// `eyJ<header>.<payload>.<signature>`: a base64url JSON header (`{"`), two dots.
fn jwt(b: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = find(&b[from..], b"eyJ") {
        let at = from + p;
        from = at + 3;
        if at > 0 && is_b64url(b[at - 1]) {
            continue;
        }
        let rest = &b[at..];
        let h = rest.iter().take_while(|&&c| is_b64url(c)).count();
        if h < 10 || rest.get(h) != Some(&b'.') {
            continue;
        }
        let rest = &rest[h + 1..];
        let p = rest.iter().take_while(|&&c| is_b64url(c)).count();
        if p >= 4 && rest.get(p) == Some(&b'.') {
            return true;
        }
    }
    false
}

/// `AKIA` or `ASIA` and 16 more upper-case letters or digits, as a whole word.
fn aws_key(b: &[u8]) -> bool {
    (0..b.len().saturating_sub(19)).any(|i| {
        (b[i..].starts_with(b"AKIA") || b[i..].starts_with(b"ASIA"))
            && (i == 0 || !b[i - 1].is_ascii_alphanumeric())
            && b[i + 4..i + 20]
                .iter()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && b.get(i + 20).is_none_or(|c| !c.is_ascii_alphanumeric())
    })
}

/// `key=value` where the key is a secret name (`password=`, `api_key=`, `token=`) and the value is
/// neither empty nor a mask.
///
/// Linear in the length of `s` (OTLP string attributes can be megabytes): a key runs back from
/// its `=` to the previous non-key byte (an `=` is one), a value runs on to the next delimiter or
/// `=`, and only values of secret-named keys are looked at, so no byte is scanned more than
/// twice.
fn secret_pair(s: &str) -> bool {
    let b = s.as_bytes();
    let is_key = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.');
    let mut from = 0;
    while let Some(p) = b[from..].iter().position(|&c| c == b'=') {
        let eq = from + p;
        from = eq + 1;
        let start = b[..eq]
            .iter()
            .rposition(|&c| !is_key(c))
            .map_or(0, |p| p + 1);
        if start == eq || !redact::is_secret_name(&s[start..eq]) {
            continue;
        }
        let value = &b[eq + 1..];
        let n = value
            .iter()
            .take_while(|&&c| !matches!(c, b' ' | b'&' | b',' | b';' | b'"' | b'\'' | b'\n' | b'='))
            .count();
        let value = &value[..n];
        // Counts and flags (`session_count=3`, `token_cache=true`) are not secrets.
        let plain = value.iter().all(u8::is_ascii_digit)
            || value.eq_ignore_ascii_case(b"true")
            || value.eq_ignore_ascii_case(b"false");
        if n == 0 || plain || value.starts_with(REDACTED.as_bytes()) || value.starts_with(b"***") {
            continue;
        }
        return true;
    }
    false
}

/// `scheme://user:password@host`.
fn url_credentials(b: &[u8]) -> bool {
    let mut from = 0;
    while let Some(p) = find(&b[from..], b"://") {
        let at = from + p + 3;
        from = at;
        let auth = &b[at..];
        let end = auth
            .iter()
            .position(|&c| matches!(c, b'/' | b'?' | b'#' | b' ' | b'"' | b'\n'))
            .unwrap_or(auth.len());
        let auth = &auth[..end];
        if let Some(atsign) = auth.iter().rposition(|&c| c == b'@') {
            let userinfo = &auth[..atsign];
            if let Some(colon) = userinfo.iter().position(|&c| c == b':') {
                let pass = &userinfo[colon + 1..];
                if !pass.is_empty() && !pass.starts_with(REDACTED.as_bytes()) && pass != b"***" {
                    return true;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_by_shape_are_found() {
        for (value, what) in [
            ("Authorization: Bearer abcdef0123456789", "bearer token"),
            ("bearer ya29.a0AfH6SMBx-token", "bearer token"),
            (
                "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc_DEF-123",
                "JWT",
            ),
            ("key AKIAIOSFODNN7EXAMPLE used", "AWS access key id"),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----",
                "private key",
            ),
            ("-----BEGIN PRIVATE KEY-----", "private key"),
            (
                "connect host=db password=hunter2 sslmode=off",
                "password=… pair",
            ),
            ("GET /cb?code=1&access_token=abc123", "password=… pair"),
            ("postgres://app:s3cret@db:5432/app", "credentials in a URL"),
        ] {
            assert_eq!(scan_value(value), Some(Privacy::Secret(what)), "{value}");
        }
    }

    #[test]
    fn key_value_scans_are_linear_in_the_value() {
        // Quadratic before: every `=` scanned on to the end of the string (1 MiB: ~1e11 steps,
        // hours). No clock here (a loaded machine makes any bound flaky): a quadratic scan shows
        // as a test that never ends.
        let long = "a=".repeat(512 << 10);
        assert_eq!(scan_value(&long), None);
        let long = "password=[REDACTED]&".repeat(64 << 10);
        assert_eq!(scan_value(&long), None);
        let long = format!("{}password=hunter2", "x=1 ".repeat(128 << 10));
        assert_eq!(scan_value(&long), Some(Privacy::Secret("password=… pair")));
        // A value ends at the next `=` too, still found when the key is secret-named.
        assert_eq!(
            scan_value("token=abc=def"),
            Some(Privacy::Secret("password=… pair"))
        );
    }

    #[test]
    fn bearer_in_prose_is_not_a_token() {
        for value in [
            "expected Bearer credentials",
            "Bearer authentication failed",
            "missing bearer authorization header",
            "Bearer token_expired_for_user",
            "the Bearer Authentication scheme",
        ] {
            assert_eq!(scan_value(value), None, "{value}");
        }
        for value in [
            "Bearer abcdefghijklmnopqrst",
            "Bearer abc12345",
            "Bearer aGVsbG9Xb3JsZA",
            "Bearer sk-live-abc123def",
        ] {
            assert_eq!(
                scan_value(value),
                Some(Privacy::Secret("bearer token")),
                "{value}"
            );
        }
    }

    #[test]
    fn personal_data_is_found_through_the_library() {
        assert_eq!(
            scan_value("user bob@example.com signed in"),
            Some(Privacy::PersonalData(PersonalData::Email))
        );
        assert_eq!(
            scan_value("paid with 4111 1111 1111 1111"),
            Some(Privacy::PersonalData(PersonalData::Card))
        );
        assert_eq!(
            scan_value("a@b.io"),
            Some(Privacy::PersonalData(PersonalData::Email))
        );
    }

    #[test]
    fn masks_and_ordinary_values_are_clean() {
        for value in [
            "",
            "[REDACTED]",
            "[REDACTED:email]",
            "user [REDACTED:email] paid with [REDACTED:card]",
            "Bearer [REDACTED]",
            "password=[REDACTED]",
            "password=",
            "GET /instances/{id}",
            "instance web-1 started",
            "2026-11-23T10:54:54.123456Z",
            "550e8400-e29b-41d4-a716-446655440000",
            "4bf92f3577b34da6a3ce929d0e0e4736",
            "the bearer of bad news",
            "Bearer short",
            "-----BEGIN CERTIFICATE-----",
            "AKIA is not a key",
            "docker.io/library/nginx@sha256:abcdef",
            "https://example.com/path?q=1",
            "https://example.com:8443/",
            "size=10 count=3",
            "session_count=3 token_cache=true",
            "tokenizer=bpe",
            "eyJ alone",
            "sleep 100",
            "127.0.0.1:4317",
        ] {
            assert_eq!(scan_value(value), None, "{value}");
        }
    }

    #[test]
    fn secret_named_fields_count_unless_empty_or_redacted() {
        assert_eq!(
            scan_field("db_password", "hunter2"),
            Some(Privacy::Secret("secret-named field"))
        );
        assert_eq!(
            scan_field("http.request.header.authorization", "Basic abc"),
            Some(Privacy::Secret("secret-named field"))
        );
        assert_eq!(scan_field("password", ""), None);
        assert_eq!(scan_field("password", REDACTED), None);
        assert_eq!(scan_field("instance_id", "web-1"), None);
        assert_eq!(scan_field("request_id", "4bf92f3577b34da6"), None);
        assert_eq!(
            scan_field("customer", "bob@example.com"),
            Some(Privacy::PersonalData(PersonalData::Email))
        );
        assert_eq!(scan_field("customer", "[REDACTED:email]"), None);
    }

    #[test]
    fn rules_and_words_name_what_was_found() {
        assert_eq!(Privacy::Secret("JWT").rule().id, "privacy.secret");
        assert_eq!(
            Privacy::PersonalData(PersonalData::Card).rule().id,
            "privacy.personal-data"
        );
        assert_eq!(
            Privacy::PersonalData(PersonalData::Email).what(),
            "e-mail address"
        );
    }
}
