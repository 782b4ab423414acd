//! A ready-made axum handler that serves a resource's log as Server-Sent Events.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::ResourceLogs;
use crate::error::{Error, ErrorKind};

/// Largest `tail` a request may ask for.
pub const MAX_TAIL: usize = 100_000;
/// `tail` when the request gives none.
pub const DEFAULT_TAIL: usize = 100;

fn json_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut body = Vec::with_capacity(message.len() + 48);
    body.extend_from_slice(b"{\"error\":");
    crate::logs::encode::string_into(&mut body, code);
    body.extend_from_slice(b",\"message\":");
    crate::logs::encode::string_into(&mut body, message);
    body.extend_from_slice(b"}\n");
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Parsed `?tail=N&follow=true|false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogQuery {
    /// Lines of history to send first. Default: [`DEFAULT_TAIL`], at most [`MAX_TAIL`].
    pub tail: usize,
    /// Keep the stream open and send new lines. Default: `false`.
    pub follow: bool,
}

impl LogQuery {
    /// Parses query pairs.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidValue`] naming the parameter and what it allows, for a bad value or an
    /// unknown parameter (`source` is left to the application's route).
    ///
    /// ```
    /// use watchpost::logs::LogQuery;
    /// let q = LogQuery::parse(&[("tail".into(), "5".into()), ("follow".into(), "true".into())]).unwrap();
    /// assert_eq!((q.tail, q.follow), (5, true));
    /// let err = LogQuery::parse(&[("tail".into(), "-1".into())]).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid value \"-1\" for tail: expected an integer from 0 to 100000");
    /// ```
    pub fn parse(pairs: &[(String, String)]) -> Result<LogQuery, Error> {
        let mut q = LogQuery {
            tail: DEFAULT_TAIL,
            follow: false,
        };
        for (k, v) in pairs {
            match k.as_str() {
                "tail" => {
                    q.tail = v
                        .parse::<usize>()
                        .ok()
                        .filter(|n| *n <= MAX_TAIL)
                        .ok_or_else(|| {
                            Error::invalid(
                                "tail",
                                v.as_str(),
                                format!("an integer from 0 to {MAX_TAIL}"),
                            )
                        })?
                }
                "follow" => {
                    q.follow = match v.as_str() {
                        "true" | "1" => true,
                        "false" | "0" => false,
                        _ => return Err(Error::invalid("follow", v.as_str(), "true or false")),
                    }
                }
                "source" => {} // interpreted by the application's route
                other => {
                    return Err(Error::invalid(
                        "a query parameter",
                        other,
                        "tail, follow (or source)",
                    ))
                }
            }
        }
        Ok(q)
    }
}

impl ResourceLogs {
    /// Serves one stream of a resource as Server-Sent Events: one `data:` event per line,
    /// keep-alive comments every 15 s, `Cache-Control: no-cache` and `X-Accel-Buffering: no`.
    /// Without `follow` the response ends after the tail. Errors are JSON bodies: 400 for an
    /// invalid id or parameter, 404 for an unknown resource. Needs a Tokio runtime.
    ///
    /// ```no_run
    /// # async fn f(logs: watchpost::logs::ResourceLogs) {
    /// use watchpost::logs::LogQuery;
    /// let response = logs.sse_response("instance", "web-1", None, Ok(LogQuery { tail: 10, follow: true }));
    /// # drop(response); }
    /// ```
    pub fn sse_response(
        &self,
        kind: &str,
        id: &str,
        stream: Option<&str>,
        query: Result<LogQuery, Error>,
    ) -> Response {
        let query = match query {
            Ok(q) => q,
            Err(error) => {
                return json_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_parameter",
                    &error.to_string(),
                )
            }
        };
        if !super::valid_id(id) {
            return json_error(
                StatusCode::BAD_REQUEST,
                "invalid_id",
                "invalid id: expected [A-Za-z0-9][A-Za-z0-9._-]{0,127}",
            );
        }
        let result = match (stream, query.follow) {
            (Some(s), true) => self
                .follow_stream(kind, id, s, query.tail)
                .map(|s| s.boxed()),
            (None, true) => self.follow(kind, id, query.tail).map(|s| s.boxed()),
            (Some(s), false) => self
                .read_stream(kind, id, s, query.tail)
                .map(|l| futures_util::stream::iter(l).boxed()),
            (None, false) => self
                .read(kind, id, query.tail)
                .map(|l| futures_util::stream::iter(l).boxed()),
        };
        match result {
            Ok(lines) => {
                let events = lines.map(|line| Ok::<_, Infallible>(Event::default().data(line)));
                let mut response = Sse::new(events)
                    .keep_alive(
                        KeepAlive::new()
                            .interval(Duration::from_secs(15))
                            .text("keep-alive"),
                    )
                    .into_response();
                let h = response.headers_mut();
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
                h.insert("x-accel-buffering", HeaderValue::from_static("no"));
                response
            }
            Err(e) => match e.kind() {
                ErrorKind::NotFound { .. } => {
                    json_error(StatusCode::NOT_FOUND, "not_found", &e.to_string())
                }
                _ => json_error(StatusCode::BAD_REQUEST, "invalid_request", &e.to_string()),
            },
        }
    }

    /// A handler for a route with one `{id}` parameter (e.g. `/instances/{id}/logs`) serving the
    /// service log of resources of `kind` ([`sse_response`](Self::sse_response)).
    ///
    /// ```no_run
    /// # fn f(logs: watchpost::logs::ResourceLogs) {
    /// let app: axum::Router = axum::Router::new()
    ///     .route("/instances/{id}/logs", axum::routing::get(watchpost::logs::sse_handler))
    ///     .with_state(watchpost::logs::SseState::new(logs, "instance"));
    /// # }
    /// ```
    pub fn sse_state(&self, kind: &'static str) -> SseState {
        SseState::new(self.clone(), kind)
    }
}

/// State for [`sse_handler`]: which resource logs and which kind.
#[derive(Debug, Clone)]
pub struct SseState {
    logs: ResourceLogs,
    kind: &'static str,
}

impl SseState {
    /// Serves resources of `kind` from `logs`.
    ///
    /// ```no_run
    /// # fn f(logs: watchpost::logs::ResourceLogs) {
    /// let state = watchpost::logs::SseState::new(logs, "instance");
    /// # drop(state); }
    /// ```
    pub fn new(logs: ResourceLogs, kind: &'static str) -> Self {
        Self { logs, kind }
    }
}

/// The axum handler: `GET …/{id}/logs?tail=N&follow=true|false` as Server-Sent Events.
///
/// ```no_run
/// # fn f(state: watchpost::logs::SseState) {
/// let app: axum::Router = axum::Router::new()
///     .route("/instances/{id}/logs", axum::routing::get(watchpost::logs::sse_handler))
///     .with_state(state);
/// # }
/// ```
pub async fn sse_handler(
    State(state): State<SseState>,
    Path(id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    state
        .logs
        .sse_response(state.kind, &id, None, LogQuery::parse(&pairs))
}
