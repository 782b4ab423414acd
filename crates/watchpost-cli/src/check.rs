//! `watchpost check`: a live review of a running service over a window of time, all three planes
//! at once.
//!
//! - **metrics**: `--metrics URL` is scraped when the window opens and every
//!   `--scrape-interval` after; the last good scrape is linted ([`crate::lint`]) and compared with
//!   the first (`metric.series-growth`). A scrape that fails after a good one is counted, not
//!   fatal (the service may already be gone when its log stream ends);
//! - **logs**: `--logs FILE` (read from its start and followed) or `--logs -` (standard input,
//!   e.g. `procman | watchpost check --logs -`), checked line by line ([`crate::logs`]);
//! - **OTLP**: `--otlp ADDR` (gRPC) and `--otlp-http ADDR` (HTTP/protobuf) receive what the
//!   service exports ([`crate::otlp`]), checked by [`crate::spans`].
//!
//! The window ends after `--duration`, when the logs on standard input end, or on Ctrl-C /
//! SIGTERM; late exports get `--grace` more. Then the joins run (log trace ids against exported
//! spans) and the report is complete.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::catalogue::Catalogue;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::exposition::{self, Exposition};
use crate::finding::Signal;
use crate::lint::{self, LintOptions};
use crate::logs::{LogChecker, LogFacts};
use crate::otlp;
use crate::report::Report;
use crate::source;
use crate::spans::SpanChecker;

/// The longest log line read whole; longer lines are cut there (and are then not JSON).
pub const MAX_LINE: usize = 1 << 20;

/// What `watchpost check` reads.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// The metrics URL, scraped at the start and every `scrape_interval`.
    pub metrics: Option<String>,
    /// A log file (followed) or `-`.
    pub logs: Option<String>,
    /// OTLP/gRPC listen address.
    pub otlp: Option<String>,
    /// OTLP/HTTP listen address.
    pub otlp_http: Option<String>,
    /// The window; `None`: until the logs on stdin end, or Ctrl-C.
    pub duration: Option<Duration>,
    /// Time for late exports after the window.
    pub grace: Duration,
    /// Time between scrapes.
    pub scrape_interval: Duration,
    /// The catalogue (file or URL).
    pub catalogue: Option<String>,
    /// Lint third-party metrics too.
    pub include_third_party: bool,
}

/// A check in progress: listening, reading and scraping until its window ends.
pub struct Running {
    options: CheckOptions,
    catalogue: Option<Catalogue>,
    report: Arc<Mutex<Report>>,
    stop_logs: Arc<AtomicBool>,
    stop: Arc<tokio::sync::Notify>,
    receiver: Option<otlp::Receiver>,
    span_task: Option<(Arc<tokio::sync::Notify>, tokio::task::JoinHandle<()>)>,
    spans: Arc<Mutex<SpanChecker>>,
    logs: Arc<Mutex<LogChecker>>,
    logs_done: Option<tokio::sync::oneshot::Receiver<Result<()>>>,
    scrapes: Arc<tokio::sync::Mutex<Scrapes>>,
    scraper: Option<(Arc<tokio::sync::Notify>, tokio::task::JoinHandle<()>)>,
    /// SIGTERM and SIGINT, listened for from the start, so one right after the ready line ends
    /// the window rather than the process.
    signals: (tokio::signal::unix::Signal, tokio::signal::unix::Signal),
}

/// Runs a check over its whole window and returns its report.
pub async fn run(options: CheckOptions, config: Config) -> Result<Report> {
    start(options, config).await?.wait().await
}

