//! Builds the three OTLP exporters from their [`OtlpTarget`]s, each over gRPC (tonic) or
//! HTTP/protobuf (hyper, `http_client.rs`): endpoint, headers (gRPC metadata or HTTP headers),
//! compression, timeout and TLS (for an `https` URL: the system's roots and the CA file).
//! Spans and log records are encoded by us (`encode_*.rs`) and sent by `send.rs` over a tonic
//! channel or the hyper client built here; metrics too, as the request `encode_metrics.rs`
//! builds (the SDK's conversion, with our exemplars).
//!
//! Each signal's exporter is built on its own: one that cannot be built (its error names the
//! signal and the input its endpoint or CA file came from) leaves the others exporting.
//!
//! Only the target is read: no exporter here looks at the process environment (the
//! `OTEL_EXPORTER_OTLP_*` variables reach export through the configuration alone, so a
//! configuration built from other variables, `ConfigBuilder::env_vars`, is exactly what is
//! used). The headers sent are the target's (gRPC metadata in `grpc_raw.rs`, HTTP headers by
//! `http_client.rs`), and gzip is used exactly when the target says so.
//!
//! The exporters only hold what they are given: every export is still bounded, counted and
//! reported by the worker, whichever the transport.

use opentelemetry_sdk::Resource;
use rustls::pki_types::CertificateDer;

use crate::config::{OtlpCompression, OtlpProtocol, OtlpSignal, OtlpTarget};
use crate::internal::Signal;

/// The exporters the worker sends through: one per signal that is exported and could be built.
pub(super) struct Exporters {
    pub(super) spans: Option<super::send::RawExporter>,
    pub(super) logs: Option<super::send::RawExporter>,
    /// The encoders of spans and log records (resource encoded once, buffers reused).
    pub(super) span_encoder: std::cell::RefCell<super::encode_traces::SpanEncoder>,
    pub(super) log_encoder: std::cell::RefCell<super::encode_logs::LogEncoder>,
    pub(super) metrics: Option<super::send::RawExporter>,
}

/// The CA file of a target: its PEM (for tonic) and its certificates (for rustls).
struct Ca {
    pem: Vec<u8>,
    certs: Vec<CertificateDer<'static>>,
}

/// Builds the exporter of each signal that is exported: `exported` by [`OtlpSignal::index`].
/// Each failure is `(signal, error)` (it is reported once, and that signal is not exported).
/// Call it on the export thread's runtime (the HTTP client's connections run on it).
pub(super) fn build(
    targets: &[OtlpTarget; 3],
    exported: [bool; 3],
    resource: &Resource,
) -> (Exporters, Vec<(Signal, String)>) {
    let mut exporters = Exporters {
        spans: None,
        logs: None,
        metrics: None,
        span_encoder: super::encode_traces::SpanEncoder::new(resource).into(),
        log_encoder: super::encode_logs::LogEncoder::new(resource).into(),
    };
    let mut failures = Vec::new();
    let target = |s: OtlpSignal| &targets[s.index()];
    let on = |s: OtlpSignal| exported[s.index()];
    let mut failed = |signal: Signal, e: String| {
        failures.push((
            signal,
            format!("the OTLP {} exporter: {e}", signal.as_str()),
        ));
    };
    if on(OtlpSignal::Traces) {
        match raw(target(OtlpSignal::Traces), TRACES_PATH) {
            Ok(spans) => exporters.spans = Some(spans),
            Err(e) => failed(Signal::Traces, e),
        }
    }
    if on(OtlpSignal::Logs) {
        match raw(target(OtlpSignal::Logs), LOGS_PATH) {
            Ok(logs) => exporters.logs = Some(logs),
            Err(e) => failed(Signal::Logs, e),
        }
    }
    if on(OtlpSignal::Metrics) {
        match raw(
            target(OtlpSignal::Metrics),
            super::encode_metrics::METRICS_PATH,
        ) {
            Ok(metrics) => exporters.metrics = Some(metrics),
            Err(e) => failed(Signal::Metrics, e),
        }
    }
    (exporters, failures)
}

/// The gRPC methods of the trace and log services.
const TRACES_PATH: &str = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
const LOGS_PATH: &str = "/opentelemetry.proto.collector.logs.v1.LogsService/Export";

