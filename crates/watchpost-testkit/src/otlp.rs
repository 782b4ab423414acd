//! A real OTLP receiver built from the official opentelemetry-proto definitions: over gRPC (the
//! generated tonic services) or over HTTP/protobuf (`/v1/traces`, `/v1/metrics`, `/v1/logs`, in
//! `otlp_http.rs`), both accepting gzip. It counts what it receives, collects it unless told not
//! to (with each request's headers and each batch's resource), and can misbehave on demand.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

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
use opentelemetry_proto::tonic::common::v1::KeyValue;
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

#[path = "otlp_http.rs"]
mod over_http;

/// How the receiver answers exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts at once.
    Accept,
    /// Refuses with UNAVAILABLE (HTTP: 503).
    Unavailable,
    /// Refuses with RESOURCE_EXHAUSTED (HTTP: 429).
    ResourceExhausted,
    /// Accepts, after this long (a slow collector).
    Slow(std::time::Duration),
    /// Refuses the next export with RESOURCE_EXHAUSTED (HTTP: 429) and asks the sender to wait
    /// this long (gRPC: a `google.rpc.RetryInfo` in the status's details; HTTP: `Retry-After`,
    /// whole seconds), then accepts.
    ThrottleOnce(std::time::Duration),
    /// Holds every export (does not answer) until the mode is changed, then answers it as the
    /// new mode says: [`Counts::held`] tells how many wait, [`Counts::most_held`] the most
    /// that ever waited at once (the sender's exports in flight).
    Hold,
}

/// One signal, as the receiver files what it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Spans.
    Traces,
    /// Metrics.
    Metrics,
    /// Log records.
    Logs,
}

/// One export request that was accepted: how it came and its headers.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    /// `grpc` or `http`.
    pub transport: &'static str,
    /// What it carried.
    pub signal: Signal,
    /// Its headers (gRPC: its metadata), names in lower case, in the order they came.
    pub headers: Vec<(String, String)>,
}

