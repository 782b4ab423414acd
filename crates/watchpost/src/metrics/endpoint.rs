//! The `/metrics` HTTP endpoint: an axum router for any app, and a ready separate listener.

use std::net::SocketAddr;

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::{Format, Metrics};

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
/// what the planned `watchpost` tools (lint, rule and dashboard generators) are to read from a
/// live service. Merged into a public router, it is public too.
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let app: axum::Router = axum::Router::new().merge(watchpost::metrics::router(telemetry.metrics().clone()));
/// # drop(app);
/// ```
pub fn router(metrics: Metrics) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .route("/metrics/catalogue", get(catalogue))
        .with_state(metrics)
}

async fn catalogue(
    State(metrics): State<Metrics>,
    Query(query): Query<Vec<(String, String)>>,
) -> Response {
    let format = query
        .iter()
        .find(|(k, _)| k == "format")
        .map_or("json", |(_, v)| v.as_str());
    let catalogue = metrics.catalogue();
    let (body, content_type) = match format {
        "json" => (catalogue.to_json(), "application/json"),
        "yaml" => (catalogue.to_yaml(), "application/yaml"),
        other => {
            return (
                StatusCode::BAD_REQUEST,
                format!("invalid format {other:?}: expected json or yaml\n"),
            )
                .into_response()
        }
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

async fn scrape(
    State(metrics): State<Metrics>,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
) -> Response {
    let forced = query
        .iter()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.as_str());
    let format = match forced {
        None => Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok())),
        Some("text") => Format::Text,
        Some("openmetrics") => Format::OpenMetrics,
        Some(other) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("invalid format {other:?}: expected text or openmetrics\n"),
            )
                .into_response()
        }
    };
    match tokio::task::spawn_blocking(move || metrics.encode(format)).await {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            )],
            body,
        )
            .into_response(),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "metrics collection failed\n",
        )
            .into_response(),
    }
}

/// A running metrics listener (see [`crate::Telemetry::serve_metrics`]). Dropping it does not
/// stop the listener; call [`MetricsServer::shutdown`].
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    pub(crate) async fn start(addr: SocketAddr, app: Router) -> std::io::Result<MetricsServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                crate::internal::ListenerFailed { error: &e }.emit();
            }
        });
        Ok(MetricsServer {
            local_addr,
            stop: Some(stop),
            task,
        })
    }

    /// The address it listens on (useful with port 0).
    ///
    /// ```no_run
    /// # async fn f(telemetry: watchpost::Telemetry) {
    /// let server = telemetry.serve_metrics().await.unwrap();
    /// println!("scrape http://{}/metrics", server.local_addr());
    /// # }
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting, finishes in-flight scrapes, and waits for the listener task.
    ///
    /// ```no_run
    /// # async fn f(telemetry: watchpost::Telemetry) {
    /// let server = telemetry.serve_metrics().await.unwrap();
    /// server.shutdown().await;
    /// # }
    /// ```
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = (&mut self.task).await;
    }
}
