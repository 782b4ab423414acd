//! The metric rules (`metric.*`): promlint's rules, unit suffixes, label cardinality, id-like
//! label values, denormalized series, request counters without a timing histogram, and, with a
//! catalogue, undeclared families and families that differ from their declaration.
//!
//! Third-party families ([`is_third_party`]: `process_*`, `go_*`, `target_info`, …) are exempt
//! unless [`LintOptions::include_third_party`]; they never count as the application's own metrics.
//! Every finding names the family (its normalised name, see [`crate::exposition`]) as its
//! `signal_name` and in its context (`family`, `line`).
//!
//! ```
//! use watchpost_cli::config::Config;
//! use watchpost_cli::exposition::parse;
//! use watchpost_cli::lint::{lint, LintOptions};
//! use watchpost_cli::report::Report;
//!
//! let exp = parse("# TYPE svc_jobs counter\nsvc_jobs 3\n");
//! let mut report = Report::new(Config::default());
//! lint(&exp, &LintOptions::default(), None, &mut report);
//! assert_eq!(report.count("metric.no-help"), 1);
//! assert_eq!(report.count("metric.counter-without-total"), 1);
//! assert_eq!(report.count("metric.colon-in-name"), 0);
//! ```

mod catalogued;
mod denormalized;
mod labels;
mod promlint;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use crate::catalogue::{self, Catalogue};
use crate::config::Config;
use crate::error::Error;
use crate::exposition::{self, Exposition, Family};
use crate::finding::{Finding, Signal};
use crate::report::Report;
use crate::rules::{self, Rule};
use crate::source;

pub use labels::id_kind;
pub use promlint::PROMLINT_MESSAGES;

/// Prefixes of the metrics runtimes and client libraries export on their own.
pub const THIRD_PARTY_PREFIXES: &[&str] = &[
    "process_",
    "go_",
    "python_",
    "promhttp_",
    "jvm_",
    "nodejs_",
    "dotnet_",
];

/// Third-party families named exactly so (OpenTelemetry's resource and scope info).
pub const THIRD_PARTY_NAMES: &[&str] = &["target_info", "otel_scope_info"];

/// Whether a family is exported by a runtime or library rather than by the application.
///
/// ```
/// use watchpost_cli::lint::is_third_party;
/// assert!(is_third_party("go_goroutines"));
/// assert!(is_third_party("target_info"));
/// assert!(!is_third_party("procman_instances"));
/// assert!(!is_third_party("gopher_total"));
/// ```
pub fn is_third_party(name: &str) -> bool {
    THIRD_PARTY_PREFIXES.iter().any(|p| name.starts_with(p)) || THIRD_PARTY_NAMES.contains(&name)
}

/// How `lint` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LintOptions {
    /// Lint third-party families too.
    pub include_third_party: bool,
    /// Distinct values one label may have in one family (`[check] max_label_values`).
    pub max_label_values: usize,
}

impl Default for LintOptions {
    fn default() -> LintOptions {
        LintOptions {
            include_third_party: false,
            max_label_values: 100,
        }
    }
}

impl LintOptions {
    /// The options `config` implies.
    pub fn from_config(config: &Config, include_third_party: bool) -> LintOptions {
        LintOptions {
            include_third_party,
            max_label_values: config.check.max_label_values,
        }
    }
}

/// `watchpost lint SOURCE`: reads the exposition (a URL, a file or `-`) and the catalogue, if
/// any, and lints them. An input that is not an exposition at all (nothing readable, only bad
/// lines) is an error naming it.
pub async fn run(
    source: &str,
    catalogue: Option<&str>,
    include_third_party: bool,
    config: Config,
) -> crate::Result<Report> {
    let text = source::read(source, source::SCRAPE_ACCEPT).await?;
    let catalogue = match catalogue {
        Some(spec) => Some(catalogue::load(spec).await?),
        None => None,
    };
    let exp = exposition::parse(&text);
    if exp.families.is_empty() {
        if let Some(first) = exp.errors.first() {
            return Err(Error::new(format!(
                "'{source}' is not a metrics exposition: line {}: {}",
                first.line, first.message
            ))
            .hint(
                "give a Prometheus text or OpenMetrics exposition: a /metrics URL, a file, or -",
            ));
        }
    }
    let options = LintOptions::from_config(&config, include_third_party);
    let mut report = Report::new(config);
    lint(&exp, &options, catalogue.as_ref(), &mut report);
    Ok(report)
}

/// A finding of `rule` about family `f`, with its name and line in the context.
pub(crate) fn about(rule: &Rule, f: &Family, message: impl Into<String>) -> Finding {
    Finding::new(rule, f.name.clone(), message)
        .with("family", f.name.clone())
        .with("line", f.line)
}

