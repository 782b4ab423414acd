//! [`LogOutput`]: where the main log goes — stdout, or a file of its own ([`LogFileConfig`]) with
//! the same rotation, compression and retention as the per-resource files — and the overrides
//! of rotation and retention that the environment lays over both.

use std::path::PathBuf;
use std::time::Duration;

use super::resource_logs::{
    check_max_age, DEFAULT_MAX_AGE, DEFAULT_MAX_FILES, DEFAULT_MAX_FILE_BYTES, MAX_FILES,
    MIN_FILE_BYTES,
};
use super::ResourceLogConfig;
use crate::error::Error;

/// Where the main log (every JSON line) is written. Set it with
/// [`ConfigBuilder::log_output`](crate::ConfigBuilder::log_output). Default: [`Stdout`](Self::Stdout).
/// Env: `LOG_OUTPUT=stdout|file:PATH`.
///
/// Either way the lines are written by one background thread
/// ([`NonBlocking`](crate::logs::NonBlocking)), so logging never waits for the disk or a pipe.
///
/// ```
/// use watchpost::config::LogOutput;
/// let path = std::env::temp_dir().join("svc.log"); // e.g. /var/log/svc/svc.log
/// let output = format!("file:{}", path.display());
/// let config = watchpost::Config::builder("svc")
///     .env_vars([("LOG_OUTPUT", output.as_str()), ("LOG_MAX_FILES", "10")])
///     .build()
///     .unwrap();
/// let LogOutput::File(file) = config.log_output() else { panic!("a file") };
/// assert_eq!((&file.path, file.max_files), (&path, 10));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogOutput {
    /// The process's stdout, for a supervisor (systemd, a container runtime) that collects and
    /// rotates it.
    #[default]
    Stdout,
    /// A file of the service's own, rotated, compressed and kept as its settings say.
    File(LogFileConfig),
}

impl LogOutput {
    /// A file at `path` with the default rotation ([`LogFileConfig::new`]).
    ///
    /// ```
    /// let out = watchpost::config::LogOutput::file("svc.log");
    /// assert!(matches!(out, watchpost::config::LogOutput::File(_)));
    /// ```
    pub fn file(path: impl Into<PathBuf>) -> Self {
        LogOutput::File(LogFileConfig::new(path))
    }
}

/// The main log file and its rotation: renamed `x.log` → `x.log.1` → … between whole lines when
/// it reaches [`max_file_bytes`](Self::max_file_bytes) or its first line is
/// [`max_age`](Self::max_age) old, at most [`max_files`](Self::max_files) rotated files kept,
/// gzipped in the background if [`compress`](Self::compress), and rotated files whose last line
/// is older than `max_age` deleted. The defaults and environment variables are those of the
/// per-resource files.
///
/// ```
/// let mut f = watchpost::config::LogFileConfig::new("/var/log/svc/svc.log");
/// assert_eq!((f.max_file_bytes, f.max_files), (50 * 1024 * 1024, 5));
/// f.compress = true;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogFileConfig {
    /// The file; its directory must exist. Required.
    pub path: PathBuf,
    /// Size at which the file is rotated, at least 1024. Default: 50 MiB. Env:
    /// `LOG_MAX_FILE_BYTES`.
    pub max_file_bytes: u64,
    /// Rotated files kept, 1 to 10 000 (each rotation renames every one of them). Default: 5.
    /// Env: `LOG_MAX_FILES`.
    pub max_files: usize,
    /// Rotate once the first line is this old; delete rotated files whose last line is older
    /// (checked after writes and at least every minute); `None` keeps them whatever their age.
    /// Default: 30 days. Env: `LOG_MAX_AGE`.
    pub max_age: Option<Duration>,
    /// Gzip rotated files in the background (`x.log.1.gz`). Default: `false`. Env:
    /// `LOG_COMPRESS`.
    pub compress: bool,
}

