//! promlint's rules (Prometheus `client_golang`, `testutil/promlint`), with its messages: what
//! `promtool check metrics` prints after the family name. One finding per family and rule; when
//! promlint would report a rule more than once for a family, the messages are joined with `; `.
//!
//! Where promlint versions differ we follow the union: a name containing *any* type name
//! (`_counter`, `_gauge`, `_histogram`, `_summary`, `_gauge_histogram`) is flagged whatever the
//! family's type (promlint ≤ 1.14, as in promtool 2.x), and units are looked for in the name's
//! parts in order (newer promlint; older ones iterated a map).

use std::collections::{BTreeSet, HashMap};

use crate::exposition::{Duplicate, Exposition, Family, Kind};
use crate::report::Report;
use crate::rules::{self, Rule};

use super::about;

/// promlint's messages and the rule each maps to: `promtool check metrics` prints
/// `<family> <message>`; a line whose message starts with one of these belongs to that rule.
pub const PROMLINT_MESSAGES: &[(&str, &str)] = &[
    ("no help text", "metric.no-help"),
    ("use base unit", "metric.non-base-unit"),
    (
        "counter metrics should have \"_total\" suffix",
        "metric.counter-without-total",
    ),
    (
        "non-counter metrics should not have \"_total\" suffix",
        "metric.total-on-non-counter",
    ),
    (
        "non-histogram metrics should not have \"_bucket\" suffix",
        "metric.reserved-suffix",
    ),
    (
        "non-histogram and non-summary metrics should not have",
        "metric.reserved-suffix",
    ),
    (
        "non-histogram metrics should not have \"le\" label",
        "metric.reserved-label",
    ),
    (
        "non-summary metrics should not have \"quantile\" label",
        "metric.reserved-label",
    ),
    ("metric name should not include type", "metric.type-in-name"),
    (
        "metric names should not contain ':'",
        "metric.colon-in-name",
    ),
    (
        "metric names should be written in 'snake_case'",
        "metric.camel-case",
    ),
    (
        "label names should be written in 'snake_case'",
        "metric.camel-case",
    ),
    (
        "metric names should not contain abbreviated units",
        "metric.unit-abbreviation",
    ),
    ("metric not unique", "metric.duplicate"),
];

/// Units a name may carry, and their base unit.
const UNITS: &[(&str, &str)] = &[
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    ("kelvins", "kelvin"),
    ("fahrenheit", "celsius"),
    ("rankine", "celsius"),
    ("inches", "meters"),
    ("yards", "meters"),
    ("miles", "meters"),
    ("bits", "bytes"),
    ("calories", "joules"),
    ("pounds", "grams"),
    ("ounces", "grams"),
];

const UNIT_PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
    "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
];

const UNIT_ABBREVIATIONS: &[&str] = &[
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];

const TYPE_NAMES: &[&str] = &[
    "counter",
    "gauge",
    "summary",
    "histogram",
    "gauge_histogram",
];

fn base_unit(unit: &str) -> Option<&'static str> {
    UNITS.iter().find(|(u, _)| *u == unit).map(|(_, b)| *b)
}

/// The first unit in the name's `_`-separated parts and its base unit (`milliseconds` →
/// `seconds`).
fn metric_unit(name: &str) -> Option<(&str, &'static str)> {
    for part in name.split('_') {
        if let Some(base) = base_unit(part) {
            return Some((part, base));
        }
        for p in UNIT_PREFIXES {
            if let Some(base) = part.strip_prefix(p).and_then(base_unit) {
                return Some((part, base));
            }
        }
    }
    None
}

/// Whether `name` has `_word_` inside or `_word` at its end.
fn has_word(name: &str, word: &str) -> bool {
    name.strip_suffix(word).is_some_and(|s| s.ends_with('_')) || name.contains(&format!("_{word}_"))
}

fn is_camel(s: &str) -> bool {
    s.as_bytes()
        .windows(2)
        .any(|w| w[0].is_ascii_lowercase() && w[1].is_ascii_uppercase())
}

fn add(report: &mut Report, rule: &Rule, f: &Family, messages: &[String]) {
    if !messages.is_empty() {
        report.add(about(rule, f, messages.join("; ")));
    }
}

