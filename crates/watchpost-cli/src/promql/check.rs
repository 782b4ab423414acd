//! The checker.

use std::collections::BTreeSet;
use std::fmt;

use crate::catalogue::{Catalogue, CatalogueMetric, LabelValues};

use super::parse::{COUNTER_FUNCTIONS, FUNCTIONS, RANGE_FUNCTIONS};
use super::{Expr, Group, Grouping, MatchOp, Matcher, Matching, Selector, VectorMatching};

/// Something wrong with an expression: it does not parse, or it queries what the catalogue does
/// not declare.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The whole expression.
    pub expr: String,
    /// The selector at fault, as written (none for a parse error or a whole-expression problem).
    pub selector: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.selector {
            Some(s) => write!(f, "{s}: {} (in `{}`)", self.message, self.expr),
            None => write!(f, "{} (in `{}`)", self.message, self.expr),
        }
    }
}

/// The labels an expression's result may carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Labels {
    /// Unknown (an extra series, `absent`): anything goes.
    Any,
    Known(BTreeSet<String>),
}

impl Labels {
    fn none() -> Labels {
        Labels::Known(BTreeSet::new())
    }

    fn has(&self, l: &str) -> bool {
        match self {
            Labels::Any => true,
            Labels::Known(s) => s.contains(l),
        }
    }

    fn with(self, extra: &[String]) -> Labels {
        match self {
            Labels::Any => Labels::Any,
            Labels::Known(mut s) => {
                s.extend(extra.iter().cloned());
                Labels::Known(s)
            }
        }
    }

    fn without(self, gone: &[String]) -> Labels {
        match self {
            Labels::Any => Labels::Any,
            Labels::Known(mut s) => {
                for g in gone {
                    s.remove(g);
                }
                Labels::Known(s)
            }
        }
    }

    fn union(self, other: Labels) -> Labels {
        match (self, other) {
            (Labels::Known(mut a), Labels::Known(b)) => {
                a.extend(b);
                Labels::Known(a)
            }
            _ => Labels::Any,
        }
    }

    fn describe(&self) -> String {
        match self {
            Labels::Any => "any".into(),
            Labels::Known(s) if s.is_empty() => "none".into(),
            Labels::Known(s) => s.iter().cloned().collect::<Vec<_>>().join(", "),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

/// The labels Prometheus adds to every scraped series.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// A selector's metric name with a leading template variable (`$svc_…`, `${service}_…`)
/// replaced by the catalogue's service prefix.
pub(super) fn substitute_prefix(name: &str, prefix: &str) -> String {
    let Some(rest) = name.strip_prefix('$') else {
        return name.to_owned();
    };
    let tail = if let Some(braced) = rest.strip_prefix('{') {
        match braced.find('}') {
            Some(end) => &braced[end + 1..],
            None => return name.to_owned(),
        }
    } else {
        // `$svc_http_requests…`: the variable is the part up to the first underscore.
        match rest.find('_') {
            Some(end) => &rest[end..],
            None => "",
        }
    };
    format!("{prefix}{tail}")
}

/// Whether `name` is one template variable and nothing else (`$x`, `${x}`, Grafana's
/// `$__range_s`). An unbraced `$svc_requests_total` is a metric name with the service prefix as
/// a variable.
pub(super) fn is_variable(name: &str) -> bool {
    let Some(rest) = name.strip_prefix('$') else {
        return false;
    };
    match rest.strip_prefix('{') {
        Some(braced) => braced.find('}') == Some(braced.len() - 1),
        None => !rest.contains('$') && (rest.starts_with("__") || !rest.contains('_')),
    }
}

/// What a selector's name resolves to.
enum Series<'c> {
    /// A catalogue metric, through one of its series (`suffix`: `""`, `_bucket`, `_count`, `_sum`).
    Metric(&'c CatalogueMetric, &'static str),
    /// One of the extra series (labels unknown).
    Extra,
}

pub(super) struct Checker<'a> {
    pub(super) expr: &'a str,
    pub(super) catalogue: &'a Catalogue,
    pub(super) extra: &'a [&'a str],
    pub(super) problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    pub(super) fn problem(&mut self, selector: Option<&str>, message: String) {
        let p = Problem {
            expr: self.expr.to_owned(),
            selector: selector.map(str::to_owned),
            message,
        };
        if !self.problems.contains(&p) {
            self.problems.push(p);
        }
    }

