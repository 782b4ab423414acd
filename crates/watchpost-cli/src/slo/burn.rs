//! Burn-rate arithmetic of multi-window, multi-burn-rate alerts (the Google SRE workbook,
//! chapter 5, "Alerting on SLOs"), in exact rational numbers.
//!
//! A tier spends `consumed` of the error budget of `period` within its long window when the
//! error ratio is `factor × (1 − objective)`, where `factor = consumed × period / long window`.
//! For the workbook's 30-day period:
//!
//! | tier        | long | short | consumed | factor | `for` |
//! |-------------|------|-------|----------|--------|-------|
//! | `page_1h`   | 1h   | 5m    | 2%       | 14.4   | 2m    |
//! | `page_6h`   | 6h   | 30m   | 5%       | 6      | 5m    |
//! | `ticket_1d` | 1d   | 2h    | 10%      | 3      | 15m   |
//! | `ticket_3d` | 3d   | 6h    | 10%      | 1      | 30m   |
//!
//! Thresholds are printed as exact decimals (`14.4 × 0.001` is `0.0144`, never
//! `0.014399999999999998`); a threshold whose decimal does not terminate (a 28-day period gives
//! `2.8 / 3`) is rounded to 12 significant digits.
//!
//! ```
//! use watchpost_cli::slo::burn::{Ratio, TIERS};
//! let budget = Ratio::percent_complement("99.9").unwrap(); // 1 − 99.9% = 0.001
//! let factor = TIERS[0].factor(30 * 24);
//! assert_eq!(factor.to_decimal(), "14.4");
//! assert_eq!((factor * budget).to_decimal(), "0.0144");
//! ```

use std::fmt;

/// A non-negative rational number `num / den`, kept reduced.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ratio {
    num: u128,
    den: u128,
}

fn gcd(mut a: u128, mut b: u128) -> u128 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

impl Ratio {
    /// `num / den` (`den` > 0).
    pub fn new(num: u128, den: u128) -> Ratio {
        assert!(den != 0, "zero denominator");
        let g = gcd(num, den).max(1);
        Ratio {
            num: num / g,
            den: den / g,
        }
    }

    /// Parses a plain decimal (`99.9`, `0.25`, `3`): digits with at most one point.
    pub fn parse_decimal(text: &str) -> Option<Ratio> {
        let text = text.trim();
        let (int, frac) = text.split_once('.').unwrap_or((text, ""));
        if (int.is_empty() && frac.is_empty())
            || !int.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
            || int.len() + frac.len() > 30
        {
            return None;
        }
        let digits: u128 = format!("{int}{frac}").parse().ok()?;
        Some(Ratio::new(digits, 10u128.pow(frac.len() as u32)))
    }

    /// `1 − p/100` for a percentage `p` written as a decimal (`"99.9"` gives 0.001): the error
    /// budget of an objective. `None` unless 0 < p < 100.
    pub fn percent_complement(percent: &str) -> Option<Ratio> {
        let p = Ratio::parse_decimal(percent)?;
        let hundred = Ratio::new(100, 1);
        if p.num == 0 || p >= hundred {
            return None;
        }
        // (100 − p) / 100 with p = n/d: (100d − n) / 100d.
        Some(Ratio::new(100 * p.den - p.num, 100 * p.den))
    }

    /// Whether this is at least 1.
    pub fn at_least_one(self) -> bool {
        self.num >= self.den
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        self.num as f64 / self.den as f64
    }

    /// The value as a decimal: exact when it terminates, else rounded to 12 significant digits.
    pub fn to_decimal(self) -> String {
        let mut d = self.den;
        while d.is_multiple_of(2) {
            d /= 2;
        }
        while d.is_multiple_of(5) {
            d /= 5;
        }
        let int = self.num / self.den;
        let mut rem = self.num % self.den;
        let mut frac = String::new();
        if d == 1 {
            while rem != 0 {
                rem *= 10;
                frac.push(char::from(b'0' + (rem / self.den) as u8));
                rem %= self.den;
            }
            return join(int, &frac);
        }
        // Not terminating: 12 significant digits, rounded half up.
        let mut digits: Vec<u8> = int.to_string().bytes().map(|b| b - b'0').collect();
        let int_len = digits.len();
        let mut significant = if int == 0 { 0 } else { int_len };
        let mut frac_len = 0;
        while significant < 13 {
            rem *= 10;
            let digit = (rem / self.den) as u8;
            rem %= self.den;
            digits.push(digit);
            frac_len += 1;
            if significant > 0 || digit != 0 {
                significant += 1;
            }
        }
        let round_up = digits.pop().is_some_and(|last| last >= 5);
        frac_len -= 1;
        if round_up {
            let mut i = digits.len();
            loop {
                if i == 0 {
                    digits.insert(0, 1);
                    break;
                }
                i -= 1;
                if digits[i] == 9 {
                    digits[i] = 0;
                } else {
                    digits[i] += 1;
                    break;
                }
            }
        }
        let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
        let (i, f) = text.split_at(text.len() - frac_len);
        let f = f.trim_end_matches('0');
        if f.is_empty() {
            i.to_owned()
        } else {
            format!("{i}.{f}")
        }
    }
}

