//! `--no-default-features` gives JSON logs, traces and `/metrics` without the heavy parts: no
//! tonic, no rustls/ring, no axum, no reqwest and no flate2 among the dependencies `cargo tree`
//! resolves for it — while the default features do pull them (so the check can fail).

use std::collections::BTreeSet;
use std::process::Command;

/// The normal (non-dev, non-build) dependencies of `watchpost` with `features`, as crate names.
fn dependencies(features: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args([
            "tree",
            "-p",
            "watchpost",
            "-e",
            "normal",
            "--prefix",
            "none",
            // The host's dependencies only: `--target all` needs every platform's crates in
            // the local registry cache (a fresh machine's build has not downloaded them).
            "--offline",
        ])
        .args(features)
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_string)
        .collect()
}

const HEAVY: &[&str] = &[
    "tonic",
    "rustls",
    "ring",
    "axum",
    "reqwest",
    "flate2",
    "opentelemetry-otlp",
];

#[test]
fn minimal_features_compile_no_tonic_rustls_or_axum() {
    let minimal = dependencies(&["--no-default-features"]);
    let found: Vec<&&str> = HEAVY.iter().filter(|c| minimal.contains(**c)).collect();
    assert!(found.is_empty(), "--no-default-features pulls {found:?}");
    for needed in ["tracing-subscriber", "opentelemetry_sdk", "hyper"] {
        assert!(minimal.contains(needed), "{needed} missing: {minimal:?}");
    }
    let default = dependencies(&[]);
    for heavy in ["tonic", "axum", "flate2"] {
        assert!(default.contains(heavy), "default features lack {heavy}");
    }
    // Export encodes and sends its requests itself: opentelemetry-otlp is only the tests'
    // reference (a dev-dependency).
    assert!(
        !default.contains("opentelemetry-otlp"),
        "the default features pull opentelemetry-otlp again"
    );
    eprintln!(
        "watchpost depends on {} crates by default, {} with --no-default-features",
        default.len(),
        minimal.len()
    );
}
