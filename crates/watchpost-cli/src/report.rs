//! The report: findings grouped by rule with counts and the first samples, excluded findings
//! counted with their reasons, and what each signal covered. It stays small whatever the input:
//! a rule keeps 3 samples and at most [`MAX_NAMES`] distinct signal names (the rest are counted).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::config::Config;
use crate::finding::{Finding, Level, Signal};
use crate::rules::{self, Rule};

/// Samples kept per rule.
pub const SAMPLES: usize = 3;
/// Distinct signal names counted per rule; further names are counted together.
pub const MAX_NAMES: usize = 200;

/// The findings of one rule.
#[derive(Debug, Clone)]
pub struct Tally {
    /// The rule.
    pub rule: &'static Rule,
    /// Its level after `watchpost.toml` overrides.
    pub level: Level,
    /// How many findings.
    pub count: u64,
    /// The first [`SAMPLES`] findings.
    pub samples: Vec<Finding>,
    /// Findings per signal name (at most [`MAX_NAMES`] names).
    pub names: BTreeMap<String, u64>,
    /// Findings whose name did not fit in `names`.
    pub other_names: u64,
}

/// What a signal covered: named counts (`lines`, `families`, `spans`…).
pub type Coverage = BTreeMap<&'static str, u64>;

/// Findings of one run, grouped by rule.
#[derive(Debug, Clone, Default)]
pub struct Report {
    config: Config,
    tallies: BTreeMap<&'static str, Tally>,
    excluded: BTreeMap<(&'static str, String), u64>,
    coverage: BTreeMap<Signal, Coverage>,
}

impl Report {
    /// An empty report that applies `config`'s exclusions and overrides.
    pub fn new(config: Config) -> Report {
        Report {
            config,
            ..Report::default()
        }
    }

    /// The configuration the report applies.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Adds a finding (or counts it as excluded). Secrets and personal data in its name and
    /// context are masked first: a report never repeats what it found.
    pub fn add(&mut self, mut finding: Finding) {
        if let Some(clean) = scrub(&finding.signal_name) {
            finding.signal_name = clean;
        }
        if let Some(clean) = scrub(&finding.message) {
            finding.message = clean;
        }
        for v in finding.context.values_mut() {
            if let Some(clean) = v.as_str().and_then(scrub) {
                *v = Value::String(clean);
            }
        }
        let Some(rule) = rules::by_id(finding.id) else {
            debug_assert!(false, "unknown rule {}", finding.id);
            return;
        };
        if let Some(ex) = self.config.excluded(rule.id, &finding.signal_name) {
            *self
                .excluded
                .entry((rule.id, ex.reason.clone()))
                .or_default() += 1;
            return;
        }
        let level = self.config.level(rule);
        let tally = self.tallies.entry(rule.id).or_insert_with(|| Tally {
            rule,
            level,
            count: 0,
            samples: Vec::new(),
            names: BTreeMap::new(),
            other_names: 0,
        });
        tally.count += 1;
        if let Some(n) = tally.names.get_mut(&finding.signal_name) {
            *n += 1;
        } else if tally.names.len() < MAX_NAMES {
            tally.names.insert(finding.signal_name.clone(), 1);
        } else {
            tally.other_names += 1;
        }
        if tally.samples.len() < SAMPLES {
            let mut f = finding;
            f.level = level;
            tally.samples.push(f);
        }
    }

    /// Adds `n` to a coverage counter of `signal` (the counter appears even when `n` is 0, which
    /// marks the signal as read).
    pub fn cover(&mut self, signal: Signal, what: &'static str, n: u64) {
        *self
            .coverage
            .entry(signal)
            .or_default()
            .entry(what)
            .or_default() += n;
    }

    /// The coverage counters of `signal`, if it was read at all.
    pub fn coverage(&self, signal: Signal) -> Option<&Coverage> {
        self.coverage.get(&signal)
    }

    /// How many findings of the rule `id` (0 if none).
    pub fn count(&self, id: &str) -> u64 {
        self.tallies.get(id).map_or(0, |t| t.count)
    }

