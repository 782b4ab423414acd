//! The workspace's `rust-version` (and the README's "1.x or newer") is the highest
//! `rust-version` among the locked dependencies: a toolchain older than that cannot build them,
//! and claiming less sends a newcomer into a wall of errors. After a `cargo update` raises it,
//! this fails and names the crates.

use std::process::Command;

/// `major.minor` of a `rust-version` (`1.88`, `1.88.0`).
fn minor(version: &str) -> (u32, u32) {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap());
    (parts.next().unwrap(), parts.next().unwrap_or(0))
}

#[test]
fn the_declared_rust_version_is_what_the_locked_dependencies_need() {
    // Offline first (every package of this platform is here once the tests are built); the
    // packages of other platforms may need a download.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = |extra: &[&str]| {
        Command::new(&cargo)
            .args(["metadata", "--format-version", "1", "--locked"])
            .args(extra)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .output()
            .unwrap()
    };
    let mut out = metadata(&["--offline"]);
    if !out.status.success() {
        out = metadata(&[]);
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages = metadata["packages"].as_array().unwrap();
    let needed: Vec<((u32, u32), &str)> = packages
        .iter()
        .filter(|p| !p["source"].is_null())
        .filter_map(|p| Some((minor(p["rust_version"].as_str()?), p["name"].as_str()?)))
        .collect();
    let top = needed.iter().map(|(v, _)| *v).max().unwrap();
    let by: Vec<&str> = needed
        .iter()
        .filter(|(v, _)| *v == top)
        .map(|(_, n)| *n)
        .collect();

    let declared = minor(env!("CARGO_PKG_RUST_VERSION"));
    assert_eq!(
        declared, top,
        "rust-version is {declared:?}; the locked dependencies need {top:?} ({by:?})"
    );
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let claim = format!("({}.{} or newer", top.0, top.1);
    assert!(
        readme.contains(&claim),
        "the README's Quickstart does not say {claim:?}"
    );
}
