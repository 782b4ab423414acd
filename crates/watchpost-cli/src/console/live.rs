//! What the console reads besides OTLP, and what it finds in everything: the `--scrape` and
//! `--logs` flags ([`SourceArgs`]), their tasks ([`start`]), the state the pages read ([`Live`]:
//! the sources' records and the [findings](super::findings)), the console's metrics about them,
//! and the JSON API of the RED view, the findings and the sources (`/api/red`,
//! `/api/findings`, `/api/sources`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tokio::task::JoinHandle;
use watchpost::catalogue::{Label, MetricDef};

use super::api::{self, BadParam, Console, Params};
use super::findings::{self, now_ns, Findings, OtlpChecker, OtlpChecks};
use super::query::red;
use super::scrape::{self, ScrapeStatus};
use super::tail::{self, TailStatus};
use crate::error::Error;
use crate::exposition;
use crate::lint::{self, LintOptions};
use crate::otlp::Batch;
use crate::report::Report;

/// Exports waiting for or in the OTLP checks at most (each a copy); more are stored unchecked.
pub const CHECK_QUEUE: usize = 1;

/// How long the console waits at start for the `--logs` files to be opened.
pub const OPEN_WAIT: Duration = Duration::from_secs(2);

/// The shortest `--scrape-interval`.
pub const MIN_SCRAPE_INTERVAL: Duration = Duration::from_millis(100);

/// `watchpost console`'s flags for the sources besides OTLP.
#[derive(clap::Args, Debug, Clone)]
pub struct SourceArgs {
    /// Scrape this Prometheus text or OpenMetrics exposition (repeatable): its samples are
    /// stored as metric points and linted live (the Findings page).
    #[arg(long = "scrape", value_name = "URL")]
    pub scrape: Vec<String>,
    /// Time between scrapes. E.g. 15s, 500ms.
    #[arg(long, value_name = "DURATION", default_value = "15s")]
    pub scrape_interval: String,
    /// How long a scrape may take (at most 10s). Default: the interval, or 10s if shorter.
    #[arg(long, value_name = "DURATION")]
    pub scrape_timeout: Option<String>,
    /// Follow this JSON-lines log file (repeatable) from its end, across rotation and
    /// truncation; each line is stored as a log record linked to its trace, and checked live.
    #[arg(long = "logs", value_name = "FILE")]
    pub logs: Vec<PathBuf>,
    /// Read the `--logs` files from their start instead of their end.
    #[arg(long)]
    pub logs_from_start: bool,
}

/// The sources besides OTLP.
#[derive(Debug, Clone)]
pub struct Sources {
    /// URLs to scrape.
    pub scrape: Vec<String>,
    /// Time between scrapes.
    pub scrape_interval: Duration,
    /// How long a scrape may take.
    pub scrape_timeout: Duration,
    /// Log files to follow.
    pub logs: Vec<PathBuf>,
    /// Read them from their start.
    pub logs_from_start: bool,
}

impl Default for Sources {
    fn default() -> Self {
        Sources {
            scrape: Vec::new(),
            scrape_interval: Duration::from_secs(15),
            scrape_timeout: scrape::MAX_TIMEOUT,
            logs: Vec::new(),
            logs_from_start: false,
        }
    }
}

