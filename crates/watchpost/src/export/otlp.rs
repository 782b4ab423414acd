//! Builds the three OTLP exporters from their [`OtlpTarget`]s, each over gRPC (tonic) or
//! HTTP/protobuf (hyper, `http_client.rs`): endpoint, headers (gRPC metadata or HTTP headers),
//! compression, timeout and TLS (for an `https` URL: the system's roots and the CA file).
//!
//! The exporters only hold what they are given: every export is still bounded, counted and
//! reported by the worker, whichever the transport.

use std::collections::HashMap;

use opentelemetry_otlp::{
    Compression, Protocol, WithExportConfig, WithHttpConfig, WithTonicConfig,
};
use opentelemetry_sdk::logs::LogExporter as _;
use opentelemetry_sdk::trace::SpanExporter as _;
use opentelemetry_sdk::Resource;

use crate::config::{OtlpCompression, OtlpProtocol, OtlpSignal, OtlpTarget};

/// The exporters the worker sends through.
pub(super) struct Exporters {
    pub(super) spans: opentelemetry_otlp::SpanExporter,
    pub(super) logs: opentelemetry_otlp::LogExporter,
    pub(super) metrics: opentelemetry_otlp::MetricExporter,
}

/// One exporter of the builder `$builder` (a `SpanExporter`, `LogExporter` or
/// `MetricExporter` builder) for the target `$target`, over the target's transport.
macro_rules! build {
    ($builder:expr, $target:expr) => {{
        let t: &OtlpTarget = $target;
        let ca = ca_pem(t)?;
        let https = is_https(&t.url);
        let gzip = t.compression == OtlpCompression::Gzip;
        let built = match t.protocol {
            OtlpProtocol::Grpc => {
                let mut b = $builder
                    .with_tonic()
                    .with_endpoint(t.url.clone())
                    .with_timeout(t.timeout);
                if https {
                    b = b.with_tls_config(tonic_tls(ca.as_deref()));
                }
                if !t.headers.0.is_empty() {
                    b = b.with_metadata(metadata(t)?);
                }
                if gzip {
                    b = b.with_compression(Compression::Gzip);
                }
                b.build()
            }
            OtlpProtocol::HttpProtobuf => {
                let client = super::http_client::client(t.timeout, ca.as_deref())?;
                let mut b = $builder
                    .with_http()
                    .with_protocol(Protocol::HttpBinary)
                    .with_endpoint(t.url.clone())
                    .with_timeout(t.timeout)
                    .with_shared_http_client(client);
                if !t.headers.0.is_empty() {
                    b = b.with_headers(http_headers(t));
                }
                if gzip {
                    b = b.with_compression(Compression::Gzip);
                }
                b.build()
            }
        };
        built.map_err(|e| format!("invalid OTLP endpoint {:?}: {e}", t.url))?
    }};
}

/// Builds the exporters; an error says what is wrong (it is reported once, and nothing is
/// exported). Call it on the export thread's runtime (the HTTP client's connections run on it).
pub(super) fn build(targets: &[OtlpTarget; 3], resource: &Resource) -> Result<Exporters, String> {
    let traces = &targets[OtlpSignal::Traces.index()];
    let logs = &targets[OtlpSignal::Logs.index()];
    let metrics = &targets[OtlpSignal::Metrics.index()];
    let mut spans = build!(opentelemetry_otlp::SpanExporter::builder(), traces);
    let mut logs = build!(opentelemetry_otlp::LogExporter::builder(), logs);
    let metrics = build!(opentelemetry_otlp::MetricExporter::builder(), metrics);
    spans.set_resource(resource);
    logs.set_resource(resource);
    Ok(Exporters {
        spans,
        logs,
        metrics,
    })
}

fn is_https(url: &str) -> bool {
    url.get(..8)
        .is_some_and(|s| s.eq_ignore_ascii_case("https://"))
}

/// The CA file's PEM. Read whenever one is configured, also for a plaintext endpoint: a path
/// that cannot be read is a broken setup, reported at start rather than when TLS is first used.
fn ca_pem(target: &OtlpTarget) -> Result<Option<Vec<u8>>, String> {
    target
        .ca_file
        .as_ref()
        .map(|ca| {
            std::fs::read(ca).map_err(|e| format!("cannot read the CA file {}: {e}", ca.display()))
        })
        .transpose()
}

/// TLS for gRPC: the system's roots, and the CA file's certificates.
fn tonic_tls(ca: Option<&[u8]>) -> opentelemetry_otlp::tonic_types::transport::ClientTlsConfig {
    use opentelemetry_otlp::tonic_types::transport::{Certificate, ClientTlsConfig};
    let tls = ClientTlsConfig::new().with_enabled_roots();
    match ca {
        Some(pem) => tls.ca_certificate(Certificate::from_pem(pem)),
        None => tls,
    }
}

/// The headers as gRPC metadata (checked when the configuration was built).
fn metadata(
    target: &OtlpTarget,
) -> Result<opentelemetry_otlp::tonic_types::metadata::MetadataMap, String> {
    let mut headers = http::HeaderMap::new();
    for (name, value) in &target.headers.0 {
        // The configuration checked both; an error names the header, never its value.
        let bad = || format!("the OTLP header {name:?} cannot be sent");
        let name = http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
        let value = http::HeaderValue::from_str(value).map_err(|_| bad())?;
        headers.insert(name, value);
    }
    Ok(opentelemetry_otlp::tonic_types::metadata::MetadataMap::from_headers(headers))
}

/// The headers for the HTTP exporter, which percent-decodes the values it is given: ours are
/// decoded already, so their `%` are encoded again.
fn http_headers(target: &OtlpTarget) -> HashMap<String, String> {
    (target.headers.0.iter())
        .map(|(k, v)| (k.clone(), v.replace('%', "%25")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_percent_in_a_header_value_survives_the_exporters_decoding() {
        let c = crate::Config::builder("svc")
            .otel_header("x-ratio", "50%off%2F")
            .build()
            .unwrap();
        let headers = http_headers(c.otlp(OtlpSignal::Traces));
        let sent = percent_encoding::percent_decode_str(&headers["x-ratio"])
            .decode_utf8()
            .unwrap();
        assert_eq!(sent, "50%off%2F");
    }
}
