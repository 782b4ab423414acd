//! The receiver's OTLP/HTTP transport: `POST /v1/traces`, `/v1/metrics` and `/v1/logs` with
//! protobuf bodies (the official messages, decoded with prost), as the OTLP specification says:
//! 415 for another `Content-Type`, 400 for a body that cannot be decoded (or a gzip body that
//! cannot be inflated), 503 or 429 when told to refuse, and a protobuf response otherwise.

use std::future::Future;
use std::io::Read as _;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State as Shared};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use opentelemetry_proto::tonic::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use opentelemetry_proto::tonic::collector::metrics::v1::{
    ExportMetricsServiceRequest, ExportMetricsServiceResponse,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};

use super::{header_pairs, ExportRequest, Refusal, Signal, State};

const PROTOBUF: &str = "application/x-protobuf";

fn router(state: State) -> axum::Router {
    axum::Router::new()
        .route("/v1/traces", post(traces))
        .route("/v1/metrics", post(metrics))
        .route("/v1/logs", post(logs))
        // OTLP batches can be large; axum's default limit (2 MiB) would refuse some.
        .layer(DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state(state)
}

/// Serves on `listener` until `stopped` completes.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    state: State,
    stopped: impl Future<Output = ()> + Send + 'static,
) {
    let _ = axum::serve(listener, router(state))
        .with_graceful_shutdown(stopped)
        .await;
}

/// Serves over TLS with this certificate chain and key (PEM) until `stopped` completes.
pub(super) async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: State,
    stopped: impl Future<Output = ()> + Send + 'static,
    tls: rustls::ServerConfig,
) {
    let app = router(state);
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(tls));
    tokio::pin!(stopped);
    loop {
        let (tcp, _) = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(_) => continue,
            },
        };
        let (acceptor, app) = (acceptor.clone(), app.clone());
        tokio::spawn(async move {
            // A client that refuses our certificate ends its handshake here.
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(app);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                .await;
        });
    }
}

/// A TLS server configuration from a certificate chain and its key (PEM).
pub(super) fn server_config(cert_pem: &str, key_pem: &str) -> rustls::ServerConfig {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates");
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("a PEM key");
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("a certificate and its key")
}

async fn traces(Shared(s): Shared<State>, headers: HeaderMap, body: Bytes) -> Response {
    let request = decode::<ExportTraceServiceRequest>(&s, &headers, body).await;
    answer(request, |req| {
        s.traces(req, export_request(&headers, Signal::Traces));
        ExportTraceServiceResponse::default()
    })
}

async fn metrics(Shared(s): Shared<State>, headers: HeaderMap, body: Bytes) -> Response {
    let request = decode::<ExportMetricsServiceRequest>(&s, &headers, body).await;
    answer(request, |req| {
        s.metrics(req, export_request(&headers, Signal::Metrics));
        ExportMetricsServiceResponse::default()
    })
}

async fn logs(Shared(s): Shared<State>, headers: HeaderMap, body: Bytes) -> Response {
    let request = decode::<ExportLogsServiceRequest>(&s, &headers, body).await;
    answer(request, |req| {
        s.logs(req, export_request(&headers, Signal::Logs));
        ExportLogsServiceResponse::default()
    })
}

fn export_request(headers: &HeaderMap, signal: Signal) -> ExportRequest {
    ExportRequest {
        transport: "http",
        signal,
        headers: header_pairs(headers.iter()),
    }
}

/// The accepted request's response (protobuf), or the refusal.
fn answer<Req, Resp: prost::Message>(
    request: Result<Req, Response>,
    accept: impl FnOnce(Req) -> Resp,
) -> Response {
    match request {
        Ok(req) => {
            let body = accept(req).encode_to_vec();
            ([(header::CONTENT_TYPE, PROTOBUF)], body).into_response()
        }
        Err(refused) => refused,
    }
}

/// The request's message: its `Content-Type` checked, its body inflated and decoded, after the
/// receiver's mode had its say.
async fn decode<Req: prost::Message + Default>(
    state: &State,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Req, Response> {
    let text = |name| {
        headers.get(name).and_then(|v| v.to_str().ok()).map(|v| {
            v.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
    };
    if text(header::CONTENT_TYPE).as_deref() != Some(PROTOBUF) {
        let message = format!("Content-Type must be {PROTOBUF}");
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response());
    }
    state.verdict().await.map_err(|r| match r {
        Refusal::Unavailable => {
            (StatusCode::SERVICE_UNAVAILABLE, "told to be unavailable").into_response()
        }
        Refusal::Exhausted => (StatusCode::TOO_MANY_REQUESTS, "told to be full").into_response(),
        Refusal::Throttled(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, wait.as_secs().to_string())],
            "told to throttle",
        )
            .into_response(),
    })?;
    let body = match text(header::CONTENT_ENCODING).as_deref() {
        None | Some("identity") => body.to_vec(),
        Some("gzip") => {
            let mut inflated = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut inflated)
                .map_err(|e| {
                    (StatusCode::BAD_REQUEST, format!("bad gzip body: {e}")).into_response()
                })?;
            inflated
        }
        Some(other) => {
            let message = format!("Content-Encoding {other} is not supported (gzip is)");
            return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, message).into_response());
        }
    };
    Req::decode(&body[..])
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad protobuf: {e}")).into_response())
}
