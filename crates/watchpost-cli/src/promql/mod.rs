//! A PromQL parser and a static checker: does an expression query only what a service's
//! [`Catalogue`] declares?
//!
//! The parser reads what we generate and what people write in dashboards and rules: numbers,
//! strings, durations, instant and range selectors with matchers, subqueries, functions,
//! aggregations (`by`/`without` before or after the argument), binary operators with
//! `on`/`ignoring`/`group_left`/`group_right` and `bool`, unary minus, `offset` and `@`, and
//! Grafana's template variables (`$job`, `${job}`, `$__rate_interval`) where Grafana allows them.
//!
//! [`check`] then finds, for every selector, whether it names a series of the catalogue with the
//! right suffix for its type (a counter's `_total`, a histogram's `_bucket`/`_count`/`_sum`, a
//! gauge's bare name) or one of the extra series given (recording rules, `ALERTS`, `up`), and
//! whether every label it matches on, groups by or matches vectors on exists there.
//!
//! ```
//! use watchpost_cli::catalogue::Catalogue;
//! use watchpost_cli::promql;
//!
//! let c = Catalogue::parse(r#"{"service_prefix": "svc", "metrics": [
//!   {"name": "svc_http_request_duration_seconds", "type": "histogram", "unit": "seconds",
//!    "labels": [{"name": "path", "budget": 64}, {"name": "status", "budget": 20}]}]}"#).unwrap();
//! let good = r#"histogram_quantile(0.99, sum by (le, path) (rate(${service}_http_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))"#;
//! assert_eq!(promql::check(good, &c, &[]), vec![]);
//!
//! let bad = r#"sum by (route) (rate(svc_http_request_duration_seconds_count[5m]))"#;
//! let problems = promql::check(bad, &c, &[]);
//! assert_eq!(problems.len(), 1);
//! assert!(problems[0].message.contains("'route'"), "{}", problems[0]);
//! ```

use std::fmt;

use crate::catalogue::Catalogue;

mod check;
mod lex;
mod parse;
#[cfg(test)]
mod tests;

pub use check::Problem;
pub use parse::{AGGREGATIONS, FUNCTIONS};

use check::{Checker, ValueType};
use lex::{lex, Tok};
use parse::Parser;

// ---------------------------------------------------------------------------------------------
// The syntax tree.

/// A label matcher's operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// One label matcher, `label op "value"`.
#[derive(Debug, Clone, PartialEq)]
pub struct Matcher {
    /// The label name.
    pub label: String,
    /// The operator.
    pub op: MatchOp,
    /// The value, unescaped (template variables left as written).
    pub value: String,
}

/// An instant vector selector: `name{matchers}`.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// The metric name as written (may start with a template variable), if any.
    pub name: Option<String>,
    /// The matchers inside the braces.
    pub matchers: Vec<Matcher>,
    /// The selector's text in the expression.
    pub text: String,
}

/// `by (…)` or `without (…)` of an aggregation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grouping {
    /// `by (labels)`
    By(Vec<String>),
    /// `without (labels)`
    Without(Vec<String>),
}

/// `on (…)` or `ignoring (…)` of a binary operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Matching {
    /// `on (labels)`
    On(Vec<String>),
    /// `ignoring (labels)`
    Ignoring(Vec<String>),
}

/// `group_left (…)` or `group_right (…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Group {
    /// `group_left (labels)`: many on the left, one on the right.
    Left(Vec<String>),
    /// `group_right (labels)`: one on the left, many on the right.
    Right(Vec<String>),
}

