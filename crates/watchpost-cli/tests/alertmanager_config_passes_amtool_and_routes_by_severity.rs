//! `watchpost alertmanager`, end to end through the binary: the configuration passes `amtool
//! check-config`, and `amtool config routes test` sends `severity=page` to the paging receiver,
//! `severity=ticket` to the ticket receiver and anything else to `null`.
//!
//! Skips with a notice when amtool is missing, unless CI=true.

use std::process::Command;

use watchpost_testkit::tools::{amtool_check_config, run_tool, TempDir};

#[test]
fn alertmanager_config_passes_amtool_and_routes_by_severity() {
    let dir = TempDir::new("alertmanager");
    let file = dir.0.join("alertmanager.yml");
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args([
            "alertmanager",
            "--page-receiver",
            "oncall",
            "--ticket-receiver",
            "tickets",
            "--page-webhook",
            "https://pager.example.com/hook",
            "--ticket-webhook",
            "https://tickets.example.com/hook",
            "--out",
        ])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = std::fs::read_to_string(&file).unwrap();
    assert!(
        yaml.contains("group_by: [alertname, service, slo]"),
        "{yaml}"
    );

    let Some((ok, report)) = amtool_check_config(&yaml) else {
        return;
    };
    assert!(ok, "amtool check-config failed: {report}\n---\n{yaml}");
    assert!(report.contains("4 inhibit rules"), "{report}");

    let config = format!("--config.file={}", file.display());
    for (labels, receiver) in [
        (
            &["severity=page", "slo=availability", "service=procman"][..],
            "oncall",
        ),
        (&["severity=ticket", "slo=availability"][..], "tickets"),
        (&["severity=info"][..], "null"),
        (&["alertname=Watchdog"][..], "null"),
    ] {
        let mut args = vec!["config", "routes", "test", config.as_str()];
        args.extend_from_slice(labels);
        let (ok, report) = run_tool("amtool", &args, &dir.0).unwrap();
        assert!(ok, "{report}");
        assert_eq!(
            report.lines().next().unwrap_or("").trim(),
            receiver,
            "{labels:?}: {report}"
        );
    }
}
