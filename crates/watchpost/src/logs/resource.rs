//! Per-resource log files: every event that carries a declared id field (`instance_id`, …), on
//! the event or an enclosing span, is also appended — as the same JSON line as the main log — to
//! `<root>/<kind>/<id>/<service>.log` (layout configurable), with lossless size-based rotation,
//! optional gzip of rotated files, reading and live following.
//!
//! * Only resources the application registered ([`ResourceLogs::register`]) get files; events for
//!   other ids are counted, never written, so stray ids never create files.
//! * Ids are validated before they touch the filesystem (`[A-Za-z0-9][A-Za-z0-9._-]{0,127}`, no
//!   `..`); rejected ones are counted. Nothing is ever created outside the root.
//! * The emitting thread appends to the file's in-memory buffer (a `memcpy` under the file's
//!   lock) and writes it out only when 64 KiB are buffered; a background thread flushes every
//!   buffer within [`ResourceLogConfig::flush_interval`]. I/O errors are counted and reported as
//!   a WARN on the main log at most once a minute, from that thread (never into a resource file,
//!   never a panic).
//! * Rotation renames `x.log` → `x.log.1` → … under the file's lock, between whole lines, so a
//!   line is never split, lost or duplicated; followers track rotations by generation and read
//!   every file in order.
//! * Open descriptors are bounded (LRU, [`ResourceLogConfig::max_open_files`]).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, Weak};
use std::time::{Duration, Instant};

use crate::error::{Error, ErrorKind};

/// Bytes buffered per file before the emitting thread writes them out itself.
const BUFFER_BYTES: usize = 64 * 1024;

/// Settings of the per-resource log files. Set them with
/// [`ConfigBuilder::resource_logs`](crate::ConfigBuilder::resource_logs).
///
/// ```
/// use watchpost::logs::ResourceLogConfig;
/// let rl = ResourceLogConfig::new("/var/lib/procman/logs")
///     .kind("instance", "instance_id")
///     .kind("volume", "volume_id");
/// assert_eq!(rl.max_file_bytes, 50 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceLogConfig {
    /// Directory under which every resource file lives. Required.
    pub root: PathBuf,
    /// `(kind, id field)` pairs, e.g. `("instance", "instance_id")`. Default: none.
    pub kinds: Vec<(String, String)>,
    /// Path of a resource's file under the root, with `{kind}`, `{id}` and `{file}` placeholders
    /// (`{file}` is the service name for the fan-out, or the stream name given to
    /// [`ResourceLogs::append`]). Default: `{kind}/{id}/{file}.log`.
    pub layout: String,
    /// Size at which a file is rotated. Default: 50 MiB.
    pub max_file_bytes: u64,
    /// Rotated files kept (`x.log.1` … `x.log.N`). Default: 5.
    pub max_files: usize,
    /// Rotate a non-empty file once it is this old, whatever its size. Default: none.
    pub max_age: Option<Duration>,
    /// Gzip rotated files in the background (`x.log.1.gz`). Default: `false`.
    pub compress: bool,
    /// Open file descriptors kept at most; the least recently used is closed. Default: 256.
    pub max_open_files: usize,
    /// How soon buffered lines reach the file (and followers). Default: 50 ms.
    pub flush_interval: Duration,
}

