//! The API's accept loop: HTTP/1.1 connections through hyper directly (`axum::serve` has no
//! settings for these), with a deadline for a request's headers, a bound on open connections,
//! the peer's address for the handlers, and a graceful stop.
//!
//! * `HEADER_TIMEOUT` (ms, default 10 000): a client that has not sent a whole request head by
//!   then is disconnected (slowloris), also between requests on a kept-alive connection.
//!   The same deadline closes a kept-alive connection that stays idle longer (hyper re-arms it
//!   between requests); clients reconnect.
//! * `MAX_CONNECTIONS` (default 1 024, at most half the descriptor limit): beyond it, new
//!   connections wait in the listen backlog until one closes. A client that never reads its
//!   response (an unread follow stream) keeps its slot until it goes away or shutdown.
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
        // Connections must leave descriptors for instances, pipes and log files.
        let default_connections = 1024.min(descriptor_limit() / 2).max(1);
        Ok(Limits {
            header_timeout: Duration::from_millis(env_number(
                "HEADER_TIMEOUT",
                10_000,
                100,
                600_000,
            )?),
            max_connections: env_number("MAX_CONNECTIONS", default_connections, 1, 1_000_000)?
                as usize,
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

/// The soft limit on open descriptors (`RLIMIT_NOFILE`), or 1 024 if it cannot be read.
fn descriptor_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        lim.rlim_cur
    } else {
        1024
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; then closes the listener, lets open
/// connections finish the request in flight for up to `drain`, and drops the rest.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: Limits,
    drain: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut last_accept_error: Option<std::time::Instant> = None;
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
                // Out of descriptors and the like: reported (at most once a minute), then a short
                // pause rather than a spin.
                Err(e) => {
                    if last_accept_error.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                        last_accept_error = Some(std::time::Instant::now());
                        tracing::warn!(target: "procman::api", error = %e, "cannot accept connections (reported at most once a minute)");
                    }
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
    drop(listener); // new connections are refused from now on
    let _ = stop_tx.send(true);
    // Idle connections close at once; one with a request in flight gets `drain` to finish it (a
    // half-sent head or body would otherwise hold shutdown for its whole timeout).
    let drained = tokio::time::timeout(drain, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}
