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

use std::collections::BTreeSet;
use std::fmt;

use crate::catalogue::{Catalogue, CatalogueMetric, LabelValues};

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

// ---------------------------------------------------------------------------------------------
// Tokens.

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    /// A name, keyword or template variable (`$x`, `${x}`), possibly glued (`${svc}_requests`).
    Word(String),
    Number(f64),
    Duration(String),
    Str(String),
    LParen,
    RParen,
    LBrace,
    RBrace,
    LBracket,
    RBracket,
    Comma,
    Colon,
    At,
    /// An operator: `+ - * / % ^ == != < <= > >= = =~ !~`.
    Op(&'static str),
    Eof,
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    start: usize,
    end: usize,
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || c == '$'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn is_duration(s: &str) -> bool {
    // One or more `<digits><unit>`, units ms, s, m, h, d, w, y.
    let b = s.as_bytes();
    let mut i = 0;
    if b.is_empty() {
        return false;
    }
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return false;
        }
        let rest = &s[i..];
        let unit = if rest.starts_with("ms") {
            2
        } else if rest.starts_with(['s', 'm', 'h', 'd', 'w', 'y']) {
            1
        } else {
            return false;
        };
        i += unit;
    }
    true
}

fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let err = |offset: usize, message: String| ParseError { offset, message };
    let mut out = Vec::new();
    let chars: Vec<(usize, char)> = src.char_indices().collect();
    let at = |i: usize| chars.get(i).map(|&(_, c)| c);
    let pos = |i: usize| chars.get(i).map_or(src.len(), |&(p, _)| p);
    let mut i = 0;
    let mut in_brackets = false;
    while i < chars.len() {
        let c = chars[i].1;
        let start = pos(i);
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        if c == '#' {
            // A comment, to the end of the line.
            while i < chars.len() && chars[i].1 != '\n' {
                i += 1;
            }
            continue;
        }
        let simple = match c {
            '(' => Some(Tok::LParen),
            ')' => Some(Tok::RParen),
            '{' => Some(Tok::LBrace),
            '}' => Some(Tok::RBrace),
            '[' => {
                in_brackets = true;
                Some(Tok::LBracket)
            }
            ']' => {
                in_brackets = false;
                Some(Tok::RBracket)
            }
            ',' => Some(Tok::Comma),
            '@' => Some(Tok::At),
            '+' => Some(Tok::Op("+")),
            '-' => Some(Tok::Op("-")),
            '*' => Some(Tok::Op("*")),
            '/' => Some(Tok::Op("/")),
            '%' => Some(Tok::Op("%")),
            '^' => Some(Tok::Op("^")),
            _ => None,
        };
        if let Some(tok) = simple {
            i += 1;
            out.push(Token {
                tok,
                start,
                end: pos(i),
            });
            continue;
        }
        let two = |a: char, b: char| c == a && at(i + 1) == Some(b);
        let op2 = if two('=', '=') {
            Some("==")
        } else if two('!', '=') {
            Some("!=")
        } else if two('=', '~') {
            Some("=~")
        } else if two('!', '~') {
            Some("!~")
        } else if two('<', '=') {
            Some("<=")
        } else if two('>', '=') {
            Some(">=")
        } else {
            None
        };
        if let Some(op) = op2 {
            i += 2;
            out.push(Token {
                tok: Tok::Op(op),
                start,
                end: pos(i),
            });
            continue;
        }
        let op1 = match c {
            '=' => Some("="),
            '<' => Some("<"),
            '>' => Some(">"),
            _ => None,
        };
        if let Some(op) = op1 {
            i += 1;
            out.push(Token {
                tok: Tok::Op(op),
                start,
                end: pos(i),
            });
            continue;
        }
        if c == ':' && in_brackets {
            // The colon of a subquery `[1h:1m]`; outside brackets a colon is part of a name.
            i += 1;
            out.push(Token {
                tok: Tok::Colon,
                start,
                end: pos(i),
            });
            continue;
        }
        if c == '"' || c == '\'' || c == '`' {
            let quote = c;
            let mut value = String::new();
            i += 1;
            loop {
                let Some(ch) = at(i) else {
                    return Err(err(start, "a string that does not end".into()));
                };
                i += 1;
                if ch == quote {
                    break;
                }
                if ch == '\\' && quote != '`' {
                    let Some(esc) = at(i) else {
                        return Err(err(start, "a string that does not end".into()));
                    };
                    i += 1;
                    value.push(match esc {
                        'n' => '\n',
                        't' => '\t',
                        'r' => '\r',
                        other => other,
                    });
                } else {
                    value.push(ch);
                }
            }
            out.push(Token {
                tok: Tok::Str(value),
                start,
                end: pos(i),
            });
            continue;
        }
        if c.is_ascii_digit() || (c == '.' && at(i + 1).is_some_and(|d| d.is_ascii_digit())) {
            let mut j = i;
            while let Some(ch) = at(j) {
                let exp_sign = (ch == '+' || ch == '-')
                    && j > i
                    && matches!(at(j - 1), Some('e' | 'E'))
                    && !src[pos(i)..pos(j)].starts_with("0x");
                if ch.is_ascii_alphanumeric() || ch == '.' || ch == '_' || exp_sign {
                    j += 1;
                } else {
                    break;
                }
            }
            let text = &src[start..pos(j)];
            i = j;
            let tok =
                if is_duration(text) {
                    Tok::Duration(text.to_owned())
                } else if let Some(hex) = text.strip_prefix("0x").or(text.strip_prefix("0X")) {
                    Tok::Number(
                        u64::from_str_radix(hex, 16)
                            .map_err(|_| err(start, format!("'{text}' is not a number")))?
                            as f64,
                    )
                } else {
                    Tok::Number(text.parse::<f64>().map_err(|_| {
                        err(start, format!("'{text}' is not a number or a duration"))
                    })?)
                };
            out.push(Token {
                tok,
                start,
                end: pos(i),
            });
            continue;
        }
        if is_word_start(c) {
            let mut j = i;
            loop {
                match at(j) {
                    Some('$') => {
                        j += 1;
                        if at(j) == Some('{') {
                            j += 1;
                            while at(j).is_some_and(|ch| ch != '}') {
                                j += 1;
                            }
                            if at(j) != Some('}') {
                                return Err(err(start, "a '${' variable that does not end".into()));
                            }
                            j += 1;
                        } else {
                            let name_start = j;
                            while at(j).is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
                                j += 1;
                            }
                            if j == name_start {
                                return Err(err(start, "a '$' without a variable name".into()));
                            }
                        }
                    }
                    Some(ch) if is_word_char(ch) && !(in_brackets && ch == ':') => j += 1,
                    _ => break,
                }
            }
            let text = &src[start..pos(j)];
            i = j;
            out.push(Token {
                tok: Tok::Word(text.to_owned()),
                start,
                end: pos(i),
            });
            continue;
        }
        return Err(err(start, format!("unexpected character '{c}'")));
    }
    out.push(Token {
        tok: Tok::Eof,
        start: src.len(),
        end: src.len(),
    });
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// The parser.

