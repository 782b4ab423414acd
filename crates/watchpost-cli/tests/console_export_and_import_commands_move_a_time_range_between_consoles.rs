//! `watchpost console export --url … --from … --to … --out FILE` writes a running console's
//! range to a file, and `watchpost console import FILE --url …` stores it in another; inputs
//! that cannot be used stop either with exit code 2 and a message naming them.

#[path = "support/console.rs"]
mod support;

use std::process::Command;

use support::*;

fn watchpost(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_watchpost"))
        .args(args)
        .output()
        .expect("run watchpost");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_export_and_import_commands_move_a_time_range_between_consoles() {
    let dir =
        std::env::temp_dir().join(format!("watchpost-console-transfer-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("range.json");
    let file_arg = file.to_str().unwrap();

    let source = start(&[]);
    let now = now_ns();
    let hour = 3_600_000_000_000;
    let (recent, old) = (trace_id(1), trace_id(2));
    for (trace, t) in [(recent, now - 60_000_000_000), (old, now - 3 * hour)] {
        let spans = vec![span(
            trace,
            span_id(1),
            None,
            "GET /orders",
            2,
            t,
            12,
            vec![],
            None,
        )];
        grpc_traces(source.grpc, traces("orders", spans)).await;
    }
    source.wait_for("/api/stats", |s| s["stored"]["spans"] == 2);
    let from_ms = ((now - hour) / 1_000_000).to_string();
    let source_url = format!("http://{}", source.ui);

    let (code, stderr) = watchpost(&[
        "console",
        "export",
        "--url",
        &source_url,
        "--from",
        &from_ms,
        "--signal",
        "traces",
        "--out",
        file_arg,
    ]);
    assert_eq!(code, 0, "{stderr}");
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let spans = &doc["traces"]["resourceSpans"][0]["scopeSpans"][0]["spans"];
    assert_eq!(spans.as_array().map(Vec::len), Some(1), "{doc:#}");
    assert_eq!(spans[0]["traceId"], hex(&recent));

    let target = start(&[]);
    let target_url = format!("http://{}/", target.ui);
    let (code, stderr) = watchpost(&["console", "import", file_arg, "--url", &target_url]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stderr.contains("imported 1 spans, 0 log records and 0 metric points"),
        "{stderr}"
    );
    assert_eq!(
        target.json(&format!("/api/traces/{}", hex(&recent)))["root"],
        "GET /orders"
    );
    let (status, _) = target.get(&format!("/api/traces/{}", hex(&old)));
    assert_eq!(status, 404, "outside the range");

    // Inputs that cannot be used: exit 2, named.
    let not_a_document = dir.join("notes.json");
    std::fs::write(&not_a_document, r#"{"resourceSpans": []}"#).unwrap();
    let not_a_document = not_a_document.to_str().unwrap();
    for (args, named) in [
        (
            vec![
                "console",
                "export",
                "--url",
                &source_url,
                "--from",
                "last tuesday",
            ],
            "--from: 'last tuesday' is not a time",
        ),
        (
            vec!["console", "export", "--url", "127.0.0.1:1"],
            "--url '127.0.0.1:1': not an HTTP URL",
        ),
        (
            vec![
                "console",
                "export",
                "--url",
                &source_url,
                "--signal",
                "spans",
            ],
            "--signal",
        ),
        (
            vec!["console", "import", not_a_document, "--url", &target_url],
            "not an export document",
        ),
        (
            vec![
                "console",
                "import",
                "/nonexistent/range.json",
                "--url",
                &target_url,
            ],
            "/nonexistent/range.json: cannot read",
        ),
    ] {
        let (code, stderr) = watchpost(&args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