impl Sources {
    /// The sources the flags give (URLs, durations and files checked: a `--logs` path that
    /// exists must be a regular file, never a FIFO, a device or a directory).
    ///
    /// ```
    /// use watchpost_cli::console::live::{SourceArgs, Sources};
    /// let args = SourceArgs { scrape: vec!["ftp://x".into()], scrape_interval: "15s".into(), scrape_timeout: None, logs: vec![], logs_from_start: false };
    /// assert!(Sources::from_args(&args).is_err());
    /// let args = SourceArgs { scrape: vec![], scrape_interval: "15s".into(), scrape_timeout: None, logs: vec!["/dev/null".into()], logs_from_start: false };
    /// assert!(Sources::from_args(&args).is_err());
    /// ```
    pub fn from_args(args: &SourceArgs) -> crate::Result<Sources> {
        for url in &args.scrape {
            let ok = reqwest::Url::parse(url)
                .ok()
                .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
            if ok.is_none() {
                return Err(Error::new(format!("--scrape {url}: not an http(s) URL"))
                    .hint("give the metrics URL of a service, e.g. --scrape http://127.0.0.1:9090/metrics"));
            }
        }
        let interval = api::duration_ns("--scrape-interval", &args.scrape_interval)
            .map(Duration::from_nanos)
            .ok()
            .filter(|d| *d >= MIN_SCRAPE_INTERVAL)
            .ok_or_else(|| {
                Error::new(format!(
                    "--scrape-interval: cannot read '{}' as a duration of 100ms or more",
                    args.scrape_interval
                ))
                .hint("write a number and a unit: 500ms, 15s, 1m")
            })?;
        let timeout = match &args.scrape_timeout {
            None => interval.min(scrape::MAX_TIMEOUT),
            Some(t) => api::duration_ns("--scrape-timeout", t)
                .map(Duration::from_nanos)
                .ok()
                .filter(|d| !d.is_zero() && *d <= scrape::MAX_TIMEOUT)
                .ok_or_else(|| {
                    Error::new(format!(
                        "--scrape-timeout: cannot read '{t}' as a duration above 0 and at most 10s"
                    ))
                    .hint("write a number and a unit: 500ms, 2s, 10s")
                })?,
        };
        for path in &args.logs {
            tail::check_regular(path).map_err(|e| {
                Error::new(format!("--logs {}: {e}", path.display()))
                    .hint("give a regular file (a service's JSON-lines log); FIFOs, devices and directories cannot be followed")
            })?;
        }
        Ok(Sources {
            scrape: args.scrape.clone(),
            scrape_interval: interval,
            scrape_timeout: timeout,
            logs: args.logs.clone(),
            logs_from_start: args.logs_from_start,
        })
    }
}

/// The sources' records and the findings, shared by the tasks and the pages.
#[derive(Debug, Default)]
pub struct Live {
    /// The finding groups.
    pub findings: Mutex<Findings>,
    /// The rules applied to OTLP exports.
    pub otlp: Mutex<OtlpChecks>,
    /// One record per `--scrape` URL, in order.
    pub scrapes: Mutex<Vec<ScrapeStatus>>,
    /// One record per `--logs` file, in order.
    pub tails: Mutex<Vec<TailStatus>>,
    /// The checker thread's queue, once started (`None`: it could not be).
    checker: OnceLock<Option<std::sync::mpsc::SyncSender<Batch>>>,
    /// Exports handed to the checker and not checked yet.
    checking: AtomicUsize,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Live {
    /// Has an OTLP export checked, off the caller's path: when [`OtlpChecks::admit`] allows it
    /// and the checker thread is free, a copy is handed to it; otherwise it is counted
    /// unchecked. Never waits for a check.
    pub fn check_otlp(self: &Arc<Self>, batch: &Batch) {
        if !lock(&self.otlp).admit(findings::items(batch)) {
            return;
        }
        let Some(tx) = self.checker.get_or_init(|| self.start_checker()) else {
            lock(&self.otlp).busy();
            return;
        };
        // The copy is made only when the checker has room for it.
        if self.checking.fetch_add(1, Ordering::AcqRel) >= CHECK_QUEUE {
            self.checking.fetch_sub(1, Ordering::AcqRel);
            lock(&self.otlp).busy();
            return;
        }
        if tx.try_send(batch.clone()).is_err() {
            self.checking.fetch_sub(1, Ordering::AcqRel);
            lock(&self.otlp).busy();
        }
    }

    fn start_checker(self: &Arc<Self>) -> Option<std::sync::mpsc::SyncSender<Batch>> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(CHECK_QUEUE);
        // The thread holds only a weak reference: it ends with the console.
        let live = Arc::downgrade(self);
        let spawned = std::thread::Builder::new()
            .name("watchpost-console-check".into())
            .spawn(move || {
                let mut checker = OtlpChecker::default();
                for batch in rx {
                    let Some(live) = live.upgrade() else { return };
                    let spent = checker.check(&batch, &live.findings);
                    drop(batch);
                    lock(&live.otlp).paid(spent);
                    live.checking.fetch_sub(1, Ordering::AcqRel);
                }
            });
        match spawned {
            Ok(_) => Some(tx),
            Err(e) => {
                tracing::error!(target: "watchpost_cli::console", error = %e, "cannot start the thread of the live OTLP checks; exports are stored unchecked (counted)");
                None
            }
        }
    }

