//! Service-level objectives in `watchpost.toml`, and what `watchpost rules` writes from them:
//! Prometheus recording rules, multi-window multi-burn-rate alerts, the standard's symptom
//! alerts, and a `promtool test rules` file that exercises the alerts.
//!
//! ```toml
//! [service]
//! name = "procman"               # the metric prefix; default: the catalogue's service_prefix
//! runbook_url = "https://runbooks.example.com/procman/{alertname}"   # optional
//! function_objectives = true     # default: rules for measured functions' objectives
//!
//! [[slo]]
//! name = "availability"          # [a-z][a-z0-9_]*, unique: the `slo` label
//! kind = "availability"          # errors: status 5xx of <svc>_http_request_duration_seconds_count
//! objective = 99.9               # percent, 0 < objective < 100
//! period = "30d"                 # default 30d (also 28d, 4w, 720h)
//! min_requests_per_hour = 10     # default 10: quieter than this, burn alerts stay silent
//!
//! [[slo]]
//! name = "create_latency"
//! kind = "latency"               # errors: requests slower than `threshold`
//! threshold = "0.25"             # seconds; must be a bucket boundary of the histogram
//! route = "/instances"           # optional: only this `path` label value
//! objective = 99
//!
//! [slo.tiers]                    # optional: switch tiers off, change severity or alert name
//! ticket_3d = false
//! page_6h = { severity = "ticket", alert = "CreateLatencySlowBurn" }
//! ```
//!
//! The tiers are those of [`burn::TIERS`]. A tier whose threshold `factor × (1 − objective)` is
//! 1 or more can never fire (the error ratio cannot exceed 1): it is refused, naming the SLO and
//! the tier.
//!
//! Recording rules, all labelled `{slo, service}`:
//!
//! - `watchpost:slo_requests:rate<w>`: requests per second over each window `w` of
//!   [`burn::WINDOWS`] (`5m` … `3d`);
//! - `watchpost:slo_errors:ratio_rate<w>`: the share of those requests that failed the SLO;
//! - `watchpost:slo_errors:ratio_period`: the share over the whole period, from `increase` of
//!   the counters (not an average of ratios);
//! - `watchpost:slo_error_budget_remaining:ratio`: `1 − ratio_period / (1 − objective)`;
//! - `watchpost:slo_objective:ratio`: the objective as a ratio (a constant).
//!
//! Alerts, one per enabled tier, labelled `{slo, service, severity, burn_tier, long_window,
//! short_window}` (`burn_tier` is 1 for the fastest burn … 4 for the slowest) fire when both
//! windows' error ratios exceed the tier's threshold and the long window saw at least
//! `min_requests_per_hour` requests per hour. The symptom alerts of the standard (error rate
//! over 1 %, p99 over a latency objective, lost telemetry and log lines, overflowing series,
//! per-resource log I/O errors, restarts) are written for the metrics the catalogue has.
//!
//! When the catalogue has the metrics of measured functions (`#[watchpost::measured]`), the same
//! recording rules and burn-rate tiers are written for their objectives, label-driven: every
//! objective the service declares, without listing them here (see [`functions`]).

pub mod burn;
mod function_tests;
pub mod functions;
mod rules;
mod tests;

use std::path::PathBuf;

use serde::Deserialize;

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::error::{Error, Result};
use burn::{Ratio, Severity, TierDef, TIERS};

/// `[service]`: who the rules are for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    /// The metric prefix and the `service` label (default: the catalogue's `service_prefix`).
    #[serde(default)]
    pub name: Option<String>,
    /// The alerts' `runbook_url` annotation; `{alertname}` is replaced by the alert's name.
    #[serde(default)]
    pub runbook_url: Option<String>,
    /// Burn-rate rules for the objectives of measured functions (`#[measured(objective = …)]`),
    /// when the catalogue has their metrics (default true; see [`functions`]).
    #[serde(default)]
    pub function_objectives: Option<bool>,
}

/// A number written as a TOML integer, float or string (`99.9`, `99`, `"99.9"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Number {
    /// `99`
    Int(i64),
    /// `99.9`
    Float(f64),
    /// `"99.9"`
    Text(String),
}

