//! The HTTP client layer: a client span per outgoing request, `traceparent` injection, and
//! `<svc>_http_client_request_duration_seconds{method,host,status}`.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use axum::http::{Request, Response};
use futures_util::future::BoxFuture;
use opentelemetry::KeyValue;
use tracing::Instrument as _;

/// Distinct `host` label values kept; later hosts are counted as `other`.
pub use crate::catalogue::MAX_CLIENT_HOSTS as MAX_HOSTS;

/// The client metric and span, shared by the tower layer and the reqwest middleware.
#[derive(Debug)]
pub(crate) struct ClientInstruments {
    duration: crate::metrics::ExemplarHistogram,
    hosts: Mutex<HashSet<String>>,
}

impl ClientInstruments {
    pub(crate) fn new(telemetry: &crate::Telemetry) -> Self {
        let duration = telemetry
            .metrics()
            .exemplar_histogram(&crate::catalogue::HTTP_CLIENT_REQUEST_DURATION);
        Self {
            duration,
            hosts: Mutex::new(HashSet::new()),
        }
    }

    /// The client span of one request (inside the current span).
    pub(crate) fn span(method: &str, host: &str) -> tracing::Span {
        tracing::info_span!(
            target: crate::catalogue::targets::HTTP_CLIENT,
            "http_client",
            otel.name = %method,
            otel.kind = "client",
            otel.status_code = tracing::field::Empty,
            http.request.method = %method,
            server.address = %host,
            http.response.status_code = tracing::field::Empty,
        )
    }

    /// Records the outcome of one request: `status` is `None` when no response came back.
    pub(crate) fn finish(
        &self,
        span: &tracing::Span,
        method: String,
        host: &str,
        status: Option<u16>,
        start: Instant,
    ) {
        let status_code = status;
        let status = match status {
            Some(s) => {
                span.record("http.response.status_code", s);
                if s >= 500 {
                    span.record("otel.status_code", "ERROR");
                }
                s.to_string()
            }
            None => {
                span.record("otel.status_code", "ERROR");
                "error".to_string()
            }
        };
        // The exemplar: the client span, when its trace is sampled (or fails: the tail sampler
        // keeps a trace with an error span).
        let failed = status_code.is_none_or(|s| s >= 500);
        self.duration.record_in(
            start.elapsed().as_secs_f64(),
            &[
                KeyValue::new("method", bounded_method(method)),
                KeyValue::new("host", self.host_label(host)),
                KeyValue::new("status", status),
            ],
            span,
            failed,
        );
    }

    /// The bounded `host` label: the first [`MAX_HOSTS`] hosts by name, then `other`.
    fn host_label(&self, host: &str) -> String {
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if hosts.contains(host) {
            return host.to_string();
        }
        if hosts.len() < MAX_HOSTS {
            hosts.insert(host.to_string());
            return host.to_string();
        }
        "other".to_string()
    }
}

/// A tower layer for outgoing HTTP requests (any `tower::Service<http::Request<B>>` client, e.g.
/// hyper-util's `Client`): a client span named by the method, continuing the current span, the
/// W3C `traceparent` of that span injected into the request, and
/// `<svc>_http_client_request_duration_seconds{method,host,status}` (`status` is `error` when
/// no response came back; `host` is bounded to [`MAX_HOSTS`] values, then `other`).
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let layer = watchpost::http::HttpClientLayer::new(&telemetry);
/// let client = tower::ServiceBuilder::new()
///     .layer(layer)
///     .service(tower::service_fn(|_req: axum::http::Request<String>| async {
///         Ok::<_, std::convert::Infallible>(axum::http::Response::new(String::new()))
///     }));
/// # drop(client);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a layer does nothing until it wraps a service"]
pub struct HttpClientLayer {
    shared: Arc<ClientInstruments>,
}

impl HttpClientLayer {
    /// A layer recording into `telemetry`'s metrics.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let layer = watchpost::http::HttpClientLayer::new(&telemetry);
    /// # drop(layer);
    /// ```
    pub fn new(telemetry: &crate::Telemetry) -> Self {
        Self {
            shared: Arc::new(ClientInstruments::new(telemetry)),
        }
    }
}

impl<S> tower::Layer<S> for HttpClientLayer {
    type Service = HttpClientService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HttpClientService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service made by [`HttpClientLayer`].
#[derive(Debug, Clone)]
#[must_use = "a service does nothing until it is called"]
pub struct HttpClientService<S> {
    inner: S,
    shared: Arc<ClientInstruments>,
}

impl<S, B, RB> tower::Service<Request<B>> for HttpClientService<S>
where
    S: tower::Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
    RB: Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<'static, Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        let method = req.method().as_str().to_string();
        let host = req.uri().host().unwrap_or("unknown").to_string();
        let span = ClientInstruments::span(&method, &host);
        crate::traces::inject(&crate::traces::context(&span), req.headers_mut());
        let start = Instant::now();
        let fut = inner.call(req).instrument(span.clone());
        Box::pin(async move {
            let result = fut.await;
            let status = result.as_ref().ok().map(|r| r.status().as_u16());
            shared.finish(&span, method, &host, status, start);
            result
        })
    }
}

/// A standard method as it is, anything else as `_OTHER` (a closed label set).
fn bounded_method(method: String) -> opentelemetry::Value {
    match crate::catalogue::HTTP_METHODS
        .iter()
        .find(|m| **m == method)
    {
        Some(m) => (*m).into(),
        None => "_OTHER".into(),
    }
}
