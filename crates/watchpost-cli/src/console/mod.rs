//! `watchpost console`: a local observability stack in one process. Any OpenTelemetry SDK sends
//! OTLP to it (gRPC, HTTP protobuf or JSON: the receiver of [`crate::otlp`]); spans, log records
//! and metric points are kept in memory under a byte budget ([`store`]); a JSON API ([`api`]) and
//! server-rendered pages ([`pages`]) show traces as waterfalls, logs linked to their traces,
//! error groups, the service dependency map and metric charts.
//!
//! The console logs through the Watchpost library itself (JSON lines on stdout, subsystem
//! `CONSOLE`), and serves its own `/metrics` next to the pages.
//!
//! ```no_run
//! # async fn demo() -> watchpost_cli::Result<()> {
//! use watchpost_cli::console::{self, Options};
//! let running = console::start(Options::local(), None).await?;
//! println!("open http://{}/", running.ui_addr());
//! running.shutdown().await;
//! # Ok(())
//! # }
//! ```

pub mod api;
pub mod export;
pub mod findings;
pub mod html;
pub mod live;
pub mod otlp_kv;
pub mod pages;
pub mod pages_live;
pub mod persist;
pub mod query;
pub mod scrape;
pub mod store;
pub mod tail;
pub mod transfer;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use watchpost::catalogue::{Label, MetricDef, Unit};

use crate::error::Error;
use crate::otlp::{self, Batch};
pub use api::Console;
use store::Store;

/// The default budget: 256 MiB.
pub const DEFAULT_BUDGET: usize = 256 << 20;

/// Exports decoded and waiting to be stored, at most: memory outside the budget (a decoded
/// export of 1 000 spans takes about 0.7 MiB). A full queue answers "retry" (HTTP 503, gRPC
/// `UNAVAILABLE`), which every OTLP exporter does, with backoff; refusals are counted.
pub const INGEST_QUEUE: usize = 4;

/// How long the pages' open connections may take to finish once the console stops.
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// Refuses a listener bound beyond loopback: the console has no tokens, so it serves this
/// machine only (`0.0.0.0`, `[::]`, a host name that resolves elsewhere are all refused).
fn loopback_only(flag: &str, given: &str, bound: Option<SocketAddr>) -> crate::Result<()> {
    match bound {
        Some(a) if !a.ip().is_loopback() => Err(Error::new(format!(
            "{flag} {given}: the console listens on loopback only, and this binds {a}"
        ))
        .hint(format!(
            "give a loopback address, e.g. {flag} 127.0.0.1:0 (the console has no access tokens; to reach it from elsewhere, forward a port: ssh -L)"
        ))),
        _ => Ok(()),
    }
}

/// The host part of a `Host` header or an address (`host`, `host:port`, `[v6]`, `[v6]:port`),
/// lower-cased.
fn host_of(s: &str) -> String {
    let s = s.trim();
    let host = if s.starts_with('[') {
        s.find(']').map_or(s, |i| &s[..=i])
    } else {
        match s.rsplit_once(':') {
            Some((h, port)) if port.chars().all(|c| c.is_ascii_digit()) => h,
            _ => s,
        }
    };
    host.to_ascii_lowercase()
}

/// The `Host` values the pages answer: loopback by name or address, and `--ui`'s host as given.
fn allowed_hosts(ui: &str) -> Vec<String> {
    let mut hosts: Vec<String> = ["127.0.0.1", "localhost", "[::1]"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let given = host_of(ui);
    if !given.is_empty() && !hosts.contains(&given) {
        hosts.push(given);
    }
    hosts
}

/// Answers 421 to a request whose `Host` is not one of `hosts` (a page of another site that
/// rebinds its name to 127.0.0.1 gets nothing), 403 to a request that changes something (any
/// method but GET, HEAD, OPTIONS) sent by another site's page ([`cross_site`]), and sets
/// `nosniff` and the content security policy on every answer.
async fn guard(
    axum::extract::State(hosts): axum::extract::State<Arc<Vec<String>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::http::{header, HeaderValue, StatusCode};
    use axum::response::IntoResponse;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(host_of);
    let mut res = match host {
        Some(h) if hosts.contains(&h) => match cross_site(&req) {
            Some(why) => (
                StatusCode::FORBIDDEN,
                axum::Json(serde_json::json!({
                    "error": format!("{why}; the console takes changes only from its own pages or from a program (curl, watchpost console import)"),
                    "parameter": "origin",
                })),
            )
                .into_response(),
            None => next.run(req).await,
        },
        other => (
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "Host '{}' is not served here; allowed: {}\n",
                other.unwrap_or_default(),
                hosts.join(", ")
            ),
        )
            .into_response(),
    };
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Scripts and style sheets come from the console itself; the waterfall's bars and the
    // charts' swatches are placed by inline style attributes, which `style-src-attr` allows.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; style-src-attr 'unsafe-inline'"),
    );
    res
}