/// A vector matching clause of a binary operation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct VectorMatching {
    /// `on`/`ignoring`, if given.
    pub matching: Option<Matching>,
    /// `group_left`/`group_right`, if given.
    pub group: Option<Group>,
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number literal (`inf` and `nan` included).
    Number(f64),
    /// A string literal.
    String(String),
    /// An instant vector selector.
    Selector(Selector),
    /// A range selector `selector[range]` (the range as written: `5m`, `$__rate_interval`).
    Range {
        /// The selector (or a parenthesised one).
        expr: Box<Expr>,
        /// The range.
        range: String,
    },
    /// A subquery `expr[range:step]` (the step may be empty).
    Subquery {
        /// The inner expression.
        expr: Box<Expr>,
        /// The range.
        range: String,
        /// The resolution, if given.
        step: Option<String>,
    },
    /// `expr offset D` and/or `expr @ T`.
    Modified {
        /// The modified expression.
        expr: Box<Expr>,
        /// The offset (with its sign, as written).
        offset: Option<String>,
        /// The `@` time (`start()`, `end()` or a number), as written.
        at: Option<String>,
    },
    /// A function call.
    Call {
        /// The function.
        func: String,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// An aggregation.
    Aggregate {
        /// The operator (`sum`, `topk`, …).
        op: String,
        /// `by`/`without`.
        grouping: Option<Grouping>,
        /// The arguments (the parameter first for `topk`, `quantile`, `count_values`, …).
        args: Vec<Expr>,
    },
    /// A binary operation.
    Binary {
        /// The operator (`+`, `==`, `and`, …).
        op: String,
        /// `bool` after a comparison.
        return_bool: bool,
        /// The vector matching.
        matching: VectorMatching,
        /// The left-hand side.
        lhs: Box<Expr>,
        /// The right-hand side.
        rhs: Box<Expr>,
    },
    /// Unary minus or plus.
    Unary {
        /// `-` or `+`.
        op: char,
        /// The operand.
        expr: Box<Expr>,
    },
    /// `( expr )`
    Paren(Box<Expr>),
}

impl Expr {
    /// Every instant selector of the expression, in order.
    pub fn selectors(&self) -> Vec<&Selector> {
        let mut out = Vec::new();
        self.walk(&mut |e| {
            if let Expr::Selector(s) = e {
                out.push(s);
            }
        });
        out
    }

    /// Calls `f` on this expression and every sub-expression, depth first.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Number(_) | Expr::String(_) | Expr::Selector(_) => {}
            Expr::Range { expr, .. }
            | Expr::Subquery { expr, .. }
            | Expr::Modified { expr, .. }
            | Expr::Unary { expr, .. }
            | Expr::Paren(expr) => expr.walk(f),
            Expr::Call { args, .. } | Expr::Aggregate { args, .. } => {
                for a in args {
                    a.walk(f);
                }
            }
            Expr::Binary { lhs, rhs, .. } => {
                lhs.walk(f);
                rhs.walk(f);
            }
        }
    }
}

/// An expression PromQL cannot read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The byte offset where reading stopped.
    pub offset: usize,
    /// What was expected or found.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for ParseError {}

/// Parses a PromQL expression (Grafana template variables allowed where Grafana allows them).
///
/// ```
/// let e = watchpost_cli::promql::parse("sum by (path) (rate(svc_requests_total{status=~\"5..\"}[5m]))").unwrap();
/// assert_eq!(e.selectors()[0].name.as_deref(), Some("svc_requests_total"));
/// assert!(watchpost_cli::promql::parse("sum(rate(x[5m])").is_err());
/// ```
pub fn parse(expr: &str) -> Result<Expr, ParseError> {
    let toks = lex(expr)?;
    let mut p = Parser {
        src: expr,
        toks,
        i: 0,
    };
    let e = p.expr(0)?;
    if *p.peek() != Tok::Eof {
        return p.fail("an operator or the end");
    }
    Ok(e)
}

/// Checks `expr` against `catalogue`: it parses, every selector names a series of the catalogue
/// (with its type's suffix) or one of `extra_series` (recording rules, `ALERTS`, `up`), and every
/// label it matches on, groups by (`by`, `without`) or matches vectors on (`on`, `ignoring`,
/// `group_left`) exists there (`job` and `instance`, added by Prometheus, everywhere; `le` on
/// `_bucket` series). A leading template variable in a metric name (`${service}_…`, `$svc_…`)
/// stands for the catalogue's service prefix; a variable alone (`$threshold`, `${q}`,
/// `$__range_s`) is a value Grafana puts there. Labels of extra series are not known, so not
/// checked. Also a problem: a literal `=` value outside a label's closed set, `rate()` and
/// friends on a gauge or without a range, `histogram_quantile` without `le`, an unknown function
/// (`label_values` is Grafana's, not PromQL). No problem: an empty list.
pub fn check(expr: &str, catalogue: &Catalogue, extra_series: &[&str]) -> Vec<Problem> {
    let parsed = match parse(expr) {
        Ok(e) => e,
        Err(e) => {
            return vec![Problem {
                expr: expr.to_owned(),
                selector: None,
                message: format!("not PromQL: {e}"),
            }]
        }
    };
    let mut c = Checker {
        expr,
        catalogue,
        extra: extra_series,
        problems: Vec::new(),
    };
    let (t, _) = c.check(&parsed);
    if t == ValueType::String {
        c.problem(None, "a string is not a query".into());
    }
    c.problems
}
