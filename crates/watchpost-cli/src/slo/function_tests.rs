//! The `promtool test rules` groups of the measured-function objectives' alerts (see
//! `functions`), from synthetic series with autometrics' names and labels.
//!
//! One alert covers a kind and a tier, a clause per percentile; so a tier gets three groups, each
//! with both kinds' series and checks (fewer groups: promtool evaluates every rule of the file at
//! every step of every group), and in each kind one objective per percentile the catalogue allows
//! (`p90`, `p95`, `p99`, `p99_9`). A success objective's calls come from two functions (one whose
//! calls succeed, one whose calls fail: the rules must sum them). The phases are those of the
//! `[[slo]]` tests, per objective at its own threshold:
//!
//! 1. every call fails, but the long window saw half the traffic guard's calls: quiet;
//! 2. 100 000 calls a minute failing at 90 % of the threshold: quiet;
//! 3. the same traffic failing at 1.5 × the threshold: one alert per objective, with exact labels
//!    (`slo="p99_9:success"`, `objective_name`, `objective_percentile`, …) and annotations;
//!    then the short window without failures: resolved.
//!
//! An objective whose tier cannot fire (90 % and the 1h tier) fails every call in every phase
//! and must stay quiet. Two more series fail every call throughout and must never alert: the
//! same objective of another service (`service_name="other-service"`) and a function of this
//! service without an objective. Latency objectives get a bucket below the threshold and
//! `+Inf` too (the rules must pick the threshold's bucket), and one of them writes its threshold
//! bucket as Prometheus 3 stores it (`le="1.0"` for the threshold `"1"`).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::burn::{self, TIERS};
use super::functions::{self, Sli, CALLS, DURATION, MIN_CALLS_PER_HOUR};
use super::rules::{Alert, What};
use super::tests::{
    ceil_div, gcd, go_g4, notation, render, series_name, up_to_4_digits, Phase, TRAFFIC,
};
use super::{q, Service};

const MODULE: &str = "shop::orders";
const OTHER_SERVICE: &str = "other-service";

/// Latency objectives' (threshold label, its bucket's `le` as stored, a lower bucket's `le`).
const LATENCIES: [(&str, &str, &str); 4] = [
    ("0.25", "0.25", "0.1"),
    ("1", "1.0", "0.5"),
    ("0.1", "0.1", "0.05"),
    ("2.5", "2.5", "1"),
];

/// One objective of a test group.
struct TestObjective<'a> {
    /// The labels the rules' output carries (besides `service`, `slo`).
    labels: Vec<(String, String)>,
    /// The tier's rule for its percentile and its threshold, or `None` (cannot fire).
    rule: Option<(&'a Alert, f64)>,
    index: usize,
}

impl TestObjective<'_> {
    fn threshold(&self) -> Option<f64> {
        self.rule.map(|(_, t)| t)
    }
}

fn series(sli: Sli, o: &TestObjective<'_>, phases: &[Phase]) -> Vec<(String, String)> {
    let labels: Vec<(&str, &str)> = o
        .labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    match sli {
        Sli::Success => {
            let calls = |function: String, result: &str| {
                let mut l: Vec<(&str, String)> = vec![
                    ("function", function),
                    ("module", MODULE.to_owned()),
                    ("result", result.to_owned()),
                ];
                l.extend(labels.iter().map(|(k, v)| (*k, (*v).to_owned())));
                name(CALLS, &l)
            };
            vec![
                (
                    calls(format!("fast_{}", o.index), "ok"),
                    notation(phases, |p| p.good),
                ),
                (
                    calls(format!("risky_{}", o.index), "error"),
                    notation(phases, |p| p.bad),
                ),
            ]
        }
        Sli::Latency => {
            let (_, le, lower) = LATENCIES[o.index % LATENCIES.len()];
            let mut base = vec![
                ("function", format!("lookup_{}", o.index)),
                ("module", MODULE.to_owned()),
            ];
            for (k, v) in &labels {
                base.push((k, (*v).to_owned()));
            }
            let with_le = |le: &str| {
                let mut l: Vec<(&str, String)> =
                    base.iter().map(|(k, v)| (*k, v.clone())).collect();
                l.push(("le", le.to_owned()));
                name(&format!("{DURATION}_bucket"), &l)
            };
            let count: Vec<(&str, String)> = base.iter().map(|(k, v)| (*k, v.clone())).collect();
            vec![
                (
                    name(&format!("{DURATION}_count"), &count),
                    notation(phases, |p| p.good + p.bad),
                ),
                (with_le(le), notation(phases, |p| p.good)),
                (with_le(lower), notation(phases, |p| p.good / 2.0)),
                (with_le("+Inf"), notation(phases, |p| p.good + p.bad)),
            ]
        }
    }
}

