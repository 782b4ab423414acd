//! The OTLP receiver: gRPC (the official `opentelemetry-proto` services through tonic) and
//! HTTP (`POST /v1/traces`, `/v1/logs`, `/v1/metrics`; protobuf or JSON — the specification's
//! JSON mapping, through `opentelemetry-proto`'s serde support —, optionally gzip-compressed),
//! answering as the OTLP specification says (a JSON export is answered in JSON). Every export becomes one [`Batch`] on a bounded
//! channel; an export that finds the channel full is refused with a retryable answer (gRPC
//! `UNAVAILABLE`, HTTP 503) and counted ([`Receiver::dropped`]), so nothing is lost silently.
//! Payloads that cannot be read become [`Batch::Invalid`] (the `otlp.invalid` rule).
//!
//! Memory is bounded: at most [`QUEUE`] batches wait, each decoded from at most
//! [`MAX_EXPORT_BYTES`] (after decompression), so the queue holds at most 256 MiB of exports as
//! received — decoded, somewhat more (protobuf messages take more room in memory than on the
//! wire) — besides the exports being received and decoded at that moment.
//!
//! ```no_run
//! # async fn demo() -> watchpost_cli::Result<()> {
//! let (receiver, mut batches) =
//!     watchpost_cli::otlp::start(Some("127.0.0.1:0"), Some("127.0.0.1:0")).await?;
//! println!("gRPC on {:?}, HTTP on {:?}", receiver.grpc_addr(), receiver.http_addr());
//! while let Some(batch) = batches.recv().await {
//!     // check it…
//! #   let _ = batch;
//! }
//! receiver.shutdown().await;
//! # Ok(())
//! # }
//! ```

