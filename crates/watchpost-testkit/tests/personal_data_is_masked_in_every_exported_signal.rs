//! The log redactor's rules hold in every signal that leaves the process, not only in log lines:
//! a corpus of secrets, e-mail addresses and card numbers — and of values that must **not** be
//! masked (ids, timestamps, hex, prices, numbers that are not cards) — is sent through span
//! attribute values, span names, span event fields and names, error status messages and log
//! records (body and attributes) to a real OTLP receiver. Every secret and every piece of
//! personal data is masked; no other value is touched.

use opentelemetry_proto::tonic::common::v1::any_value::Value as Any;
use watchpost_testkit::otlp::{attr_text as attr, Receiver};

/// Personal data: each value must reach no signal as it is, and its mask must appear instead.
const PERSONAL: &[(&str, &str)] = &[
    ("alice@example.com", "[REDACTED:email]"),
    (
        "contact bob.smith+tag@mail.example.co.uk today",
        "[REDACTED:email]",
    ),
    ("ALICE@EXAMPLE.ORG", "[REDACTED:email]"),
    ("first.last@sub.domain.io", "[REDACTED:email]"),
    ("x_y-z@host-name.net", "[REDACTED:email]"),
    ("<carol@example.com>", "[REDACTED:email]"),
    ("mailto:dave@example.com", "[REDACTED:email]"),
    ("two: e1@a.com, e2@b.org", "[REDACTED:email]"),
    ("write to user@example.com.", "[REDACTED:email]"),
    ("\"quoted\" eve@corp.example", "[REDACTED:email]"),
    ("4111111111111111", "[REDACTED:card]"),
    ("4111 1111 1111 1111", "[REDACTED:card]"),
    ("4111-1111-1111-1111", "[REDACTED:card]"),
    ("5500005555555559", "[REDACTED:card]"),
    ("378282246310005", "[REDACTED:card]"),
    ("6011111111111117", "[REDACTED:card]"),
    ("paid with 4012888888881881 ok", "[REDACTED:card]"),
    ("card=5105105105105100", "[REDACTED:card]"),
    ("3530111333300000", "[REDACTED:card]"),
    ("2223003122003222", "[REDACTED:card]"),
];

/// The personal part of each [`PERSONAL`] value: what must not leave the process.
const PERSONAL_PARTS: &[&[&str]] = &[
    &["alice@example.com"],
    &["bob.smith+tag@mail.example.co.uk"],
    &["ALICE@EXAMPLE.ORG"],
    &["first.last@sub.domain.io"],
    &["x_y-z@host-name.net"],
    &["carol@example.com"],
    &["dave@example.com"],
    &["e1@a.com", "e2@b.org"],
    &["user@example.com"],
    &["eve@corp.example"],
    &["4111111111111111"],
    &["4111 1111 1111 1111"],
    &["4111-1111-1111-1111"],
    &["5500005555555559"],
    &["378282246310005"],
    &["6011111111111117"],
    &["4012888888881881"],
    &["5105105105105100"],
    &["3530111333300000"],
    &["2223003122003222"],
];

/// Values that must arrive exactly as sent.
const PLAIN: &[&str] = &[
    "550e8400-e29b-41d4-a716-446655440000",
    "2026-11-30T11:12:13.456789Z",
    "1764500000000",
    "1764500000000000000",
    "4bf92f3577b34da6a3ce929d0e0e4736",
    "00f067aa0ba902b7",
    "$1,234.56",
    "12.99 EUR",
    "4111111111111112",
    "order 1234567890123",
    "v1.2.3",
    "10.0.0.1:8080",
    "@mention",
    "user@localhost",
    "a@b",
    "name@123.456",
    "inst-42",
    "/instances/abc123/logs",
    "3.14159265358979",
    "9999999999999999",
    "1,234,567,890,123",
    "SELECT * FROM users WHERE id = 7",
    "0xdeadbeefcafebabe",
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "ip 192.168.1.1",
];

