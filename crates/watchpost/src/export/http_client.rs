//! The OTLP/HTTP client: hyper's pooled client, whose connections run on the export thread's own
//! Tokio runtime, with https through rustls (the ring provider, as the gRPC side uses) trusting
//! the system's roots and the CA file. Plain `http://` URLs go without TLS.
//!
//! It is wrapped in [`TargetClient`], which sends exactly the target's headers (and our
//! `user-agent` unless the target names one), whatever headers the request was built with but
//! for those describing its body.

use std::sync::Arc;

use http::header::{
    HeaderMap, HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, USER_AGENT,
};
use opentelemetry_http::{Bytes, HttpClient, HttpError, Request, Response};
use rustls::pki_types::CertificateDer;

use crate::config::OtlpTarget;

/// A client for `target`, whose every request (response body included) ends within the target's
/// timeout and carries exactly its headers; `ca` are the CA file's certificates, if any.
pub(super) fn client(
    target: &OtlpTarget,
    ca: Option<&[CertificateDer<'static>]>,
) -> Result<Arc<dyn HttpClient>, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(ca)?)
        .https_or_http()
        .enable_http1()
        .build();
    let inner = opentelemetry_http::hyper::HyperClient::new(connector, target.timeout, None);
    Ok(Arc::new(TargetClient::new(Arc::new(inner), target)?))
}

/// An HTTP client that replaces the headers of every request by the target's (keeping only what
/// describes the body: `content-type` and `content-encoding`) and sends it through `inner`.
pub(super) struct TargetClient {
    inner: Arc<dyn HttpClient>,
    headers: HeaderMap,
}

impl TargetClient {
    pub(super) fn new(inner: Arc<dyn HttpClient>, target: &OtlpTarget) -> Result<Self, String> {
        let mut headers = HeaderMap::new();
        for (name, value) in &target.headers.0 {
            // The configuration checked both; an error names the header, never its value.
            let bad = || format!("the OTLP header {name:?} cannot be sent");
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad())?;
            let mut value = HeaderValue::from_str(value).map_err(|_| bad())?;
            value.set_sensitive(true);
            headers.insert(name, value);
        }
        if !headers.contains_key(USER_AGENT) {
            let agent = concat!("watchpost/", env!("CARGO_PKG_VERSION"));
            headers.insert(USER_AGENT, HeaderValue::from_static(agent));
        }
        Ok(Self { inner, headers })
    }

    /// `request` with the target's headers instead of its own, but for those that describe its
    /// body.
    fn rewrite(&self, mut request: Request<Bytes>) -> Request<Bytes> {
        let own = request.headers_mut();
        let kept: Vec<(HeaderName, HeaderValue)> = [CONTENT_TYPE, CONTENT_ENCODING]
            .into_iter()
            .filter_map(|name| own.get(&name).cloned().map(|value| (name, value)))
            .collect();
        *own = self.headers.clone();
        for (name, value) in kept {
            own.insert(name, value);
        }
        request
    }
}

/// Header names only: the values are credentials.
impl std::fmt::Debug for TargetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TargetClient")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl HttpClient for TargetClient {
    async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
        self.inner.send_bytes(self.rewrite(request)).await
    }
}

/// TLS: the system's roots and the CA file's certificates, with rustls's safe defaults.
fn tls_config(ca: Option<&[CertificateDer<'static>]>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    // Roots that cannot be loaded or parsed are left out (as the gRPC side does).
    let _ = roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    for cert in ca.unwrap_or_default() {
        roots
            .add(cert.clone())
            .map_err(|e| format!("it holds a certificate rustls refuses: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::OtlpSignal;
    use std::sync::Mutex;

    /// Keeps the requests it is given; answers 200.
    #[derive(Debug, Default)]
    struct Recorder(Mutex<Vec<Request<Bytes>>>);

    #[async_trait::async_trait]
    impl HttpClient for Recorder {
        async fn send_bytes(&self, request: Request<Bytes>) -> Result<Response<Bytes>, HttpError> {
            self.0.lock().unwrap().push(request);
            Ok(Response::new(Bytes::new()))
        }
    }

    #[test]
    fn a_request_carries_exactly_the_targets_headers_and_its_body_description() {
        let config = crate::Config::builder("svc")
            .env_vars([("OTEL_EXPORTER_OTLP_HEADERS", "authorization=ours,x-team=a")])
            .build()
            .unwrap();
        let recorder = Arc::new(Recorder::default());
        let client = TargetClient::new(recorder.clone(), config.otlp(OtlpSignal::Traces)).unwrap();
        // A request with headers of its own (as opentelemetry-otlp's exporter built them, with
        // the process environment's): only the body's description is kept.
        let request = Request::builder()
            .uri("http://127.0.0.1:4318/v1/traces")
            .header(CONTENT_TYPE, "application/x-protobuf")
            .header(CONTENT_ENCODING, "gzip")
            .header(USER_AGENT, "OTel-OTLP-Exporter-Rust/0.33.1")
            .header("authorization", "intruder")
            .header("x-from-the-environment", "1")
            .body(Bytes::from_static(b"body"))
            .unwrap();
        futures_util::FutureExt::now_or_never(client.send_bytes(request))
            .expect("the recorder answers at once")
            .unwrap();
        let sent = recorder.0.lock().unwrap().pop().unwrap();
        let mut headers: Vec<(String, String)> = (sent.headers().iter())
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_string()))
            .collect();
        headers.sort();
        let expected = [
            ("authorization", "ours"),
            ("content-encoding", "gzip"),
            ("content-type", "application/x-protobuf"),
            (
                "user-agent",
                concat!("watchpost/", env!("CARGO_PKG_VERSION")),
            ),
            ("x-team", "a"),
        ];
        assert_eq!(
            headers,
            expected.map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(sent.body().as_ref(), b"body");
        let shown = format!("{client:?}");
        assert!(
            shown.contains("x-team") && !shown.contains("ours"),
            "{shown}"
        );
    }
}
