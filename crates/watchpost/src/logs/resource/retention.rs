//! Retention of the resource log files: deletion by age and the disk budget of all resources
//! together, with the bytes on disk kept exact for registered streams and measured for the other
//! files under the root ("orphans": files of streams not registered in this process, and files
//! of registered streams that the stream does not track).
//!
//! * **Accounting.** Every write, rotation, compression and deletion of a registered stream's
//!   files moves [`Retention`]'s byte count; a walk of the root (every minute, and on
//!   [`ResourceLogs::enforce_retention`]) finds the orphans and their bytes: the files of
//!   resources not registered here, and the strays of registered streams — rotated files beyond
//!   `max_files` (it was lowered), half-gzipped files no gzip is writing (a killed process), a
//!   plain and a gzipped file at the same index (a crash mid-gzip: the one not tracked).
//! * **Budget.** A write-out that takes the total over `max_total_bytes` first makes room, on the
//!   thread that writes out (a 64 KiB buffer or a rotation: amortised, never per line): the
//!   oldest rotated files of any resource go first, then the current files of the idlest
//!   resources — orphans by modification time, then registered streams least recently written —
//!   down to the budget less one file (at most an eighth of the budget). A writer never waits
//!   for another evicting thread and never for a busy file (every file lock is a `try_lock`),
//!   and its pass is bounded: it stops after a few files once it freed at least its own
//!   write's bytes (at most [`WRITER_MAX_VICTIMS`] files); larger purges are the background
//!   thread's, every `flush_interval`. Since every writer frees what it adds, the total stays
//!   within the budget plus one write-out per thread writing at that moment (and the budget plus
//!   one file once no write-out is under way). A file is never
//!   deleted while a writer has it open (a registered stream's file is closed under its lock
//!   first), the stream being written by the evicting thread keeps its current file, and an
//!   orphan current (or half-gzipped) file modified within the last minute ([`LIVE_MS`]) is
//!   never deleted: another process (a rolling restart, a second pipeline) may be appending to
//!   it. (Should a pass free nothing at all — every byte left is in files being written — writers
//!   only free their own write's worth for a `flush_interval`.)
//! * **Age.** Rotated files (and orphans) whose last line is older than `max_age` are deleted,
//!   and a current file whose first line is that old is rotated first.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError, Weak};

use super::file::{FileState, ResourceFile};
use super::{lock, valid_id, ResourceLogs};
use crate::logs::rotate::{self, open_append, Numbered};

/// A writer's pass stops after this many files once it freed its own write's bytes …
const WRITER_VICTIMS: usize = 4;
/// … and after this many in any case (the background thread does the rest).
pub(super) const WRITER_MAX_VICTIMS: usize = 32;
/// An orphan current (or half-gzipped) file modified this recently (ms) may still be written by
/// another process: it is never deleted.
pub(super) const LIVE_MS: u64 = 60_000;

/// The retention state of a registry.
#[derive(Debug, Default)]
pub(super) struct Retention {
    /// Bytes on disk of registered streams (current and rotated files): counted before they
    /// are written and uncounted after they are deleted, so never less than what is on disk.
    tracked: AtomicU64,
    /// Bytes about to be written, waiting for room under the budget.
    pending: AtomicU64,
    /// Bytes of the orphans.
    orphan_bytes: AtomicU64,
    orphans: Mutex<Orphans>,
    /// The current file of every registered stream, and its stream: an orphan is deleted only
    /// if its stream is not among them, or does not track it — checked under this lock (which
    /// adopting a stream takes too) and the stream's.
    paths: Mutex<HashMap<PathBuf, Weak<ResourceFile>>>,
    /// One background pass at a time (writers never take it).
    evicting: Mutex<()>,
    /// Until when (ms) writers free only their own write's bytes: the last pass freed nothing
    /// (every byte left is in files being written).
    stalled_until_ms: AtomicU64,
    /// One sweep at a time.
    sweeping: Mutex<()>,
    pub(super) evicted_age: AtomicU64,
    pub(super) evicted_budget: AtomicU64,
}

impl Retention {
    /// Bytes on disk under the root (files being gzipped aside), at least.
    pub(super) fn on_disk(&self) -> u64 {
        self.tracked.load(Ordering::Relaxed) + self.orphan_bytes.load(Ordering::Relaxed)
    }

