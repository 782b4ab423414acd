//! A reader for Prometheus text format 0.0.4 and OpenMetrics 1.0: families with their type, help,
//! unit and samples, the lines that could not be read, and what was described twice.
//!
//! The reader never stops at a bad line: it records a [`ParseError`] (with the line number) and
//! reads on, so the linter still sees the rest.
//!
//! **Family names are Prometheus text names in both formats**, so that rules, catalogues and two
//! scrapes compare alike: an OpenMetrics counter family `foo` (samples `foo_total`) comes out as
//! `foo_total`, an OpenMetrics info family `foo` (sample `foo_info`) as `foo_info`; every other
//! family keeps its name. OpenMetrics `_created` samples are dropped (they are timestamps, not
//! series), and so are exemplars and timestamps. Families without a sample are dropped too, as
//! Prometheus' own text parser does (so `promtool check metrics` and we lint the same families).
//!
//! ```
//! use watchpost_cli::exposition::{parse, Format, Kind};
//!
//! let text = "\
//! ## HELP jobs_total Jobs run.
//! ## TYPE jobs_total counter
//! jobs_total{outcome=\"ok\"} 3
//! jobs_total{outcome=\"a \\\"quoted\\\"\\nvalue\"} 1 1700000000000
//! ## TYPE job_duration_seconds histogram
//! job_duration_seconds_bucket{le=\"1\"} 2
//! job_duration_seconds_bucket{le=\"+Inf\"} 4
//! job_duration_seconds_sum 5.5
//! job_duration_seconds_count 4
//! ";
//! let exp = parse(text);
//! assert_eq!(exp.format, Format::Text);
//! assert!(exp.errors.is_empty());
//! let jobs = exp.family("jobs_total").unwrap();
//! assert_eq!((jobs.kind, jobs.help.as_deref()), (Kind::Counter, Some("Jobs run.")));
//! assert_eq!(jobs.samples[1].labels, vec![("outcome".to_owned(), "a \"quoted\"\nvalue".to_owned())]);
//! let h = exp.family("job_duration_seconds").unwrap();
//! assert_eq!((h.kind, h.samples.len(), h.help.as_deref()), (Kind::Histogram, 4, None));
//! assert_eq!(h.samples[1].value, 4.0);
//!
//! let om = "\
//! ## TYPE jobs counter
//! ## HELP jobs Jobs run.
//! jobs_total{outcome=\"ok\"} 3 # {trace_id=\"abc\"} 1.0 1700000000.000
//! jobs_created{outcome=\"ok\"} 1700000000.0
//! ## TYPE latency_seconds histogram
//! ## UNIT latency_seconds seconds
//! latency_seconds_bucket{le=\"+Inf\"} 1
//! latency_seconds_count 1
//! latency_seconds_sum NaN
//! ## EOF
//! ";
//! let exp = parse(om);
//! assert_eq!(exp.format, Format::OpenMetrics);
//! assert!(exp.errors.is_empty(), "{:?}", exp.errors);
//! let jobs = exp.family("jobs_total").unwrap(); // the same name as in the text format
//! assert_eq!((jobs.kind, jobs.samples.len()), (Kind::Counter, 1));
//! assert_eq!(exp.family("latency_seconds").unwrap().unit.as_deref(), Some("seconds"));
//!
//! let bad = parse("ok 1\nbroken{ 2\nalso_ok 3\n");
//! assert_eq!(bad.errors[0].line, 2);
//! assert_eq!(bad.families.len(), 2);
//! ```

use std::collections::HashMap;

/// The format of an exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics 1.0 (ends in `# EOF`).
    OpenMetrics,
}

/// The type of a family (`# TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `counter`.
    Counter,
    /// `gauge`.
    Gauge,
    /// `histogram`.
    Histogram,
    /// `summary`.
    Summary,
    /// `untyped` (text) or `unknown` (OpenMetrics), or no `# TYPE` line.
    Unknown,
    /// `gaugehistogram` (OpenMetrics).
    GaugeHistogram,
    /// `stateset` (OpenMetrics).
    StateSet,
    /// `info` (OpenMetrics).
    Info,
}

