//! A resource's files on disk: the per-file buffer and lock, writing, rotation by rename, gzip
//! of rotated files (on the registry's one gzip thread, fed by a bounded queue), the bounded set
//! of open descriptors (LRU), and the flusher thread that writes buffers out every
//! `flush_interval`, runs the retention sweep and reports I/O errors and evictions.

use std::collections::VecDeque;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{lock, Registry, ResourceLogs};
use crate::logs::rotate::{self, numbered, open_append, NotQueued};

/// Bytes buffered per file before the emitting thread writes them out itself.
const BUFFER_BYTES: usize = 64 * 1024;
/// How often the flusher thread runs the retention sweep (ages, files left by earlier runs).
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// A rotated file that exists: `x.log.<i>` (`.gz` once compressed) for the entry at `i - 1` of
/// [`FileState::rotated`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Rotated {
    /// The generation it was the current file of.
    pub(super) generation: u64,
    pub(super) bytes: u64,
    /// Its modification time (its last line), ms since the Unix epoch.
    pub(super) modified_ms: u64,
    pub(super) gz: bool,
    /// No file is there (a hole: deleted by hand, or the current file could not be renamed):
    /// skipped by readers, deleted for free by retention.
    pub(super) gone: bool,
}

impl Rotated {
    /// A hole in the list of rotated files.
    pub(super) fn hole(generation: u64, modified_ms: u64) -> Self {
        Rotated {
            generation,
            bytes: 0,
            modified_ms,
            gz: false,
            gone: true,
        }
    }

    /// Its name now, for the entry at `index` of the queue.
    pub(super) fn path(&self, base: &Path, index: usize) -> PathBuf {
        numbered(base, index + 1, if self.gz { ".gz" } else { "" })
    }
}

/// A file's buffer and descriptor, under its lock.
#[derive(Debug)]
pub(super) struct FileState {
    file: Option<File>,
    pub(super) buf: Vec<u8>,
    /// Bytes in the current file on disk.
    pub(super) size: u64,
    /// The current file is generation `generation`; each rotation, and each emptying for the
    /// disk budget, starts the next one (followers use it to find the file after theirs).
    pub(super) generation: u64,
    /// The rotated files on disk, newest (`x.log.1`) first.
    pub(super) rotated: VecDeque<Rotated>,
    pub(super) opened_at: Instant,
    pub(super) removed: bool,
    /// Generations queued for (or being) gzipped: their `x.log.0.<generation>.gz.tmp` is theirs.
    pub(super) gzipping: Vec<u64>,
}

/// One stream of one resource (`<root>/<kind>/<id>/<stream>.log`), created on first use.
#[derive(Debug)]
pub(super) struct ResourceFile {
    pub(super) path: PathBuf,
    pub(super) state: Mutex<FileState>,
    pub(super) last_used: AtomicU64,
    dirty: AtomicBool,
    /// Modification time (ms) of the oldest rotated file, 0 if there is none; read without the
    /// lock to pick the disk budget's victims.
    pub(super) oldest_rotated_ms: AtomicU64,
    /// Bytes of the current file on disk, read without the lock.
    pub(super) current_bytes: AtomicU64,
}

