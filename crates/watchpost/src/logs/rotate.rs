//! Rotation by rename, gzip of rotated files (one background thread fed by a bounded queue) and
//! age-based deletion, shared by the per-resource files (`resource::file`) and the main log file
//! ([`LogFile`], written by [`NonBlocking`](super::NonBlocking)'s thread); and the file helpers
//! both use (private modes, a directory recreated when it went missing, whole-line appends).
//!
//! Names: the current file is `x.log`; rotated files are `x.log.1` (the newest) … `x.log.N`,
//! `x.log.K.gz` once gzipped; a gzip in progress writes `x.log.0.<generation>.gz.tmp`.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::config::LogFileConfig;

/// How often the age of rotated files is checked, at most.
pub(crate) const AGE_CHECK_EVERY: Duration = Duration::from_secs(60);

/// Rotated files waiting for their gzip thread, at most; a rotation that finds the queue full
/// leaves its file uncompressed (counted).
pub(crate) const GZIP_QUEUE: usize = 256;

/// `path.<i><suffix>`: `x.log.1`, `x.log.2.gz`, …
pub(crate) fn numbered(path: &Path, i: usize, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{i}{suffix}"));
    PathBuf::from(s)
}

/// Where a gzip of the file rotated as `generation` is written before it is renamed.
pub(crate) fn gzip_tmp(path: &Path, generation: u64) -> PathBuf {
    numbered(path, 0, &format!(".{generation}.gz.tmp"))
}

/// What a rotated or in-progress file name is, after its current file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Numbered {
    /// `x.log.<index>`, or `x.log.<index>.gz`.
    Rotated { index: usize, gz: bool },
    /// `x.log.0.<generation>.gz.tmp`: a gzip in progress (or one a killed process left).
    Tmp { generation: u64 },
}

/// The current file's name for a rotated (`x.log.3`, `x.log.3.gz`) or in-progress
/// (`x.log.0.7.gz.tmp`) file name, and which one it is; `None` for anything else.
pub(crate) fn numbered_name(name: &str) -> Option<(&str, Numbered)> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = name.strip_suffix(".gz.tmp") {
        let (rest, generation) = rest.rsplit_once('.')?;
        let (base, zero) = rest.rsplit_once('.')?;
        let generation = generation
            .parse::<u64>()
            .ok()
            .filter(|_| digits(generation))?;
        return (zero == "0" && !base.is_empty()).then_some((base, Numbered::Tmp { generation }));
    }
    let (plain, gz) = match name.strip_suffix(".gz") {
        Some(p) => (p, true),
        None => (name, false),
    };
    let (base, index) = plain.rsplit_once('.')?;
    let i = index
        .parse::<usize>()
        .ok()
        .filter(|i| *i > 0 && digits(index))?;
    (!base.is_empty()).then_some((base, Numbered::Rotated { index: i, gz }))
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    ms_of(SystemTime::now())
}

/// Milliseconds since the Unix epoch of `t` (0 before it).
pub(crate) fn ms_of(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// The modification time of `meta`, in milliseconds since the Unix epoch.
pub(crate) fn mtime_ms(meta: &std::fs::Metadata) -> u64 {
    meta.modified().map(ms_of).unwrap_or(0)
}

/// The newest modification time (ms) that is too old to keep under `max_age`, if any (0, that
/// is nothing, for an age longer than the time since the epoch).
pub(crate) fn age_cutoff_ms(max_age: Option<Duration>) -> Option<u64> {
    max_age.map(|age| {
        let age = u64::try_from(age.as_millis()).unwrap_or(u64::MAX);
        now_ms().saturating_sub(age)
    })
}

/// Opens `path` for appending, creating it readable and writable by the owner only (0600,
/// whatever the umask): logs can hold what a process printed. A missing directory (removed once
/// it was empty) is created again, 0700.
pub(crate) fn open_append(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let open = || {
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Some(dir) = path.parent() {
                create_private_dir_all(dir)?;
            }
            open()
        }
        other => other,
    }
}