impl Kind {
    /// Reads a `# TYPE` word of either format.
    ///
    /// ```
    /// use watchpost_cli::exposition::Kind;
    /// assert_eq!(Kind::parse("untyped"), Some(Kind::Unknown));
    /// assert_eq!(Kind::parse("unknown"), Some(Kind::Unknown));
    /// assert_eq!(Kind::parse("gaugehistogram"), Some(Kind::GaugeHistogram));
    /// assert_eq!(Kind::parse("Counter"), None);
    /// ```
    pub fn parse(word: &str) -> Option<Kind> {
        Some(match word {
            "counter" => Kind::Counter,
            "gauge" => Kind::Gauge,
            "histogram" => Kind::Histogram,
            "summary" => Kind::Summary,
            "untyped" | "unknown" => Kind::Unknown,
            "gaugehistogram" => Kind::GaugeHistogram,
            "stateset" => Kind::StateSet,
            "info" => Kind::Info,
            _ => return None,
        })
    }

    /// The type's name as a Prometheus text exposition (and a catalogue) writes it; `untyped`
    /// for [`Kind::Unknown`].
    ///
    /// ```
    /// assert_eq!(watchpost_cli::exposition::Kind::Unknown.as_str(), "untyped");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
            Kind::Unknown => "untyped",
            Kind::GaugeHistogram => "gaugehistogram",
            Kind::StateSet => "stateset",
            Kind::Info => "info",
        }
    }

    /// The type the Prometheus text format writes for this one: `gauge` for `info` and
    /// `stateset`, `histogram` for `gaugehistogram`, itself otherwise. Families compare across
    /// formats (and with a catalogue) by this type.
    ///
    /// ```
    /// use watchpost_cli::exposition::Kind;
    /// assert_eq!(Kind::Info.text_equivalent(), Kind::Gauge);
    /// assert_eq!(Kind::Counter.text_equivalent(), Kind::Counter);
    /// ```
    pub fn text_equivalent(self) -> Kind {
        match self {
            Kind::Info | Kind::StateSet => Kind::Gauge,
            Kind::GaugeHistogram => Kind::Histogram,
            k => k,
        }
    }

    /// The sample-name suffixes of this type in `format` (what joins `foo_bucket` to `foo`).
    fn suffixes(self, format: Format) -> &'static [&'static str] {
        match (self, format) {
            (Kind::Histogram, Format::Text) => &["_bucket", "_count", "_sum"],
            (Kind::Summary, Format::Text) => &["_count", "_sum"],
            (_, Format::Text) => &[],
            (Kind::Counter, Format::OpenMetrics) => &["_total", "_created"],
            (Kind::Histogram, Format::OpenMetrics) => &["_bucket", "_count", "_sum", "_created"],
            (Kind::Summary, Format::OpenMetrics) => &["_count", "_sum", "_created"],
            (Kind::GaugeHistogram, Format::OpenMetrics) => &["_gbucket", "_gcount", "_gsum"],
            (Kind::Info, Format::OpenMetrics) => &["_info"],
            (_, Format::OpenMetrics) => &[],
        }
    }
}

/// One sample: a series and its value.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's name as written (`foo_bucket`, `foo_total`, `foo`).
    pub name: String,
    /// Its labels, sorted by name (`le` and `quantile` included).
    pub labels: Vec<(String, String)>,
    /// Its value (`+Inf`, `-Inf` and `NaN` included).
    pub value: f64,
    /// The line it was read from (1-based).
    pub line: usize,
}

impl Sample {
    /// The value of label `name`, if the sample has it.
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A metric family: its metadata and samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The family's name, normalised to the Prometheus text name (see the module docs).
    pub name: String,
    /// Its type; [`Kind::Unknown`] without a `# TYPE` line.
    pub kind: Kind,
    /// Its `# HELP` text, unescaped (`Some("")` for an empty one, `None` without the line).
    pub help: Option<String>,
    /// Its `# UNIT` (read in both formats; the text format has no such line, but a comment
    /// `# UNIT` is harmless to Prometheus and read here).
    pub unit: Option<String>,
    /// Its samples in order.
    pub samples: Vec<Sample>,
    /// The line that introduced it (1-based).
    pub line: usize,
}