    /// The numbers `/api/stats` adds: scrapes and lines read, findings held. Each is read
    /// under its own lock, one lock at a time (never two held together).
    pub fn stats(&self) -> serde_json::Value {
        let scrapes = {
            let s = lock(&self.scrapes);
            json!({
                "ok": s.iter().map(|s| s.ok).sum::<u64>(),
                "failed": s.iter().map(|s| s.failed).sum::<u64>(),
            })
        };
        let tailed_lines = {
            let t = lock(&self.tails);
            json!({
                "json": t.iter().map(|t| t.json).sum::<u64>(),
                "plain": t.iter().map(|t| t.plain).sum::<u64>(),
                "cut": t.iter().map(|t| t.cut).sum::<u64>(),
            })
        };
        let (held, evicted) = {
            let f = lock(&self.findings);
            (f.len(), f.evicted())
        };
        let (checked, unchecked, too_large, busy) = {
            let o = lock(&self.otlp);
            (o.checked, o.unchecked, o.too_large, o.busy)
        };
        json!({
            "scrapes": scrapes,
            "tailed_lines": tailed_lines,
            "findings": {
                "held": held,
                "evicted": evicted,
                "checked_exports": checked,
                "unchecked_exports": unchecked,
                "unchecked_large_exports": too_large,
                "unchecked_busy_exports": busy,
            },
        })
    }

    /// The sources' records.
    pub fn sources(&self) -> serde_json::Value {
        json!({ "scrapes": *lock(&self.scrapes), "logs": *lock(&self.tails) })
    }
}

/// Stores what a scrape or a followed file gave, as an OTLP export would be: written to
/// `--data` too (when given), then kept in memory.
pub fn store(console: &Console, batch: Batch) {
    console.data.offer(&batch);
    (console.store.write().unwrap_or_else(|e| e.into_inner())).add_batch(batch);
}

/// The running scrapers and followers.
#[derive(Debug)]
pub struct Tasks {
    stop: tokio::sync::watch::Sender<bool>,
    stop_tails: Arc<AtomicBool>,
    scrapers: Vec<JoinHandle<()>>,
    tails: Vec<std::thread::JoinHandle<()>>,
}

impl Tasks {
    /// Stops scraping and following (a scrape in progress is abandoned; lines read are stored).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.stop_tails.store(true, Ordering::Relaxed);
        for s in self.scrapers {
            let _ = s.await;
        }
        let tails = self.tails;
        let _ = tokio::task::spawn_blocking(move || {
            for t in tails {
                let _ = t.join();
            }
        })
        .await;
    }
}

