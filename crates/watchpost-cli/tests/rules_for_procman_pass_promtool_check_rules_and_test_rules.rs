//! `watchpost rules --out DIR` for procman (its catalogue fixture and its own
//! `crates/procman/watchpost.toml`), end to end through the binary: the rule file passes
//! `promtool check rules`, and the generated `promtool test rules` file passes too (every burn
//! tier quiet below the traffic guard and below its threshold, firing above it with exact labels
//! and annotations, resolving after; the symptom alerts firing and resolving).
//!
//! Skips with a notice when promtool is missing, unless CI=true.
//! Regenerate the fixture with `cargo run -q -p procman -- --catalogue json`.

use std::process::Command;

use watchpost_testkit::tools::{run_tool, TempDir};

#[test]
fn rules_for_procman_pass_promtool_check_rules_and_test_rules() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = TempDir::new("rules-procman");
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(["rules", "--catalogue"])
        .arg(format!("{root}/tests/fixtures/procman-catalogue.json"))
        .arg("--config")
        .arg(format!("{root}/../procman/watchpost.toml"))
        .arg("--out")
        .arg(&dir.0)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rules = std::fs::read_to_string(dir.0.join("procman-rules.yml")).unwrap();
    let tests = std::fs::read_to_string(dir.0.join("procman-rules.test.yml")).unwrap();
    for name in [
        "watchpost:slo_errors:ratio_rate5m",
        "watchpost:slo_errors:ratio_rate3d",
        "watchpost:slo_requests:rate1h",
        "watchpost:slo_errors:ratio_period",
        "watchpost:slo_error_budget_remaining:ratio",
        "watchpost:slo_objective:ratio",
        "alert: ProcmanAvailabilityBudgetBurn1h",
        "alert: ProcmanInstanceLatencyBudgetBurn3d",
        "alert: ProcmanHttpErrorRate",
        "alert: ProcmanTelemetryDropped",
        "alert: ProcmanRestarted",
        // procman measures functions: the label-driven rules of their objectives come along.
        "alert: ProcmanFunctionSuccessBudgetBurn1h",
        "alert: ProcmanFunctionLatencyBudgetBurn3d",
    ] {
        assert!(rules.contains(name), "{name} missing from\n{rules}");
    }
    // Exact thresholds.
    assert!(rules.contains("> 0.0144\\n"), "{rules}");
    assert!(rules.contains("> 0.144\\n"), "{rules}");
    assert!(!rules.contains("0.01439999"), "{rules}");

    let Some((ok, report)) = run_tool("promtool", &["check", "rules", "procman-rules.yml"], &dir.0)
    else {
        return;
    };
    assert!(ok, "promtool check rules failed: {report}\n---\n{rules}");
    let (ok, report) = run_tool(
        "promtool",
        &["test", "rules", "procman-rules.test.yml"],
        &dir.0,
    )
    .unwrap();
    assert!(ok, "promtool test rules failed: {report}\n---\n{tests}");
}