impl Family {
    /// The distinct series of the family: each label set once, `le`/`quantile` left out, over
    /// every sample name (a histogram's series is its label set).
    pub fn series_keys(&self) -> Vec<Vec<(&str, &str)>> {
        let mut keys: Vec<Vec<(&str, &str)>> = self
            .samples
            .iter()
            .map(|s| {
                s.labels
                    .iter()
                    .filter(|(k, _)| k != "le" && k != "quantile")
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect()
            })
            .collect();
        keys.sort_unstable();
        keys.dedup();
        keys
    }
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line number (1-based).
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
    /// The line's first [`ERROR_TEXT`] characters.
    pub text: String,
}

/// Something described twice: a family's `# HELP`/`# TYPE`/`# UNIT`, or a series (the same
/// sample name and labels).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Duplicate {
    /// The family (normalised name).
    pub family: String,
    /// The line of the second description (1-based).
    pub line: usize,
    /// What was repeated, e.g. `second HELP line` or `series foo{a} again (first on line 3)`
    /// (label names only: messages do not repeat label values).
    pub what: String,
}

/// A parsed exposition.
#[derive(Debug, Clone)]
pub struct Exposition {
    /// Its format.
    pub format: Format,
    /// Its families with at least one sample, in order of first appearance.
    pub families: Vec<Family>,
    /// The lines that could not be read.
    pub errors: Vec<ParseError>,
    /// What was described twice.
    pub duplicates: Vec<Duplicate>,
}

impl Exposition {
    /// The family named `name` (normalised name).
    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }

    /// How many samples in all (`_created` samples not counted).
    pub fn sample_count(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }
}

/// Parses an exposition; the format is OpenMetrics if a line reads `# EOF`, else text.
pub fn parse(text: &str) -> Exposition {
    let format = if text.lines().any(|l| l.trim_end() == "# EOF") {
        Format::OpenMetrics
    } else {
        Format::Text
    };
    parse_as(text, format)
}

/// Parses an exposition in a known format.
///
/// ```
/// use watchpost_cli::exposition::{parse_as, Format};
/// // Without `# EOF` an OpenMetrics body still reads as OpenMetrics when told so.
/// let exp = parse_as("# TYPE a counter\na_total 1\n", Format::OpenMetrics);
/// assert_eq!(exp.families[0].name, "a_total");
/// ```
pub fn parse_as(text: &str, format: Format) -> Exposition {
    let mut p = Parser {
        format,
        families: Vec::new(),
        by_name: HashMap::new(),
        typed: Vec::new(),
        errors: Vec::new(),
        duplicates: Vec::new(),
        eof: false,
    };
    for (i, line) in text.lines().enumerate() {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let before = p.errors.len();
        p.line(i + 1, line);
        for e in &mut p.errors[before..] {
            e.text = line.chars().take(ERROR_TEXT).collect();
        }
    }
    p.finish()
}

/// How much of an unreadable line a [`ParseError`] keeps.
pub const ERROR_TEXT: usize = 80;

struct Parser {
    format: Format,
    families: Vec<Family>,
    /// Family name as written in the metadata (OpenMetrics: before normalisation) → index.
    by_name: HashMap<String, usize>,
    /// Whether each family had a `# TYPE` line.
    typed: Vec<bool>,
    errors: Vec<ParseError>,
    duplicates: Vec<Duplicate>,
    eof: bool,
}