/// Why a request that changes something comes from another site's page, if it does: its
/// `Origin` is not the console's own (`http://` and the `Host` it was sent to, so another port
/// of this machine counts as another site), or the browser says `Sec-Fetch-Site: cross-site` or
/// `same-site`. A program that sends neither header is not refused.
fn cross_site(req: &axum::extract::Request) -> Option<String> {
    use axum::http::{header, Method};
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return None;
    }
    let h = req.headers();
    let text = |name| {
        h.get(name)
            .map(|v: &axum::http::HeaderValue| v.to_str().unwrap_or("?"))
    };
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Some(format!(
                "Sec-Fetch-Site '{site}': sent by another site's page"
            ));
        }
    }
    if let Some(origin) = text(header::ORIGIN.as_str()) {
        let host = text(header::HOST.as_str()).unwrap_or_default();
        if !origin.eq_ignore_ascii_case(&format!("http://{host}")) {
            return Some(format!(
                "Origin '{origin}' is not this console's (http://{host})"
            ));
        }
    }
    None
}

/// `watchpost console`'s flags.
#[derive(clap::Args, Debug, Clone)]
pub struct ConsoleArgs {
    /// Receive OTLP over gRPC on this address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4317")]
    pub grpc: String,
    /// Receive OTLP over HTTP (protobuf or JSON) on this address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4318")]
    pub http: String,
    /// Serve the pages and the JSON API on this address.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:18888")]
    pub ui: String,
    /// The most memory the telemetry may take (estimated); the oldest is evicted first.
    /// E.g. 64MiB, 1GiB.
    #[arg(long, value_name = "SIZE", default_value = "256MiB")]
    pub budget: String,
    /// `--scrape`, `--scrape-interval`, `--logs`, `--logs-from-start`.
    #[command(flatten)]
    pub sources: live::SourceArgs,
    /// Keep the telemetry in this directory too (created 0700): a restart replays it.
    #[arg(long, value_name = "DIR")]
    pub data: Option<std::path::PathBuf>,
    /// The most disk --data may take; the oldest segment is deleted first. E.g. 512MiB, 4GiB.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", requires = "data")]
    pub data_max_bytes: String,
    /// Delete what --data holds once older than this, e.g. 12h, 7d.
    #[arg(long, value_name = "DURATION", default_value = "7d", requires = "data")]
    pub retention: String,
    /// export or import a time range as OTLP/JSON (else: run the console).
    #[command(subcommand)]
    pub action: Option<transfer::Action>,
}

/// Where the console listens and how much it keeps.
#[derive(Debug, Clone)]
pub struct Options {
    /// OTLP/gRPC address.
    pub grpc: String,
    /// OTLP/HTTP address.
    pub http: String,
    /// The pages and the API.
    pub ui: String,
    /// Bytes.
    pub budget: usize,
    /// `--data`: where the telemetry is kept on disk too, if anywhere.
    pub data: Option<persist::DataOptions>,
    /// `--scrape` and `--logs`.
    pub sources: live::Sources,
}

impl Options {
    /// Every listener on a free loopback port, the default budget (tests, examples).
    pub fn local() -> Options {
        Options {
            grpc: "127.0.0.1:0".into(),
            http: "127.0.0.1:0".into(),
            ui: "127.0.0.1:0".into(),
            budget: DEFAULT_BUDGET,
            data: None,
            sources: live::Sources::default(),
        }
    }