use std::io::Read as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tonic::codec::CompressionEncoding;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::logs_service_server::{
    LogsService, LogsServiceServer,
};
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::metrics_service_server::{
    MetricsService, MetricsServiceServer,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message as _;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::error::Error;

/// Exports waiting to be checked before further ones are refused (with [`MAX_EXPORT_BYTES`]:
/// at most 256 MiB of exports queued, as received).
pub const QUEUE: usize = 16;
/// The largest export accepted, compressed or not (gRPC messages and HTTP bodies); four times the
/// OpenTelemetry Collector's default gRPC limit.
pub const MAX_EXPORT_BYTES: usize = 16 << 20;
/// How long [`Receiver::shutdown`] lets exports in progress finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// One export as it arrived, or why it could not be read.
#[derive(Debug, Clone)]
pub enum Batch {
    /// `TraceService/Export` or `POST /v1/traces`.
    Traces(ExportTraceServiceRequest),
    /// `LogsService/Export` or `POST /v1/logs`.
    Logs(ExportLogsServiceRequest),
    /// `MetricsService/Export` or `POST /v1/metrics`.
    Metrics(ExportMetricsServiceRequest),
    /// An export that could not be read: an undecodable body, an unsupported content type or
    /// encoding.
    Invalid {
        /// `grpc` or `http`.
        transport: &'static str,
        /// What was wrong, naming the path.
        message: String,
    },
}

/// What the servers and their connection tasks share. The channel's only sender is in `tx`:
/// [`Receiver::shutdown`] takes it out, which closes the channel even while connections that a
/// client holds open (each served by a task of its own, which outlives an aborted server) are
/// still alive.
#[derive(Clone)]
struct Shared {
    tx: Arc<RwLock<Option<mpsc::Sender<Batch>>>>,
    dropped: Arc<AtomicU64>,
}

impl Shared {
    /// Queues a batch; `false` (and counted) when the queue is full, the checker is gone or the
    /// receiver has shut down.
    fn offer(&self, batch: Batch) -> bool {
        let queued = match self.tx.read() {
            Ok(tx) => tx.as_ref().is_some_and(|tx| tx.try_send(batch).is_ok()),
            Err(_) => false,
        };
        if !queued {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        queued
    }

    /// Whether a batch would be queued now. An export that arrives with the queue full is
    /// refused before it is decoded (and counted as [`offer`](Self::offer) counts it): decoding
    /// it only to refuse it cost more than half of the receiver's CPU under load, as every
    /// exporter sends it again.
    fn has_room(&self) -> bool {
        let room = match self.tx.read() {
            Ok(tx) => tx.as_ref().is_some_and(|tx| tx.capacity() > 0),
            Err(_) => false,
        };
        if !room {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
        room
    }

    /// Drops the sender: the channel ends once the batches already queued are read.
    fn close(&self) {
        if let Ok(mut tx) = self.tx.write() {
            tx.take();
        }
    }
}

/// The running receiver. Dropping it stops nothing; call [`Receiver::shutdown`].
#[derive(Debug)]
pub struct Receiver {
    grpc_addr: Option<SocketAddr>,
    http_addr: Option<SocketAddr>,
    dropped: Arc<AtomicU64>,
    shared: Shared,
    stops: Vec<oneshot::Sender<()>>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl Receiver {
    /// Where OTLP/gRPC is received (the bound address: port 0 resolved).
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc_addr
    }

    /// Where OTLP/HTTP is received (the bound address: port 0 resolved).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http_addr
    }

    /// Exports refused because the check fell behind (the queue of [`QUEUE`] batches was full)
    /// or had stopped. Exporters retry such refusals, so a retried export may have arrived later.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// The counter behind [`Receiver::dropped`], for a reader that outlives this handle's owner
    /// (the console's statistics).
    pub fn dropped_counter(&self) -> Arc<AtomicU64> {
        self.dropped.clone()
    }

    /// Stops listening, lets exports in progress finish (up to 5 s for both servers together),
    /// then closes the batch channel: the channel's receiver drains what was queued and ends.
    /// Returns the exports refused in all, as [`Receiver::dropped`] would say then (refusals
    /// during the grace included), for a caller that reports them after shutting down.
    ///
    /// Returns within the 5 s (and the moment it takes to abort the servers) even when a client
    /// holds a connection open mid-request: the servers stop waiting for such connections then
    /// (their tasks live on until the client lets go). No batch is queued after it returns: an
    /// export finished on such a connection later is refused (HTTP 503, gRPC `UNAVAILABLE`), and
    /// counted in no report.
    pub async fn shutdown(self) -> u64 {
        self.shutdown_within(SHUTDOWN_GRACE).await
    }

    async fn shutdown_within(self, grace: Duration) -> u64 {
        for stop in self.stops {
            let _ = stop.send(());
        }
        let deadline = tokio::time::Instant::now() + grace;
        for mut task in self.tasks {
            if tokio::time::timeout_at(deadline, &mut task).await.is_err() {
                task.abort();
                let _ = task.await;
            }
        }
        self.shared.close();
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Listens for OTLP over gRPC on `grpc` and over HTTP/protobuf on `http` (each optional; port 0
/// picks a free port, see [`Receiver::grpc_addr`]) and returns the receiver and the channel its
/// exports arrive on ([`QUEUE`] batches deep).
pub async fn start(
    grpc: Option<&str>,
    http: Option<&str>,
) -> crate::Result<(Receiver, mpsc::Receiver<Batch>)> {
    start_with_flags(grpc, http, ["--otlp", "--otlp-http"], QUEUE).await
}

/// [`start`], for a command whose flags for the two addresses are `flags` (gRPC, HTTP) — an
/// address that cannot be bound is named with the flag to change — with a queue of `queue`
/// exports (at least 1) instead of [`QUEUE`].
pub async fn start_with_flags(
    grpc: Option<&str>,
    http: Option<&str>,
    flags: [&str; 2],
    queue: usize,
) -> crate::Result<(Receiver, mpsc::Receiver<Batch>)> {
    let grpc_listener = match grpc {
        Some(addr) => Some(bind(addr, "OTLP/gRPC", flags[0]).await?),
        None => None,
    };
    let http_listener = match http {
        Some(addr) => Some(bind(addr, "OTLP/HTTP", flags[1]).await?),
        None => None,
    };
    let (tx, rx) = mpsc::channel(queue.max(1));
    let shared = Shared {
        tx: Arc::new(RwLock::new(Some(tx))),
        dropped: Arc::default(),
    };
    let mut receiver = Receiver {
        grpc_addr: None,
        http_addr: None,
        dropped: shared.dropped.clone(),
        shared: shared.clone(),
        stops: Vec::new(),
        tasks: Vec::new(),
    };
    if let Some(listener) = grpc_listener {
        receiver.grpc_addr = listener.local_addr().ok();
        let (stop, stopped) = oneshot::channel::<()>();
        let s = shared.clone();
        receiver.stops.push(stop);
        receiver.tasks.push(tokio::spawn(async move {
            let result = tonic::transport::Server::builder()
                .add_service(Watch {
                    inner: TraceServiceServer::new(s.clone())
                        .accept_compressed(CompressionEncoding::Gzip)
                        .max_decoding_message_size(MAX_EXPORT_BYTES),
                    shared: s.clone(),
                })
                .add_service(Watch {
                    inner: LogsServiceServer::new(s.clone())
                        .accept_compressed(CompressionEncoding::Gzip)
                        .max_decoding_message_size(MAX_EXPORT_BYTES),
                    shared: s.clone(),
                })
                .add_service(Watch {
                    inner: MetricsServiceServer::new(s.clone())
                        .accept_compressed(CompressionEncoding::Gzip)
                        .max_decoding_message_size(MAX_EXPORT_BYTES),
                    shared: s.clone(),
                })
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
            if let Err(e) = result {
                eprintln!("watchpost: the OTLP/gRPC receiver stopped: {e}");
            }
        }));
    }
    if let Some(listener) = http_listener {
        receiver.http_addr = listener.local_addr().ok();
        let (stop, stopped) = oneshot::channel::<()>();
        receiver.stops.push(stop);
        let app = axum::Router::new()
            .route("/v1/traces", post(http_traces))
            .route("/v1/logs", post(http_logs))
            .route("/v1/metrics", post(http_metrics))
            .layer(DefaultBodyLimit::max(MAX_EXPORT_BYTES))
            .with_state(shared.clone());
        receiver.tasks.push(tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = result {
                eprintln!("watchpost: the OTLP/HTTP receiver stopped: {e}");
            }
        }));
    }
    Ok((receiver, rx))
}

async fn bind(addr: &str, what: &str, flag: &str) -> crate::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::new(format!("cannot listen for {what} on '{addr}': {e}")).hint(format!(
            "give another address with {flag} (port 0 picks a free one, e.g. {flag} 127.0.0.1:0)"
        ))
    })
}

