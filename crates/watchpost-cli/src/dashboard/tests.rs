use super::*;

const FIXTURE: &str = include_str!("../../tests/fixtures/procman-catalogue.json");

fn procman() -> Catalogue {
    Catalogue::parse(FIXTURE).unwrap()
}

fn titles(d: &Value) -> Vec<String> {
    d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn every_query_of_procmans_dashboard_checks_clean() {
    let c = procman();
    let d = generate(&c, &DashboardOptions::default());
    let exprs = expressions(&d);
    assert!(exprs.len() > 30, "{exprs:#?}");
    for e in &exprs {
        assert_eq!(promql::check(e, &c, SLO_SERIES), vec![], "{e}");
    }
    assert!(problems(&c, &d).is_empty());
}

#[test]
fn every_rate_uses_the_rate_interval() {
    let d = generate(&procman(), &DashboardOptions::default());
    for e in expressions(&d) {
        let parsed = promql::parse(&e).unwrap();
        parsed.walk(&mut |x| {
            if let promql::Expr::Range { range, .. } = x {
                assert_eq!(range, "$__rate_interval", "{e}");
            }
        });
        if e.contains("rate(") || e.contains("increase(") {
            assert!(e.contains("[$__rate_interval]"), "{e}");
        }
    }
}

#[test]
fn the_rows_are_red_saturation_telemetry_slo_and_the_subsystems() {
    let d = generate(&procman(), &DashboardOptions::default());
    let rows: Vec<String> = d["panels"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "row")
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        rows,
        [
            "Requests: rate, errors, duration by route",
            "Saturation",
            "Telemetry health",
            "SLO",
            "Subsystem RUNTIME",
            "Subsystem TELEMETRY",
            "Subsystem LOGS",
            "Subsystem INSTANCES",
            "Subsystem EXEC",
            // Metrics of no subsystem: procman's measured functions (`function_calls_*`).
            "Other metrics",
        ]
    );
    let exprs = expressions(&d);
    let has = |s: &str| exprs.iter().any(|e| e == s);
    assert!(
        has(
            r#"sum by (path) (rate(procman_http_request_duration_seconds_count{job=~"$job"}[$__rate_interval]))"#
        ),
        "{exprs:#?}"
    );
    assert!(has(
        r#"histogram_quantile(0.99, sum by (le, path) (rate(procman_http_request_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))"#
    ));
    assert!(exprs.iter().any(|e| e.contains(r#"status=~"5..""#)));
    assert!(has(
        r#"watchpost:slo_error_budget_remaining:ratio{service="$service", slo=~"$slo"}"#
    ));
    assert!(has(
        r#"watchpost:slo_errors:ratio_rate1h{service="$service", slo=~"$slo"} / on (service, slo) group_left () (1 - watchpost:slo_objective:ratio{service="$service", slo=~"$slo"})"#
    ));
    assert!(has(
        r#"sum by (from, to) (rate(procman_instances_state_transitions_total{job=~"$job"}[$__rate_interval]))"#
    ));
    assert!(has(
        r#"histogram_quantile(0.99, sum by (le, status) (rate(procman_exec_duration_seconds_bucket{job=~"$job"}[$__rate_interval])))"#
    ));
    assert!(has(r#"procman_instances{job=~"$job"}"#));
    // Every catalogue metric is shown once.
    let c = procman();
    for m in &c.metrics {
        let shown = exprs
            .iter()
            .filter(|e| {
                promql::parse(e).unwrap().selectors().iter().any(|s| {
                    s.name.as_deref().is_some_and(|n| {
                        n == m.name
                            || n.strip_suffix("_bucket") == Some(&m.name)
                            || n.strip_suffix("_count") == Some(&m.name)
                    })
                })
            })
            .count();
        assert!(shown >= 1, "{} is not shown", m.name);
    }
    let t = titles(&d);
    assert!(
        t.contains(&"Tokio runtime".to_owned()) && t.contains(&"Lost log lines".to_owned()),
        "{t:?}"
    );
}

#[test]
fn only_panels_whose_metrics_exist_are_there() {
    let c = Catalogue::parse(
        r#"{"service_prefix": "tiny", "metrics": [
            {"name": "tiny_jobs_total", "type": "counter", "subsystem": "JOBS", "labels": []},
            {"name": "process_resident_memory_bytes", "type": "gauge", "unit": "bytes", "subsystem": "RUNTIME"},
            {"name": "tiny_job_duration_seconds", "type": "histogram", "unit": "seconds"}]}"#,
    )
    .unwrap();
    let d = generate(
        &c,
        &DashboardOptions {
            title: Some("T".into()),
            uid: Some("u".into()),
        },
    );
    assert_eq!(
        (d["title"].as_str(), d["uid"].as_str()),
        (Some("T"), Some("u"))
    );
    let t = titles(&d);
    assert_eq!(
        t,
        [
            "Saturation",
            "Resident memory",
            "SLO",
            "Error budget remaining",
            "Burn rate",
            "Subsystem JOBS",
            "tiny_jobs_total (per second)",
            "Other metrics",
            "tiny_job_duration_seconds (p99)",
        ]
    );
    assert!(problems(&c, &d).is_empty(), "{:#?}", problems(&c, &d));
    assert_eq!(
        d["templating"]["list"][1]["definition"],
        "label_values(tiny_jobs_total, job)"
    );
}

#[test]
fn the_json_is_what_grafana_needs() {
    let d = generate(&procman(), &DashboardOptions::default());
    assert_eq!(d["schemaVersion"], 39);
    assert_eq!(d["uid"], "watchpost-procman");
    assert_eq!(d["title"], "procman (Watchpost)");
    let vars: Vec<&str> = d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(vars, ["datasource", "job", "service", "slo"]);
    assert_eq!(d["templating"]["list"][2]["query"], "procman");
    assert_eq!(d["templating"]["list"][0]["type"], "datasource");
    assert_eq!(d["templating"]["list"][0]["query"], "prometheus");
    assert_eq!(
        d["templating"]["list"][3]["definition"],
        r#"label_values(watchpost:slo_objective:ratio{service="$service"}, slo)"#
    );
    let mut ids = HashSet::new();
    let mut cells = HashSet::new();
    for p in d["panels"].as_array().unwrap() {
        assert!(ids.insert(p["id"].as_u64().unwrap()), "duplicate id {p}");
        let g = &p["gridPos"];
        let (x, y, w, h) = (
            g["x"].as_u64().unwrap(),
            g["y"].as_u64().unwrap(),
            g["w"].as_u64().unwrap(),
            g["h"].as_u64().unwrap(),
        );
        assert!(x + w <= 24 && h > 0, "{p}");
        assert!(cells.insert((x, y)), "two panels at {x},{y}");
        match p["type"].as_str().unwrap() {
            "row" => assert_eq!(p["panels"], json!([])),
            "timeseries" | "stat" => {
                assert_eq!(p["datasource"]["uid"], "${datasource}");
                let targets = p["targets"].as_array().unwrap();
                assert!(!targets.is_empty());
                for t in targets {
                    assert_eq!(t["datasource"]["uid"], "${datasource}");
                    assert!(t["refId"].is_string() && t["expr"].is_string());
                }
            }
            other => panic!("panel type {other}"),
        }
    }
}

#[test]
fn a_renamed_label_breaks_the_dashboard_check() {
    let d = generate(&procman(), &DashboardOptions::default());
    let renamed =
        Catalogue::parse(&FIXTURE.replace("{\"name\": \"path\"", "{\"name\": \"route\"")).unwrap();
    let problems = problems(&renamed, &d);
    assert!(!problems.is_empty());
    assert!(
        problems.iter().all(|p| p.message.contains("'path'")),
        "{problems:#?}"
    );
}

#[test]
fn ref_ids_and_instantiation() {
    assert_eq!(
        (ref_id(0), ref_id(25), ref_id(26)),
        ("A".into(), "Z".into(), "AA".into())
    );
    assert_eq!(
        instantiate("$a ${b} $c $", "1m", &[("a", "x"), ("b", "y")]),
        "x y $c $"
    );
    assert_eq!(
        instantiate("x[$__range:$__interval]", "5m", &[]),
        "x[5m:5m]"
    );
}
