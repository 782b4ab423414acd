//! The W3C Trace Context test service: a server speaking the protocol of the W3C harness
//! (`test/test.py` of github.com/w3c/trace-context), instrumented with `HttpLayer` and one of our
//! client layers.
//!
//! `POST /test` takes a JSON array of `{"url": ..., "arguments": [...]}`; for each element, in
//! order, it POSTs `arguments` (as JSON) to `url` from inside the request's span, then answers
//! 200. `--client reqwest` (the default) sends through `ReqwestMiddleware`, `--client tower`
//! through `HttpClientLayer` around a tower service. `LISTEN_ADDR` (default `127.0.0.1:0`) is the
//! listener; it prints `listening <addr>` on stderr. The library reads its usual environment
//! (`OTEL_TRACES_SAMPLER_RATIO`, log levels). DEVELOPMENT.md shows how to run the harness.

use std::convert::Infallible;

use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use tower::{Service, ServiceExt};
use watchpost::http::{HttpClientLayer, HttpLayer, ReqwestMiddleware};

/// How the service calls out.
#[derive(Clone)]
enum Client {
    Reqwest(reqwest_middleware::ClientWithMiddleware),
    Tower(HttpClientLayer, reqwest::Client),
}

impl Client {
    async fn post(&self, url: &str, body: String) -> Result<u16, String> {
        match self {
            Client::Reqwest(c) => c
                .post(url)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .map_err(|e| e.to_string()),
            Client::Tower(layer, client) => {
                let client = client.clone();
                let inner = tower::service_fn(move |req: axum::http::Request<String>| {
                    let client = client.clone();
                    async move {
                        let req = reqwest::Request::try_from(req).map_err(|e| e.to_string())?;
                        let resp = client.execute(req).await.map_err(|e| e.to_string())?;
                        Ok::<_, String>(axum::http::Response::new(resp.status().as_u16()))
                    }
                });
                let mut svc = tower::Layer::layer(layer, inner);
                let req = axum::http::Request::post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .map_err(|e| e.to_string())?;
                let ready = svc.ready().await?;
                ready.call(req).await.map(|r| *r.body())
            }
        }
    }
}

async fn test(client: Client, body: String) -> Result<StatusCode, Infallible> {
    let cases: Vec<Value> = match serde_json::from_str(&body) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "the body is not a JSON array of {{url, arguments}}");
            return Ok(StatusCode::BAD_REQUEST);
        }
    };
    for case in cases {
        let Some(url) = case.get("url").and_then(Value::as_str) else {
            tracing::warn!(case = %case, "a case without url");
            return Ok(StatusCode::BAD_REQUEST);
        };
        let arguments = case
            .get("arguments")
            .cloned()
            .unwrap_or(Value::Array(vec![]));
        if let Err(e) = client.post(url, arguments.to_string()).await {
            tracing::warn!(url, error = %e, "callback failed");
        }
    }
    Ok(StatusCode::OK)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = match args.as_slice() {
        [] => "reqwest",
        [flag, k] if flag == "--client" && (k == "reqwest" || k == "tower") => k.as_str(),
        _ => {
            eprintln!("usage: tracecontext_service [--client reqwest|tower]");
            std::process::exit(2);
        }
    };
    let config = match watchpost::Config::builder("tracecontext")
        .service_version(env!("CARGO_PKG_VERSION"))
        .from_env()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tracecontext_service: {e}");
            std::process::exit(2);
        }
    };
    let telemetry = watchpost::init(config).expect("init");
    let client = match kind {
        "tower" => Client::Tower(HttpClientLayer::new(&telemetry), reqwest::Client::new()),
        _ => Client::Reqwest(
            reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
                .with(ReqwestMiddleware::new(&telemetry))
                .build(),
        ),
    };
    let router = axum::Router::new()
        .route("/test", post(move |body| test(client.clone(), body)))
        .layer(HttpLayer::new(&telemetry));
    let addr = std::env::var("LISTEN_ADDR").unwrap_or_else(|_| "127.0.0.1:0".into());
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .unwrap_or_else(|e| panic!("bind LISTEN_ADDR={addr}: {e}"));
    eprintln!("listening {}", listener.local_addr().unwrap());
    axum::serve(listener, router).await.expect("serve");
}
