//! Label values: too many of them (`metric.high-cardinality`), or values that look like ids
//! (`metric.id-like-label`).

use std::collections::{BTreeMap, HashSet};
use std::net::{IpAddr, SocketAddr};

use crate::catalogue::{Catalogue, LabelValues};
use crate::exposition::{Family, Kind};
use crate::report::Report;
use crate::rules;

use super::about;

/// The distinct values of each label of a family (`le` and `quantile` left out), by label name.
fn values_by_label(f: &Family) -> BTreeMap<&str, HashSet<&str>> {
    let mut out: BTreeMap<&str, HashSet<&str>> = BTreeMap::new();
    for s in &f.samples {
        for (k, v) in &s.labels {
            if k != "le" && k != "quantile" {
                out.entry(k.as_str()).or_default().insert(v.as_str());
            }
        }
    }
    out
}

/// `metric.high-cardinality`: one finding per family and label with more distinct values than
/// the label's budget in the catalogue or, for a label without one, than `max`. A declared
/// budget replaces `max` (it may be larger: the catalogue knows the label best).
pub(super) fn cardinality(
    families: &[&Family],
    max: usize,
    catalogue: Option<&Catalogue>,
    report: &mut Report,
) {
    for f in families {
        let def = catalogue.and_then(|c| c.get(&f.name));
        for (label, values) in values_by_label(f) {
            let budget = def
                .and_then(|d| d.label(label))
                .and_then(|l| match l.values {
                    LabelValues::Budget(n) => usize::try_from(n).ok(),
                    LabelValues::Closed(_) => None,
                });
            let limit = budget.unwrap_or(max);
            if values.len() <= limit {
                continue;
            }
            let source = if budget.is_some() {
                "its catalogue budget"
            } else {
                "the limit"
            };
            report.add(
                about(
                    &rules::METRIC_HIGH_CARDINALITY,
                    f,
                    format!(
                        "label '{label}' has {} distinct values, more than {source} ({limit})",
                        values.len()
                    ),
                )
                .with("label", label)
                .with("values", values.len())
                .with("limit", limit),
            );
        }
    }
}

/// What kind of id a label value looks like, if any: `a UUID`, `long hex`, `an IP address`,
/// `an e-mail address`, `a number in a path`.
///
/// ```
/// use watchpost_cli::lint::id_kind;
/// assert_eq!(id_kind("3f2b1c9e-8a4d-4e6f-9b2a-1c3d5e7f9a0b"), Some("a UUID"));
/// assert_eq!(id_kind("deadbeefcafebabe"), Some("long hex"));
/// assert_eq!(id_kind("10.0.0.12"), Some("an IP address"));
/// assert_eq!(id_kind("[::1]:8080"), Some("an IP address"));
/// assert_eq!(id_kind("fe80::1"), Some("an IP address"));
/// assert_eq!(id_kind("ada@example.com"), Some("an e-mail address"));
/// assert_eq!(id_kind("/users/123/orders"), Some("a number in a path"));
/// assert_eq!(id_kind("/users/{id}"), None);
/// assert_eq!(id_kind("/api/v1/query"), None);
/// assert_eq!(id_kind("GET"), None);
/// assert_eq!(id_kind("0.005"), None);
/// assert_eq!(id_kind("200"), None);
/// ```
pub fn id_kind(v: &str) -> Option<&'static str> {
    if is_uuid(v) {
        return Some("a UUID");
    }
    if v.len() >= 16 && v.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some("long hex");
    }
    if v.contains(['.', ':']) && (v.parse::<IpAddr>().is_ok() || v.parse::<SocketAddr>().is_ok()) {
        return Some("an IP address");
    }
    if let Some((local, domain)) = v.split_once('@') {
        if !local.is_empty()
            && !domain.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !v.contains(char::is_whitespace)
        {
            return Some("an e-mail address");
        }
    }
    if v.contains('/') {
        let path = v.split(['?', '#']).next().unwrap_or(v);
        for segment in path.split('/') {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                return Some("a number in a path");
            }
            if is_uuid(segment)
                || (segment.len() >= 16 && segment.bytes().all(|b| b.is_ascii_hexdigit()))
            {
                return Some("a number in a path");
            }
        }
    }
    None
}

fn is_uuid(v: &str) -> bool {
    v.len() == 36
        && v.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// Id kinds a label declared with a budget in the catalogue may carry: the standard's exception
/// for per-VM labels (`instance_id`, `instance_name`) when operationally required and guarded by
/// a budget. E-mail addresses (personal data) and numbers in a path (a route not templated) are
/// never excused.
const BUDGETED_ID_KINDS: &[&str] = &["a UUID", "long hex", "an IP address"];

/// `metric.id-like-label`: one finding per family and label with a value that looks like an id.
/// Info families (type `info`, or a name ending in `_info`: build information with a commit
/// hash, one series) are exempt, and so are UUIDs, long hex and IP addresses in a label the
/// catalogue declares with a budget ([`BUDGETED_ID_KINDS`]). The message names the label and the
/// kind of value; the value itself is only in the context.
pub(super) fn id_like(families: &[&Family], catalogue: Option<&Catalogue>, report: &mut Report) {
    for f in families {
        if f.kind == Kind::Info || f.name.ends_with("_info") {
            continue;
        }
        let def = catalogue.and_then(|c| c.get(&f.name));
        let budgeted = |label: &str| {
            def.and_then(|d| d.label(label))
                .is_some_and(|l| matches!(l.values, LabelValues::Budget(_)))
        };
        let mut flagged: Vec<&str> = Vec::new();
        for s in &f.samples {
            for (k, v) in &s.labels {
                if k == "le" || k == "quantile" || flagged.contains(&k.as_str()) {
                    continue;
                }
                let Some(kind) = id_kind(v) else { continue };
                if BUDGETED_ID_KINDS.contains(&kind) && budgeted(k) {
                    continue;
                }
                flagged.push(k);
                report.add(
                    about(
                        &rules::METRIC_ID_LIKE_LABEL,
                        f,
                        format!("label '{k}' has a value that looks like {kind}"),
                    )
                    .with("label", k.as_str())
                    .with("kind", kind)
                    .with("value", v.as_str()),
                );
            }
        }
    }
}
