//! Tokens.

use super::ParseError;

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok {
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
pub(super) struct Token {
    pub(super) tok: Tok,
    pub(super) start: usize,
    pub(super) end: usize,
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

pub(super) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
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