    /// What the budget is held against: what is on disk and what is about to be written.
    fn total(&self) -> u64 {
        self.on_disk() + self.pending.load(Ordering::Relaxed)
    }

    fn uncount_orphans(&self, bytes: u64) {
        let _ = self
            .orphan_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                Some(t.saturating_sub(bytes))
            });
    }
}

/// Which file of its stream a file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Current,
    Numbered(Numbered),
}

/// A file under the root that no registered stream tracks.
#[derive(Debug, Clone)]
struct Orphan {
    path: PathBuf,
    bytes: u64,
    modified_ms: u64,
    slot: Slot,
}

impl Orphan {
    /// A rotated (or half-gzipped) file rather than a current one.
    fn rotated(&self) -> bool {
        self.slot != Slot::Current
    }

    /// A file another process may still be writing: a current or half-gzipped one, modified
    /// within [`LIVE_MS`] of `now`.
    fn live(&self, now: u64) -> bool {
        !matches!(self.slot, Slot::Numbered(Numbered::Rotated { .. }))
            && self.modified_ms.saturating_add(LIVE_MS) > now
    }
}

/// Whether a file of a registered stream (in `slot`) is one the stream does not track: a stray.
fn is_stray(st: &FileState, slot: Slot) -> bool {
    match slot {
        Slot::Current => false,
        Slot::Numbered(Numbered::Rotated { index, gz }) => !st
            .rotated
            .get(index - 1)
            .is_some_and(|e| !e.gone && e.gz == gz),
        Slot::Numbered(Numbered::Tmp { generation }) => !st.gzipping.contains(&generation),
    }
}

/// The orphans found by the last walk, less those deleted or adopted since.
#[derive(Debug, Default)]
struct Orphans {
    /// By the current file of their stream.
    by_base: HashMap<PathBuf, Vec<Orphan>>,
    /// `(modified ms, base, path)` of the rotated (and stray, and half-gzipped) orphans and of
    /// the current ones, newest first (entries no longer in `by_base` are skipped).
    rotated: Vec<(u64, PathBuf, PathBuf)>,
    current: Vec<(u64, PathBuf, PathBuf)>,
}

impl Orphans {
    fn new(found: Vec<(PathBuf, Orphan)>) -> (Self, u64) {
        let mut o = Orphans::default();
        let mut bytes = 0;
        for (base, f) in found {
            bytes += f.bytes;
            let list = if f.rotated() {
                &mut o.rotated
            } else {
                &mut o.current
            };
            list.push((f.modified_ms, base.clone(), f.path.clone()));
            o.by_base.entry(base).or_default().push(f);
        }
        o.rotated.sort_by_key(|e| Reverse(e.0));
        o.current.sort_by_key(|e| Reverse(e.0));
        (o, bytes)
    }

    fn contains(&self, base: &Path, path: &Path) -> bool {
        self.by_base
            .get(base)
            .is_some_and(|fs| fs.iter().any(|o| o.path == path))
    }

    /// Takes an orphan's record out; whether it was the last of its stream.
    fn take(&mut self, base: &Path, path: &Path) -> Option<(Orphan, bool)> {
        let files = self.by_base.get_mut(base)?;
        let i = files.iter().position(|o| o.path == path)?;
        let o = files.swap_remove(i);
        let emptied = files.is_empty();
        if emptied {
            self.by_base.remove(base);
        }
        Some((o, emptied))
    }

    fn put_back(&mut self, base: &Path, o: Orphan) {
        self.by_base.entry(base.to_path_buf()).or_default().push(o);
    }

    /// Up to `max` of the oldest rotated (or current) orphans, oldest first, live ones aside.
    fn oldest(&mut self, current: bool, max: usize, now: u64) -> Vec<(u64, PathBuf, PathBuf)> {
        let mut list = std::mem::take(if current {
            &mut self.current
        } else {
            &mut self.rotated
        });
        // Forget the deleted or adopted ones at the old end.
        while list
            .last()
            .is_some_and(|(_, base, path)| !self.contains(base, path))
        {
            list.pop();
        }
        let mut out = Vec::new();
        for (ms, base, path) in list.iter().rev() {
            if out.len() >= max {
                break;
            }
            let fresh = self
                .by_base
                .get(base)
                .and_then(|fs| fs.iter().find(|o| o.path == *path))
                .is_some_and(|o| !o.live(now));
            if fresh {
                out.push((*ms, base.clone(), path.clone()));
            }
        }
        *(if current {
            &mut self.current
        } else {
            &mut self.rotated
        }) = list;
        out
    }
}

