//! The HTTP API (subsystem `API`).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use futures_util::StreamExt as _;
use serde::Deserialize;

use crate::exec::{self, ExecError};
use crate::instances::{Manager, OpError};

#[derive(Clone)]
struct App {
    manager: Manager,
    telemetry: Option<watchpost::Telemetry>,
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        format!("{value}\n"),
    )
        .into_response()
}

fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    json(
        status,
        &serde_json::json!({"error": code, "message": message.into()}),
    )
}

fn op_error(e: OpError) -> Response {
    match e {
        OpError::NotFound => error(
            StatusCode::NOT_FOUND,
            "not_found",
            "no instance with this id",
        ),
        OpError::Conflict(m) => error(StatusCode::CONFLICT, "invalid_state", m),
        OpError::CommandNotFound(c) => error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "command_not_found",
            format!("command {c:?} was not found"),
        ),
        OpError::NotExecutable(m) => error(StatusCode::UNPROCESSABLE_ENTITY, "not_executable", m),
        OpError::Invalid(m) => error(StatusCode::BAD_REQUEST, "invalid_body", m),
        OpError::Internal(m) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", m),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, Box<Response>> {
    serde_json::from_slice(body).map_err(|e| {
        Box::new(error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("invalid JSON body: {e}"),
        ))
    })
}

/// The largest request body accepted.
const MAX_BODY: usize = 2 * 1024 * 1024;

/// The `{id}` of a route, or a 400 JSON answer (a path that is not UTF-8, say).
struct Id(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(id)) => Ok(Id(id)),
            Err(e) => Err(error(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("invalid path: {}", e.body_text()),
            )),
        }
    }
}

/// How long a request body may take to arrive (`BODY_TIMEOUT`, ms; default 30 000).
static BODY_TIMEOUT: std::sync::OnceLock<Duration> = std::sync::OnceLock::new();

/// Sets the body deadline (once, at start).
pub fn set_body_timeout(ms: u64) {
    let _ = BODY_TIMEOUT.set(Duration::from_millis(ms));
}

/// The request body, or a JSON answer: 413 naming the limit, 408 if it does not arrive within
/// `BODY_TIMEOUT`, 400 otherwise.
struct Body(Bytes);

impl<S: Send + Sync> axum::extract::FromRequest<S> for Body {
    type Rejection = Response;

    async fn from_request(req: axum::extract::Request, _state: &S) -> Result<Self, Response> {
        let too_large = || {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than {MAX_BODY} bytes"),
            )
        };
        // An announced length over the limit is refused before anything is read.
        let announced = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if announced.is_some_and(|n| n > MAX_BODY as u64) {
            return Err(too_large());
        }
        let deadline = *BODY_TIMEOUT.get_or_init(|| Duration::from_secs(30));
        // Read with our own limit (chunked bodies have no length to check up front).
        let read = axum::body::to_bytes(req.into_body(), MAX_BODY);
        let Ok(read) = tokio::time::timeout(deadline, read).await else {
            return Err(error(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                format!(
                    "the request body did not arrive within {} ms (BODY_TIMEOUT)",
                    deadline.as_millis()
                ),
            ));
        };
        match read {
            Ok(b) => Ok(Body(b)),
            Err(e) => {
                let over_limit = std::error::Error::source(&e)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
                if over_limit {
                    Err(too_large())
                } else {
                    Err(error(
                        StatusCode::BAD_REQUEST,
                        "invalid_body",
                        format!("the request body could not be read: {e}"),
                    ))
                }
            }
        }
    }
}

/// The header naming the caller (`user_id`): see [`crate::auth`]'s `record_caller`.
pub const X_USER_ID: &str = "x-user-id";

/// The HTTP layer; without a token it copies the caller a front end names in `x-user-id` (1 to
/// 64 visible ASCII characters) into the request's `user_id` itself (with a token, the token
/// check does, for accepted requests only).
fn http_layer(t: &watchpost::Telemetry, copy_user_id: bool) -> watchpost::http::HttpLayer {
    let layer = watchpost::http::HttpLayer::new(t);
    if copy_user_id {
        layer.context_header(HeaderName::from_static(X_USER_ID), "user_id")
    } else {
        layer
    }
}