impl Number {
    /// The number as a plain decimal (floats in their shortest round-trip form).
    pub fn decimal(&self) -> String {
        match self {
            Number::Int(i) => i.to_string(),
            Number::Float(f) => format!("{f}"),
            Number::Text(t) => t.trim().to_owned(),
        }
    }
}

/// What counts as a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SloKind {
    /// A response with a 5xx status.
    Availability,
    /// A response slower than `threshold`.
    Latency,
}

/// `[[slo]]`: one objective.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// The `slo` label: `[a-z][a-z0-9_]*`, unique.
    pub name: String,
    /// `availability` or `latency`.
    pub kind: SloKind,
    /// The objective in percent (0 < objective < 100).
    pub objective: Number,
    /// The compliance period (default `30d`).
    #[serde(default)]
    pub period: Option<String>,
    /// Only requests whose `path` label is this route template.
    #[serde(default)]
    pub route: Option<String>,
    /// Latency objectives: the bound in seconds, a bucket boundary of the histogram.
    #[serde(default)]
    pub threshold: Option<Number>,
    /// Burn alerts need at least this many requests per hour over their long window
    /// (default 10; 0 turns the guard off).
    #[serde(default)]
    pub min_requests_per_hour: Option<u64>,
    /// Tier switches.
    #[serde(default)]
    pub tiers: Tiers,
}

/// `[slo.tiers]`: each tier is `true` (default), `false`, or `{ enabled, severity, alert }`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tiers {
    /// 14.4× over 1h and 5m (30d period).
    #[serde(default)]
    pub page_1h: Option<TierSetting>,
    /// 6× over 6h and 30m.
    #[serde(default)]
    pub page_6h: Option<TierSetting>,
    /// 3× over 1d and 2h.
    #[serde(default)]
    pub ticket_1d: Option<TierSetting>,
    /// 1× over 3d and 6h.
    #[serde(default)]
    pub ticket_3d: Option<TierSetting>,
}

/// One tier's switch.
#[derive(Debug, Clone)]
pub enum TierSetting {
    /// On or off.
    Enabled(bool),
    /// Details.
    Table(TierTable),
}

/// `{ enabled = true, severity = "ticket", alert = "Name" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierTable {
    /// Default true.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `page` or `ticket` (default: the tier's).
    #[serde(default)]
    pub severity: Option<String>,
    /// The alert's name (default `<Service><Slo>BudgetBurn<long window>`).
    #[serde(default)]
    pub alert: Option<String>,
}

impl<'de> Deserialize<'de> for TierSetting {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = TierSetting;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false or a table { enabled, severity, alert }")
            }
            fn visit_bool<E: serde::de::Error>(
                self,
                v: bool,
            ) -> std::result::Result<TierSetting, E> {
                Ok(TierSetting::Enabled(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<TierSetting, A::Error> {
                TierTable::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(TierSetting::Table)
            }
        }
        d.deserialize_any(Visitor)
    }
}

impl Tiers {
    fn get(&self, key: &str) -> Option<&TierSetting> {
        match key {
            "page_1h" => self.page_1h.as_ref(),
            "page_6h" => self.page_6h.as_ref(),
            "ticket_1d" => self.ticket_1d.as_ref(),
            _ => self.ticket_3d.as_ref(),
        }
    }
}

/// An enabled tier of one SLO, with its numbers.
#[derive(Debug, Clone)]
pub struct Tier {
    /// The workbook's row.
    pub def: TierDef,
    /// Its severity (the row's unless overridden).
    pub severity: Severity,
    /// The alert's name, if overridden.
    pub alert: Option<String>,
    /// The burn-rate factor for the SLO's period.
    pub factor: Ratio,
    /// `factor × (1 − objective)`: the error ratio both windows must exceed.
    pub threshold: Ratio,
}