impl LogFileConfig {
    /// The defaults, writing to `path`.
    ///
    /// ```
    /// let f = watchpost::config::LogFileConfig::new("svc.log");
    /// assert!(!f.compress);
    /// ```
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
            max_files: DEFAULT_MAX_FILES,
            max_age: Some(DEFAULT_MAX_AGE),
            compress: false,
        }
    }

    /// Checks the settings; `input` names where they came from.
    pub(crate) fn validate(&self, input: &str) -> Result<(), Error> {
        if self.path.as_os_str().is_empty() {
            return Err(Error::invalid(input, "", "a file path"));
        }
        if self.max_file_bytes < MIN_FILE_BYTES || !(1..=MAX_FILES).contains(&self.max_files) {
            return Err(Error::invalid(
                format!("{input} limits"),
                format!(
                    "max_file_bytes={} max_files={}",
                    self.max_file_bytes, self.max_files
                ),
                "max_file_bytes >= 1024, max_files from 1 to 10000",
            ));
        }
        if self.path.is_dir() {
            return Err(Error::invalid(
                input,
                self.path.display().to_string(),
                "a file path, not a directory",
            ));
        }
        check_max_age(&format!("{input} max_age"), self.max_age)?;
        // The directory must exist and be writable: a missing one is a deployment error best
        // reported at start, not as lines lost later.
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let writable = std::ffi::CString::new(dir.as_os_str().as_encoded_bytes())
            .ok()
            // SAFETY: a NUL-terminated path; access() only reads it.
            .is_some_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0);
        if !dir.is_dir() || !writable {
            return Err(Error::invalid(
                input,
                self.path.display().to_string(),
                "a file in an existing directory the service can write to",
            ));
        }
        Ok(())
    }
}

/// Rotation and retention settings given by the environment, laid over the resource files and
/// the main log file once every variable is read (`None`: not given).
#[derive(Debug, Clone, Default)]
pub(crate) struct RetentionOverrides {
    pub(crate) max_file_bytes: Option<u64>,
    pub(crate) max_files: Option<usize>,
    pub(crate) max_age: Option<Option<Duration>>,
    pub(crate) compress: Option<bool>,
    pub(crate) max_total_bytes: Option<Option<u64>>,
}

impl RetentionOverrides {
    /// Applies the overrides to the resource files' settings.
    pub(crate) fn apply_to_resources(&self, rl: &mut ResourceLogConfig) {
        self.apply(
            &mut rl.max_file_bytes,
            &mut rl.max_files,
            &mut rl.max_age,
            &mut rl.compress,
        );
        put(&mut rl.max_total_bytes, self.max_total_bytes);
    }

    /// Applies the overrides to the main log file's settings.
    pub(crate) fn apply_to_file(&self, f: &mut LogFileConfig) {
        self.apply(
            &mut f.max_file_bytes,
            &mut f.max_files,
            &mut f.max_age,
            &mut f.compress,
        );
    }

    /// The settings both kinds of log file share.
    fn apply(
        &self,
        max_file_bytes: &mut u64,
        max_files: &mut usize,
        max_age: &mut Option<Duration>,
        compress: &mut bool,
    ) {
        put(max_file_bytes, self.max_file_bytes);
        put(max_files, self.max_files);
        put(max_age, self.max_age);
        put(compress, self.compress);
    }
}

/// Overwrites `dst` with `v` if an override was given.
fn put<T>(dst: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *dst = v;
    }
}

/// A size in bytes, at least 1024: a whole number, or one with `KiB`, `MiB`, `GiB` or `TiB`
/// (powers of 1024, case-insensitive, an optional space before the unit).
pub(super) fn parse_bytes(input: &str, value: &str) -> Result<u64, Error> {
    let v = value.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let scale: Option<u64> = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => Some(1),
        "kib" => Some(1 << 10),
        "mib" => Some(1 << 20),
        "gib" => Some(1 << 30),
        "tib" => Some(1 << 40),
        _ => None,
    };
    number
        .parse::<u64>()
        .ok()
        .zip(scale)
        .and_then(|(n, scale)| n.checked_mul(scale))
        .filter(|n| *n >= 1024)
        .ok_or_else(|| {
            let allowed = "a size of at least 1024 bytes such as 1048576, 512KiB, 50MiB or 10GiB";
            Error::invalid(input, value, allowed)
        })
}