    /// The options the flags give.
    pub fn from_args(args: &ConsoleArgs) -> crate::Result<Options> {
        Ok(Options {
            grpc: args.grpc.clone(),
            http: args.http.clone(),
            ui: args.ui.clone(),
            budget: parse_budget(&args.budget)?,
            sources: live::Sources::from_args(&args.sources)?,
            data: match &args.data {
                Some(dir) => Some(persist::DataOptions {
                    dir: dir.clone(),
                    max_bytes: parse_size("--data-max-bytes", &args.data_max_bytes)? as u64,
                    retention: persist::parse_retention(&args.retention)?,
                }),
                None => None,
            },
        })
    }
}

/// Reads a size: a number and a unit (`B`, `KiB`, `MiB`, `GiB`, `KB`, `MB`, `GB`), at least
/// 64 KiB.
///
/// ```
/// assert_eq!(watchpost_cli::console::parse_budget("64MiB").unwrap(), 64 << 20);
/// assert!(watchpost_cli::console::parse_budget("lots").is_err());
/// ```
pub fn parse_budget(s: &str) -> crate::Result<usize> {
    parse_size("--budget", s)
}

/// [`parse_budget`] for the flag `flag`.
pub fn parse_size(flag: &str, s: &str) -> crate::Result<usize> {
    let err = || {
        Error::new(format!("{flag}: cannot read '{s}' as a size"))
            .hint("write a number and a unit of at least 64KiB, e.g. 64MiB, 256MiB, 1GiB")
    };
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: f64 = n.parse().map_err(|_| err())?;
    let scale = match unit.trim() {
        "" | "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        _ => return Err(err()),
    };
    let bytes = n * scale;
    if !bytes.is_finite() || bytes < 65536.0 || bytes > usize::MAX as f64 {
        return Err(err());
    }
    Ok(bytes as usize)
}

const SIGNAL: Label = Label::closed("signal", &["spans", "logs", "metric_points"]);
/// Items evicted to stay under the budget.
pub const EVICTED: MetricDef = MetricDef::counter(
    "watchpost_console_evicted_total",
    "Telemetry items evicted (oldest first) to keep the store under its byte budget",
)
.labels(&[SIGNAL])
.subsystem("CONSOLE");
/// Items held.
pub const STORED: MetricDef =
    MetricDef::gauge("watchpost_console_stored", "Telemetry items held in memory")
        .labels(&[SIGNAL])
        .subsystem("CONSOLE");
/// Bytes held (estimated).
pub const STORE_BYTES: MetricDef = MetricDef::gauge(
    "watchpost_console_store_bytes",
    "Estimated bytes of telemetry held (the budget bounds it)",
)
.unit(Unit::Bytes)
.subsystem("CONSOLE");
/// Exports refused (the receiver's queue was full) or unreadable.
pub const EXPORTS_REFUSED: MetricDef = MetricDef::counter(
    "watchpost_console_exports_refused_total",
    "OTLP exports not stored: refused while the queue was full, or unreadable",
)
.labels(&[Label::closed("reason", &["queue_full", "invalid"])])
.subsystem("CONSOLE");

/// The running console.
#[derive(Debug)]
pub struct Running {
    console: Console,
    receiver: otlp::Receiver,
    ui_addr: SocketAddr,
    ui_stop: oneshot::Sender<()>,
    ui_task: JoinHandle<()>,
    ingest: JoinHandle<()>,
    sources: live::Tasks,
}

impl Running {
    /// Where OTLP/gRPC is received.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.receiver.grpc_addr()
    }

    /// Where OTLP/HTTP is received.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.receiver.http_addr()
    }

    /// Where the pages and the API are served.
    pub fn ui_addr(&self) -> SocketAddr {
        self.ui_addr
    }

    /// The store and counters the pages read.
    pub fn console(&self) -> &Console {
        &self.console
    }

    /// Stops serving the pages and the API (an import in progress finishes), then stops
    /// receiving (exports in progress finish, what was queued is stored), then closes `--data`
    /// once everything stored was handed to it.
    pub async fn shutdown(self) {
        let _ = self.ui_stop.send(());
        let _ = self.ui_task.await;
        self.sources.stop().await;
        self.receiver.shutdown().await;
        let _ = self.ingest.await;
        let data = self.console.data.clone();
        let _ = tokio::task::spawn_blocking(move || data.close()).await;
    }
}

