//! A real OTLP gRPC receiver (the tonic services generated from the official opentelemetry-proto
//! definitions) that counts what it receives, collects it unless told not to, and can misbehave
//! on demand.

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
use opentelemetry_proto::tonic::logs::v1::LogRecord;
use opentelemetry_proto::tonic::metrics::v1::Metric;
use opentelemetry_proto::tonic::trace::v1::Span;
use tonic::{Request, Response, Status};

/// How the receiver answers exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Accepts at once.
    Accept,
    /// Refuses with UNAVAILABLE.
    Unavailable,
    /// Refuses with RESOURCE_EXHAUSTED.
    ResourceExhausted,
    /// Accepts, after this long (a slow collector).
    Slow(std::time::Duration),
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
    /// The `service.name` of each span batch's resource that has one.
    pub service_names: Vec<String>,
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
}

#[derive(Clone)]
struct State {
    received: Arc<Mutex<Received>>,
    counts: Arc<Counts>,
    /// Keep what arrives in `received` (else only count it).
    collect: bool,
    mode: Arc<Mutex<Mode>>,
}

impl State {
    async fn check(&self) -> Result<(), Status> {
        let mode = *self.mode.lock().unwrap();
        match mode {
            Mode::Accept => Ok(()),
            Mode::Slow(d) => {
                tokio::time::sleep(d).await;
                Ok(())
            }
            Mode::Unavailable => Err(Status::unavailable("receiver told to be unavailable")),
            Mode::ResourceExhausted => Err(Status::resource_exhausted("receiver told to be full")),
        }
    }
}

fn service_name(attrs: &[opentelemetry_proto::tonic::common::v1::KeyValue]) -> Option<String> {
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

#[tonic::async_trait]
impl TraceService for State {
    async fn export(
        &self,
        req: Request<ExportTraceServiceRequest>,
    ) -> Result<Response<ExportTraceServiceResponse>, Status> {
        self.check().await?;
        let resource_spans = req.into_inner().resource_spans;
        let n = resource_spans
            .iter()
            .flat_map(|rs| &rs.scope_spans)
            .map(|ss| ss.spans.len() as u64)
            .sum();
        self.counts.spans.fetch_add(n, Ordering::Relaxed);
        if self.collect {
            let mut r = self.received.lock().unwrap();
            for rs in resource_spans {
                if let Some(n) = rs
                    .resource
                    .as_ref()
                    .and_then(|r| service_name(&r.attributes))
                {
                    r.service_names.push(n);
                }
                for ss in rs.scope_spans {
                    r.spans.extend(ss.spans);
                }
            }
        }
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
        let records = req
            .into_inner()
            .resource_logs
            .into_iter()
            .flat_map(|rl| rl.scope_logs)
            .flat_map(|sl| sl.log_records);
        self.collect_into(records, &self.counts.logs, |r| &mut r.logs);
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
        let metrics = req
            .into_inner()
            .resource_metrics
            .into_iter()
            .flat_map(|rm| rm.scope_metrics)
            .flat_map(|sm| sm.metrics);
        self.collect_into(metrics, &self.counts.metrics, |r| &mut r.metrics);
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

impl State {
    /// Counts `items` in `count`, and keeps them in the list `list` picks when collecting.
    fn collect_into<T>(
        &self,
        items: impl Iterator<Item = T>,
        count: &AtomicU64,
        list: impl FnOnce(&mut Received) -> &mut Vec<T>,
    ) {
        if self.collect {
            let mut r = self.received.lock().unwrap();
            let list = list(&mut r);
            let before = list.len();
            list.extend(items);
            count.fetch_add((list.len() - before) as u64, Ordering::Relaxed);
        } else {
            count.fetch_add(items.count() as u64, Ordering::Relaxed);
        }
    }
}

/// A running receiver (traces, logs and metrics services on one address).
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it has collected (empty for [`Receiver::start_counting`]).
    pub received: Arc<Mutex<Received>>,
    /// How much it has accepted.
    pub counts: Arc<Counts>,
    mode: Arc<Mutex<Mode>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Starts collecting on `addr` (port 0 for any), adding to what an earlier receiver received
    /// if given. Serves on the current tokio runtime until stopped or dropped.
    pub async fn start(addr: SocketAddr, received: Option<Arc<Mutex<Received>>>) -> Receiver {
        Self::start_with(addr, received, true, None).await
    }

    /// Starts collecting, serving TLS with this certificate chain and key (PEM).
    pub async fn start_tls(addr: SocketAddr, cert_pem: &str, key_pem: &str) -> Receiver {
        let identity = tonic::transport::Identity::from_pem(cert_pem, key_pem);
        Self::start_with(addr, None, true, Some(identity)).await
    }

    /// Starts counting only ([`Receiver::counts`]; nothing is kept): for load that would fill
    /// memory.
    pub async fn start_counting(addr: SocketAddr) -> Receiver {
        Self::start_with(addr, None, false, None).await
    }

    async fn start_with(
        addr: SocketAddr,
        received: Option<Arc<Mutex<Received>>>,
        collect: bool,
        tls: Option<tonic::transport::Identity>,
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
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let s = state.clone();
        let task = tokio::spawn(async move {
            let mut server = tonic::transport::Server::builder();
            if let Some(identity) = tls {
                server = server
                    .tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))
                    .expect("TLS config");
            }
            let _ = server
                .add_service(TraceServiceServer::new(s.clone()))
                .add_service(LogsServiceServer::new(s.clone()))
                .add_service(MetricsServiceServer::new(s))
                .serve_with_incoming_shutdown(
                    tonic::transport::server::TcpIncoming::from(listener),
                    async {
                        let _ = stopped.await;
                    },
                )
                .await;
        });
        Receiver {
            addr,
            received: state.received,
            counts: state.counts,
            mode: state.mode,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Changes how it answers from the next export on.
    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
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
