//! The real `watchpost console --data DIR` takes `POST /api/import` only as
//! `Content-Type: application/json` (415 otherwise), only from a program or its own pages (403
//! to a foreign `Origin` or `Sec-Fetch-Site: cross-site`: a page of another site cannot plant
//! telemetry), with no query parameter (400 naming it) and a body of at most 64 MiB (413, in the
//! API's JSON shape, before the body is read). Nothing refused is stored or written to DIR; the
//! same document sent properly is.

#[path = "support/console.rs"]
mod support;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;
use support::*;
use watchpost_testkit::tools::TempDir;

const DOC: &str = r#"{"logs":{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1764496800000000000","body":{"stringValue":"planted"}}]}]}]}}"#;

/// POSTs `DOC` to `/api/import{query}` with `headers`: (status, JSON body).
async fn import(ui: SocketAddr, query: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("http://{ui}/api/import{query}"))
        .body(DOC);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.expect("the console answers");
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    (status, body)
}

/// Sends only the head of a POST declaring a body over the limit: the answer comes without it.
fn declare_too_large(ui: SocketAddr) -> (u16, Value) {
    let mut s = TcpStream::connect(ui).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "POST /api/import HTTP/1.1\r\nHost: {ui}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{{",
        (64 << 20) + 1
    )
    .unwrap();
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    // Up to the end of the JSON answer (the connection may stay open for the unread body).
    loop {
        let n = s.read(&mut buf).expect("an answer before the body is sent");
        raw.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&raw);
        if n == 0
            || text
                .split_once("\r\n\r\n")
                .is_some_and(|(_, b)| b.ends_with('}'))
        {
            break;
        }
    }
    let text = String::from_utf8(raw).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").expect("an HTTP answer");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_import_refuses_other_sites_pages_other_content_types_and_unknown_parameters() {
    let dir = TempDir::new("console-import-guard");
    let data = dir.0.join("data");
    let console = start(&["--data", data.to_str().unwrap()]);
    let json = ("content-type", "application/json");
    let own_origin = format!("http://{}", console.ui);

    let (status, body) = import(console.ui, "", &[("content-type", "text/plain")]).await;
    assert_eq!(status, 415, "{body}");
    assert_eq!(body["parameter"], "content-type", "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("application/json"),
        "{body}"
    );

    let (status, body) = import(console.ui, "", &[json, ("origin", "https://evil.example")]).await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("evil.example"),
        "{body}"
    );
    let (status, body) = import(
        console.ui,
        "",
        &[
            ("content-type", "text/plain"),
            ("origin", "https://evil.example"),
        ],
    )
    .await;
    assert_eq!(status, 403, "a simple cross-site form post: {body}");
    let other_port = format!("http://127.0.0.1:{}", console.ui.port() + 1);
    let (status, body) = import(console.ui, "", &[json, ("origin", &other_port)]).await;
    assert_eq!(status, 403, "another port is another site: {body}");
    let (status, body) = import(console.ui, "", &[json, ("sec-fetch-site", "cross-site")]).await;
    assert_eq!(status, 403, "{body}");

    let (status, body) = import(console.ui, "?bogus=1", &[json]).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["parameter"], "bogus", "{body}");

    let (status, body) = declare_too_large(console.ui);
    assert_eq!(status, 413, "{body}");
    assert_eq!(body["parameter"], "body", "{body}");
    assert!(body["error"].as_str().unwrap().contains("64 MiB"), "{body}");

    let stats = console.json("/api/stats");
    assert_eq!(
        stats["received"]["logs"], 0,
        "nothing refused is stored: {stats:#}"
    );

    // The same document from the console's own page (or a program): stored.
    let (status, body) = import(
        console.ui,
        "",
        &[
            ("content-type", "application/json; charset=utf-8"),
            ("origin", &own_origin),
            ("sec-fetch-site", "same-origin"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"]["logs"], 1, "{body}");
    drop(console);

    // Only that one was written to --data: a restart replays one export.
    let console = start(&["--data", data.to_str().unwrap()]);
    let stats = console.json("/api/stats");
    assert_eq!(stats["data"]["replayed_exports"], 1, "{stats:#}");
    let logs = console.json("/api/logs");
    let bodies: Vec<&str> = logs["logs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["planted"], "{logs:#}");
}