/// Starts a check: the OTLP receiver listens, the logs are being read and the first scrape is
/// done when this returns.
pub async fn start(options: CheckOptions, config: Config) -> Result<Running> {
    if options.metrics.is_none()
        && options.logs.is_none()
        && options.otlp.is_none()
        && options.otlp_http.is_none()
    {
        return Err(Error::new("nothing to check")
            .hint("give --metrics URL, --logs FILE|- or --otlp ADDR (or several)"));
    }
    let settings = config.check.clone();
    let catalogue = match &options.catalogue {
        Some(spec) => Some(crate::catalogue::load(spec).await?),
        None => None,
    };
    let report = Arc::new(Mutex::new(Report::new(config)));
    let spans = Arc::new(Mutex::new(SpanChecker::new(&settings)));

    // OTLP first: the service may start exporting as soon as it is told where.
    let (receiver, span_task) = if options.otlp.is_some() || options.otlp_http.is_some() {
        let (rx, mut batches) =
            otlp::start(options.otlp.as_deref(), options.otlp_http.as_deref()).await?;
        let (spans, report) = (spans.clone(), report.clone());
        let stop = Arc::new(tokio::sync::Notify::new());
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let check = |batch: &otlp::Batch| {
                let mut r = lock(&report);
                lock(&spans).batch(batch, &mut r);
            };
            loop {
                tokio::select! {
                    batch = batches.recv() => match batch {
                        Some(b) => check(&b),
                        None => return,
                    },
                    _ = stopped.notified() => {
                        // What was accepted is checked; nothing more is taken.
                        batches.close();
                        while let Ok(b) = batches.try_recv() {
                            check(&b);
                        }
                        return;
                    }
                }
            }
        });
        (Some(rx), Some((stop, task)))
    } else {
        (None, None)
    };

    // Logs: a thread of their own (reading stdin blocks).
    let mut checker = LogChecker::new(&settings);
    // A file's history (and any line stamped before now) is checked but not joined with spans
    // that could not have reached this receiver.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i128);
    checker.join_from(now - 1_000_000_000);
    let logs = Arc::new(Mutex::new(checker));
    let stop_logs = Arc::new(AtomicBool::new(false));
    let logs_done = match options.logs.clone() {
        Some(spec) => {
            let (tx, rx) = tokio::sync::oneshot::channel::<Result<()>>();
            let (logs, report, stop) = (logs.clone(), report.clone(), stop_logs.clone());
            std::thread::Builder::new()
                .name("watchpost-logs".into())
                .spawn(move || {
                    let _ = tx.send(read_logs(&spec, &logs, &report, &stop));
                })
                .map_err(|e| Error::new(format!("cannot start the log reader: {e}")))?;
            Some(rx)
        }
        None => None,
    };

    // Metrics: scraped now and every interval until the window ends, in a task of their own.
    let scrapes = Arc::new(tokio::sync::Mutex::new(Scrapes::default()));
    let scraper = match options.metrics.clone() {
        Some(url) => {
            scrapes.lock().await.scrape(&url).await;
            let (done, scrapes) = (Arc::new(tokio::sync::Notify::new()), scrapes.clone());
            let interval = options.scrape_interval.max(Duration::from_millis(50));
            let stop = done.clone();
            let task = tokio::spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.notified() => return,
                        _ = tokio::time::sleep(interval) => scrapes.lock().await.scrape(&url).await,
                    }
                }
            });
            Some((done, task))
        }
        None => None,
    };
    let terminate = signal(tokio::signal::unix::SignalKind::terminate())?;
    let interrupt = signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(Running {
        signals: (terminate, interrupt),
        options,
        catalogue,
        report,
        stop_logs,
        stop: Arc::new(tokio::sync::Notify::new()),
        receiver,
        span_task,
        spans,
        logs,
        logs_done,
        scrapes,
        scraper,
    })
}

impl Running {
    /// Where OTLP/gRPC is received, if it is.
    pub fn otlp_grpc_addr(&self) -> Option<std::net::SocketAddr> {
        self.receiver.as_ref().and_then(|r| r.grpc_addr())
    }

    /// Where OTLP/HTTP is received, if it is.
    pub fn otlp_http_addr(&self) -> Option<std::net::SocketAddr> {
        self.receiver.as_ref().and_then(|r| r.http_addr())
    }

    /// A handle that ends the window when notified (`notify_one`), for programs that embed a
    /// check.
    pub fn stop_handle(&self) -> Arc<tokio::sync::Notify> {
        self.stop.clone()
    }

