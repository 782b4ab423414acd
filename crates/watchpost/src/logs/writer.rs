//! [`NonBlocking`]: log lines go into a bounded in-memory buffer; one background thread writes
//! them to the real writer (stdout by default, or a rotated [`LogFile`] with
//! [`NonBlocking::file`]), many lines per system call.
//!
//! Why: with one `write` per line, every request pays a system call, and a log consumer that
//! stops reading (a full pipe, a stalled terminal, a slow disk) blocks every thread that logs —
//! the service stops because its logs cannot be written. Here a thread that logs only copies the
//! line into the buffer; when the buffer is full the line is dropped and counted
//! ([`crate::SelfStats::log_write_errors`], `<svc>_log_write_errors_total`), never waited for.
//!
//! Lines keep their order, are never split, and reach the writer a few milliseconds after they
//! were logged. [`crate::Telemetry::shutdown`] and [`crate::Telemetry::force_flush`] wait until
//! everything logged before them is written, and so does the process's `exit` (a return from
//! `main`, `std::process::exit`) when the pipeline was installed with [`crate::init`]. Lines
//! logged within the last few milliseconds before an `abort` or a fatal signal can be lost.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;

use super::rotate::LogFile;
use crate::config::LogFileConfig;

/// Default size of the buffer: lines waiting to be written beyond it are dropped.
pub const DEFAULT_BUFFER_BYTES: usize = 4 * 1024 * 1024;

/// When this much is waiting, the writer thread is woken at once instead of after its short
/// gathering pause.
const WAKE_AT: usize = 64 * 1024;
/// How long the writer thread lets lines gather after the first one arrives.
const GATHER: Duration = Duration::from_millis(5);
/// How often an idle writer thread of a log file flushes it (which checks its age).
const IDLE_FLUSH: Duration = Duration::from_secs(60);

/// A log writer that never blocks the thread that logs: lines go into a bounded buffer
/// (a full buffer drops and counts them) and one background thread writes many lines per
/// system call, so a stalled log reader never stalls the service.
///
/// [`crate::Telemetry::builder`] uses `NonBlocking::stdout()` unless told otherwise; pass one to
/// [`crate::TelemetryBuilder::writer`] to write elsewhere without blocking (the pipeline then
/// also flushes it on shutdown).
///
/// ```
/// use tracing_subscriber::fmt::MakeWriter as _;
/// use std::io::Write as _;
///
/// let sink = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
/// let out = sink.clone();
/// struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
/// impl std::io::Write for Captured {
///     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().write(b) }
///     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
/// }
/// let writer = watchpost::logs::NonBlocking::new(Captured(sink));
/// writer.make_writer().write_all(b"{\"msg\":\"one\"}\n").unwrap();
/// assert!(writer.flush(std::time::Duration::from_secs(5)));
/// assert_eq!(out.lock().unwrap().as_slice(), b"{\"msg\":\"one\"}\n");
/// ```
#[derive(Clone)]
pub struct NonBlocking {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for NonBlocking {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonBlocking")
            .field("capacity", &self.handle.queue.capacity)
            .field("failed_lines", &self.failed_lines())
            .finish()
    }
}

/// Owned by the `NonBlocking` clones: when the last goes, the thread writes what is left and
/// ends.
struct Handle {
    queue: Arc<Queue>,
    started: Once,
    writer: Mutex<Option<Box<dyn Write + Send>>>,
}

/// The lines waiting for the writer thread, and how the thread and the flushers signal each
/// other.
struct Queue {
    state: Mutex<State>,
    /// To the writer thread: lines are waiting, a flush is requested, or stop.
    wake: Condvar,
    /// To flushers: `State::written` moved.
    done: Condvar,
    capacity: usize,
    /// Lines lost: refused because the buffer was full, or failed to write.
    failed: Arc<AtomicU64>,
    /// Of those, refused because the buffer was full (reported by the writer thread).
    refused: AtomicU64,
    last_report: AtomicU64,
    /// Flush the writer every [`IDLE_FLUSH`] when there is nothing to write (a log file's
    /// retention runs in its flush).
    idle_flush: bool,
}

#[derive(Default)]
struct State {
    buf: Vec<u8>,
    /// Flush requests made so far, and how many of them are done.
    requested: u64,
    written: u64,
    stop: bool,
    /// The writer thread is running (a flush with no thread has nothing to wait for).
    running: bool,
}

impl NonBlocking {
    /// Writes to the process's stdout, with a buffer of [`DEFAULT_BUFFER_BYTES`].
    ///
    /// ```
    /// let writer = watchpost::logs::NonBlocking::stdout();
    /// # drop(writer);
    /// ```
    pub fn stdout() -> Self {
        Self::new(std::io::stdout())
    }