#[tonic::async_trait]
impl TraceService for Shared {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        grpc_answer(self.offer(Batch::Traces(request.into_inner())))
    }
}

#[tonic::async_trait]
impl LogsService for Shared {
    async fn export(
        &self,
        request: tonic::Request<ExportLogsServiceRequest>,
    ) -> Result<tonic::Response<ExportLogsServiceResponse>, tonic::Status> {
        grpc_answer(self.offer(Batch::Logs(request.into_inner())))
    }
}

#[tonic::async_trait]
impl MetricsService for Shared {
    async fn export(
        &self,
        request: tonic::Request<ExportMetricsServiceRequest>,
    ) -> Result<tonic::Response<ExportMetricsServiceResponse>, tonic::Status> {
        grpc_answer(self.offer(Batch::Metrics(request.into_inner())))
    }
}

/// The refusal of an export that finds the queue full (gRPC `UNAVAILABLE`).
const BEHIND_GRPC: &str = "watchpost is behind with checking; retry later";

fn grpc_answer<T: Default>(queued: bool) -> Result<tonic::Response<T>, tonic::Status> {
    if queued {
        Ok(tonic::Response::new(T::default()))
    } else {
        Err(tonic::Status::unavailable(BEHIND_GRPC))
    }
}

/// A generated gRPC service, watched: an export that tonic refuses before our handler sees it
/// (an undecodable message, one over [`MAX_EXPORT_BYTES`], an unknown method) becomes a
/// [`Batch::Invalid`] too, so gRPC and HTTP report unreadable exports alike.
#[derive(Clone)]
struct Watch<S> {
    inner: S,
    shared: Shared,
}

