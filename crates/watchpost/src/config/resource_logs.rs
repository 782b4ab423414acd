//! [`ResourceLogConfig`]: where resource log files go, how they are named, rotated, compressed,
//! kept and buffered, and the check of those settings when the pipeline is built. The rotation
//! defaults are shared with the main log file ([`LogFileConfig`](super::LogFileConfig)).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;

/// Default size at which a log file is rotated: 50 MiB.
pub(crate) const DEFAULT_MAX_FILE_BYTES: u64 = 50 * 1024 * 1024;
/// Default number of rotated files kept: 5.
pub(crate) const DEFAULT_MAX_FILES: usize = 5;
/// Default age after which a log file is rotated and a rotated file deleted: 30 days.
pub(crate) const DEFAULT_MAX_AGE: Duration = Duration::from_secs(30 * 24 * 3600);
/// Default disk budget of all resource log files together: 10 GiB.
pub(crate) const DEFAULT_MAX_TOTAL_BYTES: u64 = 10 * 1024 * 1024 * 1024;
/// Smallest `max_file_bytes` (and budget) accepted.
pub(crate) const MIN_FILE_BYTES: u64 = 1024;
/// Most rotated files kept per log file: a rotation renames every one of them.
pub(crate) const MAX_FILES: usize = 10_000;

/// Settings of the per-resource log files. Set them with
/// [`ConfigBuilder::resource_logs`](crate::ConfigBuilder::resource_logs); the environment
/// (`LOG_MAX_FILE_BYTES`, `LOG_MAX_FILES`, `LOG_MAX_AGE`, `LOG_COMPRESS`,
/// `RESOURCE_LOG_MAX_BYTES`) overrides what the code sets.
///
/// Start from [`new`](Self::new) and [`kind`](Self::kind), then change fields on the value
/// (the struct is `#[non_exhaustive]`: fields may be added).
///
/// **Retention.** A file is rotated (`x.log` → `x.log.1` → …) when it reaches
/// [`max_file_bytes`](Self::max_file_bytes) or when its first line is
/// [`max_age`](Self::max_age) old; at most [`max_files`](Self::max_files) rotated files are kept,
/// and a rotated file whose last line is older than `max_age` is deleted. All resources' files
/// together are kept under [`max_total_bytes`](Self::max_total_bytes): when a write would go
/// over it, the oldest rotated files of any resource are deleted first, then the files of the
/// idlest resources (see [`ResourceLogs`](crate::logs::ResourceLogs#retention)). Every deletion
/// is counted (`<svc>_resource_log_evictions_total{reason="age|budget"}`).
///
/// ```
/// use watchpost::logs::ResourceLogConfig;
/// let mut rl = ResourceLogConfig::new("/var/lib/procman/logs")
///     .kind("instance", "instance_id")
///     .kind("volume", "volume_id");
/// assert_eq!(rl.max_file_bytes, 50 * 1024 * 1024);
/// assert_eq!(rl.max_age, Some(std::time::Duration::from_secs(30 * 24 * 3600)));
/// rl.compress = true;
/// rl.max_total_bytes = Some(2 * 1024 * 1024 * 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceLogConfig {
    /// Directory under which every resource file lives. Required.
    pub root: PathBuf,
    /// `(kind, id field)` pairs, e.g. `("instance", "instance_id")`. Default: none.
    pub kinds: Vec<(String, String)>,
    /// Path of a resource's file under the root, with `{kind}`, `{id}` and `{file}` placeholders
    /// (`{file}` is the service name for the fan-out, or the stream name given to
    /// [`ResourceLogs::append`](crate::logs::ResourceLogs::append)). Default: `{kind}/{id}/{file}.log`.
    pub layout: String,
    /// Size at which a file is rotated, at least 1024. Default: 50 MiB. Env: `LOG_MAX_FILE_BYTES`.
    pub max_file_bytes: u64,
    /// Rotated files kept per file (`x.log.1` … `x.log.N`), 1 to 10 000 (each rotation renames
    /// every one of them). Default: 5. Env: `LOG_MAX_FILES`.
    pub max_files: usize,
    /// A non-empty file is rotated once its first line is this old, whatever its size, and a
    /// rotated file whose last line is older is deleted (checked every minute and by
    /// [`ResourceLogs::enforce_retention`](crate::logs::ResourceLogs::enforce_retention));
    /// `None` keeps files whatever their age. Default: 30 days. Env: `LOG_MAX_AGE`.
    pub max_age: Option<Duration>,
    /// Gzip rotated files in the background (`x.log.1.gz`); reading and following read them.
    /// Default: `false`. Env: `LOG_COMPRESS`.
    pub compress: bool,
    /// Disk budget of every resource file under the root together (current, rotated and
    /// compressed files, also those of resources not registered in this process), at least
    /// 1024 and at least `max_file_bytes`; `None` for no budget. Default: 10 GiB. Env:
    /// `RESOURCE_LOG_MAX_BYTES`.
    pub max_total_bytes: Option<u64>,
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
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_files: DEFAULT_MAX_FILES,
            max_age: Some(DEFAULT_MAX_AGE),
            compress: false,
            max_total_bytes: Some(DEFAULT_MAX_TOTAL_BYTES),
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
        if self.max_file_bytes < MIN_FILE_BYTES
            || !(1..=MAX_FILES).contains(&self.max_files)
            || self.max_open_files == 0
        {
            return Err(Error::invalid(
                "ResourceLogConfig limits",
                format!(
                    "max_file_bytes={} max_files={} max_open_files={}",
                    self.max_file_bytes, self.max_files, self.max_open_files
                ),
                "max_file_bytes >= 1024, max_files from 1 to 10000, max_open_files >= 1",
            ));
        }
        if let Some(total) = self.max_total_bytes.filter(|t| *t < MIN_FILE_BYTES) {
            return Err(Error::invalid(
                "ResourceLogConfig::max_total_bytes",
                total.to_string(),
                "at least 1024 bytes, or None for no budget",
            ));
        }
        if let Some(total) = self.max_total_bytes.filter(|t| *t < self.max_file_bytes) {
            return Err(Error::invalid(
                "ResourceLogConfig::max_total_bytes (`RESOURCE_LOG_MAX_BYTES`)",
                total.to_string(),
                format!(
                    "at least max_file_bytes ({} bytes, `LOG_MAX_FILE_BYTES`): the budget must hold one whole file; or None for no budget",
                    self.max_file_bytes
                ),
            ));
        }
        check_max_age("ResourceLogConfig::max_age", self.max_age)
    }
}

