//! A real browser: headless Chromium, driven over WebDriver by chromedriver, loads every page of
//! the real `watchpost console` holding three traces, their log lines and metrics, and reads the
//! DOM: the trace list and its filters narrow, the waterfall has one bar per span nested as the
//! spans are, a log line's link opens its trace at its span, the error groups and the dependency
//! edge are there, and a metric is drawn. Screenshots go to target/console-screenshots/.
//!
//! Needs `chromium` and `chromedriver` (Debian: chromium chromium-driver; .ci/run installs them).
//! Skips with a notice when they are missing, except under `CI=true`.

#[path = "support/console.rs"]
mod support;

use std::path::PathBuf;

use support::*;
use watchpost_testkit::webdriver::Browser;

fn shots() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/console-screenshots"
    ))
}

async fn send(console: &Console) {
    let t0 = now_ns() - 30_000_000_000;
    let (t1, t2, t3) = (trace_id(1), trace_id(2), trace_id(3));
    let route = |r: &str| vec![kv("http.route", r), kv("http.request.method", "GET")];
    grpc_traces(
        console.grpc,
        traces(
            "shop",
            vec![
                span(
                    t1,
                    span_id(1),
                    None,
                    "GET /orders/{id}",
                    2,
                    t0,
                    48,
                    route("/orders/{id}"),
                    Some("upstream failed"),
                ),
                span(
                    t1,
                    span_id(2),
                    Some(span_id(1)),
                    "SELECT orders",
                    3,
                    t0 + 4_000_000,
                    36,
                    vec![kv("db.system.name", "postgresql")],
                    None,
                ),
                span(
                    t2,
                    span_id(5),
                    None,
                    "GET /health",
                    2,
                    t0 + 1_000_000_000,
                    1,
                    route("/health"),
                    None,
                ),
            ],
        ),
    )
    .await;
    let db = traces(
        "db",
        vec![
            span(
                t1,
                span_id(3),
                Some(span_id(2)),
                "query orders",
                2,
                t0 + 6_000_000,
                32,
                vec![kv("db.rows", "0")],
                Some("statement timeout"),
            ),
            span(
                t1,
                span_id(4),
                Some(span_id(3)),
                "read index",
                1,
                t0 + 8_000_000,
                20,
                vec![],
                None,
            ),
        ],
    );
    assert_eq!(post_protobuf(console.http, "/v1/traces", &db).await, 200);
    grpc_traces(
        console.grpc,
        traces(
            "auth",
            vec![
                span(
                    t3,
                    span_id(6),
                    None,
                    "POST /login",
                    2,
                    t0 + 2_000_000_000,
                    12,
                    route("/login"),
                    None,
                ),
                span(
                    t3,
                    span_id(7),
                    Some(span_id(6)),
                    "hash password",
                    1,
                    t0 + 2_001_000_000,
                    10,
                    vec![],
                    None,
                ),
            ],
        ),
    )
    .await;
    grpc_logs(
        console.grpc,
        logs(
            "shop",
            vec![log(
                t0 + 1_000_000,
                9,
                "order requested",
                Some((t1, span_id(1))),
                vec![kv("instance_id", "i-7"), kv("subsystem", "API")],
            )],
        ),
    )
    .await;
    let warn = logs(
        "db",
        vec![log(
            t0 + 37_000_000,
            13,
            "statement timeout <after 30 ms>",
            Some((t1, span_id(3))),
            vec![kv("subsystem", "QUERY")],
        )],
    );
    assert_eq!(post_protobuf(console.http, "/v1/logs", &warn).await, 200);
    let s = 1_000_000_000;
    let mut m = metrics(
        "shop",
        "shop_requests_total",
        &[
            (t0, 10.0),
            (t0 + s, 30.0),
            (t0 + 2 * s, 35.0),
            (t0 + 3 * s, 60.0),
        ],
        &[
            (t0, [5, 5, 0]),
            (t0 + s, [8, 15, 1]),
            (t0 + 2 * s, [9, 30, 2]),
        ],
    );
    with_exemplar(&mut m, 2, t0 + 2 * s, 0.048, t1, span_id(1));
    assert_eq!(post_protobuf(console.http, "/v1/metrics", &m).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_pages_work_in_a_real_headless_chromium() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let console = start(&[]);
    send(&console).await;
    console.wait_for("/api/stats", |s| {
        s["stored"] == serde_json::json!({"spans": 7, "logs": 2, "metric_points": 7})
    });
    let base = format!("http://{}", console.ui);
    let (t1, t3) = (hex(&trace_id(1)), hex(&trace_id(3)));

    // Traces: three, newest first; the service filter narrows to one, so does "errors only".
    browser.goto(&format!("{base}/traces"));
    assert_eq!(browser.find_all("tr.trace-row").len(), 3);
    browser.screenshot(&shots().join("traces.png"));
    browser.type_into(&browser.find("input[name=service]"), "auth");
    browser.click(&browser.find("form.filters button[type=submit]"));
    browser.wait_for("the filtered list", |b| b.url().contains("service=auth"));
    let rows = browser.find_all("tr.trace-row");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        browser.attr(&rows[0], "data-trace-id").as_deref(),
        Some(t3.as_str())
    );
    assert!(browser.text(&rows[0]).contains("POST /login"));
    browser.goto(&format!("{base}/traces"));
    browser.click(&browser.find("input[name=errors]"));
    browser.click(&browser.find("form.filters button[type=submit]"));
    browser.wait_for("errors only", |b| b.url().contains("errors=true"));
    let rows = browser.find_all("tr.trace-row");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        browser.attr(&rows[0], "data-trace-id").as_deref(),
        Some(t1.as_str())
    );

    // The waterfall: one bar per span, each row one deeper than its parent's, after it.
    browser.goto(&format!("{base}/traces/{t1}"));
    let rows = browser.find_all(".waterfall .span-row");
    assert_eq!(rows.len(), 4);
    assert_eq!(browser.find_all(".waterfall .span-row .bar").len(), 4);
    let mut seen: Vec<(String, u64)> = Vec::new();
    for row in &rows {
        let id = browser.attr(row, "data-span-id").unwrap();
        let parent = browser.attr(row, "data-parent-id").unwrap_or_default();
        let depth: u64 = browser.attr(row, "data-depth").unwrap().parse().unwrap();
        let expected = if parent.is_empty() {
            0
        } else {
            let (_, d) = seen
                .iter()
                .find(|(s, _)| *s == parent)
                .unwrap_or_else(|| panic!("span {id}'s parent {parent} is not above it"));
            d + 1
        };
        assert_eq!(depth, expected, "span {id}");
        seen.push((id, depth));
    }
    assert_eq!(
        seen.iter().map(|(_, d)| *d).collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    // Bars sit inside their track, and a child starts no earlier than its parent.
    let lefts: Vec<f64> = browser
        .script(
            "return Array.from(document.querySelectorAll('.span-row .bar')).map(b => parseFloat(b.style.left));",
            vec![],
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert!(lefts.windows(2).all(|w| w[0] <= w[1]), "{lefts:?}");
    // The content security policy lets the style sheet and the bars' inline positions apply:
    // each bar is drawn where its style puts it (off by more than 2 px, or not positioned by the
    // style sheet, is a policy that blocks them).
    let misplaced = browser.script(
        "return Array.from(document.querySelectorAll('.span-row .bar')).filter(b => { \
           const t = b.parentElement.getBoundingClientRect(); \
           const at = b.getBoundingClientRect().left - t.left; \
           return getComputedStyle(b).position !== 'absolute' \
             || Math.abs(at - parseFloat(b.style.left) / 100 * t.width) > 2; \
         }).length;",
        vec![],
    );
    assert_eq!(misplaced, 0, "bars not drawn where their style says");
    assert!(
        lefts.iter().any(|l| *l > 5.0),
        "a child bar starts later than its root: {lefts:?}"
    );
    let logs = browser.find_all(".waterfall .log-row");
    assert_eq!(logs.len(), 2, "the trace's log lines are interleaved");
    assert!(
        browser
            .text(&logs[1])
            .contains("statement timeout <after 30 ms>"),
        "escaped text shows as written"
    );
    browser.click(&browser.find(&format!("#span-{} > summary", hex(&span_id(3)))));
    browser.screenshot(&shots().join("trace-waterfall.png"));

    // Logs: a line's link opens its trace, at its span.
    browser.goto(&format!("{base}/logs"));
    let lines = browser.find_all("tr.log-line");
    assert_eq!(lines.len(), 2);
    browser.screenshot(&shots().join("logs.png"));
    let warn = lines
        .iter()
        .find(|l| browser.text(l).contains("statement timeout"))
        .expect("the WARN line");
    let link = browser
        .find_all("tr.log-line a.trace-link")
        .into_iter()
        .find(|a| {
            browser
                .attr(a, "href")
                .unwrap_or_default()
                .contains(&hex(&span_id(3)))
        })
        .expect("the WARN line's trace link");
    let _ = warn;
    browser.click(&link);
    browser.wait_for("the trace page", |b| {
        b.url().contains(&format!("/traces/{t1}"))
    });
    let waterfall = browser.find(".waterfall");
    assert_eq!(
        browser.attr(&waterfall, "data-trace-id").as_deref(),
        Some(t1.as_str())
    );
    let opened = browser.script(
        "return document.getElementById(arguments[0]).open;",
        vec![format!("span-{}", hex(&span_id(3))).into()],
    );
    assert_eq!(opened, true, "the linked span's row is open");
    // The attribute filter narrows the log lines.
    browser.goto(&format!("{base}/logs"));
    browser.type_into(&browser.find("input[name=attr]"), "instance_id=i-7");
    browser.click(&browser.find("form.filters button[type=submit]"));
    browser.wait_for("the filtered log lines", |b| {
        b.url().contains("attr=instance_id")
    });
    let lines = browser.find_all("tr.log-line");
    assert_eq!(lines.len(), 1);
    assert!(browser.text(&lines[0]).contains("order requested"));

    // Errors: two groups, each linking a sample trace.
    browser.goto(&format!("{base}/errors"));
    assert_eq!(browser.find_all("tr.error-group").len(), 2);
    assert_eq!(browser.find_all("tr.error-group a.trace-link").len(), 2);
    browser.screenshot(&shots().join("errors.png"));

    // Operations: one row per service and span name, slowest first.
    browser.goto(&format!("{base}/operations"));
    let ops = browser.find_all("tr.operation");
    assert_eq!(ops.len(), 7);
    assert!(browser.text(&ops[0]).contains("GET /orders/{id}"));
    browser.screenshot(&shots().join("operations.png"));

    // Services: the dependency edge shop → db in the table and on the map.
    browser.goto(&format!("{base}/services"));
    assert_eq!(
        browser
            .find_all("tr.edge-row[data-from=shop][data-to=db]")
            .len(),
        1
    );
    assert_eq!(
        browser
            .find_all("svg.map line.edge[data-from=shop][data-to=db]")
            .len(),
        1
    );
    assert_eq!(browser.find_all("svg.map g.node").len(), 3);
    browser.screenshot(&shots().join("services.png"));

    // Metrics: a counter drawn as a rate, a histogram as three quantile lines.
    browser.goto(&format!("{base}/charts?name=shop_requests_total"));
    assert_eq!(browser.find_all("svg.chart polyline.series").len(), 1);
    browser.screenshot(&shots().join("metric-counter.png"));
    browser.goto(&format!("{base}/charts?name=shop_requests_total_seconds"));
    assert_eq!(browser.find_all("svg.chart polyline.series").len(), 3);
    browser.screenshot(&shots().join("metric-histogram.png"));
    // Its exemplar leads to the trace it was measured in.
    let dots = browser.find_all("svg.chart a.exemplar circle");
    assert_eq!(dots.len(), 1);
    browser.click(&dots[0]);
    browser.wait_for("the exemplar's trace", |b| {
        b.url().contains(&format!("/traces/{t1}"))
    });
    assert_eq!(browser.find_all(".waterfall .span-row").len(), 4);
}
