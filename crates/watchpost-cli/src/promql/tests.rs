use super::check::{is_variable, substitute_prefix};
use super::*;

fn catalogue() -> Catalogue {
    Catalogue::parse(include_str!("../../tests/fixtures/procman-catalogue.json")).unwrap()
}

const EXTRA: &[&str] = &[
    "watchpost:slo_errors:ratio_rate5m",
    "watchpost:slo_errors:ratio_rate1h",
    "watchpost:slo_objective:ratio",
    "watchpost:slo_error_budget_remaining:ratio",
    "ALERTS",
    "up",
    "target_info",
];

#[test]
fn a_broad_set_of_expressions_parses() {
    let exprs = [
        "1",
        "-1.5e3",
        "0x1F",
        ".5",
        "Inf",
        "-inf",
        "NaN",
        r#""a string""#,
        "'single'",
        "`raw\\string`",
        "up",
        "up{}",
        r#"up{job="a",instance!="b",path=~"/v1/.*",status!~"5..",}"#,
        r#"{__name__="up", job="x"}"#,
        r#"{__name__=~"procman_.*"}"#,
        "rate(x_total[5m])",
        "rate(x_total[1h30m])",
        "rate(x_total[$__rate_interval])",
        "increase(x_total[${__range}])",
        "rate(x_total[$__interval])",
        "max_over_time(rate(x_total[5m])[1h:1m])",
        "max_over_time(rate(x_total[5m])[1h:])",
        "max_over_time(x[$__range:$__interval])",
        "x offset 5m",
        "x offset -5m",
        "rate(x[5m] offset 1h)",
        "x @ 1609746000",
        "x @ start()",
        "x @ end() offset 5m",
        "x offset 5m @ end()",
        "sum(x)",
        "sum by (a, b) (x)",
        "sum(x) by (a, b)",
        "sum without (a) (x)",
        "sum(x) without(a,)",
        "SUM BY (a) (x)",
        "topk(5, x)",
        "topk by (a) (5, x)",
        "quantile(0.9, x)",
        r#"count_values("value", x)"#,
        "histogram_quantile(0.99, sum by (le) (rate(x_bucket[5m])))",
        "a + b",
        "a - b * c / d % e ^ f ^ g",
        "a == b",
        "a != bool b",
        "a > bool 0",
        "a <= 1 and b >= 2 or c unless d",
        "a / on (x) b",
        "a / ignoring (x) group_left b",
        "a * on (x, y) group_left (z) b",
        "a * on() group_right (z) b",
        "a atan2 b",
        "-a",
        "-(a + b)",
        "--1",
        "+a",
        "-2 ^ 2",
        "((a))",
        "time()",
        "vector(1)",
        "changes(x[1h])",
        "label_replace(x, \"dst\", \"$1\", \"src\", \"(.*)\")",
        "absent(up{job=\"a\"})",
        "sum(rate(${service}_http_request_duration_seconds_count{job=~\"$job\"}[$__rate_interval]))",
        "sum(rate($svc_http_request_duration_seconds_count[$__rate_interval]))",
        "watchpost:slo_errors:ratio_rate5m{slo=\"$slo\"}",
        "ALERTS{alertstate=\"firing\"}",
        "sum(up) # a comment",
        "sum(\n  rate(x[5m])\n)",
        "{\"quoted.name\"}",
    ];
    for e in exprs {
        if let Err(err) = parse(e) {
            panic!("{e}: {err}");
        }
    }
}

#[test]
fn what_is_not_promql_does_not_parse() {
    for e in [
        "",
        "sum(x",
        "x[5m",
        "x{a=}",
        "x{a=\"b\"",
        "rate(x[5q])",
        "sum by (a (x)",
        "a +",
        "x y",
        "{}",
        "(a+b)[5m]",
        "\"unterminated",
        "x offset",
        "sum by (a) (x) by (b)",
        "a $",
    ] {
        assert!(parse(e).is_err(), "{e:?} parsed: {:?}", parse(e));
    }
}