impl ExportRequest {
    /// The value of header `name` (lower case), if it came.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The resource of one batch of items (a `ResourceSpans`, `ResourceMetrics` or `ResourceLogs`).
#[derive(Debug, Clone)]
pub struct ReceivedResource {
    /// The batch's signal.
    pub signal: Signal,
    /// How many spans, metrics or log records the batch held.
    pub items: usize,
    /// The resource's attributes (none when the batch had no resource).
    pub attributes: Vec<KeyValue>,
}

/// What a collecting receiver has accepted.
#[derive(Debug, Default)]
pub struct Received {
    /// Every span.
    pub spans: Vec<Span>,
    /// Every log record.
    pub logs: Vec<LogRecord>,
    /// Every metric.
    pub metrics: Vec<Metric>,
    /// Every metrics request, whole (resource, scopes, metrics, as decoded).
    pub metric_requests: Vec<ExportMetricsServiceRequest>,
    /// The `service.name` of each span batch's resource that has one.
    pub service_names: Vec<String>,
    /// Every accepted request, with its headers.
    pub requests: Vec<ExportRequest>,
    /// The resource of every batch of every signal.
    pub resources: Vec<ReceivedResource>,
}

/// How many items of each signal the receiver has accepted (counted also when not collected).
#[derive(Debug, Default)]
pub struct Counts {
    /// Spans.
    pub spans: AtomicU64,
    /// Log records.
    pub logs: AtomicU64,
    /// Metrics.
    pub metrics: AtomicU64,
    /// Exports held now ([`Mode::Hold`]).
    pub held: AtomicU64,
    /// The most exports held at once.
    pub most_held: AtomicU64,
}

#[derive(Clone)]
struct State {
    received: Arc<Mutex<Received>>,
    counts: Arc<Counts>,
    /// Keep what arrives in `received` (else only count it).
    collect: bool,
    mode: Arc<Mutex<Mode>>,
    /// Woken when the mode changes (releases held exports).
    changed: Arc<tokio::sync::Notify>,
}

/// An encoded `google.rpc.Status` (code 8, RESOURCE_EXHAUSTED) whose details hold one
/// `google.rpc.RetryInfo` asking to wait `wait`: what a collector sends in
/// `grpc-status-details-bin` when it throttles.
fn retry_info_status(wait: std::time::Duration) -> Vec<u8> {
    use prost::Message as _;
    #[derive(Clone, PartialEq, prost::Message)]
    struct Duration {
        #[prost(int64, tag = "1")]
        seconds: i64,
        #[prost(int32, tag = "2")]
        nanos: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        retry_delay: Option<Duration>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct Any {
        #[prost(string, tag = "1")]
        type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        value: Vec<u8>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    struct RpcStatus {
        #[prost(int32, tag = "1")]
        code: i32,
        #[prost(string, tag = "2")]
        message: String,
        #[prost(message, repeated, tag = "3")]
        details: Vec<Any>,
    }
    let info = RetryInfo {
        retry_delay: Some(Duration {
            seconds: wait.as_secs() as i64,
            nanos: wait.subsec_nanos() as i32,
        }),
    };
    RpcStatus {
        code: 8,
        message: "receiver told to throttle".into(),
        details: vec![Any {
            type_url: "type.googleapis.com/google.rpc.RetryInfo".into(),
            value: info.encode_to_vec(),
        }],
    }
    .encode_to_vec()
}

/// Why the receiver refuses an export (its [`Mode`]).
enum Refusal {
    Unavailable,
    Exhausted,
    /// Full, and the sender is told to wait this long.
    Throttled(std::time::Duration),
}

impl State {
    /// Waits or refuses as the mode says.
    async fn verdict(&self) -> Result<(), Refusal> {
        self.hold().await;
        let mode = {
            let mut m = self.mode.lock().unwrap();
            let now = *m;
            if let Mode::ThrottleOnce(_) = now {
                *m = Mode::Accept;
            }
            now
        };
        match mode {
            Mode::ThrottleOnce(wait) => Err(Refusal::Throttled(wait)),
            Mode::Accept => Ok(()),
            Mode::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Mode::Unavailable => Err(Refusal::Unavailable),
            Mode::ResourceExhausted => Err(Refusal::Exhausted),
            Mode::Hold => Ok(()),
        }
    }

    /// Waits while the mode is [`Mode::Hold`], counted in [`Counts::held`].
    async fn hold(&self) {
        if *self.mode.lock().unwrap() != Mode::Hold {
            return;
        }
        let now = self.counts.held.fetch_add(1, Ordering::SeqCst) + 1;
        self.counts.most_held.fetch_max(now, Ordering::SeqCst);
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if *self.mode.lock().unwrap() != Mode::Hold {
                break;
            }
            changed.await;
        }
        self.counts.held.fetch_sub(1, Ordering::SeqCst);
    }

    async fn check(&self) -> Result<(), Status> {
        self.verdict().await.map_err(|r| match r {
            Refusal::Unavailable => Status::unavailable("receiver told to be unavailable"),
            Refusal::Exhausted => Status::resource_exhausted("receiver told to be full"),
            Refusal::Throttled(wait) => Status::with_details(
                tonic::Code::ResourceExhausted,
                "receiver told to throttle",
                retry_info_status(wait).into(),
            ),
        })
    }

    /// Counts and (when collecting) keeps an accepted request's spans.
    fn traces(&self, req: ExportTraceServiceRequest, request: ExportRequest) {
        let n = (req.resource_spans.iter())
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len() as u64)
            .sum();
        self.counts.spans.fetch_add(n, Ordering::Relaxed);
        if !self.collect {
            return;
        }
        let mut r = self.received.lock().unwrap();
        r.requests.push(request);
        for rs in req.resource_spans {
            if let Some(n) = rs
                .resource
                .as_ref()
                .and_then(|r| service_name(&r.attributes))
            {
                r.service_names.push(n);
            }
            let items = rs.scope_spans.iter().map(|ss| ss.spans.len()).sum();
            r.resources
                .push(resource(Signal::Traces, items, rs.resource));
            for ss in rs.scope_spans {
                r.spans.extend(ss.spans);
            }
        }
    }

    /// Counts and (when collecting) keeps an accepted request's log records.
    fn logs(&self, req: ExportLogsServiceRequest, request: ExportRequest) {
        let n = (req.resource_logs.iter())
            .flat_map(|rl| &rl.scope_logs)
            .map(|sl| sl.log_records.len() as u64)
            .sum();
        self.counts.logs.fetch_add(n, Ordering::Relaxed);
        if !self.collect {
            return;
        }
        let mut r = self.received.lock().unwrap();
        r.requests.push(request);
        for rl in req.resource_logs {
            let items = rl.scope_logs.iter().map(|sl| sl.log_records.len()).sum();
            r.resources.push(resource(Signal::Logs, items, rl.resource));
            for sl in rl.scope_logs {
                r.logs.extend(sl.log_records);
            }
        }
    }

    /// Counts and (when collecting) keeps an accepted request's metrics.
    fn metrics(&self, req: ExportMetricsServiceRequest, request: ExportRequest) {
        let n = (req.resource_metrics.iter())
            .flat_map(|rm| &rm.scope_metrics)
            .map(|sm| sm.metrics.len() as u64)
            .sum();
        self.counts.metrics.fetch_add(n, Ordering::Relaxed);
        if !self.collect {
            return;
        }
        let mut r = self.received.lock().unwrap();
        r.requests.push(request);
        r.metric_requests.push(req.clone());
        for rm in req.resource_metrics {
            let items = rm.scope_metrics.iter().map(|sm| sm.metrics.len()).sum();
            r.resources
                .push(resource(Signal::Metrics, items, rm.resource));
            for sm in rm.scope_metrics {
                r.metrics.extend(sm.metrics);
            }
        }
    }
}

fn resource(signal: Signal, items: usize, resource: Option<Resource>) -> ReceivedResource {
    ReceivedResource {
        signal,
        items,
        attributes: resource.map(|r| r.attributes).unwrap_or_default(),
    }
}

fn service_name(attrs: &[KeyValue]) -> Option<String> {
    attrs
        .iter()
        .find(|kv| kv.key == "service.name")
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(s) => {
                Some(s.clone())
            }
            _ => None,
        })
}

