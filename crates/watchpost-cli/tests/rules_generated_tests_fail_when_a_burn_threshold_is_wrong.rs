//! The `promtool test rules` file `watchpost rules` writes is not vacuous: with the page tier's
//! threshold raised above the error ratio the test injects, or the traffic guard removed, it
//! fails. (One SLO with only its fastest tier, so that promtool runs quickly.)
//!
//! Skips with a notice when promtool is missing, unless CI=true.

use watchpost_cli::catalogue::Catalogue;
use watchpost_cli::config::Config;
use watchpost_testkit::tools::{run_tool, TempDir};

const CONFIG: &str = r#"
[service]
function_objectives = false   # the measured functions' rules have their own mutation test

[[slo]]
name = "availability"
kind = "availability"
objective = 99.9

[slo.tiers]
page_6h = false
ticket_1d = false
ticket_3d = false
"#;

fn promtool_test(rules: &str, tests: &str) -> Option<(bool, String)> {
    let dir = TempDir::new("rules-mutated");
    std::fs::write(dir.0.join("procman-rules.yml"), rules).unwrap();
    std::fs::write(dir.0.join("procman-rules.test.yml"), tests).unwrap();
    run_tool(
        "promtool",
        &["test", "rules", "procman-rules.test.yml"],
        &dir.0,
    )
}

#[test]
fn rules_generated_tests_fail_when_a_burn_threshold_is_wrong() {
    let catalogue = Catalogue::parse(include_str!("fixtures/procman-catalogue.json")).unwrap();
    let config = Config::parse(CONFIG).unwrap();
    let g = watchpost_cli::slo::generate(&catalogue, &config).unwrap();
    assert_eq!(g.file_stem, "procman-rules");
    assert!(!g.rules_yaml.contains("BudgetBurn6h"), "{}", g.rules_yaml);

    let Some((ok, report)) = promtool_test(&g.rules_yaml, &g.tests_yaml) else {
        return;
    };
    assert!(ok, "the unchanged rules fail their tests: {report}");

    let raised = g.rules_yaml.replace("> 0.0144", "> 0.03");
    assert_ne!(raised, g.rules_yaml);
    let (ok, report) = promtool_test(&raised, &g.tests_yaml).unwrap();
    assert!(!ok, "a raised threshold went unnoticed: {report}");
    assert!(
        report.contains("ProcmanAvailabilityBudgetBurn1h"),
        "{report}"
    );

    let unguarded = g.rules_yaml.replace("* 3600 >= 10", "* 3600 >= 0");
    assert_ne!(unguarded, g.rules_yaml);
    let (ok, report) = promtool_test(&unguarded, &g.tests_yaml).unwrap();
    assert!(!ok, "a missing traffic guard went unnoticed: {report}");
    assert!(report.contains("quiet below the traffic guard"), "{report}");
}