/// Appends all of `data` (whole lines) to `f`, opened for appending. If that fails part way, the
/// part that was written is cut off again (best effort), so that the file still ends at a line
/// boundary and the next write does not continue a half line.
pub(crate) fn append_whole(f: &mut File, data: &[u8]) -> io::Result<()> {
    let mut done = 0;
    let error = loop {
        if done == data.len() {
            return Ok(());
        }
        match f.write(&data[done..]) {
            Ok(0) => break io::Error::from(io::ErrorKind::WriteZero),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break e,
        }
    };
    if done > 0 {
        // Appended: our bytes are the last `done` of the file.
        if let Ok(meta) = f.metadata() {
            let _ = f.set_len(meta.len().saturating_sub(done as u64));
        }
    }
    Err(error)
}

/// Creates (truncates) `path` with mode 0600.
#[cfg_attr(not(feature = "gzip"), allow(dead_code))]
pub(crate) fn create_private(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
}

/// Creates `dir` and its missing parents with mode 0700 (whatever the umask).
pub(crate) fn create_private_dir_all(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// The rotated file `i` of `path` that exists (plain first, then gzipped), with its metadata.
pub(crate) fn rotated_file(path: &Path, i: usize) -> Option<(PathBuf, std::fs::Metadata, bool)> {
    [("", false), (".gz", true)]
        .into_iter()
        .find_map(|(suffix, gz)| {
            let p = numbered(path, i, suffix);
            std::fs::metadata(&p).ok().map(|m| (p, m, gz))
        })
}

/// How many rotated files `path` has: `x.log.1` … up to the first index that has none (plain or
/// gzipped), at most `max_files`.
pub(crate) fn count_rotated(path: &Path, max_files: usize) -> usize {
    (1..=max_files)
        .take_while(|i| rotated_file(path, *i).is_some())
        .count()
}

/// Shifts the rotated files of `path` up by one (the one at `max_files` is deleted) and renames
/// the current file to `x.log.1`. Only the files that exist are touched: `x.log.1` up to the
/// first missing index. The caller makes sure nothing writes the current file meanwhile.
///
/// # Errors
/// Only a failed rename of the current file fails the rotation (a missing current file is
/// nothing to rotate); a rotated file that cannot be moved or deleted goes to `on_error`.
pub(crate) fn shift(
    path: &Path,
    max_files: usize,
    on_error: &mut dyn FnMut(&Path, &io::Error),
) -> io::Result<()> {
    let max_files = max_files.max(1);
    let mut report = |p: &Path, r: io::Result<()>| match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => on_error(p, &e),
        _ => {}
    };
    let n = count_rotated(path, max_files);
    if n == max_files {
        for suffix in ["", ".gz"] {
            let last = numbered(path, max_files, suffix);
            report(&last, std::fs::remove_file(&last));
        }
    }
    for i in (1..=n.min(max_files - 1)).rev() {
        for suffix in ["", ".gz"] {
            let from = numbered(path, i, suffix);
            report(&from, std::fs::rename(&from, numbered(path, i + 1, suffix)));
        }
    }
    match std::fs::rename(path, numbered(path, 1, "")) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Gzips what `src` holds into `tmp` (created 0600, synced), with `src`'s modification time (the
/// time of its last line, which age deletion and "oldest first" go by); its size.
#[cfg(feature = "gzip")]
pub(crate) fn gzip(mut src: File, tmp: &Path) -> io::Result<u64> {
    let modified = src.metadata()?.modified()?;
    let out = create_private(tmp)?;
    let mut enc = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    io::copy(&mut src, &mut enc)?;
    let out = enc.finish()?;
    out.set_modified(modified)?;
    out.sync_all()?;
    Ok(out.metadata()?.len())
}

/// Without the `gzip` feature nothing is compressed (the configuration refuses `compress`, so
/// this is never called).
#[cfg(not(feature = "gzip"))]
pub(crate) fn gzip(_src: File, _tmp: &Path) -> io::Result<u64> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "built without the `gzip` feature",
    ))
}