    /// Waits for the window to end (`--duration`, the end of the logs on standard input, Ctrl-C,
    /// SIGTERM or the stop handle), lets late exports arrive, and returns the report.
    pub async fn wait(mut self) -> Result<Report> {
        let deadline = self
            .options
            .duration
            .map(|d| tokio::time::Instant::now() + d);
        let stdin_logs = self.options.logs.as_deref() == Some("-");
        let metrics_url = self.options.metrics.clone();
        let mut tick =
            tokio::time::interval(self.options.scrape_interval.max(Duration::from_millis(50)));
        tick.tick().await;
        let stop = self.stop.clone();
        let (mut terminate, mut interrupt) = self.signals;
        loop {
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d).await,
                    None => std::future::pending().await,
                }
            };
            let logs_end = async {
                match self.logs_done.as_mut() {
                    Some(rx) => rx.await.unwrap_or(Ok(())),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = sleep => break,
                _ = stop.notified() => break,
                _ = terminate.recv() => break,
                _ = interrupt.recv() => break,
                r = logs_end => {
                    self.logs_done = None;
                    r?;
                    if stdin_logs && deadline.is_none() {
                        break;
                    }
                }
            }
        }
        if let Some((done, task)) = self.scraper.take() {
            done.notify_one();
            let _ = task.await;
        }
        if let Some(url) = &metrics_url {
            self.scrapes.lock().await.scrape(url).await;
        }
        // A followed file is read to its end; standard input gets a moment (its read blocks).
        self.stop_logs.store(true, Ordering::SeqCst);
        if let Some(rx) = self.logs_done.take() {
            let wait = if stdin_logs {
                Duration::from_millis(200)
            } else {
                Duration::from_secs(5)
            };
            if let Ok(Ok(r)) = tokio::time::timeout(wait, rx).await {
                r?;
            }
        }

        // Late exports, then the receiver stops and what it holds is checked.
        let mut partial_spans = false;
        if let Some(rx) = self.receiver.take() {
            tokio::time::sleep(self.options.grace).await;
            let refused = rx.shutdown().await;
            lock(&self.report).cover(Signal::Span, "otlp exports refused", refused);
            partial_spans = refused > 0;
            if let Some((stop, task)) = self.span_task.take() {
                stop.notify_one();
                let _ = task.await;
            }
        }

        let mut report = std::mem::take(&mut *lock(&self.report));
        let facts: LogFacts = lock(&self.logs).finish(&mut report);
        if self.options.otlp.is_some() || self.options.otlp_http.is_some() {
            let mut spans = lock(&self.spans);
            if partial_spans {
                spans.set_partial();
            }
            spans.finish(&facts, &mut report);
        }
        if let Some(url) = &metrics_url {
            let scrapes = std::mem::take(&mut *self.scrapes.lock().await);
            scrapes.finish(
                url,
                self.catalogue.as_ref(),
                self.options.include_third_party,
                &mut report,
            )?;
        }
        Ok(report)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn signal(kind: tokio::signal::unix::SignalKind) -> Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
        .map_err(|e| Error::new(format!("cannot listen for signals: {e}")))
}

/// The first and the last good scrape, and the failures.
#[derive(Default)]
struct Scrapes {
    first: Option<Exposition>,
    last: Option<Exposition>,
    good: u64,
    failed: u64,
    last_error: Option<String>,
}

impl Scrapes {
    async fn scrape(&mut self, url: &str) {
        match source::read(url, source::SCRAPE_ACCEPT).await {
            Ok(text) => {
                let exp = exposition::parse(&text);
                self.good += 1;
                if self.first.is_none() {
                    self.first = Some(exp);
                } else {
                    self.last = Some(exp);
                }
            }
            Err(e) => {
                self.failed += 1;
                self.last_error = Some(e.message().to_owned());
            }
        }
    }

    fn finish(
        self,
        url: &str,
        catalogue: Option<&Catalogue>,
        third_party: bool,
        report: &mut Report,
    ) -> Result<()> {
        report.cover(Signal::Metric, "scrapes", self.good);
        if self.failed > 0 {
            report.cover(Signal::Metric, "failed scrapes", self.failed);
        }
        let Some(first) = self.first else {
            return Err(Error::new(format!(
                "no scrape of '{url}' succeeded: {}",
                self.last_error.unwrap_or_default()
            ))
            .hint("is the service running, and is this its metrics address?"));
        };
        let options = LintOptions::from_config(report.config(), third_party);
        match &self.last {
            Some(last) => {
                lint::lint(last, &options, catalogue, report);
                lint::series_growth(&first, last, catalogue, report);
            }
            None => lint::lint(&first, &options, catalogue, report),
        }
        Ok(())
    }
}

