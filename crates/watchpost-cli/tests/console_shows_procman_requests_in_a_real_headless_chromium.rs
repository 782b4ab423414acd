//! A real service and a real browser: procman (the workspace's reference service, its debug
//! binary) exports over OTLP/gRPC to the real `watchpost console` (`OTEL_ENABLED=true`, every
//! trace kept); a few requests are made to it — an instance spawned (a process of its own), an
//! exec that works, an exec that times out (a 504 and an error trace), a create refused (422), an
//! unknown instance (404), the instance deleted. Headless Chromium then loads the console's pages
//! and reads the DOM: the trace list shows every request procman traced and its filters narrow
//! it, the create's waterfall has one bar per span nested as procman made them
//! (`POST /instances` → `create_instance` → `spawn`), the failed exec's waterfall carries its
//! log lines, and a log line's link opens its trace. Screenshots go to
//! target/console-screenshots/procman-*.png.
//!
//! Needs `chromium` and `chromedriver` (Debian: chromium chromium-driver; .ci/run installs them):
//! skips with a notice when they are missing, except under `CI=true`. procman is the binary
//! beside this test's (`target/<profile>/procman`, which `cargo test --workspace` builds); when
//! it is missing it is built first (`cargo build -p procman`).

#[path = "support/console.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde_json::Value;
use support::*;
use watchpost_testkit::process::{command, Process};
use watchpost_testkit::tools::TempDir;
use watchpost_testkit::webdriver::Browser;

fn shots() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../target/console-screenshots"
    ))
}

