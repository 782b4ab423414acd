//! Every client error is a 4xx JSON answer that says what is wrong: a NUL byte or an argument
//! too long for the system (400), a command that cannot be executed (422), exec on an exited
//! instance (409), a method the route does not take (405), a body over the limit (413, naming
//! it), a path that is not UTF-8 (400); of concurrent DELETEs of one instance one wins (204) and
//! the rest find nothing (404).
mod support;

use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_errors_answer_json_that_says_what_is_wrong() {
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "error")]);
    let c = reqwest::Client::new();
    let expect = |status: u16, code: &'static str| {
        move |r: (u16, String, Value)| {
            assert_eq!(r.0, status, "{}", r.2);
            assert!(r.1.starts_with("application/json"), "{}: {}", r.0, r.1);
            assert_eq!(r.2["error"], code, "{}", r.2);
            r.2
        }
    };
    let send = |req: reqwest::RequestBuilder| async move {
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = r.text().await.unwrap();
        (
            status,
            ct,
            serde_json::from_str(&body).unwrap_or(Value::String(body)),
        )
    };
    let create = |body: Value| c.post(pm.url("/instances")).body(body.to_string());

    expect(400, "invalid_body")(send(create(json!({"command": "ec\u{0}ho"}))).await);
    expect(422, "not_executable")(send(create(json!({"command": "/etc/passwd"}))).await);
    expect(422, "not_executable")(send(create(json!({"command": "/tmp"}))).await);
    let long = "x".repeat(200_000);
    expect(400, "invalid_body")(send(create(json!({"command": "echo", "args": [long]}))).await);
    // A body announced larger than the limit is refused before it is read (no byte of it
    // needs to be sent).
    let addr = pm.api;
    let raw = tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(b"POST /instances HTTP/1.1\r\nHost: x\r\nContent-Length: 4194304\r\n\r\n")
            .unwrap();
        s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while !got.ends_with(b"}") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
        String::from_utf8_lossy(&got).into_owned()
    })
    .await
    .unwrap();
    assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
    assert!(raw.contains("content-type: application/json"), "{raw}");
    assert!(
        raw.contains(r#""error":"body_too_large""#) && raw.contains("2097152"),
        "{raw}"
    );
    expect(405, "method_not_allowed")(send(c.patch(pm.url("/instances"))).await);
    expect(400, "bad_request")(send(c.get(pm.url("/instances/%FF%FE"))).await);

    // Exec on an instance that has exited.
    let (status, _, v) = send(create(json!({"command": "true"}))).await;
    assert_eq!(status, 201);
    let id = v["id"].as_str().unwrap().to_string();
    for _ in 0..100 {
        let (_, _, v) = send(c.get(pm.url(&format!("/instances/{id}")))).await;
        if v["state"] == "exited" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let exec = c
        .post(pm.url(&format!("/instances/{id}/exec")))
        .body(json!({"command": "echo"}).to_string());
    expect(409, "invalid_state")(send(exec).await);

    // Concurrent DELETEs: one 204, the rest 404.
    let (status, _, v) = send(create(json!({"command": "sleep", "args": ["3008"]}))).await;
    assert_eq!(status, 201);
    let url = pm.url(&format!("/instances/{}", v["id"].as_str().unwrap()));
    let deletes: Vec<_> = (0..5)
        .map(|_| tokio::spawn(c.delete(&url).send()))
        .collect();
    let mut statuses = Vec::new();
    for d in deletes {
        statuses.push(d.await.unwrap().unwrap().status().as_u16());
    }
    statuses.sort();
    assert_eq!(statuses, [204, 404, 404, 404, 404]);
    assert_eq!(pm.terminate(), 0);
}
