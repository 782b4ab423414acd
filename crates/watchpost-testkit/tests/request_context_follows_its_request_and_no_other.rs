//! Request context, over real sockets and concurrent requests: each request carries W3C baggage
//! with an allow-listed key (`user_id`, from `OTEL_BAGGAGE_FIELDS`), a key off the list
//! (`secret_plan`) and a secret-named key on the list (`api_token`); its handler sets a context
//! field (`order_id`) inside a span that already exists and logs inside nested spans while other
//! requests run. Every log line of a
//! request — the handler's and the access line — carries its own `request_id` and `user_id`
//! (and `order_id` after it was set), never another request's, and never the key off the list;
//! every span of the request (the server span and the handler's spans) carries the same
//! attributes in the exported trace. The secret-named key is redacted in both.

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::Path;
use tracing::Instrument as _;
use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::{attr_text as attr, hex, Receiver};

const N: usize = 16;

async fn handler(Path(n): Path<usize>) -> &'static str {
    // A span that exists before the field is set (like an `#[instrument]`ed handler): it and the
    // spans it creates afterwards carry the field too.
    let handler = tracing::info_span!("handler");
    async move {
        tracing::info!("before the context field");
        assert!(watchpost::context::set("order_id", &format!("o-{n}")));
        let step = tracing::info_span!("step", n);
        async move {
            // Let the other requests interleave.
            tokio::time::sleep(Duration::from_millis(20)).await;
            tracing::info!("in the step");
            let inner = tracing::info_span!("inner");
            inner.in_scope(|| tracing::info!("deeper"));
        }
        .instrument(step)
        .await;
    }
    .instrument(handler)
    .await;
    "ok"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_context_follows_its_request_and_no_other() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("ctx")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        .trace_sampler_ratio(1.0)
        .env_vars([("OTEL_BAGGAGE_FIELDS", "user_id,api_token")])
        .build()
        .unwrap();
    let capture = Capture::default();
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .install()
        .unwrap();
    let app = axum::Router::new()
        .route("/work/{n}", axum::routing::get(handler))
        .layer(watchpost::http::HttpLayer::new(&telemetry));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let client = reqwest::Client::new();
    let calls: Vec<_> = (0..N)
        .map(|n| {
            let client = client.clone();
            tokio::spawn(async move {
                let r = client
                    .get(format!("http://{addr}/work/{n}"))
                    .header(
                        "baggage",
                        format!("user_id=u-{n},secret_plan=gold-{n},api_token=t-{n}"),
                    )
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    let t = telemetry.clone();
    tokio::task::spawn_blocking(move || t.shutdown())
        .await
        .unwrap()
        .unwrap();

    // Lines: group by request id; each request's lines carry its own user and order.
    let lines = capture.json();
    let mut by_request: HashMap<String, Vec<&watchpost_testkit::capture::Line>> = HashMap::new();
    for l in &lines {
        assert!(
            !l.contains_key("secret_plan") && !serde_json::to_string(l).unwrap().contains("gold-"),
            "a baggage key off the list leaked: {l:?}"
        );
        if l.get("msg").and_then(|m| m.as_str()) == Some("request handled")
            || l.contains_key("n")
            || l["msg"] == "before the context field"
            || l["msg"] == "deeper"
        {
            let rid = l
                .get("request_id")
                .and_then(|v| v.as_str())
                .unwrap_or_else(|| panic!("a request line without request_id: {l:?}"));
            by_request.entry(rid.to_string()).or_default().push(l);
        }
    }
    assert_eq!(
        by_request.len(),
        N,
        "{} requests seen in the lines",
        by_request.len()
    );
    for (rid, lines) in &by_request {
        assert_eq!(
            lines.len(),
            4,
            "{rid}: 3 handler lines and the access line: {lines:?}"
        );
        let user = lines[0]["user_id"].as_str().expect("user_id").to_string();
        let n: usize = user.trim_start_matches("u-").parse().unwrap();
        for l in lines {
            assert_eq!(l["user_id"], user.as_str(), "{rid}: {l:?}");
            assert_eq!(l["api_token"], "[REDACTED]", "{rid}: {l:?}");
            if l["msg"] == "before the context field" {
                assert!(!l.contains_key("order_id"), "{l:?}");
            } else {
                assert_eq!(l["order_id"], format!("o-{n}").as_str(), "{rid}: {l:?}");
            }
        }
    }

    // Spans: every span of a request's trace carries its user; spans made after the field was
    // set (and the server span) carry its order.
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let mut traces: HashMap<String, Vec<_>> = HashMap::new();
    for s in &r.spans {
        assert!(attr(&s.attributes, "secret_plan").is_none(), "{s:?}");
        traces.entry(hex(&s.trace_id)).or_default().push(s);
    }
    assert_eq!(traces.len(), N);
    for spans in traces.values() {
        assert_eq!(spans.len(), 4, "server, handler, step, inner: {spans:?}");
        let user = attr(&spans[0].attributes, "user_id").expect("user_id attribute");
        let n: usize = user.trim_start_matches("u-").parse().unwrap();
        for s in spans {
            assert_eq!(
                attr(&s.attributes, "user_id").as_deref(),
                Some(user.as_str()),
                "{}",
                s.name
            );
            assert_eq!(
                attr(&s.attributes, "api_token").as_deref(),
                Some("[REDACTED]"),
                "{}",
                s.name
            );
            assert_eq!(
                attr(&s.attributes, "order_id"),
                Some(format!("o-{n}")),
                "{}",
                s.name
            );
        }
    }
}