/// The sender of already-encoded requests for `t` (spans or log records; `grpc_path` is the
/// signal's gRPC method): a lazily connecting tonic channel with the target's timeout, TLS and
/// gzip and exactly its headers as metadata (as opentelemetry-otlp's gRPC exporter configured
/// its channel), or our hyper client posting to the target's URL.
fn raw(t: &OtlpTarget, grpc_path: &'static str) -> Result<super::send::RawExporter, String> {
    use super::send::Transport;
    let ca = ca(t)?;
    let gzip = t.compression == OtlpCompression::Gzip;
    let invalid = |e: &dyn std::error::Error| {
        let mut error = e.to_string();
        let mut source = e.source();
        while let Some(s) = source {
            error.push_str(": ");
            error.push_str(&s.to_string());
            source = s.source();
        }
        format!(
            "invalid OTLP endpoint {} ({}): {error}",
            crate::config::shown_endpoint(&t.url),
            t.endpoint_source
        )
    };
    Ok(match t.protocol {
        OtlpProtocol::Grpc => {
            let metadata = metadata(t)?;
            let mut endpoint =
                tonic::transport::Endpoint::from_shared(t.url.clone()).map_err(|e| invalid(&e))?;
            if crate::config::is_https(&t.url) {
                endpoint =
                    (endpoint.tls_config(tonic_tls(ca.as_ref()))).map_err(|e| invalid(&e))?;
            }
            Transport::Grpc(super::grpc_raw::GrpcRaw {
                // The connect is bounded too (the call's timeout does not cover it): a collector
                // behind a firewall that drops packets fails fast and is retried, instead of one
                // kernel connect attempt spanning many exports.
                channel: endpoint
                    .timeout(t.timeout)
                    .connect_timeout(t.timeout.min(std::time::Duration::from_secs(5)))
                    .connect_lazy(),
                path: grpc_path,
                metadata,
                compression: gzip.then_some(tonic::codec::CompressionEncoding::Gzip),
            })
        }
        OtlpProtocol::HttpProtobuf => {
            let certs = ca.as_ref().map(|ca| ca.certs.as_slice());
            let client = super::http_client::client(t, certs).map_err(|e| ca_error(t, &e))?;
            let url = t.url.parse::<http::Uri>().map_err(|e| invalid(&e))?;
            Transport::Http { client, url, gzip }
        }
    }
    .into())
}

/// An error about the CA file of `target`, naming the file and the input it came from.
fn ca_error(target: &OtlpTarget, error: &str) -> String {
    match &target.ca_file {
        Some(ca) => format!("the CA file {} ({}): {error}", ca.path.display(), ca.source),
        None => error.to_string(),
    }
}

/// The CA file's PEM and certificates, checked alike for both transports. Read whenever one is
/// configured, also for a plaintext endpoint: a path that cannot be read, or a file with no
/// certificate, is a broken setup, reported at start rather than when TLS is first used.
fn ca(target: &OtlpTarget) -> Result<Option<Ca>, String> {
    use rustls::pki_types::pem::PemObject as _;
    let Some(file) = &target.ca_file else {
        return Ok(None);
    };
    let pem =
        std::fs::read(&file.path).map_err(|e| ca_error(target, &format!("cannot read it: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ca_error(target, &format!("cannot read it as PEM: {e}")))?;
    if certs.is_empty() {
        return Err(ca_error(target, "it holds no PEM certificate"));
    }
    Ok(Some(Ca { pem, certs }))
}

/// TLS for gRPC: the system's roots, and the CA file's certificates.
fn tonic_tls(ca: Option<&Ca>) -> tonic::transport::ClientTlsConfig {
    use tonic::transport::{Certificate, ClientTlsConfig};
    let tls = ClientTlsConfig::new().with_enabled_roots();
    match ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(&ca.pem)),
        None => tls,
    }
}

/// The headers as gRPC metadata (checked when the configuration was built).
fn metadata(target: &OtlpTarget) -> Result<tonic::metadata::MetadataMap, String> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in &target.headers.0 {
        // The configuration checked both; an error names the header, never its value.
        let bad = || format!("the OTLP header {name:?} cannot be sent");
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = http::HeaderValue::from_str(value).map_err(|_| bad())?;
        headers.insert(name, value);
    }
    Ok(tonic::metadata::MetadataMap::from_headers(headers))
}
