//! An axum service instrumented with Watchpost, from `main` to a graceful shutdown.
//!
//! ```sh
//! cargo run -p watchpost --example axum_service
//! curl -s -XPOST localhost:3000/items/42        # 201: item 42 is created, with a log of its own
//! curl -s localhost:3000/items/42               # 200 (404 for an item that does not exist)
//! curl -s "localhost:3000/items/42/logs?tail=5" # item 42's log, as Server-Sent Events
//! curl -s localhost:9464/metrics                # the metrics, on their own listener…
//! curl -s localhost:3000/metrics                # …and on the app's router (scrapes are not logged)
//! ```
//!
//! Every request writes one JSON access line on stdout (method, route, status, duration,
//! `remote_addr`, `request_id`, `trace_id`); the lines about item 42 also go to its own file under
//! `$DATA_DIR/logs/item/42/`. Ctrl-C or SIGTERM stops it: requests in flight get 5 seconds to
//! finish (a log follower's stream never does: it is cut), then the telemetry is flushed.
//! `LISTEN_ADDR` (default `127.0.0.1:3000`) and `DATA_DIR` (default: `watchpost-axum-<uid>` in
//! the system's temp dir, created 0700 and refused unless it is a private directory of this user)
//! are this example's variables; every Watchpost variable works too (`LOG_LEVEL_API=debug`,
//! `METRICS_LISTEN`, `OTEL_ENABLED=true`, …).

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use opentelemetry::metrics::Counter;
use opentelemetry::KeyValue;
use watchpost::catalogue::{Label, MetricDef};
use watchpost::logs::ResourceLogConfig;
use watchpost::{Config, Subsystem, Telemetry};

/// Every metric is declared once, with its labels and their values: the catalogue on
/// `/metrics/catalogue`, the README tables and the linters read the same definition.
const ITEMS_CREATED: MetricDef = MetricDef::counter("shop_items_created_total", "Items created")
    .labels(&[Label::closed("outcome", &["created", "exists"])])
    .subsystem("API");

#[derive(Clone)]
struct App {
    telemetry: Telemetry,
    items: Arc<Mutex<HashSet<String>>>,
    created: Counter<u64>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listen: SocketAddr = std::env::var("LISTEN_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:3000".into())
        .parse()?;
    let data_dir = match std::env::var_os("DATA_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => private_temp_dir("watchpost-axum")?,
    };

    // 1. Configure: a subsystem per part of the service (each has its own level,
    //    `LOG_LEVEL_API`), per-resource logs for items, then the environment on top.
    let config = Config::builder("shop")
        .service_version(env!("CARGO_PKG_VERSION"))
        .subsystem(
            Subsystem::new("API")
                .target("axum_service")
                .target("watchpost::http"),
        )
        .resource_logs(ResourceLogConfig::new(data_dir.join("logs")).kind("item", "item_id"))
        .from_env()
        .build()?;
    // 2. Install it: JSON lines on stdout, metrics, traces (exported with `OTEL_ENABLED=true`).
    let telemetry = watchpost::init(config)?;

    // 3. The metrics on their own listener (`METRICS_LISTEN`, default 127.0.0.1:9464), off
    //    the application's port.
    let metrics_server = telemetry.serve_metrics().await?;
    let shutdown = shutdown_signal(); // listened for from now on, before anything says it is up
    eprintln!("metrics on http://{}/metrics", metrics_server.local_addr());

    let app = App {
        created: telemetry.metrics().counter(&ITEMS_CREATED),
        telemetry: telemetry.clone(),
        items: Arc::default(),
    };
    // An item's log, read and followed over Server-Sent Events (`?tail=N&follow=true`).
    let resource_logs = telemetry.resource_logs().expect("configured above");
    let item_logs: Router = Router::new()
        .route("/items/{id}/logs", get(watchpost::logs::sse_handler))
        .with_state(resource_logs.sse_state("item"));