/// A `max_age` must be at least a second (a zero age would delete every rotated file at once).
pub(crate) fn check_max_age(input: &str, max_age: Option<Duration>) -> Result<(), Error> {
    match max_age {
        Some(age) if age < Duration::from_secs(1) => Err(Error::invalid(
            input,
            format!("{} ms", age.as_millis()),
            "at least 1 second, or None to keep files whatever their age",
        )),
        _ => Ok(()),
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
    if b.is_empty() || b.len() > 128 || !b[0].is_ascii_alphanumeric() {
        return false;
    }
    // One pass (it runs for every line routed to a resource): allowed bytes, no "..".
    let mut prev = 0u8;
    b.iter().all(|&c| {
        let ok = (c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
            && !(c == b'.' && prev == b'.');
        prev = c;
        ok
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_that_rotation_cannot_honour_are_rejected_with_what_is_allowed() {
        let ok = ResourceLogConfig::new("logs").kind("instance", "instance_id");
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.max_files = MAX_FILES;
        assert!(c.validate().is_ok());
        c.max_files = MAX_FILES + 1;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("max_files from 1 to 10000"), "{err}");
        c.max_files = usize::MAX;
        assert!(c.validate().is_err());

        let mut c = ok.clone();
        c.max_file_bytes = 1 << 20;
        c.max_total_bytes = Some(512 * 1024);
        let err = c.validate().unwrap_err().to_string();
        assert!(
            err.contains("at least max_file_bytes (1048576 bytes"),
            "{err}"
        );
        c.max_total_bytes = Some(1 << 20);
        assert!(c.validate().is_ok());
    }
}
