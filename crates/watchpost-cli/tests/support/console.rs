//! Shared by the `console_*` tests: the real `watchpost console` command started on free ports,
//! its JSON API, and OTLP sent to it over gRPC, HTTP/protobuf and HTTP/JSON.
#![allow(dead_code)] // each test uses a part

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use opentelemetry_proto::tonic::collector::logs::v1::logs_service_client::LogsServiceClient;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_client::TraceServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::metrics::v1::{
    exemplar, metric, number_data_point, Exemplar, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{status, ResourceSpans, ScopeSpans, Span, Status};
use serde_json::Value;
use watchpost_testkit::process::{command, Process};

/// The running command; stopped (SIGTERM) when dropped.
pub struct Console {
    pub process: Process,
    pub grpc: SocketAddr,
    pub http: SocketAddr,
    pub ui: SocketAddr,
}

/// The `watchpost console` command on free ports with `extra` flags, not started.
pub fn console_command(extra: &[&str]) -> std::process::Command {
    let mut cmd = command(env!("CARGO_BIN_EXE_watchpost"));
    cmd.args([
        "console",
        "--grpc",
        "127.0.0.1:0",
        "--http",
        "127.0.0.1:0",
        "--ui",
        "127.0.0.1:0",
    ])
    .args(extra);
    cmd
}

/// Starts `watchpost console` on free ports with `extra` flags.
pub fn start(extra: &[&str]) -> Console {
    start_command(&mut console_command(extra))
}

/// Starts `cmd` (made by [`console_command`]) and waits for its three listeners.
pub fn start_command(cmd: &mut std::process::Command) -> Console {
    let process = Process::spawn(cmd, "watchpost console");
    let [grpc, http, ui] = process.listeners(
        "watchpost console",
        [
            "watchpost console: OTLP gRPC on ",
            "watchpost console: OTLP HTTP on ",
            "watchpost console: open http://",
        ],
    );
    Console {
        process,
        grpc,
        http,
        ui,
    }
}

impl Console {
    /// GETs an API path: (status, JSON body).
    pub fn get(&self, path: &str) -> (u16, Value) {
        let (status, _, body) = watchpost_testkit::http::get(self.ui, path, None);
        let json = serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"));
        (status, json)
    }

    /// GETs an API path that must answer 200.
    pub fn json(&self, path: &str) -> Value {
        let (status, v) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    /// Polls `path` (every 50 ms, 20 s at most) until `done` holds of its answer; returns it.
    pub fn wait_for(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let v = self.json(path);
            if done(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "GET {path} never answered as expected; last: {v:#}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Console {
    /// SIGTERM, then 10 s at most for a clean exit (code 0); a console that does not stop is
    /// killed and the test fails (unless it is failing already).
    fn drop(&mut self) {
        self.process.sigterm();
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            match self.process.child.try_wait() {
                Ok(Some(status)) => break Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = self.process.child.kill();
                    let _ = self.process.child.wait();
                    break None;
                }
            }
        };
        if std::thread::panicking() {
            return;
        }
        match status {
            None => panic!("watchpost console did not stop within 10 s of SIGTERM (killed)"),
            Some(s) => assert_eq!(s.code(), Some(0), "watchpost console exited with {s}"),
        }
    }
}

/// A string attribute.
pub fn kv(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

/// An integer attribute.
pub fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..KeyValue::default()
    }
}

/// A trace id from a small number.
pub fn trace_id(n: u8) -> [u8; 16] {
    let mut t = [0x7a; 16];
    t[15] = n;
    t
}

/// A span id from a small number.
pub fn span_id(n: u8) -> [u8; 8] {
    [0x5b, 0, 0, 0, 0, 0, 0, n]
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// Now, Unix nanoseconds.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
}

/// A span: (trace, id, parent, name, kind, start, duration in ms, attributes, error type).
#[allow(clippy::too_many_arguments)]
pub fn span(
    trace: [u8; 16],
    id: [u8; 8],
    parent: Option<[u8; 8]>,
    name: &str,
    kind: i32,
    start: u64,
    millis: u64,
    attributes: Vec<KeyValue>,
    error: Option<&str>,
) -> Span {
    let mut attributes = attributes;
    if let Some(e) = error {
        attributes.push(kv("error.type", e));
    }
    Span {
        trace_id: trace.to_vec(),
        span_id: id.to_vec(),
        parent_span_id: parent.map(|p| p.to_vec()).unwrap_or_default(),
        name: name.into(),
        kind,
        start_time_unix_nano: start,
        end_time_unix_nano: start + millis * 1_000_000,
        attributes,
        status: error.map(|e| Status {
            message: e.into(),
            code: status::StatusCode::Error as i32,
        }),
        ..Span::default()
    }
}

fn resource(service: &str, extra: Vec<KeyValue>) -> Option<Resource> {
    let mut attributes = vec![kv("service.name", service)];
    attributes.extend(extra);
    Some(Resource {
        attributes,
        ..Resource::default()
    })
}

/// One service's spans as an export.
pub fn traces(service: &str, spans: Vec<Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: resource(service, vec![]),
            scope_spans: vec![ScopeSpans {
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

/// A log record: (time, severity number, body, trace and span, attributes).
pub fn log(
    time: u64,
    severity: i32,
    body: &str,
    ids: Option<([u8; 16], [u8; 8])>,
    attributes: Vec<KeyValue>,
) -> LogRecord {
    LogRecord {
        time_unix_nano: time,
        severity_number: severity,
        body: Some(AnyValue {
            value: Some(any_value::Value::StringValue(body.into())),
        }),
        attributes,
        trace_id: ids.map(|(t, _)| t.to_vec()).unwrap_or_default(),
        span_id: ids.map(|(_, s)| s.to_vec()).unwrap_or_default(),
        ..LogRecord::default()
    }
}

/// One service's log records as an export.
pub fn logs(service: &str, records: Vec<LogRecord>) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: resource(service, vec![]),
            scope_logs: vec![ScopeLogs {
                log_records: records,
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

/// A cumulative monotonic counter `name` of `service` with points (time, value), and a
/// cumulative histogram `{name}_seconds` (bounds 0.1, 1) with points (time, counts).
pub fn metrics(
    service: &str,
    name: &str,
    counter: &[(u64, f64)],
    histogram: &[(u64, [u64; 3])],
) -> ExportMetricsServiceRequest {
    let start = counter.first().map_or(0, |p| p.0) - 1_000_000_000;
    let sum = Metric {
        name: name.into(),
        description: "Requests handled".into(),
        data: Some(metric::Data::Sum(Sum {
            data_points: counter
                .iter()
                .map(|&(t, v)| NumberDataPoint {
                    attributes: vec![kv("route", "/orders/{id}")],
                    start_time_unix_nano: start,
                    time_unix_nano: t,
                    value: Some(number_data_point::Value::AsDouble(v)),
                    ..NumberDataPoint::default()
                })
                .collect(),
            aggregation_temporality: 2,
            is_monotonic: true,
        })),
        ..Metric::default()
    };
    let hist = Metric {
        name: format!("{name}_seconds"),
        unit: "s".into(),
        data: Some(metric::Data::Histogram(Histogram {
            data_points: histogram
                .iter()
                .map(|&(t, counts)| HistogramDataPoint {
                    start_time_unix_nano: start,
                    time_unix_nano: t,
                    count: counts.iter().sum(),
                    bucket_counts: counts.to_vec(),
                    explicit_bounds: vec![0.1, 1.0],
                    ..HistogramDataPoint::default()
                })
                .collect(),
            aggregation_temporality: 2,
        })),
        ..Metric::default()
    };
    ExportMetricsServiceRequest {
        resource_metrics: vec![ResourceMetrics {
            resource: resource(service, vec![]),
            scope_metrics: vec![ScopeMetrics {
                metrics: vec![sum, hist],
                ..ScopeMetrics::default()
            }],
            ..ResourceMetrics::default()
        }],
    }
}

/// Adds an exemplar (time, value, trace, span) to histogram point `point` of a [`metrics`]
/// request.
pub fn with_exemplar(
    m: &mut ExportMetricsServiceRequest,
    point: usize,
    time: u64,
    value: f64,
    trace: [u8; 16],
    span: [u8; 8],
) {
    let Some(metric::Data::Histogram(h)) =
        &mut m.resource_metrics[0].scope_metrics[0].metrics[1].data
    else {
        panic!("metrics() puts the histogram second");
    };
    h.data_points[point].exemplars.push(Exemplar {
        time_unix_nano: time,
        value: Some(exemplar::Value::AsDouble(value)),
        trace_id: trace.to_vec(),
        span_id: span.to_vec(),
        ..Exemplar::default()
    });
}

/// Sends spans over OTLP/gRPC.
pub async fn grpc_traces(addr: SocketAddr, req: ExportTraceServiceRequest) {
    let mut client = TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect over gRPC");
    client
        .export(req)
        .await
        .expect("the gRPC export is accepted");
}

/// Sends log records over OTLP/gRPC.
pub async fn grpc_logs(addr: SocketAddr, req: ExportLogsServiceRequest) {
    let mut client = LogsServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect over gRPC");
    client
        .export(req)
        .await
        .expect("the gRPC export is accepted");
}

/// POSTs a body to the OTLP/HTTP receiver; returns the status.
pub async fn post(addr: SocketAddr, path: &str, content_type: &str, body: Vec<u8>) -> u16 {
    reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the OTLP/HTTP receiver answers")
        .status()
        .as_u16()
}

/// POSTs a protobuf export.
pub async fn post_protobuf(addr: SocketAddr, path: &str, msg: &impl prost::Message) -> u16 {
    post(addr, path, "application/x-protobuf", msg.encode_to_vec()).await
}