impl<S: tonic::server::NamedService> tonic::server::NamedService for Watch<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tonic::codegen::Service<axum::http::Request<B>> for Watch<S>
where
    S: tonic::codegen::Service<
            axum::http::Request<B>,
            Response = axum::http::Response<tonic::body::Body>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = axum::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = tonic::codegen::BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        if !self.shared.has_room() {
            return Box::pin(async { Ok(tonic::Status::unavailable(BEHIND_GRPC).into_http()) });
        }
        let path = request.uri().path().to_owned();
        let answer = self.inner.call(request);
        let shared = self.shared.clone();
        Box::pin(async move {
            let response = answer.await?;
            if let Some(status) = tonic::Status::from_header_map(response.headers()) {
                use tonic::Code;
                if matches!(
                    status.code(),
                    Code::InvalidArgument
                        | Code::Internal
                        | Code::ResourceExhausted
                        | Code::Unimplemented
                ) {
                    shared.offer(Batch::Invalid {
                        transport: "grpc",
                        message: format!("{path}: {:?}: {}", status.code(), status.message()),
                    });
                }
            }
            Ok(response)
        })
    }
}

/// `google.rpc.Status`, the body of OTLP/HTTP error answers.
#[derive(Clone, PartialEq, prost::Message)]
struct RpcStatus {
    #[prost(int32, tag = "1")]
    code: i32,
    #[prost(string, tag = "2")]
    message: String,
}

fn protobuf(status: StatusCode, body: Vec<u8>) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-protobuf"),
        )],
        body,
    )
        .into_response()
}

fn json(status: StatusCode, body: Vec<u8>) -> Response {
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

/// How an OTLP/HTTP export is encoded (and its answer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Protobuf,
    Json,
}

/// An error answer: the status and a `google.rpc.Status` saying why (protobuf, or JSON for a
/// JSON export).
fn http_error(status: StatusCode, grpc_code: i32, message: String, encoding: Encoding) -> Response {
    match encoding {
        Encoding::Protobuf => protobuf(
            status,
            RpcStatus {
                code: grpc_code,
                message,
            }
            .encode_to_vec(),
        ),
        Encoding::Json => json(
            status,
            serde_json::json!({ "code": grpc_code, "message": message })
                .to_string()
                .into_bytes(),
        ),
    }
}

/// The encoding a request's content type names, if it is one OTLP/HTTP allows.
fn encoding_of(headers: &HeaderMap) -> Option<Encoding> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let media = content_type.split(';').next().unwrap_or("").trim();
    if media.eq_ignore_ascii_case("application/x-protobuf") {
        Some(Encoding::Protobuf)
    } else if media.eq_ignore_ascii_case("application/json") {
        Some(Encoding::Json)
    } else {
        None
    }
}

/// The export body, checked and decompressed; or the status to answer and why.
fn http_body(path: &str, headers: &HeaderMap, body: Bytes) -> Result<Bytes, (StatusCode, String)> {
    if encoding_of(headers).is_none() {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!(
                "{path}: content type '{content_type}' is not supported; send application/x-protobuf or application/json"
            ),
        ));
    }
    let encoding = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim();
    if encoding.is_empty() || encoding.eq_ignore_ascii_case("identity") {
        return Ok(body);
    }
    if !encoding.eq_ignore_ascii_case("gzip") {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("{path}: content encoding '{encoding}' is not supported; send gzip or none"),
        ));
    }
    let mut out = Vec::new();
    match flate2::read::GzDecoder::new(&body[..])
        .take(MAX_EXPORT_BYTES as u64 + 1)
        .read_to_end(&mut out)
    {
        Err(e) => Err((
            StatusCode::BAD_REQUEST,
            format!("{path}: the gzip body cannot be decompressed: {e}"),
        )),
        Ok(n) if n > MAX_EXPORT_BYTES => Err((
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("{path}: the body decompresses to more than {MAX_EXPORT_BYTES} bytes"),
        )),
        Ok(_) => Ok(Bytes::from(out)),
    }
}

