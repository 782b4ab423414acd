//! Export and import of a time range as OTLP/JSON: `GET /api/export` and `POST /api/import`.
//!
//! The document is one JSON object with up to three members, each an OTLP export request in the
//! specification's JSON mapping (what an OpenTelemetry Collector's OTLP/HTTP receiver takes on
//! `/v1/traces`, `/v1/logs` and `/v1/metrics`):
//!
//! ```json
//! { "traces":  { "resourceSpans":   [ … ] },
//!   "logs":    { "resourceLogs":    [ … ] },
//!   "metrics": { "resourceMetrics": [ … ] } }
//! ```
//!
//! An item is in the range `[from, to)` by its time: a span's start, a log record's time, a
//! metric point's time. What is exported is what the store holds (the newest within the budget),
//! as the store keeps it: arrays and maps of attribute values as their JSON text, a log body as
//! text, exponential histograms and summaries as their count and sum. Importing the document
//! into a console (the same or another) stores the same items; they are stored and written to
//! `--data` (if given) as OTLP received is, but not checked by the live findings (they were
//! checked, if at all, where they were first received). The import body is at most
//! [`MAX_IMPORT_BYTES`], `Content-Type: application/json`, sent by a program or the console's
//! own pages (another site's page is refused, see the console's guard); an export larger than
//! an import may be is refused (413) rather than written. One export or import runs at a time
//! ([`Transfers`]); another meanwhile is answered 503.
//!
//! ```
//! use watchpost_cli::console::export::parse_time;
//! assert_eq!(parse_time("from", "1000").unwrap(), 1_000_000_000);
//! assert_eq!(parse_time("to", "1970-01-01T00:00:01Z").unwrap(), 1_000_000_000);
//! assert_eq!(parse_time("from", "yesterday").unwrap_err().parameter, "from");
//! ```

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest as _, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use serde_json::json;

mod convert;
pub use convert::{document, Builder, CHUNK};

use super::api::{BadParam, Console, Params};
use super::store::PerSignal;
use crate::otlp::Batch;

/// The largest import body: 64 MiB (`POST /api/import` answers 413 beyond it, and
/// `GET /api/export` refuses to write a larger document).
pub const MAX_IMPORT_BYTES: usize = 64 << 20;

/// One export or import at a time: each takes memory outside the budget (a copy of the range,
/// then its JSON) and holds the store's lock while it copies or stores.
///
/// ```
/// use watchpost_cli::console::export::Transfers;
/// let t = Transfers::default();
/// let first = t.try_begin();
/// assert!(first.is_some() && t.try_begin().is_none());
/// drop(first);
/// assert!(t.try_begin().is_some());
/// ```
#[derive(Debug)]
pub struct Transfers(Arc<tokio::sync::Semaphore>);

impl Default for Transfers {
    fn default() -> Transfers {
        Transfers(Arc::new(tokio::sync::Semaphore::new(1)))
    }
}

impl Transfers {
    /// The right to run one, held until dropped; `None` while another runs.
    pub fn try_begin(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.0.clone().try_acquire_owned().ok()
    }
}

/// 503: another export or import runs.
fn busy() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "1")],
        Json(json!({ "error": "another export or import is in progress (one runs at a time); retry when it ends" })),
    )
        .into_response()
}
/// The parameters of `/api/export`.
pub const EXPORT_PARAMS: &[&str] = &["from", "to", "signal"];
/// The values of `signal`.
pub const SIGNALS: &[&str] = &["traces", "logs", "metrics", "all"];

fn bad(parameter: &str, message: String) -> BadParam {
    BadParam {
        parameter: parameter.to_owned(),
        message,
    }
}

/// Reads a time: Unix milliseconds (digits only) or RFC 3339; Unix nanoseconds.
pub fn parse_time(key: &str, v: &str) -> Result<u64, BadParam> {
    let err = || {
        bad(
            key,
            format!("'{v}' is not a time; allowed: RFC 3339 (2026-11-30T10:00:00Z) or Unix milliseconds (1764496800000)"),
        )
    };
    if !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) {
        return v
            .parse::<u64>()
            .ok()
            .and_then(|ms| ms.checked_mul(1_000_000))
            .ok_or_else(err);
    }
    crate::logs::parse_rfc3339(v)
        .and_then(|ns| u64::try_from(ns).ok())
        .ok_or_else(err)
}