/// Reads log lines from `spec` until it ends (stdin) or `stop` is set (a followed file, then read
/// up to the size it had at that moment).
fn read_logs(
    spec: &str,
    logs: &Mutex<LogChecker>,
    report: &Mutex<Report>,
    stop: &AtomicBool,
) -> Result<()> {
    let mut lines = Lines::default();
    let mut on_line = |line: &[u8]| feed(line, logs, report);
    if spec == "-" {
        let stdin = std::io::stdin();
        let mut input = stdin.lock();
        loop {
            let n = lines
                .pump(&mut input, &mut on_line)
                .map_err(|e| Error::new(format!("cannot read standard input: {e}")))?;
            if n == 0 || stop.load(Ordering::Relaxed) {
                lines.flush(&mut on_line);
                return Ok(());
            }
        }
    }
    let open = || {
        std::fs::File::open(spec).map_err(|e| {
            Error::new(format!("cannot read '{spec}': {e}"))
                .hint("give a log file, or - for standard input")
        })
    };
    let size = || std::fs::metadata(spec).map(|m| m.len()).unwrap_or(0);
    let mut reader = std::io::BufReader::new(open()?);
    let mut pos: u64 = 0;
    let mut end: Option<u64> = None;
    loop {
        if end.is_none() && stop.load(Ordering::Relaxed) {
            end = Some(size());
        }
        if end.is_some_and(|e| pos >= e) {
            lines.unfinished(report);
            return Ok(());
        }
        let n = lines
            .pump(&mut reader, &mut on_line)
            .map_err(|e| Error::new(format!("cannot read '{spec}': {e}")))?;
        pos += n as u64;
        if n > 0 {
            continue;
        }
        if end.is_some() {
            lines.unfinished(report);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
        // Truncated or replaced (rotation): start again from the beginning of the new file.
        if size() < pos {
            reader = std::io::BufReader::new(open()?);
            pos = 0;
            lines = Lines::default();
        }
    }
}

/// Splits a byte stream into lines of at most [`MAX_LINE`] bytes (the rest of a longer line is
/// dropped, so it reads as the truncated line it is), without ever holding more than that.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Consumes what the reader has buffered (reading once if nothing is), calling `on_line` for
    /// each complete line; returns the bytes consumed (0 at end of input).
    fn pump(
        &mut self,
        r: &mut impl std::io::BufRead,
        on_line: &mut impl FnMut(&[u8]),
    ) -> std::io::Result<usize> {
        let chunk = r.fill_buf()?;
        let len = chunk.len();
        let mut rest = chunk;
        while let Some(i) = rest.iter().position(|&b| b == b'\n') {
            self.push(&rest[..i]);
            on_line(&self.partial);
            self.partial.clear();
            rest = &rest[i + 1..];
        }
        self.push(rest);
        r.consume(len);
        Ok(len)
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.partial.len());
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// A last line still being written when the window ended is not checked (it would read as
    /// broken JSON); it is counted.
    fn unfinished(&mut self, report: &Mutex<Report>) {
        if !self.partial.is_empty() {
            lock(report).cover(Signal::Log, "unfinished last line (not checked)", 1);
            self.partial.clear();
        }
    }

    /// Hands on a last line that had no newline (standard input ended).
    fn flush(&mut self, on_line: &mut impl FnMut(&[u8])) {
        if !self.partial.is_empty() {
            on_line(&self.partial);
            self.partial.clear();
        }
    }
}

fn feed(line: &[u8], logs: &Mutex<LogChecker>, report: &Mutex<Report>) {
    let mut r = lock(report);
    lock(logs).line(line, &mut r);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8], reads: usize) -> (Vec<Vec<u8>>, Vec<u8>) {
        let mut lines = Lines::default();
        let mut out = Vec::new();
        let mut r = std::io::BufReader::with_capacity(reads, input);
        while lines
            .pump(&mut r, &mut |l: &[u8]| out.push(l.to_vec()))
            .unwrap()
            > 0
        {}
        (out, lines.partial)
    }

    #[test]
    fn lines_are_split_across_reads_and_a_long_one_is_cut_without_holding_it() {
        let (out, rest) = split(b"a\nbc\nd", 1);
        assert_eq!(out, vec![b"a".to_vec(), b"bc".to_vec()]);
        assert_eq!(rest, b"d");
        let mut long = vec![b'x'; 3 * MAX_LINE];
        long.extend_from_slice(b"\nnext\n");
        let (out, rest) = split(&long, 8192);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].len(), MAX_LINE);
        assert_eq!(out[1], b"next");
        assert!(rest.is_empty());
    }
}
