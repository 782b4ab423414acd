//! The service's logs follow the standard: one INFO line per request carrying the trace id the
//! caller sent in `traceparent`, nothing at INFO or above while idle, per-subsystem levels from
//! the environment, and log levels changed at runtime through the admin route.
mod support;

use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_follow_the_standard() {
    let pm = support::Procman::spawn(&[]);
    let c = reqwest::Client::new();
    pm.drain(Duration::from_millis(200));

    const N: usize = 10;
    for i in 0..N {
        let tp = format!("00-{:032x}-{:016x}-01", 0xabc000 + i, 0x1000 + i);
        let r = c
            .get(pm.url("/instances"))
            .header("traceparent", tp)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(r.headers().contains_key("x-request-id"));
    }
    let r = c
        .get(pm.url("/instances"))
        .header("x-request-id", "my-req-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["x-request-id"],
        "my-req-1",
        "a sane request id is kept"
    );
    let lines = pm.drain(Duration::from_millis(300));
    let info: Vec<_> = lines.iter().filter(|l| l["level"] == "INFO").collect();
    assert_eq!(info.len(), N + 1, "one INFO per request: {lines:#?}");
    for (i, l) in info.iter().take(N).enumerate() {
        assert_eq!(l["msg"], "request handled");
        assert_eq!(l["subsystem"], "API");
        assert_eq!(l["path"], "/instances");
        assert_eq!(
            l["trace_id"],
            format!("{:032x}", 0xabc000 + i),
            "trace id from traceparent"
        );
        assert!(
            l.get("http.route").is_none(),
            "trace-only attributes stay off the log line"
        );
    }
    assert_eq!(info[N]["request_id"], "my-req-1");

    // Idle: a running child and the reaper, but nothing at INFO or above for 3 s.
    c.post(pm.url("/instances"))
        .body(r#"{"command":"sleep","args":["60"]}"#)
        .send()
        .await
        .unwrap();
    pm.drain(Duration::from_millis(300));
    let idle = pm.drain(Duration::from_secs(3));
    assert!(
        idle.iter().all(|l| l["level"] == "DEBUG"),
        "logged while idle: {idle:#?}"
    );

    // Runtime level change through the admin route on the metrics listener.
    let r = c
        .put(format!("http://{}/admin/log-level/api", pm.metrics))
        .body("warn")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    c.get(pm.url("/instances")).send().await.unwrap();
    assert!(
        pm.drain(Duration::from_millis(300)).is_empty(),
        "API at WARN: no access log"
    );
    let r = c
        .put(format!("http://{}/admin/log-level/NOPE", pm.metrics))
        .body("warn")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = c
        .put(format!("http://{}/admin/log-level/api", pm.metrics))
        .body("verbose")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        tokio::task::spawn_blocking(move || pm.terminate())
            .await
            .unwrap(),
        0
    );

    // Per-subsystem levels from the environment.
    let pm = support::Procman::spawn(&[("LOG_LEVEL", "warn"), ("LOG_LEVEL_INSTANCES", "debug")]);
    c.post(pm.url("/instances"))
        .body(r#"{"command":"sleep","args":["60"]}"#)
        .send()
        .await
        .unwrap();
    let lines = pm.drain(Duration::from_millis(300));
    assert!(
        lines
            .iter()
            .any(|l| l["subsystem"] == "INSTANCES" && l["level"] == "DEBUG"),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l["subsystem"] == "API"), "{lines:#?}");
    assert_eq!(
        tokio::task::spawn_blocking(move || pm.terminate())
            .await
            .unwrap(),
        0
    );
}
