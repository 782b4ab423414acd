//! Every PromQL expression `watchpost rules` and `watchpost dashboard` generate for procman is
//! parsed and checked against procman's catalogue: each selector names a declared metric with the
//! suffix its type has, each label in matchers and `by`/`without`/`on` exists on it. The same
//! generation against a catalogue whose `path` label was renamed fails the check.

use watchpost_cli::{catalogue::Catalogue, config::Config, dashboard, promql, slo};

const FIXTURE: &str = include_str!("fixtures/procman-catalogue.json");

fn problems(catalogue: &Catalogue) -> Vec<String> {
    let config = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../procman/watchpost.toml"
    )))
    .unwrap();
    let generated = slo::generate(catalogue, &config).unwrap();
    // The rules may read what they record themselves.
    let recorded: Vec<String> = generated
        .rules_yaml
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record: "))
        .map(|s| s.trim().to_owned())
        .collect();
    let mut extra: Vec<&str> = recorded.iter().map(String::as_str).collect();
    extra.extend_from_slice(dashboard::SLO_SERIES);
    // Prometheus's own series of a scrape.
    extra.push("up");
    let mut exprs = slo::expressions(&generated);
    assert!(exprs.len() >= 40, "{}", exprs.len());
    let board = dashboard::generate(catalogue, &dashboard::DashboardOptions::default());
    exprs.extend(dashboard::expressions(&board));
    exprs
        .iter()
        .flat_map(|e| promql::check(e, catalogue, &extra))
        .map(|p| p.to_string())
        .collect()
}

#[test]
fn every_generated_query_names_what_the_catalogue_declares() {
    let catalogue = Catalogue::parse(FIXTURE).unwrap();
    let found = problems(&catalogue);
    assert!(found.is_empty(), "{}", found.join("\n"));

    // The dashboard is generated from the catalogue, so a renamed label changes it too; the rules
    // are checked against a catalogue that moved under them: a rule written for `path` is wrong.
    let renamed =
        Catalogue::parse(&FIXTURE.replace(r#"{"name": "path""#, r#"{"name": "route""#)).unwrap();
    let config = Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../procman/watchpost.toml"
    )))
    .unwrap();
    let generated = slo::generate(&catalogue, &config).unwrap();
    let broken: Vec<String> = slo::expressions(&generated)
        .iter()
        .flat_map(|e| promql::check(e, &renamed, dashboard::SLO_SERIES))
        .map(|p| p.to_string())
        .collect();
    assert!(
        broken.iter().any(|p| p.contains("path")),
        "a rule on a renamed label passed: {broken:?}"
    );
}