fn name(metric: &str, labels: &[(&str, String)]) -> String {
    let l: Vec<(&str, &str)> = labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
    series_name(metric, &l)
}

/// Series that must never alert: the strictest objective in another service, and a function of
/// this service without an objective; every call fails, `samples` samples of `interval` minutes.
fn distractors(
    sli: Sli,
    service_name: &str,
    percentile: &str,
    samples: u64,
    interval: u64,
) -> Vec<(String, String)> {
    let per_sample = (TRAFFIC * interval) as f64;
    let always = vec![Phase {
        samples,
        good: 0.0,
        bad: per_sample,
        fires: None,
    }];
    let objective = [
        ("objective_name", "p99_9".to_owned()),
        ("objective_percentile", percentile.to_owned()),
    ];
    let mut out = Vec::new();
    for (service, with_objective) in [(OTHER_SERVICE, true), (service_name, false)] {
        let mut l = vec![
            ("function", "elsewhere".to_owned()),
            ("module", MODULE.to_owned()),
            ("service_name", service.to_owned()),
        ];
        if with_objective {
            l.extend(objective.iter().cloned());
        }
        match sli {
            Sli::Success => {
                l.push(("result", "error".to_owned()));
                out.push((name(CALLS, &l), notation(&always, |p| p.bad)));
            }
            Sli::Latency => {
                if with_objective {
                    l.push(("objective_latency_threshold", "0.25".to_owned()));
                }
                out.push((
                    name(&format!("{DURATION}_count"), &l),
                    notation(&always, |p| p.bad),
                ));
                for le in ["0.25", "+Inf"] {
                    let mut b = l.clone();
                    b.push(("le", le.to_owned()));
                    let slow = le == "+Inf";
                    out.push((
                        name(&format!("{DURATION}_bucket"), &b),
                        notation(&always, |p| if slow { p.bad } else { 0.0 }),
                    ));
                }
            }
        }
    }
    out
}

/// One kind's alert of a tier, and its objectives.
struct KindTest<'a> {
    sli: Sli,
    alert: &'a Alert,
    objectives: Vec<TestObjective<'a>>,
    strictest: String,
}

