//! A resource's files on disk: the per-file buffer and lock, writing, rotation by rename, gzip
//! of rotated files, the bounded set of open descriptors (LRU), and the flusher thread that
//! writes buffers out every `flush_interval` and reports I/O errors.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use super::{lock, Registry, ResourceLogs};

/// Bytes buffered per file before the emitting thread writes them out itself.
const BUFFER_BYTES: usize = 64 * 1024;

/// A file's buffer and descriptor, under its lock.
#[derive(Debug)]
pub(super) struct FileState {
    file: Option<File>,
    pub(super) buf: Vec<u8>,
    /// Bytes in the current file on disk.
    size: u64,
    /// Rotations of this file so far; the current file is generation `generation`.
    pub(super) generation: u64,
    opened_at: Instant,
    pub(super) removed: bool,
}

/// One stream of one resource (`<root>/<kind>/<id>/<stream>.log`), created on first use.
#[derive(Debug)]
pub(super) struct ResourceFile {
    pub(super) path: PathBuf,
    pub(super) state: Mutex<FileState>,
    last_used: AtomicU64,
    dirty: AtomicBool,
}

impl ResourceFile {
    /// A file at `path`, not opened yet.
    pub(super) fn new(path: PathBuf) -> Self {
        ResourceFile {
            path,
            state: Mutex::new(FileState {
                file: None,
                buf: Vec::new(),
                size: 0,
                generation: 0,
                opened_at: Instant::now(),
                removed: false,
            }),
            last_used: AtomicU64::new(0),
            dirty: AtomicBool::new(false),
        }
    }
}

/// `path.<i><suffix>`: `x.log.1`, `x.log.2.gz`, …
pub(super) fn numbered(path: &Path, i: usize, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}{suffix}"));
    PathBuf::from(s)
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

    /// Writes the buffer to the current file (opening it if needed). Caller holds the lock.
    pub(super) fn flush_locked(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
        if st.buf.is_empty() || st.removed {
            return;
        }
        if st.file.is_none() {
            self.open_locked(file, st);
        }
        let result = match st.file.as_mut() {
            Some(f) => f.write_all(&st.buf),
            // No descriptor slot free (every open file is busy): write through a descriptor that
            // is closed right after, so the bound holds and nothing is lost.
            None => open_append(&file.path).and_then(|mut f| {
                st.size = f.metadata().map(|m| m.len()).unwrap_or(st.size);
                f.write_all(&st.buf)
            }),
        };
        match result {
            Ok(()) => st.size += st.buf.len() as u64,
            Err(e) => self.io_error(&file.path, "write", &e),
        }
        st.buf.clear();
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
                st.size = f.metadata().map(|m| m.len()).unwrap_or(0);
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
    /// file's lock (`try_lock`), so two evicting writers cannot deadlock.
    fn evict_one(&self, except: &ResourceFile) {
        let mut open = lock(&self.registry.open_list);
        open.sort_by_key(|f| f.last_used.load(Ordering::Relaxed));
        let victim = open.iter().position(|f| {
            if std::ptr::eq(f.as_ref(), except) {
                return false;
            }
            let Ok(mut st) = f.state.try_lock() else {
                return false;
            };
            if let Some(mut fd) = st.file.take() {
                if !st.buf.is_empty() {
                    match fd.write_all(&st.buf) {
                        Ok(()) => st.size += st.buf.len() as u64,
                        Err(_) => {
                            self.registry
                                .counters
                                .io_errors
                                .fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    st.buf.clear();
                }
            }
            true
        });
        if let Some(i) = victim {
            open.remove(i);
            self.registry.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Rotates under the file's lock: flush, shift `x.log.N` names, rename `x.log` → `x.log.1`.
    fn rotate(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
        let registry = &*self.registry;
        self.flush_locked(file, st);
        self.close_locked(file, st);
        let max = registry.cfg.max_files;
        for suffix in ["", ".gz"] {
            let _ = std::fs::remove_file(numbered(&file.path, max, suffix));
            for i in (1..max).rev() {
                let from = numbered(&file.path, i, suffix);
                match std::fs::rename(&from, numbered(&file.path, i + 1, suffix)) {
                    Ok(()) => {}
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => self.io_error(&from, "rotate", &e),
                }
            }
        }
        match std::fs::rename(&file.path, numbered(&file.path, 1, "")) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => self.io_error(&file.path, "rotate", &e),
        }
        // The next generation's file exists from now on (followers open it right away), even
        // if its first line is still buffered.
        if let Err(e) = open_append(&file.path) {
            self.io_error(&file.path, "rotate", &e);
        }
        st.size = 0;
        st.generation += 1;
        st.opened_at = Instant::now();
        registry.counters.rotations.fetch_add(1, Ordering::Relaxed);
        if registry.cfg.compress {
            let this = self.clone();
            let file = file.clone();
            let generation = st.generation;
            let _ = std::thread::Builder::new()
                .name("watchpost-gzip".into())
                .spawn(move || this.compress(&file, generation));
        }
    }

    /// Gzips the file rotated at `generation` (then `x.log.1`) wherever later rotations moved it.
    fn compress(&self, file: &ResourceFile, generation: u64) {
        let path = &file.path;
        let tmp = numbered(path, 0, ".gz.tmp");
        let result = (|| -> io::Result<()> {
            let mut src = File::open(numbered(path, 1, ""))?;
            let out = create_private(&tmp)?;
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            io::copy(&mut src, &mut enc)?;
            enc.finish()?.sync_all()
        })();
        let st = lock(&file.state);
        match result {
            Ok(()) => {
                let idx = 1 + (st.generation - generation) as usize;
                if idx <= self.registry.cfg.max_files && !st.removed {
                    let _ = std::fs::rename(&tmp, numbered(path, idx, ".gz"));
                    let _ = std::fs::remove_file(numbered(path, idx, ""));
                } else {
                    let _ = std::fs::remove_file(&tmp);
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                self.io_error(path, "compress", &e);
            }
        }
    }

    fn io_error(&self, path: &Path, op: &str, e: &io::Error) {
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
}

/// Starts the thread that flushes dirty buffers every `flush_interval` and reports I/O errors;
/// it ends when the registry is dropped.
pub(super) fn spawn_flusher(registry: Weak<Registry>) {
    let Some(interval) = registry.upgrade().map(|r| r.cfg.flush_interval) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("watchpost-resource-logs".into())
        .spawn(move || {
            let mut last_report: Option<Instant> = None;
            loop {
                std::thread::sleep(interval);
                let Some(registry) = registry.upgrade() else {
                    return;
                };
                let logs = ResourceLogs { registry };
                logs.flush_dirty();
                if last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    if let Some(err) = logs.take_error_report() {
                        last_report = Some(Instant::now());
                        let event = crate::internal::ResourceLogIoFailed {
                            error: &err,
                            total: logs.stats().io_errors,
                        };
                        let dispatch = lock(&logs.registry.dispatch)
                            .as_ref()
                            .and_then(|d| d.upgrade());
                        match dispatch {
                            Some(d) => tracing::dispatcher::with_default(&d, || event.emit()),
                            None => event.emit(),
                        }
                    }
                }
            }
        });
}

/// Opens `path` for appending, creating it readable and writable by the owner only (0600,
/// whatever the umask): resource logs can hold what a process printed.
pub(super) fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

/// Creates (truncates) `path` with mode 0600.
fn create_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Creates `dir` and its missing parents with mode 0700 (whatever the umask).
pub(super) fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}
