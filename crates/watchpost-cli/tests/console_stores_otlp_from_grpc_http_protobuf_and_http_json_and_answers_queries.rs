//! One trace of two services arrives in parts over all three OTLP transports — the root over
//! gRPC, a client span over HTTP/protobuf, the called service's span and a log record over
//! HTTP/JSON — with metrics over HTTP/protobuf; the real `watchpost console` puts it together and
//! every `/api/` endpoint answers about it.

#[path = "support/console.rs"]
mod support;

use serde_json::{json, Value};
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_stores_otlp_from_grpc_http_protobuf_and_http_json_and_answers_queries() {
    let console = tokio::task::spawn_blocking(|| start(&[])).await.unwrap();
    let t0 = now_ns() - 5_000_000_000;
    let (trace, root, client) = (trace_id(1), span_id(1), span_id(2));

    // The root, over gRPC.
    grpc_traces(
        console.grpc,
        traces(
            "shop",
            vec![span(
                trace,
                root,
                None,
                "GET /orders/{id}",
                2,
                t0,
                40,
                vec![
                    kv("http.route", "/orders/{id}"),
                    kv_int("http.response.status_code", 500),
                ],
                Some("db timeout"),
            )],
        ),
    )
    .await;
    // Its client span, over HTTP/protobuf.
    let status = post_protobuf(
        console.http,
        "/v1/traces",
        &traces(
            "shop",
            vec![span(
                trace,
                client,
                Some(root),
                "SELECT orders",
                3,
                t0 + 2_000_000,
                30,
                vec![],
                None,
            )],
        ),
    )
    .await;
    assert_eq!(status, 200);
    // The database's server span and a log record, over HTTP/JSON (the specification's mapping:
    // hex ids, camelCase, 64-bit integers as strings).
    let json_spans = json!({"resourceSpans": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "db"}}]},
        "scopeSpans": [{"scope": {"name": "db-driver"}, "spans": [{
            "traceId": hex(&trace), "spanId": hex(&span_id(4)), "parentSpanId": hex(&client),
            "name": "query orders", "kind": 2,
            "startTimeUnixNano": (t0 + 3_000_000).to_string(),
            "endTimeUnixNano": (t0 + 31_000_000).to_string(),
            "attributes": [{"key": "db.rows", "value": {"intValue": "12"}}],
            "events": [{"timeUnixNano": (t0 + 30_000_000).to_string(), "name": "timeout"}],
            "status": {"code": 2, "message": "statement timeout"}
        }]}]
    }]});
    let status = post(
        console.http,
        "/v1/traces",
        "application/json",
        json_spans.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    let json_logs = json!({"resourceLogs": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "db"}},
            {"key": "instance_id", "value": {"stringValue": "i-42"}}
        ]},
        "scopeLogs": [{"logRecords": [{
            "timeUnixNano": (t0 + 30_000_000).to_string(),
            "severityNumber": 17, "severityText": "ERROR",
            "body": {"stringValue": "statement timeout after 30 ms"},
            "attributes": [{"key": "subsystem", "value": {"stringValue": "QUERY"}}],
            "traceId": hex(&trace), "spanId": hex(&span_id(4))
        }]}]
    }]});
    let status = post(
        console.http,
        "/v1/logs",
        "application/json",
        json_logs.to_string().into_bytes(),
    )
    .await;
    assert_eq!(status, 200);
    // An unrelated INFO record over gRPC, and metrics over HTTP/protobuf.
    grpc_logs(
        console.grpc,
        logs("shop", vec![log(t0, 9, "cache warmed", None, vec![])]),
    )
    .await;
    let mut m = metrics(
        "shop",
        "shop_requests_total",
        &[
            (t0, 10.0),
            (t0 + 1_000_000_000, 30.0),
            (t0 + 2_000_000_000, 40.0),
        ],
        &[(t0, [5, 5, 0]), (t0 + 1_000_000_000, [5, 15, 0])],
    );
    // The slow request's measurement, in its trace; the cumulative point after repeats it.
    with_exemplar(&mut m, 0, t0 + 40_000_000, 0.04, trace, root);
    with_exemplar(&mut m, 1, t0 + 40_000_000, 0.04, trace, root);
    assert_eq!(post_protobuf(console.http, "/v1/metrics", &m).await, 200);

    // The API, read as a script would (blocking calls: the runtime has a thread to spare).
    let c = &console;
    let tid = hex(&trace);
    let list = c.wait_for("/api/traces", |v| v["traces"][0]["spans"] == 3);
    let t = &list["traces"][0];
    assert_eq!(t["trace_id"], tid);
    assert_eq!(t["root"], "GET /orders/{id}");
    assert_eq!(t["service"], "shop");
    assert_eq!(t["services"], json!(["db", "shop"]));
    assert_eq!(t["status"], "error");
    assert_eq!(t["duration_ns"], 40_000_000);
    assert_eq!(t["route"], "/orders/{id}");

    let detail = c.wait_for(&format!("/api/traces/{tid}"), |v| {
        v["log_list"].as_array().is_some_and(|l| l.len() == 1)
    });
    let spans = detail["span_list"].as_array().unwrap();
    let shape: Vec<(&str, u64, Option<&str>)> = spans
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["depth"].as_u64().unwrap(),
                s["parent_id"].as_str(),
            )
        })
        .collect();
    let (root, client) = (hex(&span_id(1)), hex(&span_id(2)));
    assert_eq!(
        shape,
        [
            ("GET /orders/{id}", 0, None),
            ("SELECT orders", 1, Some(root.as_str())),
            ("query orders", 2, Some(client.as_str())),
        ]
    );
    assert_eq!(spans[2]["service"], "db");
    assert_eq!(spans[2]["kind"], "server");
    assert_eq!(
        spans[2]["attributes"]["db.rows"], 12,
        "an intValue string read as a number"
    );
    assert_eq!(spans[2]["events"][0]["name"], "timeout");
    assert_eq!(spans[2]["status_message"], "statement timeout");
    assert_eq!(
        detail["log_list"][0]["body"],
        "statement timeout after 30 ms"
    );

    // Logs: by level, by resource attribute, by subsystem, by text, by trace.
    let bodies = |path: &str| -> Vec<String> {
        c.json(path)["logs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["body"].as_str().unwrap().to_owned())
            .collect()
    };
    c.wait_for("/api/logs", |v| {
        v["logs"].as_array().is_some_and(|l| l.len() == 2)
    });
    let timeout = ["statement timeout after 30 ms".to_owned()];
    assert_eq!(bodies("/api/logs?level=warn"), timeout);
    assert_eq!(bodies("/api/logs?attr=instance_id%3Di-42"), timeout);
    assert_eq!(bodies("/api/logs?subsystem=QUERY"), timeout);
    assert_eq!(bodies("/api/logs?text=TIMEOUT"), timeout);
    assert_eq!(bodies(&format!("/api/logs?trace_id={tid}")), timeout);
    assert_eq!(
        bodies("/api/logs?service=shop"),
        ["cache warmed".to_owned()]
    );
    let record = &c.json("/api/logs?level=error")["logs"][0];
    assert_eq!(record["trace_id"], tid);
    assert_eq!(record["level"], "ERROR");
    assert_eq!(record["resource"]["instance_id"], "i-42");

    // Errors: one group per span name and error.
    let errors = c.json("/api/errors");
    let groups: Vec<(&str, &str, u64)> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| {
            (
                g["name"].as_str().unwrap(),
                g["error"].as_str().unwrap(),
                g["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        groups,
        [
            ("GET /orders/{id}", "db timeout", 1),
            ("query orders", "statement timeout", 1)
        ]
    );
    assert_eq!(errors["errors"][0]["sample_trace_id"], tid);

    // Services and the edge shop → db (a client span and the server span it caused).
    let services = c.json("/api/services");
    let names: Vec<&str> = services["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["db", "shop"]);
    assert_eq!(
        services["edges"],
        json!([{"from": "shop", "to": "db", "calls": 1, "errors": 1, "client_server": 1}])
    );

    // Operations: slowest p99 first.
    let ops = c.json("/api/operations");
    let ops: Vec<(&str, &str, u64, u64)> = ops["operations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["service"].as_str().unwrap(),
                o["name"].as_str().unwrap(),
                o["p99_ns"].as_u64().unwrap(),
                o["errors"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ops,
        [
            ("shop", "GET /orders/{id}", 40_000_000, 1),
            ("shop", "SELECT orders", 30_000_000, 0),
            ("db", "query orders", 28_000_000, 1),
        ]
    );

    // Metrics: the names, a counter as a rate, a histogram as quantiles.
    let metrics = c.wait_for("/api/metrics", |v| {
        v["metrics"].as_array().is_some_and(|m| m.len() == 2)
    });
    assert_eq!(metrics["metrics"][0]["name"], "shop_requests_total");
    assert_eq!(metrics["metrics"][0]["kind"], "counter");
    assert_eq!(metrics["metrics"][0]["services"], json!(["shop"]));
    let rate = c.json("/api/metrics?name=shop_requests_total");
    assert_eq!(rate["shown_as"], "rate per second");
    let points: Vec<f64> = rate["series"][0]["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p[1].as_f64().unwrap())
        .collect();
    assert_eq!(points, [20.0, 10.0]);
    let hist = c.json("/api/metrics?name=shop_requests_total_seconds");
    let p50: &Value = hist["series"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["labels"]["quantile"] == "p50")
        .unwrap();
    // Second interval: 10 new observations, all in (0.1, 1]: p50 interpolates to 0.55.
    let last = p50["points"].as_array().unwrap().last().unwrap()[1]
        .as_f64()
        .unwrap();
    assert!((last - 0.55).abs() < 1e-9, "{p50}");

    assert_eq!(
        hist["exemplars"],
        json!([{
            "time_ms": (t0 + 40_000_000) / 1_000_000,
            "value": 0.04,
            "trace_id": tid,
            "span_id": hex(&span_id(1)),
        }]),
        "one exemplar, once, leading to its trace"
    );

    let stats = c.json("/api/stats");
    assert_eq!(
        stats["stored"],
        json!({"spans": 3, "logs": 2, "metric_points": 5})
    );
    assert_eq!(
        stats["evicted"],
        json!({"spans": 0, "logs": 0, "metric_points": 0})
    );
    assert_eq!(stats["invalid_exports"], 0);
}
