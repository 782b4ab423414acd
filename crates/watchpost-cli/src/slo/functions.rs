//! Burn-rate rules for the objectives of measured functions (`#[watchpost::measured(objective
//! = "checkout", success = 99.9, latency = "250ms")]`), read from the series' own labels.
//!
//! The rules are **label-driven**, as autometrics' are: they name no objective. They select the
//! service's `function_calls_total` (success) and `function_calls_duration_seconds` (latency)
//! series that carry an `objective_percentile`, and group them by `service_name`,
//! `objective_name`, `objective_percentile` (and `objective_latency_threshold`), so every
//! objective the service declares — today or after its next release — has its recording rules
//! and alerts without listing it anywhere. Functions that share an objective name are one
//! objective (their calls are summed), as in autometrics; give them one percentile (and
//! threshold), or the dashboard's burn-rate panel, which matches an SLO's series one to one,
//! cannot divide them (the alerts still work).
//!
//! Why not one rule per declared objective: `watchpost rules` reads the service's catalogue
//! (`GET /metrics/catalogue`, `<program> --catalogue json`), which declares the metrics and their
//! labels but not which functions have which objective (that list,
//! `watchpost::metrics::function::declared()`, exists only inside the program); and rules written
//! per objective would go stale with every release that adds one. `[service]
//! function_objectives = false` turns these rules off (for a service that loads autometrics' own
//! rule file instead, say).
//!
//! They are the `[[slo]]` rules' twins: the same recording rule names (`watchpost:slo_*`, so the
//! dashboard's SLO row shows them too), labelled with the objective's own labels, `service`,
//! `objective_kind` (`success` or `latency`) and an `slo` label made from the objective's name
//! and kind (`checkout:success`, `checkout:latency`: the `:` keeps them apart from `[[slo]]`
//! names, and Alertmanager groups and inhibits each kind on its own); the same four tiers of
//! [`burn::TIERS`] with exact thresholds, a 30-day period and a traffic guard of 10 calls an hour
//! over the long window, the same severities, annotations and `runbook_url`. The success and the
//! latency objective each have their own alerts, one per tier:
//! `<Service>FunctionSuccessBudgetBurn1h` … `<Service>FunctionLatencyBudgetBurn3d`. The error
//! budget depends on the percentile, which PromQL cannot read from a label, so an alert's
//! expression has a clause per percentile the catalogue allows (its closed `objective_percentile`
//! value set: autometrics' 90, 95, 99 and 99.9), each with its exact threshold; a percentile
//! whose tier cannot fire (14.4 × 10 % is above 100 %: a 90 % objective has no 1h tier) has none.
//!
//! The bucket at the latency threshold is found by comparing each bucket's `le` with its own
//! `objective_latency_threshold` label (a copy of each into one label, then `and`); a trailing
//! `.0` is dropped from `le` first, because Prometheus 3 stores `le="1"` as `le="1.0"`.
//!
//! The names have no service prefix (autometrics'), so the selectors keep the service's own
//! series by `service_name`: the service's name is what the metric prefix was made from, so
//! `procman` matches `service_name="procman"` and `shop_api` matches `shop-api`, `shop.api`, …
//! (`service_name=~"shop[^a-zA-Z0-9]+api"`).

use super::burn::{self, Ratio, TIERS, WINDOWS};
use super::rules::{with_runbook, Alert, Out, What};
use super::{camel, q, Service};

/// What an objective promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sli {
    /// `success = 99.9`: that share of calls return `result="ok"`.
    Success,
    /// `latency = "250ms"`: that share of calls finish within the threshold.
    Latency,
}

/// The counter of calls and the histogram of durations, autometrics' names.
pub(crate) const CALLS: &str = "function_calls_total";
/// The histogram (family name).
pub(crate) const DURATION: &str = "function_calls_duration_seconds";

/// autometrics' percentiles, when the catalogue does not list them.
const DEFAULT_PERCENTILES: [&str; 4] = ["90", "95", "99", "99.9"];

/// The period of every function objective (autometrics' and the `[[slo]]` default).
pub(crate) const PERIOD_HOURS: u64 = 30 * 24;

/// Burn alerts need at least this many calls an hour over their long window.
pub(crate) const MIN_CALLS_PER_HOUR: u64 = 10;