fn text(v: &Option<opentelemetry_proto::tonic::common::v1::AnyValue>) -> Option<String> {
    match v.as_ref().and_then(|v| v.value.as_ref()) {
        Some(Any::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

/// What each case's value became in each signal, by where it was seen.
fn seen_values(r: &watchpost_testkit::otlp::Received, case: usize) -> Vec<(&'static str, String)> {
    let span = r
        .spans
        .iter()
        .find(|s| attr(&s.attributes, "case").as_deref() == Some(&case.to_string()))
        .unwrap_or_else(|| panic!("case {case}: no span"));
    let mut out = vec![
        (
            "span attribute",
            attr(&span.attributes, "value").expect("value attribute"),
        ),
        ("span name", span.name.clone()),
        (
            "status message",
            span.status.as_ref().expect("error status").message.clone(),
        ),
    ];
    for e in &span.events {
        out.push(("event name", e.name.clone()));
        if let Some(d) = attr(&e.attributes, "detail") {
            out.push(("event field", d));
        }
    }
    let logs: Vec<_> = r
        .logs
        .iter()
        .filter(|l| l.span_id == span.span_id)
        .collect();
    assert_eq!(logs.len(), 2, "case {case}: one INFO and one ERROR record");
    for l in logs {
        out.push(("log body", text(&l.body).expect("body")));
        if let Some(d) = attr(&l.attributes, "detail") {
            out.push(("log attribute", d));
        }
    }
    assert_eq!(out.len(), 3 + 4 + 4, "case {case}: {out:?}");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn personal_data_is_masked_in_every_exported_signal() {
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let config = watchpost::Config::builder("privacy")
        .otel_enabled(true)
        .otel_endpoint(receiver.addr.to_string())
        .trace_sampler_ratio(1.0)
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let values: Vec<&str> = PERSONAL
        .iter()
        .map(|(v, _)| *v)
        .chain(PLAIN.iter().copied())
        .collect();
    tracing::dispatcher::with_default(&dispatch, || {
        for (case, v) in values.iter().enumerate() {
            let span =
                tracing::info_span!("case", case, value = %v, otel.name = %format!("op {v}"));
            let _in = span.enter();
            tracing::info!(detail = %v, "note {v}");
            tracing::error!(detail = %v, "failed {v}");
        }
        // Secret names: the value is replaced whatever it is, in spans, events and logs.
        let span = tracing::info_span!(
            "secrets",
            password = "hunter2",
            api_key = "k-123",
            "http.request.header.authorization" = "Bearer abc",
            db_password = "pw1",
            client_secret = "cs",
            "X-Api-Key" = "xk",
            session_token = "st",
            private_key = "pk",
        );
        let _in = span.enter();
        tracing::info!(
            refresh_token = "rt",
            cookie = "c=1",
            credentials = "cr",
            "secrets event"
        );
    });
    let t = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    t.expect("shutdown");
    let received = receiver.stop().await;
    let r = received.lock().unwrap();

    let mut masked = 0;
    for (case, (_, mask)) in PERSONAL.iter().enumerate() {
        for (where_, got) in seen_values(&r, case) {
            for part in PERSONAL_PARTS[case] {
                assert!(
                    !got.contains(part),
                    "case {case}: {part:?} leaked in the {where_}: {got:?}"
                );
            }
            assert!(
                got.contains(mask),
                "case {case}: no {mask} in the {where_}: {got:?}"
            );
            masked += 1;
        }
    }
    let mut kept = 0;
    for (i, v) in PLAIN.iter().enumerate() {
        let case = PERSONAL.len() + i;
        for (where_, got) in seen_values(&r, case) {
            assert!(
                got.contains(v) && !got.contains("[REDACTED"),
                "case {case}: {v:?} was changed in the {where_}: {got:?}"
            );
            kept += 1;
        }
    }
    assert_eq!((masked, kept), (PERSONAL.len() * 11, PLAIN.len() * 11));

    let secrets = r
        .spans
        .iter()
        .find(|s| s.name == "secrets")
        .expect("secrets span");
    let secret_keys = [
        "password",
        "api_key",
        "http.request.header.authorization",
        "db_password",
        "client_secret",
        "X-Api-Key",
        "session_token",
        "private_key",
    ];
    for key in secret_keys {
        assert_eq!(
            attr(&secrets.attributes, key).as_deref(),
            Some("[REDACTED]"),
            "span attribute {key}"
        );
    }
    let event = secrets
        .events
        .iter()
        .find(|e| e.name == "secrets event")
        .expect("event");
    let log = r
        .logs
        .iter()
        .find(|l| text(&l.body).as_deref() == Some("secrets event"))
        .expect("log record");
    for key in ["refresh_token", "cookie", "credentials"] {
        assert_eq!(
            attr(&event.attributes, key).as_deref(),
            Some("[REDACTED]"),
            "event field {key}"
        );
        assert_eq!(
            attr(&log.attributes, key).as_deref(),
            Some("[REDACTED]"),
            "log attribute {key}"
        );
    }
    let total = PERSONAL.len() + PLAIN.len() + secret_keys.len() + 3;
    assert!(total >= 50, "the corpus has {total} cases");
    eprintln!(
        "{total} cases: {masked} masked and {kept} untouched values checked, secrets in {} places",
        secret_keys.len() + 6
    );
}