/// A maximum age: a whole number of seconds (`s`), minutes (`m`), hours (`h`) or days (`d`),
/// from 1 second to 3650 days, or `off` (`None`: no age limit).
pub(super) fn parse_age(input: &str, value: &str) -> Result<Option<std::time::Duration>, Error> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let scale: Option<u64> = match unit.trim() {
        "s" => Some(1),
        "m" => Some(60),
        "h" => Some(3600),
        "d" => Some(86_400),
        _ => None,
    };
    number
        .parse::<u64>()
        .ok()
        .zip(scale)
        .and_then(|(n, scale)| n.checked_mul(scale))
        .filter(|secs| (1..=3650 * 86_400).contains(secs))
        .map(|secs| Some(std::time::Duration::from_secs(secs)))
        .ok_or_else(|| {
            let allowed = "a duration such as 30d, 12h, 90m or 45s (1s to 3650d), or off";
            Error::invalid(input, value, allowed)
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, ENV_VARS};

    #[test]
    fn log_rotation_and_retention_come_from_the_environment_for_both_kinds_of_file() {
        let dir = std::env::temp_dir();
        let output = format!("file:{}", dir.join("svc.log").display());
        let c = Config::builder("procman")
            .resource_logs(ResourceLogConfig::new(&dir).kind("instance", "instance_id"))
            .env_vars([
                ("LOG_OUTPUT", output.as_str()),
                ("LOG_MAX_FILE_BYTES", "2 MiB"),
                ("LOG_MAX_FILES", "9"),
                ("LOG_MAX_AGE", "12h"),
                ("LOG_COMPRESS", "true"),
                ("RESOURCE_LOG_MAX_BYTES", "off"),
            ])
            .build()
            .unwrap();
        let rl = c.resource_logs.as_ref().unwrap();
        let LogOutput::File(file) = c.log_output() else {
            panic!("{:?}", c.log_output())
        };
        let hours = |h: u64| Some(std::time::Duration::from_secs(h * 3600));
        assert_eq!(file.path, dir.join("svc.log"));
        for (bytes, files, age, compress) in [
            (rl.max_file_bytes, rl.max_files, rl.max_age, rl.compress),
            (
                file.max_file_bytes,
                file.max_files,
                file.max_age,
                file.compress,
            ),
        ] {
            assert_eq!((bytes, files, age, compress), (2 << 20, 9, hours(12), true));
        }
        assert_eq!(rl.max_total_bytes, None);
        let c = Config::builder("svc")
            .env_vars([("LOG_MAX_AGE", "off"), ("RESOURCE_LOG_MAX_BYTES", "512KiB")])
            .build()
            .unwrap();
        assert_eq!(*c.log_output(), LogOutput::Stdout);

        // The documented defaults are the code's.
        let documented = |name: &str| ENV_VARS.iter().find(|(n, _, _)| *n == name).unwrap().1;
        let rl = ResourceLogConfig::new("logs");
        let size = |name| parse_bytes(name, documented(name)).unwrap();
        assert_eq!(size("LOG_MAX_FILE_BYTES"), rl.max_file_bytes);
        assert_eq!(Some(size("RESOURCE_LOG_MAX_BYTES")), rl.max_total_bytes);
        assert_eq!(documented("LOG_MAX_FILES"), rl.max_files.to_string());
        assert_eq!(
            parse_age("LOG_MAX_AGE", documented("LOG_MAX_AGE")).unwrap(),
            rl.max_age
        );
        assert_eq!(documented("LOG_COMPRESS"), rl.compress.to_string());
        assert_eq!(documented("LOG_OUTPUT"), "stdout");
    }

    #[test]
    fn bad_log_rotation_values_name_the_variable_and_what_is_allowed() {
        for (var, value, allowed) in [
            ("LOG_OUTPUT", "syslog", "stdout, or file:PATH"),
            ("LOG_OUTPUT", "file:", "stdout, or file:PATH"),
            (
                "LOG_OUTPUT",
                "file:/no/such/dir/svc.log",
                "an existing directory",
            ),
            ("LOG_OUTPUT", "file:/", "not a directory"),
            ("LOG_MAX_FILE_BYTES", "10", "at least 1024 bytes"),
            ("LOG_MAX_FILE_BYTES", "5 MB", "50MiB"),
            ("LOG_MAX_FILES", "0", "1 to 10000"),
            ("LOG_MAX_AGE", "30", "30d, 12h, 90m or 45s"),
            ("LOG_MAX_AGE", "0s", "1s to 3650d"),
            ("LOG_COMPRESS", "gzip", "true, false"),
            ("RESOURCE_LOG_MAX_BYTES", "unlimited", "or off"),
        ] {
            let err = Config::builder("svc")
                .env_vars([(var, value)])
                .build()
                .unwrap_err()
                .to_string();
            assert!(err.contains(var), "{err}");
            assert!(err.contains(allowed), "{err}");
        }
    }

    #[test]
    fn a_log_file_with_more_rotated_files_than_rotation_can_shift_is_rejected() {
        let mut f = LogFileConfig::new(std::env::temp_dir().join("svc.log"));
        f.max_files = MAX_FILES;
        assert!(f.validate("ConfigBuilder::log_output").is_ok());
        f.max_files = MAX_FILES + 1;
        let err = f
            .validate("ConfigBuilder::log_output")
            .unwrap_err()
            .to_string();
        assert!(err.contains("max_files from 1 to 10000"), "{err}");
        let dir = LogFileConfig::new(std::env::temp_dir());
        let err = dir.validate("LOG_OUTPUT").unwrap_err().to_string();
        assert!(err.contains("not a directory"), "{err}");
    }
}