/// Starts a scraper per URL and a follower (a thread) per file.
pub fn start(sources: &Sources, console: &Console) -> Tasks {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stop_tails = Arc::new(AtomicBool::new(false));
    *lock(&console.live.scrapes) = sources
        .scrape
        .iter()
        .map(|u| ScrapeStatus {
            url: u.clone(),
            instance: reqwest::Url::parse(u)
                .map(|u| scrape::instance(&u))
                .unwrap_or_default(),
            ..ScrapeStatus::default()
        })
        .collect();
    *lock(&console.live.tails) = sources
        .logs
        .iter()
        .map(|p| TailStatus {
            path: p.to_string_lossy().into_owned(),
            ..TailStatus::default()
        })
        .collect();
    let mut scrapers = Vec::new();
    for (i, url) in sources.scrape.iter().enumerate() {
        scrapers.push(tokio::spawn(scrape_loop(
            url.clone(),
            i,
            sources.scrape_interval,
            sources.scrape_timeout,
            console.clone(),
            stopped.clone(),
        )));
    }
    let mut tails = Vec::new();
    let mut opening = Vec::new();
    for (i, path) in sources.logs.iter().enumerate() {
        let (path, c, stop) = (path.clone(), console.clone(), stop_tails.clone());
        let at_end = !sources.logs_from_start;
        let (opened, is_open) = std::sync::mpsc::sync_channel(1);
        let live = c.live.clone();
        match std::thread::Builder::new()
            .name("watchpost-console-tail".into())
            .spawn(move || tail::follow(path, at_end, opened, c, i, stop))
        {
            Ok(t) => {
                tails.push(t);
                opening.push(is_open);
            }
            Err(e) => {
                let error = format!("cannot start following this file: {e}");
                tracing::error!(target: "watchpost_cli::console", error, "a --logs file is not followed");
                if let Some(s) = lock(&live.tails).get_mut(i) {
                    s.error = Some(error);
                }
            }
        }
    }
    // Each file is opened by its follower (an open that hangs holds that thread only); waiting
    // here, a bounded time, means what is written once the console says it listens is read.
    let deadline = std::time::Instant::now() + OPEN_WAIT;
    for is_open in opening {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let _ = is_open.recv_timeout(left);
    }
    Tasks {
        stop,
        stop_tails,
        scrapers,
        tails,
    }
}

async fn scrape_loop(
    url: String,
    index: usize,
    interval: Duration,
    timeout: Duration,
    console: Console,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let client = match reqwest::Client::builder().timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(target: "watchpost_cli::console", url, error = %e, "cannot build an HTTP client to scrape");
            return;
        }
    };
    let instance = reqwest::Url::parse(&url)
        .map(|u| scrape::instance(&u))
        .unwrap_or_default();
    let mut start = None;
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopped.changed() => return,
        }
        let outcome = tokio::select! {
            r = scrape::fetch(&client, &url) => r,
            _ = stopped.changed() => return,
        };
        let now = now_ns();
        let start_ns = start.unwrap_or(now);
        // Reading, converting and linting up to MAX_BODY bytes: off the runtime's workers.
        let (c, u, inst) = (console.clone(), url.clone(), instance.clone());
        let outcome = match outcome {
            Ok(body) => {
                tokio::task::spawn_blocking(move || digest(&c, &u, &inst, &body, start_ns, now))
                    .await
                    .unwrap_or_else(|e| Err(format!("{url}: the scrape could not be read: {e}")))
            }
            Err(e) => Err(e),
        };
        match outcome {
            Ok((samples, parse_errors)) => {
                start = Some(start_ns);
                if let Some(s) = lock(&console.live.scrapes).get_mut(index) {
                    s.ok += 1;
                    s.last_ok_ns = now;
                    s.last_samples = samples;
                    s.last_parse_errors = parse_errors;
                }
            }
            Err(e) => {
                let first = lock(&console.live.scrapes).get_mut(index).is_some_and(|s| {
                    s.failed += 1;
                    let changed = s.last_error.as_deref() != Some(e.as_str());
                    s.last_error = Some(e.clone());
                    changed
                });
                if first {
                    tracing::warn!(target: "watchpost_cli::console", url, error = %e, "a scrape failed (counted in watchpost_console_scrapes_total; the next is tried at the next interval)");
                }
            }
        }
    }
}