/// The aggregation operators.
pub const AGGREGATIONS: &[&str] = &[
    "sum",
    "avg",
    "count",
    "min",
    "max",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
    "limitk",
    "limit_ratio",
];

/// The functions PromQL knows.
pub const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "absent_over_time",
    "acos",
    "acosh",
    "asin",
    "asinh",
    "atan",
    "atanh",
    "avg_over_time",
    "ceil",
    "changes",
    "clamp",
    "clamp_max",
    "clamp_min",
    "cos",
    "cosh",
    "count_over_time",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "days_in_month",
    "deg",
    "delta",
    "deriv",
    "exp",
    "floor",
    "histogram_avg",
    "histogram_count",
    "histogram_fraction",
    "histogram_quantile",
    "histogram_stddev",
    "histogram_stdvar",
    "histogram_sum",
    "holt_winters",
    "double_exponential_smoothing",
    "hour",
    "idelta",
    "increase",
    "info",
    "irate",
    "label_join",
    "label_replace",
    "last_over_time",
    "ln",
    "log10",
    "log2",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "minute",
    "month",
    "pi",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rad",
    "rate",
    "resets",
    "round",
    "scalar",
    "sgn",
    "sin",
    "sinh",
    "sort",
    "sort_by_label",
    "sort_by_label_desc",
    "sort_desc",
    "sqrt",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
    "tan",
    "tanh",
    "time",
    "timestamp",
    "vector",
    "year",
];

/// Functions whose (vector) argument must be a range: `rate(x[5m])`.
const RANGE_FUNCTIONS: &[&str] = &[
    "absent_over_time",
    "avg_over_time",
    "changes",
    "count_over_time",
    "delta",
    "deriv",
    "holt_winters",
    "double_exponential_smoothing",
    "idelta",
    "increase",
    "irate",
    "last_over_time",
    "mad_over_time",
    "max_over_time",
    "min_over_time",
    "predict_linear",
    "present_over_time",
    "quantile_over_time",
    "rate",
    "resets",
    "stddev_over_time",
    "stdvar_over_time",
    "sum_over_time",
];

