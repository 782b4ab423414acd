//! [`ResourceLogConfig`]: where resource log files go, how they are named, rotated and
//! buffered, and the check of those settings when the pipeline is built.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Error;

/// Settings of the per-resource log files. Set them with
/// [`ConfigBuilder::resource_logs`](crate::ConfigBuilder::resource_logs).
///
/// Start from [`new`](Self::new) and [`kind`](Self::kind), then change fields on the value
/// (the struct is `#[non_exhaustive]`: fields may be added).
///
/// ```
/// use watchpost::logs::ResourceLogConfig;
/// let mut rl = ResourceLogConfig::new("/var/lib/procman/logs")
///     .kind("instance", "instance_id")
///     .kind("volume", "volume_id");
/// assert_eq!(rl.max_file_bytes, 50 * 1024 * 1024);
/// rl.compress = true;
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