/// Starts the receiver, the store and the pages. With `telemetry`, the console's own metrics are
/// registered on it and served on `/metrics` next to the pages.
pub async fn start(
    options: Options,
    telemetry: Option<&watchpost::Telemetry>,
) -> crate::Result<Running> {
    let ui = tokio::net::TcpListener::bind(&options.ui)
        .await
        .map_err(|e| {
            Error::new(format!("cannot serve the console on '{}': {e}", options.ui)).hint(
                "give another address with --ui (port 0 picks a free one, e.g. --ui 127.0.0.1:0)",
            )
        })?;
    let ui_addr = ui
        .local_addr()
        .map_err(|e| Error::new(format!("the console's listener has no address: {e}")))?;
    loopback_only("--ui", &options.ui, Some(ui_addr))?;
    // --data: replayed before anything is received, so what arrives now is the newest.
    let store = Arc::new(RwLock::new(Store::new(options.budget)));
    let data = match options.data.clone() {
        Some(o) => {
            let s = store.clone();
            tokio::task::spawn_blocking(move || persist::Persist::open(o, &s))
                .await
                .map_err(|e| Error::new(format!("--data: the replay stopped: {e}")))??
        }
        None => persist::Persist::disabled(),
    };
    let data = Arc::new(data);
    let (receiver, mut batches) = otlp::start_with_flags(
        Some(&options.grpc),
        Some(&options.http),
        ["--grpc", "--http"],
        INGEST_QUEUE,
    )
    .await?;
    let beyond = loopback_only("--grpc", &options.grpc, receiver.grpc_addr())
        .and_then(|()| loopback_only("--http", &options.http, receiver.http_addr()));
    if let Err(e) = beyond {
        receiver.shutdown().await;
        let d = data.clone();
        let _ = tokio::task::spawn_blocking(move || d.close()).await;
        return Err(e);
    }
    let console = Console {
        store,
        refused: receiver.dropped_counter(),
        invalid: Arc::new(AtomicU64::new(0)),
        data,
        live: Arc::default(),
        transfers: Arc::default(),
    };
    if let Some(t) = telemetry {
        register_metrics(t, &console);
        live::register_metrics(t, &console);
    }

    let c = console.clone();
    let ingest = tokio::spawn(async move {
        let warned_full = AtomicBool::new(false);
        while let Some(batch) = batches.recv().await {
            c.data.offer(&batch);
            c.live.check_otlp(&batch);
            if let Batch::Invalid { transport, message } = &batch {
                c.invalid.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "watchpost_cli::console", transport, error = %message, "an OTLP export could not be read");
                continue;
            }
            let evicted_before = {
                let mut store = c.store.write().unwrap_or_else(|e| e.into_inner());
                let before = store.stats().evicted;
                store.add_batch(batch);
                (before, store.stats())
            };
            let (before, now) = evicted_before;
            let evicted = now.evicted.spans + now.evicted.logs + now.evicted.metric_points;
            if evicted > before.spans + before.logs + before.metric_points
                && !warned_full.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(
                    target: "watchpost_cli::console",
                    budget_bytes = now.budget,
                    "the store reached its budget; the oldest telemetry is evicted from now on (counted in watchpost_console_evicted_total)"
                );
            }
        }
    });

    let mut app = api::router()
        .merge(pages::router())
        .merge(pages_live::router())
        .with_state(console.clone());
    if let Some(t) = telemetry {
        app = app.merge(watchpost::metrics::router(t.metrics().clone()));
    }
    let app = app.layer(axum::middleware::from_fn_with_state(
        Arc::new(allowed_hosts(&options.ui)),
        guard,
    ));
    let (ui_stop, stopped) = oneshot::channel::<()>();
    let (draining, drain_started) = oneshot::channel::<()>();
    let ui_task = tokio::spawn(async move {
        let served = axum::serve(ui, app).with_graceful_shutdown(async {
            let _ = stopped.await;
            let _ = draining.send(());
        });
        // Connections still open after the stop are given SHUTDOWN_GRACE, then cut.
        let limit = async {
            if drain_started.await.is_ok() {
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            served = served => {
                if let Err(e) = served {
                    tracing::error!(target: "watchpost_cli::console", error = %e, "the console's pages stopped");
                }
            }
            () = limit => {
                tracing::warn!(target: "watchpost_cli::console", grace_seconds = SHUTDOWN_GRACE.as_secs(), "connections to the pages still open after the grace period were closed");
            }
        }
    });
    // The sources first: a followed file is opened before the console says it listens.
    let sources = live::start(&options.sources, &console);
    tracing::info!(
        target: "watchpost_cli::console",
        otlp_grpc = %receiver.grpc_addr().map_or_else(String::new, |a| a.to_string()),
        otlp_http = %receiver.http_addr().map_or_else(String::new, |a| a.to_string()),
        ui = %ui_addr,
        budget_bytes = options.budget,
        "console listening"
    );
    Ok(Running {
        console,
        receiver,
        ui_addr,
        ui_stop,
        ui_task,
        ingest,
        sources,
    })
}

