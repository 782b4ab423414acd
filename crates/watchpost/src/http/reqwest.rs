//! `reqwest-middleware` integration (feature `reqwest`).

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument as _;

use super::client::ClientInstruments;

/// A [`reqwest_middleware::Middleware`] doing what [`super::HttpClientLayer`] does for tower
/// clients: a client span continuing the current span, `traceparent` injection, and
/// `<svc>_http_client_request_duration_seconds{method,host,status}` with a bounded `host`.
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(watchpost::http::ReqwestMiddleware::new(&telemetry))
///     .build();
/// # drop(client);
/// ```
#[derive(Debug, Clone)]
#[must_use = "middleware does nothing until it is added to a client"]
pub struct ReqwestMiddleware {
    shared: Arc<ClientInstruments>,
}

impl ReqwestMiddleware {
    /// A middleware recording into `telemetry`'s metrics.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let m = watchpost::http::ReqwestMiddleware::new(&telemetry);
    /// # drop(m);
    /// ```
    pub fn new(telemetry: &crate::Telemetry) -> Self {
        Self {
            shared: Arc::new(ClientInstruments::new(telemetry)),
        }
    }
}

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for ReqwestMiddleware {
    async fn handle(
        &self,
        mut req: reqwest::Request,
        extensions: &mut axum::http::Extensions,
        next: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let method = req.method().as_str().to_string();
        let host = req.url().host_str().unwrap_or("unknown").to_string();
        let span = ClientInstruments::span(&method, &host);
        crate::traces::inject(&crate::traces::context(&span), req.headers_mut());
        let start = Instant::now();
        let result = next.run(req, extensions).instrument(span.clone()).await;
        let status = result.as_ref().ok().map(|r| r.status().as_u16());
        self.shared.finish(&span, method, &host, status, start);
        result
    }
}
