//! The panic hook hands its line to the pipeline, flushes the background writer (bounded) and
//! checks that no line was lost meanwhile. When the line cannot get out — here the log buffer is
//! full because the log reader stalled — the hook that was installed before it runs too (Rust's
//! default prints on stderr), so the panic is still said somewhere.

use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// A log reader that stops reading: every write waits until the test lets it go.
struct Stalled(Arc<Mutex<mpsc::Receiver<()>>>);

impl Write for Stalled {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let _ = self.0.lock().unwrap().recv();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the previous hook was told.
static SAID: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[test]
fn a_panic_whose_line_is_lost_is_still_said_by_the_previous_hook() {
    // The hook in place before Watchpost's: it records the panic's message.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .unwrap_or_default();
        SAID.lock().unwrap().push(message);
    }));

    let (release, stalled) = mpsc::channel();
    let writer =
        watchpost::logs::NonBlocking::with_capacity(Stalled(Arc::new(Mutex::new(stalled))), 4096);
    let config = watchpost::Config::builder("svc").build().unwrap();
    let telemetry = watchpost::Telemetry::builder(config)
        .writer(writer)
        .install()
        .unwrap();
    telemetry.install_panic_hook();

    // The reader stalls on the first line; the rest fill the buffer.
    for i in 0..200 {
        tracing::info!(i, "filling the buffer while nobody reads");
    }
    assert!(
        telemetry.self_stats().log_write_errors > 0,
        "the buffer is full"
    );

    let worker = std::thread::spawn(|| panic!("lost in a full buffer"));
    assert!(worker.join().is_err());
    assert_eq!(
        *SAID.lock().unwrap(),
        vec!["lost in a full buffer".to_string()],
        "the previous hook said the panic whose line could not get out"
    );
    drop(release);
}