/// A validated SLO.
#[derive(Debug, Clone)]
pub struct Objective {
    /// The `slo` label.
    pub name: String,
    /// What fails.
    pub kind: SloKind,
    /// The objective as written (percent).
    pub objective_percent: String,
    /// The objective as a ratio (0.999).
    pub objective: Ratio,
    /// `1 − objective`.
    pub budget: Ratio,
    /// The period in hours.
    pub period_hours: u64,
    /// The route, if any.
    pub route: Option<String>,
    /// The latency bound as written and as a number.
    pub threshold: Option<(String, f64)>,
    /// The traffic guard.
    pub min_requests_per_hour: u64,
    /// Enabled tiers, fastest first.
    pub tiers: Vec<Tier>,
}

fn valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Validates the `[[slo]]` entries that need no catalogue: names, objectives, periods, keys
/// that fit the kind, and tiers that can fire. Errors name the SLO and the key.
pub fn validate(config: &Config) -> Result<Vec<Objective>> {
    if let Some(service) = &config.service {
        if let Some(name) = &service.name {
            if !valid_metric_prefix(name) {
                return Err(Error::new(format!(
                    "[service] name: '{name}' is not a metric prefix ([a-zA-Z_][a-zA-Z0-9_]*)"
                )));
            }
        }
    }
    let mut out: Vec<Objective> = Vec::new();
    for (i, slo) in config.slo.iter().enumerate() {
        let at = format!("slo[{i}] '{}'", slo.name);
        if !valid_name(&slo.name) {
            return Err(Error::new(format!(
                "slo[{i}]: name '{}' must match [a-z][a-z0-9_]* (it becomes the `slo` label)",
                slo.name
            )));
        }
        if out.iter().any(|o| o.name == slo.name) {
            return Err(Error::new(format!("{at}: name: declared twice")));
        }
        let objective_percent = slo.objective.decimal();
        let budget = Ratio::percent_complement(&objective_percent).ok_or_else(|| {
            Error::new(format!(
                "{at}: objective: '{objective_percent}' is not a percentage between 0 and 100 (exclusive)"
            ))
            .hint("write the objective in percent, e.g. objective = 99.9")
        })?;
        let objective =
            Ratio::parse_decimal(&objective_percent).expect("parsed above") / Ratio::new(100, 1);
        let period_text = slo.period.as_deref().unwrap_or("30d");
        let period_hours = burn::parse_period(period_text).ok_or_else(|| {
            Error::new(format!(
                "{at}: period: cannot read '{period_text}'; write whole hours, days or weeks, e.g. 30d, 28d, 4w"
            ))
        })?;
        let threshold = match (slo.kind, &slo.threshold) {
            (SloKind::Latency, None) => {
                return Err(Error::new(format!(
                    "{at}: threshold: a latency SLO needs the bound in seconds, e.g. threshold = \"0.25\""
                )))
            }
            (SloKind::Availability, Some(_)) => {
                return Err(Error::new(format!(
                    "{at}: threshold: only latency SLOs have one (this one is kind = \"availability\")"
                )))
            }
            (SloKind::Latency, Some(t)) => {
                let text = t.decimal();
                let value: f64 = text
                    .parse()
                    .ok()
                    .filter(|v: &f64| v.is_finite() && *v > 0.0)
                    .ok_or_else(|| {
                        Error::new(format!(
                            "{at}: threshold: '{text}' is not a positive number of seconds"
                        ))
                    })?;
                Some((text, value))
            }
            (SloKind::Availability, None) => None,
        };
        let mut tiers = Vec::new();
        for def in TIERS {
            let (enabled, severity, alert) = match slo.tiers.get(def.key) {
                None | Some(TierSetting::Enabled(true)) => (true, def.severity, None),
                Some(TierSetting::Enabled(false)) => (false, def.severity, None),
                Some(TierSetting::Table(t)) => {
                    let severity = match t.severity.as_deref() {
                        None => def.severity,
                        Some("page") => Severity::Page,
                        Some("ticket") => Severity::Ticket,
                        Some(other) => {
                            return Err(Error::new(format!(
                                "{at}: tiers.{}.severity: '{other}'; allowed: page, ticket",
                                def.key
                            )))
                        }
                    };
                    if let Some(a) = &t.alert {
                        if !valid_metric_prefix(a) {
                            return Err(Error::new(format!(
                                "{at}: tiers.{}.alert: '{a}' is not a valid alert name ([a-zA-Z_][a-zA-Z0-9_]*)",
                                def.key
                            )));
                        }
                    }
                    (t.enabled.unwrap_or(true), severity, t.alert.clone())
                }
            };
            if !enabled {
                continue;
            }
            if u64::from(def.long_minutes) >= period_hours * 60 {
                return Err(Error::new(format!(
                    "{at}: tiers.{}: its long window {} is not shorter than the period {period_text}",
                    def.key,
                    burn::window(def.long_minutes)
                ))
                .hint(format!(
                    "lengthen the period or add `{} = false` under [slo.tiers]",
                    def.key
                )));
            }
            let factor = def.factor(period_hours);
            let threshold = factor * budget;
            if threshold.at_least_one() {
                return Err(Error::new(format!(
                    "{at}: tiers.{}: can never fire: its threshold {} × (1 − {objective_percent}%) = {} is not below 1 (an error ratio is at most 1)",
                    def.key,
                    factor.to_decimal(),
                    threshold.to_decimal()
                ))
                .hint(format!(
                    "disable the tier (`{} = false` under [slo.tiers]) or make the objective stricter (closer to 100)",
                    def.key
                )));
            }
            tiers.push(Tier {
                def,
                severity,
                alert,
                factor,
                threshold,
            });
        }
        out.push(Objective {
            name: slo.name.clone(),
            kind: slo.kind,
            objective_percent,
            objective,
            budget,
            period_hours,
            route: slo.route.clone(),
            threshold,
            min_requests_per_hour: slo.min_requests_per_hour.unwrap_or(10),
            tiers,
        });
    }
    Ok(out)
}

