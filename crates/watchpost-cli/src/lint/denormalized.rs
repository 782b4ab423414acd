//! `metric.denormalized`: series that can be derived from others.
//!
//! * A counter whose series equal a histogram's `_count` series, label set for label set (the
//!   same sets, every value equal, at least one non-zero), the two names sharing their first word
//!   (the service prefix): the histogram already counts them. Equal counts alone can be a
//!   coincidence (`svc_jobs_started_total 3` beside `svc_job_duration_seconds_count 3`), so one
//!   of two more signs is required: the counter's name without `_total`, its last word singular
//!   or not, begins the histogram's name (`svc_http_requests_total` and
//!   `svc_http_request_duration_seconds`), or two or more non-zero series agree label set for
//!   label set (several labelled counts that all match are no coincidence).
//! * A series equal to the sum of its siblings (non-zero): a series without label `L` equal to
//!   the sum of two or more series that have `L` and otherwise the same labels, or a series whose
//!   `L` is an aggregate value (`all`, `total`, `any`, `sum`, `*`) equal to the sum of two or more
//!   series with other values of `L`.

use std::collections::{BTreeSet, HashMap};

use crate::exposition::{Family, Kind, Sample};
use crate::report::Report;
use crate::rules;

use super::about;

/// Label values that mean "all of the others".
const AGGREGATE_VALUES: &[&str] = &["all", "total", "any", "sum", "*"];

fn equal(a: f64, b: f64) -> bool {
    a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

type Key<'a> = Vec<(&'a str, &'a str)>;

fn key(s: &Sample) -> Key<'_> {
    s.labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Counters equal to a histogram's `_count`.
pub(super) fn histogram_counts(linted: &[&Family], all: &[Family], report: &mut Report) {
    let counts: Vec<(&Family, HashMap<Key<'_>, f64>)> = all
        .iter()
        .filter(|f| f.kind == Kind::Histogram)
        .map(|f| {
            let count_name = format!("{}_count", f.name);
            let series = f
                .samples
                .iter()
                .filter(|s| s.name == count_name)
                .map(|s| (key(s), s.value))
                .collect();
            (f, series)
        })
        .filter(|(_, series): &(&Family, HashMap<Key<'_>, f64>)| !series.is_empty())
        .collect();
    for c in linted.iter().filter(|f| f.kind == Kind::Counter) {
        let series: Vec<&Sample> = c.samples.iter().filter(|s| s.name == c.name).collect();
        if series.is_empty() || series.iter().all(|s| s.value == 0.0) {
            continue;
        }
        let first_word = |n: &str| n.split('_').next().unwrap_or("").to_owned();
        let word = first_word(&c.name);
        let labelled_non_zero = series
            .iter()
            .filter(|s| !s.labels.is_empty() && s.value != 0.0)
            .count();
        for (h, count) in &counts {
            if count.len() != series.len() || first_word(&h.name) != word {
                continue;
            }
            let same = series
                .iter()
                .all(|s| count.get(&key(s)).is_some_and(|&v| equal(v, s.value)));
            if same && (labelled_non_zero >= 2 || same_stem(&c.name, &h.name)) {
                report.add(
                    about(
                        &rules::METRIC_DENORMALIZED,
                        c,
                        format!(
                            "every series equals {}_count with the same labels: the histogram already counts them",
                            h.name
                        ),
                    )
                    .with("histogram", h.name.clone()),
                );
                break;
            }
        }
    }
}

/// Whether the counter's name without `_total` (its last word with or without a plural `s`)
/// begins the histogram's name, word for word: `svc_http_requests_total` and
/// `svc_http_request_duration_seconds`, not `svc_jobs_started_total` and
/// `svc_job_duration_seconds`.
fn same_stem(counter: &str, histogram: &str) -> bool {
    let stem = counter.strip_suffix("_total").unwrap_or(counter);
    let singular = stem.strip_suffix('s').filter(|s| !s.ends_with('_'));
    std::iter::once(stem).chain(singular).any(|stem| {
        histogram
            .strip_prefix(stem)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('_'))
    })
}

/// Series equal to the sum of their siblings. One finding per family at most.
pub(super) fn sibling_sums(linted: &[&Family], report: &mut Report) {
    for f in linted {
        if let Some(sum) = sibling_sum(f) {
            // The message names the label, not the series' other values (they are in the
            // context: a label value may be anything, an e-mail address too).
            report.add(
                about(
                    &rules::METRIC_DENORMALIZED,
                    f,
                    format!(
                        "{} equals the sum of its {} siblings by label '{}': drop it and sum in the query",
                        sum.which, sum.siblings, sum.label
                    ),
                )
                .with("series", sum.series)
                .with("label", sum.label),
            );
        }
    }
}

/// A series that is the sum of its siblings.
struct SiblingSum {
    /// The series as written (`name{a="b"}`), for the context.
    series: String,
    /// Which series, for the message: `the series without label 'L'` or `the series with L="all"`.
    which: String,
    /// The label the siblings differ by.
    label: String,
    /// How many siblings.
    siblings: usize,
}

/// The first series of `f` that is the sum of its siblings.
fn sibling_sum(f: &Family) -> Option<SiblingSum> {
    let mut by_name: HashMap<&str, Vec<&Sample>> = HashMap::new();
    for s in &f.samples {
        if !s.name.ends_with("_bucket") {
            by_name.entry(s.name.as_str()).or_default().push(s);
        }
    }
    let mut names: Vec<&str> = by_name.keys().copied().collect();
    names.sort_unstable();
    for name in names {
        let group = &by_name[name];
        let labels: BTreeSet<&str> = group
            .iter()
            .flat_map(|s| s.labels.iter().map(|(k, _)| k.as_str()))
            .filter(|k| *k != "le" && *k != "quantile")
            .collect();
        for label in labels {
            // Sums of the series that have `label` with a non-aggregate value, by their other labels.
            let mut sums: HashMap<Key<'_>, (f64, usize)> = HashMap::new();
            for s in group {
                let Some(v) = s.label(label) else { continue };
                if AGGREGATE_VALUES.contains(&v) {
                    continue;
                }
                let rest: Key<'_> = key(s).into_iter().filter(|(k, _)| *k != label).collect();
                let e = sums.entry(rest).or_insert((0.0, 0));
                e.0 += s.value;
                e.1 += 1;
            }
            for s in group {
                if s.value == 0.0 || !s.value.is_finite() {
                    continue;
                }
                let aggregate = match s.label(label) {
                    None => true,
                    Some(v) => AGGREGATE_VALUES.contains(&v),
                };
                if !aggregate {
                    continue;
                }
                let rest: Key<'_> = key(s).into_iter().filter(|(k, _)| *k != label).collect();
                if let Some(&(sum, n)) = sums.get(&rest) {
                    if n >= 2 && equal(sum, s.value) {
                        let which = match s.label(label) {
                            None => format!("the series without label '{label}'"),
                            // One of AGGREGATE_VALUES: safe to name.
                            Some(v) => format!("the series with {label}=\"{v}\""),
                        };
                        return Some(SiblingSum {
                            series: crate::exposition::series_text(s),
                            which,
                            label: label.to_owned(),
                            siblings: n,
                        });
                    }
                }
            }
        }
    }
    None
}