    /// The findings, rule by rule, most serious first.
    pub fn tallies(&self) -> Vec<&Tally> {
        let mut v: Vec<&Tally> = self.tallies.values().collect();
        v.sort_by(|a, b| b.level.cmp(&a.level).then(a.rule.id.cmp(b.rule.id)));
        v
    }

    /// How many findings of each level.
    pub fn counts(&self) -> BTreeMap<Level, u64> {
        let mut out = BTreeMap::new();
        for t in self.tallies.values() {
            *out.entry(t.level).or_default() += t.count;
        }
        out
    }

    /// Whether any finding is at `level` or worse.
    pub fn fails(&self, level: Level) -> bool {
        self.tallies.values().any(|t| t.level >= level)
    }

    /// The human report: rule by rule with counts and the first samples, then the summary.
    pub fn render_human(&self, colour: bool) -> String {
        let paint = |code: &str, s: &str| {
            if colour {
                format!("\x1b[{code}m{s}\x1b[0m")
            } else {
                s.to_owned()
            }
        };
        let mut out = String::new();
        for t in self.tallies() {
            let level = match t.level {
                Level::Violation => paint("1;31", "violation"),
                Level::Improvement => paint("1;33", "improvement"),
                Level::Information => paint("1;36", "information"),
            };
            let _ = writeln!(
                out,
                "{level} {} ×{} — {}",
                paint("1", t.rule.id),
                t.count,
                t.rule.summary
            );
            for s in &t.samples {
                let ctx = Value::Object(s.context.clone());
                let _ = writeln!(
                    out,
                    "    {} {}: {}  {}",
                    s.signal_type.as_str(),
                    s.signal_name,
                    s.message,
                    ctx
                );
            }
            let distinct = t.names.len() as u64 + u64::from(t.other_names > 0);
            if t.count > t.samples.len() as u64 && distinct > 1 {
                let _ = writeln!(
                    out,
                    "    … {} findings about {} names in all",
                    t.count,
                    t.names.len()
                );
            }
        }
        let counts = self.counts();
        let n = |l| counts.get(&l).copied().unwrap_or(0);
        let _ = writeln!(
            out,
            "summary: {} violations, {} improvements, {} information",
            n(Level::Violation),
            n(Level::Improvement),
            n(Level::Information)
        );
        for ((rule, reason), count) in &self.excluded {
            let _ = writeln!(out, "excluded: {rule} ×{count} ({reason})");
        }
        for signal in [Signal::Metric, Signal::Log, Signal::Span] {
            match self.coverage.get(&signal) {
                Some(c) => {
                    let parts: Vec<String> = c.iter().map(|(k, v)| format!("{v} {k}")).collect();
                    let _ = writeln!(out, "{}: {}", signal.as_str(), parts.join(", "));
                }
                None => {
                    let _ = writeln!(out, "{}: not checked", signal.as_str());
                }
            }
        }
        out
    }

    fn summary_json(&self) -> Value {
        let counts = self.counts();
        let n = |l| counts.get(&l).copied().unwrap_or(0);
        let coverage: serde_json::Map<String, Value> = [Signal::Metric, Signal::Log, Signal::Span]
            .into_iter()
            .map(|s| {
                (
                    s.as_str().to_owned(),
                    self.coverage.get(&s).map_or(Value::Null, |c| json!(c)),
                )
            })
            .collect();
        let excluded: Vec<Value> = self
            .excluded
            .iter()
            .map(|((rule, reason), count)| json!({"id": rule, "reason": reason, "count": count}))
            .collect();
        json!({
            "violation": n(Level::Violation),
            "improvement": n(Level::Improvement),
            "information": n(Level::Information),
            "rules": self.tallies.values().map(|t| json!({"id": t.rule.id, "level": t.level, "count": t.count})).collect::<Vec<_>>(),
            "excluded": excluded,
            "coverage": coverage,
        })
    }

