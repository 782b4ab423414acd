//! `deploy/` is procman's monitoring bundle as `watchpost bundle` writes it today (from procman's
//! catalogue and `crates/procman/watchpost.toml`; `UPDATE_DEPLOY=1` rewrites it), and the real
//! tools accept it: `promtool check config` (with the rules), `promtool test rules`,
//! `amtool check-config`.

use std::path::Path;

use watchpost_cli::{bundle, catalogue::Catalogue, config::Config};
use watchpost_testkit::tools;

#[test]
fn the_deploy_bundle_is_current_and_valid() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_procman"))
        .args(["--catalogue", "json"])
        .output()
        .unwrap();
    let catalogue = Catalogue::parse(&String::from_utf8(out.stdout).unwrap()).unwrap();
    let config = Config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/watchpost.toml"
    )))
    .unwrap();
    let files = bundle::files(&catalogue, &config, "host.docker.internal:9464").unwrap();
    let deploy = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy"));
    if std::env::var_os("UPDATE_DEPLOY").is_some() {
        bundle::write(deploy, &files, false).unwrap();
    }
    let stale = bundle::write(deploy, &files, true).unwrap();
    assert!(
        stale.is_empty(),
        "deploy/ is out of date ({stale:?}); run UPDATE_DEPLOY=1 cargo test -p procman deploy"
    );

    let path = |rel: &str| deploy.join(rel).display().to_string();
    if let Some(promtool) = tools::tool("promtool") {
        for args in [
            vec![
                "check".to_string(),
                "config".to_string(),
                path("prometheus/prometheus.yml"),
            ],
            vec![
                "test".to_string(),
                "rules".to_string(),
                path("prometheus/rules/procman-rules.test.yml"),
            ],
        ] {
            let out = std::process::Command::new(&promtool)
                .args(&args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "promtool {args:?}:\n{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    if let Some(amtool) = tools::tool("amtool") {
        let out = std::process::Command::new(amtool)
            .args(["check-config", &path("alertmanager/alertmanager.yml")])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "amtool:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let dashboard: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(deploy.join("grafana/dashboards/procman.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dashboard["uid"], "watchpost-procman");
}
