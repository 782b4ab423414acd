//! Redaction of secrets and personal data: sensitive field names and, inside string values and
//! messages, e-mail addresses and payment card numbers.
//!
//! Field-name verdicts are computed once per callsite (a bit mask over its fields, cached by the
//! layer), so the hot path pays a bit test, not a word split. Value masking first checks cheaply
//! whether a string could contain anything to mask (an `@`, or 13+ digits) and only then scans.
//!
//! The public part is what a checker needs to find, in someone else's signals, what this library
//! would have redacted — one source of truth for both: the masks ([`REDACTED`], [`EMAIL_MASK`],
//! [`CARD_MASK`]), [`is_secret_name`] (the default sensitive field names of
//! [`Redaction`](crate::Redaction)) and [`find_personal_data`] (the e-mail addresses and card
//! numbers the library masks).
//!
//! ```
//! use watchpost::redact::{find_personal_data, is_secret_name, PersonalData};
//!
//! assert!(is_secret_name("db_password") && is_secret_name("X-Api-Key"));
//! assert!(!is_secret_name("instance_id"));
//! let s = "paid by bob@example.com";
//! let (at, kind) = find_personal_data(s).unwrap();
//! assert_eq!((&s[at], kind), ("bob@example.com", PersonalData::Email));
//! assert_eq!(find_personal_data("paid by [REDACTED:email]"), None);
//! ```

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use crate::config::Redaction;
use crate::util::TwoWayCache;

/// What a redacted field value is replaced by.
pub const REDACTED: &str = "[REDACTED]";
/// What an e-mail address inside a string is replaced by.
pub const EMAIL_MASK: &str = "[REDACTED:email]";
/// What a card number inside a string is replaced by.
pub const CARD_MASK: &str = "[REDACTED:card]";

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// A compiled [`Redaction`] configuration.
#[derive(Debug)]
pub(crate) struct Redactor {
    id: u32,
    enabled: bool,
    /// Each sensitive name split into lowercase words (`api_key` → `["api", "key"]`).
    patterns: Vec<Vec<String>>,
    mask_emails: bool,
    mask_cards: bool,
}

impl Redactor {
    pub(crate) fn new(cfg: &Redaction) -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            enabled: cfg.enabled,
            patterns: cfg
                .field_names
                .iter()
                .map(|n| words(n))
                .filter(|w| !w.is_empty())
                .collect(),
            mask_emails: cfg.enabled && cfg.mask_emails,
            mask_cards: cfg.enabled && cfg.mask_card_numbers,
        }
    }

    /// Whether a field with this name must be written as [`REDACTED`]. Callers cache the
    /// verdict per callsite.
    pub(crate) fn is_secret_name(&self, name: &str) -> bool {
        self.enabled && matches_patterns(name, &self.patterns)
    }

    /// [`is_secret_name`](Self::is_secret_name) for a `'static` name (a `tracing` field name),
    /// cached per thread by the name's address: static names never move or get freed, so the
    /// address identifies the name.
    pub(crate) fn is_secret_static(&self, name: &'static str) -> bool {
        thread_local! {
            static CACHE: TwoWayCache<(usize, usize), bool> = TwoWayCache::new(256);
        }
        if !self.enabled {
            return false;
        }
        let addr = name.as_ptr() as usize;
        CACHE.with(|c| {
            c.get_or_insert(self.id, addr, (addr, name.len()), || {
                self.is_secret_name(name)
            })
        })
    }

    /// Whether masking is configured at all.
    #[inline]
    pub(crate) fn masks_values(&self) -> bool {
        self.mask_emails || self.mask_cards
    }

    /// `s` with e-mail addresses and card numbers masked; borrowed when nothing matched.
    pub(crate) fn mask<'a>(&self, s: &'a str) -> Cow<'a, str> {
        let bytes = s.as_bytes();
        let (at_sign, digits) = scan(bytes);
        let maybe_email = self.mask_emails && at_sign;
        let maybe_card = self.mask_cards && digits >= 13;
        if !maybe_email && !maybe_card {
            return Cow::Borrowed(s);
        }
        let mut spans: Vec<(usize, usize, &'static str)> = Vec::new();
        if maybe_email {
            find_emails(bytes, &mut spans);
        }
        if maybe_card {
            find_cards(bytes, &mut spans);
        }
        if spans.is_empty() {
            return Cow::Borrowed(s);
        }
        spans.sort_unstable_by_key(|s| s.0);
        let mut out = String::with_capacity(s.len());
        let mut at = 0;
        for (start, end, mask) in spans {
            if start < at {
                continue; // overlapping match; the earlier one already covered it
            }
            out.push_str(&s[at..start]);
            out.push_str(mask);
            at = end;
        }
        out.push_str(&s[at..]);
        Cow::Owned(out)
    }
}