    // 4. The router: routes first, `/metrics` merged too, and `HttpLayer` last so that it wraps
    //    every route (one span, one access line and the request metrics per request; scrapes
    //    of the merged `/metrics` pass through unlogged).
    let router = Router::new()
        .route("/items/{id}", post(create_item).get(get_item))
        .with_state(app)
        .merge(item_logs)
        .merge(watchpost::metrics::router(telemetry.metrics().clone()))
        .layer(watchpost::http::HttpLayer::new(&telemetry));

    // 5. Serve with each connection's address, or the access lines have no `remote_addr`;
    //    stop on SIGTERM or Ctrl-C, letting requests in flight finish — for 5 seconds at most:
    //    a log follower's stream (`follow=true`) never finishes on its own.
    let listener = tokio::net::TcpListener::bind(listen).await?;
    eprintln!("listening on http://{}", listener.local_addr()?);
    let stopping = Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let server = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        signalled.notify_one();
    });
    tokio::select! {
        served = server => served?,
        _ = async {
            stopping.notified().await;
            tokio::time::sleep(Duration::from_secs(5)).await;
        } => tracing::warn!("requests still open 5 s after the signal (log followers?): cut"),
    }

    // 6. Stop the metrics listener, then flush what is buffered (bounded: 5 seconds).
    metrics_server.shutdown().await;
    telemetry.shutdown()?;
    Ok(())
}

/// `POST /items/{id}`: 201 when created, 200 when it existed, 400 for an id that cannot name a
/// file. The access line is the request's one INFO line; details go at DEBUG.
async fn create_item(
    State(app): State<App>,
    Path(id): Path<String>,
) -> Result<StatusCode, (StatusCode, String)> {
    let logs = app.telemetry.resource_logs().expect("configured in main");
    logs.register("item", &id)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("{e}\n")))?;
    // From here on, every line of this request (the access line too) is also in the item's log.
    watchpost::logs::record_current_resource("item", &id);
    let created = app.items.lock().unwrap().insert(id);
    let outcome = if created { "created" } else { "exists" };
    app.created.add(1, &[KeyValue::new("outcome", outcome)]);
    tracing::debug!(outcome, "item stored");
    Ok(if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    })
}

/// `GET /items/{id}`: 200 or 404.
async fn get_item(State(app): State<App>, Path(id): Path<String>) -> (StatusCode, String) {
    if !app.items.lock().unwrap().contains(&id) {
        return (StatusCode::NOT_FOUND, format!("no item {id}\n"));
    }
    watchpost::logs::record_current_resource("item", &id);
    (StatusCode::OK, format!("item {id}\n"))
}

/// `<temp dir>/<name>-<uid>`, private to this user. The temp dir is shared with every user, so
/// the directory is created alone with mode 0700 (which never follows a symlink), and one that
/// exists already must be a real directory of ours that no one else can open: a symlink or a
/// directory planted by another user is refused, not written into.
fn private_temp_dir(name: &str) -> Result<PathBuf, String> {
    use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _};
    // SAFETY: getuid cannot fail and has no preconditions.
    let uid = unsafe { libc::getuid() };
    let dir = std::env::temp_dir().join(format!("{name}-{uid}"));
    let refuse = |why: String| format!("data directory {}: {why}; set DATA_DIR", dir.display());
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(refuse(e.to_string())),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| refuse(e.to_string()))?;
    if !meta.file_type().is_dir() || meta.uid() != uid || meta.mode() & 0o077 != 0 {
        return Err(refuse(
            "not a private directory of this user (a symlink, someone else's, or open to others)"
                .into(),
        ));
    }
    Ok(dir)
}

/// Resolves on SIGTERM (what a supervisor sends) or Ctrl-C. Both are listened for from the call
/// on, not from the first poll: a SIGTERM that comes right after the start stops the service
/// cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("shutting down");
    }
}
