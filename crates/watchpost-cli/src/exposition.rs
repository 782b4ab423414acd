//! A reader for Prometheus text format 0.0.4 and OpenMetrics 1.0. (Stub: being written.)

/// The format of an exposition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text 0.0.4.
    Text,
    /// OpenMetrics 1.0 (ends in `# EOF`).
    OpenMetrics,
}

/// A parsed exposition.
#[derive(Debug, Clone)]
pub struct Exposition {
    /// Its format.
    pub format: Format,
}

/// Parses an exposition.
pub fn parse(_text: &str) -> Exposition {
    Exposition {
        format: Format::Text,
    }
}
