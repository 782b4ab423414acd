//! The one error type of the crate: [`Error`] with a [`#[non_exhaustive]`](ErrorKind) kind.
//!
//! Messages are short, name the input that was wrong and say what is allowed, so that an operator
//! reading a crash-at-start can fix the deployment without reading the source.

use std::fmt;

/// An error from configuring or starting Watchpost.
///
/// Match on [`Error::kind`] to react to a specific failure; print it with `{}` for the operator.
///
/// ```
/// use watchpost::{Config, ErrorKind};
///
/// let err = Config::builder("demo")
///     .env_vars([("LOG_LEVEL", "verbose")])
///     .build()
///     .unwrap_err();
/// assert!(matches!(err.kind(), ErrorKind::InvalidValue { .. }));
/// assert_eq!(
///     err.to_string(),
///     "invalid value \"verbose\" for LOG_LEVEL: expected one of debug, info, warn, error"
/// );
/// // `{:?}` says the same, so `main() -> Result<(), Box<dyn Error>>` prints the message and
/// // its hint; `{:#?}` shows the structure.
/// assert_eq!(format!("{err:?}"), err.to_string());
/// assert!(format!("{err:#?}").contains("InvalidValue"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    /// The setting (environment variable) the failing input came from, if any.
    setting: Option<&'static str>,
}

/// What went wrong. New kinds may be added in minor releases.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A configuration input (an environment variable or a builder argument) had a value that is
    /// not allowed.
    InvalidValue {
        /// The input's name, e.g. `LOG_LEVEL_INSTANCES` or `Config::subsystem`.
        input: String,
        /// The value that was given (lossily converted to UTF-8).
        value: String,
        /// What is allowed instead, e.g. `one of debug, info, warn, error`.
        allowed: String,
    },
    /// A subsystem name was used that the application did not declare.
    UnknownSubsystem {
        /// The name that was given.
        name: String,
        /// The declared subsystems.
        known: Vec<String>,
    },
    /// [`crate::init`] was called while a global `tracing` subscriber was already installed.
    AlreadyInitialized,
    /// Something that was asked for does not exist (e.g. the logs of an unknown resource).
    NotFound {
        /// What was not found.
        what: String,
    },
    /// [`crate::Telemetry::shutdown`] ran out of time before every signal was exported (e.g. the
    /// collector hangs); what was left is dropped and counted.
    ShutdownTimedOut {
        /// The timeout, in milliseconds.
        timeout_ms: u64,
    },
    /// A listener could not be started.
    Listen {
        /// The address it tried to bind.
        address: String,
        /// Why it failed.
        reason: String,
    },
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self {
            kind,
            setting: None,
        }
    }

    /// Names the setting (environment variable) the failing input came from, for the message.
    pub(crate) fn with_setting(mut self, name: &'static str) -> Self {
        self.setting = Some(name);
        self
    }

    pub(crate) fn invalid(
        input: impl Into<String>,
        value: impl Into<String>,
        allowed: impl Into<String>,
    ) -> Self {
        Self::new(ErrorKind::InvalidValue {
            input: input.into(),
            value: value.into(),
            allowed: allowed.into(),
        })
    }

    /// What went wrong.
    ///
    /// ```
    /// # use watchpost::{Config, ErrorKind};
    /// let err = Config::builder("demo").env_vars([("OTEL_ENABLED", "maybe")]).build().unwrap_err();
    /// if let ErrorKind::InvalidValue { input, .. } = err.kind() {
    ///     assert_eq!(input, "OTEL_ENABLED");
    /// }
    /// ```
    pub fn kind(&self) -> &ErrorKind {
        &self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            ErrorKind::InvalidValue {
                input,
                value,
                allowed,
            } => write!(f, "invalid value {value:?} for {input}: expected {allowed}"),
            ErrorKind::UnknownSubsystem { name, known } => write!(
                f,
                "unknown subsystem {name:?}: declared subsystems are {}",
                known.join(", ")
            ),
            ErrorKind::NotFound { what } => write!(f, "{what} not found"),
            ErrorKind::ShutdownTimedOut { timeout_ms } => write!(
                f,
                "telemetry shutdown timed out after {timeout_ms} ms; unexported data was dropped (is the collector reachable?)"
            ),
            ErrorKind::Listen { address, reason } => {
                write!(f, "cannot listen on {address}")?;
                if let Some(setting) = self.setting {
                    write!(f, " ({setting})")?;
                }
                write!(f, ": {reason}; choose a free address and port")
            }
            ErrorKind::AlreadyInitialized => f.write_str(
                "a global tracing subscriber is already installed: call watchpost::init once per \
                 process and keep the Telemetry handle it returns",
            ),
        }
    }
}

/// The message, as [`Display`](fmt::Display) writes it: `main() -> Result<(), Box<dyn Error>>`
/// prints an error's `Debug`, and an operator reading a crash at start needs the message and its
/// hint, not the structure. The alternate form (`{:#?}`) shows the structure.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.debug_struct("Error")
                .field("kind", &self.kind)
                .field("setting", &self.setting)
                .finish()
        } else {
            fmt::Display::fmt(self, f)
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `main() -> Result<(), Box<dyn std::error::Error>>` prints after `Error: ` is the
    /// message with its hint, for every kind.
    #[test]
    fn debug_reads_like_display() {
        let errors = [
            Error::invalid("LOG_LEVEL", "verbose", "one of debug, info, warn, error"),
            Error::new(ErrorKind::UnknownSubsystem {
                name: "DB".into(),
                known: vec!["API".into(), "APP".into()],
            }),
            Error::new(ErrorKind::AlreadyInitialized),
            Error::new(ErrorKind::NotFound {
                what: "instance web-1".into(),
            }),
            Error::new(ErrorKind::ShutdownTimedOut { timeout_ms: 5000 }),
            Error::new(ErrorKind::Listen {
                address: "127.0.0.1:9464".into(),
                reason: "Address already in use (os error 98)".into(),
            })
            .with_setting("METRICS_LISTEN"),
        ];
        for err in errors {
            let boxed: Box<dyn std::error::Error> = Box::new(err.clone());
            assert_eq!(format!("{boxed:?}"), err.to_string());
            assert!(!format!("{err:?}").contains("kind:"), "{err:?}");
            assert!(format!("{err:#?}").starts_with("Error {"), "{err:#?}");
        }
        let listen = Error::new(ErrorKind::Listen {
            address: "127.0.0.1:9464".into(),
            reason: "Address already in use (os error 98)".into(),
        })
        .with_setting("METRICS_LISTEN");
        assert_eq!(
            format!("{listen:?}"),
            "cannot listen on 127.0.0.1:9464 (METRICS_LISTEN): Address already in use (os error 98); \
             choose a free address and port"
        );
    }
}
