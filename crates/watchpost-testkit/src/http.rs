//! A minimal HTTP/1.1 GET over a real socket (`Connection: close`, no client library), for
//! tests that check what goes over the wire.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// GETs `path` from `addr` (with `Accept: accept` if given) and returns (status, content type,
/// body), the body de-chunked. Panics if the exchange fails or the answer is not HTTP.
pub fn get(addr: SocketAddr, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut s = send(addr, path, accept, Duration::from_secs(30)).expect("HTTP request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, content_type, body)
}

/// GETs `path` from `addr` and returns the body as it came ("" on any failure: for polling a
/// service that may not answer).
pub fn get_text(addr: SocketAddr, path: &str) -> String {
    let Ok(mut s) = send(addr, path, None, Duration::from_secs(10)) else {
        return String::new();
    };
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    String::from_utf8(raw)
        .ok()
        .and_then(|text| text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()))
        .unwrap_or_default()
}

/// Connects and writes the request; the stream is left to read the answer from.
fn send(
    addr: SocketAddr,
    path: &str,
    accept: Option<&str>,
    timeout: Duration,
) -> io::Result<TcpStream> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(timeout))?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(a) = accept {
        req.push_str(&format!("Accept: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    Ok(s)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}
