//! The `/metrics` HTTP endpoint: what it answers ([`answer`], no web framework), a ready
//! separate listener on hyper ([`MetricsServer`]), and with the `http` feature an axum router for
//! any app ([`router`](super::router)).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};

use super::{Format, Metrics};

/// A client that has not sent a whole request head by then is disconnected (also between
/// requests on a kept-alive connection): a scraper never needs longer.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections at most; more wait in the listen backlog. Scrapers and probes are few; the
/// bound keeps a flood of idle connections from taking every descriptor (an idle kept-alive
/// connection is closed after [`HEADER_TIMEOUT`]).
const MAX_CONNECTIONS: usize = 256;
/// An accept error other than a connection's own (out of descriptors, say) is reported at most
/// this often, and accepting pauses this long after it rather than spinning.
const ACCEPT_ERROR_REPORT: Duration = Duration::from_secs(60);
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(200);
/// On shutdown, a scrape in flight gets this long to finish.
const DRAIN: Duration = Duration::from_secs(5);

/// More paths for the plain listener (the health routes): an answer, or `None` for the metrics'.
pub(crate) type ExtraRoutes = Arc<dyn Fn(&str) -> Option<Reply> + Send + Sync>;

/// What the metrics endpoint answers, as plain data (status, content type, body).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) content_type: &'static str,
    pub(crate) body: String,
}

impl Reply {
    /// A JSON answer that no cache keeps (the health routes).
    pub(crate) fn json(status: StatusCode, body: String) -> Reply {
        Reply {
            status,
            content_type: "application/json",
            body,
        }
    }

    fn text(status: StatusCode, body: String) -> Reply {
        Reply {
            status,
            content_type: "text/plain; charset=utf-8",
            body,
        }
    }

    fn into_response(self) -> Response<Full<Bytes>> {
        let mut response = Response::new(Full::new(Bytes::from(self.body)));
        *response.status_mut() = self.status;
        response.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(self.content_type),
        );
        response
    }
}