/// What to export: `[from, to)` in Unix nanoseconds, and which signals.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// Inclusive.
    pub from: u64,
    /// Exclusive.
    pub to: u64,
    /// Spans.
    pub traces: bool,
    /// Log records.
    pub logs: bool,
    /// Metric points.
    pub metrics: bool,
}

impl Range {
    /// The range the parameters describe (`from` absent: the beginning; `to` absent: the end;
    /// `signal` absent: all).
    pub fn from_params(p: &Params) -> Result<Range, BadParam> {
        p.only(EXPORT_PARAMS)?;
        let from = p.get("from").map(|v| parse_time("from", v)).transpose()?;
        let to = p.get("to").map(|v| parse_time("to", v)).transpose()?;
        let (from, to) = (from.unwrap_or(0), to.unwrap_or(u64::MAX));
        if from >= to {
            return Err(bad(
                "to",
                "the range is empty: to must be later than from".to_owned(),
            ));
        }
        let signal = p.get("signal").unwrap_or("all");
        if !SIGNALS.contains(&signal) {
            return Err(bad(
                "signal",
                format!(
                    "'{signal}' is not a signal; allowed: {}",
                    SIGNALS.join(", ")
                ),
            ));
        }
        let all = signal == "all";
        Ok(Range {
            from,
            to,
            traces: all || signal == "traces",
            logs: all || signal == "logs",
            metrics: all || signal == "metrics",
        })
    }

    fn holds(&self, t: u64) -> bool {
        (self.from..self.to).contains(&t)
    }
}

/// An export document: any of the three requests (an absent one is left out).
#[derive(Debug, Default, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    /// Spans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces: Option<ExportTraceServiceRequest>,
    /// Log records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<ExportLogsServiceRequest>,
    /// Metric points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<ExportMetricsServiceRequest>,
}

/// `GET /api/export`.
pub async fn export(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    let range = match Range::from_params(&Params(p)) {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let Some(permit) = c.transfers.try_begin() else {
        return busy();
    };
    // Copied out under the read lock, written as JSON after it: off the async threads.
    let written = tokio::task::spawn_blocking(move || {
        let doc = document(&c.store, &range);
        let body = serde_json::to_vec(&doc);
        drop(doc);
        drop(permit);
        body
    })
    .await;
    match written {
        Ok(Ok(body)) if body.len() > MAX_IMPORT_BYTES => (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({
                "error": format!(
                    "from, to: the range's export is {} MiB, more than an import takes ({} MiB); allowed: a shorter range (from, to) or one signal at a time (signal)",
                    body.len() >> 20,
                    MAX_IMPORT_BYTES >> 20
                ),
                "parameter": "from",
            })),
        )
            .into_response(),
        Ok(Ok(body)) => (
            [
                (header::CONTENT_TYPE, "application/json"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"watchpost-console-export.json\"",
                ),
            ],
            body,
        )
            .into_response(),
        Ok(Err(e)) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": format!("the export cannot be written: {e}") })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": format!("the export stopped: {e}") })),
        )
            .into_response(),
    }
}

