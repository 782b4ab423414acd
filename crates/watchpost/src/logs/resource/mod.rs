//! Per-resource log files: every event that carries a declared id field (`instance_id`, …), on
//! the event or an enclosing span, is also appended — as the same JSON line as the main log — to
//! `<root>/<kind>/<id>/<service>.log` (layout configurable), with lossless rotation by size and
//! age, optional gzip of rotated files, retention by age and a disk budget over all resources,
//! reading and live following.
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
//! * Rotated files older than [`ResourceLogConfig::max_age`] are deleted, and all files together
//!   stay within [`ResourceLogConfig::max_total_bytes`] (see [`ResourceLogs`], *Retention*);
//!   every deletion is counted and reported at most once a minute.
//!
//! This module is the registry ([`ResourceLogs`]: which resources have files, and where);
//! `config` holds its settings, `file` the files on disk and the flusher, `retention` age and
//! budget, `follow` reading and following, `sse` the HTTP handler.

mod file;
mod follow;
mod retention;
#[cfg(feature = "http")]
mod sse;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub use crate::config::{valid_id, ResourceLogConfig};
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use sse::{sse_handler, LogQuery, SseState, DEFAULT_TAIL, MAX_TAIL};

use crate::error::{Error, ErrorKind};
use file::ResourceFile;

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
    /// Files deleted because their last line was older than `max_age`.
    pub evicted_age: u64,
    /// Files deleted (or, for a registered resource's current file, emptied) to hold the disk
    /// budget.
    pub evicted_budget: u64,
    /// Rotated files left uncompressed (with `compress`) because the gzip thread's queue was
    /// full or the thread could not be started.
    pub compress_skipped: u64,
    /// Bytes on disk now (see [`ResourceLogs::disk_bytes`]).
    pub disk_bytes: u64,
}

#[derive(Debug, Default)]
struct Counters {
    lines: AtomicU64,
    unregistered: AtomicU64,
    rejected_ids: AtomicU64,
    io_errors: AtomicU64,
    rotations: AtomicU64,
    follower_gaps: AtomicU64,
    compress_skipped: AtomicU64,
}

/// One registered resource of one kind, with its streams (files), created on first use.
#[derive(Debug)]
struct ResourceStreams {
    kind: u16,
    streams: Vec<(Box<str>, Arc<ResourceFile>)>,
}

/// Registered resources by id, each with its kinds.
type Resources = HashMap<Box<str>, Vec<ResourceStreams>>;

/// What a [`ResourceLogs`] handle refers to: the settings, the registered resources and their
/// files, the open descriptors and the counters.
#[derive(Debug)]
struct Registry {
    cfg: ResourceLogConfig,
    service: String,
    /// Registered resources by id: one read lock and no allocation per event.
    resources: RwLock<Resources>,
    dirty: Mutex<Vec<Arc<ResourceFile>>>,
    /// Files with an open descriptor, for LRU eviction.
    open_list: Mutex<Vec<Arc<ResourceFile>>>,
    open: AtomicUsize,
    clock: AtomicU64,
    counters: Counters,
    retention: retention::Retention,
    /// The one thread that gzips rotated files (started by the first rotation with `compress`).
    gzip: crate::logs::rotate::Compressor,
    last_error: Mutex<Option<String>>,
    /// The pipeline's dispatcher, for the flusher thread's WARN (weak: no reference cycle).
    dispatch: Mutex<Option<tracing::dispatcher::WeakDispatch>>,
}