/// Writes three groups per tier (both kinds' alerts of the tier in each); returns whether it
/// wrote any.
pub(crate) fn write(out: &mut String, service: &Service<'_>, alerts: &[Alert]) -> bool {
    let svc = service.name.as_str();
    let service_name = functions::example_service_name(svc);
    let detected = functions::detect(service);
    let mut any = false;
    for (ti, def) in TIERS.iter().enumerate() {
        let mut kinds = Vec::new();
        for (sli, percentiles) in &detected {
            let sli = *sli;
            let Some(alert) = alerts.iter().find(
                |a| matches!(&a.what, What::FunctionBurn { sli: s, tier, .. } if *s == sli && *tier == ti),
            ) else {
                continue;
            };
            let What::FunctionBurn { thresholds, .. } = &alert.what else {
                continue;
            };
            let objectives = percentiles
                .iter()
                .enumerate()
                .map(|(index, p)| {
                    let rule = thresholds
                        .iter()
                        .find(|(q, _)| q == p)
                        .map(|(_, t)| (alert, t.to_f64()));
                    let mut labels = vec![
                        ("service_name".to_owned(), service_name.clone()),
                        (
                            "objective_name".to_owned(),
                            format!("p{}", p.replace('.', "_")),
                        ),
                        ("objective_percentile".to_owned(), p.clone()),
                    ];
                    if sli == Sli::Latency {
                        labels.push((
                            "objective_latency_threshold".to_owned(),
                            LATENCIES[index % LATENCIES.len()].0.to_owned(),
                        ));
                    }
                    TestObjective {
                        labels,
                        rule,
                        index,
                    }
                })
                .collect();
            kinds.push(KindTest {
                sli,
                alert,
                objectives,
                strictest: percentiles.last().cloned().unwrap_or_default(),
            });
        }
        if kinds.is_empty() {
            continue;
        }
        let names: Vec<&str> = kinds.iter().map(|k| k.alert.name.as_str()).collect();
        let title = format!(
            "{}: every objective, tier {} ({}/{})",
            names.join(", "),
            def.key,
            burn::window(def.long_minutes),
            burn::window(def.short_minutes)
        );
        tier_groups(
            out,
            &TierTest {
                title,
                svc,
                service_name: &service_name,
                interval: u64::from(def.short_minutes / 5),
                long: u64::from(def.long_minutes),
                short: u64::from(def.short_minutes),
                for_minutes: u64::from(def.for_minutes),
            },
            &kinds,
        );
        any = true;
    }
    any
}

struct TierTest<'a> {
    title: String,
    svc: &'a str,
    service_name: &'a str,
    interval: u64,
    long: u64,
    short: u64,
    for_minutes: u64,
}

/// Each kind's objectives' phases.
type Phases = Vec<Vec<Vec<Phase>>>;

fn tier_groups(out: &mut String, t: &TierTest<'_>, kinds: &[KindTest<'_>]) {
    let i = t.interval;
    let per_minute = |n: f64| n * i as f64;
    let multiple = 5 / gcd(i, 5);
    let samples = |minutes: u64| ceil_div(ceil_div(minutes, i), multiple) * multiple;
    let span = samples(t.short + t.for_minutes + 2 * i + 5);
    let resolve = samples(t.short + 2 * i + 5);
    let failing = |n: u64| {
        vec![Phase {
            samples: n,
            good: 0.0,
            bad: per_minute(TRAFFIC as f64),
            fires: None,
        }]
    };
    let each = |f: &dyn Fn(&TestObjective<'_>) -> Vec<Phase>| -> Phases {
        kinds
            .iter()
            .map(|k| k.objectives.iter().map(f).collect())
            .collect()
    };
    // 1. Below the traffic guard.
    let end = span * i;
    let per_hour = 0.5 * MIN_CALLS_PER_HOUR as f64 * t.long as f64 / end.min(t.long) as f64;
    let phases = each(&|o| match o.threshold() {
        None => failing(span),
        Some(_) => vec![Phase {
            samples: span,
            good: 0.0,
            bad: per_minute(per_hour / 60.0),
            fires: None,
        }],
    });
    group(
        out,
        &format!("{}: quiet below the traffic guard", t.title),
        t,
        kinds,
        &phases,
    );
    // 2. Below each threshold.
    let phases = each(&|o| match o.threshold() {
        None => failing(span),
        Some(threshold) => {
            let low = ((0.9 * threshold * TRAFFIC as f64).floor() as u64).min(TRAFFIC);
            vec![Phase {
                samples: span,
                good: per_minute((TRAFFIC - low) as f64),
                bad: per_minute(low as f64),
                fires: None,
            }]
        }
    });
    group(
        out,
        &format!("{}: quiet below the thresholds", t.title),
        t,
        kinds,
        &phases,
    );
    // 3. Above each threshold, then healthy.
    let phases = each(&|o| match o.threshold() {
        None => failing(span + resolve),
        Some(threshold) => {
            let high =
                up_to_4_digits((1.5 * threshold * TRAFFIC as f64).ceil() as u64).min(TRAFFIC);
            vec![
                Phase {
                    samples: span,
                    good: per_minute((TRAFFIC - high) as f64),
                    bad: per_minute(high as f64),
                    fires: Some(go_g4(high as f64 / TRAFFIC as f64 * 100.0) + "%"),
                },
                Phase {
                    samples: resolve,
                    good: per_minute(TRAFFIC as f64),
                    bad: 0.0,
                    fires: None,
                },
            ]
        }
    });
    group(
        out,
        &format!("{}: fire above the thresholds, then resolve", t.title),
        t,
        kinds,
        &phases,
    );
}

