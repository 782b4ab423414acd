//! What a Watchpost service passes on, over real sockets: a caller sends headers to the W3C test
//! service (`tracecontext_service`: `HttpLayer`, then a call out through `ReqwestMiddleware` or
//! `HttpClientLayer`), and a receiver records the headers of the call out. The rules, written
//! from the W3C Trace Context and Baggage specifications:
//! - `traceparent`: same trace id, a new parent id, the caller's sampled flag (`-00` stays `-00`);
//!   with no caller, the sampling ratio's decision (0 → `-00`, 1 → `-01`); an invalid one starts a
//!   new trace.
//! - `tracestate`: several headers combine in order, OWS trimmed, empty members and headers
//!   skipped, a duplicated key keeps its first value, an invalid list (a bad key or value, 33
//!   members) is discarded whole, never sent without a valid `traceparent`, never sent empty.
//! - `baggage`: passed on (values decoded and re-encoded), at most 64 members and 8 KiB.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use watchpost_testkit::process::{command, Process};

const TRACE: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";

fn tp(flags: &str) -> String {
    format!("00-{TRACE}-{PARENT}-{flags}")
}

/// Records the headers of every request it receives.
struct Receiver {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<HeaderMap>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let seen: Arc<Mutex<Vec<HeaderMap>>> = Arc::default();
        let s = seen.clone();
        let app = axum::Router::new().route(
            "/cb",
            axum::routing::post(move |h: HeaderMap| {
                s.lock().unwrap().push(h);
                async { "ok" }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { addr, seen }
    }
}

struct Service {
    process: Process,
    addr: SocketAddr,
    what: String,
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }
}

fn service(client: &str, ratio: &str) -> Service {
    let what = format!("tracecontext_service --client {client} (ratio {ratio})");
    let process = Process::spawn(
        command(env!("CARGO_BIN_EXE_tracecontext_service"))
            .args(["--client", client])
            .env("OTEL_TRACES_SAMPLER_RATIO", ratio),
        &what,
    );
    let [addr] = process.listeners(&what, ["listening "]);
    Service {
        process,
        addr,
        what,
    }
}

/// Sends `headers` (in order, repeats kept) to the service and returns the headers of its call
/// out to the receiver.
async fn pass(svc: &Service, rx: &Receiver, headers: &[(&str, &str)]) -> HeaderMap {
    let body = format!(r#"[{{"url": "http://{}/cb", "arguments": []}}]"#, rx.addr);
    let mut req = reqwest::Client::new()
        .post(format!("http://{}/test", svc.addr))
        .header("content-type", "application/json")
        .body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let before = rx.seen.lock().unwrap().len();
    let resp = req.send().await.unwrap();
    assert_eq!(resp.status(), 200, "{}", svc.what);
    let seen = rx.seen.lock().unwrap();
    assert_eq!(seen.len(), before + 1, "{}: one call out", svc.what);
    seen[before].clone()
}

fn one(h: &HeaderMap, name: &str) -> Option<String> {
    let all: Vec<_> = h.get_all(name).iter().collect();
    assert!(all.len() <= 1, "several {name} headers: {all:?}");
    all.first().map(|v| v.to_str().unwrap().to_string())
}

async fn tracestate_out(svc: &Service, rx: &Receiver, states: &[&str]) -> Option<String> {
    let parent = tp("01");
    let mut headers = vec![("traceparent", parent.as_str())];
    headers.extend(states.iter().map(|s| ("tracestate", *s)));
    let out = pass(svc, rx, &headers).await;
    let ts = one(&out, "tracestate");
    assert_ne!(
        ts.as_deref(),
        Some(""),
        "{}: an empty tracestate header",
        svc.what
    );
    ts
}

async fn check_tracestate(svc: &Service, rx: &Receiver) {
    let cases: Vec<(Vec<String>, Option<&str>)> = vec![
        (vec!["foo=1,bar=2".into()], Some("foo=1,bar=2")),
        (
            vec![
                "foo=1,bar=2".into(),
                "rojo=1,congo=2".into(),
                "baz=3".into(),
            ],
            Some("foo=1,bar=2,rojo=1,congo=2,baz=3"),
        ),
        (
            vec!["foo=1 \t , \t bar=2, \t baz=3".into()],
            Some("foo=1,bar=2,baz=3"),
        ),
        (vec!["".into(), "foo=1".into()], Some("foo=1")),
        (vec!["foo=1,foo=2".into(), "foo=3".into()], Some("foo=1")),
        (
            vec!["foo@bar=1,a*b/c_d-e=x y".into()],
            Some("foo@bar=1,a*b/c_d-e=x y"),
        ),
        (vec!["".into()], None),
        (vec!["FOO=1".into()], None),
        (vec!["foo=1,bar=a,b".into()], None),
        (vec!["foo=bar=baz".into()], None),
        (vec!["foo=,bar=3".into()], None),
        (vec!["@foo=1,bar=2".into()], None),
        (vec!["foo=1".into(), format!("{}=1", "z".repeat(257))], None),
    ];
    for (states, want) in cases {
        let refs: Vec<&str> = states.iter().map(String::as_str).collect();
        let got = tracestate_out(svc, rx, &refs).await;
        assert_eq!(got.as_deref(), want, "{}: tracestate {states:?}", svc.what);
    }
    let members: Vec<String> = (1..=33).map(|i| format!("bar{i:02}={i:02}")).collect();
    let (first, last) = (members[..16].join(","), members[16..32].join(","));
    let got = tracestate_out(svc, rx, &[&first, &last]).await.unwrap();
    assert_eq!(got, members[..32].join(","), "{}: 32 members", svc.what);
    assert_eq!(
        tracestate_out(svc, rx, &[&first, &last, &members[32]]).await,
        None,
        "{}: 33 members",
        svc.what
    );
    // No tracestate without a valid traceparent.
    let out = pass(svc, rx, &[("tracestate", "foo=1")]).await;
    assert_eq!(one(&out, "tracestate"), None, "{}", svc.what);
    let bad = format!("00-{TRACE}-{PARENT}-0x");
    let out = pass(svc, rx, &[("traceparent", &bad), ("tracestate", "foo=1")]).await;
    assert_eq!(one(&out, "tracestate"), None, "{}", svc.what);
    assert!(!one(&out, "traceparent").unwrap().contains(TRACE));
}

async fn check_traceparent(svc: &Service, rx: &Receiver, ratio_flag: &str) {
    for flags in ["00", "01"] {
        let out = pass(svc, rx, &[("traceparent", &tp(flags))]).await;
        let got = one(&out, "traceparent").unwrap();
        let parts: Vec<&str> = got.split('-').collect();
        assert_eq!(parts.len(), 4, "{got}");
        assert_eq!(
            (parts[0], parts[1], parts[3]),
            ("00", TRACE, flags),
            "{}: {got}",
            svc.what
        );
        assert_ne!(parts[2], PARENT, "{}: a new parent id", svc.what);
    }
    let out = pass(svc, rx, &[]).await;
    let got = one(&out, "traceparent").unwrap();
    assert!(
        got.ends_with(&format!("-{ratio_flag}")) && !got.contains(TRACE),
        "{}: no caller: {got}",
        svc.what
    );
    assert_eq!(one(&out, "tracestate"), None);
    assert_eq!(one(&out, "baggage"), None);
}

fn baggage_members(h: &HeaderMap) -> Vec<String> {
    let mut m: Vec<String> = one(h, "baggage")
        .unwrap_or_default()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.trim().to_string())
        .collect();
    m.sort();
    m
}

async fn check_baggage(svc: &Service, rx: &Receiver) {
    let parent = tp("01");
    let out = pass(
        svc,
        rx,
        &[
            ("traceparent", &parent),
            ("baggage", "user_id=u1, tenant = acme"),
            ("baggage", "note=a%20b;meta=1"),
        ],
    )
    .await;
    assert_eq!(
        baggage_members(&out),
        ["note=a%20b;meta=1", "tenant=acme", "user_id=u1"],
        "{}",
        svc.what
    );
    // Baggage without a traceparent is still passed on (it is a separate specification).
    let out = pass(svc, rx, &[("baggage", "user_id=u2")]).await;
    assert_eq!(baggage_members(&out), ["user_id=u2"], "{}", svc.what);
    // Limits: 64 members, 8 KiB.
    let many: Vec<String> = (0..70).map(|i| format!("k{i:02}=v")).collect();
    let out = pass(svc, rx, &[("baggage", &many.join(","))]).await;
    assert_eq!(baggage_members(&out), many[..64].to_vec(), "{}", svc.what);
    let big = format!("a={},b={}", "x".repeat(8000), "y".repeat(500));
    let out = pass(svc, rx, &[("baggage", &big)]).await;
    assert_eq!(
        baggage_members(&out),
        [format!("a={}", "x".repeat(8000))],
        "{}",
        svc.what
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_context_and_baggage_pass_through_both_client_layers() {
    let rx = Receiver::start().await;
    for client in ["reqwest", "tower"] {
        for (ratio, flag) in [("0", "00"), ("1", "01")] {
            let svc = tokio::task::spawn_blocking(move || service(client, ratio))
                .await
                .unwrap();
            check_traceparent(&svc, &rx, flag).await;
            if ratio == "1" {
                check_tracestate(&svc, &rx).await;
                check_baggage(&svc, &rx).await;
            }
        }
    }
}
