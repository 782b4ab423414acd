//! The README's configuration and rule tables are `watchpost docs --table config|rules` (checked
//! with the binary, as a user would: exit 0); a drifted copy fails with exit 1 and says how to
//! fix it; a file without the section is an input error (exit 2) that names the file.

use std::process::Command;

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md");

fn docs(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .arg("docs")
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn readme_tables_are_what_watchpost_docs_writes() {
    for table in ["config", "rules"] {
        let (code, err) = docs(&["--table", table, "--check", README]);
        assert_eq!(code, 0, "README's {table} table drifted (UPDATE: watchpost docs --table {table} --write README.md): {err}");
    }

    let dir = watchpost_testkit::tools::TempDir::new("docs");
    let copy = dir.0.join("README.md");
    let readme = std::fs::read_to_string(README).unwrap();
    std::fs::write(
        &copy,
        readme.replace(
            "| `metric.no-help` | violation |",
            "| `metric.no-help` | information |",
        ),
    )
    .unwrap();
    let path = copy.display().to_string();
    let (code, err) = docs(&["--table", "rules", "--check", &path]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("out of date") && err.contains("--write"),
        "{err}"
    );

    let (code, _) = docs(&["--table", "rules", "--write", &path]);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read_to_string(&copy).unwrap(),
        readme,
        "--write restores the table"
    );

    std::fs::write(&copy, "# no sections here\n").unwrap();
    let (code, err) = docs(&["--table", "rules", "--check", &path]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&path) && err.contains("<!-- catalogue:rules -->"),
        "{err}"
    );
}
