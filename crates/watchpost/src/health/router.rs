//! `GET /healthz` and `GET /readyz` as an axum router.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::Health;

/// A router serving `GET /healthz` (always 200 `{"status":"live"}`) and `GET /readyz` (200 when
/// ready, else 503, with the checks as JSON: see the [module documentation](super)). Merge it
/// into any axum app, or serve it next to `/metrics` with
/// [`Telemetry::serve_metrics_with`](crate::Telemetry::serve_metrics_with). Exclude the two
/// paths from [`HttpLayer`](crate::http::HttpLayer)'s access log if probes would fill it.
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let app: axum::Router = axum::Router::new()
///     .route("/hello", axum::routing::get(|| async { "hello" }))
///     .merge(watchpost::health::router(telemetry.health().clone()));
/// # drop(app);
/// ```
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(live))
        .route("/readyz", get(ready))
        .with_state(health)
}

async fn live(State(health): State<Health>) -> Response {
    probe(&health, "/healthz")
}

async fn ready(State(health): State<Health>) -> Response {
    probe(&health, "/readyz")
}

fn probe(health: &Health, path: &str) -> Response {
    let (status, body) = super::answer(health, path).expect("a probe path");
    json(
        StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
        body,
    )
}

fn json(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}