impl ResourceFile {
    /// The stream at `path` with what an earlier run left on disk (its current file and up to
    /// `max_files` rotated files), and the bytes those hold.
    pub(super) fn load(path: PathBuf, max_files: usize) -> (Self, u64) {
        let mut rotated = VecDeque::new();
        for i in 1..=max_files {
            let Some((_, meta, gz)) = rotate::rotated_file(&path, i) else {
                break;
            };
            rotated.push_back(Rotated {
                generation: 0,
                bytes: meta.len(),
                modified_ms: rotate::mtime_ms(&meta),
                gz,
                gone: false,
            });
        }
        let n = rotated.len() as u64;
        for (i, r) in rotated.iter_mut().enumerate() {
            r.generation = n - 1 - i as u64;
        }
        let current = std::fs::metadata(&path).ok();
        let size = current.as_ref().map_or(0, |m| m.len());
        // A file kept from an earlier run: its first line is at least as old as its last.
        let opened_at = current
            .filter(|m| m.len() > 0)
            .and_then(|m| {
                let age = rotate::now_ms().saturating_sub(rotate::mtime_ms(&m));
                Instant::now().checked_sub(Duration::from_millis(age))
            })
            .unwrap_or_else(Instant::now);
        let bytes = size + rotated.iter().map(|r| r.bytes).sum::<u64>();
        let oldest = rotated.back().map_or(0, |r| r.modified_ms);
        let file = ResourceFile {
            path,
            state: Mutex::new(FileState {
                file: None,
                buf: Vec::new(),
                size,
                generation: n,
                rotated,
                opened_at,
                removed: false,
                gzipping: Vec::new(),
            }),
            last_used: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
            oldest_rotated_ms: AtomicU64::new(oldest),
            current_bytes: AtomicU64::new(size),
        };
        (file, bytes)
    }

    /// Publishes the oldest rotated file's time (1 for a hole: it goes first, for free) and the
    /// current size (caller holds the lock).
    pub(super) fn publish(&self, st: &FileState) {
        let oldest = st.rotated.back().map_or(0, |r| r.modified_ms.max(1));
        self.oldest_rotated_ms.store(oldest, Ordering::Relaxed);
        self.current_bytes.store(st.size, Ordering::Relaxed);
    }
}

