//! `watchpost lint` and `promtool check metrics` flag the same families for the same promlint
//! rules on a real exposition: the running Prometheus server's own `/metrics`. And, when the
//! server speaks OpenMetrics (Prometheus 2.47 and later), our OpenMetrics read of the same
//! endpoint finds the same families, of the same types, as the text read, with the same findings
//! (but `metric.counter-without-total`, which OpenMetrics names hide).
//!
//! Skips with a notice when `prometheus` or `promtool` is missing (fails under `CI=true`).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use watchpost_cli::config::Config;
use watchpost_cli::exposition::{self, Exposition, Format};
use watchpost_cli::lint::{self, LintOptions, PROMLINT_MESSAGES};
use watchpost_cli::report::Report;
use watchpost_testkit::http;
use watchpost_testkit::process::{command, Process};
use watchpost_testkit::tools::{self, TempDir};

/// (rule id, family) for every finding of a rule promlint also has.
fn promlint_findings(exp: &Exposition) -> BTreeSet<(String, String)> {
    let mut report = Report::new(Config::default());
    let opts = LintOptions {
        include_third_party: true, // promtool lints every family
        max_label_values: usize::MAX,
    };
    lint::lint(exp, &opts, None, &mut report);
    let shared: BTreeSet<&str> = PROMLINT_MESSAGES.iter().map(|(_, id)| *id).collect();
    let mut out = BTreeSet::new();
    for t in report.tallies() {
        if !shared.contains(t.rule.id) {
            continue;
        }
        assert_eq!(
            t.other_names, 0,
            "too many names to compare for {}",
            t.rule.id
        );
        for name in t.names.keys() {
            out.insert((t.rule.id.to_owned(), name.clone()));
        }
    }
    out
}

/// promtool's `<family> <message>` lines as (rule id, family).
fn promtool_findings(report: &str) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for line in report.lines().filter(|l| !l.trim().is_empty()) {
        assert!(!line.starts_with("error while linting"), "{report}");
        let (family, message) = line.split_once(' ').expect("`<family> <message>`");
        let (_, id) = PROMLINT_MESSAGES
            .iter()
            .find(|(m, _)| message.starts_with(m))
            .unwrap_or_else(|| panic!("an unknown promlint message: {line}"));
        out.insert(((*id).to_owned(), family.to_owned()));
    }
    out
}

struct Server(Process);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.sigterm();
        let _ = self.0.wait();
    }
}

#[test]
fn lint_agrees_with_promtool_on_prometheus_own_metrics() {
    let (Some(prometheus), Some(_)) = (tools::tool("prometheus"), tools::tool("promtool")) else {
        return;
    };
    let dir = TempDir::new("lint-prometheus");
    let config = dir.0.join("prometheus.yml");
    std::fs::write(
        &config,
        "global:\n  scrape_interval: 1h\nscrape_configs: []\n",
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", watchpost_testkit::process::free_port())
        .parse()
        .unwrap();
    let mut cmd = command(&prometheus);
    cmd.arg(format!("--config.file={}", config.display()))
        .arg(format!("--web.listen-address={addr}"))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.0.join("data").display()
        ))
        .stdin(Stdio::null());
    let mut server = Server(Process::spawn(&mut cmd, "prometheus"));
    let deadline = Instant::now() + Duration::from_secs(60);
    while !http::get_text(addr, "/-/ready").contains("Ready") {
        assert!(Instant::now() < deadline, "prometheus did not become ready");
        if let Ok(Some(status)) = server.0.child.try_wait() {
            let stderr: Vec<String> = server.0.stderr.try_iter().collect();
            panic!("prometheus exited ({status}):\n{}", stderr.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let text_accept = Some("text/plain;version=0.0.4");
    // What a Prometheus scrape sends (older servers know OpenMetrics 0.0.1 only).
    let om_accept = Some(watchpost_cli::source::SCRAPE_ACCEPT);
    // A first scrape of each format, so both reads see the families scrapes create.
    http::get(addr, "/metrics", text_accept);
    http::get(addr, "/metrics", om_accept);
    let (status, text_type, text) = http::get(addr, "/metrics", text_accept);
    assert_eq!(status, 200);
    assert!(text_type.starts_with("text/plain"), "{text_type}");
    let (status, om_type, om) = http::get(addr, "/metrics", om_accept);
    assert_eq!(status, 200);
    drop(server);

    let text_exp = exposition::parse(&text);
    assert_eq!(text_exp.format, Format::Text);
    assert!(text_exp.errors.is_empty(), "{:?}", text_exp.errors);
    assert!(text_exp.families.len() > 50, "{}", text_exp.families.len());

    // Prometheus 2.x before 2.47 serves no OpenMetrics on its own /metrics.
    let om_exp = if om_type.starts_with("application/openmetrics-text") {
        let om_exp = exposition::parse(&om);
        assert_eq!(om_exp.format, Format::OpenMetrics);
        assert!(om_exp.errors.is_empty(), "{:?}", om_exp.errors);
        // The same families, of the same types, in both formats.
        let families = |e: &Exposition| -> BTreeSet<(String, &'static str)> {
            e.families
                .iter()
                .map(|f| (f.name.clone(), f.kind.text_equivalent().as_str()))
                .collect()
        };
        assert_eq!(families(&text_exp), families(&om_exp));
        Some(om_exp)
    } else {
        eprintln!(
            "NOTICE: this prometheus answers {om_type:?} to an OpenMetrics scrape; the OpenMetrics \
             half of this test is skipped (lint_reads_openmetrics_and_text_alike covers the format)"
        );
        None
    };

    // The same families flagged, rule by rule, as promtool.
    let (_, report) = tools::promtool_check(&text).expect("promtool is installed");
    let theirs = promtool_findings(&report);
    let ours = promlint_findings(&text_exp);
    assert_eq!(ours, theirs, "promtool said:\n{report}");
    eprintln!(
        "promtool and watchpost agree on {} findings: {ours:?}",
        ours.len()
    );

    // And the OpenMetrics read says the same, but for what its names hide.
    let hidden = |s: &BTreeSet<(String, String)>| -> BTreeSet<(String, String)> {
        s.iter()
            .filter(|(id, _)| id != "metric.counter-without-total")
            .cloned()
            .collect()
    };
    if let Some(om_exp) = om_exp {
        assert_eq!(hidden(&promlint_findings(&om_exp)), hidden(&ours));
    }
}