/// The kind of personal data [`find_personal_data`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PersonalData {
    /// An e-mail address (masked as [`EMAIL_MASK`]).
    Email,
    /// A Luhn-valid payment card number of 13–19 digits (masked as [`CARD_MASK`]).
    Card,
}

impl PersonalData {
    /// What the library writes in its place.
    pub fn mask(self) -> &'static str {
        match self {
            PersonalData::Email => EMAIL_MASK,
            PersonalData::Card => CARD_MASK,
        }
    }

    /// A short name: `email` or `card`.
    pub fn as_str(self) -> &'static str {
        match self {
            PersonalData::Email => "email",
            PersonalData::Card => "card",
        }
    }
}

/// Whether the library redacts a field with this name under the default [`Redaction`]
/// settings (the names are matched as whole words in any case style: `db_password`,
/// `X-Api-Key`, `refreshToken`).
///
/// Does not allocate for ASCII names.
///
/// [`Redaction`]: crate::Redaction
pub fn is_secret_name(name: &str) -> bool {
    static DEFAULT: OnceLock<Vec<Vec<String>>> = OnceLock::new();
    let patterns = DEFAULT.get_or_init(|| {
        crate::config::Redaction::default()
            .field_names
            .iter()
            .map(|n| words(n))
            .filter(|w| !w.is_empty())
            .collect()
    });
    matches_patterns(name, patterns)
}

/// The first e-mail address or card number in `s` that the library would mask (by position),
/// with its byte range in `s`; `None` when there is none. The masks themselves never match.
///
/// Cheap when there is nothing to find: a string without `@` and with fewer than 13 digits is
/// ruled out in one pass, and nothing is allocated unless something is found.
pub fn find_personal_data(s: &str) -> Option<(Range<usize>, PersonalData)> {
    let bytes = s.as_bytes();
    let maybe_email = bytes.contains(&b'@');
    let maybe_card = bytes.iter().filter(|b| b.is_ascii_digit()).count() >= 13;
    if !maybe_email && !maybe_card {
        return None;
    }
    let mut spans = Vec::new();
    if maybe_email {
        find_emails(bytes, &mut spans);
    }
    if maybe_card {
        find_cards(bytes, &mut spans);
    }
    spans
        .into_iter()
        .min_by_key(|s| s.0)
        .map(|(start, end, mask)| {
            let kind = if mask == EMAIL_MASK {
                PersonalData::Email
            } else {
                PersonalData::Card
            };
            (start..end, kind)
        })
}

/// Whether the words of `name` contain one of `patterns` (each a run of lowercase words).
/// ASCII names are split in place, without allocating.
fn matches_patterns(name: &str, patterns: &[Vec<String>]) -> bool {
    const MAX: usize = 16;
    if !name.is_ascii() {
        let w = words(name);
        return patterns
            .iter()
            .any(|p| w.windows(p.len()).any(|win| win == p.as_slice()));
    }
    let mut ranges = [(0usize, 0usize); MAX];
    let mut n = 0;
    let mut overflow = false;
    ascii_words(name.as_bytes(), |start, end| {
        if n < MAX {
            ranges[n] = (start, end);
            n += 1;
        } else {
            overflow = true;
        }
    });
    if overflow {
        let w = words(name);
        return patterns
            .iter()
            .any(|p| w.windows(p.len()).any(|win| win == p.as_slice()));
    }
    let ranges = &ranges[..n];
    patterns.iter().any(|p| {
        !p.is_empty()
            && ranges.windows(p.len()).any(|win| {
                win.iter()
                    .zip(p)
                    .all(|(&(s, e), word)| name[s..e].eq_ignore_ascii_case(word))
            })
    })
}

