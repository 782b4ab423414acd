//! `watchpost console --data DIR`: the exports as received, appended to segment files, replayed
//! into the store at start, so a restart keeps the data.
//!
//! The in-memory [`Store`] stays the query engine; the disk is an append-only log. Each export
//! is one record — `u32` length and `u32` CRC-32 (little-endian) of the body, then the body: the
//! signal (1 traces, 2 logs, 3 metrics), the receive time (`u64` Unix milliseconds) and the OTLP
//! export request as protobuf — in `segment-<first record's Unix ms>.otlp` (after an 8-byte
//! header, [`MAGIC`]); a segment is closed at [`DataOptions::segment_bytes`] and a new one
//! opened. One writer thread writes, fed by [`Persist::offer`] over a bounded queue: ingest never
//! waits for the disk, and an export the queue has no room for is kept in memory but not
//! written, counted (`watchpost_console_persist_dropped_total{reason="queue_full"}`).
//!
//! At start the segments are replayed oldest first through the store's own ingest
//! (`Store::add_*`), so the budget keeps the newest. A segment whose end cannot be read (a write
//! cut short by a kill, or corruption) is replayed up to that point, with one warning naming the
//! file and the offset; the start never fails for it. Bounds: over [`DataOptions::max_bytes`]
//! the oldest segment is deleted; a segment whose newest record is older than
//! [`DataOptions::retention`] is deleted (checked at start and every 10 s); each deletion is
//! counted (`watchpost_console_data_segments_deleted_total{reason}`) and on `/api/stats`.
//! Segment names are made here from the clock, never from input; only names of that form are
//! read. The directory is created `0700`, segments `0600`.
//!
//! ```
//! use watchpost_cli::console::persist::{parse_retention, Persist};
//! assert_eq!(parse_retention("7d").unwrap().as_secs(), 7 * 86_400);
//! assert!(!Persist::disabled().enabled());
//! ```

use std::fs;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use prost::Message as _;
use serde_json::json;
use watchpost::catalogue::{Label, MetricDef, Unit};

use super::store::Store;
use crate::error::Error;
use crate::otlp::Batch;

mod segment;
mod writer;

use segment::{record, record_len, replay};
use writer::Writer;

/// The first 8 bytes of every segment.
pub const MAGIC: &[u8; 8] = b"WPOTLP1\n";
/// `--data-max-bytes`' default: 1 GiB.
pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;
/// `--retention`'s default: 7 days.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(7 * 86_400);
/// Bytes of encoded exports waiting for the writer, at most (one export larger than this is
/// taken when nothing waits): memory outside the budget.
pub const QUEUE_BYTES: u64 = 32 << 20;
/// The largest record read back (an import may be 64 MiB as JSON; as protobuf it is smaller).
const MAX_RECORD: usize = 128 << 20;
/// A record's header: length, CRC-32.
const HEADER: usize = 8;
/// How often the writer applies the retention when idle.
const TICK: Duration = Duration::from_secs(10);

const REASON_DROPPED: Label = Label::closed("reason", &["queue_full", "write_error", "closed"]);
const REASON_DELETED: Label = Label::closed("reason", &["size", "retention"]);
/// Exports kept in memory but not written to `--data`.
pub const PERSIST_DROPPED: MetricDef = MetricDef::counter(
    "watchpost_console_persist_dropped_total",
    "OTLP exports stored in memory but not written to --data: the writer was behind (queue_full), the write failed (write_error), or the writer had stopped (closed)",
)
.labels(&[REASON_DROPPED])
.subsystem("CONSOLE");
/// Segments deleted.
pub const SEGMENTS_DELETED: MetricDef = MetricDef::counter(
    "watchpost_console_data_segments_deleted_total",
    "Segment files of --data deleted: the oldest over --data-max-bytes (size), or older than --retention (retention)",
)
.labels(&[REASON_DELETED])
.subsystem("CONSOLE");
/// Bytes of segments that could not be read at replay.
pub const BYTES_SKIPPED: MetricDef = MetricDef::counter(
    "watchpost_console_data_skipped_bytes_total",
    "Bytes of --data segments not replayed at start: from an unreadable record to the segment's end",
)
.unit(Unit::Bytes)
.subsystem("CONSOLE");
/// Segments whose unreadable end was skipped at replay.
pub const TAILS_SKIPPED: MetricDef = MetricDef::counter(
    "watchpost_console_data_tails_skipped_total",
    "Segments of --data whose end could not be read at start (a write cut short, or corruption): replayed up to it",
)
.subsystem("CONSOLE");
/// Bytes in the data directory's segments.
pub const DATA_BYTES: MetricDef = MetricDef::gauge(
    "watchpost_console_data_bytes",
    "Bytes of the segment files in --data (--data-max-bytes bounds it)",
)
.unit(Unit::Bytes)
.subsystem("CONSOLE");