impl Parser {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(ParseError {
            line,
            message: message.into(),
            text: String::new(),
        });
    }

    fn line(&mut self, n: usize, line: &str) {
        if self.eof {
            if !line.trim().is_empty() {
                self.error(n, "content after `# EOF`");
            }
            return;
        }
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            return;
        }
        if let Some(comment) = trimmed.strip_prefix('#') {
            self.comment(n, comment);
            return;
        }
        match parse_sample(trimmed, self.format) {
            Ok((name, labels, value)) => self.sample(n, name, labels, value),
            Err(message) => self.error(n, message),
        }
    }

    fn comment(&mut self, n: usize, comment: &str) {
        if comment.trim_end() == " EOF" && self.format == Format::OpenMetrics {
            self.eof = true;
            return;
        }
        let Some(rest) = comment.strip_prefix(' ') else {
            return; // `#HELP` and the like are plain comments
        };
        let rest = rest.trim_start();
        let (keyword, rest) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        if !matches!(keyword, "HELP" | "TYPE" | "UNIT") {
            return;
        }
        let rest = rest.trim_start();
        let (name, value) = rest.split_once([' ', '\t']).unwrap_or((rest, ""));
        if !valid_metric_name(name) {
            self.error(n, format!("{keyword} line without a valid metric name"));
            return;
        }
        let index = match self.by_name.get(name) {
            Some(&i) => i,
            None => self.new_family(name, n),
        };
        let family = &mut self.families[index];
        let what = match keyword {
            "HELP" => {
                let help = unescape_help(value);
                if family.help.replace(help).is_some() {
                    "second HELP line"
                } else {
                    return;
                }
            }
            "UNIT" => {
                if family.unit.replace(value.trim().to_owned()).is_some() {
                    "second UNIT line"
                } else {
                    return;
                }
            }
            _ => {
                let Some(kind) = Kind::parse(value.trim()) else {
                    self.error(
                        n,
                        format!(
                            "{name}: unknown type (not counter, gauge, histogram, summary, info, stateset, gaugehistogram, unknown or untyped)"
                        ),
                    );
                    return;
                };
                if !family.samples.is_empty() {
                    self.error(n, format!("TYPE line for {name} after its samples"));
                    return;
                }
                family.kind = kind;
                if std::mem::replace(&mut self.typed[index], true) {
                    "second TYPE line"
                } else {
                    return;
                }
            }
        };
        let family = self.families[index].name.clone();
        self.duplicates.push(Duplicate {
            family,
            line: n,
            what: what.to_owned(),
        });
    }

    fn new_family(&mut self, name: &str, line: usize) -> usize {
        let index = self.families.len();
        self.families.push(Family {
            name: name.to_owned(),
            kind: Kind::Unknown,
            help: None,
            unit: None,
            samples: Vec::new(),
            line,
        });
        self.by_name.insert(name.to_owned(), index);
        self.typed.push(false);
        index
    }

    fn sample(&mut self, n: usize, name: &str, labels: Vec<(String, String)>, value: f64) {
        let index = self.family_of(name, n);
        let family = &mut self.families[index];
        if self.format == Format::OpenMetrics
            && name.ends_with("_created")
            && name.len() > family.name.len()
        {
            return;
        }
        family.samples.push(Sample {
            name: name.to_owned(),
            labels,
            value,
            line: n,
        });
    }

    /// The family a sample belongs to: its own name, else a typed family whose suffix it has.
    fn family_of(&mut self, name: &str, line: usize) -> usize {
        if let Some(&i) = self.by_name.get(name) {
            return i;
        }
        for (at, _) in name.match_indices('_') {
            let (base, suffix) = name.split_at(at);
            if let Some(&i) = self.by_name.get(base) {
                if self.families[i]
                    .kind
                    .suffixes(self.format)
                    .contains(&suffix)
                {
                    return i;
                }
            }
        }
        self.new_family(name, line)
    }

    fn finish(mut self) -> Exposition {
        self.families.retain(|f| !f.samples.is_empty());
        if self.format == Format::OpenMetrics {
            for f in &mut self.families {
                let suffix = match f.kind {
                    Kind::Counter => "_total",
                    Kind::Info => "_info",
                    _ => continue,
                };
                if !f.name.ends_with(suffix) {
                    f.name.push_str(suffix);
                }
            }
        }
        for f in &self.families {
            let mut order: Vec<usize> = (0..f.samples.len()).collect();
            order.sort_by(|&a, &b| {
                let (x, y) = (&f.samples[a], &f.samples[b]);
                (&x.name, &x.labels, x.line).cmp(&(&y.name, &y.labels, y.line))
            });
            for pair in order.windows(2) {
                let (first, again) = (&f.samples[pair[0]], &f.samples[pair[1]]);
                if first.name == again.name && first.labels == again.labels {
                    self.duplicates.push(Duplicate {
                        family: f.name.clone(),
                        line: again.line,
                        what: format!(
                            "series {} again (first on line {})",
                            series_shape(again),
                            first.line
                        ),
                    });
                }
            }
        }
        Exposition {
            format: self.format,
            families: self.families,
            errors: self.errors,
            duplicates: self.duplicates,
        }
    }
}

/// `name{a, c}`: a series by its name and label names, without the values (for messages, which
/// must not repeat label values: one may be an e-mail address).
pub fn series_shape(s: &Sample) -> String {
    if s.labels.is_empty() {
        return s.name.clone();
    }
    let labels: Vec<&str> = s.labels.iter().map(|(k, _)| k.as_str()).collect();
    format!("{}{{{}}}", s.name, labels.join(", "))
}