fn join(int: u128, frac: &str) -> String {
    if frac.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{frac}")
    }
}

impl std::ops::Mul for Ratio {
    type Output = Ratio;
    fn mul(self, other: Ratio) -> Ratio {
        let a = Ratio::new(self.num, other.den);
        let b = Ratio::new(other.num, self.den);
        Ratio::new(a.num * b.num, a.den * b.den)
    }
}

impl std::ops::Div for Ratio {
    type Output = Ratio;
    /// `other` must be non-zero.
    fn div(self, other: Ratio) -> Ratio {
        let inverse = Ratio::new(other.den, other.num);
        std::ops::Mul::mul(self, inverse)
    }
}

impl PartialOrd for Ratio {
    fn partial_cmp(&self, other: &Ratio) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Ratio {
    fn cmp(&self, other: &Ratio) -> std::cmp::Ordering {
        (self.num * other.den).cmp(&(other.num * self.den))
    }
}

impl fmt::Debug for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} ({})", self.num, self.den, self.to_decimal())
    }
}

/// How loud an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Wake someone up.
    Page,
    /// Handle within working hours.
    Ticket,
}

impl Severity {
    /// `page` or `ticket`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }
}

/// One tier of the workbook's table.
#[derive(Debug, Clone, Copy)]
pub struct TierDef {
    /// The key in `[slo.tiers]` (`page_1h`).
    pub key: &'static str,
    /// The `burn_tier` label: 1 is the fastest burn.
    pub rank: u8,
    /// The default severity.
    pub severity: Severity,
    /// The long window, in minutes.
    pub long_minutes: u32,
    /// The short window, in minutes (1/12 of the long one).
    pub short_minutes: u32,
    /// The share of the period's budget spent within the long window, in percent.
    pub consumed_percent: u32,
    /// The `for:` of the alert, in minutes.
    pub for_minutes: u32,
}

/// The workbook's four tiers, fastest first.
pub const TIERS: [TierDef; 4] = [
    TierDef {
        key: "page_1h",
        rank: 1,
        severity: Severity::Page,
        long_minutes: 60,
        short_minutes: 5,
        consumed_percent: 2,
        for_minutes: 2,
    },
    TierDef {
        key: "page_6h",
        rank: 2,
        severity: Severity::Page,
        long_minutes: 360,
        short_minutes: 30,
        consumed_percent: 5,
        for_minutes: 5,
    },
    TierDef {
        key: "ticket_1d",
        rank: 3,
        severity: Severity::Ticket,
        long_minutes: 1440,
        short_minutes: 120,
        consumed_percent: 10,
        for_minutes: 15,
    },
    TierDef {
        key: "ticket_3d",
        rank: 4,
        severity: Severity::Ticket,
        long_minutes: 4320,
        short_minutes: 360,
        consumed_percent: 10,
        for_minutes: 30,
    },
];

/// Every window a recording rule is written for, in minutes.
pub const WINDOWS: [u32; 7] = [5, 30, 60, 120, 360, 1440, 4320];

impl TierDef {
    /// The burn-rate factor for a period of `period_hours`: consumed × period / long window.
    pub fn factor(&self, period_hours: u64) -> Ratio {
        Ratio::new(
            u128::from(self.consumed_percent) * u128::from(period_hours) * 60,
            100 * u128::from(self.long_minutes),
        )
    }
}

/// A window as Prometheus writes it: `5m`, `1h`, `3d`.
pub fn window(minutes: u32) -> String {
    duration(u64::from(minutes))
}