impl ResourceLogConfig {
    /// Defaults, with files under `root`.
    ///
    /// ```
    /// let rl = watchpost::logs::ResourceLogConfig::new("logs");
    /// assert_eq!((rl.max_files, rl.max_open_files), (5, 256));
    /// ```
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            kinds: Vec::new(),
            layout: "{kind}/{id}/{file}.log".into(),
            max_file_bytes: 50 * 1024 * 1024,
            max_files: 5,
            max_age: None,
            compress: false,
            max_open_files: 256,
            flush_interval: Duration::from_millis(50),
        }
    }

    /// Declares a resource kind by its id field.
    ///
    /// ```
    /// let rl = watchpost::logs::ResourceLogConfig::new("logs").kind("image", "image_id");
    /// assert_eq!(rl.kinds, [("image".to_string(), "image_id".to_string())]);
    /// ```
    pub fn kind(mut self, kind: impl Into<String>, id_field: impl Into<String>) -> Self {
        self.kinds.push((kind.into(), id_field.into()));
        self
    }

    pub(crate) fn validate(&self) -> Result<(), Error> {
        for (kind, field) in &self.kinds {
            if !valid_id(kind) {
                return Err(Error::invalid(
                    "ResourceLogConfig::kind",
                    kind,
                    "a name matching [A-Za-z0-9][A-Za-z0-9._-]{0,127} (it becomes a directory)",
                ));
            }
            if field.is_empty() || field == "message" {
                return Err(Error::invalid(
                    "ResourceLogConfig::kind id field",
                    field,
                    "a non-empty field name such as instance_id",
                ));
            }
        }
        let l = &self.layout;
        let ok = l.contains("{id}")
            && l.contains("{file}")
            && !Path::new(l).is_absolute()
            && !l.split('/').any(|c| c == ".." || c == ".");
        if !ok {
            return Err(Error::invalid(
                "ResourceLogConfig::layout",
                l,
                "a relative path with {id} and {file}, without `.` or `..` components",
            ));
        }
        if self.max_file_bytes < 1024 || self.max_files == 0 || self.max_open_files == 0 {
            return Err(Error::invalid(
                "ResourceLogConfig limits",
                format!(
                    "max_file_bytes={} max_files={} max_open_files={}",
                    self.max_file_bytes, self.max_files, self.max_open_files
                ),
                "max_file_bytes >= 1024, max_files >= 1, max_open_files >= 1",
            ));
        }
        Ok(())
    }
}

/// Whether `id` may become a path component: `[A-Za-z0-9][A-Za-z0-9._-]{0,127}` and no `..`.
///
/// ```
/// use watchpost::logs::valid_id;
/// assert!(valid_id("web-1.prod_2"));
/// for bad in ["", "../../etc/passwd", "/abs", "a/b", "a..b", ".hidden", "nul\0", &"x".repeat(129)] {
///     assert!(!valid_id(bad), "{bad:?}");
/// }
/// ```
pub fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
        && !id.contains("..")
}

/// Counters of the resource log pipeline.
///
/// ```
/// let s = watchpost::logs::ResourceLogStats::default();
/// assert_eq!(s.rejected_ids, 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceLogStats {
    /// Lines appended to resource files.
    pub lines: u64,
    /// Events for resources that were never registered (not written).
    pub unregistered: u64,
    /// Ids (or stream names) rejected by validation (not written).
    pub rejected_ids: u64,
    /// Failed file operations (open, write, rotate, compress); lines in a failed write are lost.
    pub io_errors: u64,
    /// Rotations performed.
    pub rotations: u64,
    /// Rotated files a follower could not read because they were already deleted.
    pub follower_gaps: u64,
}

#[derive(Debug, Default)]
struct Counters {
    lines: AtomicU64,
    unregistered: AtomicU64,
    rejected_ids: AtomicU64,
    io_errors: AtomicU64,
    rotations: AtomicU64,
    follower_gaps: AtomicU64,
}

#[derive(Debug)]
struct FileState {
    file: Option<File>,
    buf: Vec<u8>,
    /// Bytes in the current file on disk.
    size: u64,
    /// Rotations of this file so far; the current file is generation `generation`.
    generation: u64,
    opened_at: Instant,
    removed: bool,
}

#[derive(Debug)]
struct ResourceFile {
    path: PathBuf,
    state: Mutex<FileState>,
    last_used: AtomicU64,
    dirty: AtomicBool,
}

/// One registered resource of one kind, with its streams (files), created on first use.
#[derive(Debug)]
struct Entry {
    kind: u16,
    streams: Vec<(Box<str>, Arc<ResourceFile>)>,
}

