//! The `/metrics` endpoint as an axum router, to merge into any app (feature `http`).

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::endpoint::answer;
use super::Metrics;

/// A router serving `GET /metrics` from `metrics`, negotiating the format from `Accept`
/// (OpenMetrics for Prometheus's default header, text 0.0.4 otherwise). A `?format=text` or
/// `?format=openmetrics` query overrides the negotiation (for debugging with curl, or for
/// scrapers that cannot set `Accept`); any other `format` is a 400. Merge it into any axum
/// app, or let [`crate::Telemetry::serve_metrics`] serve it on its own listener.
///
/// Collection runs on Tokio's blocking pool, so a large registry never stalls the runtime;
/// concurrent scrapes are serialized by the reader and never block measurements.
///
/// It also serves `GET /metrics/catalogue`: the [catalogue](crate::catalogue) of every metric
/// registered so far, as JSON (default) or, with `?format=yaml`, as a Weaver-style registry —
/// what the `watchpost` tools (lint, rule and dashboard generators) read from a live service.
/// Merged into a public router, it is public too.
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let app: axum::Router = axum::Router::new().merge(watchpost::metrics::router(telemetry.metrics().clone()));
/// # drop(app);
/// ```
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(serve))
        .route("/metrics/catalogue", get(serve))
        .with_state(metrics)
}

async fn serve(
    State(metrics): State<Metrics>,
    uri: axum::http::Uri,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let reply = answer(metrics, uri.path(), query.as_deref(), accept).await;
    (
        reply.status,
        [(header::CONTENT_TYPE, reply.content_type)],
        reply.body,
    )
        .into_response()
}
