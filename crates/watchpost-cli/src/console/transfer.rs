//! `watchpost console export` and `watchpost console import`: the HTTP API's export and import
//! ([`super::export`]) from the command line, against a running console.
//!
//! ```no_run
//! # async fn demo() -> watchpost_cli::Result<()> {
//! use watchpost_cli::console::transfer::{run, Action, ExportArgs, Signal};
//! run(&Action::Export(ExportArgs {
//!     url: "http://127.0.0.1:18888".into(),
//!     from: Some("2026-11-30T10:00:00Z".into()),
//!     to: None,
//!     signal: Signal::All,
//!     out: Some("last-hour.json".into()),
//! }))
//! .await?;
//! # Ok(())
//! # }
//! ```

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::time::Duration;

use super::export::{parse_time, Document, MAX_IMPORT_BYTES};
use crate::error::Error;

/// How long one request to the console may take.
const TIMEOUT: Duration = Duration::from_secs(120);

/// `watchpost console`'s subcommands.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Action {
    /// Write a time range of a running console's telemetry as OTLP/JSON (GET /api/export).
    Export(ExportArgs),
    /// Store an export file in a running console (POST /api/import).
    Import(ImportArgs),
}

/// Which signals to export.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Log records.
    Logs,
    /// Metric points.
    Metrics,
    /// All three.
    All,
}

/// `watchpost console export`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ExportArgs {
    /// The console's pages and API.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:18888")]
    pub url: String,
    /// The range's start (inclusive): RFC 3339 or Unix milliseconds. Default: the oldest held.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// The range's end (exclusive): RFC 3339 or Unix milliseconds. Default: the newest held.
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// Which signals.
    #[arg(long, value_enum, default_value = "all")]
    pub signal: Signal,
    /// Write here instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `watchpost console import`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ImportArgs {
    /// An export document (as `watchpost console export` writes), or - for standard input.
    pub file: String,
    /// The console's pages and API.
    #[arg(long, value_name = "URL", default_value = "http://127.0.0.1:18888")]
    pub url: String,
}

fn base(url: &str) -> crate::Result<String> {
    let host = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"));
    if host.is_none_or(str::is_empty) {
        return Err(Error::new(format!("--url '{url}': not an HTTP URL"))
            .hint("give the console's address as its start-up line says, e.g. --url http://127.0.0.1:18888"));
    }
    Ok(url.trim_end_matches('/').to_owned())
}

fn client() -> crate::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| Error::new(format!("cannot build an HTTP client: {e}")))
}

/// The console's answer: its body when 2xx, else an error with its message.
async fn answer(what: &str, resp: reqwest::Response) -> crate::Result<Vec<u8>> {
    let status = resp.status();
    let body = resp
        .bytes()
        .await
        .map_err(|e| Error::new(format!("{what}: the answer cannot be read: {e}")))?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    let message = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["error"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_owned());
    Err(Error::new(format!("{what}: HTTP {status}: {message}")))
}

fn unreachable(url: &str, e: &reqwest::Error) -> Error {
    Error::new(format!("cannot reach the console at '{url}': {e}"))
        .hint("is `watchpost console` running, and is this its --ui address?")
}

/// Percent-encodes a query value (everything but unreserved characters).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs a subcommand.
pub async fn run(action: &Action) -> crate::Result<()> {
    match action {
        Action::Export(a) => export(a).await,
        Action::Import(a) => import(a).await,
    }
}

async fn export(a: &ExportArgs) -> crate::Result<()> {
    let url = base(&a.url)?;
    let mut query: Vec<(&str, String)> = Vec::new();
    for (flag, key, v) in [("--from", "from", &a.from), ("--to", "to", &a.to)] {
        if let Some(v) = v {
            parse_time(key, v).map_err(|e| Error::new(format!("{flag}: {}", e.message)))?;
            query.push((key, v.clone()));
        }
    }
    let signal = match a.signal {
        Signal::Traces => "traces",
        Signal::Logs => "logs",
        Signal::Metrics => "metrics",
        Signal::All => "all",
    };
    query.push(("signal", signal.to_owned()));
    let query: Vec<String> = query
        .iter()
        .map(|(k, v)| format!("{k}={}", encode(v)))
        .collect();
    let endpoint = format!("{url}/api/export?{}", query.join("&"));
    let resp = client()?
        .get(&endpoint)
        .send()
        .await
        .map_err(|e| unreachable(&url, &e))?;
    let body = answer(&endpoint, resp).await?;
    match &a.out {
        Some(path) => std::fs::write(path, &body).map_err(|e| {
            Error::new(format!("--out {}: cannot write: {e}", path.display()))
                .hint("give a file in a directory this user can write")
        }),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&body)
                .and_then(|()| out.write_all(b"\n"))
                .and_then(|()| out.flush())
                .map_err(|e| Error::new(format!("cannot write to standard output: {e}")))
        }
    }
}

async fn import(a: &ImportArgs) -> crate::Result<()> {
    let url = base(&a.url)?;
    let limit = MAX_IMPORT_BYTES as u64;
    let too_big = || {
        Error::new(format!(
            "{}: larger than an import may be ({} MiB)",
            a.file,
            MAX_IMPORT_BYTES >> 20
        ))
        .hint("export a shorter range (--from, --to) or one signal at a time (--signal)")
    };
    let mut body = Vec::new();
    let read = if a.file == "-" {
        std::io::stdin().take(limit + 1).read_to_end(&mut body)
    } else {
        std::fs::File::open(&a.file).and_then(|f| f.take(limit + 1).read_to_end(&mut body))
    };
    read.map_err(|e| {
        Error::new(format!("{}: cannot read: {e}", a.file))
            .hint("give an export file (as `watchpost console export --out FILE` writes) or - for standard input")
    })?;
    if body.len() as u64 > limit {
        return Err(too_big());
    }
    serde_json::from_slice::<Document>(&body).map_err(|e| {
        Error::new(format!("{}: not an export document: {e}", a.file)).hint(
            "give a JSON object with any of traces, logs, metrics (each an OTLP/JSON export request), as `watchpost console export` writes",
        )
    })?;
    let endpoint = format!("{url}/api/import");
    let resp = client()?
        .post(&endpoint)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .map_err(|e| unreachable(&url, &e))?;
    let answer = answer(&endpoint, resp).await?;
    let v: serde_json::Value = serde_json::from_slice(&answer).unwrap_or_default();
    let n = |k: &str| v["imported"][k].as_u64().unwrap_or(0);
    eprintln!(
        "watchpost: imported {} spans, {} log records and {} metric points into {url}",
        n("spans"),
        n("logs"),
        n("metric_points")
    );
    Ok(())
}