#[derive(Debug)]
struct Inner {
    cfg: ResourceLogConfig,
    service: String,
    /// Registered resources by id: one read lock and no allocation per event.
    resources: RwLock<HashMap<Box<str>, Vec<Entry>>>,
    dirty: Mutex<Vec<Arc<ResourceFile>>>,
    /// Files with an open descriptor, for LRU eviction.
    open_list: Mutex<Vec<Arc<ResourceFile>>>,
    open: AtomicUsize,
    clock: AtomicU64,
    counters: Counters,
    last_error: Mutex<Option<String>>,
    /// The pipeline's dispatcher, for the flusher thread's WARN (weak: no reference cycle).
    dispatch: Mutex<Option<tracing::dispatcher::WeakDispatch>>,
}

/// Handle to the per-resource log files. Cheap to clone. Get it from
/// [`Telemetry::resource_logs`](crate::Telemetry::resource_logs).
///
/// ```
/// use watchpost::logs::ResourceLogConfig;
/// let dir = std::env::temp_dir().join(format!("wp-doc-{}", std::process::id()));
/// let config = watchpost::Config::builder("svc")
///     .resource_logs(ResourceLogConfig::new(&dir).kind("instance", "instance_id"))
///     .build()
///     .unwrap();
/// let (telemetry, dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let logs = telemetry.resource_logs().unwrap();
/// logs.register("instance", "web-1").unwrap();
/// tracing::dispatcher::with_default(&dispatch, || tracing::info!(instance_id = "web-1", "started"));
/// let lines = logs.read("instance", "web-1", 10).unwrap();
/// assert!(lines[0].contains("\"msg\":\"started\""));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ResourceLogs {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn numbered(path: &Path, i: usize, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}{suffix}"));
    PathBuf::from(s)
}

impl ResourceLogs {
    pub(crate) fn new(cfg: ResourceLogConfig, service: &str) -> ResourceLogs {
        let inner = Arc::new(Inner {
            cfg,
            service: service.to_string(),
            resources: RwLock::new(HashMap::new()),
            dirty: Mutex::new(Vec::new()),
            open_list: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
            counters: Counters::default(),
            last_error: Mutex::new(None),
            dispatch: Mutex::new(None),
        });
        spawn_flusher(Arc::downgrade(&inner));
        ResourceLogs { inner }
    }

    fn kind_index(&self, kind: &str) -> Result<u16, Error> {
        let kinds = &self.inner.cfg.kinds;
        kinds
            .iter()
            .position(|(k, _)| k == kind)
            .map(|i| i as u16)
            .ok_or_else(|| {
                let known: Vec<&str> = kinds.iter().map(|(k, _)| k.as_str()).collect();
                Error::invalid(
                    "resource kind",
                    kind,
                    format!("one of the declared kinds: {}", known.join(", ")),
                )
            })
    }

    fn check_id(&self, what: &str, id: &str) -> Result<(), Error> {
        if valid_id(id) {
            return Ok(());
        }
        self.inner
            .counters
            .rejected_ids
            .fetch_add(1, Ordering::Relaxed);
        Err(Error::new(ErrorKind::InvalidValue {
            input: what.to_string(),
            value: id.chars().take(160).collect(),
            allowed: "[A-Za-z0-9][A-Za-z0-9._-]{0,127} without `..`".into(),
        }))
    }

    fn path_of(&self, kind: u16, id: &str, file: &str) -> PathBuf {
        let kind_name = &self.inner.cfg.kinds[kind as usize].0;
        let rel = self
            .inner
            .cfg
            .layout
            .replace("{kind}", kind_name)
            .replace("{id}", id)
            .replace("{file}", file);
        self.inner.cfg.root.join(rel)
    }

