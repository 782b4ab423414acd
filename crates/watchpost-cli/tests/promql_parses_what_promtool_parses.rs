//! Our PromQL parser and Prometheus' own (through `promtool check rules`) agree on what is an
//! expression, and every query of the generated dashboard, with Grafana's variables replaced as
//! Grafana replaces them, is one Prometheus accepts.
//!
//! Skips with a notice when `promtool` is missing (fails under `CI=true`).

use std::path::Path;
use std::process::Command;

use watchpost_cli::catalogue::Catalogue;
use watchpost_cli::dashboard::{self, DashboardOptions};
use watchpost_cli::promql;
use watchpost_testkit::tools::{self, TempDir};

const FIXTURE: &str = include_str!("fixtures/procman-catalogue.json");

/// Whether promtool accepts `expr` as a recording rule's expression (and its message).
fn promtool_accepts(promtool: &Path, dir: &TempDir, expr: &str) -> (bool, String) {
    let file = dir.0.join("rules.yml");
    let quoted = serde_json::to_string(expr).unwrap(); // a JSON string is a YAML string
    std::fs::write(
        &file,
        format!("groups:\n- name: g\n  rules:\n  - record: check:expr\n    expr: {quoted}\n"),
    )
    .unwrap();
    let out = Command::new(promtool)
        .args(["check", "rules"])
        .arg(&file)
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn our_parser_and_promtool_agree() {
    let Some(promtool) = tools::tool("promtool") else {
        return;
    };
    let dir = TempDir::new("promql-agree");
    let exprs = [
        "1",
        "-1.5e3",
        "0x1F",
        ".5",
        "Inf",
        "-inf",
        "NaN",
        "up",
        "up{}",
        r#"up{job="a",instance!="b",path=~"/v1/.*",status!~"5..",}"#,
        r#"{__name__="up", job="x"}"#,
        "rate(x_total[5m])",
        "rate(x_total[1h30m])",
        "max_over_time(rate(x_total[5m])[1h:1m])",
        "max_over_time(rate(x_total[5m])[1h:])",
        "x offset 5m",
        "x offset -5m",
        "rate(x[5m] offset 1h)",
        "x @ 1609746000",
        "x @ start()",
        "x @ end() offset 5m",
        "x offset 5m @ end()",
        "sum by (a, b) (x)",
        "sum(x) by (a, b)",
        "sum(x) without(a,)",
        "SUM BY (a) (x)",
        "topk(5, x)",
        "topk by (a) (5, x)",
        "quantile(0.9, x)",
        r#"count_values("value", x)"#,
        "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
        "a - b * c / d % e ^ f ^ g",
        "a != bool b",
        "a > bool 0",
        "a <= 1 and b >= 2 or c unless d",
        "a / on (x) b",
        "a / ignoring (x) group_left b",
        "a * on (x, y) group_left (z) b",
        "a * on() group_right (z) b",
        "a / on (slo) group_left () (1 - b)",
        "a atan2 b",
        "-(a + b)",
        "--1",
        "-2 ^ 2",
        "((a))",
        "time()",
        "vector(1)",
        "changes(x[1h])",
        r#"label_replace(x, "dst", "$1", "src", "(.*)")"#,
        r#"absent(up{job="a"})"#,
        r#"watchpost:slo_errors:ratio_rate5m{slo="a"}"#,
        "sum(up) # a comment",
        "sum(\n  rate(x[5m])\n)",
        // Not PromQL.
        "sum(x",
        "x[5m",
        "x{a=}",
        r#"x{a="b""#,
        "rate(x[5q])",
        "sum by (a (x)",
        "a +",
        "x y",
        "{}",
        "(a+b)[5m]",
        "x offset",
        "sum by (a) (x) by (b)",
        "a / on (slo) group_left (1 - b)",
    ];
    let mut disagreements = Vec::new();
    for e in exprs {
        let ours = promql::parse(e);
        let (theirs, message) = promtool_accepts(&promtool, &dir, e);
        if ours.is_ok() != theirs {
            disagreements.push(format!("{e:?}: ours {ours:?}, promtool {message}"));
        }
    }
    assert!(disagreements.is_empty(), "{disagreements:#?}");
}

#[test]
fn every_dashboard_query_is_promql_for_promtool() {
    let Some(promtool) = tools::tool("promtool") else {
        return;
    };
    let dir = TempDir::new("promql-dashboard");
    let c = Catalogue::parse(FIXTURE).unwrap();
    let d = dashboard::generate(&c, &DashboardOptions::default());
    for e in dashboard::expressions(&d) {
        let query = dashboard::instantiate(
            &e,
            "1m",
            &[
                ("job", ".+"),
                ("instance", ".*"),
                ("service", "procman"),
                ("slo", ".*"),
            ],
        );
        assert!(!query.contains('$'), "{query}");
        let (ok, message) = promtool_accepts(&promtool, &dir, &query);
        assert!(ok, "{query}: {message}");
    }
}
