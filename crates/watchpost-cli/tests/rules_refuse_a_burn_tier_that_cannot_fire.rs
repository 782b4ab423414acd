//! An objective so loose that a tier's threshold `factor × (1 − objective)` reaches 1 (90% over
//! 30 days: 14.4 × 0.1 = 1.44) is refused when watchpost.toml is read, naming the SLO and the
//! tier, with a hint; `watchpost rules` exits 2 with that message. Disabling the tier is
//! accepted.

use std::process::Command;

use watchpost_cli::config::Config;
use watchpost_testkit::tools::TempDir;

const LOOSE: &str = r#"
[[slo]]
name = "availability"
kind = "availability"
objective = 90
"#;

#[test]
fn rules_refuse_a_burn_tier_that_cannot_fire() {
    let e = Config::parse(LOOSE).unwrap_err().to_string();
    assert!(e.contains("slo[0] 'availability'"), "{e}");
    assert!(e.contains("tiers.page_1h"), "{e}");
    assert!(e.contains("can never fire"), "{e}");
    assert!(e.contains("1.44"), "{e}");
    assert!(
        e.contains("hint: disable the tier (`page_1h = false`"),
        "{e}"
    );

    let fixed = format!("{LOOSE}\n[slo.tiers]\npage_1h = false\n");
    let c = Config::parse(&fixed).unwrap();
    assert_eq!(c.slo.len(), 1);

    let dir = TempDir::new("rules-loose");
    let config = dir.0.join("watchpost.toml");
    std::fs::write(&config, LOOSE).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(["rules", "--catalogue"])
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/procman-catalogue.json"
        ))
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tiers.page_1h: can never fire"), "{stderr}");
    assert!(out.stdout.is_empty());
}
