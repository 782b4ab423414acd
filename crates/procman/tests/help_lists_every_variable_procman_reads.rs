//! `procman --help` exits 0 and lists every environment variable procman reads: each one its
//! source reads (`env::var("…")`, `env_number("…", …)`), and each of the Watchpost library's
//! (`watchpost::config::ENV_VARS`), with its default.

use std::process::Command;

/// The names procman's source reads from the environment.
fn names_read_in_source() -> Vec<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let source = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        for call in ["env::var(\"", "env::var_os(\"", "env_number(\""] {
            for rest in source.split(call).skip(1) {
                let name = &rest[..rest.find('"').unwrap()];
                if !names.iter().any(|n| n == name) {
                    names.push(name.to_string());
                }
            }
        }
    }
    names
}

#[test]
fn help_lists_every_variable_procman_reads() {
    let out = Command::new(env!("CARGO_BIN_EXE_procman"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "--help is not an error");
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.starts_with("procman: "), "{help}");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let read = names_read_in_source();
    for name in [
        "LISTEN_ADDR",
        "DATA_DIR",
        "PROCMAN_TOKEN",
        "SHUTDOWN_TIMEOUT",
        "BODY_TIMEOUT",
    ] {
        assert!(
            read.iter().any(|n| n == name),
            "the scan missed {name}: {read:?}"
        );
    }
    let listed = |name: &str| help.contains(&format!("\n  {name}  (default: "));
    for name in &read {
        assert!(listed(name), "{name} is read but not in --help:\n{help}");
    }
    for (name, default, _) in watchpost::config::ENV_VARS {
        let entry = format!("\n  {name}  (default: {default})\n");
        assert!(help.contains(&entry), "{name} is not in --help:\n{help}");
    }
    // procman's subsystems, for LOG_LEVEL_<SUBSYSTEM>.
    assert!(help.contains("API, INSTANCES, EXEC, LOGS"), "{help}");
}