    /// Creates the resource's directory and starts accepting its lines. Idempotent.
    ///
    /// # Errors
    /// An undeclared kind, an invalid id (counted), or a directory that cannot be created.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-reg-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// logs.register("instance", "web-1").unwrap();
    /// assert!(logs.register("instance", "../../etc").is_err());
    /// assert_eq!(logs.stats().rejected_ids, 1);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn register(&self, kind: &str, id: &str) -> Result<(), Error> {
        let k = self.kind_index(kind)?;
        self.check_id("resource id", id)?;
        let path = self.path_of(k, id, &self.inner.service);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::invalid(
                    "resource log directory",
                    dir.display().to_string(),
                    format!("a directory that can be created ({e})"),
                )
            })?;
        }
        let mut resources = self
            .inner
            .resources
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let entries = resources.entry(id.into()).or_default();
        if !entries.iter().any(|e| e.kind == k) {
            entries.push(Entry {
                kind: k,
                streams: Vec::new(),
            });
        }
        Ok(())
    }

    /// Whether a resource is registered.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-isreg-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// assert!(!logs.is_registered("instance", "web-1"));
    /// ```
    pub fn is_registered(&self, kind: &str, id: &str) -> bool {
        let Ok(k) = self.kind_index(kind) else {
            return false;
        };
        self.inner
            .resources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .is_some_and(|entries| entries.iter().any(|e| e.kind == k))
    }

    /// Appends one line (a newline is added if missing) to another stream of a registered
    /// resource, e.g. a supervised process's output in `app.log`.
    ///
    /// # Errors
    /// Unknown kind, invalid id or stream name, unregistered resource.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-app-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// logs.register("instance", "web-1").unwrap();
    /// logs.append("instance", "web-1", "app", b"hello from the child").unwrap();
    /// assert_eq!(logs.read_stream("instance", "web-1", "app", 1).unwrap(), ["hello from the child"]);
    /// # std::fs::remove_dir_all(&dir).unwrap();
    /// ```
    pub fn append(&self, kind: &str, id: &str, stream: &str, line: &[u8]) -> Result<(), Error> {
        let k = self.kind_index(kind)?;
        self.check_id("resource id", id)?;
        self.check_id("log stream", stream)?;
        let Some(file) = self.file(k, id, stream) else {
            self.inner
                .counters
                .unregistered
                .fetch_add(1, Ordering::Relaxed);
            return Err(Error::new(ErrorKind::NotFound {
                what: format!("registered {kind} {id}"),
            }));
        };
        if line.ends_with(b"\n") {
            self.write_line(&file, line);
        } else {
            let mut l = Vec::with_capacity(line.len() + 1);
            l.extend_from_slice(line);
            l.push(b'\n');
            self.write_line(&file, &l);
        }
        Ok(())
    }

    /// The fan-out entry point, called by the log layer with a complete JSON line.
    pub(crate) fn fan_out(&self, kind: u16, id: &str, line: &[u8]) {
        if !valid_id(id) {
            self.inner
                .counters
                .rejected_ids
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.file(kind, id, &self.inner.service) {
            Some(file) => self.write_line(&file, line),
            None => {
                self.inner
                    .counters
                    .unregistered
                    .fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// The file of a registered resource's stream (created on first use); `None` if the
    /// resource is not registered.
    fn file(&self, kind: u16, id: &str, stream: &str) -> Option<Arc<ResourceFile>> {
        {
            let resources = self
                .inner
                .resources
                .read()
                .unwrap_or_else(|p| p.into_inner());
            let entry = resources.get(id)?.iter().find(|e| e.kind == kind)?;
            if let Some((_, f)) = entry.streams.iter().find(|(s, _)| &**s == stream) {
                return Some(f.clone());
            }
        }
        let mut resources = self
            .inner
            .resources
            .write()
            .unwrap_or_else(|p| p.into_inner());
        let entry = resources.get_mut(id)?.iter_mut().find(|e| e.kind == kind)?;
        if let Some((_, f)) = entry.streams.iter().find(|(s, _)| &**s == stream) {
            return Some(f.clone());
        }
        let f = Arc::new(ResourceFile {
            path: self.path_of(kind, id, stream),
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
        });
        entry.streams.push((stream.into(), f.clone()));
        Some(f)
    }

    fn all_files(&self) -> Vec<Arc<ResourceFile>> {
        self.inner
            .resources
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .values()
            .flatten()
            .flat_map(|e| e.streams.iter().map(|(_, f)| f.clone()))
            .collect()
    }

    fn write_line(&self, file: &Arc<ResourceFile>, line: &[u8]) {
        let inner = &*self.inner;
        let mut st = lock(&file.state);
        if st.removed {
            return;
        }
        file.last_used.store(
            inner.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        let pending = st.size + st.buf.len() as u64;
        if pending > 0 && pending + line.len() as u64 > inner.cfg.max_file_bytes {
            self.rotate(file, &mut st);
        }
        st.buf.extend_from_slice(line);
        inner.counters.lines.fetch_add(1, Ordering::Relaxed);
        if st.buf.len() >= BUFFER_BYTES {
            self.flush_locked(file, &mut st);
        } else if !file.dirty.swap(true, Ordering::AcqRel) {
            lock(&inner.dirty).push(file.clone());
        }
    }

    /// Writes the buffer to the current file (opening it if needed). Caller holds the lock.
    fn flush_locked(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
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
            None => OpenOptions::new()
                .create(true)
                .append(true)
                .open(&file.path)
                .and_then(|mut f| {
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
        let max = self.inner.cfg.max_open_files;
        self.inner
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }

    fn open_locked(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
        let inner = &*self.inner;
        if !self.reserve_slot() {
            self.evict_one(file);
            if !self.reserve_slot() {
                return; // every open file is busy right now: the caller writes without keeping one
            }
        }
        match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file.path)
        {
            Ok(f) => {
                st.size = f.metadata().map(|m| m.len()).unwrap_or(0);
                if st.size == 0 {
                    st.opened_at = Instant::now();
                }
                st.file = Some(f);
                lock(&inner.open_list).push(file.clone());
            }
            Err(e) => {
                inner.open.fetch_sub(1, Ordering::AcqRel);
                self.io_error(&file.path, "open", &e)
            }
        }
    }

    /// Closes a file's descriptor. Caller holds its lock.
    fn close_locked(&self, file: &ResourceFile, st: &mut FileState) {
        if st.file.take().is_some() {
            self.inner.open.fetch_sub(1, Ordering::Relaxed);
            lock(&self.inner.open_list).retain(|f| !std::ptr::eq(f.as_ref(), file));
        }
    }

    /// Closes the least recently used open file other than `except`. Never waits for another
    /// file's lock (`try_lock`), so two evicting writers cannot deadlock.
    fn evict_one(&self, except: &ResourceFile) {
        let mut open = lock(&self.inner.open_list);
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
                            self.inner
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
            self.inner.open.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// Rotates under the file's lock: flush, shift `x.log.N` names, rename `x.log` → `x.log.1`.
    fn rotate(&self, file: &Arc<ResourceFile>, st: &mut FileState) {
        let inner = &*self.inner;
        self.flush_locked(file, st);
        self.close_locked(file, st);
        let max = inner.cfg.max_files;
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
        if let Err(e) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&file.path)
        {
            self.io_error(&file.path, "rotate", &e);
        }
        st.size = 0;
        st.generation += 1;
        st.opened_at = Instant::now();
        inner.counters.rotations.fetch_add(1, Ordering::Relaxed);
        if inner.cfg.compress {
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
            let out = File::create(&tmp)?;
            let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
            io::copy(&mut src, &mut enc)?;
            enc.finish()?.sync_all()
        })();
        let st = lock(&file.state);
        match result {
            Ok(()) => {
                let idx = 1 + (st.generation - generation) as usize;
                if idx <= self.inner.cfg.max_files && !st.removed {
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
        self.inner
            .counters
            .io_errors
            .fetch_add(1, Ordering::Relaxed);
        *lock(&self.inner.last_error) = Some(format!("{op} {}: {e}", path.display()));
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
        let dirty = std::mem::take(&mut *lock(&self.inner.dirty));
        let max_age = self.inner.cfg.max_age;
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

    /// Counters of the pipeline.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-stats-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.resource_logs().unwrap().stats().lines, 0);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn stats(&self) -> ResourceLogStats {
        let c = &self.inner.counters;
        ResourceLogStats {
            lines: c.lines.load(Ordering::Relaxed),
            unregistered: c.unregistered.load(Ordering::Relaxed),
            rejected_ids: c.rejected_ids.load(Ordering::Relaxed),
            io_errors: c.io_errors.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
            follower_gaps: c.follower_gaps.load(Ordering::Relaxed),
        }
    }

    /// Open descriptors right now (bounded by `max_open_files`).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-open-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.resource_logs().unwrap().open_files(), 0);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn open_files(&self) -> usize {
        self.inner.open.load(Ordering::Relaxed)
    }

    /// The last `tail` lines of a resource's service log (`usize::MAX` for all), oldest first,
    /// across rotated (and gzipped) files.
    ///
    /// # Errors
    /// Unknown kind, invalid id, or a resource that is not registered ([`ErrorKind::NotFound`]).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-read-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// assert!(logs.read("instance", "nope", 10).is_err());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn read(&self, kind: &str, id: &str, tail: usize) -> Result<Vec<String>, Error> {
        let service = self.inner.service.clone();
        self.read_stream(kind, id, &service, tail)
    }

    /// Like [`read`](Self::read) for another stream (see [`append`](Self::append)).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-reads-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// # let logs = telemetry.resource_logs().unwrap();
    /// logs.register("instance", "a").unwrap();
    /// assert!(logs.read_stream("instance", "a", "app", 5).unwrap().is_empty());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn read_stream(
        &self,
        kind: &str,
        id: &str,
        stream: &str,
        tail: usize,
    ) -> Result<Vec<String>, Error> {
        Ok(self.snapshot(kind, id, stream)?.tail(tail))
    }

    /// Flushes a stream and, under its lock, opens its current file and every rotated file, so
    /// that reading them afterwards is consistent even if a rotation happens meanwhile.
    fn snapshot(&self, kind: &str, id: &str, stream: &str) -> Result<Snapshot, Error> {
        let k = self.kind_index(kind)?;
        self.check_id("resource id", id)?;
        self.check_id("log stream", stream)?;
        let not_found = || {
            Error::new(ErrorKind::NotFound {
                what: format!("logs of {kind} {id}"),
            })
        };
        let file = self.file(k, id, stream).ok_or_else(not_found)?;
        let mut st = lock(&file.state);
        if st.removed {
            return Err(not_found());
        }
        self.flush_locked(&file, &mut st);
        let current = OpenOptions::new()
            .create(true)
            .append(true)
            .read(true)
            .open(&file.path)
            .map_err(|e| {
                Error::invalid(
                    "resource log file",
                    file.path.display().to_string(),
                    format!("a readable file ({e})"),
                )
            })?;
        let size = current.metadata().map(|m| m.len()).unwrap_or(0);
        let mut rotated = Vec::new();
        for i in 1..=self.inner.cfg.max_files {
            if let Ok(f) = File::open(numbered(&file.path, i, "")) {
                rotated.push((f, false));
            } else if let Ok(f) = File::open(numbered(&file.path, i, ".gz")) {
                rotated.push((f, true));
            } else {
                break;
            }
        }
        let generation = st.generation;
        drop(st);
        Ok(Snapshot {
            file,
            current,
            size,
            generation,
            rotated,
        })
    }

    /// Follows a resource's service log: the last `tail` lines, then every new line as it is
    /// written, across rotations, until the resource is removed or the stream is dropped. Needs a
    /// Tokio runtime. Lines reach followers within `flush_interval`.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// ```no_run
    /// # async fn f(logs: watchpost::logs::ResourceLogs) -> Result<(), watchpost::Error> {
    /// use futures_util::StreamExt;
    /// let mut lines = logs.follow("instance", "web-1", 10)?;
    /// while let Some(line) = lines.next().await {
    ///     println!("{line}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn follow(
        &self,
        kind: &str,
        id: &str,
        tail: usize,
    ) -> Result<impl futures_core::Stream<Item = String> + Send + 'static, Error> {
        let service = self.inner.service.clone();
        self.follow_stream(kind, id, &service, tail)
    }

    /// Like [`follow`](Self::follow) for another stream (see [`append`](Self::append)).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// ```no_run
    /// # async fn f(logs: watchpost::logs::ResourceLogs) -> Result<(), watchpost::Error> {
    /// let lines = logs.follow_stream("instance", "web-1", "app", 0)?;
    /// # drop(lines); Ok(()) }
    /// ```
    pub fn follow_stream(
        &self,
        kind: &str,
        id: &str,
        stream: &str,
        tail: usize,
    ) -> Result<impl futures_core::Stream<Item = String> + Send + 'static, Error> {
        // The tail is everything up to `size` of generation `g`; the follower continues from
        // exactly there in the same descriptor, so nothing is missed or repeated.
        let snap = self.snapshot(kind, id, stream)?;
        let initial = if tail > 0 {
            snap.tail_lines(tail)
        } else {
            Vec::new()
        };
        let Snapshot {
            file,
            current,
            size,
            generation,
            ..
        } = snap;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
        let logs = self.clone();
        tokio::spawn(async move {
            for l in initial {
                if tx.send(l).await.is_err() {
                    return;
                }
            }
            logs.follow_task(file, current, generation, size, tx).await;
        });
        Ok(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    async fn follow_task(
        &self,
        file: Arc<ResourceFile>,
        mut reader: File,
        mut generation: u64,
        offset: u64,
        tx: tokio::sync::mpsc::Sender<String>,
    ) {
        enum Next {
            Wait,
            End,
            Rotated(Option<File>),
        }
        let poll = self.inner.cfg.flush_interval.max(Duration::from_millis(10));
        let mut carry: Vec<u8> = Vec::new();
        if reader.seek(SeekFrom::Start(offset)).is_err() {
            return;
        }
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            // Drain what is there.
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        carry.extend_from_slice(&chunk[..n]);
                        if !send_lines(&mut carry, &tx).await {
                            return;
                        }
                    }
                }
            }
            // At the end: rotated, removed, or just no new lines yet? The next file is opened
            // under the lock, so names cannot shift while it is picked.
            let next = {
                let st = lock(&file.state);
                if st.removed {
                    Next::End
                } else if st.generation > generation {
                    let behind = (st.generation - generation - 1) as usize;
                    let next_path = if behind == 0 {
                        file.path.clone()
                    } else {
                        numbered(&file.path, behind, "")
                    };
                    match File::open(&next_path) {
                        Ok(f) => {
                            generation += 1;
                            Next::Rotated(Some(f))
                        }
                        Err(_) => {
                            // The files in between are gone (or gzipped): jump to the current.
                            self.inner
                                .counters
                                .follower_gaps
                                .fetch_add(1, Ordering::Relaxed);
                            generation = st.generation;
                            Next::Rotated(File::open(&file.path).ok())
                        }
                    }
                } else {
                    Next::Wait
                }
            };
            match next {
                Next::End => return,
                Next::Wait => {
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => {}
                        _ = tx.closed() => return,
                    }
                }
                Next::Rotated(opened) => {
                    // Our file is final (rotation flushed it first): drain it, then move on.
                    let mut rest = Vec::new();
                    let _ = reader.read_to_end(&mut rest);
                    carry.extend_from_slice(&rest);
                    if !send_lines(&mut carry, &tx).await {
                        return;
                    }
                    carry.clear();
                    match opened {
                        Some(f) => reader = f,
                        None => {
                            // The current file is missing (removed by hand?): wait for it.
                            tokio::select! {
                                _ = tokio::time::sleep(poll) => {}
                                _ = tx.closed() => return,
                            }
                            match File::open(&file.path) {
                                Ok(f) => reader = f,
                                Err(_) => continue,
                            }
                        }
                    }
                }
            }
        }
    }

    /// Stops writing a resource's logs, ends its followers and deletes its directory.
    ///
    /// # Errors
    /// Unknown kind, invalid id, or a directory that cannot be removed.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-rm-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// logs.register("instance", "web-1").unwrap();
    /// logs.remove("instance", "web-1").unwrap();
    /// assert!(!logs.is_registered("instance", "web-1"));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn remove(&self, kind: &str, id: &str) -> Result<(), Error> {
        let k = self.kind_index(kind)?;
        self.check_id("resource id", id)?;
        let removed: Vec<Arc<ResourceFile>> = {
            let mut resources = self
                .inner
                .resources
                .write()
                .unwrap_or_else(|p| p.into_inner());
            let mut out = Vec::new();
            if let Some(entries) = resources.get_mut(id) {
                if let Some(i) = entries.iter().position(|e| e.kind == k) {
                    out = entries
                        .remove(i)
                        .streams
                        .into_iter()
                        .map(|(_, f)| f)
                        .collect();
                }
                if entries.is_empty() {
                    resources.remove(id);
                }
            }
            out
        };
        for f in removed {
            let mut st = lock(&f.state);
            st.removed = true;
            st.buf.clear();
            self.close_locked(&f, &mut st);
        }
        if let Some(dir) = self.path_of(k, id, "x").parent() {
            match std::fs::remove_dir_all(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::invalid(
                        "resource log directory",
                        dir.display().to_string(),
                        format!("a directory that can be removed ({e})"),
                    ))
                }
            }
        }
        Ok(())
    }

    /// Where the flusher thread reports I/O errors: the pipeline's own dispatcher.
    pub(crate) fn set_dispatch(&self, dispatch: &tracing::Dispatch) {
        *lock(&self.inner.dispatch) = Some(dispatch.downgrade());
    }

    fn take_error_report(&self) -> Option<String> {
        lock(&self.inner.last_error).take()
    }
}

