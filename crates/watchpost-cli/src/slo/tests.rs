//! The `promtool test rules` file written next to the rules.
//!
//! Every burn-rate alert gets three test groups built from the SLO's real metric
//! (`<svc>_http_request_duration_seconds_count` with `status="200"` and `status="500"`, or, for
//! latency SLOs, its `_count` and its `_bucket` at the threshold). Samples come every fifth of
//! the tier's short window (1m for the 1h tier, 72m for the 3d tier) and rules are evaluated
//! every 5m, so that even the 3-day tier stays cheap (the whole procman file runs in about ten
//! seconds). Each group starts from empty counters and lasts the short window, `for:` and a
//! margin; its long window is therefore not yet full, but holds only that group's traffic,
//! which is what the checks need:
//!
//! 1. (when `min_requests_per_hour` > 0) every request fails, but the long window saw half the
//!    guard's requests: quiet. Without the guard both error ratios would be 1 and it would
//!    fire, so this checks that the guard is there, not its exact bound;
//! 2. 100 000 requests a minute failing at 90 % of the tier's threshold: quiet;
//! 3. the same traffic failing at 1.5 × the threshold (rounded up to 4 significant digits, so
//!    that `humanizePercentage` prints it exactly): firing with the exact labels and
//!    annotations; then the short window without failures: resolved.
//!
//! What they do not check: the exact boundary (a ratio just over the threshold), the alerts'
//! behaviour once the long window is full of older traffic, and the recording rules' values
//! themselves (only through the alerts).
//!
//! The symptom alerts are tested the same way: the HTTP error rate (guard, 0.9 %, 1.5 %,
//! healthy), each "must not increase" counter (flat: quiet; rising by one a minute: firing with
//! the increase over 15m; flat again: resolved) and restarts (`process_start_time_seconds`
//! changes once: firing, then resolved an hour later). The p99 latency alert has no generated
//! test: it needs a whole bucket distribution, and only `promtool check rules` checks it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::burn;
use super::rules::{le_value, Alert, What, Written};
use super::{q, Objective, Service, SloKind};

/// Requests a minute in the quiet, firing and resolving phases.
pub(super) const TRAFFIC: u64 = 100_000;

