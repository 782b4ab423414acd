//! A small HTTP service with OTLP export on, for end-to-end export tests.
//!
//! Routes: `GET /ok` (a server span with one child span, one INFO line), `GET /fail` (the child
//! logs an ERROR and the request answers 500), `GET /slow?ms=N`. Each request counts in
//! `otlpdemo_requests_total{route}`. It prints `listening <addr>` and `metrics <addr>` on stderr,
//! and on SIGTERM or SIGINT shuts telemetry down and prints `shutdown <ms> <ok|error>`.

use std::time::{Duration, Instant};

use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use opentelemetry::KeyValue;
use tracing::Instrument;
use watchpost::{Config, Subsystem};

mod work {
    use tracing::Instrument;

    pub async fn step(fail: bool) {
        let span = tracing::info_span!("work_step", step = "lookup");
        async move {
            tracing::debug!("working");
            if fail {
                tracing::error!(reason = "disk on fire", "step failed");
            }
        }
        .instrument(span)
        .await
    }
}

#[derive(Clone)]
struct App {
    requests: opentelemetry::metrics::Counter<u64>,
}

async fn handle(
    app: App,
    route: &'static str,
    headers: HeaderMap,
    fail: bool,
    sleep: Duration,
) -> StatusCode {
    let span = tracing::info_span!(
        "request",
        http.route = route,
        otel.name = format!("GET {route}"),
        otel.kind = "server"
    );
    watchpost::traces::set_parent(&span, &watchpost::traces::extract(&headers));
    async move {
        work::step(fail).await;
        tokio::time::sleep(sleep).await;
        app.requests.add(1, &[KeyValue::new("route", route)]);
        let status = if fail {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        };
        tracing::info!(status = status.as_u16(), "request handled");
        status
    }
    .instrument(span)
    .await
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let config = match Config::builder("otlpdemo")
        .service_version(env!("CARGO_PKG_VERSION"))
        .subsystem(Subsystem::new("API").target("otlpdemo"))
        .subsystem(Subsystem::new("WORK").target("otlpdemo::work"))
        .from_env()
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("otlpdemo: {e}");
            std::process::exit(2);
        }
    };
    let telemetry = watchpost::init(config).expect("init");
    let app = App {
        requests: telemetry
            .metrics()
            .meter()
            .u64_counter("otlpdemo_requests_total")
            .with_description("Requests handled")
            .build(),
    };
    let metrics = telemetry.serve_metrics().await.expect("metrics listener");
    eprintln!("metrics {}", metrics.local_addr());

    let (a1, a2, a3) = (app.clone(), app.clone(), app);
    let router = axum::Router::new()
        .route(
            "/ok",
            get(move |h: HeaderMap| handle(a1.clone(), "/ok", h, false, Duration::ZERO)),
        )
        .route(
            "/fail",
            get(move |h: HeaderMap| handle(a2.clone(), "/fail", h, true, Duration::ZERO)),
        )
        .route(
            "/slow",
            get(
                move |h: HeaderMap, Query(q): Query<Vec<(String, String)>>| {
                    let ms = q
                        .iter()
                        .find(|(k, _)| k == "ms")
                        .and_then(|(_, v)| v.parse().ok())
                        .unwrap_or(0);
                    handle(a3.clone(), "/slow", h, false, Duration::from_millis(ms))
                },
            ),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    // Listened for before the line that says it is up.
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).expect("SIGTERM");
    eprintln!("listening {}", listener.local_addr().unwrap());
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .expect("serve");
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .expect("join");
    eprintln!(
        "shutdown {} {}",
        started.elapsed().as_millis(),
        if result.is_ok() { "ok" } else { "error" }
    );
}
