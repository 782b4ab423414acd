//! The parser.

use super::lex::{Tok, Token};
use super::{
    Expr, Group, Grouping, MatchOp, Matcher, Matching, ParseError, Selector, VectorMatching,
};

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
pub(super) const RANGE_FUNCTIONS: &[&str] = &[
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
pub(super) const COUNTER_FUNCTIONS: &[&str] = &["rate", "irate", "increase", "resets"];

pub(super) struct Parser<'a> {
    pub(super) src: &'a str,
    pub(super) toks: Vec<Token>,
    pub(super) i: usize,
}

type PResult<T> = Result<T, ParseError>;

impl<'a> Parser<'a> {
    pub(super) fn peek(&self) -> &Tok {
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

    pub(super) fn fail<T>(&self, what: &str) -> PResult<T> {
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

    pub(super) fn expr(&mut self, min_prec: u8) -> PResult<Expr> {
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