fn register_metrics(t: &watchpost::Telemetry, console: &Console) {
    use opentelemetry::KeyValue;
    if console.data.enabled() {
        console.data.register_metrics(t);
    }
    let per_signal = |s: store::PerSignal| {
        [
            (s.spans, "spans"),
            (s.logs, "logs"),
            (s.metric_points, "metric_points"),
        ]
    };
    let c = console.clone();
    t.metrics().observe_u64(&EVICTED, move |o| {
        for (n, signal) in per_signal(c.read().stats().evicted) {
            o.observe(n, &[KeyValue::new("signal", signal)]);
        }
    });
    let c = console.clone();
    t.metrics().observe_u64(&STORED, move |o| {
        for (n, signal) in per_signal(c.read().stats().stored) {
            o.observe(n, &[KeyValue::new("signal", signal)]);
        }
    });
    let c = console.clone();
    t.metrics().observe_u64(&STORE_BYTES, move |o| {
        o.observe(c.read().stats().bytes as u64, &[]);
    });
    let c = console.clone();
    t.metrics().observe_u64(&EXPORTS_REFUSED, move |o| {
        o.observe(
            c.refused.load(Ordering::Relaxed),
            &[KeyValue::new("reason", "queue_full")],
        );
        o.observe(
            c.invalid.load(Ordering::Relaxed),
            &[KeyValue::new("reason", "invalid")],
        );
    });
}

/// The Watchpost configuration of the console's own telemetry (service `watchpost-console`,
/// subsystem `CONSOLE`; the environment's variables apply, as in any service).
pub fn telemetry_config() -> crate::Result<watchpost::Config> {
    watchpost::Config::builder("watchpost-console")
        .service_version(env!("CARGO_PKG_VERSION"))
        .subsystem(watchpost::Subsystem::new("CONSOLE").target("watchpost_cli::console"))
        .from_env()
        .build()
        .map_err(|e| Error::new(format!("the console's own telemetry: {e}")))
}

/// `watchpost console`: starts everything, says where on stderr, runs until SIGINT or SIGTERM.
pub async fn run(
    args: &ConsoleArgs,
    telemetry: Option<&watchpost::Telemetry>,
) -> crate::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let options = Options::from_args(args)?;
    // Before the listeners are announced: a supervisor (or a test) that stops the console as
    // soon as it is up must get a clean shutdown, not the default action of SIGTERM.
    let listen =
        |kind| signal(kind).map_err(|e| Error::new(format!("cannot listen for signals: {e}")));
    let mut terminate = listen(SignalKind::terminate())?;
    let mut interrupt = listen(SignalKind::interrupt())?;
    let running = start(options, telemetry).await?;
    let addr = |a: Option<SocketAddr>| a.map_or_else(|| "-".to_owned(), |a| a.to_string());
    eprintln!(
        "watchpost console: OTLP gRPC on {}",
        addr(running.grpc_addr())
    );
    eprintln!(
        "watchpost console: OTLP HTTP on {}",
        addr(running.http_addr())
    );
    eprintln!("watchpost console: open http://{}/", running.ui_addr());
    tokio::select! {
        _ = terminate.recv() => {}
        _ = interrupt.recv() => {}
    }
    tracing::info!(target: "watchpost_cli::console", "console stopping");
    running.shutdown().await;
    Ok(())
}