/// Applies every metric rule to `exp` (and `catalogue`), adding findings and coverage to
/// `report`.
pub fn lint(
    exp: &Exposition,
    opts: &LintOptions,
    catalogue: Option<&Catalogue>,
    report: &mut Report,
) {
    for e in &exp.errors {
        report.add(
            Finding::new(
                &rules::METRIC_PARSE_ERROR,
                format!("line {}", e.line),
                e.message.clone(),
            )
            .with("line", e.line)
            .with("text", e.text.as_str()),
        );
    }
    let third_party = exp
        .families
        .iter()
        .filter(|f| is_third_party(&f.name))
        .count();
    report.cover(Signal::Metric, "families", exp.families.len() as u64);
    // As Prometheus counts them: every sample line (a histogram bucket is a series).
    report.cover(Signal::Metric, "series", exp.sample_count() as u64);
    report.cover(Signal::Metric, "third-party families", third_party as u64);
    report.cover(Signal::Metric, "parse errors", exp.errors.len() as u64);
    if third_party == exp.families.len() {
        let message = if exp.families.is_empty() {
            "the exposition has no metric family".to_owned()
        } else {
            format!(
                "all {} families are third-party (process_*, go_*, …): the application measures nothing of its own",
                exp.families.len()
            )
        };
        report.add(
            Finding::new(&rules::METRIC_NO_APPLICATION_METRIC, "*", message)
                .with("families", exp.families.len()),
        );
    }
    let linted: Vec<&Family> = exp
        .families
        .iter()
        .filter(|f| opts.include_third_party || !is_third_party(&f.name))
        .collect();
    promlint::lint(&linted, report);
    promlint::duplicates(exp, &linted, report);
    catalogued::unit_suffix(&linted, catalogue, report);
    labels::cardinality(&linted, opts.max_label_values, catalogue, report);
    labels::id_like(&linted, catalogue, report);
    denormalized::histogram_counts(&linted, &exp.families, report);
    denormalized::sibling_sums(&linted, report);
    catalogued::requests_without_histogram(&linted, &exp.families, report);
    if let Some(c) = catalogue {
        report.cover(Signal::Metric, "catalogue metrics", c.metrics.len() as u64);
        catalogued::undeclared(&exp.families, c, report);
        catalogued::mismatch(&linted, c, report);
    }
}

/// New series between two scrapes that make `metric.series-growth` fire (unless the family is
/// past half its catalogue budget, which fires on any growth).
pub const GROWTH: usize = 100;

/// `metric.series-growth`: one information finding per family that gained [`GROWTH`] series or
/// more from `first` to `last` (a family absent from `first` had none), or grew past half its
/// catalogue series budget. Warm-up — a route's first request adding its series — stays quiet.
/// The catalogue's series budget, if any, is in the context.
///
/// ```
/// use watchpost_cli::config::Config;
/// use watchpost_cli::exposition::parse;
/// use watchpost_cli::report::Report;
///
/// let first = parse("a{x=\"1\"} 1\nb 1\n");
/// let warm = parse("a{x=\"1\"} 1\na{x=\"2\"} 1\nb 2\n");
/// let grown: String = (0..101).map(|i| format!("a{{x=\"{i}\"}} 1\n")).collect();
/// let mut report = Report::new(Config::default());
/// watchpost_cli::lint::series_growth(&first, &warm, None, &mut report);
/// assert_eq!(report.count("metric.series-growth"), 0);
/// watchpost_cli::lint::series_growth(&first, &parse(&grown), None, &mut report);
/// assert_eq!(report.count("metric.series-growth"), 1);
/// ```
pub fn series_growth(
    first: &Exposition,
    last: &Exposition,
    catalogue: Option<&Catalogue>,
    report: &mut Report,
) {
    let before: HashMap<&str, usize> = first
        .families
        .iter()
        .map(|f| (f.name.as_str(), f.series_keys().len()))
        .collect();
    for f in &last.families {
        let now = f.series_keys().len();
        let was = before.get(f.name.as_str()).copied().unwrap_or(0);
        let budget = catalogue
            .and_then(|c| c.get(&f.name))
            .and_then(|m| m.series_budget);
        // Warm-up (a route's first request adds its series) is not growth; a family that keeps
        // adding series, or nears its budget, is.
        let near_budget = budget.is_some_and(|b| now as u64 * 2 > b);
        if now <= was || (now - was < GROWTH && !near_budget) {
            continue;
        }
        let mut finding = about(
            &rules::METRIC_SERIES_GROWTH,
            f,
            format!("{} series at the first scrape, {now} at the last", was),
        )
        .with("first", was)
        .with("last", now);
        if let Some(budget) = catalogue
            .and_then(|c| c.get(&f.name))
            .and_then(|m| m.series_budget)
        {
            finding = finding.with("series_budget", budget);
        }
        report.add(finding);
    }
}