fn valid_metric_prefix(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// What `watchpost rules` writes.
#[derive(Debug, Clone)]
pub struct Generated {
    /// The rule file (`<svc>-rules.yml`).
    pub rules_yaml: String,
    /// The `promtool test rules` file (`<svc>-rules.test.yml`); it names the rule file.
    pub tests_yaml: String,
    /// `<svc>-rules`: the files' name without `.yml` / `.test.yml`.
    pub file_stem: String,
    /// Every PromQL expression in the rule file, in order.
    pub expressions: Vec<String>,
}

/// Every PromQL expression of a generated rule file (recording and alerting rules), in order.
pub fn expressions(generated: &Generated) -> Vec<String> {
    generated.expressions.clone()
}

/// The service a catalogue and a configuration describe, checked against the catalogue.
pub(crate) struct Service<'a> {
    pub name: String,
    pub runbook_url: Option<String>,
    pub catalogue: &'a Catalogue,
    /// `<svc>_http_request_duration_seconds`, when the catalogue has it.
    pub http: Option<String>,
    /// Whether to write the rules of measured functions' objectives.
    pub function_objectives: bool,
}

/// Writes the rules and their tests for the service `catalogue` describes and the objectives of
/// `config`. Errors name the SLO and the key: a metric or label the catalogue lacks, a latency
/// threshold that is not a bucket boundary (listing the nearest ones), a tier that cannot fire.
pub fn generate(catalogue: &Catalogue, config: &Config) -> Result<Generated> {
    let objectives = validate(config)?;
    let settings = config.service.clone().unwrap_or_default();
    let name = settings
        .name
        .clone()
        .unwrap_or_else(|| catalogue.service_prefix.clone());
    if name.is_empty() {
        return Err(Error::new(
            "the catalogue has no service_prefix and watchpost.toml no [service] name",
        )
        .hint("add [service] name = \"<metric prefix>\" to watchpost.toml"));
    }
    let histogram = format!("{name}_http_request_duration_seconds");
    let http = catalogue
        .get(&histogram)
        .filter(|m| m.kind == "histogram")
        .map(|_| histogram.clone());
    for (i, o) in objectives.iter().enumerate() {
        let at = format!("slo[{i}] '{}'", o.name);
        let metric = catalogue
            .get(&histogram)
            .filter(|m| m.kind == "histogram")
            .ok_or_else(|| {
                Error::new(format!(
                    "{at}: kind: the catalogue has no histogram '{histogram}' to measure requests with"
                ))
                .hint("install the library's HTTP layer, or set [service] name to the catalogue's prefix")
            })?;
        if o.kind == SloKind::Availability && metric.label("status").is_none() {
            return Err(Error::new(format!(
                "{at}: kind: '{histogram}' has no `status` label to find 5xx responses by"
            )));
        }
        if o.route.is_some() && metric.label("path").is_none() {
            return Err(Error::new(format!(
                "{at}: route: '{histogram}' has no `path` label"
            )));
        }
        if let Some((text, value)) = &o.threshold {
            if !metric.buckets.contains(value) {
                let below = metric.buckets.iter().rev().find(|b| *b < value);
                let above = metric.buckets.iter().find(|b| *b > value);
                let nearest: Vec<String> = below
                    .into_iter()
                    .chain(above)
                    .map(|b| format!("\"{b}\""))
                    .collect();
                return Err(Error::new(format!(
                    "{at}: threshold: {text} s is not a bucket boundary of '{histogram}', so the share of slower requests cannot be counted; the nearest boundaries are {}",
                    if nearest.is_empty() { "none".to_owned() } else { nearest.join(" and ") }
                ))
                .hint("use a boundary as the threshold, or add the boundary to the histogram's buckets"));
            }
        }
    }
    let service = Service {
        runbook_url: settings.runbook_url.clone(),
        function_objectives: settings.function_objectives.unwrap_or(true),
        catalogue,
        http,
        name,
    };
    let file_stem = format!("{}-rules", service.name);
    let written = rules::write(&service, &objectives);
    let tests_yaml = tests::write(&service, &objectives, &written, &format!("{file_stem}.yml"));
    Ok(Generated {
        rules_yaml: written.yaml,
        tests_yaml,
        file_stem,
        expressions: written.expressions,
    })
}