#[test]
fn the_tree_is_what_promql_means() {
    // Precedence: * over +, ^ right-associative and over unary minus.
    let e = parse("a + b * c").unwrap();
    assert!(
        matches!(e, Expr::Binary { ref op, ref rhs, .. } if op == "+" && matches!(**rhs, Expr::Binary { ref op, .. } if op == "*"))
    );
    let e = parse("-a ^ b").unwrap();
    assert!(
        matches!(e, Expr::Unary { op: '-', ref expr } if matches!(**expr, Expr::Binary { ref op, .. } if op == "^"))
    );
    let e = parse("a ^ b ^ c").unwrap();
    assert!(matches!(e, Expr::Binary { ref rhs, .. } if matches!(**rhs, Expr::Binary { .. })));
    let e = parse("a or b and c").unwrap();
    assert!(matches!(e, Expr::Binary { ref op, .. } if op == "or"));
    // Grouping before or after the argument.
    for text in ["sum by (a) (x)", "sum(x) by (a)"] {
        assert_eq!(
            parse(text).unwrap(),
            Expr::Aggregate {
                op: "sum".into(),
                grouping: Some(Grouping::By(vec!["a".into()])),
                args: vec![Expr::Selector(Selector {
                    name: Some("x".into()),
                    matchers: vec![],
                    text: "x".into()
                })],
            }
        );
    }
    let e = parse("a * on (x) group_left (y) b").unwrap();
    let Expr::Binary { matching, .. } = e else {
        panic!()
    };
    assert_eq!(matching.matching, Some(Matching::On(vec!["x".into()])));
    assert_eq!(matching.group, Some(Group::Left(vec!["y".into()])));
    let e = parse("max_over_time(x[1h:1m] offset 5m)").unwrap();
    let Expr::Call { args, .. } = e else { panic!() };
    assert!(
        matches!(&args[0], Expr::Modified { offset: Some(o), expr, .. }
        if o == "5m" && matches!(**expr, Expr::Subquery { ref range, step: Some(ref s), .. } if range == "1h" && s == "1m"))
    );
    let sel = parse(r#"x{a=~"5..", b!="c\"d"}"#).unwrap();
    assert_eq!(
        sel.selectors()[0].matchers[1],
        Matcher {
            label: "b".into(),
            op: MatchOp::NotEqual,
            value: "c\"d".into()
        }
    );
    assert_eq!(sel.selectors()[0].text, r#"x{a=~"5..", b!="c\"d"}"#);
}

#[test]
fn what_the_catalogue_declares_checks_clean() {
    let c = catalogue();
    for e in [
        "sum by (path) (rate(procman_http_request_duration_seconds_count{job=~\"$job\"}[$__rate_interval]))",
        "histogram_quantile(0.99, sum by (le, path) (rate(procman_http_request_duration_seconds_bucket[$__rate_interval])))",
        "sum(rate(procman_http_request_duration_seconds_sum[5m])) / sum(rate(procman_http_request_duration_seconds_count[5m]))",
        "sum(rate(${service}_http_request_duration_seconds_count{status=~\"5..\"}[$__rate_interval])) by (method)",
        "sum(rate($svc_telemetry_dropped_total{signal=\"logs\"}[5m]))",
        "procman_instances{state=\"running\"}",
        "sum without (to) (rate(procman_instances_state_transitions_total[1h]))",
        "rate(process_cpu_seconds_total{instance=~\"$instance\"}[$__rate_interval])",
        "process_open_fds / process_max_fds",
        "process_open_fds / on (job, instance) process_max_fds",
        "procman_http_requests_in_flight * on (job, instance) group_left (version) procman_info",
        "watchpost:slo_errors:ratio_rate1h{slo=~\"$slo\"} / on (slo) group_left () (1 - watchpost:slo_objective:ratio)",
        "up{job=\"procman\"} == 0",
        "ALERTS{alertname=\"X\"}",
        "topk(3, sum by (path) (rate(procman_http_request_duration_seconds_count[5m])))",
        "{__name__=\"procman_instances\", state=\"exited\"}",
        "time() - process_start_time_seconds",
        "changes(procman_uptime_seconds[1h]) > bool 0",
        "count_values(\"v\", procman_info) by (job)",
        "label_replace(procman_instances, \"s\", \"$1\", \"state\", \"(.*)\")",
        "vector(1)",
        "histogram_quantile($quantile, sum by (le) (rate(procman_exec_duration_seconds_bucket[$__rate_interval])))",
        "sum(increase(procman_http_panics_total[$__range])) / $__range_s",
        "procman_instances > ${threshold}",
    ] {
        assert_eq!(check(e, &c, EXTRA), vec![], "{e}");
    }
}

fn one_problem(e: &str, c: &Catalogue, wanted: &str) {
    let problems = check(e, c, EXTRA);
    assert!(
        problems.len() == 1 && problems[0].message.contains(wanted),
        "{e}: wanted one problem with {wanted:?}, got {problems:#?}"
    );
}

#[test]
fn what_the_catalogue_does_not_declare_is_a_problem() {
    let c = catalogue();
    one_problem("procman_nope", &c, "'procman_nope' is not in the catalogue");
    one_problem(
        "rate(procman_http_panics[5m])",
        &c,
        "the counter is named 'procman_http_panics_total'",
    );
    one_problem("procman_instances_total", &c, "its series has no _total");
    one_problem(
        "rate(procman_http_request_duration_seconds[5m])",
        &c,
        "is a histogram: query its series",
    );
    one_problem(
        "procman_instances_bucket",
        &c,
        "not a histogram: it has no _bucket series",
    );
    one_problem(
        "procman_http_request_duration_seconds_count{le=\"1\"}",
        &c,
        "le is on a histogram's _bucket series only",
    );
    one_problem(
        "procman_instances{phase=\"running\"}",
        &c,
        "'procman_instances' has no label 'phase'",
    );
    one_problem(
        "procman_instances{state=\"runing\"}",
        &c,
        "is never \"runing\"",
    );
    one_problem(
        "sum by (route) (rate(procman_http_request_duration_seconds_count[5m]))",
        &c,
        "sum by 'route'",
    );
    one_problem(
        "sum without (route) (procman_instances)",
        &c,
        "sum without 'route'",
    );
    one_problem(
        "sum by (path) (sum by (method) (rate(procman_http_request_duration_seconds_count[5m])))",
        &c,
        "sum by 'path'",
    );
    one_problem(
        "process_open_fds / on (state) procman_instances",
        &c,
        "matches the left side on 'state'",
    );
    one_problem(
        "procman_instances / ignoring (zone) process_open_fds",
        &c,
        "ignoring` 'zone'",
    );
    one_problem(
        "procman_instances * on (instance) group_left (branch) procman_info",
        &c,
        "group_left copies 'branch'",
    );
    one_problem(
        "histogram_quantile(0.9, sum by (path) (rate(procman_http_request_duration_seconds_bucket[5m])))",
        &c,
        "needs the 'le' label",
    );
    one_problem("rate(procman_instances[5m])", &c, "applies to counters");
    one_problem(
        "rate(procman_http_panics_total)",
        &c,
        "needs a range vector",
    );
    one_problem(
        "label_values(procman_instances, state)",
        &c,
        "a Grafana variable query",
    );
    one_problem("{job=\"procman\"}", &c, "selects no metric by name");
    one_problem("$metric{state=\"x\"}", &c, "with a template variable");
    one_problem("{__name__=~\"procman_.*\"}", &c, "by the pattern");
    one_problem("sum(rate(x[5m]", &c, "not PromQL");
    one_problem(
        "sum(up) by (sevrice) + sum(watchpost:nope)",
        &c,
        "'watchpost:nope' is not in the catalogue",
    );
    // The name's template variable is the catalogue's prefix.
    one_problem(
        "sum(rate(${service}_http_requests_total[5m]))",
        &c,
        "'procman_http_requests_total' is not in the catalogue",
    );
}

#[test]
fn a_catalogue_with_a_renamed_label_fails_the_check() {
    let expr = "sum by (path) (rate(procman_http_request_duration_seconds_count{status=~\"5..\"}[$__rate_interval]))";
    let c = catalogue();
    assert_eq!(check(expr, &c, EXTRA), vec![]);
    let renamed = include_str!("../../tests/fixtures/procman-catalogue.json")
        .replace("{\"name\": \"path\"", "{\"name\": \"route\"");
    assert_ne!(
        renamed,
        include_str!("../../tests/fixtures/procman-catalogue.json")
    );
    let c = Catalogue::parse(&renamed).unwrap();
    let problems = check(expr, &c, EXTRA);
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(problems[0].message.contains("'path'"), "{}", problems[0]);
    assert!(
        problems[0].to_string().contains(expr),
        "the problem names the expression: {}",
        problems[0]
    );
}

#[test]
fn the_service_variable_stands_for_the_prefix() {
    assert_eq!(substitute_prefix("${service}_x_total", "p"), "p_x_total");
    assert_eq!(substitute_prefix("$svc_x_total", "p"), "p_x_total");
    assert_eq!(substitute_prefix("plain_x", "p"), "plain_x");
    assert!(is_variable("$x") && is_variable("${x}") && is_variable("$__range_s"));
    assert!(!is_variable("${x}_total") && !is_variable("$x${y}") && !is_variable("x"));
}

#[test]
fn le_matchers_name_bucket_bounds_in_a_spelling_both_prometheus_versions_store() {
    let c = catalogue();
    let h = "procman_http_request_duration_seconds_bucket";
    for (expr, problem) in [
        (format!(r#"{h}{{le="0.25"}}"#), None),
        (format!(r#"{h}{{le=~"1|1.0"}}"#), None),
        (format!(r#"{h}{{le="+Inf"}}"#), None),
        (format!(r#"{h}{{le="0.3"}}"#), Some("not a bucket bound")),
        (
            format!(r#"{h}{{le="1"}}"#),
            Some("matches nothing on Prometheus 3"),
        ),
    ] {
        let found: Vec<String> = check(&expr, &c, &[])
            .iter()
            .map(|p| p.to_string())
            .collect();
        match problem {
            None => assert!(found.is_empty(), "{expr}: {found:?}"),
            Some(p) => assert!(
                found.len() == 1 && found[0].contains(p),
                "{expr}: {found:?}"
            ),
        }
    }
}
