//! One test per rule (an offending fixture fires exactly that rule, once), a clean procman-like
//! exposition on which every rule stays silent, and the shared bad exposition.

use watchpost::catalogue::{Catalogue as Declared, Label, MetricDef, Unit};
use watchpost_testkit::bad::exposition::{BAD_CATALOGUE_JSON, BAD_EXPOSITION, BAD_RULE_FAMILIES};

use super::*;
use crate::exposition::parse;
use crate::rules;

fn report_of(text: &str, catalogue: Option<&str>, include_third_party: bool) -> Report {
    let exp = parse(text);
    let catalogue = catalogue.map(|c| Catalogue::parse(c).unwrap());
    let mut report = Report::new(Config::default());
    let opts = LintOptions {
        include_third_party,
        ..LintOptions::default()
    };
    lint(&exp, &opts, catalogue.as_ref(), &mut report);
    report
}

fn fired(report: &Report) -> Vec<(&'static str, u64)> {
    report
        .tallies()
        .iter()
        .map(|t| (t.rule.id, t.count))
        .collect()
}

/// `text` (plus a well-behaved application family, so `no-application-metric` stays quiet)
/// fires `rule` once and nothing else, about `family`.
#[track_caller]
fn only(rule: &Rule, family: &str, text: &str, catalogue: Option<&str>) {
    let text = format!("{text}{GOOD_FAMILY}");
    let report = report_of(&text, catalogue, false);
    assert_eq!(
        fired(&report),
        vec![(rule.id, 1)],
        "{}",
        report.render_human(false)
    );
    let t = report.tallies()[0];
    assert_eq!(t.samples[0].signal_name, family);
}

const GOOD_FAMILY: &str =
    "# HELP good_jobs_total Jobs run.\n# TYPE good_jobs_total counter\ngood_jobs_total 1\n";

const GOOD_CATALOGUE_ENTRY: &str =
    r#"{"name": "good_jobs_total", "type": "counter", "unit": "", "labels": []}"#;

#[test]
fn no_help() {
    only(
        &rules::METRIC_NO_HELP,
        "a_total",
        "# TYPE a_total counter\na_total 1\n",
        None,
    );
}

#[test]
fn non_base_unit() {
    let t = "# HELP a_kilobytes A.\n# TYPE a_kilobytes gauge\na_kilobytes 1\n";
    only(&rules::METRIC_NON_BASE_UNIT, "a_kilobytes", t, None);
}

#[test]
fn counter_without_total() {
    let t = "# HELP a_events A.\n# TYPE a_events counter\na_events 1\n";
    only(&rules::METRIC_COUNTER_WITHOUT_TOTAL, "a_events", t, None);
}

#[test]
fn openmetrics_counters_are_not_without_total() {
    let t = "# HELP a_events A.\n# TYPE a_events counter\na_events_total 1\n# EOF\n";
    let report = report_of(
        &t.replace("# EOF\n", &format!("{GOOD_FAMILY}# EOF\n")),
        None,
        false,
    );
    assert_eq!(fired(&report), vec![], "{}", report.render_human(false));
}

#[test]
fn total_on_non_counter() {
    let t = "# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n";
    only(&rules::METRIC_TOTAL_ON_NON_COUNTER, "a_total", t, None);
}

#[test]
fn reserved_suffix() {
    let t = "# HELP a_sum A.\n# TYPE a_sum gauge\na_sum 1\n";
    only(&rules::METRIC_RESERVED_SUFFIX, "a_sum", t, None);
}

#[test]
fn reserved_label() {
    let t = "# HELP a A.\n# TYPE a gauge\na{quantile=\"0.5\"} 1\n";
    only(&rules::METRIC_RESERVED_LABEL, "a", t, None);
}

#[test]
fn type_in_name() {
    let t = "# HELP a_histogram_ratio A.\n# TYPE a_histogram_ratio gauge\na_histogram_ratio 1\n";
    only(&rules::METRIC_TYPE_IN_NAME, "a_histogram_ratio", t, None);
}

#[test]
fn colon_in_name() {
    let t = "# HELP job:a:rate5m A.\n# TYPE job:a:rate5m gauge\njob:a:rate5m 1\n";
    only(&rules::METRIC_COLON_IN_NAME, "job:a:rate5m", t, None);
}