/// What is wrong with a metric name that is not valid: the first character it cannot have
/// (never the name: a line like `DB_PASSWORD=hunter2` is read as a name up to the first space).
fn invalid_name(name: &str) -> String {
    let bad = name.char_indices().find(|&(i, c)| {
        !(c.is_ascii_alphabetic() || c == '_' || c == ':' || (i > 0 && c.is_ascii_digit()))
    });
    match bad {
        None => "no metric name".to_owned(),
        Some((0, c)) if c.is_ascii_digit() => {
            "invalid metric name: it starts with a digit".to_owned()
        }
        Some((i, c)) => format!(
            "invalid metric name: the character {c:?} after {} valid ones",
            name[..i].chars().count()
        ),
    }
}

/// `name{a="b",c="d"}`, for a finding's context (not its message: label values may be anything).
pub fn series_text(s: &Sample) -> String {
    if s.labels.is_empty() {
        return s.name.clone();
    }
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{}{{{}}}", s.name, labels.join(","))
}

/// Whether `name` is a valid metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_metric_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_' || b == b':')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

fn unescape_help(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

type Parsed<'a> = (&'a str, Vec<(String, String)>, f64);

/// One sample line: `name{labels} value [timestamp] [# exemplar]`.
fn parse_sample(line: &str, format: Format) -> Result<Parsed<'_>, String> {
    let end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
    let name = &line[..end];
    if !valid_metric_name(name) {
        return Err(invalid_name(name));
    }
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('{') {
        let (l, r) = parse_labels(r)?;
        labels = l;
        rest = r;
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(format!("{name}: expected a space and a value"));
    }
    let mut tokens = rest.split_ascii_whitespace();
    let Some(value) = tokens.next() else {
        return Err(format!("{name}: no value"));
    };
    let value = parse_value(value).ok_or_else(|| format!("{name}: the value is not a number"))?;
    match tokens.next() {
        None => {}
        Some("#") if format == Format::OpenMetrics => {}
        Some(ts) if parse_value(ts).is_some_and(f64::is_finite) => match tokens.next() {
            None => {}
            Some("#") if format == Format::OpenMetrics => {}
            Some(_) => return Err(format!("{name}: unexpected text after the timestamp")),
        },
        Some(_) => {
            return Err(format!(
                "{name}: the text after the value is neither a timestamp nor an exemplar"
            ))
        }
    }
    labels.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if let Some(w) = labels.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!("{name}: label '{}' given twice", w[0].0));
    }
    Ok((name, labels, value))
}

fn parse_value(s: &str) -> Option<f64> {
    if s.bytes().any(|b| b == b'_') {
        return None;
    }
    s.parse().ok()
}

type Labels<'a> = (Vec<(String, String)>, &'a str);

/// Reads `a="b",c="d"}` (after the `{`) and returns the labels and the rest of the line.
fn parse_labels(mut s: &str) -> Result<Labels<'_>, String> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(rest) = s.strip_prefix('}') {
            return Ok((labels, rest));
        }
        let end = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        let name = &s[..end];
        if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(match s.chars().next() {
                Some(c) if !c.is_ascii_digit() => {
                    format!("invalid label name: it starts with the character {c:?}")
                }
                _ => "invalid label name".to_owned(),
            });
        }
        s = s[end..].trim_start();
        s = s
            .strip_prefix('=')
            .ok_or_else(|| format!("expected '=' after label name '{name}'"))?
            .trim_start();
        s = s
            .strip_prefix('"')
            .ok_or_else(|| format!("expected '\"' to open the value of label '{name}'"))?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let close = loop {
            match chars.next() {
                None => return Err(format!("the value of label '{name}' is not closed")),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, '\\')) => value.push('\\'),
                    Some((_, '"')) => value.push('"'),
                    Some((_, 'n')) => value.push('\n'),
                    _ => return Err(format!("invalid escape in the value of label '{name}'")),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((name.to_owned(), value));
        s = s[close + 1..].trim_start();
        if let Some(rest) = s.strip_prefix(',') {
            s = rest;
        } else if !s.starts_with('}') {
            return Err(format!("expected ',' or '}}' after label '{name}'"));
        }
    }
}

#[cfg(test)]
mod tests;
