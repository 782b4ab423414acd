//! `GET /healthz` and `GET /readyz` on both listeners, open to every caller: the probes that ask
//! (a kubelet, a load balancer's health check) send no credentials, so behind the bearer token
//! they would only ever see 401 — "not ready" for good. What an open probe tells is what its
//! status code tells anyway: live, ready or not. The details of readiness (the listeners' names,
//! the exporter's latest error, which can name the collector's address or a file path, the count
//! of lost log lines) are for callers with the token: without it `/readyz` answers the status
//! alone, `{"status":"ready"}` or `{"status":"unready"}`. Without a configured token everything
//! is open anyway, and `/readyz` answers in full.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::auth::Token;

/// The two probe routes, for merging after `auth::protect` (outside the lock). `health` is the
/// pipeline's (`None` without telemetry: then ready while procman answers).
pub fn router(health: Option<watchpost::health::Health>, token: Option<&Token>) -> Router {
    let token = token.cloned();
    Router::new()
        .route(
            "/healthz",
            get(|| async { answer(StatusCode::OK, r#"{"status":"live"}"#.into()) }),
        )
        .route(
            "/readyz",
            get(move |headers: HeaderMap| {
                let health = health.clone();
                let token = token.clone();
                async move { readyz(health.as_ref(), token.as_ref(), &headers) }
            }),
        )
}

fn readyz(
    health: Option<&watchpost::health::Health>,
    token: Option<&Token>,
    headers: &HeaderMap,
) -> Response {
    let full = token.is_none_or(|t| t.accepts(headers.get(header::AUTHORIZATION)));
    let Some(health) = health else {
        let body = if full {
            r#"{"status":"ready","checks":{}}"#
        } else {
            r#"{"status":"ready"}"#
        };
        return answer(StatusCode::OK, body.into());
    };
    let readiness = health.readiness();
    let status =
        StatusCode::from_u16(readiness.status_code()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let body = if full {
        readiness.to_json()
    } else if readiness.ready {
        r#"{"status":"ready"}"#.to_string()
    } else {
        r#"{"status":"unready"}"#.to_string()
    };
    answer(status, body)
}

fn answer(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}