#[test]
fn camel_case_label() {
    let t = "# HELP a A.\n# TYPE a gauge\na{userKind=\"x\"} 1\n";
    only(&rules::METRIC_CAMEL_CASE, "a", t, None);
}

#[test]
fn unit_abbreviation() {
    let t = "# HELP a_sec A.\n# TYPE a_sec gauge\na_sec 1\n";
    only(&rules::METRIC_UNIT_ABBREVIATION, "a_sec", t, None);
}

#[test]
fn duplicate_metadata() {
    let t = "# HELP a A.\n# HELP a A again.\n# TYPE a gauge\na 1\n";
    only(&rules::METRIC_DUPLICATE, "a", t, None);
}

#[test]
fn unit_suffix_from_openmetrics() {
    let t = "# HELP a_seconds A.\n# TYPE a_seconds gauge\n# UNIT a_seconds bytes\na_seconds 1\n";
    only(&rules::METRIC_UNIT_SUFFIX, "a_seconds", t, None);
}

#[test]
fn unit_suffix_from_the_catalogue() {
    let t = "# HELP a_seconds A.\n# TYPE a_seconds gauge\na_seconds 1\n";
    let c = format!(
        r#"{{"metrics": [{GOOD_CATALOGUE_ENTRY}, {{"name": "a_seconds", "type": "gauge", "unit": ""}}]}}"#
    );
    only(&rules::METRIC_UNIT_SUFFIX, "a_seconds", t, Some(&c));
}

#[test]
fn high_cardinality_over_the_limit() {
    let mut t = String::from("# HELP a A.\n# TYPE a gauge\n");
    for i in 0..101 {
        t.push_str(&format!("a{{shard=\"s{i}\"}} 1\n"));
    }
    only(&rules::METRIC_HIGH_CARDINALITY, "a", &t, None);
}

#[test]
fn high_cardinality_over_the_catalogue_budget() {
    let t = "# HELP a A.\n# TYPE a gauge\na{shard=\"x\"} 1\na{shard=\"y\"} 1\na{shard=\"z\"} 1\n";
    let c = format!(
        r#"{{"metrics": [{GOOD_CATALOGUE_ENTRY}, {{"name": "a", "type": "gauge", "labels": [{{"name": "shard", "budget": 2}}]}}]}}"#
    );
    only(&rules::METRIC_HIGH_CARDINALITY, "a", t, Some(&c));
}

#[test]
fn id_like_label() {
    for v in [
        "/users/123",
        "ada@example.com",
        "10.1.2.3",
        "0123456789abcdef0123",
    ] {
        let t = format!("# HELP a A.\n# TYPE a gauge\na{{who=\"{v}\"}} 1\n");
        only(&rules::METRIC_ID_LIKE_LABEL, "a", &t, None);
    }
}