/// Why a file was deleted (the `reason` label).
#[derive(Debug, Clone, Copy)]
enum Reason {
    Age,
    Budget,
}

/// The files and bytes a pass of the budget deleted so far.
#[derive(Debug, Default)]
struct Pass {
    victims: usize,
    freed: u64,
}

/// Runs `op` on a file's state: the evicting thread's own (already locked), or another's if its
/// lock is free right now (`None` if it is busy).
fn locked<R>(
    f: &ResourceFile,
    own: &mut Option<(&ResourceFile, &mut FileState)>,
    op: impl FnOnce(&mut FileState) -> R,
) -> Option<R> {
    if let Some((of, st)) = own {
        if std::ptr::eq(*of, f) {
            return Some(op(st));
        }
    }
    let mut guard = match f.state.try_lock() {
        Ok(g) => g,
        Err(TryLockError::Poisoned(p)) => p.into_inner(),
        Err(TryLockError::WouldBlock) => return None,
    };
    Some(op(&mut guard))
}

impl ResourceLogs {
    /// Counts `n` bytes about to be written, making room under the budget first if they take
    /// the total over it (caller holds `file`'s lock; never waits for another thread's pass).
    /// Call [`unreserve`](Self::unreserve) if the write fails.
    pub(super) fn reserve(&self, file: &ResourceFile, st: &mut FileState, n: u64) {
        let r = &self.registry.retention;
        // Counted first, checked after: two writers cannot both pass a check meant for one.
        r.tracked.fetch_add(n, Ordering::Relaxed);
        if self
            .registry
            .cfg
            .max_total_bytes
            .is_some_and(|b| r.total() > b)
        {
            // Waiting for room: pending, not on disk.
            r.pending.fetch_add(n, Ordering::Relaxed);
            self.unreserve(n);
            self.make_room(Some((file, st)), n);
            r.tracked.fetch_add(n, Ordering::Relaxed);
            r.pending.fetch_sub(n, Ordering::Relaxed);
        }
    }