/// A reader of a gzipped rotated file's lines (`None` without the `gzip` feature: such a file
/// was written by another build and is skipped).
pub(crate) fn gunzip(f: File) -> Option<Box<dyn io::Read + Send>> {
    #[cfg(feature = "gzip")]
    return Some(Box::new(flate2::read::GzDecoder::new(f)));
    #[cfg(not(feature = "gzip"))]
    {
        drop(f);
        None
    }
}

/// Deletes rotated file `from` and every older one (plain or gzipped, up to the first index that
/// has neither, at most `max_files`); how many files and bytes were deleted.
pub(crate) fn delete_from(
    path: &Path,
    from: usize,
    max_files: usize,
    on_error: &mut dyn FnMut(&Path, &io::Error),
) -> (u64, u64) {
    let (mut files, mut bytes) = (0, 0);
    for i in from..=max_files {
        let mut any = false;
        for suffix in ["", ".gz"] {
            let p = numbered(path, i, suffix);
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            any = true;
            match std::fs::remove_file(&p) {
                Ok(()) => {
                    files += 1;
                    bytes += meta.len();
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => on_error(&p, &e),
            }
        }
        if !any {
            break;
        }
    }
    (files, bytes)
}

/// A job for a gzip thread.
pub(crate) type GzipJob = Box<dyn FnOnce() + Send>;

/// Why a rotated file was left uncompressed.
#[derive(Debug)]
pub(crate) enum NotQueued {
    /// [`GZIP_QUEUE`] files are already waiting.
    Full,
    /// The gzip thread cannot be started (tried again at most once a minute).
    NoThread(io::Error),
}

/// One background thread that gzips rotated files, fed by a bounded queue: started by the first
/// job, it ends once this is dropped and the jobs already queued are done. Rotations never wait
/// for it: a full queue leaves the file uncompressed.
pub(crate) struct Compressor {
    state: Mutex<CompressorState>,
    capacity: usize,
}

#[derive(Default)]
struct CompressorState {
    tx: Option<SyncSender<GzipJob>>,
    /// When the thread last failed to start.
    failed_at: Option<Instant>,
}

impl std::fmt::Debug for Compressor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compressor")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for Compressor {
    fn default() -> Self {
        Self::new(GZIP_QUEUE)
    }
}

impl Compressor {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            state: Mutex::new(CompressorState::default()),
            capacity,
        }
    }

    /// Queues `job` for the gzip thread (starting it if needed); never waits.
    pub(crate) fn submit(&self, job: GzipJob) -> Result<(), NotQueued> {
        let mut st = lock(&self.state);
        let mut job = job;
        for _ in 0..2 {
            if st.tx.is_none() {
                if st.failed_at.is_some_and(|t| t.elapsed() < AGE_CHECK_EVERY) {
                    return Err(NotQueued::NoThread(io::Error::other(
                        "the gzip thread could not be started",
                    )));
                }
                let (tx, rx) = sync_channel::<GzipJob>(self.capacity);
                let spawned = std::thread::Builder::new()
                    .name("watchpost-gzip".into())
                    .spawn(move || {
                        for job in rx {
                            job();
                        }
                    });
                match spawned {
                    Ok(_) => st.tx = Some(tx),
                    Err(e) => {
                        st.failed_at = Some(Instant::now());
                        return Err(NotQueued::NoThread(e));
                    }
                }
            }
            let tx = st.tx.as_ref().expect("started above");
            match tx.try_send(job) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Full(_)) => return Err(NotQueued::Full),
                // The thread ended (a job panicked): start another one.
                Err(TrySendError::Disconnected(j)) => {
                    st.tx = None;
                    job = j;
                }
            }
        }
        Err(NotQueued::NoThread(io::Error::other(
            "the gzip thread keeps ending",
        )))
    }
}

/// What went wrong with the main log file's rotated files, reported on stderr at most once a
/// minute (the main log may be the very file in trouble).
#[derive(Debug, Default)]
struct Problems {
    last_report: AtomicU64,
    errors: AtomicU64,
    uncompressed: AtomicU64,
}