/// Descriptors of a stream's files, opened together under its lock.
struct Snapshot {
    file: Arc<ResourceFile>,
    current: File,
    /// Bytes of `current` that belong to the snapshot.
    size: u64,
    generation: u64,
    /// `x.log.1`, `x.log.2`, … (newest first), `true` if gzipped.
    rotated: Vec<(File, bool)>,
}

impl Snapshot {
    fn tail(self, n: usize) -> Vec<String> {
        self.tail_lines(n)
    }

    /// The last `n` lines, oldest first: the current file up to `size`, then rotated files from
    /// the newest, as long as more lines are needed.
    fn tail_lines(&self, n: usize) -> Vec<String> {
        let mut chunks: Vec<Vec<String>> = Vec::new();
        let mut have = 0;
        if let Ok(mut f) = self.current.try_clone() {
            if f.seek(SeekFrom::Start(0)).is_ok() {
                let lines = lines_of(Box::new(f.take(self.size)));
                have += lines.len();
                chunks.push(lines);
            }
        }
        let _ = self.generation;
        for (f, gz) in &self.rotated {
            if have >= n {
                break;
            }
            let Ok(mut f) = f.try_clone() else { break };
            if f.seek(SeekFrom::Start(0)).is_err() {
                break;
            }
            let lines = if *gz {
                lines_of(Box::new(flate2::read::GzDecoder::new(f)))
            } else {
                lines_of(Box::new(f))
            };
            have += lines.len();
            chunks.push(lines);
        }
        let mut lines: Vec<String> = chunks.into_iter().rev().flatten().collect();
        let skip = lines.len().saturating_sub(n);
        lines.split_off(skip)
    }
}