/// Reads a scraped `body`, stores its samples and lints it; returns its samples and unreadable
/// lines, or why it is not an exposition. Blocking: run it off the runtime's workers.
fn digest(
    console: &Console,
    url: &str,
    instance: &str,
    body: &str,
    start: u64,
    now: u64,
) -> Result<(u64, u64), String> {
    let exp = exposition::parse(body);
    if let Some(e) = exp.errors.first().filter(|_| exp.families.is_empty()) {
        return Err(format!(
            "{url} is not a metrics exposition: line {}: {}",
            e.line, e.message
        ));
    }
    let req = scrape::to_otlp(&exp, instance, start, now);
    store(console, Batch::Metrics(req));
    let mut report = Report::default();
    lint::lint(&exp, &LintOptions::default(), None, &mut report);
    let service = scrape::target_service(&exp, instance);
    lock(&console.live.findings).add(&report, &service, now);
    Ok((exp.sample_count() as u64, exp.errors.len() as u64))
}

/// Scrapes by outcome.
pub const SCRAPES: MetricDef = MetricDef::counter(
    "watchpost_console_scrapes_total",
    "Scrapes of the --scrape URLs, by outcome (failed: unreachable, not 2xx, over the size bound, or not an exposition)",
)
.labels(&[Label::closed("outcome", &["ok", "failed"])])
.subsystem("CONSOLE");
/// Lines read from the `--logs` files.
pub const TAILED_LINES: MetricDef = MetricDef::counter(
    "watchpost_console_tailed_lines_total",
    "Lines read from the --logs files and stored, by kind (plain: not a JSON object, stored as its text)",
)
.labels(&[Label::closed("kind", &["json", "plain"])])
.subsystem("CONSOLE");
/// Lines cut at the bound.
pub const TAILED_LINES_CUT: MetricDef = MetricDef::counter(
    "watchpost_console_tailed_lines_cut_total",
    "Lines of the --logs files longer than 64 KiB, cut there",
)
.subsystem("CONSOLE");
/// Finding groups evicted.
pub const FINDINGS_EVICTED: MetricDef = MetricDef::counter(
    "watchpost_console_findings_evicted_total",
    "Live finding groups evicted (the least counted first) to keep at most 1000",
)
.subsystem("CONSOLE");
/// Exports not checked.
pub const UNCHECKED_EXPORTS: MetricDef = MetricDef::counter(
    "watchpost_console_unchecked_exports_total",
    "OTLP exports stored without being checked by the live rules (checking is held to 2 % of the time and to exports of at most 4096 items, one at a time)",
)
.subsystem("CONSOLE");

/// Registers the metrics above on `t`.
pub fn register_metrics(t: &watchpost::Telemetry, console: &Console) {
    use opentelemetry::KeyValue;
    let live = console.live.clone();
    t.metrics().observe_u64(&SCRAPES, move |o| {
        let s = lock(&live.scrapes);
        o.observe(
            s.iter().map(|s| s.ok).sum(),
            &[KeyValue::new("outcome", "ok")],
        );
        o.observe(
            s.iter().map(|s| s.failed).sum(),
            &[KeyValue::new("outcome", "failed")],
        );
    });
    let live = console.live.clone();
    t.metrics().observe_u64(&TAILED_LINES, move |o| {
        let s = lock(&live.tails);
        o.observe(
            s.iter().map(|s| s.json).sum(),
            &[KeyValue::new("kind", "json")],
        );
        o.observe(
            s.iter().map(|s| s.plain).sum(),
            &[KeyValue::new("kind", "plain")],
        );
    });
    let live = console.live.clone();
    t.metrics().observe_u64(&TAILED_LINES_CUT, move |o| {
        o.observe(lock(&live.tails).iter().map(|s| s.cut).sum(), &[]);
    });
    let live = console.live.clone();
    t.metrics().observe_u64(&FINDINGS_EVICTED, move |o| {
        o.observe(lock(&live.findings).evicted(), &[]);
    });
    let live = console.live.clone();
    t.metrics().observe_u64(&UNCHECKED_EXPORTS, move |o| {
        o.observe(lock(&live.otlp).unchecked, &[]);
    });
}