impl Problems {
    fn error(&self, op: &str, path: &Path, e: &dyn std::fmt::Display) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.report(&format!("{op} {}: {e}", path.display()));
    }

    fn report(&self, error: &str) {
        crate::internal::LogFileRetentionFailed {
            error,
            errors: self.errors.load(Ordering::Relaxed),
            uncompressed: self.uncompressed.load(Ordering::Relaxed),
        }
        .emit(&self.last_report);
    }
}

/// The main log file: a [`Write`] that appends whole lines, rotates between them, gzips rotated
/// files in the background (one thread, bounded queue) and deletes the ones older than
/// `max_age`, as its [`LogFileConfig`] says. Used by
/// [`NonBlocking::file`](super::NonBlocking::file) (one thread writes it); each `write` call must
/// start at a line boundary and holds whole lines.
///
/// A file that cannot be opened or written fails the write (the caller counts the lines lost; a
/// line half written is cut off again) and is opened again on the next one. Files a previous run
/// left beyond `max_files`, half-gzipped files and uncompressed twins of gzipped ones are deleted
/// when it is first opened. Failures of rotated files (moving, gzipping, deleting) are reported
/// on stderr at most once a minute.
///
/// ```
/// use std::io::Write as _;
/// let dir = std::env::temp_dir().join(format!("wp-doc-logfile-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let mut config = watchpost::config::LogFileConfig::new(dir.join("svc.log"));
/// config.max_file_bytes = 1024;
/// let mut file = watchpost::logs::LogFile::new(config);
/// for i in 0..100 {
///     file.write_all(format!("{{\"seq\":{i}}}\n").as_bytes()).unwrap();
/// }
/// assert!(dir.join("svc.log.1").exists());
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Debug)]
pub struct LogFile {
    cfg: LogFileConfig,
    file: Option<File>,
    /// Bytes in the current file.
    size: u64,
    /// When the current file got its first line.
    opened_at: Instant,
    /// Rotations so far, under the lock the gzip thread takes to find and rename its files.
    shifts: Arc<Mutex<u64>>,
    last_age_check: Option<Instant>,
    /// Files of an earlier run were swept (on the first open).
    swept: bool,
    gzip: Compressor,
    problems: Arc<Problems>,
}

impl LogFile {
    /// A log file as `config` says; it is opened (and created, 0600) by the first write.
    ///
    /// ```
    /// let file = watchpost::logs::LogFile::new(watchpost::config::LogFileConfig::new("svc.log"));
    /// # drop(file);
    /// ```
    pub fn new(config: LogFileConfig) -> Self {
        Self {
            cfg: config,
            file: None,
            size: 0,
            opened_at: Instant::now(),
            shifts: Arc::new(Mutex::new(0)),
            last_age_check: None,
            swept: false,
            gzip: Compressor::default(),
            problems: Arc::new(Problems::default()),
        }
    }

    fn open(&mut self) -> io::Result<()> {
        if !self.swept {
            self.swept = true;
            self.sweep();
        }
        let mut f = open_append(&self.cfg.path)?;
        let meta = f.metadata()?;
        self.size = meta.len();
        if self.size > 0 && !ends_with_newline(&self.cfg.path, self.size) {
            // A half line (a crash mid-write): end it, so that the next line stays whole.
            f.write_all(b"\n")?;
            self.size += 1;
        }
        // A file kept from an earlier run: its first line is at least as old as its last. An
        // empty one gets its time from its first line (see `write`).
        self.opened_at = if self.size == 0 {
            Instant::now()
        } else {
            let age = Duration::from_millis(now_ms().saturating_sub(mtime_ms(&meta)));
            Instant::now().checked_sub(age).unwrap_or_else(Instant::now)
        };
        self.file = Some(f);
        Ok(())
    }

