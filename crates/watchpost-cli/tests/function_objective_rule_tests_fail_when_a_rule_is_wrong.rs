//! The `promtool test rules` file `watchpost rules` writes for measured functions' objectives is
//! not vacuous: each of these mistakes in the rules makes it fail — a threshold raised above the
//! error ratio the test injects, the service filter dropped (another service's objective
//! alerts), the latency bucket picked without undoing Prometheus 3's `le="1.0"`, and the traffic
//! guard removed. (Only the 1h tier, so that promtool runs quickly.)
//!
//! Skips with a notice when promtool is missing, unless CI=true.

use watchpost_cli::catalogue::Catalogue;
use watchpost_testkit::tools::{run_tool, TempDir};

fn promtool_test(rules: &str, tests: &str) -> Option<(bool, String)> {
    let dir = TempDir::new("rules-functions-mutated");
    std::fs::write(dir.0.join("shop_api-rules.yml"), rules).unwrap();
    std::fs::write(dir.0.join("shop_api-rules.test.yml"), tests).unwrap();
    run_tool(
        "promtool",
        &["test", "rules", "shop_api-rules.test.yml"],
        &dir.0,
    )
}

/// The test file's groups of the 1h tier only.
fn first_tier(tests: &str) -> String {
    let (head, groups) = tests.split_once("tests:\n").unwrap();
    let kept: Vec<&str> = groups
        .split("  - name: ")
        .skip(1)
        .filter(|g| g.contains("tier page_1h"))
        .collect();
    assert_eq!(kept.len(), 3, "{tests}");
    format!("{head}tests:\n  - name: {}", kept.join("  - name: "))
}

#[test]
fn function_objective_rule_tests_fail_when_a_rule_is_wrong() {
    let json =
        watchpost::catalogue::Catalogue::new("shop_api", watchpost::catalogue::FUNCTIONS.to_vec())
            .to_json();
    let catalogue = Catalogue::parse(&json).unwrap();
    let g = watchpost_cli::slo::generate(&catalogue, &Default::default()).unwrap();
    let tests = first_tier(&g.tests_yaml);
    let Some((ok, report)) = promtool_test(&g.rules_yaml, &tests) else {
        return;
    };
    assert!(ok, "the unchanged rules fail their tests: {report}");

    let mutations = [
        (
            "a raised threshold",
            "} > 0.0144",
            "} > 0.03",
            "ShopApiFunction",
        ),
        (
            "no service filter",
            r#"service_name=~\"shop[^a-zA-Z0-9]+api\""#,
            r#"service_name!=\"\""#,
            "other-service",
        ),
        (
            "le compared as written",
            r#"\"le\", \"(.+?)(?:\\\\.0)?\""#,
            r#"\"le\", \"(.*)\""#,
            "p95",
        ),
        (
            "no traffic guard",
            "* 3600 >= 10",
            "* 3600 >= 0",
            "quiet below the traffic guard",
        ),
    ];
    for (what, from, to, named) in mutations {
        let mutated = g.rules_yaml.replace(from, to);
        assert_ne!(mutated, g.rules_yaml, "{what}: '{from}' not in the rules");
        let (ok, report) = promtool_test(&mutated, &tests).unwrap();
        assert!(!ok, "{what} went unnoticed: {report}");
        assert!(report.contains(named), "{what}: {report}");
    }
}