/// Handle to the per-resource log files. Cheap to clone. Get it from
/// [`Telemetry::resource_logs`](crate::Telemetry::resource_logs).
///
/// # Retention
///
/// * **Age.** A rotated file whose last line is older than
///   [`max_age`](ResourceLogConfig::max_age) is deleted, and so is every older one of its
///   stream; a current file whose first line is that old is rotated first. Checked every
///   minute by a background thread, and by [`enforce_retention`](Self::enforce_retention).
/// * **Disk budget.** All files under the root together — every resource's current, rotated and
///   gzipped files, also those of resources not registered in this process (left by an earlier
///   run, or written by another process: *orphans*) and files of registered resources that
///   their stream does not track (rotated files beyond `max_files`, half-gzipped files, a plain
///   twin of a gzipped file) — stay within [`max_total_bytes`](ResourceLogConfig::max_total_bytes).
///   When writing out lines would go over it, the writing thread first deletes the oldest
///   rotated files of any resource, then the files of the idlest resources: orphans, oldest
///   first, then registered resources' current files, least recently written first (such a
///   file is emptied: its stream goes on in a new file, and followers move to it). It never
///   waits for another evicting thread or a busy file, and its pass is bounded: a few files,
///   at least its own write's bytes; the background thread evicts the rest, down to the budget
///   less one file, every `flush_interval`. This costs a few `unlink`s per file written, never
///   anything per line. A file is never deleted while a writer has it open (it is closed under
///   its lock first), the resource being written by the evicting thread keeps its current
///   file, and an orphan's current file modified within the last minute is never deleted
///   (another process may be appending to it): the total stays within the budget plus one
///   write-out (64 KiB, or one file if smaller) per thread writing at that moment, and within
///   the budget plus one file whenever no write-out is under way. Size the budget above
///   (active resources × `max_file_bytes`): below that, active resources' current files are
///   emptied too. A resource's files already on disk become its own again when it is
///   registered.
/// * Every deletion is counted (`<svc>_resource_log_evictions_total{reason="age|budget"}`,
///   [`stats`](Self::stats)) and reported at most once a minute on the main log, as a WARN when
///   the budget deleted files.
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
    registry: Arc<Registry>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Registry {
    /// The registered resources, to look up (a poisoned lock is taken over, like [`lock`]).
    fn read_resources(&self) -> RwLockReadGuard<'_, Resources> {
        self.resources.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The registered resources, to change.
    fn write_resources(&self) -> RwLockWriteGuard<'_, Resources> {
        self.resources.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl ResourceLogs {
    pub(crate) fn new(cfg: ResourceLogConfig, service: &str) -> ResourceLogs {
        let registry = Arc::new(Registry {
            cfg,
            service: service.to_string(),
            resources: RwLock::new(HashMap::new()),
            dirty: Mutex::new(Vec::new()),
            open_list: Mutex::new(Vec::new()),
            open: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
            counters: Counters::default(),
            retention: retention::Retention::default(),
            gzip: crate::logs::rotate::Compressor::default(),
            last_error: Mutex::new(None),
            dispatch: Mutex::new(None),
        });
        file::spawn_flusher(Arc::downgrade(&registry));
        ResourceLogs { registry }
    }

    fn kind_index(&self, kind: &str) -> Result<u16, Error> {
        let kinds = &self.registry.cfg.kinds;
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
        self.registry
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
        let kind_name = &self.registry.cfg.kinds[kind as usize].0;
        let rel = self
            .registry
            .cfg
            .layout
            .replace("{kind}", kind_name)
            .replace("{id}", id)
            .replace("{file}", file);
        self.registry.cfg.root.join(rel)
    }

    /// Creates the resource's directory and starts accepting its lines. Idempotent.
    ///
    /// The resource's files already on disk (left by an earlier run, or written by another
    /// process on the same root) become its own again: they are counted as its files, no longer
    /// as those of an unregistered resource, so the disk budget treats them as a live resource's.
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
        let path = self.path_of(k, id, &self.registry.service);
        if let Some(dir) = path.parent() {
            crate::logs::rotate::create_private_dir_all(dir).map_err(|e| {
                Error::invalid(
                    "resource log directory",
                    dir.display().to_string(),
                    format!("a directory that can be created ({e})"),
                )
            })?;
        }
        {
            let mut resources = self.registry.write_resources();
            let entries = resources.entry(id.into()).or_default();
            if !entries.iter().any(|e| e.kind == k) {
                entries.push(ResourceStreams {
                    kind: k,
                    streams: Vec::new(),
                });
            }
        }
        for stream in self.existing_streams(k, id) {
            let _ = self.file(k, id, &stream);
        }
        Ok(())
    }

    /// The streams of a resource to adopt when it is registered: the service's own, and every
    /// other stream whose current file is in the resource's directory (when the layout puts
    /// `{file}` in the file name).
    fn existing_streams(&self, kind: u16, id: &str) -> Vec<String> {
        let mut out = vec![self.registry.service.clone()];
        let template = self.path_of(kind, id, "{file}");
        let (Some(dir), Some(name)) = (
            template.parent(),
            template.file_name().and_then(|n| n.to_str()),
        ) else {
            return out;
        };
        let Some((prefix, suffix)) = name.split_once("{file}") else {
            return out;
        };
        if suffix.contains("{file}") || dir.to_string_lossy().contains("{file}") {
            return out;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for entry in entries.flatten() {
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            if crate::logs::rotate::numbered_name(&file_name).is_some() {
                continue;
            }
            let stream = file_name
                .strip_prefix(prefix)
                .and_then(|s| s.strip_suffix(suffix));
            if let Some(stream) = stream.filter(|s| valid_id(s)) {
                if !out.iter().any(|s| s == stream) && entry.file_type().is_ok_and(|t| t.is_file())
                {
                    out.push(stream.to_string());
                }
            }
        }
        out
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
        self.registry
            .read_resources()
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
            self.registry
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
            self.registry
                .counters
                .rejected_ids
                .fetch_add(1, Ordering::Relaxed);
            return;
        }
        match self.file(kind, id, &self.registry.service) {
            Some(file) => self.write_line(&file, line),
            None => {
                self.registry
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
            let resources = self.registry.read_resources();
            let entry = resources.get(id)?.iter().find(|e| e.kind == kind)?;
            if let Some((_, f)) = entry.streams.iter().find(|(s, _)| &**s == stream) {
                return Some(f.clone());
            }
        }
        // New: pick up what an earlier run left on disk, before taking the write lock.
        let max_files = self.registry.cfg.max_files;
        let (loaded, bytes) = ResourceFile::load(self.path_of(kind, id, stream), max_files);
        let mut resources = self.registry.write_resources();
        let entry = resources.get_mut(id)?.iter_mut().find(|e| e.kind == kind)?;
        if let Some((_, f)) = entry.streams.iter().find(|(s, _)| &**s == stream) {
            return Some(f.clone());
        }
        let f = Arc::new(loaded);
        // New counts as used now: not the least recently used of all.
        f.last_used.store(
            self.registry.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        self.adopt(&f, bytes);
        entry.streams.push((stream.into(), f.clone()));
        Some(f)
    }

    fn all_files(&self) -> Vec<Arc<ResourceFile>> {
        self.registry
            .read_resources()
            .values()
            .flatten()
            .flat_map(|e| e.streams.iter().map(|(_, f)| f.clone()))
            .collect()
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
        let c = &self.registry.counters;
        ResourceLogStats {
            lines: c.lines.load(Ordering::Relaxed),
            unregistered: c.unregistered.load(Ordering::Relaxed),
            rejected_ids: c.rejected_ids.load(Ordering::Relaxed),
            io_errors: c.io_errors.load(Ordering::Relaxed),
            rotations: c.rotations.load(Ordering::Relaxed),
            follower_gaps: c.follower_gaps.load(Ordering::Relaxed),
            compress_skipped: c.compress_skipped.load(Ordering::Relaxed),
            evicted_age: self.registry.retention.evicted_age.load(Ordering::Relaxed),
            evicted_budget: self
                .registry
                .retention
                .evicted_budget
                .load(Ordering::Relaxed),
            disk_bytes: self.disk_bytes(),
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
        self.registry.open.load(Ordering::Relaxed)
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
            let mut resources = self.registry.write_resources();
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
            let bytes = st.size + st.rotated.drain(..).map(|r| r.bytes).sum::<u64>();
            st.size = 0;
            f.publish(&st);
            self.forget(&f.path, bytes);
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
}