    /// Deletes what an earlier run left that no rotation would ever touch again: rotated files
    /// beyond `max_files` (it was lowered), half-gzipped files (a killed gzip) and the plain
    /// twin of a gzipped file (a crash between the gzip's rename and the plain file's deletion).
    fn sweep(&self) {
        let path = &self.cfg.path;
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return;
        };
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let _shifts = lock(&self.shifts);
        for entry in entries.flatten() {
            let Ok(file_name) = entry.file_name().into_string() else {
                continue;
            };
            let stray = match numbered_name(&file_name) {
                Some((base, _)) if base != name => false,
                Some((_, Numbered::Tmp { .. })) => true,
                Some((_, Numbered::Rotated { index, gz })) => {
                    index > self.cfg.max_files || (!gz && numbered(path, index, ".gz").exists())
                }
                None => false,
            };
            if stray && entry.file_type().is_ok_and(|t| t.is_file()) {
                if let Err(e) = std::fs::remove_file(entry.path()) {
                    if e.kind() != io::ErrorKind::NotFound {
                        self.problems.error("delete", &entry.path(), &e);
                    }
                }
            }
        }
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file = None;
        let path = self.cfg.path.clone();
        let problems = &*self.problems;
        let shifted = {
            let mut shifts = lock(&self.shifts);
            let result = shift(&path, self.cfg.max_files, &mut |p, e| {
                problems.error("rotate", p, e);
            });
            // The rotated files moved up even if the current file did not.
            *shifts += 1;
            result.map(|()| *shifts)
        };
        let generation = match shifted {
            Ok(g) => g,
            Err(e) => {
                problems.error("rotate", &path, &e);
                return Err(e);
            }
        };
        if self.cfg.compress {
            self.queue_gzip(generation);
        }
        self.delete_aged();
        self.open()
    }

    /// Hands the file rotated as `generation` to the gzip thread (or leaves it plain, counted).
    fn queue_gzip(&mut self, generation: u64) {
        let path = self.cfg.path.clone();
        let shifts = self.shifts.clone();
        let problems = self.problems.clone();
        let max_files = self.cfg.max_files;
        let job = Box::new(move || compress_main(&path, generation, &shifts, max_files, &problems));
        if let Err(why) = self.gzip.submit(job) {
            self.problems.uncompressed.fetch_add(1, Ordering::Relaxed);
            match why {
                NotQueued::Full => self
                    .problems
                    .report("the gzip queue is full: a rotated file is left uncompressed"),
                NotQueued::NoThread(e) => self.problems.error("gzip", &self.cfg.path, &e),
            }
        }
    }

    /// Deletes rotated files whose last line is older than `max_age` (and every older one).
    fn delete_aged(&mut self) {
        self.last_age_check = Some(Instant::now());
        let Some(cutoff) = age_cutoff_ms(self.cfg.max_age) else {
            return;
        };
        let path = &self.cfg.path;
        let _shifts = lock(&self.shifts);
        let mut first_old = None;
        for i in 1..=self.cfg.max_files {
            let Some((_, meta, _)) = rotated_file(path, i) else {
                break; // no file at this index: the rotated files end here
            };
            if mtime_ms(&meta) < cutoff {
                first_old = Some(i);
                break;
            }
        }
        if let Some(from) = first_old {
            let problems = &*self.problems;
            delete_from(path, from, self.cfg.max_files, &mut |p, e| {
                problems.error("delete", p, e);
            });
        }
    }
}

/// Whether the file at `path` (of `size` bytes) ends with a newline (`true` when unreadable).
fn ends_with_newline(path: &Path, size: u64) -> bool {
    use std::os::unix::fs::FileExt as _;
    let mut last = [b'\n'];
    File::open(path)
        .and_then(|f| f.read_exact_at(&mut last, size - 1))
        .map_or(true, |()| last[0] == b'\n')
}