/// Go's `%.4g` (what `humanize` and `humanizePercentage` print).
pub(super) fn go_g4(v: f64) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let exp = v.abs().log10().floor() as i32;
    if !(-4..4).contains(&exp) {
        let s = format!("{v:.3e}");
        let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (3 - exp).max(0) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

pub(super) fn render(template: &str, value: &str, labels: &BTreeMap<String, String>) -> String {
    let mut s = template
        .replace("{{ $value | humanizePercentage }}", value)
        .replace("{{ $value | humanize }}", value);
    for (k, v) in labels {
        s = s.replace(&format!("{{{{ $labels.{k} }}}}"), v);
    }
    s
}

/// One phase: `samples` samples, each adding `good` and `bad` requests.
pub(super) struct Phase {
    pub samples: u64,
    pub good: f64,
    pub bad: f64,
    /// The alert expected at the phase's end (None: quiet).
    pub fires: Option<String>,
}

/// Two counters (good-ish and bad-ish), built from phases.
struct Series {
    /// (series selector, values notation)
    series: Vec<(String, String)>,
    /// Eval times in minutes (the phases' ends) and the expected value text.
    checks: Vec<(u64, Option<String>)>,
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// The values of a counter adding `inc(phase)` per sample, phase after phase.
pub(super) fn notation(phases: &[Phase], inc: impl Fn(&Phase) -> f64) -> String {
    let mut parts = vec!["0".to_owned()];
    let mut value = 0.0;
    for p in phases {
        let i = inc(p);
        let first = value + i;
        parts.push(format!(
            "{}+{}x{}",
            fmt_num(first),
            fmt_num(i),
            p.samples - 1
        ));
        value += i * p.samples as f64;
    }
    parts.join(" ")
}

fn build(
    phases: &[Phase],
    interval: u64,
    good_series: &str,
    bad_series: &str,
    bad_is_total: bool,
) -> Series {
    let good = notation(phases, |p| p.good);
    let bad = notation(
        phases,
        |p| if bad_is_total { p.good + p.bad } else { p.bad },
    );
    let mut checks = Vec::new();
    let mut at = 0;
    for p in phases {
        at += p.samples;
        checks.push((at * interval, p.fires.clone()));
    }
    Series {
        series: vec![(good_series.to_owned(), good), (bad_series.to_owned(), bad)],
        checks,
    }
}

pub(super) fn ceil_div(a: u64, b: u64) -> u64 {
    a.div_ceil(b)
}

/// Rounds up to at most 4 significant digits (so `humanizePercentage` prints it exactly).
pub(super) fn up_to_4_digits(n: u64) -> u64 {
    let mut unit = 1;
    while n / unit >= 10_000 {
        unit *= 10;
    }
    n.div_ceil(unit) * unit
}

struct RatioTest<'a> {
    title: String,
    interval: u64,
    long: u64,
    short: u64,
    for_minutes: u64,
    threshold: f64,
    min_per_hour: u64,
    good_series: String,
    bad_series: String,
    bad_is_total: bool,
    alert: &'a Alert,
}

fn ratio_test(out: &mut String, t: &RatioTest<'_>) {
    let i = t.interval;
    let per_minute = |n: f64| n * i as f64;
    // Phases end on the 5m evaluation grid.
    let multiple = 5 / gcd(i, 5);
    let samples = |minutes: u64| ceil_div(ceil_div(minutes, i), multiple) * multiple;
    let span = samples(t.short + t.for_minutes + 2 * i + 5);
    let tn = t.threshold * TRAFFIC as f64;
    let low = ((0.9 * tn).floor() as u64).min(TRAFFIC);
    let high = up_to_4_digits((1.5 * tn).ceil() as u64).min(TRAFFIC);
    if t.min_per_hour > 0 {
        // Every request fails; the long window (not yet full) averages half the guard.
        let end = span * i;
        let per_hour = 0.5 * t.min_per_hour as f64 * t.long as f64 / end.min(t.long) as f64;
        let phases = [Phase {
            samples: span,
            good: 0.0,
            bad: per_minute(per_hour / 60.0),
            fires: None,
        }];
        let series = build(&phases, i, &t.good_series, &t.bad_series, t.bad_is_total);
        group(
            out,
            &format!("{}: quiet below the traffic guard", t.title),
            i,
            &series,
            t.alert,
            &BTreeMap::new(),
        );
    }
    let phases = [Phase {
        samples: span,
        good: per_minute((TRAFFIC - low) as f64),
        bad: per_minute(low as f64),
        fires: None,
    }];
    let series = build(&phases, i, &t.good_series, &t.bad_series, t.bad_is_total);
    group(
        out,
        &format!("{}: quiet below the threshold", t.title),
        i,
        &series,
        t.alert,
        &BTreeMap::new(),
    );
    let value = go_g4(high as f64 / TRAFFIC as f64 * 100.0) + "%";
    let phases = [
        Phase {
            samples: span,
            good: per_minute((TRAFFIC - high) as f64),
            bad: per_minute(high as f64),
            fires: Some(value),
        },
        Phase {
            samples: samples(t.short + 2 * i + 5),
            good: per_minute(TRAFFIC as f64),
            bad: 0.0,
            fires: None,
        },
    ];
    let series = build(&phases, i, &t.good_series, &t.bad_series, t.bad_is_total);
    group(
        out,
        &format!("{}: fires above the threshold, then resolves", t.title),
        i,
        &series,
        t.alert,
        &BTreeMap::new(),
    );
}

pub(super) fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn group(
    out: &mut String,
    title: &str,
    interval: u64,
    series: &Series,
    alert: &Alert,
    expr_labels: &BTreeMap<String, String>,
) {
    let _ = writeln!(out, "  - name: {}", q(title));
    let _ = writeln!(out, "    interval: {}", burn::duration(interval));
    let _ = writeln!(out, "    input_series:");
    for (s, v) in &series.series {
        let _ = writeln!(out, "      - series: {}", q(s));
        let _ = writeln!(out, "        values: {}", q(v));
    }
    let _ = writeln!(out, "    alert_rule_test:");
    for (at, fires) in &series.checks {
        let _ = writeln!(out, "      - eval_time: {}", burn::duration(*at));
        let _ = writeln!(out, "        alertname: {}", alert.name);
        match fires {
            None => {
                let _ = writeln!(out, "        exp_alerts: []");
            }
            Some(value) => {
                let mut labels: BTreeMap<String, String> = expr_labels.clone();
                labels.extend(alert.labels.iter().cloned());
                let _ = writeln!(out, "        exp_alerts:");
                let _ = writeln!(out, "          - exp_labels:");
                for (k, v) in &labels {
                    let _ = writeln!(out, "              {k}: {}", q(v));
                }
                let _ = writeln!(out, "            exp_annotations:");
                for (k, v) in &alert.annotations {
                    let _ = writeln!(out, "              {k}: {}", q(&render(v, value, &labels)));
                }
            }
        }
    }
}

pub(super) fn series_name(metric: &str, labels: &[(&str, &str)]) -> String {
    let inner: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}={}", q(v)))
        .collect();
    format!("{metric}{{{}}}", inner.join(","))
}