/// One test group: every objective's series (each its own phases, ending at the same times),
/// the distractors, and at each phase end a check of each kind's alert.
fn group(out: &mut String, title: &str, t: &TierTest<'_>, kinds: &[KindTest<'_>], phases: &Phases) {
    let total: u64 = phases[0][0].iter().map(|p| p.samples).sum();
    let _ = writeln!(out, "  - name: {}", q(title));
    let _ = writeln!(out, "    interval: {}", burn::duration(t.interval));
    let _ = writeln!(out, "    input_series:");
    let mut all = Vec::new();
    for (k, kind_phases) in kinds.iter().zip(phases) {
        for (o, p) in k.objectives.iter().zip(kind_phases) {
            all.extend(series(k.sli, o, p));
        }
        all.extend(distractors(
            k.sli,
            t.service_name,
            &k.strictest,
            total,
            t.interval,
        ));
    }
    for (s, v) in &all {
        let _ = writeln!(out, "      - series: {}", q(s));
        let _ = writeln!(out, "        values: {}", q(v));
    }
    let _ = writeln!(out, "    alert_rule_test:");
    // The phase ends, from an objective with a rule (all objectives end their phases together).
    let reference = kinds
        .iter()
        .zip(phases)
        .flat_map(|(k, kp)| k.objectives.iter().zip(kp))
        .find(|(o, _)| o.rule.is_some())
        .map(|(_, p)| p)
        .unwrap_or(&phases[0][0]);
    let mut at = 0;
    for (n, phase) in reference.iter().enumerate() {
        at += phase.samples;
        for (k, kind_phases) in kinds.iter().zip(phases) {
            let _ = writeln!(
                out,
                "      - eval_time: {}",
                burn::duration(at * t.interval)
            );
            let _ = writeln!(out, "        alertname: {}", k.alert.name);
            let firing: Vec<(&Alert, &TestObjective<'_>, &str)> = k
                .objectives
                .iter()
                .zip(kind_phases)
                .filter_map(|(o, p)| {
                    let (rule, _) = o.rule?;
                    p.get(n)
                        .and_then(|p| p.fires.as_deref())
                        .map(|v| (rule, o, v))
                })
                .collect();
            if firing.is_empty() {
                let _ = writeln!(out, "        exp_alerts: []");
                continue;
            }
            let _ = writeln!(out, "        exp_alerts:");
            for (rule, o, value) in firing {
                let mut labels: BTreeMap<String, String> = o.labels.iter().cloned().collect();
                let objective = &o.labels[1].1;
                labels.insert("service".to_owned(), t.svc.to_owned());
                labels.insert("objective_kind".to_owned(), k.sli.as_str().to_owned());
                labels.insert("slo".to_owned(), format!("{objective}:{}", k.sli.as_str()));
                labels.extend(rule.labels.iter().cloned());
                let _ = writeln!(out, "          - exp_labels:");
                for (key, v) in &labels {
                    let _ = writeln!(out, "              {key}: {}", q(v));
                }
                let _ = writeln!(out, "            exp_annotations:");
                for (key, v) in &rule.annotations {
                    let _ = writeln!(
                        out,
                        "              {key}: {}",
                        q(&render(v, value, &labels))
                    );
                }
            }
        }
    }
}
