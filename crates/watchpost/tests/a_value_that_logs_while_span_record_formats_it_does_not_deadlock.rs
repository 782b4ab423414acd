//! A field value whose `Debug` logs while `Span::record` formats it — with export on, so the
//! trace bridge records the value too — gets its line written, inside the span being recorded:
//! the value is formatted before the span's data is locked, so the nested event (which reads
//! that data for its trace ids and span fields) does not wait for a lock its own thread holds.
//!
//! The failure this guards against is a deadlock: the thread never comes back, and the test
//! fails on its (generous) wait, not on a timing measure.

use std::sync::mpsc;
use std::time::Duration;

use watchpost_testkit::capture::Capture;

/// A value that logs when it is formatted.
struct Chatty;

impl std::fmt::Debug for Chatty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        tracing::info!("formatting a value");
        f.write_str("chatty")
    }
}

#[test]
fn a_value_that_logs_while_span_record_formats_it_does_not_deadlock() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("svc")
        .otel_enabled(true)
        .metrics_listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();

    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            let span = tracing::info_span!("work", value = tracing::field::Empty);
            let trace_id = watchpost::traces::trace_id(&span).unwrap();
            let _entered = span.enter();
            span.record("value", tracing::field::debug(&Chatty));
            tracing::info!("recorded");
            done.send(trace_id).unwrap();
        });
    });
    let trace_id = finished.recv_timeout(Duration::from_secs(60)).expect(
        "the thread is stuck (or died): the nested event waited for span data its own thread holds",
    );
    worker.join().unwrap();
    telemetry.force_flush(Duration::from_secs(5));

    let lines = capture.json();
    let nested: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"] == "formatting a value")
        .collect();
    // Formatted once per layer that records the value (the JSON lines' and the trace bridge's).
    assert!(!nested.is_empty(), "{lines:?}");
    assert!(
        nested.iter().all(|l| l["trace_id"] == trace_id.as_str()),
        "{nested:?}"
    );
    let recorded: Vec<_> = lines.iter().filter(|l| l["msg"] == "recorded").collect();
    assert_eq!(recorded.len(), 1, "{lines:?}");
    assert_eq!(
        recorded[0]["value"], "chatty",
        "the recorded value is on the span's lines"
    );
}
