//! Slow clients cannot hold procman: a request head that does not arrive within
//! `HEADER_TIMEOUT` is cut off, a body that does not arrive within `BODY_TIMEOUT` answers 408
//! JSON, and beyond `MAX_CONNECTIONS` a new connection waits until a slot is free.
mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Reads until the peer closes or `limit` passes; what arrived, and whether it closed.
fn read_all(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&got).into_owned(), true),
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                if got.ends_with(b"}") || got.ends_with(b"ok\n") {
                    return (String::from_utf8_lossy(&got).into_owned(), false);
                }
            }
            Err(_) => return (String::from_utf8_lossy(&got).into_owned(), false),
        }
    }
}

#[test]
fn slow_clients_are_cut_off() {
    let pm = support::Procman::spawn(&[
        ("HEADER_TIMEOUT", "1000"),
        ("BODY_TIMEOUT", "500"),
        ("MAX_CONNECTIONS", "1"),
    ]);

    // A head that never ends holds the only slot until it is cut off; a second client waits
    // meanwhile and is served after.
    let mut slow = TcpStream::connect(pm.api).unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let mut waiting = TcpStream::connect(pm.api).unwrap();
    waiting
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (early, _) = read_all(&mut waiting, Duration::from_millis(300));
    assert!(early.is_empty(), "served while the slot was taken: {early}");
    let (_, closed) = read_all(&mut slow, Duration::from_secs(10));
    assert!(closed, "the slow head was cut off");
    let (answer, _) = read_all(&mut waiting, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // A body announced and not sent.
    let mut s = TcpStream::connect(pm.api).unwrap();
    s.write_all(b"POST /instances HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"command\":")
        .unwrap();
    let (answer, _) = read_all(&mut s, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains(r#""error":"body_timeout""#), "{answer}");
    drop(s);
    assert_eq!(pm.terminate(), 0);
}
