//! The OTLP/HTTP client: hyper's pooled client, whose connections run on the export thread's own
//! Tokio runtime, with https through rustls (the ring provider, as the gRPC side uses) trusting
//! the system's roots and the CA file. Plain `http://` URLs go without TLS.

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_http::HttpClient;

/// A client whose every request (response body included) ends within `timeout`.
pub(super) fn client(
    timeout: Duration,
    ca_pem: Option<&[u8]>,
) -> Result<Arc<dyn HttpClient>, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(ca_pem)?)
        .https_or_http()
        .enable_http1()
        .build();
    let client = opentelemetry_http::hyper::HyperClient::new(connector, timeout, None);
    Ok(Arc::new(client))
}

/// TLS: the system's roots and the CA file's certificates, with rustls's safe defaults.
fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Roots that cannot be loaded or parsed are left out (as the gRPC side does).
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    if let Some(pem) = ca_pem {
        use rustls::pki_types::pem::PemObject as _;
        let mut found = 0;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("cannot read the CA file: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("the CA file holds a certificate rustls refuses: {e}"))?;
            found += 1;
        }
        if found == 0 {
            return Err("the CA file holds no PEM certificate".into());
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
