//! The command's errors: what went wrong, naming the input, and a hint.

use std::fmt;

/// An error of the `watchpost` command: a short message that names the input, and a hint.
///
/// ```
/// let e = watchpost_cli::Error::new("cannot read 'x.prom': No such file").hint("give a file, a URL or -");
/// assert_eq!(e.to_string(), "cannot read 'x.prom': No such file\nhint: give a file, a URL or -");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    message: String,
    hint: Option<String>,
}

impl Error {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Error {
        Error {
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint: what to do about it.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Error {
        self.hint = Some(hint.into());
        self
    }

    /// The message without the hint.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(h) = &self.hint {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// The command's result type.
pub type Result<T> = std::result::Result<T, Error>;
