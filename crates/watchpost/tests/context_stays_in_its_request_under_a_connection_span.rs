//! A span around several requests (a connection's, made by an accept loop) never receives a
//! request's context: `context::set` attaches the field to the nearest server span — the HTTP
//! layer's request span — so the next request on the same connection does not inherit it. Names
//! that are not field names (spaces, dots) or that are resource id fields are refused.

use watchpost_testkit::capture::Capture;

#[test]
fn context_stays_in_its_request_under_a_connection_span() {
    let config = watchpost::Config::builder("conn").build().unwrap();
    let capture = Capture::default();
    let (_t, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        let conn = tracing::info_span!("connection");
        let _in_conn = conn.enter();
        for (i, user) in [Some("alice"), None].into_iter().enumerate() {
            // What the HTTP layer opens per request (its target marks the request span).
            let request =
                tracing::info_span!(target: "watchpost::http", "request", otel.kind = "server", i);
            let _in = request.enter();
            let handler = tracing::info_span!("handler");
            let _in_handler = handler.enter();
            if let Some(u) = user {
                assert!(watchpost::context::set("user_id", u));
                assert!(!watchpost::context::set("user id", u), "not a field name");
                assert!(
                    !watchpost::context::set("user.id", u),
                    "dotted: left out of lines"
                );
            }
            tracing::info!("handled");
        }
        tracing::info!("connection closed");
    });
    let lines = capture.json();
    let handled: Vec<_> = lines.iter().filter(|l| l["msg"] == "handled").collect();
    assert_eq!(handled.len(), 2, "{lines:?}");
    assert_eq!(handled[0]["user_id"], "alice", "{:?}", handled[0]);
    assert!(
        !handled[1].contains_key("user_id"),
        "the second request on the connection inherited the first's context: {:?}",
        handled[1]
    );
    let closed = lines
        .iter()
        .find(|l| l["msg"] == "connection closed")
        .unwrap();
    assert!(!closed.contains_key("user_id"), "{closed:?}");
}