/// [`words`] for an ASCII name: calls `f` with each word's byte range.
fn ascii_words(name: &[u8], mut f: impl FnMut(usize, usize)) {
    let mut start = None::<usize>;
    let mut prev_lower = false;
    for (i, &c) in name.iter().enumerate() {
        if !c.is_ascii_alphanumeric() {
            if let Some(s) = start.take() {
                f(s, i);
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower {
            if let Some(s) = start.take() {
                f(s, i);
            }
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        f(s, name.len());
    }
}

/// Splits a field name into lowercase words at non-alphanumeric characters and camelCase humps.
fn words(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn is_local_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

fn find_emails(s: &[u8], spans: &mut Vec<(usize, usize, &'static str)>) {
    for (at, _) in s.iter().enumerate().filter(|(_, &b)| b == b'@') {
        let mut start = at;
        while start > 0 && is_local_char(s[start - 1]) {
            start -= 1;
        }
        // A local part does not start with a dot.
        while start < at && s[start] == b'.' {
            start += 1;
        }
        if start == at {
            continue;
        }
        let mut end = at + 1;
        while end < s.len() && is_domain_char(s[end]) {
            end += 1;
        }
        // Trailing dots and dashes belong to the sentence, not the domain.
        while end > at + 1 && matches!(s[end - 1], b'.' | b'-') {
            end -= 1;
        }
        let domain = &s[at + 1..end];
        let Some(dot) = domain.iter().rposition(|&b| b == b'.') else {
            continue;
        };
        let tld = &domain[dot + 1..];
        let ok = dot > 0
            && domain[0].is_ascii_alphanumeric()
            && tld.len() >= 2
            && tld.iter().all(|b| b.is_ascii_alphabetic());
        if ok {
            spans.push((start, end, EMAIL_MASK));
        }
    }
}

/// `s` with e-mail addresses and card numbers masked by the default rules (for values the library
/// writes unscanned afterwards, whatever the configuration says).
pub(crate) fn mask_with_defaults(s: &str) -> String {
    Redactor::new(&crate::config::Redaction::default())
        .mask(s)
        .into_owned()
}

/// Whether `s` could be masked by a redactor with every mask on: an e-mail address or a card
/// number may be in it (an `@`, or a Luhn-valid run of 13 to 19 digits).
pub(crate) fn may_hold_personal_data(s: &[u8]) -> bool {
    let (at_sign, digits) = scan(s);
    if at_sign {
        return true;
    }
    let mut cards = Vec::new();
    digits >= 13 && {
        find_cards(s, &mut cards);
        !cards.is_empty()
    }
}

/// Whether `s` has an `@`, and how many ASCII digits: what decides whether an e-mail address
/// or a card number may be in it. Eight bytes at a time (most values are short and clean).
fn scan(s: &[u8]) -> (bool, usize) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = false;
    let mut digits = 0usize;
    let mut words = s.chunks_exact(8);
    for word in &mut words {
        let w = u64::from_le_bytes(word.try_into().expect("eight bytes"));
        let ascii = w & !HIGH;
        // High bit of each byte: at least '0', at least ':' (one past '9'); bytes of 0x80 and
        // above (`!w`) are never digits. Seven-bit lanes plus 0x50 cannot carry into the next.
        let from_zero = ascii.wrapping_add(ONES * (0x80 - u64::from(b'0')));
        let past_nine = ascii.wrapping_add(ONES * (0x80 - u64::from(b':')));
        digits += (from_zero & !past_nine & !w & HIGH).count_ones() as usize;
        let x = w ^ (ONES * u64::from(b'@'));
        at |= x.wrapping_sub(ONES) & !x & HIGH != 0;
    }
    for &b in words.remainder() {
        at |= b == b'@';
        digits += usize::from(b.is_ascii_digit());
    }
    (at, digits)
}

fn find_cards(s: &[u8], spans: &mut Vec<(usize, usize, &'static str)>) {
    let mut i = 0;
    while i < s.len() {
        if !s[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = i;
        let boundary_before = start == 0
            || !(s[start - 1].is_ascii_alphanumeric()
                || matches!(s[start - 1], b'.' | b',' | b'_'));
        if !boundary_before {
            // Inside a word (`a1b2`, hex ids): no card starts here, and separators only join
            // digits of a run that starts at a boundary, so the run is skipped whole.
            while i < s.len() && s[i].is_ascii_digit() {
                i += 1;
            }
            continue;
        }
        let mut digits = [0u8; 20];
        let mut n = 0usize;
        let mut end = i;
        while end < s.len() {
            let b = s[end];
            if b.is_ascii_digit() {
                if n < digits.len() {
                    digits[n] = b - b'0';
                }
                n += 1;
                end += 1;
            } else if matches!(b, b' ' | b'-')
                && end + 1 < s.len()
                && s[end + 1].is_ascii_digit()
                && s[end - 1].is_ascii_digit()
            {
                end += 1;
            } else {
                break;
            }
        }
        i = end;
        let boundary_after = end == s.len()
            || !(s[end].is_ascii_alphanumeric()
                || s[end] == b'_'
                || (matches!(s[end], b'.' | b',')
                    && s.get(end + 1).is_some_and(u8::is_ascii_digit)));
        if boundary_after
            && (13..=19).contains(&n)
            && (2..=6).contains(&digits[0])
            && luhn(&digits[..n])
        {
            spans.push((start, end, CARD_MASK));
        }
    }
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = d as u32;
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Redactor {
        Redactor::new(&Redaction::default())
    }

    /// The word-at-a-time pre-scan counts digits and finds `@` exactly as a byte loop does,
    /// whatever the bytes around them (non-ASCII included).
    #[test]
    fn the_prescan_counts_digits_and_finds_at_signs_at_every_offset() {
        let all: Vec<u8> = (0u8..=255).collect();
        for len in 0..40 {
            for start in 0..all.len().saturating_sub(len) {
                let s = &all[start..start + len];
                let naive = (
                    s.contains(&b'@'),
                    s.iter().filter(|b| b.is_ascii_digit()).count(),
                );
                assert_eq!(scan(s), naive, "{s:?}");
            }
        }
        let text = "id 4111 1111 1111 1111, mail a@b.example, 0123456789";
        for at in 0..text.len() {
            let s = &text.as_bytes()[at..];
            let naive = (
                s.contains(&b'@'),
                s.iter().filter(|b| b.is_ascii_digit()).count(),
            );
            assert_eq!(scan(s), naive);
        }
    }

    /// The word scan, lane by lane: every byte value in each of the eight positions among
    /// neighbours at the edges of the digit range, `@` and non-ASCII, against a byte loop.
    #[test]
    fn the_prescan_agrees_with_a_byte_loop_in_every_lane() {
        let backgrounds = [
            0x00u8, 0x2f, 0x30, 0x39, 0x3a, 0x3f, 0x40, 0x41, 0x7f, 0x80, 0xb0, 0xff,
        ];
        for bg in backgrounds {
            for lane in 0..8 {
                for b in 0..=255u8 {
                    let mut bytes = [bg; 8];
                    bytes[lane] = b;
                    let naive = (
                        bytes.contains(&b'@'),
                        bytes.iter().filter(|x| x.is_ascii_digit()).count(),
                    );
                    assert_eq!(scan(&bytes), naive, "{bytes:02x?}");
                }
            }
        }
    }

    #[test]
    fn sensitive_field_names_match_whole_words_in_any_case_style() {
        let r = r();
        for name in [
            "password",
            "db_password",
            "PASSWORD",
            "userPassword",
            "passwd",
            "client_secret",
            "access_token",
            "token",
            "refreshToken",
            "api_key",
            "x-api-key",
            "ApiKey",
            "apikey",
            "authorization",
            "Authorization",
            "cookie",
            "set_cookie",
            "session",
            "session_id",
            "aws.secret.access_key",
            "private_key",
            "credentials",
        ] {
            assert!(r.is_secret_name(name), "{name} should be secret");
        }
        for name in [
            "user_id",
            "instance_id",
            "tokenizer",
            "passage",
            "keyboard",
            "api",
            "key",
            "cookies_enabled_count_xyz",
            "secretary",
            "author",
            "method",
            "path",
        ] {
            assert!(!r.is_secret_name(name), "{name} should not be secret");
        }
    }

    #[test]
    fn the_public_verdicts_agree_with_the_default_redactor() {
        let r = r();
        for name in [
            "password",
            "userPassword",
            "x-api-key",
            "ApiKey",
            "aws.secret.access_key",
            "session_id",
            "instance_id",
            "tokenizer",
            "api",
            "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.password",
            "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s",
            "Ünïcode_password",
            "Ünïcode",
            "HTTPToken",
            "",
        ] {
            assert_eq!(is_secret_name(name), r.is_secret_name(name), "{name}");
        }
        for (input, want) in CORPUS {
            let found = find_personal_data(input);
            assert_eq!(found.is_some(), input != want, "{input:?}");
            if let Some((at, kind)) = found {
                assert!(want.contains(kind.mask()), "{input:?}");
                assert!(r.mask(&input[at]) == kind.mask(), "{input:?}");
            }
        }
        assert_eq!(find_personal_data(REDACTED), None);
        assert_eq!(find_personal_data(EMAIL_MASK), None);
        assert_eq!(find_personal_data(CARD_MASK), None);
    }

    #[test]
    fn a_disabled_redactor_finds_no_secret_names() {
        let off = Redactor::new(&Redaction {
            enabled: false,
            ..Redaction::default()
        });
        assert!(!off.is_secret_name("password"));
        assert!(r().is_secret_name("password"));
    }

    /// (input, expected output). At least 50 tricky inputs, both ways.
    const CORPUS: &[(&str, &str)] = &[
        // E-mail addresses: masked.
        ("bob@example.com", "[REDACTED:email]"),
        (
            "contact bob@example.com now",
            "contact [REDACTED:email] now",
        ),
        ("<alice.smith+tag@mail.example.co.uk>", "<[REDACTED:email]>"),
        (
            "mail: a_b-c%d@sub-domain.example.org.",
            "mail: [REDACTED:email].",
        ),
        (
            "two a@b.io and c@d.dev",
            "two [REDACTED:email] and [REDACTED:email]",
        ),
        ("\"quoted@example.com\"", "\"[REDACTED:email]\""),
        ("UPPER@EXAMPLE.COM", "[REDACTED:email]"),
        ("x@y.museum,", "[REDACTED:email],"),
        (
            "unicode ünï bob@example.com 🦀",
            "unicode ünï [REDACTED:email] 🦀",
        ),
        (
            "line1\nroot@localhost.localdomain\n",
            "line1\n[REDACTED:email]\n",
        ),
        // Not e-mail addresses: kept.
        ("user@localhost", "user@localhost"),
        ("pkg@1.2.3", "pkg@1.2.3"),
        ("@channel hello", "@channel hello"),
        ("trailing@", "trailing@"),
        ("git@github", "git@github"),
        ("a@b.c", "a@b.c"),
        ("price @ 3.50", "price @ 3.50"),
        ("@@@", "@@@"),
        ("name@.com", "name@.com"),
        (
            "docker.io/library/nginx@sha256:abcdef",
            "docker.io/library/nginx@sha256:abcdef",
        ),
        // Card numbers (Luhn-valid, 13–19 digits): masked.
        ("4111111111111111", "[REDACTED:card]"),
        ("card 4111 1111 1111 1111 ok", "card [REDACTED:card] ok"),
        ("4111-1111-1111-1111", "[REDACTED:card]"),
        ("amex 378282246310005.", "amex [REDACTED:card]."),
        ("mc:5555555555554444", "mc:[REDACTED:card]"),
        ("discover 6011111111111117", "discover [REDACTED:card]"),
        ("visa13 4222222222222", "visa13 [REDACTED:card]"),
        ("(5105105105105100)", "([REDACTED:card])"),
        ("jcb 3530111333300000 end", "jcb [REDACTED:card] end"),
        ("diners 30569309025904", "diners [REDACTED:card]"),
        // Not card numbers: kept.
        ("4111111111111112", "4111111111111112"),
        ("411111111111", "411111111111"),
        ("41111111111111111111111", "41111111111111111111111"),
        (
            "123e4567-e89b-12d3-a456-426614174000",
            "123e4567-e89b-12d3-a456-426614174000",
        ),
        (
            "550e8400-e29b-41d4-a716-446655440000",
            "550e8400-e29b-41d4-a716-446655440000",
        ),
        (
            "12345678-1234-1234-1234-123456789012",
            "12345678-1234-1234-1234-123456789012",
        ),
        ("2026-11-23T10:54:54.123456Z", "2026-11-23T10:54:54.123456Z"),
        ("2026-11-23 10:54:54", "2026-11-23 10:54:54"),
        ("1700000000123456", "1700000000123456"),
        ("v1.2.3", "v1.2.3"),
        ("version 10.24.1-beta.3", "version 10.24.1-beta.3"),
        ("0.4111111111111111", "0.4111111111111111"),
        ("id_4111111111111111", "id_4111111111111111"),
        ("x4111111111111111", "x4111111111111111"),
        ("+1 555-123-4567", "+1 555-123-4567"),
        ("192.168.100.200:8080", "192.168.100.200:8080"),
        ("sha256:4111111111111111abc", "sha256:4111111111111111abc"),
        ("pid 4242 exited with 137", "pid 4242 exited with 137"),
        ("bytes=4111111111111111,", "bytes=[REDACTED:card],"),
        ("4111 1111  1111 1111", "4111 1111  1111 1111"),
        ("", ""),
        (
            "no digits or at signs at all",
            "no digits or at signs at all",
        ),
        // Both in one string.
        (
            "user bob@example.com paid with 4111111111111111",
            "user [REDACTED:email] paid with [REDACTED:card]",
        ),
        (
            "injection \"\n{\"level\":\"ERROR\"}",
            "injection \"\n{\"level\":\"ERROR\"}",
        ),
    ];

    #[test]
    fn the_masking_corpus_masks_what_it_must_and_keeps_the_rest() {
        assert!(CORPUS.len() >= 50, "corpus has {} inputs", CORPUS.len());
        let r = r();
        let mut failures = Vec::new();
        for (input, want) in CORPUS {
            let got = r.mask(input);
            if got != *want {
                failures.push(format!("{input:?}: got {got:?}, want {want:?}"));
            }
        }
        assert!(failures.is_empty(), "{}", failures.join("\n"));
    }

    #[test]
    fn masking_can_be_switched_off_per_kind() {
        let r = Redactor::new(&Redaction {
            mask_emails: false,
            ..Redaction::default()
        });
        assert_eq!(
            r.mask("bob@example.com 4111111111111111"),
            "bob@example.com [REDACTED:card]"
        );
        let r = Redactor::new(&Redaction {
            enabled: false,
            ..Redaction::default()
        });
        assert!(!r.masks_values());
        assert_eq!(
            r.mask("bob@example.com 4111111111111111"),
            "bob@example.com 4111111111111111"
        );
    }

    #[test]
    fn strings_with_nothing_to_mask_are_borrowed() {
        assert!(matches!(
            r().mask("GET /instances/abc 200"),
            Cow::Borrowed(_)
        ));
    }
}