pub fn router(
    manager: Manager,
    telemetry: Option<watchpost::Telemetry>,
    token: Option<&crate::auth::Token>,
) -> Router {
    let app = App {
        manager,
        telemetry: telemetry.clone(),
    };
    let mut router = Router::new()
        .route("/instances", post(create).get(list))
        .route("/instances/{id}", get(get_one).delete(delete))
        .route("/instances/{id}/standby", post(standby))
        .route("/instances/{id}/restore", post(restore))
        .route("/instances/{id}/exec", post(exec_handler))
        .route("/instances/{id}/logs", get(logs))
        // JSON answers for what no handler takes, without a middleware on every request.
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found", "no such route") })
        .method_not_allowed_fallback(|| async {
            error(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this route does not take that method",
            )
        })
        .with_state(Arc::new(app));
    // Inside the HTTP layer: refused requests are logged and counted like any other.
    router = crate::auth::protect(router, token);
    // Merged after the lock: `/healthz` and `/readyz` answer probes that carry no token
    // (`probes`: the details of readiness only with it).
    router = router.merge(crate::probes::router(
        telemetry.as_ref().map(|t| t.health().clone()),
        token,
    ));
    if let Some(t) = &telemetry {
        router = router.layer(
            http_layer(t, token.is_none())
                .exclude("/healthz")
                .exclude("/readyz"),
        );
    }
    router
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
}

async fn create(State(app): State<Arc<App>>, Body(body): Body) -> Response {
    if let Some(r) = refuse_if_stopping(&app) {
        return r;
    }
    let req: CreateRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    let Some(command) = req.command.filter(|c| !c.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "command is required",
        );
    };
    let name = req.name.unwrap_or_else(|| command.clone());
    if name.is_empty() || name.len() > 63 {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            format!("name must be 1 to 63 characters, got {}", name.len()),
        );
    }
    if req.args.len() > 256 {
        return error(StatusCode::BAD_REQUEST, "invalid_body", "at most 256 args");
    }
    match app.manager.create(name, command, req.args).await {
        Ok(view) => {
            about_instance(&view.id);
            json(
                StatusCode::CREATED,
                &serde_json::to_value(view).unwrap_or_default(),
            )
        }
        Err(e) => op_error(e),
    }
}

async fn list(State(app): State<Arc<App>>) -> Response {
    json(
        StatusCode::OK,
        &serde_json::to_value(app.manager.list()).unwrap_or_default(),
    )
}

async fn get_one(State(app): State<Arc<App>>, Id(id): Id) -> Response {
    match app.manager.get(&id) {
        Some(v) => {
            about_instance(&id);
            json(StatusCode::OK, &serde_json::to_value(v).unwrap_or_default())
        }
        None => op_error(OpError::NotFound),
    }
}

async fn delete(State(app): State<Arc<App>>, Id(id): Id) -> Response {
    // In a task of its own: a client that goes away mid-DELETE does not leave the instance
    // half-deleted. It stays in the request's span (and so its trace).
    use tracing::Instrument as _;
    let manager = app.manager.clone();
    let deleting = tokio::spawn(
        async move { manager.delete(&id, Duration::from_secs(2)).await }.in_current_span(),
    );
    match deleting.await {
        Ok(Ok(())) => StatusCode::NO_CONTENT.into_response(),
        Ok(Err(e)) => op_error(e),
        Err(e) => op_error(OpError::Internal(format!("delete failed: {e}"))),
    }
}

/// The request is about instance `id`: its span (and so its access line) goes to the
/// instance's service log.
fn about_instance(id: &str) {
    watchpost::logs::record_current_resource("instance", id);
}

/// 503 while shutting down: no new instance or exec may start.
fn refuse_if_stopping(app: &App) -> Option<Response> {
    app.manager.is_stopping().then(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "shutting_down",
            "procman is shutting down",
        )
    })
}

async fn standby(State(app): State<Arc<App>>, Id(id): Id) -> Response {
    match app.manager.standby(&id) {
        Ok(v) => {
            about_instance(&id);
            json(StatusCode::OK, &serde_json::to_value(v).unwrap_or_default())
        }
        Err(e) => op_error(e),
    }
}