    fn aggregated(&self) -> Vec<Value> {
        let mut out = Vec::new();
        for t in self.tallies() {
            for (name, count) in &t.names {
                let sample = t.samples.iter().find(|s| &s.signal_name == name);
                let mut v = json!({
                    "level": t.level,
                    "id": t.rule.id,
                    "signal_type": sample.map_or(t.rule.signal, |s| s.signal_type),
                    "signal_name": name,
                    "count": count,
                    "message": sample.map_or(t.rule.summary.to_owned(), |s| s.message.clone()),
                });
                if let Some(s) = sample {
                    v["context"] = Value::Object(s.context.clone());
                }
                out.push(v);
            }
            if t.other_names > 0 {
                out.push(json!({"level": t.level, "id": t.rule.id, "signal_type": t.rule.signal,
                    "signal_name": "*", "count": t.other_names, "message": "further names not listed"}));
            }
        }
        out
    }

    /// The report as one JSON document: `findings` (one object per rule and signal name, with
    /// `count`; Weaver's finding fields) and `summary`.
    pub fn to_json(&self) -> Value {
        json!({"findings": self.aggregated(), "summary": self.summary_json()})
    }

    /// The report as JSON lines: one finding object per line, then `{"summary": …}`.
    pub fn to_jsonl(&self) -> String {
        let mut out = String::new();
        for f in self.aggregated() {
            out.push_str(&f.to_string());
            out.push('\n');
        }
        out.push_str(&json!({"summary": self.summary_json()}).to_string());
        out.push('\n');
        out
    }
}

/// `s` with personal data masked as the library masks it, or `[REDACTED]` if it holds a secret;
/// `None` when it is clean.
fn scrub(s: &str) -> Option<String> {
    match crate::privacy::scan_value(s)? {
        crate::privacy::Privacy::Secret(_) => Some(watchpost::redact::REDACTED.to_owned()),
        crate::privacy::Privacy::PersonalData(_) => {
            let mut out = String::new();
            let mut rest = s;
            while let Some((range, kind)) = watchpost::redact::find_personal_data(rest) {
                out.push_str(&rest[..range.start]);
                out.push_str(kind.mask());
                rest = &rest[range.end..];
            }
            out.push_str(rest);
            Some(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_million_findings_make_a_small_report() {
        let mut r = Report::new(Config::default());
        for i in 0..1_000_000u32 {
            let rule = if i % 2 == 0 {
                &rules::LOG_TRACE_LEVEL
            } else {
                &rules::METRIC_NO_HELP
            };
            r.add(Finding::new(rule, format!("name {i}"), "m").with("line", i));
        }
        assert_eq!(r.count("log.trace-level"), 500_000);
        let json = r.to_json().to_string();
        let jsonl = r.to_jsonl();
        assert!(json.len() < 1_000_000, "{}", json.len());
        assert!(jsonl.len() < 1_000_000, "{}", jsonl.len());
        assert!(r.render_human(false).len() < 10_000);
        assert!(jsonl.lines().last().unwrap().starts_with("{\"summary\""));
    }

    #[test]
    fn exclusions_are_counted_with_their_reason_and_overrides_change_the_level() {
        let config = Config::parse(
            "[[exclude]]\nrule = \"metric.no-help\"\nname = \"go_*\"\nreason = \"runtime\"\n\
             [[override]]\nrule = \"log.trace-level\"\nlevel = \"information\"\nreason = \"dev build\"\n",
        )
        .unwrap();
        let mut r = Report::new(config);
        r.add(Finding::new(
            &rules::METRIC_NO_HELP,
            "go_threads",
            "no help text",
        ));
        r.add(Finding::new(
            &rules::METRIC_NO_HELP,
            "app_jobs_total",
            "no help text",
        ));
        r.add(Finding::new(&rules::LOG_TRACE_LEVEL, "tick", "TRACE line"));
        assert_eq!(r.count("metric.no-help"), 1);
        assert!(r.fails(Level::Violation));
        let human = r.render_human(false);
        assert!(
            human.contains("excluded: metric.no-help ×1 (runtime)"),
            "{human}"
        );
        assert!(human.contains("information log.trace-level ×1"), "{human}");
        assert_eq!(r.to_json()["summary"]["excluded"][0]["count"], 1);
    }
}
