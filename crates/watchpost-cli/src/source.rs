//! Where an input comes from: a URL (`http://…`), a file, or `-` (standard input).

use std::io::Read as _;
use std::time::Duration;

use crate::error::{Error, Result};

/// The `Accept` header of a scrape: OpenMetrics first, then the text format (what Prometheus sends).
pub const SCRAPE_ACCEPT: &str =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

/// How long one HTTP read may take.
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `spec` names a URL.
pub fn is_url(spec: &str) -> bool {
    spec.starts_with("http://") || spec.starts_with("https://")
}

/// Reads the whole input `spec` names: a URL (GET, with `accept`), a file, or `-` for stdin.
pub async fn read(spec: &str, accept: &str) -> Result<String> {
    if is_url(spec) {
        let client = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .build()
            .map_err(|e| Error::new(format!("cannot build an HTTP client: {e}")))?;
        let resp = client
            .get(spec)
            .header("accept", accept)
            .send()
            .await
            .map_err(|e| {
                Error::new(format!("cannot read '{spec}': {e}"))
                    .hint("is the service running, and is this its address?")
            })?;
        let status = resp.status();
        if !status.is_success() {
            return Err(Error::new(format!("cannot read '{spec}': HTTP {status}")));
        }
        return resp
            .text()
            .await
            .map_err(|e| Error::new(format!("cannot read '{spec}': {e}")));
    }
    if spec == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::new(format!("cannot read standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(spec).map_err(|e| {
        Error::new(format!("cannot read '{spec}': {e}"))
            .hint("give a URL (http://…), a file, or - for standard input")
    })
}