/// The `format` parameter of a query string, percent-decoded (`None` when absent).
fn format_param(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == "format").then(|| {
            percent_encoding::percent_decode_str(&v.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

/// Answers `GET /metrics` (format from `accept`, or forced by `?format=text|openmetrics`) and
/// `GET /metrics/catalogue` (`?format=json|yaml`); any other path is a 404. Collection runs on
/// Tokio's blocking pool, so a large registry never stalls the runtime.
pub(crate) async fn answer(
    metrics: Metrics,
    path: &str,
    query: Option<&str>,
    accept: Option<&str>,
) -> Reply {
    let forced = format_param(query);
    match path {
        "/metrics" => {
            let format = match forced.as_deref() {
                None => Format::negotiate(accept),
                Some("text") => Format::Text,
                Some("openmetrics") => Format::OpenMetrics,
                Some(other) => {
                    return Reply::text(
                        StatusCode::BAD_REQUEST,
                        format!("invalid format {other:?}: expected text or openmetrics\n"),
                    )
                }
            };
            match tokio::task::spawn_blocking(move || metrics.encode(format)).await {
                Ok(body) => Reply {
                    status: StatusCode::OK,
                    content_type: format.content_type(),
                    body,
                },
                Err(_) => Reply::text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "metrics collection failed\n".into(),
                ),
            }
        }
        "/metrics/catalogue" => {
            let catalogue = metrics.catalogue();
            match forced.as_deref().unwrap_or("json") {
                "json" => Reply {
                    status: StatusCode::OK,
                    content_type: "application/json",
                    body: catalogue.to_json(),
                },
                "yaml" => Reply {
                    status: StatusCode::OK,
                    content_type: "application/yaml",
                    body: catalogue.to_yaml(),
                },
                other => Reply::text(
                    StatusCode::BAD_REQUEST,
                    format!("invalid format {other:?}: expected json or yaml\n"),
                ),
            }
        }
        other => Reply::text(
            StatusCode::NOT_FOUND,
            format!("not found: {other:?}; this listener serves /metrics, /metrics/catalogue, /healthz and /readyz\n"),
        ),
    }
}

/// A running metrics listener (see [`crate::Telemetry::serve_metrics`]). Dropping it does not
/// stop the listener (it serves until the runtime ends); call [`MetricsServer::shutdown`] to
/// stop it.
#[derive(Debug)]
pub struct MetricsServer {
    local_addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Serves `/metrics` and `/metrics/catalogue` from `metrics` on `addr`, and the paths
    /// `extra` answers, on hyper alone.
    pub(crate) async fn start_plain(
        addr: SocketAddr,
        metrics: Metrics,
        extra: ExtraRoutes,
    ) -> std::io::Result<MetricsServer> {
        let service = hyper::service::service_fn(move |req: Request<Incoming>| {
            let metrics = metrics.clone();
            let extra = extra.clone();
            async move {
                if req.method() != hyper::Method::GET && req.method() != hyper::Method::HEAD {
                    let mut r = Reply::text(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method not allowed: use GET\n".into(),
                    )
                    .into_response();
                    r.headers_mut().insert(
                        hyper::header::ALLOW,
                        hyper::header::HeaderValue::from_static("GET, HEAD"),
                    );
                    return Ok::<_, Infallible>(r);
                }
                if let Some(reply) = extra(req.uri().path()) {
                    let mut r = reply.into_response();
                    r.headers_mut().insert(
                        hyper::header::CACHE_CONTROL,
                        hyper::header::HeaderValue::from_static("no-store"),
                    );
                    return Ok(r);
                }
                let accept = req
                    .headers()
                    .get(hyper::header::ACCEPT)
                    .and_then(|v| v.to_str().ok());
                let reply = answer(metrics, req.uri().path(), req.uri().query(), accept).await;
                Ok(reply.into_response())
            }
        });
        Self::start(addr, service).await
    }

    /// Serves any hyper service (an axum router through hyper-util's adapter) on `addr`, with a
    /// deadline for request heads, a bound on connections and a graceful stop.
    pub(crate) async fn start<S, B>(addr: SocketAddr, service: S) -> std::io::Result<MetricsServer>
    where
        S: hyper::service::Service<Request<Incoming>, Response = Response<B>>
            + Clone
            + Send
            + 'static,
        S::Future: Send + 'static,
        S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let local_addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(accept_loop(listener, service, async move {
            // A dropped handle is not a stop: only `shutdown` (a sent value) stops the listener.
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        }));
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

    /// Stops accepting, gives scrapes in flight up to 5 s to finish, and waits for the listener
    /// task.
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

/// Accepts connections until `shutdown` resolves; each one is served by HTTP/1.1 with
/// [`HEADER_TIMEOUT`]; at most [`MAX_CONNECTIONS`] are open at once.
async fn accept_loop<S, B>(
    listener: tokio::net::TcpListener,
    service: S,
    shutdown: impl Future<Output = ()>,
) where
    S: hyper::service::Service<Request<Incoming>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut last_report: Option<std::time::Instant> = None;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // A connection that went away before it was accepted: nothing to report.
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // Out of descriptors and the like: reported at most once a minute, then a
                    // pause rather than a spin.
                    if last_report.is_none_or(|t| t.elapsed() >= ACCEPT_ERROR_REPORT) {
                        last_report = Some(std::time::Instant::now());
                        crate::internal::ListenerFailed { error: &e }.emit();
                    }
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        let service = service.clone();
        let mut stop = stop_rx.clone();
        connections.spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.wait_for(|s| *s) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
        while connections.try_join_next().is_some() {}
    }
    drop(listener);
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(DRAIN, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
    }
}

/// Errors of one connection (reset or aborted before `accept` returned), not of the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionRefused
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use super::format_param;

    #[test]
    fn the_format_parameter_is_found_and_decoded() {
        assert_eq!(format_param(None), None);
        assert_eq!(format_param(Some("a=1")), None);
        assert_eq!(format_param(Some("format=text")).as_deref(), Some("text"));
        assert_eq!(
            format_param(Some("x=1&format=open%6Detrics")).as_deref(),
            Some("openmetrics")
        );
        assert_eq!(format_param(Some("format")).as_deref(), Some(""));
    }
}
