//! The metric rules. (Stub: being written.)

use crate::config::Config;
use crate::report::Report;

/// `watchpost lint SOURCE`: reads the exposition (and catalogue) and lints it.
pub async fn run(
    _source: &str,
    _catalogue: Option<&str>,
    _include_third_party: bool,
    config: Config,
) -> crate::Result<Report> {
    Ok(Report::new(config))
}