impl Sli {
    /// `success` or `latency`: the `slo` label's suffix.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Sli::Success => "success",
            Sli::Latency => "latency",
        }
    }

    /// The labels objectives of this kind are grouped by.
    pub(crate) fn by(self) -> &'static str {
        match self {
            Sli::Success => "service_name, objective_name, objective_percentile",
            Sli::Latency => {
                "service_name, objective_name, objective_percentile, objective_latency_threshold"
            }
        }
    }
}

/// What the catalogue allows: the kinds whose metrics carry the objective labels, and the
/// percentiles of each.
pub(crate) fn detect(service: &Service<'_>) -> Vec<(Sli, Vec<String>)> {
    let mut out = Vec::new();
    for (sli, metric, kind, extra) in [
        (Sli::Success, CALLS, "counter", "result"),
        (
            Sli::Latency,
            DURATION,
            "histogram",
            "objective_latency_threshold",
        ),
    ] {
        let Some(m) = service.catalogue.get(metric).filter(|m| m.kind == kind) else {
            continue;
        };
        let has_all = [
            "service_name",
            "objective_name",
            "objective_percentile",
            extra,
        ]
        .iter()
        .all(|l| m.label(l).is_some());
        if !has_all {
            continue;
        }
        let percentiles: Vec<String> = match m.label("objective_percentile").map(|l| &l.values) {
            Some(crate::catalogue::LabelValues::Closed(v)) => v
                .iter()
                .filter(|p| Ratio::percent_complement(p).is_some())
                .cloned()
                .collect(),
            _ => DEFAULT_PERCENTILES.map(str::to_owned).to_vec(),
        };
        if !percentiles.is_empty() {
            out.push((sli, percentiles));
        }
    }
    out
}

/// The matcher of the service's own series: exact when the prefix is the name itself, else a
/// regular expression that undoes the prefix's sanitizing (each `_` stood for a run of characters
/// that are not ASCII letters or digits; a leading `_` before a digit was added).
pub(crate) fn service_matcher(prefix: &str) -> String {
    let plain = prefix.bytes().all(|b| b.is_ascii_alphanumeric())
        && !prefix.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        return format!("service_name={}", q(prefix));
    }
    let mut re = String::new();
    let bytes = prefix.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if b.is_ascii_alphanumeric() {
            re.push(char::from(*b));
        } else if i == 0 && bytes.get(1).is_some_and(u8::is_ascii_digit) {
            re.push_str("[^a-zA-Z0-9]*");
        } else {
            re.push_str("[^a-zA-Z0-9]+");
        }
    }
    format!("service_name=~{}", q(&re))
}

/// A `service_name` the service's prefix could have been made from (`shop_api` → `shop-api`),
/// for the generated tests.
pub(crate) fn example_service_name(prefix: &str) -> String {
    let trimmed = match prefix.strip_prefix('_') {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => prefix,
    };
    trimmed.replace('_', "-")
}

/// Adds the `slo` label: `<objective_name>:<kind>`.
fn with_slo(sli: Sli, expr: &str) -> String {
    format!(
        "label_replace({expr}, \"slo\", {}, \"objective_name\", \"(.*)\")",
        q(&format!("${{1}}:{}", sli.as_str()))
    )
}

/// The share of calls of each objective that failed it, over `range` (`func` is `rate` or
/// `increase`), with the `slo` label.
fn ratio_expr(sli: Sli, sel: &str, func: &str, range: &str) -> String {
    let by = sli.by();
    match sli {
        Sli::Success => {
            let all = format!("sum by ({by}) ({func}({CALLS}{{{sel}}}[{range}]))");
            let errors =
                format!("sum by ({by}) ({func}({CALLS}{{{sel},result=\"error\"}}[{range}]))");
            with_slo(sli, &format!("({errors} or 0 * {all}) / {all}"))
        }
        Sli::Latency => {
            let all = format!("sum by ({by}) ({func}({DURATION}_count{{{sel}}}[{range}]))");
            let buckets = format!("{func}({DURATION}_bucket{{{sel}}}[{range}])");
            let good = format!(
                "sum by ({by}) (label_replace({buckets}, \"watchpost_bound\", \"$1\", \"le\", {}) and label_replace({buckets}, \"watchpost_bound\", \"$1\", \"objective_latency_threshold\", \"(.*)\"))",
                q(r"(.+?)(?:\.0)?")
            );
            with_slo(sli, &format!("({all} - {good}) / {all}"))
        }
    }
}