/// procman's binary beside this test's (`target/<profile>/deps/<test>` → `target/<profile>/`),
/// built when missing.
fn procman() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary is in target/<profile>/deps");
    let program = profile_dir.join("procman");
    if !program.is_file() {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = std::process::Command::new(cargo);
        build.args(["build", "-p", "procman", "--target-dir"]);
        build.arg(profile_dir.parent().expect("target/<profile>"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build -p procman failed");
    }
    program
}

/// A request to procman: (status, body as JSON).
async fn call(c: &reqwest::Client, method: &str, url: String, body: Option<&str>) -> (u16, Value) {
    let mut req = c.request(method.parse().unwrap(), url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let res = req.send().await.expect("procman answers");
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The trace of `root` in the console's list (the only one), its id.
fn trace_of(list: &Value, root: &str) -> String {
    let found: Vec<&Value> = list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["root"] == root)
        .collect();
    assert_eq!(found.len(), 1, "one trace of {root}: {list:#}");
    found[0]["trace_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_shows_procman_requests_in_a_real_headless_chromium() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let console = start(&[]);
    let data_dir = TempDir::new("procman-console");
    let endpoint = console.grpc.to_string();
    let procman = Stopped(Process::spawn(
        command(procman())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(&data_dir.0)
            .stdin(Stdio::null())
            .env("METRICS_LISTEN", "127.0.0.1:0")
            .env("OTEL_ENABLED", "true")
            .env("OTEL_ENDPOINT", &endpoint)
            // Every trace kept (the default keeps a tenth of the ordinary ones), sent within
            // 100 ms.
            .env("OTEL_TRACES_SAMPLER_RATIO", "1")
            .env("OTEL_BSP_SCHEDULE_DELAY", "100")
            .env("OTEL_BLRP_SCHEDULE_DELAY", "100")
            .env("OTEL_METRIC_EXPORT_INTERVAL", "1000"),
        "procman",
    ));
    let [api] = procman
        .0
        .listeners("procman", ["procman: listening on http://"]);
    let url = |path: &str| format!("http://{api}{path}");

    // The requests: a spawned instance, an exec, an exec that times out, a refused create, an
    // unknown instance, the instance deleted.
    let c = reqwest::Client::new();
    let (status, created) = call(
        &c,
        "POST",
        url("/instances"),
        Some(r#"{"name":"ticker","command":"sh","args":["-c","echo started; sleep 30"]}"#),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let exec = url(&format!("/instances/{id}/exec"));
    let (status, out) = call(&c, "POST", exec.clone(), Some(r#"{"command":"true"}"#)).await;
    assert_eq!((status, &out["exit_code"]), (200, &Value::from(0)), "{out}");
    let slow = r#"{"command":"sleep","args":["5"],"timeout_ms":200}"#;
    let (status, out) = call(&c, "POST", exec, Some(slow)).await;
    assert_eq!(status, 504, "{out}");
    let refused = r#"{"name":"bad","command":"/nonexistent/command"}"#;
    let (status, out) = call(&c, "POST", url("/instances"), Some(refused)).await;
    assert_eq!(status, 422, "{out}");
    let (status, _) = call(&c, "GET", url("/instances/000000000000"), None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&c, "DELETE", url(&format!("/instances/{id}")), None).await;
    assert_eq!(status, 204);

    // The console has them all: six request traces, the create's with three spans, the delete's
    // with the `delete_instance` span that runs in a task of its own (in the request's span).
    let list = console.wait_for("/api/traces?service=procman", |v| {
        let t = v["traces"].as_array().unwrap();
        t.len() >= 6
            && t.iter()
                .any(|t| t["root"] == "DELETE /instances/{id}" && t["spans"].as_u64() >= Some(2))
            && t.iter()
                .filter(|t| t["root"] == "POST /instances")
                .any(|t| t["spans"] == 3)
    });
    let traces = list["traces"].as_array().unwrap().len();
    // The first create (201; the refused one, later, has the same three spans).
    let created_trace = list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["root"] == "POST /instances" && t["spans"] == 3)
        .min_by_key(|t| t["start_ns"].as_u64())
        .unwrap()["trace_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = console.wait_for("/api/traces?errors=true", |v| {
        v["traces"].as_array().unwrap().len() == 1 && v["traces"][0]["logs"].as_u64() >= Some(2)
    });
    let failed_trace = trace_of(&failed, "POST /instances/{id}/exec");
    let base = format!("http://{}", console.ui);

    // The trace list: every request procman traced, newest first.
    browser.goto(&format!("{base}/traces"));
    let rows = browser.find_all("tr.trace-row");
    assert_eq!(rows.len(), traces);
    let roots: Vec<String> = rows.iter().map(|r| browser.text(r)).collect();
    for root in [
        "POST /instances/{id}/exec",
        "GET /instances/{id}",
        "DELETE /instances/{id}",
    ] {
        assert!(
            roots.iter().any(|r| r.contains(root)),
            "{root} in the list: {roots:#?}"
        );
    }
    browser.screenshot(&shots().join("procman-traces.png"));
    // Filters: "errors only" leaves the timed-out exec; a route leaves that route's requests.
    browser.click(&browser.find("input[name=errors]"));
    browser.click(&browser.find("form.filters button[type=submit]"));
    browser.wait_for("errors only", |b| b.url().contains("errors=true"));
    let rows = browser.find_all("tr.trace-row");
    assert_eq!(rows.len(), 1);
    assert_eq!(
        browser.attr(&rows[0], "data-trace-id").as_deref(),
        Some(failed_trace.as_str())
    );
    browser.goto(&format!("{base}/traces"));
    browser.type_into(&browser.find("input[name=route]"), "/instances/{id}/exec");
    browser.click(&browser.find("form.filters button[type=submit]"));
    browser.wait_for("the route filter", |b| b.url().contains("route="));
    let rows = browser.find_all("tr.trace-row");
    assert_eq!(rows.len(), 2, "the two execs");
    assert!(rows
        .iter()
        .all(|r| browser.text(r).contains("POST /instances/{id}/exec")));
    browser.screenshot(&shots().join("procman-traces-filtered.png"));

    // The create's waterfall: one bar per span, procman's nesting.
    browser.goto(&format!("{base}/traces/{created_trace}"));
    let rows = browser.find_all(".waterfall .span-row");
    assert_eq!(rows.len(), 3);
    assert_eq!(browser.find_all(".waterfall .span-row .bar").len(), 3);
    let mut seen: Vec<(String, u64)> = Vec::new();
    for row in &rows {
        let span = browser.attr(row, "data-span-id").unwrap();
        let parent = browser.attr(row, "data-parent-id").unwrap_or_default();
        let depth: u64 = browser.attr(row, "data-depth").unwrap().parse().unwrap();
        let expected = if parent.is_empty() {
            0
        } else {
            seen.iter()
                .find(|(s, _)| *s == parent)
                .unwrap_or_else(|| panic!("span {span}'s parent {parent} is not above it"))
                .1
                + 1
        };
        assert_eq!(depth, expected, "span {span}");
        seen.push((span, depth));
    }
    let names: Vec<String> = browser
        .find_all(".waterfall .span-row summary .label")
        .iter()
        .map(|l| browser.text(l))
        .collect();
    assert_eq!(seen.iter().map(|(_, d)| *d).collect::<Vec<_>>(), [0, 1, 2]);
    for (label, name) in names
        .iter()
        .zip(["POST /instances", "create_instance", "spawn"])
    {
        assert!(label.contains(name), "{label:?} is {name}");
    }
    // Its root's attributes, opened: the 201 procman answered.
    browser.click(&browser.find(".waterfall .span-row summary"));
    let detail = browser.text(&browser.find(".waterfall .span-row .detail"));
    assert!(
        detail.contains("http.response.status_code") && detail.contains("201"),
        "{detail}"
    );
    browser.screenshot(&shots().join("procman-create-waterfall.png"));

    // The failed exec's waterfall: its spans and its two log lines (the WARN access line and
    // the ERROR about the timeout).
    browser.goto(&format!("{base}/traces/{failed_trace}"));
    assert_eq!(browser.find_all(".waterfall .span-row").len(), 2);
    let logs: Vec<String> = browser
        .find_all(".waterfall .log-row")
        .iter()
        .map(|l| browser.text(l))
        .collect();
    assert!(
        logs.iter().any(|l| l.contains("exec timed out")),
        "{logs:?}"
    );
    browser.screenshot(&shots().join("procman-failed-exec-waterfall.png"));

    // The logs page: the ERROR line's link opens the failed exec's trace.
    browser.goto(&format!("{base}/logs"));
    let lines = browser.find_all("tr.log-line");
    assert!(lines.len() >= 6, "an access line per request at least");
    browser.screenshot(&shots().join("procman-logs.png"));
    let link = browser
        .find_all("tr.log-line.level-ERROR a.trace-link")
        .into_iter()
        .next()
        .expect("the ERROR line links its trace");
    browser.click(&link);
    browser.wait_for("the trace page", |b| {
        b.url().contains(&format!("/traces/{failed_trace}"))
    });
    let waterfall = browser.find(".waterfall");
    assert_eq!(
        browser.attr(&waterfall, "data-trace-id").as_deref(),
        Some(failed_trace.as_str())
    );
    // The level filter narrows the lines to the WARN and ERROR ones.
    browser.goto(&format!("{base}/logs?level=warn"));
    let lines = browser.find_all("tr.log-line");
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| {
        let class = browser.attr(l, "class").unwrap_or_default();
        class.contains("level-WARN") || class.contains("level-ERROR")
    }));
    browser.screenshot(&shots().join("procman-logs-warn.png"));
    drop(procman);
}

/// procman, stopped (SIGTERM, then waited for) when the test ends, passed or failed.
struct Stopped(Process);

impl Drop for Stopped {
    fn drop(&mut self) {
        self.0.sigterm();
        let _ = self.0.wait();
    }
}
