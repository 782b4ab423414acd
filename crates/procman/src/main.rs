//! `procman`: Watchpost's reference service, a small process supervisor.
//!
//! ```text
//! procman [--listen ADDR] [--data-dir DIR] [--telemetry on|off|common|floor] [--token-file PATH]
//! procman --catalogue json|yaml
//! procman --help
//! ```
//! `procman --help` lists every environment variable procman reads ([`cli::VARS`] and
//! Watchpost's `ENV_VARS`): `LISTEN_ADDR` (default `127.0.0.1:8080`), `DATA_DIR` (default
//! `$XDG_STATE_HOME/procman`, else `~/.local/state/procman`, else a private `procman-<uid>` in
//! the temp dir, refused unless it is a real 0700 directory of this user: never the working
//! directory),
//! `PROCMAN_TOKEN`, the timeouts and limits, and every Watchpost variable (`LOG_LEVEL`,
//! `METRICS_LISTEN`, `OTEL_ENABLED`, …).
//! `PROCMAN_TOKEN` (or `--token-file`) sets a bearer token that every request to either listener
//! must carry, but the probes `/healthz` and `/readyz` (which answer the status alone without
//! it: `probes`); without one procman refuses to listen beyond loopback. `--catalogue` prints the
//! catalogue of every metric procman registers (the same list `GET /metrics/catalogue` serves)
//! and exits.
//! A request's `x-user-id` header (1 to 64 visible ASCII characters, as a gateway in front
//! would set it) is recorded as `user_id` on every log line and span of that request.
//! `--telemetry off` runs with no logs, metrics or traces at all (the overhead baseline);
//! `--telemetry common` runs the hand-assembled stack services use today (the benchmark's peer).

mod api;
mod auth;
mod child;
mod cli;
mod common;
mod exec;
mod floor;
mod instances;
mod metrics;
mod probes;
mod serve;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use cli::{parse_args, Args, Mode};
use watchpost::logs::ResourceLogConfig;
use watchpost::{Config, Subsystem};

fn config(args: &Args) -> Result<Config, watchpost::Error> {
    Config::builder("procman")
        .service_version(env!("CARGO_PKG_VERSION"))
        .subsystem(
            Subsystem::new("API")
                .target("procman::api")
                .target("watchpost::http"),
        )
        .subsystem(Subsystem::new("INSTANCES").target("procman::instances"))
        .subsystem(Subsystem::new("EXEC").target("procman::exec"))
        .subsystem(
            Subsystem::new("LOGS")
                .target("procman::logs")
                .target("watchpost::logs"),
        )
        .resource_logs(
            ResourceLogConfig::new(args.data_dir.join("logs")).kind("instance", "instance_id"),
        )
        .from_env()
        .build()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("procman: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(format) = &args.catalogue {
        return print_catalogue(&args, format);
    }
    let token = match auth::Token::load(args.token_file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("procman: {e}");
            return ExitCode::from(2);
        }
    };
    let limits = match serve::Limits::from_env().and_then(|l| {
        api::set_body_timeout(serve::env_number("BODY_TIMEOUT", 30_000, 100, 600_000)?);
        Ok(l)
    }) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("procman: {e}");
            return ExitCode::from(2);
        }
    };
    // Listeners beyond loopback (the metrics one is known once the configuration is read).
    let mut exposed: Vec<String> = exposed_bind("LISTEN_ADDR", args.listen)
        .into_iter()
        .collect();
    if let Some(refusal) = refuse_exposed(&exposed, token.as_ref()) {
        eprintln!("procman: {refusal}");
        return ExitCode::from(2);
    }
    let common = if args.mode == Mode::Common {
        match common::init() {
            Ok(c) => Some(c),
            Err(e) => {
                eprintln!("procman: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let floor = if args.mode == Mode::Floor {
        match floor::init() {
            Ok(f) => Some(f),
            Err(e) => {
                eprintln!("procman: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let telemetry = if args.mode == Mode::Watchpost {
        let config = match config(&args) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("procman: {e}");
                return ExitCode::from(2);
            }
        };
        exposed.extend(exposed_bind("METRICS_LISTEN", config.metrics_listen()));
        if let Some(refusal) = refuse_exposed(&exposed, token.as_ref()) {
            eprintln!("procman: {refusal}");
            return ExitCode::from(2);
        }
        match watchpost::init(config) {
            Ok(t) => {
                // Panics anywhere (a task, a thread) become one JSON ERROR line, counted.
                t.install_panic_hook();
                Some(t)
            }
            Err(e) => {
                eprintln!("procman: {e}");
                return ExitCode::from(2);
            }
        }
    } else {
        None
    };
    let manager = instances::Manager::new(telemetry.as_ref());
    for bind in &exposed {
        tracing::warn!(target: "procman::api", bind = %bind, "listening beyond loopback; every request needs the bearer token");
    }

    // Listened for before the service says anything is up: a SIGTERM right after the start is a clean
    // shutdown, not the signal's default action.
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("procman: cannot listen for SIGTERM: {e}");
            return ExitCode::from(2);
        }
    };
    let mut int = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("procman: cannot listen for SIGINT: {e}");
            return ExitCode::from(2);
        }
    };
    // `/readyz` waits for both listeners, and turns unready when shutdown begins.
    let metrics_up = telemetry.as_ref().map(|t| t.health().listener("metrics"));
    let api_up = telemetry.as_ref().map(|t| t.health().listener("api"));
    // The metrics + admin listener (loopback by default, outside the API's port).
    let metrics_server = match &telemetry {
        Some(t) => match t
            .serve_app(
                auth::protect(
                    watchpost::metrics::router(t.metrics().clone())
                        .merge(api::admin_router(t.clone())),
                    token.as_ref(),
                )
                // The probes, outside the lock (see `probes`).
                .merge(probes::router(Some(t.health().clone()), token.as_ref())),
            )
            .await
        {
            Ok(s) => {
                if let Some(up) = &metrics_up {
                    up.up();
                }
                eprintln!("procman: metrics on http://{}/metrics", s.local_addr());
                Some(s)
            }
            Err(e) => {
                eprintln!("procman: {e}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };

    let mut app = api::router(manager.clone(), telemetry.clone(), token.as_ref());
    if common.is_some() {
        app = app.layer(common::layer());
    }
    if let Some(f) = &floor {
        app = app.layer(f.layer());
    }
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("procman: cannot listen on {}: {e}", args.listen);
            return ExitCode::from(2);
        }
    };
    if let Some(up) = &api_up {
        up.up();
    }
    eprintln!(
        "procman: listening on http://{}",
        listener
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    );
    if telemetry.is_some() {
        eprintln!(
            "procman: instance logs in {} (DATA_DIR)",
            args.data_dir.join("logs").display()
        );
    }

    // The reaper: notices exited children, silent while idle.
    let reaper = {
        let m = manager.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            loop {
                tick.tick().await;
                m.reap();
            }
        })
    };

    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    };
    let deadline = shutdown_timeout();
    let watchdog = manager.clone();
    let shutdown = async move {
        shutdown.await;
        // Not ready from here on: load balancers stop sending requests while these drain.
        drop(api_up);
        watchdog.begin_shutdown();
        // From here on, procman exits within the deadline whatever a client (an open follow
        // stream), a child (a long exec) or a stalled stdout reader does.
        let _ = std::thread::Builder::new()
            .name("shutdown-deadline".into())
            .spawn(move || {
                std::thread::sleep(deadline);
                watchdog.kill_all_now();
                eprintln!(
                    "procman: shutdown did not finish within {} ms (SHUTDOWN_TIMEOUT); exiting",
                    deadline.as_millis()
                );
                std::process::exit(1);
            });
    };
    serve::serve(listener, app, limits, deadline / 4, shutdown).await;
    reaper.abort();
    manager
        .stop_all(Duration::from_secs(2).min(deadline / 3))
        .await;
    if let Some(s) = metrics_server {
        s.shutdown().await;
    }
    drop(metrics_up);
    if let Some(c) = common {
        let _ = tokio::task::spawn_blocking(move || c.shutdown()).await;
    }
    if let Some(f) = floor {
        let _ = tokio::task::spawn_blocking(move || f.shutdown()).await;
    }
    if let Some(t) = telemetry {
        tracing::debug!(target: "procman::api", "shutting down");
        let _ = tokio::task::spawn_blocking(move || t.shutdown_with_timeout(deadline / 4)).await;
    }
    ExitCode::SUCCESS
}

