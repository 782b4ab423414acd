//! The real `watchpost console` exports a time range as OTLP/JSON (`GET /api/export`): only the
//! spans, log records and metric points inside the range, each signal an OTLP/JSON export
//! request. Imported into a fresh console (`POST /api/import`), the same trace, logs and points
//! are there, and that console exports the very same document.

#[path = "support/console.rs"]
mod support;

use serde_json::Value;
use support::*;

fn at(rfc3339: &str) -> u64 {
    watchpost_cli::logs::parse_rfc3339(rfc3339).unwrap() as u64
}

async fn import(ui: std::net::SocketAddr, body: String) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("http://{ui}/api/import"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("the console answers");
    let status = resp.status().as_u16();
    (
        status,
        serde_json::from_str(&resp.text().await.unwrap()).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_exports_a_time_range_as_otlp_json_that_imports_back() {
    let source = start(&[]);
    let (old, new) = (at("2026-11-30T10:00:00Z"), at("2026-11-30T11:00:00Z"));
    let (outside, inside) = (trace_id(1), trace_id(2));
    for (trace, t) in [(outside, old), (inside, new)] {
        let spans = vec![
            span(
                trace,
                span_id(1),
                None,
                "GET /orders/{id}",
                2,
                t,
                40,
                vec![
                    kv("http.route", "/orders/{id}"),
                    kv_int("http.response.status_code", 500),
                ],
                Some("timeout"),
            ),
            span(
                trace,
                span_id(2),
                Some(span_id(1)),
                "SELECT orders",
                3,
                t + 1_000_000,
                30,
                vec![kv("db.system", "postgresql")],
                None,
            ),
        ];
        grpc_traces(source.grpc, traces("orders", spans)).await;
        let records = vec![log(
            t + 2_000_000,
            17,
            "the query timed out",
            Some((trace, span_id(2))),
            vec![kv("subsystem", "DB")],
        )];
        grpc_logs(source.grpc, logs("orders", records)).await;
    }
    let minute = 60_000_000_000;
    let mut m = metrics(
        "orders",
        "orders_handled_total",
        &[(old, 1.0), (new, 5.0), (new + minute, 9.0)],
        &[
            (old, [1, 0, 0]),
            (new, [2, 1, 0]),
            (new + minute, [2, 3, 1]),
        ],
    );
    with_exemplar(&mut m, 1, new, 0.5, inside, span_id(1));
    assert_eq!(post_protobuf(source.http, "/v1/metrics", &m).await, 200);
    source.wait_for("/api/stats", |s| {
        s["stored"]["spans"] == 4 && s["stored"]["logs"] == 2 && s["stored"]["metric_points"] == 6
    });

    // From 10:30 (RFC 3339) to 11:30 (Unix milliseconds).
    let to_ms = (new + 30 * minute) / 1_000_000;
    let range = format!("/api/export?from=2026-11-30T10:30:00Z&to={to_ms}");
    let doc = source.json(&range);
    let spans = &doc["traces"]["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(spans.as_array().map(Vec::len), Some(2), "{doc:#}");
    assert_eq!(
        spans[0]["traceId"],
        hex(&inside),
        "ids in hex, as OTLP/JSON has them"
    );
    assert_eq!(
        spans[0]["startTimeUnixNano"],
        new.to_string(),
        "64-bit integers as strings"
    );
    assert_eq!(
        doc["traces"]["resourceSpans"][0]["resource"]["attributes"][0],
        serde_json::json!({ "key": "service.name", "value": { "stringValue": "orders" } })
    );
    let records = &doc["logs"]["resourceLogs"][0]["scopeLogs"][0]["logRecords"];
    assert_eq!(records.as_array().map(Vec::len), Some(1), "{doc:#}");
    assert_eq!(records[0]["body"]["stringValue"], "the query timed out");
    let exported: Vec<(&str, usize)> = doc["metrics"]["resourceMetrics"][0]["scopeMetrics"][0]
        ["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            let points = m["sum"]["dataPoints"]
                .as_array()
                .or(m["histogram"]["dataPoints"].as_array());
            (m["name"].as_str().unwrap(), points.map_or(0, Vec::len))
        })
        .collect();
    assert_eq!(
        exported,
        [
            ("orders_handled_total", 2),
            ("orders_handled_total_seconds", 2)
        ]
    );
    // One signal at a time.
    let only_logs = source.json(&format!("{range}&signal=logs"));
    assert_eq!(
        only_logs.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["logs"]
    );

    let target = start(&[]);
    let (status, answer) = import(target.ui, doc.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["imported"],
        serde_json::json!({ "spans": 2, "logs": 1, "metric_points": 4 })
    );
    let want = source.json(&format!("/api/traces/{}", hex(&inside)));
    let got = target.json(&format!("/api/traces/{}", hex(&inside)));
    assert_eq!(
        got, want,
        "the same trace, its spans, attributes, status and logs"
    );
    let (status, _) = target.get(&format!("/api/traces/{}", hex(&outside)));
    assert_eq!(status, 404, "a trace outside the range is not exported");
    let series = target.json("/api/metrics?name=orders_handled_total_seconds");
    assert!(
        series.to_string().contains(&hex(&inside)),
        "the exemplar keeps its trace: {series:#}"
    );
    assert_eq!(
        target.json("/api/export"),
        doc,
        "exported again, the same document"
    );

    // Parameters and bodies that cannot be used are refused, named.
    for (path, parameter, allowed) in [
        ("/api/export?since=1", "since", "allowed: from, to, signal"),
        ("/api/export?from=yesterday", "from", "RFC 3339"),
        (
            "/api/export?signal=spans",
            "signal",
            "traces, logs, metrics, all",
        ),
        ("/api/export?from=2000&to=1000", "to", "later than from"),
    ] {
        let (status, body) = source.get(path);
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(body["parameter"], parameter, "{path}: {body}");
        assert!(
            body["error"].as_str().unwrap().contains(allowed),
            "{path}: {body}"
        );
    }
    let (status, body) = import(target.ui, r#"{"spans": []}"#.into()).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("traces, logs, metrics"),
        "{body}"
    );
}