#[test]
fn denormalized_counter_equal_to_a_histogram_count() {
    let t = "\
# HELP svc_http_requests_total R.
# TYPE svc_http_requests_total counter
svc_http_requests_total{method=\"GET\",path=\"/a\",status=\"200\"} 3
svc_http_requests_total{method=\"GET\",path=\"/b\",status=\"200\"} 0
# HELP svc_http_request_duration_seconds D.
# TYPE svc_http_request_duration_seconds histogram
svc_http_request_duration_seconds_bucket{method=\"GET\",path=\"/a\",status=\"200\",le=\"+Inf\"} 3
svc_http_request_duration_seconds_sum{method=\"GET\",path=\"/a\",status=\"200\"} 0.3
svc_http_request_duration_seconds_count{method=\"GET\",path=\"/a\",status=\"200\"} 3
svc_http_request_duration_seconds_bucket{method=\"GET\",path=\"/b\",status=\"200\",le=\"+Inf\"} 0
svc_http_request_duration_seconds_sum{method=\"GET\",path=\"/b\",status=\"200\"} 0
svc_http_request_duration_seconds_count{method=\"GET\",path=\"/b\",status=\"200\"} 0
";
    only(
        &rules::METRIC_DENORMALIZED,
        "svc_http_requests_total",
        t,
        None,
    );
    // Different values: not derived.
    let differs = t.replace(
        "status=\"200\"} 3\nsvc_http_requests_total",
        "status=\"200\"} 4\nsvc_http_requests_total",
    );
    assert_eq!(
        report_of(&format!("{differs}{GOOD_FAMILY}"), None, false).count("metric.denormalized"),
        0
    );
}

#[test]
fn denormalized_series_missing_a_label() {
    let t = "# HELP a A.\n# TYPE a gauge\na{x=\"1\",k=\"p\"} 2\na{x=\"1\",k=\"q\"} 3\na{x=\"1\"} 5\na{x=\"2\"} 5\n";
    only(&rules::METRIC_DENORMALIZED, "a", t, None);
    let zero = "# HELP a A.\n# TYPE a gauge\na{k=\"p\"} 0\na{k=\"q\"} 0\na 0\n";
    assert_eq!(
        report_of(&format!("{zero}{GOOD_FAMILY}"), None, false).count("metric.denormalized"),
        0
    );
}

#[test]
fn requests_without_histogram() {
    let t = "# HELP svc_rpc_calls_total C.\n# TYPE svc_rpc_calls_total counter\nsvc_rpc_calls_total 1\n\
             # HELP other_duration_seconds D.\n# TYPE other_duration_seconds histogram\nother_duration_seconds_count 1\n";
    only(
        &rules::METRIC_REQUESTS_WITHOUT_HISTOGRAM,
        "svc_rpc_calls_total",
        t,
        None,
    );
}

#[test]
fn no_application_metric() {
    let t = "# HELP go_goroutines G.\n# TYPE go_goroutines gauge\ngo_goroutines 1\n# HELP target_info T.\n# TYPE target_info gauge\ntarget_info 1\n";
    let report = report_of(t, None, false);
    assert_eq!(fired(&report), vec![("metric.no-application-metric", 1)]);
    assert_eq!(
        fired(&report_of("", None, false)),
        vec![("metric.no-application-metric", 1)]
    );
}

#[test]
fn third_party_families_are_exempt_unless_included() {
    let t = format!("# TYPE go_gc_count counter\ngo_gc_count 1\n{GOOD_FAMILY}");
    assert_eq!(fired(&report_of(&t, None, false)), vec![]);
    let included = fired(&report_of(&t, None, true));
    assert!(included.contains(&("metric.no-help", 1)), "{included:?}");
}

#[test]
fn undeclared() {
    let t = "# HELP a A.\n# TYPE a gauge\na 1\n# HELP process_open_fds F.\n# TYPE process_open_fds gauge\nprocess_open_fds 3\n";
    let c = format!(r#"{{"metrics": [{GOOD_CATALOGUE_ENTRY}]}}"#);
    only(&rules::METRIC_UNDECLARED, "a", t, Some(&c));
}

#[test]
fn catalogue_mismatch() {
    let t = "# HELP a A.\n# TYPE a gauge\na{kind=\"x\",extra=\"1\"} 1\n";
    let c = format!(
        r#"{{"metrics": [{GOOD_CATALOGUE_ENTRY}, {{"name": "a", "type": "counter", "labels": [{{"name": "kind", "values": ["y"]}}]}}]}}"#
    );
    only(&rules::METRIC_CATALOGUE_MISMATCH, "a", t, Some(&c));
    let report = report_of(&format!("{t}{GOOD_FAMILY}"), Some(&c), false);
    let message = &report.tallies()[0].samples[0].message;
    assert!(
        message.contains("the type is gauge but the catalogue says counter"),
        "{message}"
    );
    assert!(
        message.contains("label 'extra' is not declared"),
        "{message}"
    );
    assert!(
        message.contains("label 'kind' has a value outside its closed set"),
        "{message}"
    );
    assert_eq!(
        report.tallies()[0].samples[0].context["outside_values"],
        "kind=\"x\""
    );
}

#[test]
fn messages_name_labels_not_their_values() {
    // The value is in the context, never in the message.
    let t = "# HELP a A.\n# TYPE a gauge\na{who=\"ada@example.com\"} 1\n";
    let report = report_of(&format!("{t}{GOOD_FAMILY}"), None, false);
    let sample = &report.tallies()[0].samples[0];
    assert_eq!(
        sample.message,
        "label 'who' has a value that looks like an e-mail address"
    );
    let c = format!(
        r#"{{"metrics": [{GOOD_CATALOGUE_ENTRY}, {{"name": "a", "type": "gauge", "labels": [{{"name": "who", "values": ["x"]}}]}}]}}"#
    );
    let report = report_of(&format!("{t}{GOOD_FAMILY}"), Some(&c), false);
    for tally in report.tallies() {
        for sample in &tally.samples {
            assert!(!sample.message.contains("ada@"), "{}", sample.message);
        }
    }
    assert_eq!(report.count("metric.catalogue-mismatch"), 1);
    // A sum of siblings names the label; the series (with its values) is in the context.
    let t = "# HELP b B.\n# TYPE b gauge\nb{who=\"ada@example.com\",k=\"p\"} 1\nb{who=\"ada@example.com\",k=\"q\"} 2\nb{who=\"ada@example.com\"} 3\n";
    let report = report_of(&format!("{t}{GOOD_FAMILY}"), None, false);
    let d = report
        .tallies()
        .into_iter()
        .find(|t| t.rule.id == "metric.denormalized")
        .unwrap();
    assert!(
        !d.samples[0].message.contains("ada@"),
        "{}",
        d.samples[0].message
    );
    assert!(
        d.samples[0]
            .message
            .starts_with("the series without label 'k' equals the sum of its 2 siblings"),
        "{}",
        d.samples[0].message
    );
    // A parse error names what is wrong, not the line (the line is in the context).
    let report = report_of(&format!("{GOOD_FAMILY}DB_PASSWORD=hunter2\n"), None, false);
    let pe = report
        .tallies()
        .into_iter()
        .find(|t| t.rule.id == "metric.parse-error")
        .unwrap();
    assert!(
        !pe.samples[0].message.contains("hunter2"),
        "{}",
        pe.samples[0].message
    );
    assert!(
        !pe.samples[0].message.contains("PASSWORD"),
        "{}",
        pe.samples[0].message
    );
    // A duplicate series is named by its label names.
    let t =
        "# HELP c C.\n# TYPE c gauge\nc{who=\"ada@example.com\"} 1\nc{who=\"ada@example.com\"} 1\n";
    let report = report_of(&format!("{t}{GOOD_FAMILY}"), None, false);
    let dup = report
        .tallies()
        .into_iter()
        .find(|t| t.rule.id == "metric.duplicate")
        .unwrap();
    assert_eq!(
        dup.samples[0].message,
        "metric not unique: series c{who} again (first on line 3)"
    );
}

#[test]
fn a_budgeted_label_may_carry_per_instance_ids_but_not_paths_or_addresses() {
    let c = format!(
        r#"{{"metrics": [{GOOD_CATALOGUE_ENTRY}, {{"name": "a", "type": "gauge", "labels": [{{"name": "instance_id", "budget": 50}}]}}]}}"#
    );
    for v in [
        "3f2b1c9e-8a4d-4e6f-9b2a-1c3d5e7f9a0b",
        "0123456789abcdef0123",
        "10.1.2.3",
    ] {
        let t = format!("# HELP a A.\n# TYPE a gauge\na{{instance_id=\"{v}\"}} 1\n");
        let report = report_of(&format!("{t}{GOOD_FAMILY}"), Some(&c), false);
        assert_eq!(
            fired(&report),
            vec![],
            "{v}: {}",
            report.render_human(false)
        );
        // Without the catalogue's budget it is still an id.
        only(&rules::METRIC_ID_LIKE_LABEL, "a", &t, None);
    }
    for v in ["/vms/12345", "ada@example.com"] {
        let t = format!("# HELP a A.\n# TYPE a gauge\na{{instance_id=\"{v}\"}} 1\n");
        only(&rules::METRIC_ID_LIKE_LABEL, "a", &t, Some(&c));
    }
}

#[test]
fn a_catalogue_budget_above_the_limit_replaces_it() {
    let mut t = String::from("# HELP a A.\n# TYPE a gauge\n");
    for i in 0..150 {
        t.push_str(&format!("a{{shard=\"s{i}\"}} 1\n"));
    }
    let c = |budget: u32| {
        format!(
            r#"{{"metrics": [{GOOD_CATALOGUE_ENTRY}, {{"name": "a", "type": "gauge", "labels": [{{"name": "shard", "budget": {budget}}}]}}]}}"#
        )
    };
    let report = report_of(&format!("{t}{GOOD_FAMILY}"), Some(&c(200)), false);
    assert_eq!(fired(&report), vec![], "{}", report.render_human(false));
    let report = report_of(&format!("{t}{GOOD_FAMILY}"), Some(&c(120)), false);
    assert_eq!(fired(&report), vec![("metric.high-cardinality", 1)]);
    assert_eq!(report.tallies()[0].samples[0].context["limit"], 120);
    assert!(report.tallies()[0].samples[0]
        .message
        .contains("more than its catalogue budget (120)"));
}

#[test]
fn equal_counts_by_coincidence_are_not_denormalized() {
    let t = "\
# HELP svc_jobs_started_total J.
# TYPE svc_jobs_started_total counter
svc_jobs_started_total 3
# HELP svc_job_duration_seconds D.
# TYPE svc_job_duration_seconds histogram
svc_job_duration_seconds_bucket{le=\"+Inf\"} 3
svc_job_duration_seconds_sum 0.3
svc_job_duration_seconds_count 3
";
    assert_eq!(
        report_of(&format!("{t}{GOOD_FAMILY}"), None, false).count("metric.denormalized"),
        0
    );
    // Several labelled series that all agree are no coincidence, whatever the names.
    let t = "\
# HELP svc_jobs_started_total J.
# TYPE svc_jobs_started_total counter
svc_jobs_started_total{queue=\"a\"} 3
svc_jobs_started_total{queue=\"b\"} 4
# HELP svc_job_duration_seconds D.
# TYPE svc_job_duration_seconds histogram
svc_job_duration_seconds_bucket{queue=\"a\",le=\"+Inf\"} 3
svc_job_duration_seconds_sum{queue=\"a\"} 0.3
svc_job_duration_seconds_count{queue=\"a\"} 3
svc_job_duration_seconds_bucket{queue=\"b\",le=\"+Inf\"} 4
svc_job_duration_seconds_sum{queue=\"b\"} 0.3
svc_job_duration_seconds_count{queue=\"b\"} 4
";
    only(
        &rules::METRIC_DENORMALIZED,
        "svc_jobs_started_total",
        t,
        None,
    );
}

#[test]
fn any_timing_histogram_of_the_service_times_its_requests() {
    let t = "# HELP svc_rejected_requests_total R.\n# TYPE svc_rejected_requests_total counter\nsvc_rejected_requests_total 1\n\
             # HELP svc_http_request_duration_seconds D.\n# TYPE svc_http_request_duration_seconds histogram\nsvc_http_request_duration_seconds_count 1\n";
    assert_eq!(
        report_of(&format!("{t}{GOOD_FAMILY}"), None, false)
            .count("metric.requests-without-histogram"),
        0
    );
    // Another service's histogram, or one that is not a timing, does not.
    let t = "# HELP svc_rejected_requests_total R.\n# TYPE svc_rejected_requests_total counter\nsvc_rejected_requests_total 1\n\
             # HELP svc_payload_bytes D.\n# TYPE svc_payload_bytes histogram\nsvc_payload_bytes_count 1\n";
    only(
        &rules::METRIC_REQUESTS_WITHOUT_HISTOGRAM,
        "svc_rejected_requests_total",
        t,
        None,
    );
}

#[test]
fn parse_errors_name_the_line_and_the_rest_is_linted() {
    let t = format!("{GOOD_FAMILY}broken{{ 1\n# TYPE b counter\nb 1\n");
    let report = report_of(&t, None, false);
    assert_eq!(report.count("metric.parse-error"), 1);
    assert_eq!(report.count("metric.counter-without-total"), 1);
    let pe = report
        .tallies()
        .into_iter()
        .find(|t| t.rule.id == "metric.parse-error")
        .unwrap();
    assert_eq!(pe.samples[0].context["line"], 4);
}

#[test]
fn series_growth_is_information_and_warm_up_is_not_growth() {
    let first = parse("a{x=\"1\"} 1\n");
    let grown: String = (0..120)
        .map(|i| format!("a{{x=\"{i}\"}} 1\nb{{y=\"{i}\"}} 1\n"))
        .collect();
    let last = parse(&grown);
    let mut report = Report::new(Config::default());
    series_growth(&first, &last, None, &mut report);
    assert_eq!(report.count("metric.series-growth"), 2);
    let mut warm = Report::new(Config::default());
    series_growth(
        &first,
        &parse("a{x=\"1\"} 1\na{x=\"2\"} 1\nb 1\n"),
        None,
        &mut warm,
    );
    assert_eq!(warm.count("metric.series-growth"), 0);
    assert!(!report.fails(crate::finding::Level::Violation));
    let mut same = Report::new(Config::default());
    series_growth(&last, &last, None, &mut same);
    assert_eq!(same.count("metric.series-growth"), 0);
}

/// procman's exposition as the library writes it (text), with its catalogue.
fn procman() -> (String, String) {
    const STATES: &[&str] = &["created", "running", "standby", "stopped", "exited"];
    const B: &[f64] = &[0.005, 0.1, 1.0];
    const DEFS: &[MetricDef] = &[
        MetricDef::gauge("procman_instances", "Instances by state")
            .labels(&[Label::closed("state", STATES)]),
        MetricDef::histogram(
            "procman_instances_create_duration_seconds",
            "Time to create an instance",
            B,
        )
        .unit(Unit::Seconds)
        .labels(&[Label::closed("status", &["success", "error"])]),
        MetricDef::counter("procman_instances_state_transitions_total", "Transitions")
            .labels(&[Label::closed("from", STATES), Label::closed("to", STATES)]),
        MetricDef::counter("procman_exec_sessions_total", "Exec sessions").labels(&[
            Label::closed("status", &["success", "nonzero_exit", "timeout", "error"]),
        ]),
        MetricDef::counter("procman_exec_bytes_received_total", "Bytes received"),
    ];
    let defs = DEFS;
    let mut all = watchpost::catalogue::BUILTIN.to_vec();
    all.extend_from_slice(watchpost::catalogue::HTTP);
    all.extend_from_slice(defs);
    let catalogue = Declared::new("procman", all).to_json();
    let mut text = String::new();
    let mut family = |name: &str, kind: &str, help: &str, lines: &[String]| {
        text.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for l in lines {
            text.push_str(&format!("{name}{l}\n"));
        }
    };
    let histogram = |labels: &str, n: u32| -> Vec<String> {
        let mut v: Vec<String> = B
            .iter()
            .map(|b| format!("_bucket{{{labels},le=\"{b}\"}} {n}"))
            .collect();
        v.push(format!("_bucket{{{labels},le=\"+Inf\"}} {n}"));
        v.push(format!("_sum{{{labels}}} 0.{n}"));
        v.push(format!("_count{{{labels}}} {n}"));
        v
    };
    family(
        "procman_exec_bytes_received_total",
        "counter",
        "Bytes received",
        &[" 1024".into()],
    );
    family(
        "procman_exec_sessions_total",
        "counter",
        "Exec sessions",
        &[
            "{status=\"success\"} 4".into(),
            "{status=\"timeout\"} 1".into(),
        ],
    );
    family(
        "procman_http_request_duration_seconds",
        "histogram",
        "HTTP request latency",
        &[
            histogram("method=\"GET\",path=\"/instances\",status=\"200\"", 5),
            histogram(
                "method=\"POST\",path=\"/instances/{id}/exec\",status=\"200\"",
                2,
            ),
        ]
        .concat(),
    );
    family(
        "procman_http_requests_in_flight",
        "gauge",
        "In flight",
        &[" 1".into()],
    );
    family(
        "procman_info",
        "gauge",
        "Build information",
        &["{version=\"0.4.1\"} 1".into()],
    );
    family(
        "procman_instances",
        "gauge",
        "Instances by state",
        &STATES
            .iter()
            .enumerate()
            .map(|(i, s)| format!("{{state=\"{s}\"}} {i}"))
            .collect::<Vec<_>>(),
    );
    family(
        "procman_instances_create_duration_seconds",
        "histogram",
        "Time to create an instance",
        &histogram("status=\"success\"", 3),
    );
    family(
        "procman_instances_state_transitions_total",
        "counter",
        "Transitions",
        &[
            "{from=\"created\",to=\"running\"} 3".into(),
            "{from=\"running\",to=\"stopped\"} 1".into(),
        ],
    );
    family(
        "procman_telemetry_dropped_total",
        "counter",
        "Dropped",
        &SIGNALS_LINES
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>(),
    );
    family(
        "procman_uptime_seconds",
        "gauge",
        "Uptime",
        &[" 12.5".into()],
    );
    family(
        "process_cpu_seconds_total",
        "counter",
        "CPU",
        &[" 0.25".into()],
    );
    family(
        "process_resident_memory_bytes",
        "gauge",
        "RSS",
        &[" 1.2e+07".into()],
    );
    family("process_open_fds", "gauge", "FDs", &[" 12".into()]);
    family("tokio_runtime_workers", "gauge", "Workers", &[" 2".into()]);
    (text, catalogue)
}

const SIGNALS_LINES: &[&str] = &[
    "{signal=\"traces\"} 0",
    "{signal=\"metrics\"} 0",
    "{signal=\"logs\"} 0",
];

#[test]
fn every_rule_is_silent_on_a_clean_procman_exposition() {
    let (text, catalogue) = procman();
    let exp = parse(&text);
    assert!(exp.errors.is_empty(), "{:?}", exp.errors);
    let report = report_of(&text, Some(&catalogue), true);
    assert_eq!(
        fired(&report),
        vec![],
        "{}\n{text}",
        report.render_human(false)
    );
    let coverage = report.coverage(Signal::Metric).unwrap();
    assert_eq!(coverage["families"], 14);
    assert_eq!(coverage["third-party families"], 3);
    // And without the catalogue, without third-party families.
    assert_eq!(fired(&report_of(&text, None, false)), vec![]);
}

#[test]
fn the_bad_exposition_breaks_each_rule_once_by_its_family() {
    let report = report_of(BAD_EXPOSITION, Some(BAD_CATALOGUE_JSON), false);
    for (id, family) in BAD_RULE_FAMILIES {
        let tally = report
            .tallies()
            .into_iter()
            .find(|t| t.rule.id == *id)
            .unwrap_or_else(|| panic!("{id} did not fire:\n{}", report.render_human(false)));
        assert_eq!(tally.count, 1, "{id}:\n{}", report.render_human(false));
        assert_eq!(tally.samples[0].signal_name, *family, "{id}");
    }
    assert_eq!(
        report.tallies().len(),
        BAD_RULE_FAMILIES.len(),
        "{}",
        report.render_human(false)
    );
    // Without the catalogue, the two catalogue rules are silent and the rest the same.
    let plain = report_of(BAD_EXPOSITION, None, false);
    assert_eq!(plain.tallies().len(), BAD_RULE_FAMILIES.len() - 2);
    // Every metric rule but five that cannot coexist with the others is covered.
    let covered: Vec<&str> = BAD_RULE_FAMILIES.iter().map(|(id, _)| *id).collect();
    for r in rules::ALL.iter().filter(|r| r.id.starts_with("metric.")) {
        let exempt = [
            "metric.parse-error",
            "metric.series-growth",
            "metric.no-application-metric",
        ];
        assert!(
            covered.contains(&r.id) || exempt.contains(&r.id),
            "{} not in the bad exposition",
            r.id
        );
    }
}

#[test]
fn a_hundred_thousand_series_lint_in_one_pass() {
    let mut text = String::from("# HELP big_items_total I.\n# TYPE big_items_total counter\n");
    for i in 0..100_000 {
        text.push_str(&format!(
            "big_items_total{{shard=\"s{}\",kind=\"k{}\"}} {i}\n",
            i % 50,
            i / 50
        ));
    }
    let report = report_of(&text, None, false);
    // `kind` has 2000 values; nothing else is wrong.
    assert_eq!(fired(&report), vec![("metric.high-cardinality", 1)]);
    assert_eq!(report.coverage(Signal::Metric).unwrap()["series"], 100_000);
}
