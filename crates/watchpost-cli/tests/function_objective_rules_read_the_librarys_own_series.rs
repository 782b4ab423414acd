//! The rules `watchpost rules` writes for measured functions' objectives read the series the
//! library really exposes: measured functions with objectives run in a pipeline named `shop-api`
//! (so the metric prefix is `shop_api` and the `service_name` label `shop-api`), their
//! exposition becomes `promtool test rules` input (each sample's value added every minute), and
//! promtool evaluates the generated rules on it: the error ratios of the success objective (two
//! functions sharing it) and of the latency objective (the bucket at the threshold) are the
//! ones the exposition implies, a function without an objective adds nothing, the objective,
//! budget and burn-rate series the dashboard's SLO row reads have their values, and both kinds'
//! 1h burn alerts fire with the objective's labels.
//!
//! Skips with a notice when promtool is missing, unless CI=true.

use std::fmt::Write as _;

use watchpost::metrics::Format;
use watchpost_cli::catalogue::Catalogue;
use watchpost_cli::exposition;
use watchpost_testkit::tools::{run_tool, TempDir};

#[watchpost::measured(objective = "checkout", success = 99.9, latency = "250ms")]
fn pay(fail: bool, slow: bool) -> Result<(), String> {
    if slow {
        // Certainly over the 250 ms threshold (the fast calls' bucket is read, not assumed).
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
    if fail {
        Err("declined".into())
    } else {
        Ok(())
    }
}

#[watchpost::measured(objective = "checkout", success = 99.9)]
fn refund() -> Result<(), String> {
    Err("too late".into())
}

#[watchpost::measured]
fn unmeasured_objective() -> Result<(), String> {
    Err("always".into())
}

fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[test]
fn function_objective_rules_read_the_librarys_own_series() {
    let config = watchpost::Config::builder("shop-api").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    for (fail, slow) in [(false, false), (false, false), (false, true), (true, false)] {
        let _ = pay(fail, slow);
    }
    let _ = refund();
    for _ in 0..5 {
        let _ = unmeasured_objective();
    }
    let metrics = telemetry.metrics();
    let text = metrics.encode(Format::Text);
    let catalogue = Catalogue::parse(&metrics.catalogue().to_json()).unwrap();
    assert_eq!(catalogue.service_prefix, "shop_api");
    let generated = watchpost_cli::slo::generate(&catalogue, &Default::default()).unwrap();

    // The exposition as input: every function_calls_* sample grows by its value each minute.
    let parsed = exposition::parse(&text);
    let mut series = String::new();
    let (mut le_quarter, mut count) = (None, None);
    for family in ["function_calls_total", "function_calls_duration_seconds"] {
        let f = parsed
            .family(family)
            .unwrap_or_else(|| panic!("no {family} in\n{text}"));
        for s in &f.samples {
            if s.name.ends_with("_sum") {
                continue;
            }
            let labels: Vec<String> = s
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={}", q(v)))
                .collect();
            let name = format!("{}{{{}}}", s.name, labels.join(","));
            let _ = writeln!(
                series,
                "      - series: {}\n        values: \"0+{}x40\"",
                q(&name),
                s.value
            );
            if s.label("function") == Some("pay") && s.label("objective_name").is_some() {
                match (s.name.as_str(), s.label("le")) {
                    ("function_calls_duration_seconds_bucket", Some("0.25")) => {
                        le_quarter = Some(s.value)
                    }
                    ("function_calls_duration_seconds_count", None) => count = Some(s.value),
                    _ => {}
                }
            }
        }
    }
    let (under, count) = (le_quarter.expect("le=0.25"), count.expect("_count"));
    assert_eq!(count, 4.0, "{text}");
    assert!(
        under <= 3.0,
        "the 300 ms call is over the threshold: {text}"
    );
    let latency_ratio = (count - under) / count;
    let latency_millionths = (latency_ratio * 1e6).round();

    let objective = |kind: &str, extra: &str| {
        format!(
            "{{objective_kind=\"{kind}\",objective_name=\"checkout\",{extra}service=\"shop_api\",service_name=\"shop-api\",slo=\"checkout:{kind}\"}}"
        )
    };
    let success = objective("success", "objective_percentile=\"99.9\",");
    let latency = objective(
        "latency",
        "objective_latency_threshold=\"0.25\",objective_percentile=\"99\",",
    );
    // An alert's series: its name and state, the rule's labels and the expression's.
    let alert = |kind: &str, labels: &str| {
        format!(
            "ALERTS{{alertname=\"ShopApiFunction{kind}BudgetBurn1h\",alertstate=\"firing\",burn_tier=\"1\",long_window=\"1h\",severity=\"page\",short_window=\"5m\",{}",
            &labels[1..]
        )
    };
    let mut tests = format!(
        "rule_files:\n  - shop_api-rules.yml\nevaluation_interval: 1m\ntests:\n  - interval: 1m\n    input_series:\n{series}    promql_expr_test:\n"
    );
    let checks = [
        (
            "round(watchpost:slo_errors:ratio_rate5m * 1000000)",
            [
                (success.clone(), 400_000.0),
                (latency.clone(), latency_millionths),
            ],
        ),
        (
            "round(watchpost:slo_requests:rate5m * 60)",
            [(success.clone(), 5.0), (latency.clone(), 4.0)],
        ),
        // The dashboard's SLO row reads them like any SLO: the objective, the budget left
        // (the 40 minutes are the whole period so far), the burn rate panel's query.
        (
            "round(watchpost:slo_objective:ratio * 1000)",
            [(success.clone(), 999.0), (latency.clone(), 990.0)],
        ),
        (
            "round(watchpost:slo_error_budget_remaining:ratio)",
            [(success.clone(), -399.0), (latency.clone(), (1.0 - latency_ratio / 0.01).round())],
        ),
        (
            "round(watchpost:slo_errors:ratio_rate1h{service=\"shop_api\", slo=~\"checkout:.*\"} / on (service, slo) group_left () (1 - watchpost:slo_objective:ratio{service=\"shop_api\", slo=~\"checkout:.*\"}))",
            [(success.clone(), 400.0), (latency.clone(), (latency_ratio / 0.01).round())],
        ),
        (
            "ALERTS{alertname=~\"ShopApiFunction.*BudgetBurn1h\",alertstate=\"firing\"}",
            [
                (alert("Success", &success), 1.0),
                (alert("Latency", &latency), 1.0),
            ],
        ),
    ];
    for (expr, samples) in checks {
        let _ = writeln!(tests, "      - expr: {}", q(expr));
        let _ = writeln!(tests, "        eval_time: 20m");
        let _ = writeln!(tests, "        exp_samples:");
        for (labels, value) in samples {
            let _ = writeln!(tests, "          - labels: {}", q(&labels));
            let _ = writeln!(tests, "            value: {value}");
        }
    }
    let dir = TempDir::new("rules-functions-real");
    std::fs::write(dir.0.join("shop_api-rules.yml"), &generated.rules_yaml).unwrap();
    std::fs::write(dir.0.join("real.test.yml"), &tests).unwrap();
    let Some((ok, report)) = run_tool("promtool", &["test", "rules", "real.test.yml"], &dir.0)
    else {
        return;
    };
    assert!(
        ok,
        "promtool test rules failed: {report}\n---\n{tests}\n---\n{text}"
    );
}