    /// Writes to `writer`, with a buffer of [`DEFAULT_BUFFER_BYTES`].
    ///
    /// ```
    /// let writer = watchpost::logs::NonBlocking::new(std::io::stderr());
    /// # drop(writer);
    /// ```
    pub fn new(writer: impl Write + Send + 'static) -> Self {
        Self::with_capacity(writer, DEFAULT_BUFFER_BYTES)
    }

    /// Writes to `writer`; at most `bytes` of lines wait (at least one line is always accepted
    /// into an empty buffer).
    ///
    /// ```
    /// let writer = watchpost::logs::NonBlocking::with_capacity(std::io::stderr(), 1 << 20);
    /// # drop(writer);
    /// ```
    pub fn with_capacity(writer: impl Write + Send + 'static, bytes: usize) -> Self {
        Self::build(Box::new(writer), bytes, false)
    }

    /// Writes to a log file of the service's own, rotated, compressed and kept as `config` says
    /// (see [`LogFile`]), with a buffer of [`DEFAULT_BUFFER_BYTES`]. The file is opened by the
    /// writer thread; while it cannot be, lines are counted as lost (and reported on stderr at
    /// most once a minute). What [`crate::Telemetry::builder`] uses for
    /// [`LogOutput::File`](crate::config::LogOutput::File).
    ///
    /// ```
    /// use std::io::Write as _;
    /// use tracing_subscriber::fmt::MakeWriter as _;
    /// let dir = std::env::temp_dir().join(format!("wp-doc-nbfile-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let writer = watchpost::logs::NonBlocking::file(watchpost::config::LogFileConfig::new(dir.join("svc.log")));
    /// writer.make_writer().write_all(b"{\"msg\":\"one\"}\n").unwrap();
    /// assert!(writer.flush(std::time::Duration::from_secs(5)));
    /// assert_eq!(std::fs::read_to_string(dir.join("svc.log")).unwrap(), "{\"msg\":\"one\"}\n");
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn file(config: LogFileConfig) -> Self {
        Self::build(Box::new(LogFile::new(config)), DEFAULT_BUFFER_BYTES, true)
    }

    fn build(writer: Box<dyn Write + Send>, bytes: usize, idle_flush: bool) -> Self {
        Self {
            handle: Arc::new(Handle {
                queue: Arc::new(Queue {
                    state: Mutex::new(State::default()),
                    wake: Condvar::new(),
                    done: Condvar::new(),
                    capacity: bytes,
                    failed: Arc::new(AtomicU64::new(0)),
                    refused: AtomicU64::new(0),
                    last_report: AtomicU64::new(0),
                    idle_flush,
                }),
                started: Once::new(),
                writer: Mutex::new(Some(writer)),
            }),
        }
    }