/// promlint's per-family rules.
pub(super) fn lint(families: &[&Family], report: &mut Report) {
    for f in families {
        let name = f.name.as_str();
        let lower = name.to_ascii_lowercase();
        let histogram = matches!(f.kind, Kind::Histogram | Kind::GaugeHistogram);
        let summary = f.kind == Kind::Summary;
        let counter = f.kind == Kind::Counter;
        let untyped = f.kind == Kind::Unknown;
        let label_names: BTreeSet<&str> = f
            .samples
            .iter()
            .flat_map(|s| s.labels.iter().map(|(k, _)| k.as_str()))
            .collect();

        if f.help.is_none() {
            add(report, &rules::METRIC_NO_HELP, f, &["no help text".into()]);
        }
        if let Some((unit, base)) = metric_unit(name) {
            if unit != base {
                let m = format!("use base unit {base:?} instead of {unit:?}");
                add(report, &rules::METRIC_NON_BASE_UNIT, f, &[m]);
            }
        }
        let total = name.ends_with("_total");
        if counter && !total {
            let m = "counter metrics should have \"_total\" suffix".to_owned();
            add(report, &rules::METRIC_COUNTER_WITHOUT_TOTAL, f, &[m]);
        } else if !untyped && !counter && total {
            let m = "non-counter metrics should not have \"_total\" suffix".to_owned();
            add(report, &rules::METRIC_TOTAL_ON_NON_COUNTER, f, &[m]);
        }
        if !untyped {
            let mut suffix = Vec::new();
            if !histogram && name.ends_with("_bucket") {
                suffix.push("non-histogram metrics should not have \"_bucket\" suffix".to_owned());
            }
            for s in ["_count", "_sum"] {
                if !histogram && !summary && name.ends_with(s) {
                    suffix.push(format!(
                        "non-histogram and non-summary metrics should not have \"{s}\" suffix"
                    ));
                }
            }
            add(report, &rules::METRIC_RESERVED_SUFFIX, f, &suffix);
            let mut label = Vec::new();
            if !histogram && label_names.contains("le") {
                label.push("non-histogram metrics should not have \"le\" label".to_owned());
            }
            if !summary && label_names.contains("quantile") {
                label.push("non-summary metrics should not have \"quantile\" label".to_owned());
            }
            add(report, &rules::METRIC_RESERVED_LABEL, f, &label);
        }
        let types: Vec<String> = TYPE_NAMES
            .iter()
            .filter(|t| has_word(&lower, t))
            .map(|t| format!("metric name should not include type '{t}'"))
            .collect();
        add(report, &rules::METRIC_TYPE_IN_NAME, f, &types);
        if name.contains(':') {
            let m = "metric names should not contain ':'".to_owned();
            add(report, &rules::METRIC_COLON_IN_NAME, f, &[m]);
        }
        let mut camel = Vec::new();
        if is_camel(name) {
            camel.push("metric names should be written in 'snake_case' not 'camelCase'".to_owned());
        }
        let camel_labels: Vec<&str> = label_names
            .iter()
            .copied()
            .filter(|l| is_camel(l))
            .collect();
        if !camel_labels.is_empty() {
            camel.push(format!(
                "label names should be written in 'snake_case' not 'camelCase' ({})",
                camel_labels.join(", ")
            ));
        }
        add(report, &rules::METRIC_CAMEL_CASE, f, &camel);
        let abbreviations: Vec<&str> = UNIT_ABBREVIATIONS
            .iter()
            .copied()
            .filter(|a| has_word(&lower, a))
            .collect();
        if !abbreviations.is_empty() {
            let m = format!(
                "metric names should not contain abbreviated units ({})",
                abbreviations.join(", ")
            );
            add(report, &rules::METRIC_UNIT_ABBREVIATION, f, &[m]);
        }
    }
}

/// `metric.duplicate`: one finding per family described twice or with a series twice.
pub(super) fn duplicates(exp: &Exposition, linted: &[&Family], report: &mut Report) {
    let mut by_family: HashMap<&str, (&Duplicate, usize)> = HashMap::new();
    for d in &exp.duplicates {
        by_family.entry(d.family.as_str()).or_insert((d, 0)).1 += 1;
    }
    for f in linted {
        let Some((d, count)) = by_family.get(f.name.as_str()) else {
            continue;
        };
        report.add(
            about(
                &rules::METRIC_DUPLICATE,
                f,
                format!("metric not unique: {}", d.what),
            )
            .with("duplicate_line", d.line)
            .with("duplicates", *count),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_are_found_in_the_parts_of_a_name() {
        assert_eq!(
            metric_unit("rpc_latency_milliseconds"),
            Some(("milliseconds", "seconds"))
        );
        assert_eq!(metric_unit("disk_kibibytes"), Some(("kibibytes", "bytes")));
        assert_eq!(metric_unit("x_bytes_total"), Some(("bytes", "bytes")));
        assert_eq!(metric_unit("requests_total"), None);
    }

    #[test]
    fn words_match_whole_parts_only() {
        assert!(has_word("a_ms", "ms"));
        assert!(has_word("a_ms_total", "ms"));
        assert!(!has_word("a_msg_total", "ms"));
        assert!(!has_word("ms_total", "ms"));
        assert!(is_camel("fooBar"));
        assert!(!is_camel("FOO_bar"));
    }
}
