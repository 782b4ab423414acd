//! The README's excerpt of the rules for measured functions' objectives ("Alerts from
//! objectives") is what `watchpost rules` writes for a service `shop` whose catalogue has the
//! library's function metrics: its lines are consecutive lines of the rule file, a line with `…`
//! standing for any line that begins with what precedes it.

use watchpost_cli::catalogue::Catalogue;

const MARKER: &str =
    "<!-- excerpt: watchpost rules, a catalogue with the measured functions' metrics, service \"shop\" -->";

#[test]
fn readme_shows_the_function_objective_rules_watchpost_rules_writes() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let at = readme
        .find(MARKER)
        .expect("the excerpt's marker is in the README");
    let block = readme[at..]
        .split_once("```yaml\n")
        .and_then(|(_, rest)| rest.split_once("\n```"))
        .map(|(block, _)| block)
        .expect("a yaml block after the marker");
    let excerpt: Vec<&str> = block.lines().collect();
    assert!(excerpt.len() > 5, "{block}");

    let json =
        watchpost::catalogue::Catalogue::new("shop", watchpost::catalogue::FUNCTIONS.to_vec())
            .to_json();
    let catalogue = Catalogue::parse(&json).unwrap();
    let rules = watchpost_cli::slo::generate(&catalogue, &Default::default())
        .unwrap()
        .rules_yaml;
    let lines: Vec<&str> = rules.lines().collect();
    let matches = |line: &str, want: &str| match want.split_once('…') {
        Some((prefix, _)) => line.starts_with(prefix),
        None => line == want,
    };
    let found = lines.windows(excerpt.len()).any(|w| {
        w.iter()
            .zip(&excerpt)
            .all(|(line, want)| matches(line, want))
    });
    assert!(
        found,
        "the README's excerpt is not in the generated rules (update the README from this):\n{rules}"
    );
}
