//! With `OTEL_TRACES_SAMPLER_RATIO=0`, every span of an erroring request's local trace (root and
//! children) is exported, successful traces are not, a slow trace is kept, and a caller's sampled
//! `traceparent` is honoured (its trace id is kept and continued), and a request whose caller did
//! not sample (`-00`) but that fails here is kept whole all the same.
mod support;

use std::collections::HashSet;

use watchpost_testkit::otlp::{hex, Receiver};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_traces_are_kept_whole_while_ratio_zero_drops_the_rest() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let endpoint = receiver.addr.to_string();
    let service = support::otlpdemo(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_ENDPOINT", &endpoint),
        ("OTEL_TRACES_SAMPLER_RATIO", "0"),
    ]);
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(format!("http://{}{path}", service.http));
    for _ in 0..5 {
        assert_eq!(get("/ok").send().await.unwrap().status(), 200);
    }
    for _ in 0..3 {
        assert_eq!(get("/fail").send().await.unwrap().status(), 500);
    }
    assert_eq!(get("/slow?ms=1100").send().await.unwrap().status(), 200);
    let parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    assert_eq!(
        get("/ok")
            .header("traceparent", parent)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let unsampled = "00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    assert_eq!(
        get("/ok")
            .header("traceparent", unsampled)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let unsampled_failing = "00-2af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00";
    assert_eq!(
        get("/fail")
            .header("traceparent", unsampled_failing)
            .send()
            .await
            .unwrap()
            .status(),
        500
    );

    let (code, _, ok) = tokio::task::spawn_blocking(move || service.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(ok);
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let names: Vec<&str> = r.spans.iter().map(|s| s.name.as_str()).collect();

    let fail_roots: Vec<_> = r.spans.iter().filter(|s| s.name == "GET /fail").collect();
    assert_eq!(fail_roots.len(), 4, "{names:?}");
    assert!(
        fail_roots
            .iter()
            .any(|s| hex(&s.trace_id) == "2af7651916cd43dd8448eb211c80319c"),
        "the unsampled caller's failing request is kept here: {names:?}"
    );
    for root in &fail_roots {
        let children: Vec<_> = r
            .spans
            .iter()
            .filter(|s| s.trace_id == root.trace_id && s.parent_span_id == root.span_id)
            .collect();
        assert_eq!(children.len(), 1, "the error trace is complete");
        assert_eq!(children[0].name, "work_step");
        let status = children[0].status.as_ref().map(|s| s.code);
        assert_eq!(status, Some(2), "the failing step has status Error");
        // The error is linked to the request: the log-level event is on the child span.
        assert!(children[0].events.iter().any(|e| e.name == "step failed"));
    }
    assert_eq!(
        r.spans.iter().filter(|s| s.name == "GET /slow").count(),
        1,
        "slow trace kept"
    );

    let ok_traces: HashSet<String> = r
        .spans
        .iter()
        .filter(|s| s.name == "GET /ok")
        .map(|s| hex(&s.trace_id))
        .collect();
    assert_eq!(
        ok_traces,
        HashSet::from(["0af7651916cd43dd8448eb211c80319c".to_string()]),
        "only the /ok request whose caller said sampled is kept: {names:?}"
    );
    let continued = r.spans.iter().find(|s| s.name == "GET /ok").unwrap();
    assert_eq!(
        hex(&continued.parent_span_id),
        "b7ad6b7169203331",
        "continues the caller's span"
    );
}