pub(crate) fn write(
    service: &Service<'_>,
    objectives: &[Objective],
    written: &Written,
    rule_file: &str,
) -> String {
    let svc = &service.name;
    let mut out = format!(
        "# Generated by `watchpost rules`: run `promtool test rules {}.test.yml` next to\n\
         # {rule_file}. Each burn-rate alert: quiet below the traffic guard, quiet below its\n\
         # threshold, firing above it (exact labels and annotations), resolved after.\n\
         rule_files:\n  - {}\nevaluation_interval: 5m\ntests:\n",
        rule_file.trim_end_matches(".yml"),
        q(rule_file)
    );
    let mut any = false;
    for alert in &written.alerts {
        match &alert.what {
            What::Burn { slo, tier } => {
                let o = &objectives[*slo];
                let t = &o.tiers[*tier];
                let h = service.http.as_deref().expect("checked");
                let path = o.route.clone().unwrap_or_else(|| "/instances".to_owned());
                let (good, bad, bad_is_total) = match o.kind {
                    SloKind::Availability => (
                        series_name(
                            &format!("{h}_count"),
                            &[("method", "GET"), ("path", &path), ("status", "200")],
                        ),
                        series_name(
                            &format!("{h}_count"),
                            &[("method", "GET"), ("path", &path), ("status", "500")],
                        ),
                        false,
                    ),
                    SloKind::Latency => {
                        let le = le_value(o.threshold.as_ref().expect("latency").1);
                        (
                            series_name(
                                &format!("{h}_bucket"),
                                &[
                                    ("le", &le),
                                    ("method", "GET"),
                                    ("path", &path),
                                    ("status", "200"),
                                ],
                            ),
                            series_name(
                                &format!("{h}_count"),
                                &[("method", "GET"), ("path", &path), ("status", "200")],
                            ),
                            true,
                        )
                    }
                };
                ratio_test(
                    &mut out,
                    &RatioTest {
                        title: format!(
                            "{}: {} SLO, tier {} ({}/{})",
                            alert.name,
                            o.name,
                            t.def.key,
                            burn::window(t.def.long_minutes),
                            burn::window(t.def.short_minutes)
                        ),
                        interval: u64::from(t.def.short_minutes / 5),
                        long: u64::from(t.def.long_minutes),
                        short: u64::from(t.def.short_minutes),
                        for_minutes: u64::from(t.def.for_minutes),
                        threshold: t.threshold.to_f64(),
                        min_per_hour: o.min_requests_per_hour,
                        good_series: good,
                        bad_series: bad,
                        bad_is_total,
                        alert,
                    },
                );
                any = true;
            }
            What::ErrorRate => {
                let h = service.http.as_deref().expect("checked");
                let labels = |status| {
                    [
                        ("method", "GET"),
                        ("path", "/instances"),
                        ("status", status),
                    ]
                };
                ratio_test(
                    &mut out,
                    &RatioTest {
                        title: format!("{}: HTTP 5xx ratio over 1% for 5m", alert.name),
                        interval: 1,
                        long: 5,
                        short: 5,
                        for_minutes: 5,
                        threshold: 0.01,
                        min_per_hour: 10,
                        good_series: series_name(&format!("{h}_count"), &labels("200")),
                        bad_series: series_name(&format!("{h}_count"), &labels("500")),
                        bad_is_total: false,
                        alert,
                    },
                );
                any = true;
            }
            What::LatencyP99 | What::FunctionBurn { .. } => {}
            What::Counter { metric, by } => {
                let mut expr_labels = BTreeMap::new();
                let name = match by {
                    Some(label) => {
                        let value = service
                            .catalogue
                            .get(metric)
                            .and_then(|m| m.label(label))
                            .and_then(|l| match &l.values {
                                crate::catalogue::LabelValues::Closed(v) => v.first().cloned(),
                                crate::catalogue::LabelValues::Budget(_) => None,
                            })
                            .unwrap_or_else(|| "example".to_owned());
                        expr_labels.insert((*label).to_owned(), value.clone());
                        series_name(metric, &[(label, &value)])
                    }
                    None => metric.clone(),
                };
                let series = Series {
                    series: vec![(name, "0x20 1+1x19 20x30".to_owned())],
                    checks: vec![(20, None), (40, Some("15".to_owned())), (70, None)],
                };
                group(
                    &mut out,
                    &format!("{}: {metric} rises", alert.name),
                    1,
                    &series,
                    alert,
                    &expr_labels,
                );
                any = true;
            }
            What::Down => {
                let target = [("instance", "procman:8080"), ("job", svc.as_str())];
                let mut expr_labels = BTreeMap::new();
                for (k, v) in target {
                    expr_labels.insert(k.to_owned(), v.to_owned());
                }
                let series = Series {
                    series: vec![(series_name("up", &target), "1x10 0x30 1x30".to_owned())],
                    checks: vec![(5, None), (25, Some("0".to_owned())), (60, None)],
                };
                group(
                    &mut out,
                    &format!("{}: the scrape fails", alert.name),
                    1,
                    &series,
                    alert,
                    &expr_labels,
                );
                any = true;
            }
            What::Restart => {
                let target = [("instance", "procman:8080"), ("job", svc.as_str())];
                let mut expr_labels = BTreeMap::new();
                for (k, v) in target {
                    expr_labels.insert(k.to_owned(), v.to_owned());
                }
                let series = Series {
                    series: vec![
                        (
                            series_name("process_start_time_seconds", &target),
                            "1000x29 4600x70".to_owned(),
                        ),
                        (
                            series_name(
                                &format!("{svc}_info"),
                                &[
                                    ("instance", "procman:8080"),
                                    ("job", svc),
                                    ("version", "1.0.0"),
                                ],
                            ),
                            "1x100".to_owned(),
                        ),
                    ],
                    checks: vec![(20, None), (40, Some("1".to_owned())), (95, None)],
                };
                group(
                    &mut out,
                    &format!("{}: the process restarts", alert.name),
                    1,
                    &series,
                    alert,
                    &expr_labels,
                );
                any = true;
            }
        }
    }
    any |= super::function_tests::write(&mut out, service, &written.alerts);
    if !any {
        out.push_str("  []\n");
    }
    out
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn go_g4_prints_like_go() {
        assert_eq!(go_g4(2.16), "2.16");
        assert_eq!(go_g4(50.0), "50");
        assert_eq!(go_g4(100.0), "100");
        assert_eq!(go_g4(0.0015), "0.0015");
        assert_eq!(go_g4(15.0), "15");
        assert_eq!(go_g4(0.000015), "1.5e-05");
        assert_eq!(up_to_4_digits(21_601), 21_610);
        assert_eq!(up_to_4_digits(2160), 2160);
    }
}
