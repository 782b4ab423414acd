//! On the deliberately bad exposition (each rule broken once), `promtool check metrics` and
//! `watchpost lint` flag the same families for every promlint rule — the same names, and a
//! message promtool would print for each. (`metric.duplicate` only when promtool knows it: promlint
//! checks duplicates since client_golang 1.15.)
//!
//! Skips with a notice when `promtool` is missing (fails under `CI=true`).

use std::collections::BTreeSet;

use watchpost_cli::config::Config;
use watchpost_cli::exposition;
use watchpost_cli::lint::{self, LintOptions, PROMLINT_MESSAGES};
use watchpost_cli::report::Report;
use watchpost_testkit::bad::exposition::BAD_EXPOSITION;
use watchpost_testkit::tools;

#[test]
fn lint_agrees_with_promtool_on_the_bad_exposition() {
    let Some((ok, said)) = tools::promtool_check(BAD_EXPOSITION) else {
        return;
    };
    assert!(!ok, "promtool found nothing:\n{said}");
    let mut theirs = BTreeSet::new();
    for line in said.lines().filter(|l| !l.trim().is_empty()) {
        assert!(!line.starts_with("error while linting"), "{said}");
        let (family, message) = line.split_once(' ').expect("`<family> <message>`");
        let (_, id) = PROMLINT_MESSAGES
            .iter()
            .find(|(m, _)| message.starts_with(m))
            .unwrap_or_else(|| panic!("an unknown promlint message: {line}"));
        theirs.insert(((*id).to_owned(), family.to_owned()));
    }

    let mut report = Report::new(Config::default());
    lint::lint(
        &exposition::parse(BAD_EXPOSITION),
        &LintOptions::default(),
        None,
        &mut report,
    );
    let shared: BTreeSet<&str> = PROMLINT_MESSAGES.iter().map(|(_, id)| *id).collect();
    let mut ours = BTreeSet::new();
    for t in report.tallies() {
        if shared.contains(t.rule.id) {
            for s in &t.samples {
                let (_, _) = PROMLINT_MESSAGES
                    .iter()
                    .find(|(m, id)| *id == t.rule.id && s.message.starts_with(m))
                    .unwrap_or_else(|| panic!("not a promlint message: {}", s.message));
                ours.insert((t.rule.id.to_owned(), s.signal_name.clone()));
            }
        }
    }
    let promtool_knows_duplicates = theirs.iter().any(|(id, _)| id == "metric.duplicate");
    if !promtool_knows_duplicates {
        ours.retain(|(id, _)| id != "metric.duplicate");
    }
    assert_eq!(ours, theirs, "promtool said:\n{said}");
    assert!(ours.len() >= 10, "{ours:?}");
}
