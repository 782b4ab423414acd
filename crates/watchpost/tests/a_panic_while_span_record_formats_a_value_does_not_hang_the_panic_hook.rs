//! A field value whose `Debug` panics while `Span::record` formats it — with export on, so the
//! trace bridge records the value too — must not hang the thread in the panic hook. The hook
//! runs while the panicking thread is inside the pipeline's own callback (where a span's data may
//! be locked): it leaves that panic to the previous hook (Rust's text on stderr), the thread
//! unwinds, the caller catches it, and the pipeline goes on writing that span's lines.
//!
//! The failure this guards against is a deadlock: the thread never comes back, and the test
//! fails on its (generous) wait, not on a timing measure.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::time::Duration;

use watchpost_testkit::capture::Capture;

/// A value whose formatting panics.
struct Explodes;

impl std::fmt::Debug for Explodes {
    fn fmt(&self, _: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        panic!("Debug exploded")
    }
}

#[test]
fn a_panic_while_span_record_formats_a_value_does_not_hang_the_panic_hook() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("svc")
        .otel_enabled(true)
        .metrics_listen("127.0.0.1:0".parse().unwrap())
        .build()
        .unwrap();
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .install()
        .unwrap();
    telemetry.install_panic_hook();

    let (done, finished) = mpsc::channel();
    let worker = std::thread::spawn(move || {
        let span = tracing::info_span!("work", value = tracing::field::Empty);
        let trace_id = watchpost::traces::trace_id(&span).unwrap();
        let _entered = span.enter();
        let caught = std::panic::catch_unwind(AssertUnwindSafe(|| {
            span.record("value", tracing::field::debug(&Explodes));
        }));
        tracing::info!("still logging");
        done.send((caught.is_err(), trace_id)).unwrap();
    });
    let (panicked, trace_id) = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("the thread is stuck in the panic hook (or died): the hook waited for span data its own thread holds");
    worker.join().unwrap();
    assert!(panicked, "the panic reached the caller");
    telemetry.force_flush(Duration::from_secs(5));

    let lines = capture.json();
    let after: Vec<_> = lines
        .iter()
        .filter(|l| l["msg"] == "still logging")
        .collect();
    assert_eq!(after.len(), 1, "{lines:?}");
    assert_eq!(
        after[0]["trace_id"],
        trace_id.as_str(),
        "the span still works"
    );
    assert!(
        !lines.iter().any(|l| l["msg"] == "panicked"),
        "a panic inside the pipeline's callback is left to the previous hook: {lines:?}"
    );
}
