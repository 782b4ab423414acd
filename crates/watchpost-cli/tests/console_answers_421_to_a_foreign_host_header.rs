//! DNS rebinding: a page of another site whose name now resolves to 127.0.0.1 reaches the real
//! `watchpost console` with its own name in `Host`; the console answers 421 unless `Host` is
//! loopback (or `--ui`'s host), and every answer carries `nosniff` and a content security policy.

#[path = "support/console.rs"]
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;

use support::*;

/// GETs `/api/stats` with `host` as the `Host` header: the whole answer (head and body).
fn get_with_host(console: &Console, host: &str) -> String {
    let mut s = TcpStream::connect(console.ui).expect("connect to the console");
    write!(
        s,
        "GET /api/stats HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw
}

#[test]
fn console_answers_421_to_a_foreign_host_header() {
    let console = start(&[]);
    let foreign = get_with_host(&console, "evil.example");
    assert!(foreign.starts_with("HTTP/1.1 421 "), "{foreign}");
    assert!(foreign.contains("evil.example"), "{foreign}");
    let port = console.ui.port();
    for host in [
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("LOCALHOST:{port}"),
    ] {
        let ok = get_with_host(&console, &host);
        assert!(ok.starts_with("HTTP/1.1 200 "), "{host}: {ok}");
        let head = ok.split("\r\n\r\n").next().unwrap().to_ascii_lowercase();
        assert!(head.contains("x-content-type-options: nosniff"), "{head}");
        assert!(
            head.contains("content-security-policy: default-src 'self'"),
            "{head}"
        );
    }
    // A name that rebinds to loopback with the right port is still foreign.
    let rebound = get_with_host(&console, &format!("evil.example:{port}"));
    assert!(rebound.starts_with("HTTP/1.1 421 "), "{rebound}");
}