    fn resolve(&mut self, sel: &Selector) -> Option<Series<'a>> {
        let name_matchers: Vec<&Matcher> = sel
            .matchers
            .iter()
            .filter(|m| m.label == "__name__")
            .collect();
        let name = match (&sel.name, name_matchers.as_slice()) {
            (Some(n), []) => n.clone(),
            (None, [m]) if m.op == MatchOp::Equal => m.value.clone(),
            (None, [m]) if m.op == MatchOp::Regex => {
                self.problem(
                    Some(&sel.text),
                    format!(
                        "selects metrics by the pattern {:?}; name one metric so that it can be checked",
                        m.value
                    ),
                );
                return None;
            }
            (Some(_), [_, ..]) => {
                self.problem(
                    Some(&sel.text),
                    "names its metric twice (a name and a __name__ matcher)".into(),
                );
                return None;
            }
            _ => {
                self.problem(
                    Some(&sel.text),
                    "selects no metric by name: every selector must name one metric".into(),
                );
                return None;
            }
        };
        let name = substitute_prefix(&name, &self.catalogue.service_prefix);
        if self.extra.contains(&name.as_str()) {
            return Some(Series::Extra);
        }
        if let Some(m) = self.catalogue.get(&name) {
            if m.kind == "histogram" {
                self.problem(
                    Some(&sel.text),
                    format!(
                        "'{name}' is a histogram: query its series {name}_bucket, {name}_count or {name}_sum"
                    ),
                );
                return None;
            }
            return Some(Series::Metric(m, ""));
        }
        for suffix in ["_bucket", "_count", "_sum"] {
            if let Some(base) = name.strip_suffix(suffix) {
                if let Some(m) = self.catalogue.get(base) {
                    if m.kind == "histogram" {
                        return Some(Series::Metric(m, suffix));
                    }
                    self.problem(
                        Some(&sel.text),
                        format!(
                            "'{base}' is a {}, not a histogram: it has no {suffix} series",
                            m.kind
                        ),
                    );
                    return None;
                }
            }
        }
        let hint = if let Some(m) = self.catalogue.get(&format!("{name}_total")) {
            format!(": the {} is named '{}'", m.kind, m.name)
        } else if let Some(m) = name
            .strip_suffix("_total")
            .and_then(|b| self.catalogue.get(b))
        {
            format!(": '{}' is a {}, its series has no _total", m.name, m.kind)
        } else if name.ends_with("_created") {
            ": _created series are not queried".to_owned()
        } else {
            String::new()
        };
        self.problem(
            Some(&sel.text),
            format!("'{name}' is not in the catalogue{hint}"),
        );
        None
    }

    /// Checks a selector; returns the labels its series carry.
    fn selector(&mut self, sel: &Selector) -> (Labels, Option<&'a CatalogueMetric>) {
        match self.resolve(sel) {
            None => (Labels::Any, None),
            Some(Series::Extra) => (Labels::Any, None),
            Some(Series::Metric(m, suffix)) => {
                let mut labels: BTreeSet<String> =
                    m.labels.iter().map(|l| l.name.clone()).collect();
                labels.extend(TARGET_LABELS.iter().map(|l| (*l).to_owned()));
                if suffix == "_bucket" {
                    labels.insert("le".into());
                }
                let series = format!("{}{suffix}", m.name);
                for matcher in &sel.matchers {
                    if matcher.label == "__name__" {
                        continue;
                    }
                    if !labels.contains(&matcher.label) {
                        let why = if matcher.label == "le" {
                            " (le is on a histogram's _bucket series only)".to_owned()
                        } else {
                            format!(
                                " (its labels: {})",
                                Labels::Known(labels.clone()).describe()
                            )
                        };
                        self.problem(
                            Some(&sel.text),
                            format!("'{series}' has no label '{}'{why}", matcher.label),
                        );
                        continue;
                    }
                    if matcher.label == "le" && suffix == "_bucket" {
                        self.bucket_bound(sel, &series, m, matcher);
                    }
                    // A literal value outside a closed set matches nothing.
                    if let Some(LabelValues::Closed(values)) =
                        m.label(&matcher.label).map(|l| &l.values)
                    {
                        if matcher.op == MatchOp::Equal
                            && !matcher.value.contains('$')
                            && !values.contains(&matcher.value)
                        {
                            self.problem(
                                Some(&sel.text),
                                format!(
                                    "'{}' of '{series}' is never {:?} (its values: {})",
                                    matcher.label,
                                    matcher.value,
                                    values.join(", ")
                                ),
                            );
                        }
                    }
                }
                (Labels::Known(labels), Some(m))
            }
        }
    }

    /// An `le` matcher names bucket bounds of the histogram, spelt so that Prometheus 2 (which
    /// stores `le` as scraped: `"1"`) and 3 (which normalises whole bounds to `"1.0"`) both match.
    fn bucket_bound(
        &mut self,
        sel: &Selector,
        series: &str,
        m: &CatalogueMetric,
        matcher: &Matcher,
    ) {
        if m.buckets.is_empty() || matcher.value.contains('$') {
            return;
        }
        let alternatives: Vec<&str> = match matcher.op {
            MatchOp::Equal => vec![matcher.value.as_str()],
            MatchOp::Regex => matcher.value.split('|').collect(),
            _ => return,
        };
        for a in alternatives {
            let plain = a.replace('\\', "");
            let value = plain.parse::<f64>().ok();
            if plain != "+Inf" && !value.is_some_and(|v| m.buckets.contains(&v)) {
                let bounds: Vec<String> = m.buckets.iter().map(|b| b.to_string()).collect();
                self.problem(
                    Some(&sel.text),
                    format!("'le' of '{series}' is never {a:?}: not a bucket bound (its bounds: {}, +Inf)", bounds.join(", ")),
                );
            } else if matcher.op == MatchOp::Equal
                && value.is_some_and(|v| v.fract() == 0.0)
                && !plain.contains(['.', 'e', 'E'])
            {
                self.problem(
                    Some(&sel.text),
                    format!("le=\"{a}\" of '{series}' matches nothing on Prometheus 3, which stores whole bounds as \"{a}.0\": write le=~\"{a}|{a}.0\""),
                );
            }
        }
    }

    fn require(&mut self, labels: &Labels, wanted: &[String], context: &str, e: &Expr) {
        for l in wanted {
            if !labels.has(l) {
                let sels: Vec<String> = e.selectors().iter().map(|s| s.text.clone()).collect();
                self.problem(
                    Some(&sels.join(", ")),
                    format!(
                        "{context} '{l}', a label the series do not have (theirs: {})",
                        labels.describe()
                    ),
                );
            }
        }
    }

    /// Checks `e`; returns its type and the labels of its result.
    pub(super) fn check(&mut self, e: &Expr) -> (ValueType, Labels) {
        match e {
            Expr::Number(_) => (ValueType::Scalar, Labels::none()),
            Expr::String(_) => (ValueType::String, Labels::none()),
            Expr::Selector(s) if s.name.as_deref().is_some_and(is_variable) => {
                if s.matchers.is_empty() {
                    // `$threshold`, `$__range_s`: a value Grafana puts there.
                    (ValueType::Scalar, Labels::none())
                } else {
                    self.problem(
                        Some(&s.text),
                        "names its metric with a template variable: it cannot be checked".into(),
                    );
                    (ValueType::Vector, Labels::Any)
                }
            }
            Expr::Selector(s) => (ValueType::Vector, self.selector(s).0),
            Expr::Range { expr, .. } => (ValueType::Matrix, self.check(expr).1),
            Expr::Subquery { expr, .. } => {
                let (t, l) = self.check(expr);
                if t != ValueType::Vector {
                    self.problem(None, "a subquery needs an instant vector inside".into());
                }
                (ValueType::Matrix, l)
            }
            Expr::Modified { expr, .. } | Expr::Paren(expr) | Expr::Unary { expr, .. } => {
                self.check(expr)
            }
            Expr::Call { func, args } => self.call(func, args),
            Expr::Aggregate { op, grouping, args } => {
                let mut result = (ValueType::Vector, Labels::none());
                let n = args.len();
                for (i, a) in args.iter().enumerate() {
                    let (t, labels) = self.check(a);
                    if i + 1 == n {
                        if t != ValueType::Vector {
                            self.problem(None, format!("{op}() aggregates an instant vector"));
                        }
                        let context = match grouping {
                            Some(Grouping::By(_)) => format!("{op} by"),
                            _ => format!("{op} without"),
                        };
                        let kept = match grouping {
                            Some(Grouping::By(by)) => {
                                self.require(&labels, by, &context, a);
                                Labels::Known(by.iter().cloned().collect())
                            }
                            Some(Grouping::Without(w)) => {
                                self.require(&labels, w, &context, a);
                                labels.clone().without(w)
                            }
                            None => Labels::none(),
                        };
                        result.1 = match op.as_str() {
                            // These keep every label of the series they select.
                            "topk" | "bottomk" | "limitk" | "limit_ratio" => labels,
                            "count_values" => match args.first() {
                                Some(Expr::String(dst)) => kept.with(std::slice::from_ref(dst)),
                                _ => kept,
                            },
                            _ => kept,
                        };
                    }
                }
                if n == 0 {
                    self.problem(None, format!("{op}() needs an argument"));
                }
                result
            }
            Expr::Binary {
                op,
                matching,
                lhs,
                rhs,
                ..
            } => {
                let (lt, ll) = self.check(lhs);
                let (rt, rl) = self.check(rhs);
                match (lt, rt) {
                    (ValueType::Scalar, ValueType::Scalar) => (ValueType::Scalar, Labels::none()),
                    (ValueType::Scalar, _) => (ValueType::Vector, rl),
                    (_, ValueType::Scalar) => (ValueType::Vector, ll),
                    _ => {
                        let labels = self.binary_labels(op, matching, ll, rl, e);
                        (ValueType::Vector, labels)
                    }
                }
            }
        }
    }

    fn binary_labels(
        &mut self,
        op: &str,
        m: &VectorMatching,
        ll: Labels,
        rl: Labels,
        e: &Expr,
    ) -> Labels {
        let both = ll.clone().union(rl.clone());
        match &m.matching {
            Some(Matching::On(on)) => {
                for l in on {
                    if !ll.has(l) || !rl.has(l) {
                        let side = if ll.has(l) { "right" } else { "left" };
                        self.require(
                            &if side == "left" {
                                ll.clone()
                            } else {
                                rl.clone()
                            },
                            std::slice::from_ref(l),
                            &format!("`{op} on` matches the {side} side on"),
                            match e {
                                Expr::Binary { lhs, rhs, .. } => {
                                    if side == "left" {
                                        lhs
                                    } else {
                                        rhs
                                    }
                                }
                                _ => e,
                            },
                        );
                    }
                }
            }
            Some(Matching::Ignoring(ign)) => {
                self.require(&both, ign, &format!("`{op} ignoring`"), e);
            }
            None => {}
        }
        match &m.group {
            Some(Group::Left(extra)) => {
                self.require(&rl, extra, "group_left copies", e);
                ll.with(extra)
            }
            Some(Group::Right(extra)) => {
                self.require(&ll, extra, "group_right copies", e);
                rl.with(extra)
            }
            None => match op {
                "and" | "unless" => ll,
                "or" => both,
                _ => match &m.matching {
                    Some(Matching::On(on)) => match ll {
                        Labels::Any => Labels::Any,
                        Labels::Known(_) => Labels::Known(on.iter().cloned().collect()),
                    },
                    Some(Matching::Ignoring(ign)) => ll.without(ign),
                    None => ll,
                },
            },
        }
    }

    fn call(&mut self, func: &str, args: &[Expr]) -> (ValueType, Labels) {
        if !FUNCTIONS.contains(&func) {
            let hint = if func == "label_values" || func == "query_result" || func == "metrics" {
                " (a Grafana variable query, not PromQL)"
            } else {
                ""
            };
            self.problem(None, format!("unknown function {func}(){hint}"));
            return (ValueType::Vector, Labels::Any);
        }
        let mut checked = Vec::with_capacity(args.len());
        for a in args {
            checked.push(self.check(a));
        }
        if RANGE_FUNCTIONS.contains(&func) {
            match checked.first() {
                Some((ValueType::Matrix, _)) => {}
                _ => self.problem(
                    None,
                    format!("{func}() needs a range vector, e.g. {func}(x[$__rate_interval])"),
                ),
            }
        }
        if COUNTER_FUNCTIONS.contains(&func) {
            if let Some(Expr::Range { expr, .. }) = args.first() {
                if let Expr::Selector(sel) = expr.as_ref() {
                    if let Some(Series::Metric(m, suffix)) = self.resolve_quietly(sel) {
                        if suffix.is_empty() && m.kind != "counter" {
                            self.problem(
                                Some(&sel.text),
                                format!(
                                    "{func}() applies to counters; '{}' is a {} (use deriv() or delta())",
                                    m.name, m.kind
                                ),
                            );
                        }
                    }
                }
            }
        }
        let first_vector = || {
            checked
                .iter()
                .find(|(t, _)| matches!(t, ValueType::Vector | ValueType::Matrix))
                .map(|(_, l)| l.clone())
        };
        match func {
            "time" | "pi" | "scalar" => (ValueType::Scalar, Labels::none()),
            "vector" => (ValueType::Vector, Labels::none()),
            "absent" | "absent_over_time" => (ValueType::Vector, Labels::Any),
            "histogram_quantile" | "histogram_fraction" => {
                let labels = checked
                    .last()
                    .map_or(Labels::Any, |(_, l)| l.clone())
                    .without(&["le".to_owned()]);
                if let Some((_, l)) = checked.last() {
                    if func == "histogram_quantile" && !l.has("le") {
                        self.problem(
                            None,
                            "histogram_quantile() needs the 'le' label: aggregate by (le, …) over _bucket series".into(),
                        );
                    }
                }
                (ValueType::Vector, labels)
            }
            "label_replace" | "label_join" => {
                let base = first_vector().unwrap_or(Labels::Any);
                match args.get(1) {
                    Some(Expr::String(dst)) => {
                        (ValueType::Vector, base.with(std::slice::from_ref(dst)))
                    }
                    _ => (ValueType::Vector, base),
                }
            }
            _ => (
                ValueType::Vector,
                first_vector().unwrap_or_else(Labels::none),
            ),
        }
    }

    fn resolve_quietly(&mut self, sel: &Selector) -> Option<Series<'a>> {
        let before = self.problems.len();
        let r = self.resolve(sel);
        self.problems.truncate(before);
        r
    }
}
