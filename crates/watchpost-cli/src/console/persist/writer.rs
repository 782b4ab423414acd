//! The writer thread: appends records, rotates segments, holds the size cap and the retention.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write as _};
use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::Instant;

use super::segment::{delete, Segment};
use super::{now_ms, Counters, DataOptions, MAGIC, TICK};

/// The writer thread's state: the segments oldest first, the last one open while it grows.
pub(super) struct Writer {
    pub(super) options: DataOptions,
    pub(super) segment_bytes: u64,
    pub(super) segs: VecDeque<Segment>,
    pub(super) active: Option<BufWriter<File>>,
    /// Records written into `active`'s buffer since its last flush: lost if the flush fails.
    pub(super) unflushed: u64,
    /// When a write (or opening a segment) last failed: no new segment is opened for a
    /// [`TICK`] after it, so a failing disk costs one try per TICK, not one file per export.
    pub(super) failed_at: Option<Instant>,
    pub(super) counters: Arc<Counters>,
}

impl Writer {
    pub(super) fn run(&mut self, rx: &mpsc::Receiver<Vec<u8>>) {
        let mut last_check = Instant::now();
        loop {
            match rx.recv_timeout(TICK) {
                Ok(rec) => {
                    self.write(&rec);
                    // Whatever else waits, then one flush.
                    while let Ok(rec) = rx.try_recv() {
                        self.write(&rec);
                    }
                    self.flush();
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            if last_check.elapsed() >= TICK {
                last_check = Instant::now();
                self.retain();
            }
        }
        self.flush();
        if let Some(f) = self.active.take() {
            let _ = f.get_ref().sync_all();
        }
    }

    fn write(&mut self, rec: &[u8]) {
        self.counters
            .queued_bytes
            .fetch_sub(rec.len() as u64, Ordering::Relaxed);
        if self.active.is_none() {
            if self.failed_at.is_some_and(|t| t.elapsed() < TICK) {
                // Not retried for every export: counted, and tried again after a TICK.
                self.counters.write_error.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if let Err(e) = self.open() {
                self.failed(&e, 1);
                return;
            }
            self.failed_at = None;
        }
        let Some(f) = self.active.as_mut() else {
            return;
        };
        if let Err(e) = f.write_all(rec) {
            // What was written of it is an unreadable end, skipped at the next start; what the
            // buffer held is lost with it.
            self.active = None;
            let lost = 1 + std::mem::take(&mut self.unflushed);
            self.failed(&e, lost);
            return;
        }
        self.unflushed += 1;
        let now = now_ms();
        if let Some(seg) = self.segs.back_mut() {
            seg.bytes += rec.len() as u64;
            seg.last_ms = now;
            if seg.bytes >= self.segment_bytes {
                self.flush();
                self.active = None;
            }
        }
        self.cap();
        self.publish();
    }

    /// Counts `lost` exports as not written; the first failure is logged.
    fn failed(&mut self, e: &std::io::Error, lost: u64) {
        self.failed_at = Some(Instant::now());
        if self.counters.write_error.fetch_add(lost, Ordering::Relaxed) == 0 {
            tracing::warn!(target: "watchpost_cli::console", dir = %self.options.dir.display(), error = %e, "cannot write to the data directory; exports are kept in memory only (counted in watchpost_console_persist_dropped_total)");
        }
    }

    /// Opens a new segment named after the clock (later than every other). A segment whose
    /// header cannot be written is deleted (or, if it cannot be, kept in `segs` so the cap and
    /// the retention delete it later): a failing disk never leaves empty files behind.
    fn open(&mut self) -> std::io::Result<()> {
        let ms = now_ms().max(self.segs.back().map_or(0, |s| s.first_ms + 1));
        let path = self.options.dir.join(format!("segment-{ms}.otlp"));
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        if let Err(e) = f.write_all(MAGIC) {
            drop(f);
            if std::fs::remove_file(&path).is_err() {
                let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
                self.segs.push_back(Segment {
                    path,
                    first_ms: ms,
                    last_ms: ms,
                    bytes,
                });
            }
            return Err(e);
        }
        self.segs.push_back(Segment {
            path,
            first_ms: ms,
            last_ms: ms,
            bytes: MAGIC.len() as u64,
        });
        self.active = Some(BufWriter::with_capacity(256 << 10, f));
        self.unflushed = 0;
        Ok(())
    }

    fn flush(&mut self) {
        if let Some(f) = self.active.as_mut() {
            match f.flush() {
                Ok(()) => self.unflushed = 0,
                Err(e) => {
                    self.active = None;
                    let lost = std::mem::take(&mut self.unflushed);
                    self.failed(&e, lost.max(1));
                }
            }
        }
    }

    /// Deletes the oldest segments while the total is over the cap (the open one too, last).
    fn cap(&mut self) {
        let mut total: u64 = self.segs.iter().map(|s| s.bytes).sum();
        while total > self.options.max_bytes {
            let Some(s) = self.segs.pop_front() else {
                break;
            };
            if self.segs.is_empty() {
                self.active = None;
            }
            total -= s.bytes;
            delete(&s, &self.counters.deleted_size, "size");
        }
    }

    /// Deletes the segments whose newest record is older than the retention.
    fn retain(&mut self) {
        let cutoff = now_ms().saturating_sub(self.options.retention.as_millis() as u64);
        while self.segs.front().is_some_and(|s| s.last_ms < cutoff) {
            let Some(s) = self.segs.pop_front() else {
                break;
            };
            if self.segs.is_empty() {
                self.active = None;
            }
            delete(&s, &self.counters.deleted_retention, "retention");
        }
        self.publish();
    }

    pub(super) fn publish(&self) {
        self.counters
            .bytes
            .store(self.segs.iter().map(|s| s.bytes).sum(), Ordering::Relaxed);
        self.counters
            .segments
            .store(self.segs.len() as u64, Ordering::Relaxed);
    }
}
