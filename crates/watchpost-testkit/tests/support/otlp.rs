//! An in-process OTLP gRPC receiver (tonic server generated from the official
//! opentelemetry-proto definitions) that records what it receives and can misbehave on demand.
#![allow(dead_code)]

use std::net::SocketAddr;
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    Unavailable,
    ResourceExhausted,
    /// Accepts, after this long (a slow collector).
    Slow(std::time::Duration),
}

#[derive(Debug, Default)]
pub struct Received {
    pub spans: Vec<Span>,
    pub logs: Vec<LogRecord>,
    pub metrics: Vec<Metric>,
    pub service_names: Vec<String>,
}

#[derive(Clone)]
struct State {
    received: Arc<Mutex<Received>>,
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
        let mut r = self.received.lock().unwrap();
        for rs in req.into_inner().resource_spans {
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
        let mut r = self.received.lock().unwrap();
        for rl in req.into_inner().resource_logs {
            for sl in rl.scope_logs {
                r.logs.extend(sl.log_records);
            }
        }
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
        let mut r = self.received.lock().unwrap();
        for rm in req.into_inner().resource_metrics {
            for sm in rm.scope_metrics {
                r.metrics.extend(sm.metrics);
            }
        }
        Ok(Response::new(ExportMetricsServiceResponse::default()))
    }
}

pub struct Receiver {
    pub addr: SocketAddr,
    pub received: Arc<Mutex<Received>>,
    mode: Arc<Mutex<Mode>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Receiver {
    /// Starts on `addr` (port 0 for any), keeping what an earlier receiver received if given.
    pub async fn start(addr: SocketAddr, received: Option<Arc<Mutex<Received>>>) -> Receiver {
        Self::start_with(addr, received, None).await
    }

    /// Starts serving TLS with this certificate chain and key (PEM).
    pub async fn start_tls(addr: SocketAddr, cert_pem: &str, key_pem: &str) -> Receiver {
        let identity = tonic::transport::Identity::from_pem(cert_pem, key_pem);
        Self::start_with(addr, None, Some(identity)).await
    }

    async fn start_with(
        addr: SocketAddr,
        received: Option<Arc<Mutex<Received>>>,
        tls: Option<tonic::transport::Identity>,
    ) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().unwrap();
        let state = State {
            received: received.unwrap_or_default(),
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
            mode: state.mode,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

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

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