/// Where the data goes and how much of it is kept.
#[derive(Debug, Clone)]
pub struct DataOptions {
    /// The directory (created `0700` if absent).
    pub dir: PathBuf,
    /// The most bytes of segments kept; the oldest segment is deleted first.
    pub max_bytes: u64,
    /// Segments whose newest record is older are deleted.
    pub retention: Duration,
}

impl DataOptions {
    /// A segment is closed at this size: an eighth of `max_bytes`, from 8 KiB to 16 MiB (so the
    /// cap deletes an eighth at a time at most).
    pub fn segment_bytes(&self) -> u64 {
        (self.max_bytes / 8).clamp(8 << 10, 16 << 20)
    }
}

/// Reads `--retention`: a number and a unit (`s`, `m`, `h`, `d`), at least a minute.
///
/// ```
/// use watchpost_cli::console::persist::parse_retention;
/// assert_eq!(parse_retention("12h").unwrap().as_secs(), 43_200);
/// assert!(parse_retention("forever").is_err());
/// ```
pub fn parse_retention(s: &str) -> crate::Result<Duration> {
    crate::duration::parse(s)
        .filter(|d| *d >= Duration::from_secs(60))
        .ok_or_else(|| {
            Error::new(format!("--retention: cannot read '{s}' as a duration"))
                .hint("write a number and a unit of at least a minute: 30m, 12h, 7d")
        })
}

/// The counts `/api/stats` and the metrics show.
#[derive(Debug, Default)]
pub struct Counters {
    /// Exports not written: the queue was full.
    pub queue_full: AtomicU64,
    /// Exports not written: the write failed (each export lost with a failed flush counts).
    pub write_error: AtomicU64,
    /// Exports not written: offered after the writer stopped.
    pub closed: AtomicU64,
    /// Segments deleted over the size cap.
    pub deleted_size: AtomicU64,
    /// Segments deleted for their age.
    pub deleted_retention: AtomicU64,
    /// Segments whose end was skipped at replay.
    pub tails_skipped: AtomicU64,
    /// Bytes of those ends (what was not replayed).
    pub bytes_skipped: AtomicU64,
    /// Exports replayed at start.
    pub replayed: AtomicU64,
    /// Bytes of segments.
    pub bytes: AtomicU64,
    /// Segment files.
    pub segments: AtomicU64,
    queued_bytes: AtomicU64,
}

/// The persistence of one console: disabled, or a writer thread and its counters.
#[derive(Debug)]
pub struct Persist {
    options: Option<DataOptions>,
    tx: Mutex<Option<SyncSender<Vec<u8>>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
    /// `DIR/.lock`, locked (`flock`) while this console uses the directory.
    lock: Mutex<Option<fs::File>>,
    /// What was written, deleted, skipped and dropped.
    pub counters: Arc<Counters>,
}

impl Persist {
    /// No `--data`: nothing is written.
    pub fn disabled() -> Persist {
        Persist {
            options: None,
            tx: Mutex::new(None),
            writer: Mutex::new(None),
            lock: Mutex::new(None),
            counters: Arc::default(),
        }
    }

    /// Whether exports are written.
    pub fn enabled(&self) -> bool {
        self.options.is_some()
    }