/// The answer to an export that finds the queue full: 503 (`UNAVAILABLE`), retry in a second.
fn behind(encoding: Encoding) -> Response {
    let mut r = http_error(
        StatusCode::SERVICE_UNAVAILABLE,
        14,
        "watchpost is behind; retry later".to_owned(),
        encoding,
    );
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// Decodes one HTTP export into a batch and answers. Exports that cannot be read are answered
/// with their error and handed on as [`Batch::Invalid`].
fn http_export<
    Req: prost::Message + Default + serde::de::DeserializeOwned,
    Resp: prost::Message + Default,
>(
    shared: &Shared,
    path: &str,
    headers: &HeaderMap,
    body: Bytes,
    batch: impl FnOnce(Req) -> Batch,
) -> Response {
    let encoding = encoding_of(headers).unwrap_or(Encoding::Protobuf);
    if !shared.has_room() {
        return behind(encoding);
    }
    let decoded = http_body(path, headers, body).and_then(|body| match encoding {
        Encoding::Protobuf => Req::decode(body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("{path}: the body is not a protobuf export request: {e}"),
            )
        }),
        Encoding::Json => serde_json::from_slice::<Req>(&body).map_err(|e| {
            (
                StatusCode::BAD_REQUEST,
                format!("{path}: the body is not an OTLP/JSON export request: {e}"),
            )
        }),
    });
    match decoded {
        Ok(req) => {
            if shared.offer(batch(req)) {
                match encoding {
                    Encoding::Protobuf => protobuf(StatusCode::OK, Resp::default().encode_to_vec()),
                    // The export response's JSON form with no partial success: an empty object.
                    Encoding::Json => json(StatusCode::OK, b"{}".to_vec()),
                }
            } else {
                behind(encoding)
            }
        }
        Err((status, message)) => {
            shared.offer(Batch::Invalid {
                transport: "http",
                message: message.clone(),
            });
            // google.rpc.Code INVALID_ARGUMENT.
            http_error(status, 3, message, encoding)
        }
    }
}

async fn http_traces(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    http_export::<ExportTraceServiceRequest, ExportTraceServiceResponse>(
        &s,
        "/v1/traces",
        &headers,
        body,
        Batch::Traces,
    )
}

async fn http_logs(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    http_export::<ExportLogsServiceRequest, ExportLogsServiceResponse>(
        &s,
        "/v1/logs",
        &headers,
        body,
        Batch::Logs,
    )
}