/// Registers everything procman registers, in a pipeline that is not installed and writes no
/// log, and prints its catalogue.
fn print_catalogue(args: &Args, format: &str) -> ExitCode {
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("procman: {e}");
            return ExitCode::from(2);
        }
    };
    let catalogue = registered_catalogue(config);
    print!(
        "{}",
        if format == "yaml" {
            catalogue.to_yaml()
        } else {
            catalogue.to_json()
        }
    );
    ExitCode::SUCCESS
}

/// Everything procman registers, from a pipeline that is not installed and writes no log.
fn registered_catalogue(config: Config) -> watchpost::catalogue::Catalogue {
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let manager = instances::Manager::new(Some(&telemetry));
    drop(api::router(manager, Some(telemetry.clone()), None));
    telemetry.metrics().catalogue()
}

/// `SHUTDOWN_TIMEOUT` (milliseconds; default 10 000): the longest a SIGTERM or SIGINT may take
/// to end procman. An invalid value is reported and the default used.
fn shutdown_timeout() -> Duration {
    const DEFAULT: Duration = Duration::from_secs(10);
    match std::env::var("SHUTDOWN_TIMEOUT") {
        Err(_) => DEFAULT,
        Ok(v) => match v.parse::<u64>() {
            Ok(ms) if (100..=600_000).contains(&ms) => Duration::from_millis(ms),
            _ => {
                eprintln!(
                    "procman: invalid SHUTDOWN_TIMEOUT {v:?}: expected milliseconds from 100 to 600000; using 10000"
                );
                DEFAULT
            }
        },
    }
}

/// `"NAME addr"` if `addr` is not a loopback address.
fn exposed_bind(name: &str, addr: SocketAddr) -> Option<String> {
    (!addr.ip().is_loopback()).then(|| format!("{name} {addr}"))
}

/// Why procman must not start: a listener beyond loopback without a token.
fn refuse_exposed(exposed: &[String], token: Option<&auth::Token>) -> Option<String> {
    (!exposed.is_empty() && token.is_none()).then(|| {
        format!(
            "{} is not a loopback address: set PROCMAN_TOKEN (or --token-file) so that every request must carry `Authorization: Bearer <token>`",
            exposed.join(" and ")
        )
    })
}

#[cfg(test)]
mod tests {
    use watchpost::catalogue::Catalogue;

    /// `metrics::ALL` (what the README's table is generated from) is what procman registers.
    #[test]
    fn the_declared_metrics_are_the_registered_ones() {
        let config = watchpost::Config::builder("procman").build().unwrap();
        let live = super::registered_catalogue(config).markdown_table();
        let live: Vec<&str> = live
            .lines()
            .filter(|l| l.starts_with("| `procman_"))
            .collect();
        let declared = Catalogue::new("procman", super::metrics::ALL.to_vec()).markdown_table();
        let declared: Vec<&str> = declared.lines().filter(|l| l.starts_with("| `")).collect();
        assert_eq!(live, declared);
    }
}