/// Minutes as a Prometheus duration in the largest whole unit (`d`, `h`, `m`).
pub fn duration(minutes: u64) -> String {
    if minutes.is_multiple_of(1440) {
        format!("{}d", minutes / 1440)
    } else if minutes.is_multiple_of(60) {
        format!("{}h", minutes / 60)
    } else {
        format!("{minutes}m")
    }
}

/// Reads a period: `30d`, `4w`, `720h`. Returns hours.
pub fn parse_period(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().ok()?;
    let hours = match unit {
        "h" => n,
        "d" => n.checked_mul(24)?,
        "w" => n.checked_mul(24 * 7)?,
        _ => return None,
    };
    (hours > 0).then_some(hours)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn threshold(objective: &str, tier: usize, period_hours: u64) -> String {
        (TIERS[tier].factor(period_hours) * Ratio::percent_complement(objective).unwrap())
            .to_decimal()
    }

    #[test]
    fn the_workbook_table_for_30_days() {
        let factors: Vec<String> = TIERS.iter().map(|t| t.factor(720).to_decimal()).collect();
        assert_eq!(factors, ["14.4", "6", "3", "1"]);
        let windows: Vec<(String, String)> = TIERS
            .iter()
            .map(|t| (window(t.long_minutes), window(t.short_minutes)))
            .collect();
        assert_eq!(
            windows,
            [("1h", "5m"), ("6h", "30m"), ("1d", "2h"), ("3d", "6h")]
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
        let consumed: Vec<u32> = TIERS.iter().map(|t| t.consumed_percent).collect();
        assert_eq!(consumed, [2, 5, 10, 10]);
        let severities: Vec<&str> = TIERS.iter().map(|t| t.severity.as_str()).collect();
        assert_eq!(severities, ["page", "page", "ticket", "ticket"]);
    }

    #[test]
    fn thresholds_are_exact_decimals() {
        assert_eq!(threshold("99.9", 0, 720), "0.0144");
        assert_eq!(threshold("99.9", 1, 720), "0.006");
        assert_eq!(threshold("99.9", 2, 720), "0.003");
        assert_eq!(threshold("99.9", 3, 720), "0.001");
        assert_eq!(threshold("99.95", 0, 720), "0.0072");
        assert_eq!(threshold("99", 0, 720), "0.144");
        assert_eq!(threshold("99.99", 0, 720), "0.00144");
        assert_eq!(threshold("95", 2, 720), "0.15");
        // f64 would say 0.0014399999999999999.
        assert_eq!(threshold("99.99", 0, 720), "0.00144");
    }

    #[test]
    fn other_periods_scale_the_factors() {
        // 28 days: 0.02 × 672 h / 1 h.
        assert_eq!(TIERS[0].factor(672).to_decimal(), "13.44");
        assert_eq!(TIERS[1].factor(672).to_decimal(), "5.6");
        assert_eq!(TIERS[2].factor(672).to_decimal(), "2.8");
        // 0.1 × 672 / 72 = 0.9333…: rounded to 12 significant digits.
        assert_eq!(TIERS[3].factor(672).to_decimal(), "0.933333333333");
        // 7 days.
        assert_eq!(TIERS[0].factor(168).to_decimal(), "3.36");
    }

    #[test]
    fn a_tier_at_or_above_the_whole_budget_cannot_fire() {
        let budget = Ratio::percent_complement("90").unwrap();
        assert!((TIERS[0].factor(720) * budget).at_least_one());
        assert!(!(TIERS[1].factor(720) * budget).at_least_one());
    }

    #[test]
    fn decimals_and_periods_parse() {
        assert_eq!(Ratio::parse_decimal("0.25"), Some(Ratio::new(1, 4)));
        assert_eq!(Ratio::parse_decimal("1e3"), None);
        assert_eq!(Ratio::percent_complement("100"), None);
        assert_eq!(Ratio::percent_complement("0"), None);
        assert_eq!(Ratio::new(2, 3).to_decimal(), "0.666666666667");
        assert_eq!(Ratio::new(200, 3).to_decimal(), "66.6666666667");
        assert_eq!(parse_period("30d"), Some(720));
        assert_eq!(parse_period("4w"), Some(672));
        assert_eq!(parse_period("30"), None);
        assert_eq!(parse_period("0d"), None);
        assert_eq!(duration(720 * 60), "30d");
    }
}