/// The arguments of `watchpost rules`.
#[derive(Debug, Clone, clap::Args)]
pub struct RulesArgs {
    /// The service's metric catalogue (JSON exported by the library, a file or a URL).
    #[arg(long, value_name = "FILE|URL")]
    pub catalogue: String,
    /// The objectives (default: ./watchpost.toml if it exists; without one, only the symptom
    /// alerts are written).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write DIR/<svc>-rules.yml and DIR/<svc>-rules.test.yml (default: print the rules).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// Runs `watchpost rules`.
pub fn run(args: &RulesArgs) -> Result<()> {
    let config = match &args.config {
        Some(p) => Config::load(p)?,
        None if std::path::Path::new("watchpost.toml").exists() => {
            Config::load(std::path::Path::new("watchpost.toml"))?
        }
        None => Config::default(),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::new(format!("cannot start the runtime: {e}")))?;
    let catalogue = rt.block_on(crate::catalogue::load(&args.catalogue))?;
    let generated = generate(&catalogue, &config)?;
    match &args.out {
        None => print!("{}", generated.rules_yaml),
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Error::new(format!("cannot create '{}': {e}", dir.display())))?;
            for (ext, text) in [
                ("yml", &generated.rules_yaml),
                ("test.yml", &generated.tests_yaml),
            ] {
                let path = dir.join(format!("{}.{ext}", generated.file_stem));
                std::fs::write(&path, text)
                    .map_err(|e| Error::new(format!("cannot write '{}': {e}", path.display())))?;
                eprintln!("watchpost: wrote {}", path.display());
            }
        }
    }
    Ok(())
}

