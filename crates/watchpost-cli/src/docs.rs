//! `watchpost docs`. (Stub: being written.)

use std::path::Path;

/// Which table `watchpost docs` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Table {
    /// The metric catalogue.
    Metrics,
    /// The library's configuration (environment variables).
    Config,
    /// The rules of `lint` and `check`.
    Rules,
}

impl Table {
    /// The default section name.
    pub fn section(self) -> &'static str {
        match self {
            Table::Metrics => "metrics",
            Table::Config => "config",
            Table::Rules => "rules",
        }
    }
}

/// The table's Markdown.
pub async fn table(_table: Table, _catalogue: Option<&str>) -> crate::Result<String> {
    Ok(String::new())
}

/// Whether `path`'s section equals `text`.
pub fn check_section(_path: &Path, _section: &str, _text: &str) -> crate::Result<bool> {
    Ok(true)
}

/// Writes `text` into `path`'s section.
pub fn write_section(_path: &Path, _section: &str, _text: &str) -> crate::Result<()> {
    Ok(())
}
