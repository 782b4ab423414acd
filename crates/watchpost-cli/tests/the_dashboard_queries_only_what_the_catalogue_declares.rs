//! `watchpost dashboard --catalogue FILE`, end to end through the binary: on procman's catalogue
//! it prints a Grafana dashboard whose every query checks clean against that catalogue (with the
//! SLO recording rules), with its rows and panels; a catalogue with a renamed label makes the
//! same queries fail the check; an unreadable catalogue exits 2 naming it.

use std::process::{Command, Output};

use serde_json::Value;
use watchpost_cli::catalogue::Catalogue;
use watchpost_cli::dashboard::{self, SLO_SERIES};
use watchpost_cli::promql;
use watchpost_testkit::tools::TempDir;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/procman-catalogue.json"
);

fn watchpost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(args)
        .output()
        .unwrap()
}

fn procman_dashboard(extra: &[&str]) -> Value {
    let mut args = vec!["dashboard", "--catalogue", FIXTURE];
    args.extend_from_slice(extra);
    let out = watchpost(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("the dashboard is JSON")
}

#[test]
fn every_panel_query_checks_clean_against_procmans_catalogue() {
    let d = procman_dashboard(&[]);
    let c = Catalogue::parse(&std::fs::read_to_string(FIXTURE).unwrap()).unwrap();
    let exprs = dashboard::expressions(&d);
    assert!(exprs.len() >= 30, "{exprs:#?}");
    for e in &exprs {
        assert_eq!(promql::check(e, &c, SLO_SERIES), vec![], "{e}");
        if e.contains("rate(") {
            assert!(e.contains("[$__rate_interval]"), "{e}");
        }
    }
    assert_eq!(d, dashboard::generate(&c, &Default::default()));
}

#[test]
fn the_rows_and_panels_are_there() {
    let d = procman_dashboard(&["--title", "Procman", "--uid", "procman-main"]);
    assert_eq!(d["title"], "Procman");
    assert_eq!(d["uid"], "procman-main");
    assert_eq!(d["schemaVersion"], 39);
    let panels = d["panels"].as_array().unwrap();
    let titles: Vec<&str> = panels
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Requests: rate, errors, duration by route",
        "Request rate by route",
        "Server errors by route (5xx ratio)",
        "Request duration by route (p50, p90, p99)",
        "Saturation",
        "Requests in flight",
        "CPU (cores)",
        "Resident memory",
        "Tokio runtime",
        "Telemetry health",
        "Telemetry dropped by signal",
        "Export errors by signal",
        "Series overflow by metric",
        "Lost log lines",
        "SLO",
        "Error budget remaining",
        "Burn rate",
        "Subsystem INSTANCES",
        "Subsystem EXEC",
        "procman_instances",
    ] {
        assert!(
            titles.contains(&wanted),
            "no panel '{wanted}' in {titles:?}"
        );
    }
    for p in panels.iter().filter(|p| p["type"] != "row") {
        assert!(p["type"] == "timeseries" || p["type"] == "stat", "{p}");
        assert_eq!(p["datasource"]["uid"], "${datasource}");
        assert!(p["gridPos"]["w"].as_u64().unwrap() > 0);
    }
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(vars.contains(&"datasource") && vars.contains(&"slo") && vars.contains(&"job"));
}

#[test]
fn a_catalogue_with_a_renamed_label_fails_the_check() {
    let d = procman_dashboard(&[]);
    let renamed = std::fs::read_to_string(FIXTURE)
        .unwrap()
        .replace("{\"name\": \"path\"", "{\"name\": \"route\"");
    let c = Catalogue::parse(&renamed).unwrap();
    let problems = dashboard::problems(&c, &d);
    assert!(!problems.is_empty(), "the renamed label went unnoticed");
    assert!(
        problems.iter().all(|p| p.message.contains("'path'")),
        "{problems:#?}"
    );
    // The renamed catalogue's own dashboard groups by the new name and checks clean.
    let dir = TempDir::new("dashboard-renamed");
    let file = dir.0.join("renamed.json");
    std::fs::write(&file, &renamed).unwrap();
    let out = watchpost(&["dashboard", "--catalogue", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(dashboard::problems(&c, &d).is_empty());
}

#[test]
fn an_unreadable_catalogue_exits_2_naming_it() {
    let out = watchpost(&["dashboard", "--catalogue", "/nonexistent/catalogue.json"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/catalogue.json"), "{err}");
    assert!(out.stdout.is_empty());
}