/// `procman_http` → `ProcmanHttp`.
pub(crate) fn camel(name: &str) -> String {
    name.split(['_', '-'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect()
}

/// A YAML double-quoted scalar (JSON strings are YAML).
pub(crate) fn q(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialize")
}

#[cfg(test)]
mod unit {
    use super::*;

    fn err(toml: &str) -> String {
        Config::parse(toml).unwrap_err().to_string()
    }

    #[test]
    fn objectives_parse_from_numbers_and_strings() {
        let c = Config::parse(
            "[service]\nname = \"svc\"\n[[slo]]\nname = \"a\"\nkind = \"availability\"\nobjective = \"99.95\"\n\
             [[slo]]\nname = \"b\"\nkind = \"availability\"\nobjective = 99\nperiod = \"28d\"\n\
             [slo.tiers]\nticket_3d = { enabled = false }\npage_6h = { severity = \"ticket\", alert = \"Slow\" }\n",
        )
        .unwrap();
        let o = validate(&c).unwrap();
        assert_eq!(o[0].budget.to_decimal(), "0.0005");
        assert_eq!(o[0].tiers[0].threshold.to_decimal(), "0.0072");
        assert_eq!(o[1].objective.to_decimal(), "0.99");
        assert_eq!(o[1].period_hours, 672);
        assert_eq!(o[1].tiers.len(), 3);
        assert_eq!(o[1].tiers[1].severity, Severity::Ticket);
        assert_eq!(o[1].tiers[1].alert.as_deref(), Some("Slow"));
        assert_eq!(o[1].tiers[0].threshold.to_decimal(), "0.1344");
    }

    #[test]
    fn mistakes_are_named_by_slo_and_key() {
        let slo = "[[slo]]\nname = \"x\"\n";
        let e = err(&format!("{slo}kind = \"latency\"\nobjective = 99\n"));
        assert!(
            e.contains("slo[0] 'x': threshold: a latency SLO needs"),
            "{e}"
        );
        let e = err(&format!(
            "{slo}kind = \"availability\"\nobjective = 99\nthreshold = 1\n"
        ));
        assert!(e.contains("slo[0] 'x': threshold: only latency"), "{e}");
        let e = err(&format!("{slo}kind = \"availability\"\nobjective = 100\n"));
        assert!(e.contains("slo[0] 'x': objective: '100'"), "{e}");
        let e = err(&format!(
            "{slo}kind = \"availability\"\nobjective = 99\nperiod = \"1month\"\n"
        ));
        assert!(
            e.contains("slo[0] 'x': period: cannot read '1month'"),
            "{e}"
        );
        let e = err(&format!(
            "{slo}kind = \"availability\"\nobjective = 99\nperiod = \"2d\"\n"
        ));
        assert!(
            e.contains("tiers.ticket_3d: its long window 3d is not shorter than the period 2d"),
            "{e}"
        );
        let e = err(&format!("{slo}kind = \"availability\"\nobjective = 99\n[slo.tiers]\npage_1h = {{ severity = \"sms\" }}\n"));
        assert!(
            e.contains("slo[0] 'x': tiers.page_1h.severity: 'sms'"),
            "{e}"
        );
        let e = err(&format!("{slo}kind = \"availability\"\nobjective = 99\n[slo.tiers]\npage_1h = {{ sevrity = \"page\" }}\n"));
        assert!(e.contains("sevrity"), "{e}");
        let e = err(&format!("{slo}kind = \"availability\"\nobjective = 99\n{slo}kind = \"availability\"\nobjective = 99\n"));
        assert!(e.contains("slo[1] 'x': name: declared twice"), "{e}");
        let e = err("[[slo]]\nname = \"Bad Name\"\nkind = \"availability\"\nobjective = 99\n");
        assert!(e.contains("must match [a-z][a-z0-9_]*"), "{e}");
        let e = err(&format!(
            "{slo}kind = \"availability\"\nobjective = 99\nwindow = 3\n"
        ));
        assert!(e.contains("unknown field `window`"), "{e}");
    }

    #[test]
    fn a_catalogue_without_the_http_histogram_is_refused() {
        let catalogue = Catalogue::parse(r#"{"service_prefix": "svc", "metrics": []}"#).unwrap();
        let c = Config::parse("[[slo]]\nname = \"a\"\nkind = \"availability\"\nobjective = 99\n")
            .unwrap();
        let e = generate(&catalogue, &c).unwrap_err().to_string();
        assert!(e.contains("slo[0] 'a': kind: the catalogue has no histogram 'svc_http_request_duration_seconds'"), "{e}");
        // Without objectives, only the symptom alerts the catalogue allows (none here).
        let g = generate(&catalogue, &Config::default()).unwrap();
        assert!(g.expressions.is_empty());
        assert!(g.rules_yaml.contains("groups:\n  []\n"), "{}", g.rules_yaml);
    }
}
