//! A deliberately bad service (the `bad_service` program: a real process, scraped, followed and
//! exporting over real sockets) checked by `watchpost check`: each rule fires exactly once, and
//! its finding names the offender. One test per rule; the check runs once for all of them.
//! (`metric.no-application-metric` cannot coexist with application metrics: its own unit test in
//! `watchpost-cli`'s `lint` covers it.)

use std::sync::OnceLock;
use std::time::Duration;

use watchpost_cli::check::{self, CheckOptions};
use watchpost_cli::config::Config;
use watchpost_cli::report::Report;
use watchpost_testkit::bad;
use watchpost_testkit::process::{self, Process};
use watchpost_testkit::tools::TempDir;

/// The rules this service breaks, each with the name its finding must show; the bad fixtures
/// name the same offender for a rule more than once when several signals show it.
fn offenders() -> Vec<(&'static str, &'static str)> {
    let mut all: Vec<(&str, &str)> = Vec::new();
    for table in [
        bad::exposition::BAD_RULE_FAMILIES,
        bad::logs::BAD_LOG_RULES,
        bad::spans::BAD_SPAN_RULES,
    ] {
        for (rule, name) in table {
            if !all.iter().any(|(r, _)| r == rule) {
                all.push((rule, name));
            }
        }
    }
    all.push(("metric.series-growth", "bad_series_growth_items"));
    all.push(("metric.parse-error", "bad_parse_error"));
    all
}

fn report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run())
    })
}

async fn run() -> Report {
    let dir = TempDir::new("bad-service");
    let logs = dir.0.join("bad.log");
    let catalogue = dir.0.join("catalogue.json");
    let growing = r#"{"name": "bad_series_growth_items", "instrument": "gauge", "type": "gauge", "unit": "", "help": "", "subsystem": "", "labels": [{"name": "shard", "budget": 10}, {"name": "slot", "budget": 11}], "buckets": [], "series_budget": 1000},"#;
    std::fs::write(
        &catalogue,
        bad::exposition::BAD_CATALOGUE_JSON.replacen(
            "\"metrics\": [",
            &format!("\"metrics\": [\n    {growing}"),
            1,
        ),
    )
    .unwrap();
    let log_file = std::fs::File::create(&logs).unwrap();
    let metrics = format!("127.0.0.1:{}", watchpost_testkit::process::free_port());

    let running = check::start(
        CheckOptions {
            metrics: Some(format!("http://{metrics}/metrics")),
            logs: Some(logs.display().to_string()),
            otlp: Some("127.0.0.1:0".into()),
            grace: Duration::from_millis(500),
            scrape_interval: Duration::from_millis(200),
            catalogue: Some(catalogue.display().to_string()),
            ..CheckOptions::default()
        },
        Config::default(),
    )
    .await
    .unwrap();
    let endpoint = format!("http://{}", running.otlp_grpc_addr().unwrap());
    let mut cmd = process::command(env!("CARGO_BIN_EXE_bad_service"));
    cmd.args(["--metrics-listen", &metrics, "--otlp-endpoint", &endpoint])
        .stdout(log_file);
    let mut service = Process::spawn(&mut cmd, "bad_service");
    let sent = (0..100).find_map(|_| {
        service
            .stderr
            .recv_timeout(Duration::from_millis(100))
            .ok()
            .filter(|l| l.contains("bad-service: sent"))
    });
    assert!(
        sent.is_some(),
        "bad_service never said it sent its telemetry"
    );
    // A scrape after the first (the final one, at the end of the window) sees the grown family.
    tokio::time::sleep(Duration::from_millis(500)).await;
    running.stop_handle().notify_one();
    let report = running.wait().await.unwrap();
    service.sigterm();
    service.wait();
    println!("{}", report.render_human(false));
    report
}

fn fires_once_on_its_offender(rule: &str) {
    let report = report();
    let (_, name) = offenders()
        .into_iter()
        .find(|(r, _)| *r == rule)
        .expect("an offender for the rule");
    let human = report.render_human(false);
    assert_eq!(
        report.count(rule),
        1,
        "{rule} should fire exactly once:\n{human}"
    );
    let tally = report
        .tallies()
        .into_iter()
        .find(|t| t.rule.id == rule)
        .unwrap();
    let finding = &tally.samples[0];
    let shown = format!(
        "{} {}",
        finding.signal_name,
        serde_json::Value::Object(finding.context.clone())
    );
    assert!(
        shown.contains(name),
        "{rule}: the finding should name {name:?}: {shown}"
    );
}

macro_rules! one_test_per_rule {
    ($($test:ident => $rule:literal,)*) => {
        $(
            #[test]
            fn $test() {
                fires_once_on_its_offender($rule);
            }
        )*

        #[test]
        fn every_rule_but_one_has_its_test_and_nothing_else_fires() {
            let tested = [$($rule),*];
            for r in watchpost_cli::rules::ALL {
                if r.id == "metric.no-application-metric" {
                    assert_eq!(report().count(r.id), 0);
                    continue;
                }
                assert!(tested.contains(&r.id), "{} has no test here", r.id);
            }
            let total: u64 = report().tallies().iter().map(|t| t.count).sum();
            assert_eq!(total, tested.len() as u64, "{}", report().render_human(false));
        }
    };
}

one_test_per_rule! {
    metric_no_help => "metric.no-help",
    metric_non_base_unit => "metric.non-base-unit",
    metric_counter_without_total => "metric.counter-without-total",
    metric_total_on_non_counter => "metric.total-on-non-counter",
    metric_reserved_suffix => "metric.reserved-suffix",
    metric_reserved_label => "metric.reserved-label",
    metric_type_in_name => "metric.type-in-name",
    metric_colon_in_name => "metric.colon-in-name",
    metric_camel_case => "metric.camel-case",
    metric_unit_abbreviation => "metric.unit-abbreviation",
    metric_duplicate => "metric.duplicate",
    metric_unit_suffix => "metric.unit-suffix",
    metric_high_cardinality => "metric.high-cardinality",
    metric_id_like_label => "metric.id-like-label",
    metric_denormalized => "metric.denormalized",
    metric_requests_without_histogram => "metric.requests-without-histogram",
    metric_undeclared => "metric.undeclared",
    metric_catalogue_mismatch => "metric.catalogue-mismatch",
    metric_series_growth => "metric.series-growth",
    metric_parse_error => "metric.parse-error",
    log_invalid_json => "log.invalid-json",
    log_missing_key => "log.missing-key",
    log_trace_level => "log.trace-level",
    log_noisy_when_idle => "log.noisy-when-idle",
    log_too_many_info => "log.too-many-info",
    log_missing_trace_id => "log.missing-trace-id",
    log_resource_without_id => "log.resource-without-id",
    log_server_error_unlogged => "log.server-error-unlogged",
    span_name_not_route => "span.name-not-route",
    span_missing_status_code => "span.missing-status-code",
    span_missing_error_type => "span.missing-error-type",
    span_unbounded_attribute => "span.unbounded-attribute",
    span_no_client_span => "span.no-client-span",
    trace_error_without_span => "trace.error-without-span",
    otlp_invalid => "otlp.invalid",
    privacy_secret => "privacy.secret",
    privacy_personal_data => "privacy.personal-data",
}