/// A gRPC request's metadata as an [`ExportRequest`].
fn grpc_request<T>(req: &Request<T>, signal: Signal) -> ExportRequest {
    ExportRequest {
        transport: "grpc",
        signal,
        headers: header_pairs(req.metadata().clone().into_headers().iter()),
    }
}

/// Header pairs, names lower case, values as text (lossily).
fn header_pairs<'h>(
    headers: impl Iterator<Item = (&'h axum::http::HeaderName, &'h axum::http::HeaderValue)>,
) -> Vec<(String, String)> {
    headers
        .map(|(k, v)| {
            let v = String::from_utf8_lossy(v.as_bytes()).into_owned();
            (k.as_str().to_ascii_lowercase(), v)
        })
        .collect()
}

#[tonic::async_trait]
impl TraceService for State {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.check().await?;
        let request = grpc_request(&req, Signal::Traces);
        self.traces(req.into_inner(), request);
        Ok(Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl LogsService for State {
    async fn export(
        &self,
        req: Request<ExportLogsServiceRequest>,
    ) -> Result<Response<ExportLogsServiceResponse>, Status> {
        self.check().await?;
        let request = grpc_request(&req, Signal::Logs);
        self.logs(req.into_inner(), request);
        Ok(Response::new(ExportLogsServiceResponse::default()))
    }
}

#[tonic::async_trait]
impl MetricsService for State {
    async fn export(
        &self,
        req: Request<ExportMetricsServiceRequest>,
    ) -> Result<Response<ExportMetricsServiceResponse>, Status> {
        self.check().await?;
        let request = grpc_request(&req, Signal::Metrics);
        self.metrics(req.into_inner(), request);
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

/// How a receiver is reached.
enum Transport {
    /// gRPC, with TLS when an identity is given.
    Grpc(Option<tonic::transport::Identity>),
    /// HTTP/protobuf, over TLS when a configuration is given.
    Http(Option<rustls::ServerConfig>),
}

/// A running receiver (traces, logs and metrics on one address, over one transport).
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it has collected (empty for [`Receiver::start_counting`]).
    pub received: Arc<Mutex<Received>>,
    /// How much it has accepted.
    pub counts: Arc<Counts>,
    mode: Arc<Mutex<Mode>>,
    changed: Arc<tokio::sync::Notify>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Starts collecting OTLP/gRPC on `addr` (port 0 for any), adding to what an earlier
    /// receiver received if given. Serves on the current tokio runtime until stopped or dropped.
    pub async fn start(addr: SocketAddr, received: Option<Arc<Mutex<Received>>>) -> Receiver {
        Self::start_with(addr, received, true, Transport::Grpc(None)).await
    }

    /// Starts collecting OTLP/HTTP with protobuf bodies on `addr`: `POST /v1/traces`,
    /// `/v1/metrics` and `/v1/logs` ([`Receiver::url`] is the base endpoint). A body that is
    /// not `application/x-protobuf` gets 415, one that cannot be decoded 400; gzip is accepted.
    pub async fn start_http(addr: SocketAddr, received: Option<Arc<Mutex<Received>>>) -> Receiver {
        Self::start_with(addr, received, true, Transport::Http(None)).await
    }

    /// Starts collecting OTLP/HTTP over TLS with this certificate chain and key (PEM): the base
    /// endpoint is `https://localhost:<port>` for a certificate of `localhost`.
    pub async fn start_http_tls(addr: SocketAddr, cert_pem: &str, key_pem: &str) -> Receiver {
        let tls = over_http::server_config(cert_pem, key_pem);
        Self::start_with(addr, None, true, Transport::Http(Some(tls))).await
    }

    /// Starts collecting, serving gRPC over TLS with this certificate chain and key (PEM).
    pub async fn start_tls(addr: SocketAddr, cert_pem: &str, key_pem: &str) -> Receiver {
        let identity = tonic::transport::Identity::from_pem(cert_pem, key_pem);
        Self::start_with(addr, None, true, Transport::Grpc(Some(identity))).await
    }

    /// Starts counting only over gRPC ([`Receiver::counts`]; nothing is kept): for load that
    /// would fill memory.
    pub async fn start_counting(addr: SocketAddr) -> Receiver {
        Self::start_with(addr, None, false, Transport::Grpc(None)).await
    }

    async fn start_with(
        addr: SocketAddr,
        received: Option<Arc<Mutex<Received>>>,
        collect: bool,
        transport: Transport,
    ) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let state = State {
            received: received.unwrap_or_default(),
            counts: Arc::default(),
            collect,
            mode: Arc::new(Mutex::new(Mode::Accept)),
            changed: Arc::default(),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s = state.clone();
        let stopped = async {
            let _ = stopped.await;
        };
        let task = match transport {
            Transport::Http(None) => tokio::spawn(over_http::serve(listener, s, stopped)),
            Transport::Http(Some(tls)) => {
                tokio::spawn(over_http::serve_tls(listener, s, stopped, tls))
            }
            Transport::Grpc(tls) => tokio::spawn(async move {
                let mut server = tonic::transport::Server::builder();
                if let Some(identity) = tls {
                    server = server
                        .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
                        .expect("TLS config");
                }
                let gzip = CompressionEncoding::Gzip;
                let _ = server
                    .add_service(TraceServiceServer::new(s.clone()).accept_compressed(gzip))
                    .add_service(LogsServiceServer::new(s.clone()).accept_compressed(gzip))
                    .add_service(MetricsServiceServer::new(s).accept_compressed(gzip))
                    .serve_with_incoming_shutdown(
                        tonic::transport::server::TcpIncoming::from(listener),
                        stopped,
                    )
                    .await;
            }),
        };
        Receiver {
            addr,
            received: state.received,
            counts: state.counts,
            mode: state.mode,
            changed: state.changed,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The base endpoint to export to: `http://<addr>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Changes how it answers from the next export on.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
        self.changed.notify_waiters();
    }

    /// Stops serving and returns what it collected.
    pub async fn stop(mut self) -> Arc<Mutex<Received>> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
        self.received.clone()
    }
}

/// A TCP listener that accepts connections and never answers (a black-holed collector).
pub async fn black_hole(addr: SocketAddr) -> tokio::task::JoinHandle<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .expect("bind black hole");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    })
}

/// Lower-case hex of an id's bytes (a trace or span id as W3C writes it).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An OTLP attribute with a string value.
pub fn str_attr(key: &str, value: &str) -> opentelemetry_proto::tonic::common::v1::KeyValue {
    attr(
        key,
        opentelemetry_proto::tonic::common::v1::any_value::Value::StringValue(value.to_owned()),
    )
}

/// An OTLP attribute with an integer value.
pub fn int_attr(key: &str, value: i64) -> opentelemetry_proto::tonic::common::v1::KeyValue {
    attr(
        key,
        opentelemetry_proto::tonic::common::v1::any_value::Value::IntValue(value),
    )
}

/// An OTLP attribute.
pub fn attr(
    key: &str,
    value: opentelemetry_proto::tonic::common::v1::any_value::Value,
) -> opentelemetry_proto::tonic::common::v1::KeyValue {
    opentelemetry_proto::tonic::common::v1::KeyValue {
        key: key.to_owned(),
        value: Some(opentelemetry_proto::tonic::common::v1::AnyValue { value: Some(value) }),
        ..Default::default()
    }
}

/// The value of attribute `key` in a received span's, event's or log record's attributes.
pub fn attr_value(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<opentelemetry_proto::tonic::common::v1::any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.clone())
}

/// [`attr_value`] as text: a string as it is, an integer in decimal; `None` for other types.
pub fn attr_text(
    attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
    key: &str,
) -> Option<String> {
    use opentelemetry_proto::tonic::common::v1::any_value::Value;
    match attr_value(attrs, key)? {
        Value::StringValue(s) => Some(s),
        Value::IntValue(i) => Some(i.to_string()),
        _ => None,
    }
}
