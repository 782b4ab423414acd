//! The README's configuration table lists exactly the variables of `watchpost::config::ENV_VARS`,
//! in order, with the same defaults and meanings: the docs cannot drift from the code.

#[test]
fn readme_configuration_table_matches_the_code() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md at the workspace root");
    let section = readme
        .split("\n## Configuration\n")
        .nth(1)
        .expect("a `## Configuration` section")
        .split("\n## ")
        .next()
        .unwrap();
    let rows: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect();
    let unquote = |s: &str| s.trim_matches('`').to_string();
    let documented: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (unquote(&r[0]), unquote(&r[1]), r[2].clone()))
        .collect();
    let code: Vec<(String, String, String)> = watchpost::config::ENV_VARS
        .iter()
        .map(|(n, d, m)| (n.to_string(), unquote(d), m.to_string()))
        .collect();
    assert_eq!(documented, code);
}
