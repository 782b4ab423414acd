//! Durations as the flags and the console's API write them: a number and a unit.
//!
//! ```
//! use std::time::Duration;
//! use watchpost_cli::duration::parse;
//! assert_eq!(parse("1.5ms"), Some(Duration::from_micros(1500)));
//! assert_eq!(parse("7d"), Some(Duration::from_secs(7 * 86_400)));
//! assert_eq!(parse("7"), None);
//! ```

use std::time::Duration;

/// The units [`parse`] reads, as a hint lists them.
pub const UNITS: &str = "ns, us, ms, s, m, h, d";

/// Reads a number (digits, an optional fraction) and a unit: `ns`, `us` (or `µs`), `ms`, `s`,
/// `m`, `h`, `d`. `None` for anything else (no unit, an unknown unit, a negative number, or
/// more nanoseconds than a `u64` holds); each caller adds its own bounds and error.
///
/// ```
/// use watchpost_cli::duration::parse;
/// assert_eq!(parse("2m").unwrap().as_secs(), 120);
/// assert!(parse("5 parsecs").is_none());
/// ```
pub fn parse(s: &str) -> Option<Duration> {
    let split = s.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (n, unit) = s.split_at(split);
    if n.is_empty() {
        return None;
    }
    let n: f64 = n.parse().ok()?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        "m" => 60e9,
        "h" => 3600e9,
        "d" => 86_400e9,
        _ => return None,
    };
    let ns = (n * scale).round();
    (ns.is_finite() && (0.0..=u64::MAX as f64).contains(&ns))
        .then(|| Duration::from_nanos(ns as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_unit_reads_and_anything_else_is_refused() {
        for (s, ns) in [
            ("500ns", 500),
            ("500us", 500_000),
            ("2µs", 2_000),
            ("250ms", 250_000_000),
            ("1.5s", 1_500_000_000),
            ("2m", 120_000_000_000),
            ("1h", 3_600_000_000_000),
            ("1d", 86_400_000_000_000),
        ] {
            assert_eq!(parse(s).map(|d| d.as_nanos()), Some(ns), "{s}");
        }
        for s in [
            "",
            "7",
            "ms",
            "1.2.3s",
            "-1s",
            "1 s",
            "1w",
            "99999999999999999999d",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}