    /// Waits until every line accepted before this call is written (or `timeout` passes);
    /// `true` if it was.
    ///
    /// ```
    /// let writer = watchpost::logs::NonBlocking::new(std::io::sink());
    /// assert!(writer.flush(std::time::Duration::from_secs(1)));
    /// ```
    pub fn flush(&self, timeout: Duration) -> bool {
        let queue = &self.handle.queue;
        let deadline = Instant::now() + timeout;
        let mut st = lock(&queue.state);
        if !st.running {
            return st.buf.is_empty();
        }
        st.requested += 1;
        let target = st.requested;
        queue.wake.notify_one();
        while st.written < target {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = queue
                .done
                .wait_timeout(st, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        true
    }

    /// Lines lost: refused because the buffer was full, or not written because the writer
    /// failed. Both are also in [`crate::SelfStats::log_write_errors`] when the pipeline writes
    /// through this writer.
    ///
    /// ```
    /// let writer = watchpost::logs::NonBlocking::new(std::io::sink());
    /// assert_eq!(writer.failed_lines(), 0);
    /// ```
    pub fn failed_lines(&self) -> u64 {
        self.handle.queue.failed.load(Ordering::Relaxed)
    }

    pub(crate) fn failed_counter(&self) -> Arc<AtomicU64> {
        self.handle.queue.failed.clone()
    }

    fn append(&self, line: &[u8]) -> std::io::Result<()> {
        let handle = &*self.handle;
        handle.started.call_once(|| handle.start());
        let queue = &*handle.queue;
        let mut st = lock(&queue.state);
        if !st.buf.is_empty() && st.buf.len() + line.len() > queue.capacity {
            drop(st);
            // Counted here, reported by the writer thread: this thread must not touch stderr,
            // which may be the same stalled pipe as the log.
            queue.failed.fetch_add(1, Ordering::Relaxed);
            queue.refused.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        let before = st.buf.len();
        st.buf.extend_from_slice(line);
        let after = st.buf.len();
        drop(st);
        // Wake the thread for the first line after a quiet spell (it then gathers for a few
        // milliseconds), and when a large amount is waiting; not per line.
        if before == 0 || (before < WAKE_AT && after >= WAKE_AT) {
            queue.wake.notify_one();
        }
        Ok(())
    }
}

impl Handle {
    fn start(&self) {
        let Some(writer) = lock(&self.writer).take() else {
            return;
        };
        let queue = self.queue.clone();
        lock(&queue.state).running = true;
        let spawned = std::thread::Builder::new()
            .name("watchpost-log".into())
            .spawn(move || run(&queue, writer));
        if let Err(e) = spawned {
            let _ = writeln!(
                std::io::stderr(),
                "watchpost: cannot start the log writer thread: {e}; log lines are dropped"
            );
            lock(&self.queue.state).running = false;
        }
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        let mut st = lock(&self.queue.state);
        st.stop = true;
        self.queue.wake.notify_one();
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The writer thread: gathers lines for a moment, then writes them all with one call.
fn run(queue: &Queue, mut writer: Box<dyn Write + Send>) {
    let mut out: Vec<u8> = Vec::new();
    let mut reported_refused = 0;
    loop {
        let mut st = lock(&queue.state);
        let mut idle = false;
        while st.buf.is_empty() && !st.stop && st.written == st.requested {
            if !queue.idle_flush {
                st = queue.wake.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            let (s, waited) = queue
                .wake
                .wait_timeout(st, IDLE_FLUSH)
                .unwrap_or_else(|p| p.into_inner());
            st = s;
            if waited.timed_out() {
                idle = true;
                break;
            }
        }
        if idle && st.buf.is_empty() && !st.stop && st.written == st.requested {
            drop(st);
            let _ = writer.flush();
            continue;
        }
        if !st.stop && st.written == st.requested && st.buf.len() < WAKE_AT {
            st = queue
                .wake
                .wait_timeout(st, GATHER)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        std::mem::swap(&mut st.buf, &mut out);
        let target = st.requested;
        let stop = st.stop;
        drop(st);
        if !out.is_empty() {
            let (written, result) = write_batch(&mut *writer, &out);
            let refused = queue.refused.load(Ordering::Relaxed);
            let failure = match result {
                Err(e) => {
                    // The lines not written (a writer such as `LogFile` takes whole lines, and
                    // cuts off a line it could write only part of).
                    let lines = out[written..].iter().filter(|&&b| b == b'\n').count() as u64;
                    queue.failed.fetch_add(lines, Ordering::Relaxed);
                    Some(e.to_string())
                }
                Ok(()) if refused > reported_refused => {
                    Some("the log writer fell behind and its buffer was full".to_string())
                }
                Ok(()) => None,
            };
            if let Some(e) = failure {
                let lost = crate::internal::LogLinesLost {
                    error: &e,
                    total: queue.failed.load(Ordering::Relaxed),
                };
                if lost.emit(&queue.last_report) {
                    reported_refused = refused;
                }
            }
            out.clear();
            // Do not keep a burst's worth of memory for ever.
            if out.capacity() > 4 * WAKE_AT {
                out.shrink_to(4 * WAKE_AT);
            }
        }
        let mut st = lock(&queue.state);
        st.written = target;
        queue.done.notify_all();
        if stop && st.buf.is_empty() {
            st.running = false;
            return;
        }
    }
}

/// Writes `out` and flushes; how many bytes the writer took, and the first error. A failed
/// flush loses the whole batch (it may have been buffered), a failed write what was not taken.
fn write_batch(writer: &mut dyn Write, out: &[u8]) -> (usize, std::io::Result<()>) {
    let mut written = 0;
    while written < out.len() {
        match writer.write(&out[written..]) {
            Ok(0) => return (written, Err(std::io::ErrorKind::WriteZero.into())),
            Ok(n) => written += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (written, Err(e)),
        }
    }
    match writer.flush() {
        Ok(()) => (written, Ok(())),
        Err(e) => (0, Err(e)),
    }
}

/// One line's writer, as [`MakeWriter`] hands it to the log layer.
#[derive(Debug)]
pub struct LineWriter<'a> {
    target: &'a NonBlocking,
}

impl Write for LineWriter<'_> {
    /// Takes the whole buffer (the log layer writes one complete line per call), or drops it
    /// and counts it when the buffer is full; never fails, never waits for the writer.
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.target.append(buf).map(|()| buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for NonBlocking {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter { target: self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Takes `quota` bytes in all, then fails (a disk that fills up).
    struct FailsAfter {
        quota: usize,
    }

    impl Write for FailsAfter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.quota == 0 {
                return Err(std::io::Error::other("no space left"));
            }
            let n = buf.len().min(self.quota);
            self.quota -= n;
            Ok(n)
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_batch_that_fails_part_way_counts_only_the_lines_not_written() {
        let line = b"{\"seq\":0}\n";
        // Three lines and part of a fourth fit.
        let writer = NonBlocking::new(FailsAfter {
            quota: 3 * line.len() + 4,
        });
        for _ in 0..10 {
            writer.make_writer().write_all(line).unwrap();
        }
        assert!(writer.flush(Duration::from_secs(10)));
        assert_eq!(writer.failed_lines(), 7);
    }
}