/// Gzips the main log file rotated as `generation` and puts it where later rotations moved it.
/// The file is found under the rotation lock, and its result is put in place only if the plain
/// file there is still the one that was read (same inode).
fn compress_main(
    path: &Path,
    generation: u64,
    shifts: &Mutex<u64>,
    max_files: usize,
    problems: &Problems,
) {
    use std::os::unix::fs::MetadataExt as _;
    let index_of = |shifts: u64| 1 + shifts.saturating_sub(generation) as usize;
    let src = {
        let shifts = lock(shifts);
        let i = index_of(*shifts);
        if i > max_files {
            return; // deleted meanwhile
        }
        match File::open(numbered(path, i, "")) {
            Ok(f) => f,
            Err(_) => return,
        }
    };
    let Ok(id) = src.metadata().map(|m| (m.dev(), m.ino())) else {
        return;
    };
    let tmp = gzip_tmp(path, generation);
    let result = gzip(src, &tmp);
    let shifts = lock(shifts);
    let i = index_of(*shifts);
    let plain = numbered(path, i, "");
    let same = i <= max_files && std::fs::metadata(&plain).is_ok_and(|m| (m.dev(), m.ino()) == id);
    match result {
        Ok(_) if same => match std::fs::rename(&tmp, numbered(path, i, ".gz")) {
            Ok(()) => {
                if let Err(e) = std::fs::remove_file(&plain) {
                    problems.error("delete", &plain, &e);
                }
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                problems.error("gzip", &plain, &e);
            }
        },
        Ok(_) => {
            let _ = std::fs::remove_file(&tmp);
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            problems.error("gzip", &plain, &e);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Write for LogFile {
    /// Writes the whole lines at the start of `buf` that fit in the current file (at least one
    /// line into an empty file), rotating first when not even one fits.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.file.is_none() {
            self.open()?;
        }
        let fits = |room: u64| {
            let mut take = 0;
            for (i, b) in buf.iter().enumerate() {
                if *b == b'\n' {
                    if (i + 1) as u64 > room {
                        break;
                    }
                    take = i + 1;
                }
            }
            take
        };
        let mut take = fits(self.cfg.max_file_bytes.saturating_sub(self.size));
        if take == 0 {
            if self.size > 0 {
                self.rotate()?;
            }
            take = fits(self.cfg.max_file_bytes);
            if take == 0 {
                // One line longer than a whole file: it gets a file of its own.
                take = buf
                    .iter()
                    .position(|b| *b == b'\n')
                    .map_or(buf.len(), |i| i + 1);
            }
        }
        if self.size == 0 {
            // The file's age counts from its first line, not from when it was opened.
            self.opened_at = Instant::now();
        }
        let file = self.file.as_mut().expect("opened above");
        if let Err(e) = append_whole(file, &buf[..take]) {
            self.file = None; // opened again by the next write
            return Err(e);
        }
        self.size += take as u64;
        Ok(take)
    }

    /// Rotates a file whose first line is `max_age` old and, at most once a minute, deletes
    /// rotated files older than that. Called after every batch and when the writer is idle.
    fn flush(&mut self) -> io::Result<()> {
        if let Some(age) = self.cfg.max_age {
            if self.size > 0 && self.opened_at.elapsed() >= age {
                // A failure here is not the batch's (and is reported): the next write opens the
                // file again and counts what it cannot write.
                let _ = self.rotate();
            }
            if self
                .last_age_check
                .is_none_or(|t| t.elapsed() >= AGE_CHECK_EVERY)
            {
                self.delete_aged();
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_main_log_file_deletes_rotated_files_older_than_max_age() {
        let dir = watchpost_testkit::tools::TempDir::new("logfile-age");
        let mut config = LogFileConfig::new(dir.0.join("svc.log"));
        config.max_file_bytes = 1024;
        config.max_files = 50;
        config.max_age = Some(Duration::from_secs(3600));
        let mut file = LogFile::new(config);
        for seq in 0..100 {
            let line = format!("{{\"seq\":{seq},\"padding\":\"{}\"}}\n", "x".repeat(80));
            file.write_all(line.as_bytes()).unwrap();
        }
        let rotated = |i: usize| dir.0.join(format!("svc.log.{i}"));
        let count = (1..=50).take_while(|i| rotated(*i).exists()).count();
        assert!(count >= 5, "{count} rotated files");
        for i in 3..=count {
            let f = File::options().append(true).open(rotated(i)).unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(7200))
                .unwrap();
        }
        file.last_age_check = None;
        file.flush().unwrap();
        assert!(rotated(1).exists() && rotated(2).exists());
        assert!((3..=count).all(|i| !rotated(i).exists()));
        assert!(dir.0.join("svc.log").exists());
    }

    fn read(p: &Path) -> String {
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn a_gzipped_file_keeps_the_time_of_its_last_line() {
        let dir = watchpost_testkit::tools::TempDir::new("gzip-mtime");
        let src = dir.0.join("svc.log.1");
        std::fs::write(&src, "{\"seq\":1}\n").unwrap();
        let two_hours_ago = SystemTime::now() - Duration::from_secs(7200);
        File::options()
            .append(true)
            .open(&src)
            .unwrap()
            .set_modified(two_hours_ago)
            .unwrap();
        let tmp = gzip_tmp(&dir.0.join("svc.log"), 1);
        gzip(File::open(&src).unwrap(), &tmp).unwrap();
        let gz = std::fs::metadata(&tmp).unwrap();
        assert_eq!(mtime_ms(&gz), ms_of(two_hours_ago));
    }

    #[test]
    fn a_shift_moves_only_the_files_up_to_the_first_missing_index() {
        let dir = watchpost_testkit::tools::TempDir::new("shift-gap");
        let path = dir.0.join("svc.log");
        for (name, text) in [
            ("svc.log", "current"),
            ("svc.log.1", "one"),
            ("svc.log.2", "two"),
        ] {
            std::fs::write(dir.0.join(name), text).unwrap();
        }
        // Beyond a gap at 3: not one of the files a rotation moves.
        std::fs::write(dir.0.join("svc.log.4"), "four").unwrap();
        shift(&path, MAX_FILES_FOR_TESTS, &mut |p, e| {
            panic!("{}: {e}", p.display())
        })
        .unwrap();
        assert!(!path.exists());
        assert_eq!(read(&numbered(&path, 1, "")), "current");
        assert_eq!(read(&numbered(&path, 2, "")), "one");
        assert_eq!(read(&numbered(&path, 3, "")), "two");
        assert_eq!(read(&numbered(&path, 4, "")), "four");
        assert!(!numbered(&path, 5, "").exists());
    }

    const MAX_FILES_FOR_TESTS: usize = 10_000;

    #[test]
    fn a_rotated_file_that_cannot_be_moved_does_not_fail_the_rotation() {
        let dir = watchpost_testkit::tools::TempDir::new("shift-error");
        let path = dir.0.join("svc.log");
        std::fs::write(numbered(&path, 1, ""), "{\"old\":1}\n").unwrap();
        // `x.log.2` is a directory: it can be neither deleted (it is the last one kept) nor
        // replaced by `x.log.1`. The current file still rotates.
        std::fs::create_dir_all(numbered(&path, 2, "")).unwrap();
        std::fs::write(numbered(&path, 2, "").join("keep"), "x").unwrap();
        let mut config = LogFileConfig::new(&path);
        config.max_file_bytes = 1024;
        config.max_files = 2;
        let mut file = LogFile::new(config);
        let line = |seq: u32| format!("{{\"seq\":{seq},\"pad\":\"{}\"}}\n", "x".repeat(100));
        // 8 lines a file: one rotation.
        for seq in 0..12 {
            file.write_all(line(seq).as_bytes())
                .unwrap_or_else(|e| panic!("line {seq}: {e}"));
        }
        let current = read(&path);
        let rotated = read(&numbered(&path, 1, ""));
        let lines: Vec<&str> = rotated.lines().chain(current.lines()).collect();
        assert_eq!(lines.len(), 12, "{lines:?}");
        assert!(lines[0].starts_with("{\"seq\":0,"));
        assert!(file.problems.errors.load(Ordering::Relaxed) > 0, "reported");
    }

    #[test]
    fn a_huge_max_age_keeps_everything_instead_of_wrapping() {
        // 2^64 ms and a little more: its milliseconds truncated to 64 bits would be 384.
        let age = Duration::from_secs(18_446_744_073_709_552);
        assert_eq!(age_cutoff_ms(Some(age)), Some(0));
        assert_eq!(age_cutoff_ms(Some(Duration::MAX)), Some(0));
        let hour = age_cutoff_ms(Some(Duration::from_secs(3600))).unwrap();
        assert!(now_ms() - hour >= 3_600_000);
    }

    #[test]
    fn the_main_log_file_s_age_counts_from_its_first_line() {
        let dir = watchpost_testkit::tools::TempDir::new("logfile-first-line");
        let path = dir.0.join("svc.log");
        let mut config = LogFileConfig::new(&path);
        config.max_age = Some(Duration::from_secs(10));
        let mut file = LogFile::new(config);
        file.write_all(b"{\"seq\":0}\n").unwrap();
        // Rotated for its age, then idle: the new, empty file was opened long ago.
        file.opened_at = Instant::now().checked_sub(Duration::from_secs(20)).unwrap();
        file.flush().unwrap();
        assert!(numbered(&path, 1, "").exists());
        assert_eq!(file.size, 0);
        file.opened_at = Instant::now().checked_sub(Duration::from_secs(20)).unwrap();
        file.write_all(b"{\"seq\":1}\n").unwrap();
        file.flush().unwrap();
        assert!(
            !numbered(&path, 2, "").exists(),
            "rotated after one fresh line"
        );
        assert_eq!(read(&path), "{\"seq\":1}\n");
    }

    #[test]
    fn the_first_open_deletes_what_no_rotation_would_touch_again() {
        let dir = watchpost_testkit::tools::TempDir::new("logfile-sweep");
        let path = dir.0.join("svc.log");
        for name in [
            "svc.log.1",
            "svc.log.2",
            "svc.log.2.gz",
            "svc.log.3.gz",
            "svc.log.7",
            "svc.log.8.gz",
            "svc.log.0.12.gz.tmp",
            "other.log.9",
            "notes.txt",
        ] {
            std::fs::write(dir.0.join(name), "{}\n").unwrap();
        }
        let mut config = LogFileConfig::new(&path);
        config.max_files = 5;
        let mut file = LogFile::new(config);
        file.write_all(b"{\"seq\":0}\n").unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&dir.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "notes.txt",
                "other.log.9",
                "svc.log",
                "svc.log.1",
                "svc.log.2.gz",
                "svc.log.3.gz"
            ]
        );
    }

    #[test]
    fn a_half_line_left_by_a_crash_is_ended_before_the_next_one() {
        let dir = watchpost_testkit::tools::TempDir::new("logfile-half");
        let path = dir.0.join("svc.log");
        std::fs::write(&path, "{\"seq\":0}\n{\"se").unwrap();
        let mut file = LogFile::new(LogFileConfig::new(&path));
        file.write_all(b"{\"seq\":1}\n").unwrap();
        assert_eq!(read(&path), "{\"seq\":0}\n{\"se\n{\"seq\":1}\n");
    }

    #[test]
    fn the_gzip_queue_is_bounded_and_a_full_one_never_waits() {
        let gzip = Compressor::new(2);
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (busy, started) = std::sync::mpsc::channel::<()>();
        gzip.submit(Box::new(move || {
            busy.send(()).unwrap();
            let _ = wait.recv();
        }))
        .unwrap();
        started.recv().unwrap(); // the thread is busy with the first job
        gzip.submit(Box::new(|| {})).unwrap();
        gzip.submit(Box::new(|| {})).unwrap();
        assert!(matches!(gzip.submit(Box::new(|| {})), Err(NotQueued::Full)));
        release.send(()).unwrap();
    }

    #[test]
    fn base_names_recognise_rotated_and_in_progress_files_only() {
        let rotated = |index, gz| Some(Numbered::Rotated { index, gz });
        let name = |n| numbered_name(n).map(|(b, k)| (b, Some(k)));
        assert_eq!(name("svc.log.3"), Some(("svc.log", rotated(3, false))));
        assert_eq!(name("svc.log.12.gz"), Some(("svc.log", rotated(12, true))));
        assert_eq!(
            name("svc.log.0.7.gz.tmp"),
            Some(("svc.log", Some(Numbered::Tmp { generation: 7 })))
        );
        for other in [
            "svc.log",
            "svc.log.0",
            "svc.log.gz",
            ".1",
            "svc.log.x.gz",
            "a.log.0.x.gz.tmp",
            "a.log.1.7.gz.tmp",
        ] {
            assert_eq!(numbered_name(other), None, "{other}");
        }
    }
}