async fn http_metrics(State(s): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    http_export::<ExportMetricsServiceRequest, ExportMetricsServiceResponse>(
        &s,
        "/v1/metrics",
        &headers,
        body,
        Batch::Metrics,
    )
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    async fn post(
        addr: SocketAddr,
        path: &str,
        content_type: &str,
        encoding: Option<&str>,
        body: Vec<u8>,
    ) -> (u16, Vec<u8>) {
        let mut req = reqwest::Client::new()
            .post(format!("http://{addr}{path}"))
            .header("content-type", content_type)
            .body(body);
        if let Some(e) = encoding {
            req = req.header("content-encoding", e);
        }
        let resp = req.send().await.expect("the receiver answers");
        let status = resp.status().as_u16();
        (status, resp.bytes().await.unwrap().to_vec())
    }

    fn traces() -> Vec<u8> {
        ExportTraceServiceRequest::default().encode_to_vec()
    }

    #[tokio::test]
    async fn http_exports_are_answered_as_the_otlp_specification_says() {
        let (receiver, mut rx) = start(None, Some("127.0.0.1:0")).await.unwrap();
        let addr = receiver.http_addr().unwrap();
        assert_eq!(receiver.grpc_addr(), None);

        let (status, body) =
            post(addr, "/v1/traces", "application/x-protobuf", None, traces()).await;
        assert_eq!((status, body.len()), (200, 0));
        assert!(matches!(rx.recv().await, Some(Batch::Traces(_))));

        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&ExportLogsServiceRequest::default().encode_to_vec())
            .unwrap();
        let (status, _) = post(
            addr,
            "/v1/logs",
            "application/x-protobuf",
            Some("gzip"),
            gz.finish().unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert!(matches!(rx.recv().await, Some(Batch::Logs(_))));

        let (status, _) = post(addr, "/v1/metrics", "application/x-protobuf", None, vec![]).await;
        assert_eq!(status, 200);
        assert!(matches!(rx.recv().await, Some(Batch::Metrics(_))));

        let (status, body) =
            post(addr, "/v1/traces", "application/json", None, b"{}".to_vec()).await;
        assert_eq!((status, &body[..]), (200, &b"{}"[..]));
        assert!(matches!(rx.recv().await, Some(Batch::Traces(_))));
        let (status, body) =
            post(addr, "/v1/traces", "application/json", None, b"{[".to_vec()).await;
        assert_eq!(status, 400);
        let why: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            why["message"].as_str().unwrap().contains("OTLP/JSON"),
            "{why}"
        );
        assert!(matches!(rx.recv().await, Some(Batch::Invalid { .. })));

        let (status, body) = post(addr, "/v1/traces", "text/plain", None, b"{}".to_vec()).await;
        assert_eq!(status, 415);
        let why = RpcStatus::decode(&body[..]).unwrap();
        assert!(why.message.contains("text/plain"), "{why:?}");
        assert!(matches!(
            rx.recv().await,
            Some(Batch::Invalid {
                transport: "http",
                ..
            })
        ));

        let (status, body) = post(
            addr,
            "/v1/traces",
            "application/x-protobuf",
            None,
            vec![0xff; 7],
        )
        .await;
        assert_eq!(status, 400);
        assert!(RpcStatus::decode(&body[..])
            .unwrap()
            .message
            .contains("/v1/traces"));
        assert!(matches!(rx.recv().await, Some(Batch::Invalid { .. })));

        let (status, _) = post(
            addr,
            "/v1/traces",
            "application/x-protobuf",
            Some("gzip"),
            vec![1, 2, 3],
        )
        .await;
        assert_eq!(status, 400);
        let (status, _) = post(
            addr,
            "/v1/traces",
            "application/x-protobuf",
            Some("br"),
            traces(),
        )
        .await;
        assert_eq!(status, 415);
        let (status, _) = post(addr, "/v1/nope", "application/x-protobuf", None, traces()).await;
        assert_eq!(status, 404);

        receiver.shutdown().await;
        let mut rest = 0;
        while rx.recv().await.is_some() {
            rest += 1;
        }
        assert_eq!(rest, 2, "the two refused encodings, then the channel ends");
    }

    /// Sends raw bytes as a gRPC message (what a broken exporter might send).
    #[derive(Clone, Copy)]
    struct RawCodec;
    struct RawEncoder;
    struct RawDecoder;

    impl tonic::codec::Encoder for RawEncoder {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn encode(
            &mut self,
            item: Vec<u8>,
            dst: &mut tonic::codec::EncodeBuf<'_>,
        ) -> Result<(), tonic::Status> {
            use prost::bytes::BufMut as _;
            dst.put_slice(&item);
            Ok(())
        }
    }

    impl tonic::codec::Decoder for RawDecoder {
        type Item = Vec<u8>;
        type Error = tonic::Status;
        fn decode(
            &mut self,
            src: &mut tonic::codec::DecodeBuf<'_>,
        ) -> Result<Option<Vec<u8>>, tonic::Status> {
            use prost::bytes::Buf as _;
            let mut out = vec![0; src.remaining()];
            src.copy_to_slice(&mut out);
            Ok(Some(out))
        }
    }

    impl tonic::codec::Codec for RawCodec {
        type Encode = Vec<u8>;
        type Decode = Vec<u8>;
        type Encoder = RawEncoder;
        type Decoder = RawDecoder;
        fn encoder(&mut self) -> RawEncoder {
            RawEncoder
        }
        fn decoder(&mut self) -> RawDecoder {
            RawDecoder
        }
    }

    #[tokio::test]
    async fn grpc_exports_are_queued_and_undecodable_ones_reported() {
        let (receiver, mut rx) = start(Some("127.0.0.1:0"), None).await.unwrap();
        let addr = receiver.grpc_addr().unwrap();
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = tonic::client::Grpc::new(channel);
        let path = axum::http::uri::PathAndQuery::from_static(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
        );
        client.ready().await.unwrap();
        let ok = client
            .unary(tonic::Request::new(traces()), path.clone(), RawCodec)
            .await;
        assert!(ok.is_ok(), "{ok:?}");
        assert!(matches!(rx.recv().await, Some(Batch::Traces(_))));

        client.ready().await.unwrap();
        let bad = client
            .unary(tonic::Request::new(vec![0xff; 7]), path, RawCodec)
            .await;
        assert!(bad.is_err(), "{bad:?}");
        match rx.recv().await {
            Some(Batch::Invalid { transport, message }) => {
                assert_eq!(transport, "grpc");
                assert!(message.contains("TraceService/Export"), "{message}");
            }
            other => panic!("expected an invalid batch, got {other:?}"),
        }
        receiver.shutdown().await;
    }

    #[tokio::test]
    async fn a_full_queue_refuses_exports_and_counts_them() {
        let (receiver, mut rx) = start(None, Some("127.0.0.1:0")).await.unwrap();
        let addr = receiver.http_addr().unwrap();
        for _ in 0..QUEUE {
            let (status, _) =
                post(addr, "/v1/traces", "application/x-protobuf", None, traces()).await;
            assert_eq!(status, 200);
        }
        assert_eq!(receiver.dropped(), 0);
        let (status, _) = post(addr, "/v1/traces", "application/x-protobuf", None, traces()).await;
        assert_eq!(status, 503);
        assert_eq!(receiver.dropped(), 1);
        // Once the checker catches up, exports are accepted again.
        assert!(rx.recv().await.is_some());
        let (status, _) = post(addr, "/v1/traces", "application/x-protobuf", None, traces()).await;
        assert_eq!(status, 200);
        assert_eq!(receiver.shutdown().await, 1, "the final count of refusals");
    }

    #[tokio::test]
    async fn shutdown_ends_the_channel_while_a_client_holds_a_request_open() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let (receiver, mut rx) = start(None, Some("127.0.0.1:0")).await.unwrap();
        let addr = receiver.http_addr().unwrap();
        let dropped = receiver.dropped.clone();
        // Five empty `resource_spans`: a valid export, sent in two parts.
        let body = [0x0a, 0x00].repeat(5);
        let mut held = tokio::net::TcpStream::connect(addr).await.unwrap();
        let head = format!(
            "POST /v1/traces HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-protobuf\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        held.write_all(head.as_bytes()).await.unwrap();
        held.write_all(&body[..4]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;

        // The server waits for the request, gives up after the grace; the channel ends anyway.
        let ended = tokio::time::timeout(Duration::from_secs(3), async {
            let refused = receiver.shutdown_within(Duration::from_millis(200)).await;
            assert_eq!(refused, 0);
            while rx.recv().await.is_some() {}
        })
        .await;
        assert!(
            ended.is_ok(),
            "the channel did not end while a request was open"
        );

        // The request, finished after shutdown, is refused and counted: nothing is queued late.
        held.write_all(&body[4..]).await.unwrap();
        let mut answer = vec![0; 12];
        held.read_exact(&mut answer).await.unwrap();
        assert_eq!(
            &answer[..],
            b"HTTP/1.1 503",
            "{}",
            String::from_utf8_lossy(&answer)
        );
        assert_eq!(dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn the_queue_holds_at_most_256_mib_of_exports() {
        const { assert!(QUEUE * MAX_EXPORT_BYTES <= 256 << 20) };
    }

    #[tokio::test]
    async fn a_taken_address_is_named_with_the_flag_to_change() {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = taken.local_addr().unwrap().to_string();
        let e = start(Some(&addr), None).await.unwrap_err().to_string();
        assert!(
            e.contains(&format!("cannot listen for OTLP/gRPC on '{addr}'")),
            "{e}"
        );
        assert!(e.contains("--otlp "), "{e}");
        let e = start(None, Some(&addr)).await.unwrap_err().to_string();
        assert!(e.contains("OTLP/HTTP") && e.contains("--otlp-http"), "{e}");
    }
}
