//! The JSON API under `/api/`: what every page shows, for scripts and tests. Query parameters
//! are checked: an unknown parameter or a value that cannot be read is answered 400 with a JSON
//! body naming the parameter and what is allowed.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::query::{self, LogFilter, TraceFilter};
use super::store::{unhex, Store, TraceId, LEVELS};

/// What the console's handlers share.
#[derive(Clone, Debug)]
pub struct Console {
    /// The store.
    pub store: Arc<RwLock<Store>>,
    /// Exports the receiver refused (its queue was full).
    pub refused: Arc<AtomicU64>,
    /// Exports that could not be read.
    pub invalid: Arc<AtomicU64>,
    /// `--data` (disabled without it).
    pub data: Arc<super::persist::Persist>,
    /// `--scrape`, `--logs` and the live findings.
    pub live: Arc<super::live::Live>,
    /// One export or import at a time.
    pub transfers: Arc<super::export::Transfers>,
}

impl Console {
    /// Reads the store (a poisoned lock is still read: the store stays consistent between
    /// items).
    pub fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The store's statistics and the receiver's counts, as `/api/stats` answers.
    pub fn stats(&self) -> serde_json::Value {
        let stats = self.read().stats();
        let mut v = serde_json::to_value(stats).unwrap_or_default();
        v["refused_exports"] = self.refused.load(Ordering::Relaxed).into();
        v["invalid_exports"] = self.invalid.load(Ordering::Relaxed).into();
        v["data"] = self.data.stats();
        v["live"] = self.live.stats();
        v
    }
}

/// A query parameter that cannot be used: answered 400.
#[derive(Debug, Clone)]
pub struct BadParam {
    /// The parameter.
    pub parameter: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl BadParam {
    fn new(parameter: &str, message: impl Into<String>) -> BadParam {
        BadParam {
            parameter: parameter.to_owned(),
            message: message.into(),
        }
    }
}

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("{}: {}", self.parameter, self.message), "parameter": self.parameter })),
        )
            .into_response()
    }
}

/// A request's query parameters in order (repeats kept).
#[derive(Debug, Clone, Default)]
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// Refuses a parameter not in `allowed`.
    pub fn only(&self, allowed: &[&str]) -> Result<(), BadParam> {
        let allowed_text = if allowed.is_empty() {
            "none".to_owned()
        } else {
            allowed.join(", ")
        };
        match self.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
            Some((k, _)) => Err(BadParam::new(
                k,
                format!("unknown parameter; allowed: {allowed_text}"),
            )),
            None => Ok(()),
        }
    }

    /// The last non-empty value of `key` (an empty form field counts as absent).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
    }

    /// Every non-empty value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, v)| k == key && !v.trim().is_empty())
            .map(|(_, v)| v.trim())
            .collect()
    }

    fn limit(&self, default: usize, max: usize) -> Result<usize, BadParam> {
        match self.get("limit") {
            None => Ok(default),
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=max).contains(n))
                .ok_or_else(|| {
                    BadParam::new(
                        "limit",
                        format!("'{v}' is not a whole number from 1 to {max}"),
                    )
                }),
        }
    }

    fn flag(&self, key: &str) -> Result<bool, BadParam> {
        match self.get(key) {
            None => Ok(false),
            Some("true" | "1" | "on" | "yes") => Ok(true),
            Some("false" | "0" | "off" | "no") => Ok(false),
            Some(v) => Err(BadParam::new(
                key,
                format!("'{v}' is not a boolean; allowed: true, false (or 1, 0, on, off)"),
            )),
        }
    }
}

/// Reads a trace id (32 hexadecimal digits, not all zero).
pub fn trace_id(key: &str, v: &str) -> Result<TraceId, BadParam> {
    unhex::<16>(v).filter(|t| *t != [0; 16]).ok_or_else(|| {
        BadParam::new(
            key,
            format!("'{v}' is not a trace id; allowed: 32 hexadecimal digits"),
        )
    })
}

/// Reads a duration in nanoseconds: a number and a unit (`ns`, `us`, `ms`, `s`, `m`, `h`,
/// `d`: [`crate::duration::parse`]), or `0`.
pub fn duration_ns(key: &str, v: &str) -> Result<u64, BadParam> {
    if v == "0" {
        return Ok(0);
    }
    crate::duration::parse(v)
        .and_then(|d| u64::try_from(d.as_nanos()).ok())
        .ok_or_else(|| {
            BadParam::new(
                key,
                format!(
                    "'{v}' is not a duration; write a number and a unit: 500us, 250ms, 1.5s, 2m"
                ),
            )
        })
}

/// Parameters of the trace list.
pub const TRACE_PARAMS: &[&str] = &["service", "errors", "min_duration", "route", "limit"];
/// Parameters of the log list.
pub const LOG_PARAMS: &[&str] = &[
    "service",
    "level",
    "subsystem",
    "text",
    "trace_id",
    "attr",
    "limit",
];

/// The trace filter the parameters describe.
pub fn trace_filter(p: &Params) -> Result<TraceFilter, BadParam> {
    p.only(TRACE_PARAMS)?;
    Ok(TraceFilter {
        service: p.get("service").map(str::to_owned),
        errors: p.flag("errors")?,
        min_duration: p
            .get("min_duration")
            .map(|v| duration_ns("min_duration", v))
            .transpose()?
            .unwrap_or(0),
        route: p.get("route").map(str::to_owned),
        limit: p.limit(100, 1000)?,
    })
}

