//! When the log writer is stuck and the buffer is full, logging goes on: lines that do not fit
//! are dropped and counted, never waited for. Once the writer moves again, every accepted line
//! arrives whole and in order, and accepted + counted = logged.
use std::io::Write;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A writer that blocks until the test opens the gate, then records everything.
struct Gated {
    gate: Arc<Mutex<Option<mpsc::Receiver<()>>>>,
    out: Arc<Mutex<Vec<u8>>>,
}

impl Write for Gated {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Some(rx) = self.gate.lock().unwrap().take() {
            let _ = rx.recv(); // stuck here until the gate opens
        }
        self.out.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_log_buffer_drops_and_counts_lines_instead_of_waiting() {
    let (open, gate) = mpsc::channel();
    let out = Arc::new(Mutex::new(Vec::new()));
    let writer = watchpost::logs::NonBlocking::with_capacity(
        Gated {
            gate: Arc::new(Mutex::new(Some(gate))),
            out: out.clone(),
        },
        16 * 1024,
    );
    let config = watchpost::Config::builder("demo").build().unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(writer)
        .into_dispatch();

    const N: u64 = 5000;
    let (done_tx, done_rx) = mpsc::channel();
    let logger = std::thread::spawn(move || {
        tracing::dispatcher::with_default(&dispatch, || {
            for seq in 0..N {
                tracing::info!(seq, padding = "x".repeat(100), "line");
            }
        });
        done_tx.send(()).unwrap();
    });
    // Not a timing assertion: if logging waited for the stuck writer it would never finish.
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("logging finished while the writer was stuck");
    logger.join().unwrap();
    let dropped = telemetry.self_stats().log_write_errors;
    assert!(dropped > 0, "a 16 KiB buffer cannot hold {N} lines");

    open.send(()).unwrap();
    telemetry.force_flush(Duration::from_secs(10));
    let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
    let seqs: Vec<u64> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("whole JSON line");
            v["seq"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(
        seqs.len() as u64 + dropped,
        N,
        "accepted + dropped = logged"
    );
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(seqs[0], 0, "the first line went through");
}