/// `POST /api/import`: stores the document's items as if received over OTLP; answers how many
/// of each signal were received. No query parameter is taken; the body must be
/// `application/json`.
pub async fn import(
    State(c): State<Console>,
    Query(p): Query<Vec<(String, String)>>,
    req: axum::extract::Request,
) -> Response {
    if let Err(e) = Params(p).only(&[]) {
        return e.into_response();
    }
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap_or("?"))
        .unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    if !mime.eq_ignore_ascii_case("application/json") {
        return (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Json(json!({
                "error": format!("content-type: '{content_type}' is not taken; allowed: application/json (an export document, as GET /api/export answers)"),
                "parameter": "content-type",
            })),
        )
            .into_response();
    }
    // Before the body is read: a waiting import holds no memory.
    let Some(permit) = c.transfers.try_begin() else {
        return busy();
    };
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            Json(json!({
                "error": format!(
                    "body: larger than an import may be; allowed: at most {} MiB (export a shorter range with from and to, or one signal at a time)",
                    MAX_IMPORT_BYTES >> 20
                ),
                "parameter": "body",
            })),
        )
            .into_response()
    };
    // A declared length over the limit is refused before any of the body is read.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_IMPORT_BYTES as u64) {
        return too_large();
    }
    let body = match Bytes::from_request(req, &()).await {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large()
        }
        Err(rejection) => {
            return (
                rejection.status(),
                Json(json!({
                    "error": format!("body: cannot be read ({})", rejection.body_text()),
                    "parameter": "body",
                })),
            )
                .into_response();
        }
    };
    // Reading 64 MiB of JSON and storing it takes a while: off the async threads.
    let stored = tokio::task::spawn_blocking(move || {
        let n = store_document(&c, &body);
        drop(body);
        drop(permit);
        n
    })
    .await;
    match stored {
        Ok(Ok(n)) => Json(json!({ "imported": {
            "spans": n.spans,
            "logs": n.logs,
            "metric_points": n.metric_points,
        }}))
        .into_response(),
        Ok(Err(e)) => (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "error": format!("body: not an export document ({e}); allowed: a JSON object with any of traces, logs, metrics, each an OTLP/JSON export request, as GET /api/export answers"),
                "parameter": "body",
            })),
        )
            .into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({ "error": format!("the import stopped: {e}") })),
        )
            .into_response(),
    }
}

/// Reads a document and stores its items (and hands them to `--data`); how many of each
/// signal were received.
fn store_document(c: &Console, body: &[u8]) -> Result<PerSignal, serde_json::Error> {
    let doc: Document = serde_json::from_slice(body)?;
    let batches: Vec<Batch> = [
        doc.traces.map(Batch::Traces),
        doc.logs.map(Batch::Logs),
        doc.metrics.map(Batch::Metrics),
    ]
    .into_iter()
    .flatten()
    .collect();
    for b in &batches {
        c.data.offer(b);
    }
    let mut store = c.store.write().unwrap_or_else(|e| e.into_inner());
    let before = store.stats().received;
    for b in batches {
        store.add_batch(b);
    }
    let after = store.stats().received;
    Ok(PerSignal {
        spans: after.spans - before.spans,
        logs: after.logs - before.logs,
        metric_points: after.metric_points - before.metric_points,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::store::Store;
    use std::sync::atomic::AtomicU64;
    use std::sync::RwLock;

    fn console() -> Console {
        Console {
            store: Arc::new(RwLock::new(Store::new(1 << 20))),
            refused: Arc::new(AtomicU64::new(0)),
            invalid: Arc::new(AtomicU64::new(0)),
            data: Arc::new(crate::console::persist::Persist::disabled()),
            live: Arc::default(),
            transfers: Arc::default(),
        }
    }

    fn import_request(body: &str) -> axum::extract::Request {
        axum::http::Request::post("/api/import")
            .header(header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap()
    }

    #[tokio::test]
    async fn an_export_or_import_while_another_runs_is_answered_503_and_nothing_is_stored() {
        let c = console();
        let running = c.transfers.try_begin().unwrap();
        let res = export(State(c.clone()), Query(vec![])).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        let doc = r#"{"logs":{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":"1","body":{"stringValue":"x"}}]}]}]}}"#;
        let res = import(State(c.clone()), Query(vec![]), import_request(doc)).await;
        assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(c.read().stats().received.logs, 0);
        drop(running);
        let res = import(State(c.clone()), Query(vec![]), import_request(doc)).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(c.read().stats().received.logs, 1);
        assert!(
            c.transfers.try_begin().is_some(),
            "the import let go of its turn"
        );
    }
}
