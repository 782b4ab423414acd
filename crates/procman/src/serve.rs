//! The API's accept loop: HTTP/1.1 connections through hyper directly (`axum::serve` has no
//! settings for these), with a deadline for a request's headers, a bound on open connections,
//! the peer's address for the handlers, and a graceful stop.
//!
//! * `HEADER_TIMEOUT` (ms, default 10 000): a client that has not sent a whole request head by
//!   then is disconnected (slowloris), also between requests on a kept-alive connection.
//! * `MAX_CONNECTIONS` (default 1 024): beyond it, new connections wait in the listen backlog
//!   until one closes.
//!
//! Bodies have their own deadline where they are read (`BODY_TIMEOUT`, see `api::Body`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tower::ServiceExt as _;

/// Limits of the API listener.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// From `HEADER_TIMEOUT` and `MAX_CONNECTIONS`; an invalid value is an error naming it.
    pub fn from_env() -> Result<Limits, String> {
        Ok(Limits {
            header_timeout: Duration::from_millis(env_number(
                "HEADER_TIMEOUT",
                10_000,
                100,
                600_000,
            )?),
            max_connections: env_number("MAX_CONNECTIONS", 1024, 1, 1_000_000)? as usize,
        })
    }
}

/// `name` from the environment as a number in `min..=max`, or `default` when unset.
pub fn env_number(name: &str, default: u64, min: u64, max: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Err(_) => Ok(default),
        Ok(v) => v
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (min..=max).contains(n))
            .ok_or_else(|| format!("invalid {name} {v:?}: expected a number from {min} to {max}")),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops accepting, lets every open
/// connection finish its request in flight and waits for them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            _ = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of descriptors and the like: wait a little rather than spin.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = app.clone().map_request(
            move |mut req: axum::extract::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(ConnectInfo(remote));
                req
            },
        );
        let mut stop = stop_rx.clone();
        let header_timeout = limits.header_timeout;
        connections.spawn(async move {
            let _permit = permit;
            let conn = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = stop.wait_for(|s| *s) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
        // Reap finished connection tasks so the set stays small.
        while connections.try_join_next().is_some() {}
    }
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}
