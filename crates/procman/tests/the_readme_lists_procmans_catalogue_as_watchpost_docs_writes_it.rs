//! The README's procman table is `watchpost docs --catalogue <(procman --catalogue json)
//! --section procman`: every metric procman exposes (the library's and its own), with procman's
//! real names. `UPDATE_README=1` rewrites it (and watchpost-cli's copy of the catalogue,
//! `tests/fixtures/procman-catalogue.json`).

#[test]
fn the_readme_lists_procmans_catalogue_as_watchpost_docs_writes_it() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_procman"))
        .args(["--catalogue", "json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // watchpost-cli's tests read the same catalogue from a fixture: it must stay procman's.
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../watchpost-cli/tests/fixtures/procman-catalogue.json"
    );
    if std::env::var_os("UPDATE_README").is_some() {
        std::fs::write(fixture, &out.stdout).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(fixture).unwrap(),
        String::from_utf8_lossy(&out.stdout),
        "{fixture} is not procman's catalogue; run UPDATE_README=1 cargo test -p procman readme"
    );
    let catalogue =
        watchpost_cli::catalogue::Catalogue::parse(&String::from_utf8(out.stdout).unwrap())
            .unwrap();
    let table = watchpost_cli::docs::metrics_table(&catalogue);
    assert!(
        table.contains("| `procman_exec_duration_seconds` | histogram | seconds | status |"),
        "{table}"
    );
    let readme = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"));
    if std::env::var_os("UPDATE_README").is_some() {
        watchpost_cli::docs::write_section(readme, "procman", &table).unwrap();
    }
    assert!(
        watchpost_cli::docs::check_section(readme, "procman", &table).unwrap(),
        "README's procman table differs from procman's catalogue; run UPDATE_README=1 cargo test -p procman readme"
    );
}
