//! Rules about what a family is declared to be: its unit against its name
//! (`metric.unit-suffix`), request counters without a timing histogram
//! (`metric.requests-without-histogram`), and families against the catalogue
//! (`metric.undeclared`, `metric.catalogue-mismatch`).

use std::collections::BTreeSet;

use crate::catalogue::{Catalogue, LabelValues};
use crate::exposition::{Family, Kind};
use crate::report::Report;
use crate::rules;

use super::{about, is_third_party};

/// Unit suffixes a name without a declared unit should not end in.
const UNIT_SUFFIXES: &[&str] = &["seconds", "bytes"];

/// The name without `_total` (counters).
fn stem(f: &Family) -> &str {
    if f.kind == Kind::Counter {
        f.name.strip_suffix("_total").unwrap_or(&f.name)
    } else {
        &f.name
    }
}

/// `metric.unit-suffix`: the unit of `# UNIT` or of the catalogue is not the name's suffix, the
/// two disagree, or the catalogue declares no unit for a name ending in `_seconds`/`_bytes`.
pub(super) fn unit_suffix(
    families: &[&Family],
    catalogue: Option<&Catalogue>,
    report: &mut Report,
) {
    for f in families {
        let stem = stem(f);
        let declared = f.unit.as_deref().filter(|u| !u.is_empty());
        let catalogued = catalogue
            .and_then(|c| c.get(&f.name))
            .map(|m| m.unit.as_str());
        let problem = match (declared, catalogued) {
            (Some(u), Some(c)) if !c.is_empty() && u != c => {
                Some(format!("# UNIT says '{u}' but the catalogue says '{c}'"))
            }
            (Some(u), _) if !stem.ends_with(&format!("_{u}")) => Some(format!(
                "the unit is '{u}' but the name does not end in '_{u}'"
            )),
            (None, Some(c)) if !c.is_empty() && !stem.ends_with(&format!("_{c}")) => Some(format!(
                "the catalogue's unit is '{c}' but the name does not end in '_{c}'"
            )),
            (None, Some("")) => UNIT_SUFFIXES
                .iter()
                .find(|s| stem.ends_with(&format!("_{s}")))
                .map(|s| format!("the name ends in '_{s}' but the catalogue declares no unit")),
            _ => None,
        };
        if let Some(message) = problem {
            report.add(about(&rules::METRIC_UNIT_SUFFIX, f, message));
        }
    }
}

/// Words that make a counter a count of requests or operations.
const REQUEST_WORDS: &[&str] = &["request", "requests", "calls", "operations"];

/// `metric.requests-without-histogram`: a counter named with a request word and no histogram
/// (or summary) beside it that times them: one whose name starts with the same prefix up to that
/// word, or any timing one (its name ending in `_seconds`) of the same service (the first word,
/// the service prefix). `svc_rejected_requests_total` is timed by
/// `svc_http_request_duration_seconds`.
pub(super) fn requests_without_histogram(linted: &[&Family], all: &[Family], report: &mut Report) {
    let timings: Vec<&str> = all
        .iter()
        .filter(|f| {
            matches!(
                f.kind,
                Kind::Histogram | Kind::Summary | Kind::GaugeHistogram
            )
        })
        .map(|f| f.name.as_str())
        .collect();
    for f in linted.iter().filter(|f| f.kind == Kind::Counter) {
        let service = f.name.split('_').next().unwrap_or("");
        let timed = timings
            .iter()
            .any(|t| t.ends_with("_seconds") && t.split('_').next() == Some(service));
        if timed {
            continue;
        }
        let words: Vec<&str> = stem(f).split('_').collect();
        let Some(at) = words.iter().position(|w| REQUEST_WORDS.contains(w)) else {
            continue;
        };
        let prefix = words[..at].join("_");
        let found = timings
            .iter()
            .any(|t| prefix.is_empty() || t.starts_with(&format!("{prefix}_")));
        if !found {
            report.add(
                about(
                    &rules::METRIC_REQUESTS_WITHOUT_HISTOGRAM,
                    f,
                    format!(
                        "no histogram named {prefix}_… beside it: requests are counted but not timed"
                    ),
                )
                .with("prefix", prefix),
            );
        }
    }
}

/// `metric.undeclared`: families (not third-party) the catalogue does not list.
pub(super) fn undeclared(all: &[Family], catalogue: &Catalogue, report: &mut Report) {
    for f in all {
        if !is_third_party(&f.name) && catalogue.get(&f.name).is_none() {
            report.add(about(
                &rules::METRIC_UNDECLARED,
                f,
                "the family is not in the catalogue",
            ));
        }
    }
}

/// `metric.catalogue-mismatch`: a family's type, label names or closed label values differ from
/// its declaration. One finding per family, listing every difference.
pub(super) fn mismatch(linted: &[&Family], catalogue: &Catalogue, report: &mut Report) {
    for f in linted {
        let Some(def) = catalogue.get(&f.name) else {
            continue;
        };
        let mut problems = Vec::new();
        if f.kind.text_equivalent().as_str() != def.kind {
            problems.push(format!(
                "the type is {} but the catalogue says {}",
                f.kind.as_str(),
                def.kind
            ));
        }
        let mut undeclared = BTreeSet::new();
        let mut outside = BTreeSet::new();
        for s in &f.samples {
            for (k, v) in &s.labels {
                if k == "le" || k == "quantile" {
                    continue;
                }
                match def.label(k) {
                    None => {
                        undeclared.insert(k.as_str());
                    }
                    Some(l) => {
                        if let LabelValues::Closed(values) = &l.values {
                            if !values.iter().any(|x| x == v) {
                                outside.insert((k.as_str(), v.as_str()));
                            }
                        }
                    }
                }
            }
        }
        for l in &undeclared {
            problems.push(format!("label '{l}' is not declared"));
        }
        // Label values stay out of the message (one might be an e-mail address): it names the
        // labels and how many values fall outside; the values are in the context.
        let mut outside_by_label: std::collections::BTreeMap<&str, usize> = Default::default();
        for (k, _) in &outside {
            *outside_by_label.entry(k).or_default() += 1;
        }
        for (k, n) in &outside_by_label {
            problems.push(if *n == 1 {
                format!("label '{k}' has a value outside its closed set")
            } else {
                format!("label '{k}' has {n} values outside its closed set")
            });
        }
        if !problems.is_empty() {
            let mut finding = about(&rules::METRIC_CATALOGUE_MISMATCH, f, problems.join("; "))
                .with("declared_type", def.kind.clone());
            if !outside.is_empty() {
                let values: Vec<String> = outside
                    .iter()
                    .take(5)
                    .map(|(k, v)| format!("{k}={v:?}"))
                    .collect();
                finding = finding.with("outside_values", values.join(", "));
            }
            report.add(finding);
        }
    }
}