/// The selector of one kind's recorded series (of one percentile).
fn recorded(svc: &str, sli: Sli, percentile: Option<&str>) -> String {
    let mut s = format!("{{service={},objective_kind={}", q(svc), q(sli.as_str()));
    if let Some(p) = percentile {
        s.push_str(&format!(",objective_percentile={}", q(p)));
    }
    s.push('}');
    s
}

/// Writes the recording rules and burn-rate alerts of every kind of objective the catalogue's
/// function metrics allow (nothing when it has none, or `[service] function_objectives = false`).
pub(crate) fn write(service: &Service<'_>, out: &mut Out, alerts: &mut Vec<Alert>) {
    if !service.function_objectives {
        return;
    }
    let svc = service.name.as_str();
    let sel = format!(
        "{},objective_percentile!=\"\"",
        service_matcher(&service.name)
    );
    let period = burn::duration(PERIOD_HOURS * 60);
    for (sli, percentiles) in detect(service) {
        let kind = sli.as_str();
        let labels = [("service", svc), ("objective_kind", kind)];
        out.group(&format!("{svc}-function-objectives-{kind}"));
        let by = sli.by();
        let metric = match sli {
            Sli::Success => CALLS.to_owned(),
            Sli::Latency => format!("{DURATION}_count"),
        };
        for w in WINDOWS {
            let range = burn::window(w);
            out.record(
                &format!("watchpost:slo_requests:rate{range}"),
                &with_slo(
                    sli,
                    &format!("sum by ({by}) (rate({metric}{{{sel}}}[{range}]))"),
                ),
                &labels,
            );
            out.record(
                &format!("watchpost:slo_errors:ratio_rate{range}"),
                &ratio_expr(sli, &sel, "rate", &range),
                &labels,
            );
        }
        out.record(
            "watchpost:slo_errors:ratio_period",
            &ratio_expr(sli, &sel, "increase", &period),
            &labels,
        );
        let budgets: Vec<(String, Ratio)> = percentiles
            .iter()
            .map(|p| (p.clone(), Ratio::percent_complement(p).expect("checked")))
            .collect();
        let remaining: Vec<String> = budgets
            .iter()
            .map(|(p, b)| {
                format!(
                    "1 - watchpost:slo_errors:ratio_period{} / {}",
                    recorded(svc, sli, Some(p)),
                    b.to_decimal()
                )
            })
            .collect();
        out.record(
            "watchpost:slo_error_budget_remaining:ratio",
            &remaining.join("\nor "),
            &labels,
        );
        let service_sel = service_matcher(&service.name);
        let objective: Vec<String> = budgets
            .iter()
            .map(|(p, _)| {
                let objective = Ratio::parse_decimal(p).expect("checked") / Ratio::new(100, 1);
                format!(
                    "group by ({by}) ({metric}{{{service_sel},objective_percentile={}}}) * {}",
                    q(p),
                    objective.to_decimal()
                )
            })
            .collect();
        out.record(
            "watchpost:slo_objective:ratio",
            &with_slo(sli, &objective.join("\nor ")),
            &labels,
        );
        for (ti, def) in TIERS.iter().enumerate() {
            let long = burn::window(def.long_minutes);
            let short = burn::window(def.short_minutes);
            let factor = def.factor(PERIOD_HOURS);
            let name = format!("{}Function{}BudgetBurn{long}", camel(svc), camel(kind));
            let thresholds: Vec<(String, Ratio)> = budgets
                .iter()
                .map(|(p, b)| (p.clone(), factor * *b))
                .filter(|(_, t)| !t.at_least_one())
                .collect();
            if thresholds.is_empty() {
                continue;
            }
            let clauses: Vec<String> = thresholds
                .iter()
                .map(|(p, t)| {
                    let r = recorded(svc, sli, Some(p));
                    let t = t.to_decimal();
                    format!(
                        "watchpost:slo_errors:ratio_rate{long}{r} > {t}\nand watchpost:slo_errors:ratio_rate{short}{r} > {t}"
                    )
                })
                .collect();
            let expr = format!(
                "(\n{}\n)\nand watchpost:slo_requests:rate{long}{} * 3600 >= {MIN_CALLS_PER_HOUR}",
                clauses.join("\nor\n"),
                recorded(svc, sli, None)
            );
            let (what, objective) = match sli {
                Sli::Success => ("failed", "{{ $labels.objective_percentile }}% success objective"),
                Sli::Latency => (
                    "took longer than {{ $labels.objective_latency_threshold }} s",
                    "{{ $labels.objective_percentile }}% of calls within {{ $labels.objective_latency_threshold }} s",
                ),
            };
            let annotations = vec![
                (
                    "summary".to_owned(),
                    format!(
                        "{svc}: the {{{{ $labels.objective_name }}}} objective's {} burns its error budget {}x too fast ({long} and {short} windows)",
                        match sli {
                            Sli::Success => "success rate",
                            Sli::Latency => "latency",
                        },
                        factor.to_decimal()
                    ),
                ),
                (
                    "description".to_owned(),
                    format!(
                        "{{{{ $value | humanizePercentage }}}} of the calls of {svc}'s functions with the {{{{ $labels.objective_name }}}} objective {what} over the last {long} (and over {short}): more than {}x the error budget of the {objective} over {period}. At this rate {}% of the {period} budget is spent in {long}.",
                        factor.to_decimal(),
                        def.consumed_percent
                    ),
                ),
            ];
            let alert = Alert {
                annotations: with_runbook(service, &name, annotations),
                labels: vec![
                    ("severity".to_owned(), def.severity.as_str().to_owned()),
                    ("service".to_owned(), svc.to_owned()),
                    ("burn_tier".to_owned(), def.rank.to_string()),
                    ("long_window".to_owned(), long.clone()),
                    ("short_window".to_owned(), short.clone()),
                ],
                name,
                what: What::FunctionBurn {
                    sli,
                    tier: ti,
                    thresholds,
                },
            };
            out.alert(&alert, &expr, def.for_minutes);
            alerts.push(alert);
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::catalogue::Catalogue;
    use crate::config::Config;

    fn catalogue(counter_labels: &str) -> Catalogue {
        Catalogue::parse(&format!(
            r#"{{"service_prefix": "shop", "metrics": [
              {{"name": "function_calls_total", "type": "counter", "labels": [{counter_labels}]}},
              {{"name": "function_calls_duration_seconds", "type": "histogram", "labels": [
                {{"name": "service_name", "budget": 1}}, {{"name": "objective_name", "budget": 8}},
                {{"name": "objective_percentile", "values": ["99", "99.9"]}},
                {{"name": "objective_latency_threshold", "values": ["0.25"]}}],
               "buckets": [0.25]}}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn each_kind_needs_its_labels_and_can_be_turned_off() {
        // The counter without objective labels: only the latency rules, for its two percentiles.
        let c = catalogue(
            r#"{"name": "service_name", "budget": 1}, {"name": "result", "values": ["ok", "error"]}"#,
        );
        let g = super::super::generate(&c, &Config::default()).unwrap();
        assert!(
            !g.rules_yaml.contains("ShopFunctionSuccess"),
            "{}",
            g.rules_yaml
        );
        assert!(g
            .rules_yaml
            .contains("alert: ShopFunctionLatencyBudgetBurn1h"));
        assert!(g
            .rules_yaml
            .contains(r#"objective_percentile=\"99\"} > 0.144"#));
        assert!(!g.rules_yaml.contains(r#"objective_percentile=\"90\""#));
        let off = Config::parse("[service]\nfunction_objectives = false\n").unwrap();
        let g = super::super::generate(&c, &off).unwrap();
        assert!(!g.rules_yaml.contains("Function"), "{}", g.rules_yaml);
        assert!(g.rules_yaml.contains("groups:\n  []\n"), "{}", g.rules_yaml);
    }

    #[test]
    fn the_service_name_is_matched_as_the_prefix_was_made() {
        assert_eq!(service_matcher("procman"), "service_name=\"procman\"");
        assert_eq!(
            service_matcher("shop_api"),
            "service_name=~\"shop[^a-zA-Z0-9]+api\""
        );
        assert_eq!(
            service_matcher("_1shop"),
            "service_name=~\"[^a-zA-Z0-9]*1shop\""
        );
        assert_eq!(example_service_name("shop_api"), "shop-api");
        assert_eq!(example_service_name("_1shop"), "1shop");
        assert_eq!(example_service_name("procman"), "procman");
    }
}