fn lines_of(r: Box<dyn Read>) -> Vec<String> {
    BufReader::new(r)
        .split(b'\n')
        .map_while(Result::ok)
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .collect()
}

/// Sends every complete line in `carry` (keeping a partial one); `false` if the receiver is gone.
async fn send_lines(carry: &mut Vec<u8>, tx: &tokio::sync::mpsc::Sender<String>) -> bool {
    let mut start = 0;
    while let Some(pos) = carry[start..].iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&carry[start..start + pos]).into_owned();
        start += pos + 1;
        if tx.send(line).await.is_err() {
            return false;
        }
    }
    carry.drain(..start);
    true
}

fn spawn_flusher(inner: Weak<Inner>) {
    let Some(interval) = inner.upgrade().map(|i| i.cfg.flush_interval) else {
        return;
    };
    let _ = std::thread::Builder::new()
        .name("watchpost-resource-logs".into())
        .spawn(move || {
            let mut last_report: Option<Instant> = None;
            loop {
                std::thread::sleep(interval);
                let Some(inner) = inner.upgrade() else { return };
                let logs = ResourceLogs { inner };
                logs.flush_dirty();
                if last_report.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                    if let Some(err) = logs.take_error_report() {
                        last_report = Some(Instant::now());
                        let event = crate::internal::ResourceLogIoFailed {
                            error: &err,
                            total: logs.stats().io_errors,
                        };
                        let dispatch = lock(&logs.inner.dispatch)
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