/// Reads `?window=` (default 5 minutes, at least 1 s) and `?service=`.
pub fn red_params(p: &Params) -> Result<(u64, Option<String>), BadParam> {
    p.only(&["window", "service"])?;
    let window = match p.get("window") {
        None => red::DEFAULT_WINDOW_NS,
        Some(v) => api::duration_ns("window", v)?,
    };
    if window < 1_000_000_000 {
        return Err(BadParam {
            parameter: "window".into(),
            message: "the window must be 1s or longer, e.g. 30s, 5m".into(),
        });
    }
    Ok((window, p.get("service").map(str::to_owned)))
}

async fn api_red(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    let (window, service) = match red_params(&Params(p)) {
        Ok(x) => x,
        Err(e) => return e.into_response(),
    };
    let rows = red::red(&c.read(), window, now_ns(), service.as_deref());
    Json(json!({ "window_ns": window, "source": "spans", "routes": rows })).into_response()
}

async fn api_findings(
    State(c): State<Console>,
    Query(p): Query<Vec<(String, String)>>,
) -> Response {
    let p = Params(p);
    if let Err(e) = p.only(&["service"]) {
        return e.into_response();
    }
    let f = lock(&c.live.findings);
    Json(json!({
        "findings": f.list(p.get("service")),
        "evicted": f.evicted(),
    }))
    .into_response()
}

async fn api_sources(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = Params(p).only(&[]) {
        return e.into_response();
    }
    Json(c.live.sources()).into_response()
}

/// `/api/red`, `/api/findings`, `/api/sources`.
pub fn api_router() -> Router<Console> {
    Router::new()
        .route("/api/red", get(api_red))
        .route("/api/findings", get(api_findings))
        .route("/api/sources", get(api_sources))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(interval: &str, timeout: Option<&str>) -> SourceArgs {
        SourceArgs {
            scrape: vec![],
            scrape_interval: interval.into(),
            scrape_timeout: timeout.map(str::to_owned),
            logs: vec![],
            logs_from_start: false,
        }
    }

    #[test]
    fn the_scrape_timeout_is_the_interval_up_to_10s_unless_given() {
        let t = |i, t| Sources::from_args(&args(i, t)).map(|s| s.scrape_timeout);
        assert_eq!(t("200ms", None).unwrap(), Duration::from_millis(200));
        assert_eq!(t("1m", None).unwrap(), scrape::MAX_TIMEOUT);
        assert_eq!(t("200ms", Some("5s")).unwrap(), Duration::from_secs(5));
        for bad in ["11s", "0s", "soon"] {
            let e = t("15s", Some(bad)).unwrap_err().to_string();
            assert!(e.contains("--scrape-timeout") && e.contains(bad), "{e}");
        }
    }

    #[test]
    fn stats_holds_one_lock_at_a_time() {
        // Another thread takes `findings`, then `scrapes` (the reverse of the order stats
        // reads them in): with stats holding several locks at once, both would wait forever.
        let live = Arc::new(Live::default());
        let findings = lock(&live.findings);
        let l = live.clone();
        let stats = std::thread::spawn(move || l.stats());
        // Give stats the time to reach `findings` (it waits there).
        std::thread::sleep(Duration::from_millis(100));
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        let scrapes = loop {
            if let Ok(g) = live.scrapes.try_lock() {
                break g;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "stats holds `scrapes` while it waits for `findings`"
            );
            std::thread::sleep(Duration::from_millis(10));
        };
        drop(scrapes);
        drop(findings);
        assert_eq!(stats.join().unwrap()["findings"]["held"], 0);
    }
}