    /// Creates the directory, applies the cap and the retention, replays what is left into
    /// `store` (oldest first) and starts the writer. Blocking: call it off the async threads.
    pub fn open(options: DataOptions, store: &RwLock<Store>) -> crate::Result<Persist> {
        let dir = &options.dir;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| {
                Error::new(format!("--data {}: cannot create the directory: {e}", dir.display()))
                    .hint("give a directory this user can create and write, e.g. --data ~/.local/share/watchpost-console")
            })?;
        check_dir(dir)?;
        let lock = lock_dir(dir)?;
        let counters = Arc::new(Counters::default());
        let segs = replay(&options, store, &counters)?;
        let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(1024);
        let mut writer = Writer {
            segment_bytes: options.segment_bytes(),
            options: options.clone(),
            segs,
            active: None,
            unflushed: 0,
            failed_at: None,
            counters: counters.clone(),
        };
        writer.publish();
        let handle = std::thread::Builder::new()
            .name("console-persist".into())
            .spawn(move || writer.run(&rx))
            .map_err(|e| Error::new(format!("cannot start the --data writer: {e}")))?;
        Ok(Persist {
            options: Some(options),
            tx: Mutex::new(Some(tx)),
            writer: Mutex::new(Some(handle)),
            lock: Mutex::new(Some(lock)),
            counters,
        })
    }

    /// Hands an export to the writer without waiting; when the writer is behind (or has
    /// stopped) it is not written (it is stored in memory all the same) and counted. Does
    /// nothing when disabled or for an unreadable export. The room is checked before the export
    /// is encoded, and it is encoded outside any lock.
    pub fn offer(&self, batch: &Batch) {
        if !self.enabled() {
            return;
        }
        let (signal, len) = match batch {
            Batch::Traces(r) => (1, r.encoded_len()),
            Batch::Logs(r) => (2, r.encoded_len()),
            Batch::Metrics(r) => (3, r.encoded_len()),
            Batch::Invalid { .. } => return,
        };
        let len = (record_len(len)) as u64;
        let queued = self.counters.queued_bytes.fetch_add(len, Ordering::Relaxed);
        if queued > 0 && queued + len > QUEUE_BYTES {
            self.counters.queued_bytes.fetch_sub(len, Ordering::Relaxed);
            self.counters.queue_full.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let record = match batch {
            Batch::Traces(r) => record(signal, r),
            Batch::Logs(r) => record(signal, r),
            Batch::Metrics(r) => record(signal, r),
            Batch::Invalid { .. } => Vec::new(),
        };
        debug_assert_eq!(record.len() as u64, len);
        let sent = {
            let guard = self.tx.lock().unwrap_or_else(|e| e.into_inner());
            guard.as_ref().map(|tx| tx.try_send(record))
        };
        let counter = match sent {
            Some(Ok(())) => return,
            Some(Err(_)) => &self.counters.queue_full,
            None => &self.counters.closed,
        };
        self.counters.queued_bytes.fetch_sub(len, Ordering::Relaxed);
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Ends the writer once it has written what waits, flushed and synced. Blocking.
    pub fn close(&self) {
        self.tx.lock().unwrap_or_else(|e| e.into_inner()).take();
        let handle = self.writer.lock().unwrap_or_else(|e| e.into_inner()).take();
        if let Some(h) = handle {
            let _ = h.join();
        }
        // The directory is free for another console once everything is written.
        self.lock.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// The `data` object of `/api/stats`.
    pub fn stats(&self) -> serde_json::Value {
        let Some(o) = &self.options else {
            return json!({ "enabled": false });
        };
        let c = &*self.counters;
        let n = |a: &AtomicU64| a.load(Ordering::Relaxed);
        json!({
            "enabled": true,
            "dir": o.dir.display().to_string(),
            "max_bytes": o.max_bytes,
            "retention_seconds": o.retention.as_secs(),
            "bytes": n(&c.bytes),
            "segments": n(&c.segments),
            "replayed_exports": n(&c.replayed),
            "deleted_segments": { "size": n(&c.deleted_size), "retention": n(&c.deleted_retention) },
            "not_persisted": {
                "queue_full": n(&c.queue_full),
                "write_error": n(&c.write_error),
                "closed": n(&c.closed),
            },
            "skipped_tails": n(&c.tails_skipped),
            "skipped_bytes": n(&c.bytes_skipped),
        })
    }

    /// Registers the metrics of `--data` on `t`.
    pub fn register_metrics(self: &Arc<Self>, t: &watchpost::Telemetry) {
        use opentelemetry::KeyValue;
        let c = self.counters.clone();
        t.metrics().observe_u64(&PERSIST_DROPPED, move |o| {
            o.observe(
                c.queue_full.load(Ordering::Relaxed),
                &[KeyValue::new("reason", "queue_full")],
            );
            o.observe(
                c.write_error.load(Ordering::Relaxed),
                &[KeyValue::new("reason", "write_error")],
            );
            o.observe(
                c.closed.load(Ordering::Relaxed),
                &[KeyValue::new("reason", "closed")],
            );
        });
        let c = self.counters.clone();
        t.metrics().observe_u64(&SEGMENTS_DELETED, move |o| {
            o.observe(
                c.deleted_size.load(Ordering::Relaxed),
                &[KeyValue::new("reason", "size")],
            );
            o.observe(
                c.deleted_retention.load(Ordering::Relaxed),
                &[KeyValue::new("reason", "retention")],
            );
        });
        let c = self.counters.clone();
        t.metrics().observe_u64(&TAILS_SKIPPED, move |o| {
            o.observe(c.tails_skipped.load(Ordering::Relaxed), &[]);
        });
        let c = self.counters.clone();
        t.metrics().observe_u64(&BYTES_SKIPPED, move |o| {
            o.observe(c.bytes_skipped.load(Ordering::Relaxed), &[]);
        });
        let c = self.counters.clone();
        t.metrics().observe_u64(&DATA_BYTES, move |o| {
            o.observe(c.bytes.load(Ordering::Relaxed), &[]);
        });
    }
}

/// Refuses a directory another user owns or others may write (they could plant segments that
/// are replayed as telemetry, or delete them); warns when others may read it.
fn check_dir(dir: &Path) -> crate::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    let meta = fs::metadata(dir).map_err(|e| {
        Error::new(format!(
            "--data {}: cannot read the directory: {e}",
            dir.display()
        ))
        .hint("give a directory this user can read and write")
    })?;
    if !meta.is_dir() {
        return Err(
            Error::new(format!("--data {}: not a directory", dir.display()))
                .hint("give a directory (created 0700 if absent)"),
        );
    }
    // SAFETY: geteuid has no preconditions and cannot fail.
    let me = unsafe { libc::geteuid() };
    if meta.uid() != me {
        return Err(Error::new(format!(
            "--data {}: the directory belongs to user {}, not to this user ({me})",
            dir.display(),
            meta.uid()
        ))
        .hint(format!(
            "give a directory of this user's, or make this one this user's: chown {me} {}",
            dir.display()
        )));
    }
    let mode = meta.mode() & 0o777;
    if mode & 0o022 != 0 {
        return Err(Error::new(format!(
            "--data {}: other users may write to the directory (mode {mode:o})",
            dir.display()
        ))
        .hint(format!(
            "make it private: chmod 700 {} (or give another directory)",
            dir.display()
        )));
    }
    if mode & 0o044 != 0 {
        tracing::warn!(target: "watchpost_cli::console", dir = %dir.display(), mode = format!("{mode:o}"), "the data directory is readable by other users; the telemetry in it may hold what they should not see (chmod 700 it)");
    }
    Ok(())
}

/// Locks `DIR/.lock` (`flock`, exclusive, not waiting): one console per directory. The lock
/// goes with the file (closed by [`Persist::close`] or when the process ends, even killed).
fn lock_dir(dir: &Path) -> crate::Result<fs::File> {
    use std::os::fd::AsRawFd as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = dir.join(".lock");
    let file = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| {
            Error::new(format!(
                "--data {}: cannot open {}: {e}",
                dir.display(),
                path.display()
            ))
            .hint("give a directory this user can write")
        })?;
    // SAFETY: the descriptor is open (owned by `file`) for the call.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
            Error::new(format!(
                "--data {}: another watchpost console is using this directory",
                dir.display()
            ))
            .hint("stop that console first, or give each console a directory of its own")
        } else {
            Error::new(format!(
                "--data {}: cannot lock {}: {e}",
                dir.display(),
                path.display()
            ))
            .hint("give a directory on a local file system that supports flock")
        });
    }
    Ok(file)
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn persist(tx: Option<SyncSender<Vec<u8>>>) -> Persist {
        Persist {
            options: Some(DataOptions {
                dir: PathBuf::from("/nonexistent"),
                max_bytes: DEFAULT_MAX_BYTES,
                retention: DEFAULT_RETENTION,
            }),
            tx: Mutex::new(tx),
            writer: Mutex::new(None),
            lock: Mutex::new(None),
            counters: Arc::default(),
        }
    }

    #[test]
    fn an_export_the_writer_has_no_room_for_is_counted_not_waited_for() {
        let (tx, rx) = mpsc::sync_channel(1);
        let persist = persist(Some(tx));
        let batch = Batch::Traces(segment::tests::spans(1));
        persist.offer(&batch);
        persist.offer(&batch);
        assert_eq!(persist.counters.queue_full.load(Ordering::Relaxed), 1);
        let queued = rx.try_recv().unwrap();
        assert_eq!(
            persist.counters.queued_bytes.load(Ordering::Relaxed),
            queued.len() as u64,
            "the refused export's bytes are not left reserved"
        );
    }

    #[test]
    fn an_export_offered_after_the_writer_stopped_is_counted_as_closed() {
        let persist = persist(None);
        persist.offer(&Batch::Logs(Default::default()));
        assert_eq!(persist.counters.closed.load(Ordering::Relaxed), 1);
        assert_eq!(persist.counters.queued_bytes.load(Ordering::Relaxed), 0);
        let disabled = Persist::disabled();
        disabled.offer(&Batch::Logs(Default::default()));
        assert_eq!(disabled.counters.closed.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn retention_needs_a_unit_and_a_minute() {
        assert!(parse_retention("7").is_err());
        assert!(parse_retention("30s").is_err());
        assert_eq!(parse_retention("90m").unwrap().as_secs(), 5400);
    }
}
