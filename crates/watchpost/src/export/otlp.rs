//! Builds the three OTLP exporters from their [`OtlpTarget`]s, each over gRPC (tonic) or
//! HTTP/protobuf (hyper, `http_client.rs`): endpoint, headers (gRPC metadata or HTTP headers),
//! compression, timeout and TLS (for an `https` URL: the system's roots and the CA file).
//!
//! Each signal's exporter is built on its own: one that cannot be built (its error names the
//! signal and the input its endpoint or CA file came from) leaves the others exporting.
//!
//! opentelemetry-otlp also reads the process environment: the `OTEL_EXPORTER_OTLP_HEADERS`
//! variables (added to the headers it is given) and, when it is given no compression, the
//! compression variables. The headers sent are made exactly the target's — by the HTTP client
//! (`http_client.rs`) and by a gRPC interceptor that runs after the library's — and gzip is
//! always passed explicitly; the library has no explicit "none", so a compression variable of the
//! process that asks for gzip where the configuration says none is reported at start
//! ([`environment_warnings`]).
//!
//! The exporters only hold what they are given: every export is still bounded, counted and
//! reported by the worker, whichever the transport.

use opentelemetry_otlp::{
    Compression, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::logs::LogExporter as _;
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::Resource;
use rustls::pki_types::CertificateDer;

use crate::config::{OtlpCompression, OtlpProtocol, OtlpSignal, OtlpTarget};
use crate::internal::Signal;

/// The exporters the worker sends through: one per signal that is exported and could be built.
#[derive(Default)]
pub(super) struct Exporters {
    pub(super) spans: Option<opentelemetry_otlp::SpanExporter>,
    pub(super) logs: Option<opentelemetry_otlp::LogExporter>,
    pub(super) metrics: Option<opentelemetry_otlp::MetricExporter>,
}

/// The CA file of a target: its PEM (for tonic) and its certificates (for rustls).
struct Ca {
    pem: Vec<u8>,
    certs: Vec<CertificateDer<'static>>,
}

/// One exporter of the builder `$builder` (a `SpanExporter`, `LogExporter` or
/// `MetricExporter` builder) for the target `$target`, over the target's transport: a
/// `Result<_, String>` whose error names the file or the input at fault.
macro_rules! build {
    ($builder:expr, $target:expr) => {{
        let t: &OtlpTarget = $target;
        (|| {
            let ca = ca(t)?;
            let https = crate::config::is_https(&t.url);
            let gzip = t.compression == OtlpCompression::Gzip;
            let built = match t.protocol {
                OtlpProtocol::Grpc => {
                    let metadata = metadata(t)?;
                    let mut b = $builder
                        .with_tonic()
                        .with_endpoint(t.url.clone())
                        .with_timeout(t.timeout)
                        // Runs after the library's own, which added the process environment's
                        // headers: the metadata sent is exactly the target's.
                        .with_interceptor(move |mut request: tonic::Request<()>| {
                            *request.metadata_mut() = metadata.clone();
                            Ok::<_, tonic::Status>(request)
                        });
                    if https {
                        b = b.with_tls_config(tonic_tls(ca.as_ref()));
                    }
                    if gzip {
                        b = b.with_compression(Compression::Gzip);
                    }
                    b.build()
                }
                OtlpProtocol::HttpProtobuf => {
                    let certs = ca.as_ref().map(|ca| ca.certs.as_slice());
                    let client =
                        super::http_client::client(t, certs).map_err(|e| ca_error(t, &e))?;
                    let mut b = $builder
                        .with_http()
                        .with_protocol(Protocol::HttpBinary)
                        .with_endpoint(t.url.clone())
                        .with_timeout(t.timeout)
                        // Sets exactly the target's headers on every request.
                        .with_shared_http_client(client);
                    if gzip {
                        b = b.with_compression(Compression::Gzip);
                    }
                    b.build()
                }
            };
            built.map_err(|e| {
                format!(
                    "invalid OTLP endpoint {} ({}): {e}",
                    crate::config::shown_endpoint(&t.url),
                    t.endpoint_source
                )
            })
        })()
    }};
}

/// Builds the exporter of each signal that is exported: `exported` by [`OtlpSignal::index`].
/// Each failure is `(signal, error)` (it is reported once, and that signal is not exported).
/// Call it on the export thread's runtime (the HTTP client's connections run on it).
pub(super) fn build(
    targets: &[OtlpTarget; 3],
    exported: [bool; 3],
    resource: &Resource,
) -> (Exporters, Vec<(Signal, String)>) {
    let mut exporters = Exporters::default();
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
        let builder = opentelemetry_otlp::SpanExporter::builder();
        match build!(builder, target(OtlpSignal::Traces)) {
            Ok(mut spans) => {
                spans.set_resource(resource);
                exporters.spans = Some(spans);
            }
            Err(e) => failed(Signal::Traces, e),
        }
    }
    if on(OtlpSignal::Logs) {
        let builder = opentelemetry_otlp::LogExporter::builder();
        match build!(builder, target(OtlpSignal::Logs)) {
            Ok(mut logs) => {
                logs.set_resource(resource);
                exporters.logs = Some(logs);
            }
            Err(e) => failed(Signal::Logs, e),
        }
    }
    if on(OtlpSignal::Metrics) {
        let builder = opentelemetry_otlp::MetricExporter::builder();
        match build!(builder, target(OtlpSignal::Metrics)) {
            Ok(metrics) => exporters.metrics = Some(metrics),
            Err(e) => failed(Signal::Metrics, e),
        }
    }
    (exporters, failures)
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
fn tonic_tls(ca: Option<&Ca>) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
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

/// What the process environment makes opentelemetry-otlp do differently from `config`'s targets
/// (of the signals it exports): a compression variable asking for gzip where the target says
/// none (the library reads those when it is given no compression, and has no explicit "none").
/// One sentence each, naming the variable and the signal.
pub(crate) fn environment_warnings(config: &crate::Config) -> Vec<String> {
    let mut warnings = Vec::new();
    let exported = [
        config.export_traces,
        config.export_metrics,
        config.export_logs,
    ];
    for signal in OtlpSignal::ALL {
        let target = config.otlp(signal);
        if !exported[signal.index()] || target.compression != OtlpCompression::None {
            continue;
        }
        use crate::config::{
            OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_EXPORTER_OTLP_SIGNAL_COMPRESSION,
        };
        let own =
            (OTEL_EXPORTER_OTLP_SIGNAL_COMPRESSION.name).replace("<SIGNAL>", signal.env_part());
        let asked = [own.as_str(), OTEL_EXPORTER_OTLP_COMPRESSION.name]
            .into_iter()
            .find_map(|name| {
                let value = std::env::var(name).ok().filter(|v| !v.is_empty())?;
                Some((name, value))
            });
        if let Some((name, value)) = asked {
            if value.trim().eq_ignore_ascii_case("gzip") {
                warnings.push(format!(
                    "{name}={value} in the process environment: {} requests are gzipped by the OTLP exporter although the configuration says none",
                    signal.name()
                ));
            }
        }
    }
    warnings
}