async fn restore(State(app): State<Arc<App>>, Id(id): Id) -> Response {
    match app.manager.restore(&id) {
        Ok(v) => {
            about_instance(&id);
            json(StatusCode::OK, &serde_json::to_value(v).unwrap_or_default())
        }
        Err(e) => op_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExecRequest {
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    timeout_ms: Option<u64>,
    /// Bytes kept per output stream (default 1 MiB, at most 16 MiB); the rest is dropped and
    /// the answer says `truncated: true`.
    max_output_bytes: Option<usize>,
}

async fn exec_handler(State(app): State<Arc<App>>, Id(id): Id, Body(body): Body) -> Response {
    let req: ExecRequest = match parse(&body) {
        Ok(r) => r,
        Err(r) => return *r,
    };
    if let Some(r) = refuse_if_stopping(&app) {
        return r;
    }
    match app.manager.get(&id) {
        None => return op_error(OpError::NotFound),
        Some(v) if v.state == crate::instances::State::Exited => {
            return op_error(OpError::Conflict(
                "instance has exited; exec needs a live instance".into(),
            ))
        }
        Some(_) => about_instance(&id),
    }
    let Some(command) = req.command.filter(|c| !c.trim().is_empty()) else {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "command is required",
        );
    };
    let timeout = req.timeout_ms.unwrap_or(30_000);
    if !(1..=600_000).contains(&timeout) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "timeout_ms must be 1 to 600000",
        );
    }
    let max_output = req.max_output_bytes.unwrap_or(exec::DEFAULT_MAX_OUTPUT);
    if !(1..=16 * 1024 * 1024).contains(&max_output) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_body",
            "max_output_bytes must be 1 to 16777216",
        );
    }
    match exec::run(
        &app.manager,
        &id,
        &command,
        &req.args,
        Duration::from_millis(timeout),
        max_output,
    )
    .await
    {
        Ok(out) => json(
            StatusCode::OK,
            &serde_json::json!({
                "exit_code": out.exit_code,
                "stdout": out.stdout,
                "stderr": out.stderr,
                "truncated": out.truncated,
            }),
        ),
        Err(ExecError::Spawn(e)) => op_error(e),
        Err(ExecError::TimedOut(ms)) => error(
            StatusCode::GATEWAY_TIMEOUT,
            "exec_timeout",
            format!("the command did not finish within {ms} ms and was killed"),
        ),
        Err(ExecError::Failed(m)) => error(StatusCode::INTERNAL_SERVER_ERROR, "internal", m),
    }
}

async fn logs(
    State(app): State<Arc<App>>,
    Id(id): Id,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    let Some(logs) = app.telemetry.as_ref().and_then(|t| t.resource_logs()) else {
        return error(
            StatusCode::NOT_FOUND,
            "not_found",
            "logs are off (--telemetry off)",
        );
    };
    let stream = match pairs
        .iter()
        .find(|(k, _)| k == "source")
        .map(|(_, v)| v.as_str())
    {
        None | Some("service") => None,
        Some("app") => Some("app"),
        Some(other) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_parameter",
                format!("invalid source {other:?}: expected app or service"),
            )
        }
    };
    tracing::debug!(target: "procman::logs", instance_id = %id, source = stream.unwrap_or("service"), "log stream requested");
    let response = logs.sse_response(
        "instance",
        &id,
        stream,
        watchpost::logs::LogQuery::parse(&pairs),
    );
    // The stream ends when shutdown begins (a follower must not hold procman open).
    let (parts, body) = response.into_parts();
    let body = body.into_data_stream().take_until(app.manager.stopping());
    Response::from_parts(parts, axum::body::Body::from_stream(body))
}

/// Routes on the metrics listener: `PUT /admin/log-level/{subsystem}` with the level as body.
pub fn admin_router(telemetry: watchpost::Telemetry) -> Router {
    Router::new()
        .route("/admin/log-level/{subsystem}", put(set_level))
        .with_state(telemetry)
}

async fn set_level(
    State(t): State<watchpost::Telemetry>,
    Path(subsystem): Path<String>,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body);
    let level = match watchpost::config::parse_level("level", text.trim()) {
        Ok(l) => l,
        Err(e) => return error(StatusCode::BAD_REQUEST, "invalid_level", e.to_string()),
    };
    match t.set_level(&subsystem, level) {
        Ok(()) => json(
            StatusCode::OK,
            &serde_json::json!({"subsystem": subsystem.to_ascii_uppercase(), "level": level.to_string()}),
        ),
        Err(e) => error(StatusCode::NOT_FOUND, "unknown_subsystem", e.to_string()),
    }
}
