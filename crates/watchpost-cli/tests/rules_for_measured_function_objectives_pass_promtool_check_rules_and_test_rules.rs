//! `watchpost rules` for a service whose catalogue has the measured functions' metrics (the
//! library's own definitions, service `shop_api`) writes label-driven burn-rate rules for their
//! objectives — success and latency each with its own alerts, one per tier — and they pass
//! `promtool check rules`; the generated `promtool test rules` file passes too: per tier, one
//! objective per percentile, quiet below the traffic guard and below its threshold, firing above
//! it with exact labels and annotations, resolving; another service's objective and a function
//! without one never alert.
//!
//! Skips with a notice when promtool is missing, unless CI=true.

use watchpost_cli::catalogue::Catalogue;
use watchpost_cli::config::Config;
use watchpost_testkit::tools::{run_tool, TempDir};

fn catalogue() -> Catalogue {
    let json =
        watchpost::catalogue::Catalogue::new("shop_api", watchpost::catalogue::FUNCTIONS.to_vec())
            .to_json();
    Catalogue::parse(&json).unwrap()
}

#[test]
fn rules_for_measured_function_objectives_pass_promtool_check_rules_and_test_rules() {
    let g = watchpost_cli::slo::generate(&catalogue(), &Config::default()).unwrap();
    let rules = &g.rules_yaml;
    for kind in ["Success", "Latency"] {
        for window in ["1h", "6h", "1d", "3d"] {
            let name = format!("alert: ShopApiFunction{kind}BudgetBurn{window}");
            assert!(rules.contains(&name), "{name} missing from\n{rules}");
        }
    }
    for record in [
        "watchpost:slo_requests:rate5m",
        "watchpost:slo_errors:ratio_rate3d",
        "watchpost:slo_errors:ratio_period",
        "watchpost:slo_error_budget_remaining:ratio",
        "watchpost:slo_objective:ratio",
    ] {
        assert_eq!(
            rules.matches(&format!("- record: {record}\n")).count(),
            2,
            "{record}: one rule per kind\n{rules}"
        );
    }
    // The service's own series only: `shop_api` was made from `shop-api`, `shop.api`, …
    assert!(
        rules.contains(r#"service_name=~\"shop[^a-zA-Z0-9]+api\""#),
        "{rules}"
    );
    // Exact thresholds, and no 1h clause for a 90% objective (14.4 × 10% > 100%).
    assert!(
        rules.contains(r#"objective_percentile=\"99.9\"} > 0.0144\n"#),
        "{rules}"
    );
    assert!(
        rules.contains(r#"objective_percentile=\"90\"} > 0.6\n"#),
        "{rules}"
    );
    assert!(!rules.contains("> 1.44"), "{rules}");

    let dir = TempDir::new("rules-functions");
    std::fs::write(dir.0.join("shop_api-rules.yml"), rules).unwrap();
    std::fs::write(dir.0.join("shop_api-rules.test.yml"), &g.tests_yaml).unwrap();
    let Some((ok, report)) = run_tool(
        "promtool",
        &["check", "rules", "shop_api-rules.yml"],
        &dir.0,
    ) else {
        return;
    };
    assert!(ok, "promtool check rules failed: {report}\n---\n{rules}");
    let (ok, report) = run_tool(
        "promtool",
        &["test", "rules", "shop_api-rules.test.yml"],
        &dir.0,
    )
    .unwrap();
    assert!(
        ok,
        "promtool test rules failed: {report}\n---\n{}",
        g.tests_yaml
    );
    // Every kind and tier was exercised, each with a firing objective per percentile that can.
    assert_eq!(
        g.tests_yaml.matches("  - name: ").count(),
        12,
        "{}",
        g.tests_yaml
    );
    assert_eq!(
        g.tests_yaml.matches("slo: \"p99_9:latency\"").count(),
        4,
        "{}",
        g.tests_yaml
    );
    assert_eq!(
        g.tests_yaml.matches("slo: \"p90:success\"").count(),
        3,
        "{}",
        g.tests_yaml
    );
}