/// The log filter the parameters describe.
pub fn log_filter(p: &Params) -> Result<LogFilter, BadParam> {
    p.only(LOG_PARAMS)?;
    let level = match p.get("level") {
        None => None,
        Some(v) => Some(
            *LEVELS
                .iter()
                .find(|l| {
                    l.eq_ignore_ascii_case(v)
                        || (v.eq_ignore_ascii_case("warning") && **l == "WARN")
                })
                .ok_or_else(|| {
                    BadParam::new(
                        "level",
                        format!(
                            "'{v}' is not a level; allowed: {} (that level or more severe)",
                            LEVELS.join(", ").to_lowercase()
                        ),
                    )
                })?,
        ),
    };
    let attributes = p
        .all("attr")
        .into_iter()
        .map(|a| {
            a.split_once('=')
                .filter(|(k, _)| !k.trim().is_empty())
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| {
                    BadParam::new(
                        "attr",
                        format!("'{a}' is not KEY=VALUE, e.g. attr=instance_id=i-42"),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    Ok(LogFilter {
        service: p.get("service").map(str::to_owned),
        level,
        subsystem: p.get("subsystem").map(str::to_owned),
        text: p.get("text").map(str::to_owned),
        trace_id: p
            .get("trace_id")
            .map(|v| trace_id("trace_id", v))
            .transpose()?,
        attributes,
        limit: p.limit(200, 5000)?,
    })
}

/// Answers 400 to any parameter: for the endpoints that take none.
fn none(p: Vec<(String, String)>) -> Result<(), BadParam> {
    Params(p).only(&[])
}

async fn stats(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = none(p) {
        return e.into_response();
    }
    Json(c.stats()).into_response()
}

async fn traces(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    match trace_filter(&Params(p)) {
        Ok(f) => Json(json!({ "traces": query::traces(&c.read(), &f) })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn trace(
    State(c): State<Console>,
    Path(id): Path<String>,
    Query(p): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = none(p) {
        return e.into_response();
    }
    let id = match trace_id("trace_id", &id) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    match query::trace(&c.read(), &id) {
        Some(t) => Json(t).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no span of this trace is held (never received, or evicted)" })),
        )
            .into_response(),
    }
}

async fn logs(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    match log_filter(&Params(p)) {
        Ok(f) => Json(json!({ "logs": query::logs(&c.read(), &f) })).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn metrics(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    let p = Params(p);
    if let Err(e) = p.only(&["name", "service"]) {
        return e.into_response();
    }
    let store = c.read();
    match p.get("name") {
        None => Json(json!({ "metrics": query::metric_names(&store) })).into_response(),
        Some(name) => match query::metric_series(&store, name, p.get("service")) {
            Some(s) => Json(s).into_response(),
            None => BadParam::new(
                "name",
                format!("no metric '{name}' is held; GET /api/metrics lists the names"),
            )
            .into_response(),
        },
    }
}

async fn errors(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = none(p) {
        return e.into_response();
    }
    Json(json!({ "errors": query::errors(&c.read()) })).into_response()
}

async fn operations(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = none(p) {
        return e.into_response();
    }
    Json(json!({ "operations": query::operations(&c.read()) })).into_response()
}

async fn services(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = none(p) {
        return e.into_response();
    }
    let (services, edges) = query::services(&c.read());
    Json(json!({ "services": services, "edges": edges })).into_response()
}

/// The `/api/` routes.
pub fn router() -> Router<Console> {
    Router::new()
        .route("/api/stats", get(stats))
        .route("/api/traces", get(traces))
        .route("/api/traces/{trace_id}", get(trace))
        .route("/api/logs", get(logs))
        .route("/api/metrics", get(metrics))
        .route("/api/errors", get(errors))
        .route("/api/services", get(services))
        .route("/api/operations", get(operations))
        .route("/api/export", get(super::export::export))
        .route(
            "/api/import",
            axum::routing::post(super::export::import).layer(axum::extract::DefaultBodyLimit::max(
                super::export::MAX_IMPORT_BYTES,
            )),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked_and_named() {
        let p = |pairs: &[(&str, &str)]| {
            Params(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let e = trace_filter(&p(&[("bogus", "1")])).unwrap_err();
        assert_eq!(e.parameter, "bogus");
        assert!(e.message.contains("min_duration"), "{}", e.message);
        let e = trace_filter(&p(&[("min_duration", "5 parsecs")])).unwrap_err();
        assert_eq!(e.parameter, "min_duration");
        assert_eq!(
            trace_filter(&p(&[("min_duration", "1.5ms"), ("errors", "on")]))
                .map(|f| (f.min_duration, f.errors))
                .unwrap(),
            (1_500_000, true)
        );
        assert_eq!(
            log_filter(&p(&[("level", "nope")])).unwrap_err().parameter,
            "level"
        );
        assert_eq!(
            log_filter(&p(&[("level", "warning")])).unwrap().level,
            Some("WARN")
        );
        assert_eq!(
            log_filter(&p(&[("trace_id", "xyz")]))
                .unwrap_err()
                .parameter,
            "trace_id"
        );
        assert_eq!(
            log_filter(&p(&[("attr", "novalue")]))
                .unwrap_err()
                .parameter,
            "attr"
        );
        assert_eq!(
            log_filter(&p(&[("limit", "0")])).unwrap_err().parameter,
            "limit"
        );
        assert_eq!(
            log_filter(&p(&[("live", "1")])).unwrap_err().parameter,
            "live",
            "live is the page's, not the API's"
        );
        assert_eq!(
            log_filter(&p(&[("attr", "instance_id=i-1"), ("service", "")]))
                .map(|f| (f.attributes, f.service))
                .unwrap(),
            (vec![("instance_id".to_owned(), "i-1".to_owned())], None)
        );
    }
}