impl ResourceLogs {
    pub(super) fn write_line(&self, file: &Arc<ResourceFile>, line: &[u8]) {
        let registry = &*self.registry;
        let mut st = lock(&file.state);
        if st.removed {
            return;
        }
        file.last_used.store(
            registry.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let pending = st.size + st.buf.len() as u64;
        if pending > 0 && pending + line.len() as u64 > registry.cfg.max_file_bytes {
            self.rotate(file, &mut st);
        }
        st.buf.extend_from_slice(line);
        registry.counters.lines.fetch_add(1, Ordering::Relaxed);
        if st.buf.len() >= BUFFER_BYTES {
            self.flush_locked(file, &mut st);
        } else if !file.dirty.swap(true, Ordering::AcqRel) {
            lock(&registry.dirty).push(file.clone());
        }
    }

    /// Writes the buffer to the current file (opening it if needed), first making room under
    /// the disk budget. Caller holds the lock.
    pub(super) fn flush_locked(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
        if st.buf.is_empty() || st.removed {
            return;
        }
        if st.file.is_none() {
            self.open_locked(file, st);
        }
        let n = st.buf.len() as u64;
        self.reserve(file, st, n);
        // A write that fails part way is cut back to where it started (a line boundary), so
        // the next write does not continue a half line.
        let result = match st.file.as_mut() {
            Some(f) => rotate::append_whole(f, &st.buf),
            // No descriptor slot free (every open file is busy): write through a descriptor that
            // is closed right after, so the bound holds and nothing is lost.
            None => open_append(&file.path).and_then(|mut f| {
                let on_disk = f.metadata().map(|m| m.len()).unwrap_or(st.size);
                self.resize(st, on_disk);
                rotate::append_whole(&mut f, &st.buf)
            }),
        };
        match result {
            Ok(()) => st.size += n,
            Err(e) => {
                self.unreserve(n);
                self.io_error(&file.path, "write", &e);
                // Opened again (and its size taken from the disk) by the next write.
                self.close_locked(file, st);
            }
        }
        st.buf.clear();
        file.publish(st);
    }

    /// Sets the size of the current file to what is on disk, keeping the disk total exact.
    fn resize(&self, st: &mut FileState, on_disk: u64) {
        if on_disk >= st.size {
            self.reserve_quietly(on_disk - st.size);
        } else {
            self.unreserve(st.size - on_disk);
        }
        st.size = on_disk;
    }

    /// Takes one of the `max_open_files` descriptor slots, if one is free (atomically: the
    /// flusher thread and writers open files concurrently).
    fn reserve_slot(&self) -> bool {
        let max = self.registry.cfg.max_open_files;
        self.registry
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    fn open_locked(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
        let registry = &*self.registry;
        if !self.reserve_slot() {
            self.evict_one(file);
            if !self.reserve_slot() {
                return; // every open file is busy right now: the caller writes without keeping one
            }
        }
        match open_append(&file.path) {
            Ok(f) => {
                let on_disk = f.metadata().map(|m| m.len()).unwrap_or(0);
                self.resize(st, on_disk);
                if st.size == 0 {
                    st.opened_at = Instant::now();
                }
                st.file = Some(f);
                lock(&registry.open_list).push(file.clone());
            }
            Err(e) => {
                registry.open.fetch_sub(1, Ordering::AcqRel);
                self.io_error(&file.path, "open", &e)
            }
        }
    }

    /// Closes a file's descriptor. Caller holds its lock.
    pub(super) fn close_locked(&self, file: &ResourceFile, st: &mut FileState) {
        if st.file.take().is_some() {
            self.registry.open.fetch_sub(1, Ordering::Relaxed);
            lock(&self.registry.open_list).retain(|f| !std::ptr::eq(f.as_ref(), file));
        }
    }

    /// Closes the least recently used open file other than `except`. Never waits for another
    /// file's lock (`try_lock`), so two evicting writers cannot deadlock. Its buffered lines
    /// stay buffered: the flusher writes them (through the disk budget) within
    /// `flush_interval`.
    fn evict_one(&self, except: &ResourceFile) {
        let mut open = lock(&self.registry.open_list);
        // Keys read once: they change under concurrent writes, and a sort needs a total order.
        open.sort_by_cached_key(|f| f.last_used.load(Ordering::Relaxed));
        let victim = open.iter().position(|f| {
            if std::ptr::eq(f.as_ref(), except) {
                return false;
            }
            let Ok(mut st) = f.state.try_lock() else {
                return false;
            };
            st.file = None;
            true
        });
        if let Some(i) = victim {
            open.remove(i);
            self.registry.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Rotates under the file's lock: flush, shift the stream's rotated files up by one (only
    /// those it has, known from its list; the oldest beyond `max_files` is deleted), rename
    /// `x.log` → `x.log.1`, and queue the gzip of `x.log.1`.
    pub(super) fn rotate(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
        let registry = &*self.registry;
        self.flush_locked(file, st);
        self.close_locked(file, st);
        let max = registry.cfg.max_files;
        let base = &file.path;
        if st.rotated.front().is_some_and(|e| e.gone) {
            // `x.log.1` is a hole (an earlier rename of the current file failed): no shift.
            st.rotated.pop_front();
        } else {
            while st.rotated.len() >= max {
                let Some(gone) = st.rotated.pop_back() else {
                    break;
                };
                if !gone.gone {
                    let p = gone.path(base, st.rotated.len());
                    match std::fs::remove_file(&p) {
                        Ok(()) => {}
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                        Err(e) => self.io_error(&p, "rotate", &e),
                    }
                }
                self.unreserve(gone.bytes);
            }
            for i in (0..st.rotated.len()).rev() {
                let e = st.rotated[i];
                if e.gone {
                    continue;
                }
                let from = e.path(base, i);
                match std::fs::rename(&from, e.path(base, i + 1)) {
                    Ok(()) => {}
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => self.io_error(&from, "rotate", &err),
                }
            }
        }
        // Its time is its last line's (an idle file rotated for its age is that old already).
        let modified_ms =
            std::fs::metadata(base).map_or_else(|_| rotate::now_ms(), |m| rotate::mtime_ms(&m));
        if let Err(e) = std::fs::rename(base, numbered(base, 1, "")) {
            // The rotated files moved up, the current file did not: it goes on (and is rotated
            // at the next write-out), with a hole at `x.log.1`.
            self.io_error(base, "rotate", &e);
            st.rotated.push_front(Rotated::hole(u64::MAX, modified_ms));
            file.publish(st);
            return;
        }
        let generation = st.generation;
        st.rotated.push_front(Rotated {
            generation,
            bytes: st.size,
            modified_ms,
            gz: false,
            gone: false,
        });
        // The next generation's file exists from now on (followers open it right away), even
        // if its first line is still buffered.
        if let Err(e) = open_append(base) {
            self.io_error(base, "rotate", &e);
        }
        st.size = 0;
        st.generation += 1;
        st.opened_at = Instant::now();
        file.publish(st);
        registry.counters.rotations.fetch_add(1, Ordering::Relaxed);
        if registry.cfg.compress {
            self.queue_gzip(file, st, generation);
        }
    }

    /// Queues the gzip of the file rotated as `generation` on the registry's gzip thread; a full
    /// queue (or no thread) leaves it uncompressed, counted. Never waits.
    fn queue_gzip(&self, file: &Arc<ResourceFile>, st: &mut FileState, generation: u64) {
        let registry = Arc::downgrade(&self.registry);
        let f = file.clone();
        let job = Box::new(move || {
            if let Some(registry) = registry.upgrade() {
                ResourceLogs { registry }.compress(&f, generation);
            }
        });
        st.gzipping.push(generation);
        if let Err(why) = self.registry.gzip.submit(job) {
            st.gzipping.retain(|g| *g != generation);
            self.registry
                .counters
                .compress_skipped
                .fetch_add(1, Ordering::Relaxed);
            if let NotQueued::NoThread(e) = why {
                self.io_error(&file.path, "compress", &e);
            }
        }
    }

    /// Gzips the file rotated as `generation` (opened under the lock, wherever later rotations
    /// moved it) and puts the result where that file is then, unless it was deleted meanwhile.
    /// Runs on the gzip thread.
    fn compress(&self, file: &ResourceFile, generation: u64) {
        let path = &file.path;
        let src = {
            let mut st = lock(&file.state);
            let found = st
                .rotated
                .iter()
                .position(|r| r.generation == generation && !r.gz && !r.gone)
                .filter(|_| !st.removed);
            let src = found.and_then(|i| File::open(st.rotated[i].path(path, i)).ok());
            if src.is_none() {
                st.gzipping.retain(|g| *g != generation);
            }
            src
        };
        let Some(src) = src else {
            return;
        };
        let tmp = rotate::gzip_tmp(path, generation);
        let result = rotate::gzip(src, &tmp);
        let mut st = lock(&file.state);
        st.gzipping.retain(|g| *g != generation);
        let found = st
            .rotated
            .iter()
            .position(|r| r.generation == generation && !r.gz && !r.gone)
            .filter(|_| !st.removed);
        match (result, found) {
            (Ok(gz_bytes), Some(i)) => {
                let plain = numbered(path, i + 1, "");
                match std::fs::rename(&tmp, numbered(path, i + 1, ".gz")) {
                    Ok(()) => {
                        let _ = std::fs::remove_file(&plain);
                        let entry = &mut st.rotated[i];
                        self.reserve_quietly(gz_bytes);
                        self.unreserve(entry.bytes);
                        entry.bytes = gz_bytes;
                        entry.gz = true;
                        file.publish(&st);
                    }
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp);
                        self.io_error(path, "compress", &e);
                    }
                }
            }
            (Ok(_), None) => {
                let _ = std::fs::remove_file(&tmp);
            }
            (Err(e), _) => {
                let _ = std::fs::remove_file(&tmp);
                self.io_error(path, "compress", &e);
            }
        }
    }

    pub(super) fn io_error(&self, path: &Path, op: &str, e: &io::Error) {
        self.registry
            .counters
            .io_errors
            .fetch_add(1, Ordering::Relaxed);
        *lock(&self.registry.last_error) = Some(format!("{op} {}: {e}", path.display()));
    }

    /// Writes every buffered line to disk now (also done every `flush_interval`, and by
    /// [`Telemetry::shutdown`](crate::Telemetry::shutdown)).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-flush-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// telemetry.resource_logs().unwrap().flush();
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn flush(&self) {
        for f in self.all_files() {
            let mut st = lock(&f.state);
            self.flush_locked(&f, &mut st);
            f.dirty.store(false, Ordering::Release);
        }
    }

    fn flush_dirty(&self) {
        let dirty = std::mem::take(&mut *lock(&self.registry.dirty));
        let max_age = self.registry.cfg.max_age;
        for f in dirty {
            let mut st = lock(&f.state);
            f.dirty.store(false, Ordering::Release);
            self.flush_locked(&f, &mut st);
            if let Some(age) = max_age {
                if st.size > 0 && st.opened_at.elapsed() >= age {
                    self.rotate(&f, &mut st);
                }
            }
        }
    }

    /// Where the flusher thread reports I/O errors: the pipeline's own dispatcher.
    pub(crate) fn set_dispatch(&self, dispatch: &tracing::Dispatch) {
        *lock(&self.registry.dispatch) = Some(dispatch.downgrade());
    }

    fn take_error_report(&self) -> Option<String> {
        lock(&self.registry.last_error).take()
    }

    /// Runs `emit` with the pipeline's dispatcher (the flusher thread has none of its own).
    fn with_dispatch(&self, emit: impl FnOnce()) {
        let dispatch = lock(&self.registry.dispatch)
            .as_ref()
            .and_then(|d| d.upgrade());
        match dispatch {
            Some(d) => tracing::dispatcher::with_default(&d, emit),
            None => emit(),
        }
    }
}

/// Starts the thread that flushes dirty buffers every `flush_interval`, runs the retention
/// sweep every minute (and the budget whenever it is exceeded), and reports I/O errors and
/// evictions at most once a minute; it ends when the registry is dropped.
pub(super) fn spawn_flusher(registry: Weak<Registry>) {
    let Some(interval) = registry.upgrade().map(|r| r.cfg.flush_interval) else {
        return;
    };
    let spawned = std::thread::Builder::new()
        .name("watchpost-resource-logs".into())
        .spawn(move || {
            let mut last_report: Option<Instant> = None;
            let mut last_sweep: Option<Instant> = None;
            let mut evictions_reported = (0, 0);
            loop {
                std::thread::sleep(interval);
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                let logs = ResourceLogs { registry };
                logs.flush_dirty();
                if last_sweep.is_none_or(|t| t.elapsed() >= SWEEP_EVERY) {
                    last_sweep = Some(Instant::now());
                    logs.enforce_retention();
                } else {
                    logs.make_room(None, 0);
                }
                if last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    let mut reported = false;
                    if let Some(err) = logs.take_error_report() {
                        reported = true;
                        let event = crate::internal::ResourceLogIoFailed {
                            error: &err,
                            total: logs.stats().io_errors,
                        };
                        logs.with_dispatch(|| event.emit());
                    }
                    let s = logs.stats();
                    let now = (s.evicted_age, s.evicted_budget);
                    if now != evictions_reported {
                        reported = true;
                        let event = crate::internal::ResourceLogsEvicted {
                            age: now.0 - evictions_reported.0,
                            budget: now.1 - evictions_reported.1,
                            disk_bytes: s.disk_bytes,
                            max_total_bytes: logs.registry.cfg.max_total_bytes,
                        };
                        evictions_reported = now;
                        logs.with_dispatch(|| event.emit());
                    }
                    if reported {
                        last_report = Some(Instant::now());
                    }
                }
            }
        });
    if let Err(e) = spawned {
        // No thread of ours to report it later: lines are then written out only when 64 KiB are
        // buffered, on rotation and by `flush`, and nothing applies retention in the background.
        use std::io::Write as _;
        let _ = writeln!(
            io::stderr(),
            "watchpost: cannot start the resource log flusher thread: {e}; buffered lines reach their files late"
        );
    }
}