/// Functions meant for counters only.
const COUNTER_FUNCTIONS: &[&str] = &["rate", "irate", "increase", "resets"];

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn peek_at(&self, n: usize) -> &Tok {
        &self.toks[(self.i + n).min(self.toks.len() - 1)].tok
    }

    fn next(&mut self) -> Token {
        let t = self.toks[self.i].clone();
        if self.i < self.toks.len() - 1 {
            self.i += 1;
        }
        t
    }

    fn offset(&self) -> usize {
        self.toks[self.i].start
    }

    fn fail<T>(&self, what: &str) -> PResult<T> {
        let t = &self.toks[self.i];
        let found = if t.tok == Tok::Eof {
            "the end".to_owned()
        } else {
            format!("'{}'", &self.src[t.start..t.end])
        };
        Err(ParseError {
            offset: t.start,
            message: format!("expected {what}, found {found}"),
        })
    }

    fn expect(&mut self, tok: Tok, what: &str) -> PResult<Token> {
        if *self.peek() == tok {
            Ok(self.next())
        } else {
            self.fail(what)
        }
    }

    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Tok::Word(x) if x.eq_ignore_ascii_case(w))
    }

    /// The binary operator at the cursor and its precedence (higher binds tighter).
    fn binary_op(&self) -> Option<(String, u8)> {
        match self.peek() {
            Tok::Op(op) => {
                let p = match *op {
                    "==" | "!=" | "<" | "<=" | ">" | ">=" => 3,
                    "+" | "-" => 4,
                    "*" | "/" | "%" => 5,
                    "^" => 6,
                    _ => return None,
                };
                Some(((*op).to_owned(), p))
            }
            Tok::Word(w) => match w.to_ascii_lowercase().as_str() {
                "or" => Some(("or".into(), 1)),
                "and" => Some(("and".into(), 2)),
                "unless" => Some(("unless".into(), 2)),
                "atan2" => Some(("atan2".into(), 5)),
                _ => None,
            },
            _ => None,
        }
    }

    fn expr(&mut self, min_prec: u8) -> PResult<Expr> {
        let mut lhs = self.unary()?;
        while let Some((op, prec)) = self.binary_op() {
            if prec < min_prec {
                break;
            }
            self.next();
            let return_bool = if self.is_word("bool") {
                self.next();
                true
            } else {
                false
            };
            let matching = self.vector_matching()?;
            // `^` is right-associative, every other operator left-associative.
            let next_min = if op == "^" { prec } else { prec + 1 };
            let rhs = self.expr(next_min)?;
            lhs = Expr::Binary {
                op,
                return_bool,
                matching,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            };
        }
        Ok(lhs)
    }

    fn vector_matching(&mut self) -> PResult<VectorMatching> {
        let mut m = VectorMatching::default();
        if self.is_word("on") {
            self.next();
            m.matching = Some(Matching::On(self.label_list()?));
        } else if self.is_word("ignoring") {
            self.next();
            m.matching = Some(Matching::Ignoring(self.label_list()?));
        }
        let left = self.is_word("group_left");
        if left || self.is_word("group_right") {
            self.next();
            let labels = if *self.peek() == Tok::LParen {
                self.label_list()?
            } else {
                Vec::new()
            };
            m.group = Some(if left {
                Group::Left(labels)
            } else {
                Group::Right(labels)
            });
        }
        Ok(m)
    }

    fn label_list(&mut self) -> PResult<Vec<String>> {
        self.expect(Tok::LParen, "'(' and a list of labels")?;
        let mut labels = Vec::new();
        loop {
            match self.peek().clone() {
                Tok::RParen => {
                    self.next();
                    return Ok(labels);
                }
                Tok::Word(w) | Tok::Str(w) => {
                    self.next();
                    labels.push(w);
                    match self.peek() {
                        Tok::Comma => {
                            self.next();
                        }
                        Tok::RParen => {}
                        _ => return self.fail("',' or ')'"),
                    }
                }
                _ => return self.fail("a label name"),
            }
        }
    }

    fn unary(&mut self) -> PResult<Expr> {
        match self.peek() {
            Tok::Op("-") | Tok::Op("+") => {
                let op = if *self.peek() == Tok::Op("-") {
                    '-'
                } else {
                    '+'
                };
                self.next();
                let expr = self.unary()?;
                // Fold `-1` into a number, as PromQL does.
                if let (Expr::Number(n), '-') = (&expr, op) {
                    return Ok(Expr::Number(-n));
                }
                Ok(Expr::Unary {
                    op,
                    expr: Box::new(expr),
                })
            }
            _ => {
                let base = self.postfix()?;
                if *self.peek() == Tok::Op("^") {
                    self.next();
                    let matching = self.vector_matching()?;
                    let rhs = self.unary()?;
                    return Ok(Expr::Binary {
                        op: "^".into(),
                        return_bool: false,
                        matching,
                        lhs: Box::new(base),
                        rhs: Box::new(rhs),
                    });
                }
                Ok(base)
            }
        }
    }

    fn duration(&mut self) -> PResult<String> {
        match self.peek().clone() {
            Tok::Duration(d) => {
                self.next();
                Ok(d)
            }
            Tok::Word(w) if w.starts_with('$') => {
                self.next();
                Ok(w)
            }
            _ => self.fail("a duration (5m, $__rate_interval)"),
        }
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::LBracket => {
                    self.next();
                    let range = self.duration()?;
                    if *self.peek() == Tok::Colon {
                        self.next();
                        let step = if *self.peek() == Tok::RBracket {
                            None
                        } else {
                            Some(self.duration()?)
                        };
                        self.expect(Tok::RBracket, "']'")?;
                        e = Expr::Subquery {
                            expr: Box::new(e),
                            range,
                            step,
                        };
                    } else {
                        self.expect(Tok::RBracket, "']' or ':'")?;
                        if !matches!(e, Expr::Selector(_)) {
                            return Err(ParseError {
                                offset: self.offset(),
                                message: "a range [..] applies to a selector only; write a subquery [range:step]".into(),
                            });
                        }
                        e = Expr::Range {
                            expr: Box::new(e),
                            range,
                        };
                    }
                }
                Tok::Word(w) if w.eq_ignore_ascii_case("offset") => {
                    self.next();
                    let sign = match self.peek() {
                        Tok::Op("-") => {
                            self.next();
                            "-"
                        }
                        Tok::Op("+") => {
                            self.next();
                            ""
                        }
                        _ => "",
                    };
                    let d = format!("{sign}{}", self.duration()?);
                    e = match e {
                        Expr::Modified {
                            expr,
                            offset: None,
                            at,
                        } => Expr::Modified {
                            expr,
                            offset: Some(d),
                            at,
                        },
                        other => Expr::Modified {
                            expr: Box::new(other),
                            offset: Some(d),
                            at: None,
                        },
                    };
                }
                Tok::At => {
                    self.next();
                    let t = match self.peek().clone() {
                        Tok::Number(n) => {
                            self.next();
                            n.to_string()
                        }
                        Tok::Op("-") => {
                            self.next();
                            match self.next().tok {
                                Tok::Number(n) => format!("-{n}"),
                                _ => return self.fail("a time after '@'"),
                            }
                        }
                        Tok::Word(w) if w == "start" || w == "end" => {
                            self.next();
                            self.expect(Tok::LParen, "'('")?;
                            self.expect(Tok::RParen, "')'")?;
                            format!("{w}()")
                        }
                        Tok::Word(w) if w.starts_with('$') => {
                            self.next();
                            w
                        }
                        _ => return self.fail("a time after '@' (a number, start() or end())"),
                    };
                    e = match e {
                        Expr::Modified {
                            expr,
                            offset,
                            at: None,
                        } => Expr::Modified {
                            expr,
                            offset,
                            at: Some(t),
                        },
                        other => Expr::Modified {
                            expr: Box::new(other),
                            offset: None,
                            at: Some(t),
                        },
                    };
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> PResult<Expr> {
        let start = self.offset();
        match self.peek().clone() {
            Tok::Number(n) => {
                self.next();
                Ok(Expr::Number(n))
            }
            Tok::Str(s) => {
                self.next();
                Ok(Expr::String(s))
            }
            Tok::LParen => {
                self.next();
                let e = self.expr(0)?;
                self.expect(Tok::RParen, "')'")?;
                Ok(Expr::Paren(Box::new(e)))
            }
            Tok::LBrace => {
                let matchers = self.matchers()?;
                let end = self.toks[self.i - 1].end;
                if matchers.is_empty() {
                    return Err(ParseError {
                        offset: start,
                        message: "a selector needs a metric name or a matcher".into(),
                    });
                }
                Ok(Expr::Selector(Selector {
                    name: None,
                    matchers,
                    text: self.src[start..end].to_owned(),
                }))
            }
            Tok::Word(w) => {
                let lower = w.to_ascii_lowercase();
                if AGGREGATIONS.contains(&lower.as_str())
                    && matches!(self.peek_at(1), Tok::LParen | Tok::Word(_))
                    && (*self.peek_at(1) == Tok::LParen
                        || matches!(self.peek_at(1), Tok::Word(k) if k.eq_ignore_ascii_case("by") || k.eq_ignore_ascii_case("without")))
                {
                    self.next();
                    return self.aggregation(lower);
                }
                if *self.peek_at(1) == Tok::LParen && !w.starts_with('$') {
                    self.next();
                    self.next();
                    let mut args = Vec::new();
                    if *self.peek() != Tok::RParen {
                        loop {
                            args.push(self.expr(0)?);
                            match self.peek() {
                                Tok::Comma => {
                                    self.next();
                                    if *self.peek() == Tok::RParen {
                                        break;
                                    }
                                }
                                _ => break,
                            }
                        }
                    }
                    self.expect(Tok::RParen, "',' or ')'")?;
                    return Ok(Expr::Call { func: w, args });
                }
                match lower.as_str() {
                    "inf" => {
                        self.next();
                        return Ok(Expr::Number(f64::INFINITY));
                    }
                    "nan" => {
                        self.next();
                        return Ok(Expr::Number(f64::NAN));
                    }
                    "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
                    | "bool" | "offset" | "and" | "or" | "unless" => {
                        return self.fail("an expression");
                    }
                    _ => {}
                }
                self.next();
                let matchers = if *self.peek() == Tok::LBrace {
                    self.matchers()?
                } else {
                    Vec::new()
                };
                let end = self.toks[self.i - 1].end;
                Ok(Expr::Selector(Selector {
                    name: Some(w),
                    matchers,
                    text: self.src[start..end].to_owned(),
                }))
            }
            _ => self.fail("an expression"),
        }
    }

    fn aggregation(&mut self, op: String) -> PResult<Expr> {
        let mut grouping = self.grouping()?;
        self.expect(Tok::LParen, "'(' after an aggregation")?;
        let mut args = Vec::new();
        loop {
            args.push(self.expr(0)?);
            if *self.peek() == Tok::Comma {
                self.next();
                if *self.peek() == Tok::RParen {
                    break;
                }
            } else {
                break;
            }
        }
        self.expect(Tok::RParen, "',' or ')'")?;
        if grouping.is_none() {
            grouping = self.grouping()?;
        } else if self.is_word("by") || self.is_word("without") {
            return self.fail("one 'by' or 'without' only");
        }
        Ok(Expr::Aggregate { op, grouping, args })
    }

    fn grouping(&mut self) -> PResult<Option<Grouping>> {
        if self.is_word("by") {
            self.next();
            Ok(Some(Grouping::By(self.label_list()?)))
        } else if self.is_word("without") {
            self.next();
            Ok(Some(Grouping::Without(self.label_list()?)))
        } else {
            Ok(None)
        }
    }

    fn matchers(&mut self) -> PResult<Vec<Matcher>> {
        self.expect(Tok::LBrace, "'{'")?;
        let mut out = Vec::new();
        loop {
            let label = match self.peek().clone() {
                Tok::RBrace => {
                    self.next();
                    return Ok(out);
                }
                Tok::Word(w) | Tok::Str(w) => {
                    self.next();
                    w
                }
                _ => return self.fail("a label name or '}'"),
            };
            let op = match self.peek() {
                Tok::Op("=") => MatchOp::Equal,
                Tok::Op("!=") => MatchOp::NotEqual,
                Tok::Op("=~") => MatchOp::Regex,
                Tok::Op("!~") => MatchOp::NotRegex,
                Tok::Comma | Tok::RBrace if out.is_empty() => {
                    // `{"metric.name"}`: a quoted metric name (Prometheus 3).
                    out.push(Matcher {
                        label: "__name__".into(),
                        op: MatchOp::Equal,
                        value: label,
                    });
                    if *self.peek() == Tok::Comma {
                        self.next();
                    }
                    continue;
                }
                _ => return self.fail("=, !=, =~ or !~"),
            };
            self.next();
            let value = match self.peek().clone() {
                Tok::Str(s) => {
                    self.next();
                    s
                }
                _ => return self.fail("a quoted label value"),
            };
            out.push(Matcher { label, op, value });
            match self.peek() {
                Tok::Comma => {
                    self.next();
                }
                Tok::RBrace => {}
                _ => return self.fail("',' or '}'"),
            }
        }
    }
}

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

// ---------------------------------------------------------------------------------------------
// The checker.

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
enum Labels {
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
enum ValueType {
    Scalar,
    Vector,
    Matrix,
    String,
}

/// The labels Prometheus adds to every scraped series.
const TARGET_LABELS: &[&str] = &["job", "instance"];

/// A selector's metric name with a leading template variable (`$svc_…`, `${service}_…`)
/// replaced by the catalogue's service prefix.
fn substitute_prefix(name: &str, prefix: &str) -> String {
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
fn is_variable(name: &str) -> bool {
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

struct Checker<'a> {
    expr: &'a str,
    catalogue: &'a Catalogue,
    extra: &'a [&'a str],
    problems: Vec<Problem>,
}

impl<'a> Checker<'a> {
    fn problem(&mut self, selector: Option<&str>, message: String) {
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
    fn check(&mut self, e: &Expr) -> (ValueType, Labels) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue() -> Catalogue {
        Catalogue::parse(include_str!("../tests/fixtures/procman-catalogue.json")).unwrap()
    }

    const EXTRA: &[&str] = &[
        "watchpost:slo_errors:ratio_rate5m",
        "watchpost:slo_errors:ratio_rate1h",
        "watchpost:slo_objective:ratio",
        "watchpost:slo_error_budget_remaining:ratio",
        "ALERTS",
        "up",
        "target_info",
    ];

    #[test]
    fn a_broad_set_of_expressions_parses() {
        let exprs = [
            "1",
            "-1.5e3",
            "0x1F",
            ".5",
            "Inf",
            "-inf",
            "NaN",
            r#""a string""#,
            "'single'",
            "`raw\\string`",
            "up",
            "up{}",
            r#"up{job="a",instance!="b",path=~"/v1/.*",status!~"5..",}"#,
            r#"{__name__="up", job="x"}"#,
            r#"{__name__=~"procman_.*"}"#,
            "rate(x_total[5m])",
            "rate(x_total[1h30m])",
            "rate(x_total[$__rate_interval])",
            "increase(x_total[${__range}])",
            "rate(x_total[$__interval])",
            "max_over_time(rate(x_total[5m])[1h:1m])",
            "max_over_time(rate(x_total[5m])[1h:])",
            "max_over_time(x[$__range:$__interval])",
            "x offset 5m",
            "x offset -5m",
            "rate(x[5m] offset 1h)",
            "x @ 1609746000",
            "x @ start()",
            "x @ end() offset 5m",
            "x offset 5m @ end()",
            "sum(x)",
            "sum by (a, b) (x)",
            "sum(x) by (a, b)",
            "sum without (a) (x)",
            "sum(x) without(a,)",
            "SUM BY (a) (x)",
            "topk(5, x)",
            "topk by (a) (5, x)",
            "quantile(0.9, x)",
            r#"count_values("value", x)"#,
            "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
            "a + b",
            "a - b * c / d % e ^ f ^ g",
            "a == b",
            "a != bool b",
            "a > bool 0",
            "a <= 1 and b >= 2 or c unless d",
            "a / on (x) b",
            "a / ignoring (x) group_left b",
            "a * on (x, y) group_left (z) b",
            "a * on() group_right (z) b",
            "a atan2 b",
            "-a",
            "-(a + b)",
            "--1",
            "+a",
            "-2 ^ 2",
            "((a))",
            "time()",
            "vector(1)",
            "changes(x[1h])",
            "label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")",
            "absent(up{job=\"a\"})",
            "sum(rate(${service}_http_request_duration_seconds_count{job=~\"$job\"}[$__rate_interval]))",
            "sum(rate($svc_http_request_duration_seconds_count[$__rate_interval]))",
            "watchpost:slo_errors:ratio_rate5m{slo=\"$slo\"}",
            "ALERTS{alertstate=\"firing\"}",
            "sum(up) # a comment",
            "sum(\n  rate(x[5m])\n)",
            "{\"quoted.name\"}",
        ];
        for e in exprs {
            if let Err(err) = parse(e) {
                panic!("{e}: {err}");
            }
        }
    }

    #[test]
    fn what_is_not_promql_does_not_parse() {
        for e in [
            "",
            "sum(x",
            "x[5m",
            "x{a=}",
            "x{a=\"b\"",
            "rate(x[5q])",
            "sum by (a (x)",
            "a +",
            "x y",
            "{}",
            "(a+b)[5m]",
            "\"unterminated",
            "x offset",
            "sum by (a) (x) by (b)",
            "a $",
        ] {
            assert!(parse(e).is_err(), "{e:?} parsed: {:?}", parse(e));
        }
    }

    #[test]
    fn the_tree_is_what_promql_means() {
        // Precedence: * over +, ^ right-associative and over unary minus.
        let e = parse("a + b * c").unwrap();
        assert!(
            matches!(e, Expr::Binary { ref op, ref rhs, .. } if op == "+" && matches!(**rhs, Expr::Binary { ref op, .. } if op == "*"))
        );
        let e = parse("-a ^ b").unwrap();
        assert!(
            matches!(e, Expr::Unary { op: '-', ref expr } if matches!(**expr, Expr::Binary { ref op, .. } if op == "^"))
        );
        let e = parse("a ^ b ^ c").unwrap();
        assert!(matches!(e, Expr::Binary { ref rhs, .. } if matches!(**rhs, Expr::Binary { .. })));
        let e = parse("a or b and c").unwrap();
        assert!(matches!(e, Expr::Binary { ref op, .. } if op == "or"));
        // Grouping before or after the argument.
        for text in ["sum by (a) (x)", "sum(x) by (a)"] {
            assert_eq!(
                parse(text).unwrap(),
                Expr::Aggregate {
                    op: "sum".into(),
                    grouping: Some(Grouping::By(vec!["a".into()])),
                    args: vec![Expr::Selector(Selector {
                        name: Some("x".into()),
                        matchers: vec![],
                        text: "x".into()
                    })],
                }
            );
        }
        let e = parse("a * on (x) group_left (y) b").unwrap();
        let Expr::Binary { matching, .. } = e else {
            panic!()
        };
        assert_eq!(matching.matching, Some(Matching::On(vec!["x".into()])));
        assert_eq!(matching.group, Some(Group::Left(vec!["y".into()])));
        let e = parse("max_over_time(x[1h:1m] offset 5m)").unwrap();
        let Expr::Call { args, .. } = e else { panic!() };
        assert!(
            matches!(&args[0], Expr::Modified { offset: Some(o), expr, .. }
            if o == "5m" && matches!(**expr, Expr::Subquery { ref range, step: Some(ref s), .. } if range == "1h" && s == "1m"))
        );
        let sel = parse(r#"x{a=~"5..", b!="c\"d"}"#).unwrap();
        assert_eq!(
            sel.selectors()[0].matchers[1],
            Matcher {
                label: "b".into(),
                op: MatchOp::NotEqual,
                value: "c\"d".into()
            }
        );
        assert_eq!(sel.selectors()[0].text, r#"x{a=~"5..", b!="c\"d"}"#);
    }

    #[test]
    fn what_the_catalogue_declares_checks_clean() {
        let c = catalogue();
        for e in [
            "sum by (path) (rate(procman_http_request_duration_seconds_count{job=~\"$job\"}[$__rate_interval]))",
            "histogram_quantile(0.99, sum by (le, path) (rate(procman_http_request_duration_seconds_bucket[$__rate_interval])))",
            "sum(rate(procman_http_request_duration_seconds_sum[5m])) / sum(rate(procman_http_request_duration_seconds_count[5m]))",
            "sum(rate(${service}_http_request_duration_seconds_count{status=~\"5..\"}[$__rate_interval])) by (method)",
            "sum(rate($svc_telemetry_dropped_total{signal=\"logs\"}[5m]))",
            "procman_instances{state=\"running\"}",
            "sum without (to) (rate(procman_instances_state_transitions_total[1h]))",
            "rate(process_cpu_seconds_total{instance=~\"$instance\"}[$__rate_interval])",
            "process_open_fds / process_max_fds",
            "process_open_fds / on (job, instance) process_max_fds",
            "procman_http_requests_in_flight * on (job, instance) group_left (version) procman_info",
            "watchpost:slo_errors:ratio_rate1h{slo=~\"$slo\"} / on (slo) group_left () (1 - watchpost:slo_objective:ratio)",
            "up{job=\"procman\"} == 0",
            "ALERTS{alertname=\"X\"}",
            "topk(3, sum by (path) (rate(procman_http_request_duration_seconds_count[5m])))",
            "{__name__=\"procman_instances\", state=\"exited\"}",
            "time() - process_start_time_seconds",
            "changes(procman_uptime_seconds[1h]) > bool 0",
            "count_values(\"v\", procman_info) by (job)",
            "label_replace(procman_instances, \"s\", \"$1\", \"state\", \"(.*)\")",
            "vector(1)",
            "histogram_quantile($quantile, sum by (le) (rate(procman_exec_duration_seconds_bucket[$__rate_interval])))",
            "sum(increase(procman_http_panics_total[$__range])) / $__range_s",
            "procman_instances > ${threshold}",
        ] {
            assert_eq!(check(e, &c, EXTRA), vec![], "{e}");
        }
    }

    fn one_problem(e: &str, c: &Catalogue, wanted: &str) {
        let problems = check(e, c, EXTRA);
        assert!(
            problems.len() == 1 && problems[0].message.contains(wanted),
            "{e}: wanted one problem with {wanted:?}, got {problems:#?}"
        );
    }

    #[test]
    fn what_the_catalogue_does_not_declare_is_a_problem() {
        let c = catalogue();
        one_problem("procman_nope", &c, "'procman_nope' is not in the catalogue");
        one_problem(
            "rate(procman_http_panics[5m])",
            &c,
            "the counter is named 'procman_http_panics_total'",
        );
        one_problem("procman_instances_total", &c, "its series has no _total");
        one_problem(
            "rate(procman_http_request_duration_seconds[5m])",
            &c,
            "is a histogram: query its series",
        );
        one_problem(
            "procman_instances_bucket",
            &c,
            "not a histogram: it has no _bucket series",
        );
        one_problem(
            "procman_http_request_duration_seconds_count{le=\"1\"}",
            &c,
            "le is on a histogram's _bucket series only",
        );
        one_problem(
            "procman_instances{phase=\"running\"}",
            &c,
            "'procman_instances' has no label 'phase'",
        );
        one_problem(
            "procman_instances{state=\"runing\"}",
            &c,
            "is never \"runing\"",
        );
        one_problem(
            "sum by (route) (rate(procman_http_request_duration_seconds_count[5m]))",
            &c,
            "sum by 'route'",
        );
        one_problem(
            "sum without (route) (procman_instances)",
            &c,
            "sum without 'route'",
        );
        one_problem(
            "sum by (path) (sum by (method) (rate(procman_http_request_duration_seconds_count[5m])))",
            &c,
            "sum by 'path'",
        );
        one_problem(
            "process_open_fds / on (state) procman_instances",
            &c,
            "matches the left side on 'state'",
        );
        one_problem(
            "procman_instances / ignoring (zone) process_open_fds",
            &c,
            "ignoring` 'zone'",
        );
        one_problem(
            "procman_instances * on (instance) group_left (branch) procman_info",
            &c,
            "group_left copies 'branch'",
        );
        one_problem(
            "histogram_quantile(0.9, sum by (path) (rate(procman_http_request_duration_seconds_bucket[5m])))",
            &c,
            "needs the 'le' label",
        );
        one_problem("rate(procman_instances[5m])", &c, "applies to counters");
        one_problem(
            "rate(procman_http_panics_total)",
            &c,
            "needs a range vector",
        );
        one_problem(
            "label_values(procman_instances, state)",
            &c,
            "a Grafana variable query",
        );
        one_problem("{job=\"procman\"}", &c, "selects no metric by name");
        one_problem("$metric{state=\"x\"}", &c, "with a template variable");
        one_problem("{__name__=~\"procman_.*\"}", &c, "by the pattern");
        one_problem("sum(rate(x[5m]", &c, "not PromQL");
        one_problem(
            "sum(up) by (sevrice) + sum(watchpost:nope)",
            &c,
            "'watchpost:nope' is not in the catalogue",
        );
        // The name's template variable is the catalogue's prefix.
        one_problem(
            "sum(rate(${service}_http_requests_total[5m]))",
            &c,
            "'procman_http_requests_total' is not in the catalogue",
        );
    }

    #[test]
    fn a_catalogue_with_a_renamed_label_fails_the_check() {
        let expr = "sum by (path) (rate(procman_http_request_duration_seconds_count{status=~\"5..\"}[$__rate_interval]))";
        let c = catalogue();
        assert_eq!(check(expr, &c, EXTRA), vec![]);
        let renamed = include_str!("../tests/fixtures/procman-catalogue.json")
            .replace("{\"name\": \"path\"", "{\"name\": \"route\"");
        assert_ne!(
            renamed,
            include_str!("../tests/fixtures/procman-catalogue.json")
        );
        let c = Catalogue::parse(&renamed).unwrap();
        let problems = check(expr, &c, EXTRA);
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert!(problems[0].message.contains("'path'"), "{}", problems[0]);
        assert!(
            problems[0].to_string().contains(expr),
            "the problem names the expression: {}",
            problems[0]
        );
    }

    #[test]
    fn the_service_variable_stands_for_the_prefix() {
        assert_eq!(substitute_prefix("${service}_x_total", "p"), "p_x_total");
        assert_eq!(substitute_prefix("$svc_x_total", "p"), "p_x_total");
        assert_eq!(substitute_prefix("plain_x", "p"), "plain_x");
        assert!(is_variable("$x") && is_variable("${x}") && is_variable("$__range_s"));
        assert!(!is_variable("${x}_total") && !is_variable("$x${y}") && !is_variable("x"));
    }
}
