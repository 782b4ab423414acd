//! `watchpost docs`: the metric catalogue, the library's configuration and the rules as Markdown
//! tables, written into (or checked against) a document's generated sections.
//!
//! A generated section sits between `<!-- catalogue:NAME -->` and `<!-- /catalogue:NAME -->`,
//! the markers the library's [`watchpost::catalogue::fill_markdown_section`] uses.

use std::path::Path;

use crate::catalogue::Catalogue;
use crate::error::{Error, Result};

/// Which table `watchpost docs` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Table {
    /// The metric catalogue (from `--catalogue`).
    Metrics,
    /// The library's configuration (environment variables), from the code.
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
pub async fn table(table: Table, catalogue: Option<&str>) -> Result<String> {
    match table {
        Table::Metrics => {
            let spec = catalogue.ok_or_else(|| {
                Error::new("the metrics table needs a catalogue")
                    .hint("give --catalogue FILE|URL (the JSON of GET /metrics/catalogue)")
            })?;
            Ok(metrics_table(&crate::catalogue::load(spec).await?))
        }
        Table::Config => Ok(config_table()),
        Table::Rules => Ok(crate::rules::markdown_table()),
    }
}

/// The catalogue as a Markdown table, one row per metric, in the library's layout
/// ([`watchpost::catalogue::Catalogue::markdown_table`]) with the service's real names.
pub fn metrics_table(catalogue: &Catalogue) -> String {
    let mut out =
        String::from("| Metric | Type | Unit | Labels | Description |\n|---|---|---|---|---|\n");
    for m in catalogue.metrics.iter() {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            m.name,
            m.kind,
            m.unit,
            m.labels
                .iter()
                .map(|l| l.name.as_str())
                .collect::<Vec<_>>()
                .join(","),
            m.help
        ));
    }
    out
}

/// The library's environment variables (`watchpost::config::ENV_VARS`) as a Markdown table.
///
/// ```
/// let t = watchpost_cli::docs::config_table();
/// assert!(t.starts_with("| Variable | Default | Meaning |\n|---|---|---|\n| `"));
/// assert!(t.contains("| `OTEL_ENABLED` | `false` |"));
/// ```
pub fn config_table() -> String {
    let mut out = String::from("| Variable | Default | Meaning |\n|---|---|---|\n");
    for (name, default, meaning) in watchpost::config::ENV_VARS {
        // Values are code; a default described in words ("the hostname") is not.
        let default = if default.starts_with('`') || default.contains(' ') {
            default.to_string()
        } else {
            format!("`{default}`")
        };
        out.push_str(&format!("| `{name}` | {default} | {meaning} |\n"));
    }
    out
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::new(format!("cannot read '{}': {e}", path.display())))
}

fn fill(doc: &str, path: &Path, section: &str, text: &str) -> Result<String> {
    watchpost::catalogue::fill_markdown_section(doc, section, text).ok_or_else(|| {
        Error::new(format!("'{}' has no section '{section}'", path.display())).hint(format!(
            "mark it with <!-- catalogue:{section} --> and <!-- /catalogue:{section} --> on lines of their own"
        ))
    })
}

/// Whether the section `section` of the file at `path` holds exactly `text`.
pub fn check_section(path: &Path, section: &str, text: &str) -> Result<bool> {
    let doc = read(path)?;
    Ok(fill(&doc, path, section, text)? == doc)
}

/// Writes `text` into the section `section` of the file at `path` (the rest is kept).
pub fn write_section(path: &Path, section: &str, text: &str) -> Result<()> {
    let doc = read(path)?;
    let new = fill(&doc, path, section, text)?;
    if new != doc {
        std::fs::write(path, new)
            .map_err(|e| Error::new(format!("cannot write '{}': {e}", path.display())))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_is_checked_written_and_refused_when_missing() {
        let dir = std::env::temp_dir().join(format!("watchpost-docs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("README.md");
        std::fs::write(
            &path,
            "a\n<!-- catalogue:rules -->\nold\n<!-- /catalogue:rules -->\nb\n",
        )
        .unwrap();
        assert!(!check_section(&path, "rules", "new\n").unwrap());
        write_section(&path, "rules", "new\n").unwrap();
        assert!(check_section(&path, "rules", "new\n").unwrap());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "a\n<!-- catalogue:rules -->\nnew\n<!-- /catalogue:rules -->\nb\n"
        );
        let e = check_section(&path, "metrics", "x").unwrap_err();
        assert!(e.to_string().contains("has no section 'metrics'"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