    /// Counts `n` bytes added to a registered stream's files.
    pub(super) fn reserve_quietly(&self, n: u64) {
        self.registry
            .retention
            .tracked
            .fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` bytes gone from a registered stream's files.
    pub(super) fn unreserve(&self, n: u64) {
        let _ = self.registry.retention.tracked.fetch_update(
            Ordering::Relaxed,
            Ordering::Relaxed,
            |t| Some(t.saturating_sub(n)),
        );
    }

    /// A stream is created with `bytes` on disk (its current and rotated files, loaded under
    /// its lock, which no other thread can take yet): those files are no longer orphans; the
    /// stream's strays stay ones.
    pub(super) fn adopt(&self, file: &Arc<ResourceFile>, bytes: u64) {
        let r = &self.registry.retention;
        let mut paths = lock(&r.paths);
        paths.insert(file.path.clone(), Arc::downgrade(file));
        let st = lock(&file.state);
        let mut orphans = lock(&r.orphans);
        if let Some(files) = orphans.by_base.get_mut(&file.path) {
            let mut gone = 0;
            files.retain(|o| {
                let stray = is_stray(&st, o.slot);
                if !stray {
                    gone += o.bytes;
                }
                stray
            });
            if files.is_empty() {
                orphans.by_base.remove(&file.path);
            }
            r.uncount_orphans(gone);
        }
        r.tracked.fetch_add(bytes, Ordering::Relaxed);
    }

    /// A stream is removed with its `bytes` on disk.
    pub(super) fn forget(&self, path: &Path, bytes: u64) {
        lock(&self.registry.retention.paths).remove(path);
        self.unreserve(bytes);
    }

    fn count(&self, reason: Reason) {
        let r = &self.registry.retention;
        match reason {
            Reason::Age => &r.evicted_age,
            Reason::Budget => &r.evicted_budget,
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Bytes of resource log files on disk now: every registered stream's files (exact; a write
    /// is counted just before it is made and a deletion just after, so this is never less than
    /// the disk holds) and the other files under the root (as of the last sweep: files of
    /// resources not registered in this process, and files of registered streams they do not
    /// track); files being gzipped are not counted.
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-disk-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// logs.register("instance", "web-1").unwrap();
    /// logs.append("instance", "web-1", "app", b"hello").unwrap();
    /// logs.flush();
    /// assert_eq!(logs.disk_bytes(), 6);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn disk_bytes(&self) -> u64 {
        self.registry.retention.on_disk()
    }

    /// Applies retention now (the background thread does it every minute): finds the files no
    /// registered stream tracks (of resources not registered in this process, and strays of
    /// registered ones), deletes rotated files — and such files — whose last line is older than
    /// `max_age` (rotating current files whose first line is that old first), then holds the
    /// disk budget. Every deletion is counted
    /// ([`ResourceLogStats::evicted_age`](super::ResourceLogStats::evicted_age),
    /// [`evicted_budget`](super::ResourceLogStats::evicted_budget)).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-ret-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// logs.enforce_retention();
    /// assert_eq!(logs.stats().evicted_age, 0);
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn enforce_retention(&self) {
        let r = &self.registry.retention;
        let _sweeping = lock(&r.sweeping);
        let cfg = &self.registry.cfg;
        self.walk();
        let cutoff = rotate::age_cutoff_ms(cfg.max_age);
        for f in self.all_files() {
            let mut st = lock(&f.state);
            if st.removed {
                continue;
            }
            self.resync(&f, &mut st);
            let (Some(age), Some(cutoff)) = (cfg.max_age, cutoff) else {
                continue;
            };
            if (st.size > 0 || !st.buf.is_empty()) && st.opened_at.elapsed() >= age {
                self.rotate(&f, &mut st);
            }
            if let Some(i) = st
                .rotated
                .iter()
                .position(|e| !e.gone && e.modified_ms < cutoff)
            {
                while st.rotated.len() > i {
                    if self
                        .delete_oldest_rotated(&f, &mut st, Reason::Age)
                        .is_none()
                    {
                        break;
                    }
                }
            }
        }
        if let Some(cutoff) = cutoff {
            let old: Vec<(PathBuf, PathBuf)> = lock(&r.orphans)
                .by_base
                .iter()
                .flat_map(|(base, files)| files.iter().map(move |o| (base, o)))
                .filter(|(_, o)| o.modified_ms < cutoff)
                .map(|(base, o)| (base.clone(), o.path.clone()))
                .collect();
            for (base, path) in old {
                self.delete_orphan(&base, &path, Reason::Age, &mut None);
            }
        }
        self.make_room(None, 0);
    }

    /// Brings a stream's rotated files up to date with the disk (sizes, times, compression;
    /// files deleted by hand become holes). Caller holds the lock.
    fn resync(&self, f: &ResourceFile, st: &mut FileState) {
        for i in 0..st.rotated.len() {
            let e = st.rotated[i];
            if e.gone {
                continue;
            }
            // The suffix it has first (its twin, if any, is a stray).
            let found = [e.gz, !e.gz].into_iter().find_map(|gz| {
                let p = rotate::numbered(&f.path, i + 1, if gz { ".gz" } else { "" });
                std::fs::metadata(p).ok().map(|m| (m, gz))
            });
            let e = &mut st.rotated[i];
            let old = e.bytes;
            match found {
                Some((meta, gz)) => {
                    e.bytes = meta.len();
                    e.modified_ms = rotate::mtime_ms(&meta);
                    e.gz = gz;
                }
                None => {
                    e.bytes = 0;
                    e.gone = true;
                }
            }
            let new = e.bytes;
            self.reserve_quietly(new);
            self.unreserve(old);
        }
        f.publish(st);
    }

    /// Deletes a stream's oldest rotated file: the bytes freed (0 for a hole or a file already
    /// gone), or `None` if it has none or it cannot be deleted.
    fn delete_oldest_rotated(
        &self,
        f: &ResourceFile,
        st: &mut FileState,
        why: Reason,
    ) -> Option<u64> {
        let &entry = st.rotated.back()?;
        let path = entry.path(&f.path, st.rotated.len() - 1);
        let deleted = !entry.gone
            && match std::fs::remove_file(&path) {
                Ok(()) => true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => false,
                Err(e) => {
                    self.io_error(&path, "delete", &e);
                    return None;
                }
            };
        st.rotated.pop_back();
        self.unreserve(entry.bytes);
        f.publish(st);
        if deleted {
            self.count(why);
            Some(entry.bytes)
        } else {
            Some(0)
        }
    }

    /// Deletes a registered stream's current file for the budget (it starts a new, empty
    /// generation); its buffered lines go to the new file. Caller holds the lock. The bytes
    /// freed, `None` if nothing was deleted.
    fn empty_current(&self, f: &ResourceFile, st: &mut FileState) -> Option<u64> {
        if st.removed || st.size == 0 {
            return None;
        }
        self.close_locked(f, st);
        match std::fs::remove_file(&f.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                self.io_error(&f.path, "delete", &e);
                return None;
            }
        }
        let freed = st.size;
        self.unreserve(freed);
        st.size = 0;
        if let Err(e) = open_append(&f.path) {
            self.io_error(&f.path, "open", &e);
        }
        st.generation += 1;
        st.opened_at = std::time::Instant::now();
        f.publish(st);
        self.count(Reason::Budget);
        Some(freed)
    }

    /// Deletes an orphan unless its stream was registered meanwhile and tracks it now, or
    /// another process may be writing it (modified within [`LIVE_MS`]); removes its directory
    /// once empty (writers create it again if needed). The bytes freed.
    fn delete_orphan(
        &self,
        base: &Path,
        path: &Path,
        why: Reason,
        own: &mut Option<(&ResourceFile, &mut FileState)>,
    ) -> u64 {
        let r = &self.registry.retention;
        let paths = lock(&r.paths);
        if paths.contains_key(path) {
            return 0; // a registered stream's current file
        }
        let stream = paths.get(base).and_then(Weak::upgrade);
        let Some((mut o, emptied)) = lock(&r.orphans).take(base, path) else {
            return 0;
        };
        // Its time now, not the walk's: it may have been written since.
        match std::fs::symlink_metadata(path) {
            Ok(meta) => o.modified_ms = rotate::mtime_ms(&meta),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                r.uncount_orphans(o.bytes);
                return 0;
            }
            Err(_) => {}
        }
        let written_since = matches!(why, Reason::Age)
            && rotate::age_cutoff_ms(self.registry.cfg.max_age).is_none_or(|c| o.modified_ms >= c);
        if o.live(rotate::now_ms()) || written_since {
            lock(&r.orphans).put_back(base, o);
            return 0;
        }
        let unlink = || match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => {
                self.io_error(path, "delete", &e);
                Err(())
            }
        };
        let deleted = match &stream {
            None => unlink(),
            // A stray of a registered stream: deleted under the stream's lock, if it still does
            // not track that file (a rotation may have moved one of its own there).
            Some(f) => match locked(f, own, |st| {
                (!st.removed && is_stray(st, o.slot)).then(unlink)
            }) {
                Some(Some(result)) => result,
                Some(None) => Ok(false), // the stream's own file now: not an orphan any more
                None => {
                    lock(&r.orphans).put_back(base, o); // busy: another time
                    return 0;
                }
            },
        };
        let Ok(deleted) = deleted else {
            lock(&r.orphans).put_back(base, o);
            return 0;
        };
        r.uncount_orphans(o.bytes);
        if emptied && stream.is_none() {
            if let Some(dir) = path.parent().filter(|d| *d != self.registry.cfg.root) {
                let _ = std::fs::remove_dir(dir);
            }
        }
        drop(paths);
        if deleted {
            self.count(why);
            o.bytes
        } else {
            0
        }
    }

    /// Holds the disk budget (see the module's notes). `own` is the stream the calling thread
    /// is writing, locked by it, and `write` the bytes it is about to write: a writer's pass is
    /// bounded and never waits; without `own` it is the background thread's full pass.
    pub(super) fn make_room(&self, mut own: Option<(&ResourceFile, &mut FileState)>, write: u64) {
        let cfg = &self.registry.cfg;
        let r = &self.registry.retention;
        let Some(budget) = cfg.max_total_bytes else {
            return;
        };
        if r.total() <= budget {
            return;
        }
        let writer = own.is_some();
        let _evicting = if writer {
            None
        } else {
            let guard = lock(&r.evicting);
            if r.total() <= budget {
                return; // another pass made room meanwhile
            }
            Some(guard)
        };
        let now = rotate::now_ms();
        let stalled = writer && now < r.stalled_until_ms.load(Ordering::Relaxed);
        let target = budget - cfg.max_file_bytes.min(budget / 8);
        let most = if writer {
            WRITER_MAX_VICTIMS
        } else {
            usize::MAX
        };
        let enough = |p: &Pass| {
            r.total() <= target
                || (writer
                    && (p.victims >= WRITER_MAX_VICTIMS
                        || (p.freed >= write && (stalled || p.victims >= WRITER_VICTIMS))))
        };
        let mut pass = Pass::default();
        let files = self.all_files();

        // 1. Rotated files of any resource, oldest first.
        let mut heap = BinaryHeap::new();
        for (i, f) in files.iter().enumerate() {
            let ms = f.oldest_rotated_ms.load(Ordering::Relaxed);
            if ms > 0 {
                heap.push(Reverse((ms, i)));
            }
        }
        let mut orphans = lock(&r.orphans)
            .oldest(false, most, now)
            .into_iter()
            .peekable();
        while !enough(&pass) {
            let stream_ms = heap.peek().map(|Reverse((ms, _))| *ms);
            let orphan_ms = orphans.peek().map(|(ms, _, _)| *ms);
            match (stream_ms, orphan_ms) {
                (None, None) => break,
                (Some(s), o) if o.is_none_or(|o| s <= o) => {
                    let Some(Reverse((_, i))) = heap.pop() else {
                        break;
                    };
                    let f = &*files[i];
                    let done = locked(f, &mut own, |st| {
                        if st.removed {
                            return None;
                        }
                        let freed = self.delete_oldest_rotated(f, st, Reason::Budget)?;
                        Some((freed, st.rotated.back().map(|e| e.modified_ms.max(1))))
                    });
                    if let Some(Some((freed, next))) = done {
                        pass.victims += 1;
                        pass.freed += freed;
                        if let Some(ms) = next {
                            heap.push(Reverse((ms, i)));
                        }
                    }
                }
                _ => {
                    let Some((_, base, path)) = orphans.next() else {
                        break;
                    };
                    pass.victims += 1;
                    pass.freed += self.delete_orphan(&base, &path, Reason::Budget, &mut own);
                }
            }
        }

        // 2. The idlest resources' current files: orphans by age (not those another process
        // may be writing), then registered streams least recently written (never the one this
        // thread is writing).
        if !enough(&pass) {
            let current = lock(&r.orphans).oldest(true, most, now);
            for (_, base, path) in current {
                if enough(&pass) {
                    break;
                }
                pass.victims += 1;
                pass.freed += self.delete_orphan(&base, &path, Reason::Budget, &mut own);
            }
        }
        if !enough(&pass) {
            let own_file = own.as_ref().map(|(f, _)| *f as *const ResourceFile);
            let mut idle: Vec<&ResourceFile> = files
                .iter()
                .map(|f| &**f)
                .filter(|f| f.current_bytes.load(Ordering::Relaxed) > 0)
                .filter(|f| own_file != Some(*f as *const ResourceFile))
                .collect();
            idle.sort_by_cached_key(|f| f.last_used.load(Ordering::Relaxed)); // keys read once
            for f in idle {
                if enough(&pass) {
                    break;
                }
                if let Some(Some(freed)) = locked(f, &mut None, |st| self.empty_current(f, st)) {
                    pass.victims += 1;
                    pass.freed += freed;
                }
            }
        }
        // Judged by what this pass deleted (not by a total other threads move meanwhile).
        if pass.freed == 0 && r.total() > budget {
            // Nothing to evict now: writers free only their own write's worth for a moment.
            let pause = u64::try_from(cfg.flush_interval.as_millis()).unwrap_or(u64::MAX);
            r.stalled_until_ms
                .store(now.saturating_add(pause), Ordering::Relaxed);
        } else if pass.freed > 0 && !writer {
            r.stalled_until_ms.store(0, Ordering::Relaxed);
        }
    }

    /// Finds the orphans: files under the root whose names the layout could have made and that
    /// no registered stream tracks (a walk that follows the layout, never symbolic links). A
    /// registered stream's files are judged under its lock, taken with no other lock held.
    fn walk(&self) {
        let cfg = &self.registry.cfg;
        let kinds: Vec<&str> = cfg.kinds.iter().map(|(k, _)| k.as_str()).collect();
        let parts: Vec<&str> = cfg.layout.split('/').filter(|c| !c.is_empty()).collect();
        let mut found: Vec<(PathBuf, Orphan)> = Vec::new();
        let mut dirs = vec![cfg.root.clone()];
        for (level, template) in parts.iter().enumerate() {
            let last = level + 1 == parts.len();
            let mut next = Vec::new();
            for dir in &dirs {
                let Ok(entries) = std::fs::read_dir(dir) else {
                    continue;
                };
                for entry in entries.flatten() {
                    let (Ok(kind), Ok(name)) = (entry.file_type(), entry.file_name().into_string())
                    else {
                        continue;
                    };
                    if !last {
                        if kind.is_dir() && matches_template(template, &name, &kinds) {
                            next.push(entry.path());
                        }
                        continue;
                    }
                    if !kind.is_file() {
                        continue;
                    }
                    let numbered = rotate::numbered_name(&name)
                        .filter(|(base, _)| matches_template(template, base, &kinds));
                    let (base, slot) = match numbered {
                        Some((base, n)) => (base, Slot::Numbered(n)),
                        None if matches_template(template, &name, &kinds) => {
                            (name.as_str(), Slot::Current)
                        }
                        None => continue,
                    };
                    let Ok(meta) = entry.metadata() else {
                        continue;
                    };
                    found.push((
                        dir.join(base),
                        Orphan {
                            path: entry.path(),
                            bytes: meta.len(),
                            modified_ms: rotate::mtime_ms(&meta),
                            slot,
                        },
                    ));
                }
            }
            dirs = next;
        }
        let r = &self.registry.retention;
        // The registered streams among the bases found, then each one's strays, judged under
        // its lock.
        let streams: HashMap<PathBuf, Arc<ResourceFile>> = {
            let paths = lock(&r.paths);
            found
                .iter()
                .filter_map(|(base, _)| {
                    let f = paths.get(base)?.upgrade()?;
                    Some((base.clone(), f))
                })
                .collect()
        };
        let mut stray = vec![false; found.len()];
        let mut by_stream: HashMap<&Path, Vec<usize>> = HashMap::new();
        for (i, (base, _)) in found.iter().enumerate() {
            if streams.contains_key(base) {
                by_stream.entry(base.as_path()).or_default().push(i);
            }
        }
        for (base, indices) in &by_stream {
            let st = lock(&streams[*base].state);
            for &i in indices {
                stray[i] = st.removed || is_stray(&st, found[i].1.slot);
            }
        }
        let paths = lock(&r.paths);
        let mut orphans = Vec::new();
        for ((base, o), stray) in found.into_iter().zip(stray) {
            if paths.contains_key(&o.path) {
                continue; // a registered stream's current file
            }
            let tracked = match (paths.contains_key(&base), streams.contains_key(&base)) {
                (false, _) => false,
                // Registered meanwhile: adopting it judged its files.
                (true, false) => true,
                (true, true) => !stray,
            };
            if !tracked {
                orphans.push((base, o));
            }
        }
        let (orphans, bytes) = Orphans::new(orphans);
        *lock(&r.orphans) = orphans;
        r.orphan_bytes.store(bytes, Ordering::Relaxed);
        drop(paths);
    }
}

/// Whether `name` is what a layout component (`{kind}`, `{id}`, `{file}.log`, …) makes:
/// `{kind}` one of `kinds`, `{id}` and `{file}` valid ids, the rest literally.
fn matches_template(template: &str, name: &str, kinds: &[&str]) -> bool {
    if template.is_empty() {
        return name.is_empty();
    }
    if let Some(rest) = template.strip_prefix("{kind}") {
        return kinds.iter().any(|k| {
            name.strip_prefix(k)
                .is_some_and(|after| matches_template(rest, after, kinds))
        });
    }
    for placeholder in ["{id}", "{file}"] {
        if let Some(rest) = template.strip_prefix(placeholder) {
            return (1..=name.len()).rev().any(|end| {
                name.is_char_boundary(end)
                    && valid_id(&name[..end])
                    && matches_template(rest, &name[end..], kinds)
            });
        }
    }
    let c = template.chars().next().expect("not empty");
    name.strip_prefix(c)
        .is_some_and(|after| matches_template(&template[c.len_utf8()..], after, kinds))
}

#[cfg(test)]
mod tests {
    use super::matches_template;

    #[test]
    fn layout_components_match_only_what_the_layout_makes() {
        let kinds = ["instance", "volume"];
        assert!(matches_template("{kind}", "instance", &kinds));
        assert!(!matches_template("{kind}", "image", &kinds));
        assert!(matches_template("{id}", "web-1.prod", &kinds));
        assert!(!matches_template("{id}", ".hidden", &kinds));
        assert!(matches_template("{file}.log", "svc.log", &kinds));
        assert!(matches_template("{file}.log", "app.v2.log", &kinds));
        assert!(!matches_template("{file}.log", "svc.txt", &kinds));
        assert!(matches_template(
            "{kind}-{id}.{file}.log",
            "volume-v1.svc.log",
            &kinds
        ));
    }
}

#[cfg(test)]
mod pass_tests {
    use std::sync::mpsc;
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::logs::ResourceLogConfig;

    /// Resource logs under `root` whose background thread stays asleep during the test.
    fn logs(root: &Path, tweak: impl FnOnce(&mut ResourceLogConfig)) -> ResourceLogs {
        let mut cfg = ResourceLogConfig::new(root).kind("instance", "instance_id");
        cfg.flush_interval = Duration::from_secs(3600);
        tweak(&mut cfg);
        ResourceLogs::new(cfg, "svc")
    }

    fn line(seq: usize) -> String {
        format!("{{\"seq\":{seq},\"padding\":\"{}\"}}", "x".repeat(60))
    }

    #[test]
    fn a_writer_never_waits_for_another_thread_s_eviction() {
        let dir = watchpost_testkit::tools::TempDir::new("evict-nowait");
        let logs = logs(&dir.0, |rl| {
            rl.max_file_bytes = 1024;
            rl.max_files = 100;
            rl.max_total_bytes = Some(8 * 1024);
        });
        logs.register("instance", "r1").unwrap();
        // Another thread is in the middle of a (background) pass.
        let evicting = lock(&logs.registry.retention.evicting);
        let (done, finished) = mpsc::channel();
        let writer = {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for seq in 0..400 {
                    logs.append("instance", "r1", "svc", line(seq).as_bytes())
                        .unwrap();
                }
                logs.flush();
                done.send(()).unwrap();
            })
        };
        let waited = finished.recv_timeout(Duration::from_secs(20));
        drop(evicting);
        writer.join().unwrap();
        assert!(waited.is_ok(), "the writer waited for the other pass");
        // And the writer made room itself, from its own rotated files.
        let stats = logs.stats();
        assert!(stats.evicted_budget > 0, "{stats:?}");
        assert!(logs.disk_bytes() <= 8 * 1024 + 1024, "{stats:?}");
    }

    #[test]
    fn a_writer_s_pass_is_bounded_and_the_background_does_the_rest() {
        let dir = watchpost_testkit::tools::TempDir::new("evict-bounded");
        // A resource of an earlier run with 100 rotated files of 1 KiB: 100 KiB.
        let gone = dir.0.join("instance/gone");
        std::fs::create_dir_all(&gone).unwrap();
        for i in 1..=100 {
            let p = gone.join(format!("svc.log.{i}"));
            std::fs::write(&p, [b'x'; 1024]).unwrap();
            let old = SystemTime::now() - Duration::from_secs(3600 + i);
            std::fs::File::options()
                .append(true)
                .open(&p)
                .unwrap()
                .set_modified(old)
                .unwrap();
        }
        let logs = logs(&dir.0, |rl| {
            rl.max_file_bytes = 4096;
            rl.max_total_bytes = Some(64 * 1024);
        });
        logs.walk();
        assert_eq!(logs.disk_bytes(), 100 * 1024);
        logs.register("instance", "r1").unwrap();
        logs.append("instance", "r1", "svc", line(0).as_bytes())
            .unwrap();
        logs.flush();
        // One write-out: a few files, the oldest first, not a purge.
        assert_eq!(logs.stats().evicted_budget, WRITER_VICTIMS as u64);
        assert!(!gone.join("svc.log.100").exists() && gone.join("svc.log.96").exists());
        // The background pass goes down to the budget less one file.
        logs.enforce_retention();
        let total = logs.disk_bytes();
        assert!(total <= 60 * 1024, "{total}");
        assert!(logs.stats().evicted_budget >= 40);
        assert!(gone.join("svc.log.1").exists(), "the newest are kept");
    }
}
