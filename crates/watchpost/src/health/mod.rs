//! Liveness and readiness: [`Health`] (from [`Telemetry::health`](crate::Telemetry::health))
//! knows whether the service should get traffic, [`Readiness`] says why as data, and
//! [`router`] serves both as `GET /healthz` and `GET /readyz` with a small JSON body.
//!
//! * **Live** (`/healthz`): the process answers. Always 200 `{"status":"live"}`: restart a
//!   process only when it stops answering, never for a dependency's trouble.
//! * **Ready** (`/readyz`): 200 when every check passes, else 503, with the checks in the body:
//!   - `listeners` — every listener registered with [`Health::listener`] is up (a listener
//!     registered and not yet [`up`](Listener::up), or whose [`Listener`] was dropped, is not);
//!   - `exporter` — OTLP export has not been failing for longer than its threshold
//!     ([`ConfigBuilder::ready_export_failure`](crate::ConfigBuilder::ready_export_failure),
//!     `READY_EXPORT_FAILURE`, **off by default**): unready when a signal's exports (errors,
//!     timeouts) began failing at least that long ago, none succeeded since, and one failed
//!     within that time (a signal left idle after one failure is not known to be failing); an
//!     exporter that could not be built fails for good. Choose a threshold longer than the
//!     metrics push interval (`OTEL_METRIC_EXPORT_INTERVAL`): that push is the export a quiet
//!     service still makes;
//!   - `log_writer` — no log line was lost (a full buffer, a failed write) within the window
//!     ([`ConfigBuilder::ready_log_loss`](crate::ConfigBuilder::ready_log_loss),
//!     `READY_LOG_LOSS`, **off by default**). Losses are noticed when readiness is read, so the
//!     window starts at the first check that sees new ones.
//!
//!   A check whose threshold is `off` is still reported (with its numbers) but never makes the
//!   service unready. Both are off unless the application opts in, because of what readiness
//!   does: a load balancer stops sending traffic to an unready replica. If every replica
//!   exports to the same collector, a collector outage would make them all unready at once; a
//!   burst of logging under load would take the busiest replicas out and move their load onto
//!   the others. Turn them on where the telemetry is part of the service's contract (an audit
//!   log that must not lose lines), or point an alert at the body's numbers instead.
//!
//! ```text
//! {"status":"unready","checks":{"listeners":{"ok":true,"states":{"api":"up"}},
//!  "exporter":{"ok":false,"enabled":true,"failing_for_s":42,"last_failure_s_ago":2,
//!  "threshold_s":30,"signal":"traces","reason":"…"},"log_writer":{"ok":true,"lost_lines":0}}}
//! ```

#[cfg(feature = "http")]
mod router;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::config::ReadinessThresholds as Thresholds;
use crate::internal::ExportCounters;
use crate::logs::{encode, LogHandle};

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub use router::router;

/// The health of one pipeline: what readiness is computed from, and the listeners the
/// application registered. Cheap to clone; get it from
/// [`Telemetry::health`](crate::Telemetry::health).
///
/// ```
/// # let config = watchpost::Config::builder("demo").build().unwrap();
/// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let health = telemetry.health();
/// let api = health.listener("api");
/// assert!(!health.readiness().ready, "registered, not listening yet");
/// api.up();
/// assert!(health.readiness().ready);
/// drop(api); // the listener stopped
/// assert!(!health.readiness().ready);
/// ```
#[derive(Clone)]
pub struct Health {
    state: Arc<State>,
}

impl std::fmt::Debug for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Health")
            .field("thresholds", &self.state.thresholds)
            .finish_non_exhaustive()
    }
}

struct State {
    /// The export pipeline's counters, when export is on.
    export: Option<Arc<ExportCounters>>,
    logs: LogHandle,
    thresholds: Thresholds,
    /// The lost-line total seen by the latest check, and when it last grew.
    log_losses: Mutex<(u64, Option<Instant>)>,
    listeners: Mutex<Listeners>,
}

/// The registered listeners, in registration order.
#[derive(Default)]
struct Listeners {
    /// Name, state, and the registration (generation) whose [`Listener`] handle owns the entry.
    entries: Vec<(String, ListenerState, u64)>,
    /// The generation of the next registration.
    next: u64,
}

impl Listeners {
    /// Registers `name` (again): a new generation, starting.
    fn register(&mut self, name: &str) -> u64 {
        let generation = self.next;
        self.next += 1;
        match self.entries.iter_mut().find(|(n, _, _)| n == name) {
            Some(entry) => *entry = (name.to_string(), ListenerState::Starting, generation),
            None => self
                .entries
                .push((name.to_string(), ListenerState::Starting, generation)),
        }
        generation
    }

    /// Sets `name` to `to` if registration `generation` still owns it (a handle replaced by a
    /// later registration changes nothing).
    fn set(&mut self, name: &str, generation: u64, to: ListenerState) {
        if let Some((_, st, _)) = self
            .entries
            .iter_mut()
            .find(|(n, _, g)| n == name && *g == generation)
        {
            *st = to;
        }
    }

    fn states(&self) -> Vec<(String, ListenerState)> {
        self.entries
            .iter()
            .map(|(n, st, _)| (n.clone(), *st))
            .collect()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Health {
    pub(crate) fn new(
        export: Option<Arc<ExportCounters>>,
        logs: LogHandle,
        thresholds: Thresholds,
    ) -> Health {
        let lost = logs.self_stats().log_write_errors;
        Health {
            state: Arc::new(State {
                export,
                logs,
                thresholds,
                log_losses: Mutex::new((lost, None)),
                listeners: Mutex::new(Listeners::default()),
            }),
        }
    }

    /// Registers a listener by name: the service is not ready until [`Listener::up`] is called,
    /// nor after the returned [`Listener`] is dropped (hold it as long as the listener serves).
    /// A second registration of the same name replaces the first: from then on the first
    /// handle changes nothing (calling `up` on it, or dropping it, does not touch the new
    /// registration's state), so a listener restarted under the same name can drop its old
    /// handle in any order.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// use watchpost::health::ListenerState;
    /// let api = telemetry.health().listener("api");
    /// assert_eq!(telemetry.readiness().listeners, vec![("api".to_string(), ListenerState::Starting)]);
    /// api.up();
    /// assert_eq!(telemetry.readiness().listeners, vec![("api".to_string(), ListenerState::Up)]);
    /// ```
    pub fn listener(&self, name: impl Into<String>) -> Listener {
        let name = name.into();
        let generation = lock(&self.state.listeners).register(&name);
        Listener {
            state: self.state.clone(),
            name,
            generation,
        }
    }

    /// Whether the service should get traffic, and why (the checks are described in the
    /// [module documentation](self)). What `GET /readyz` answers, as data, for applications
    /// that serve it with another framework: [`Readiness::status_code`] and
    /// [`Readiness::to_json`].
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let readiness = telemetry.health().readiness();
    /// assert!(readiness.ready);
    /// assert_eq!(readiness.status_code(), 200);
    /// assert!(readiness.to_json().starts_with(r#"{"status":"ready","checks":{"#));
    /// ```
    pub fn readiness(&self) -> Readiness {
        let s = &*self.state;
        let listeners = lock(&s.listeners).states();
        let listeners_ok = listeners.iter().all(|(_, st)| *st == ListenerState::Up);

        let exporter = match &s.export {
            None => ExporterCheck {
                ok: true,
                enabled: false,
                failing_for: None,
                last_failure: None,
                signal: None,
                reason: None,
                threshold: s.thresholds.export_failure,
            },
            Some(counters) => {
                let threshold = s.thresholds.export_failure;
                // Unready: a signal's exports began failing at least `threshold` ago, none has
                // succeeded since, and one failed within `threshold` (an idle signal whose one
                // export failed long ago is not known to be failing now).
                let unready = |f: &crate::internal::Failing| {
                    threshold.is_some_and(|t| f.failing_for >= t && f.last_failure <= t)
                };
                let failing = counters.failing();
                let worst = failing
                    .iter()
                    .find(|f| unready(f))
                    .or_else(|| failing.iter().max_by_key(|f| f.failing_for));
                ExporterCheck {
                    ok: !worst.is_some_and(unready),
                    enabled: true,
                    failing_for: worst.map(|f| f.failing_for),
                    last_failure: worst.map(|f| f.last_failure),
                    signal: worst.map(|f| f.signal.as_str()),
                    reason: worst.map(|f| f.error.clone()),
                    threshold,
                }
            }
        };

        let lost = s.logs.self_stats().log_write_errors;
        let last_loss = {
            let mut seen = lock(&s.log_losses);
            if lost > seen.0 {
                *seen = (lost, Some(Instant::now()));
            }
            seen.1.map(|t| t.elapsed())
        };
        let log_writer = LogWriterCheck {
            ok: match (s.thresholds.log_loss, last_loss) {
                (Some(window), Some(ago)) => ago >= window,
                _ => true,
            },
            lost_lines: lost,
            last_loss,
            window: s.thresholds.log_loss,
        };
        Readiness {
            ready: listeners_ok && exporter.ok && log_writer.ok,
            listeners,
            exporter,
            log_writer,
        }
    }
}

/// A listener registered with [`Health::listener`]: starting until [`up`](Self::up), stopped
/// once dropped.
#[derive(Debug)]
#[must_use = "the listener counts as stopped once this is dropped"]
pub struct Listener {
    state: Arc<State>,
    name: String,
    /// The registration this handle belongs to.
    generation: u64,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").finish_non_exhaustive()
    }
}

impl Listener {
    /// The listener is bound and serving.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let metrics = telemetry.health().listener("metrics");
    /// metrics.up();
    /// assert!(telemetry.readiness().ready);
    /// # drop(metrics);
    /// ```
    pub fn up(&self) {
        lock(&self.state.listeners).set(&self.name, self.generation, ListenerState::Up);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        lock(&self.state.listeners).set(&self.name, self.generation, ListenerState::Stopped);
    }
}

/// The state of a registered listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerState {
    /// Registered, not serving yet.
    Starting,
    /// Serving.
    Up,
    /// Stopped (its [`Listener`] was dropped).
    Stopped,
}

impl ListenerState {
    /// `starting`, `up` or `stopped`, as in the JSON body.
    ///
    /// ```
    /// assert_eq!(watchpost::health::ListenerState::Up.as_str(), "up");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            ListenerState::Starting => "starting",
            ListenerState::Up => "up",
            ListenerState::Stopped => "stopped",
        }
    }
}

/// Whether the service is ready, and each check's verdict and numbers ([`Health::readiness`]).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Readiness {
    /// Every check passed.
    pub ready: bool,
    /// The registered listeners and their states, in registration order.
    pub listeners: Vec<(String, ListenerState)>,
    /// The OTLP exporter's check.
    pub exporter: ExporterCheck,
    /// The log writer's check.
    pub log_writer: LogWriterCheck,
}

/// The OTLP exporter's part of [`Readiness`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ExporterCheck {
    /// Not failing for longer than the threshold (always `true` with export off).
    pub ok: bool,
    /// OTLP export is on.
    pub enabled: bool,
    /// How long the signal reported has been failing: since the first failed export after its
    /// last success (`None`: no signal's latest export failed).
    pub failing_for: Option<Duration>,
    /// How long ago that signal's latest export failed.
    pub last_failure: Option<Duration>,
    /// That signal (`traces`, `metrics` or `logs`): one that makes the service unready, else the
    /// one failing the longest.
    pub signal: Option<&'static str>,
    /// Its latest error.
    pub reason: Option<String>,
    /// The threshold (`None`: export failures never make the service unready).
    pub threshold: Option<Duration>,
}

/// The log writer's part of [`Readiness`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct LogWriterCheck {
    /// No line lost within the window.
    pub ok: bool,
    /// Lines lost since the pipeline started (`<svc>_log_write_errors_total`).
    pub lost_lines: u64,
    /// How long ago a check first saw the latest losses (`None`: none seen).
    pub last_loss: Option<Duration>,
    /// The window (`None`: lost lines never make the service unready).
    pub window: Option<Duration>,
}

impl Readiness {
    /// 200 when ready, else 503.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(telemetry.readiness().status_code(), 200);
    /// ```
    pub fn status_code(&self) -> u16 {
        if self.ready {
            200
        } else {
            503
        }
    }

    /// The JSON body of `GET /readyz` (see the [module documentation](self)); durations in whole
    /// seconds.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// assert_eq!(
    ///     telemetry.readiness().to_json(),
    ///     r#"{"status":"ready","checks":{"listeners":{"ok":true,"states":{}},"exporter":{"ok":true,"enabled":false},"log_writer":{"ok":true,"lost_lines":0}}}"#
    /// );
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"{\"status\":");
        encode::string_into(&mut out, if self.ready { "ready" } else { "unready" });
        out.extend_from_slice(b",\"checks\":{\"listeners\":{\"ok\":");
        let listeners_ok = self
            .listeners
            .iter()
            .all(|(_, st)| *st == ListenerState::Up);
        bool_into(&mut out, listeners_ok);
        out.extend_from_slice(b",\"states\":{");
        for (i, (name, st)) in self.listeners.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            encode::string_into(&mut out, name);
            out.push(b':');
            encode::string_into(&mut out, st.as_str());
        }
        out.extend_from_slice(b"}},\"exporter\":{\"ok\":");
        let e = &self.exporter;
        bool_into(&mut out, e.ok);
        out.extend_from_slice(b",\"enabled\":");
        bool_into(&mut out, e.enabled);
        if e.enabled {
            if let Some(d) = e.failing_for {
                secs_into(&mut out, "failing_for_s", d);
            }
            if let Some(d) = e.last_failure {
                secs_into(&mut out, "last_failure_s_ago", d);
            }
            if let Some(t) = e.threshold {
                secs_into(&mut out, "threshold_s", t);
            }
            if let Some(signal) = e.signal {
                out.extend_from_slice(b",\"signal\":");
                encode::string_into(&mut out, signal);
            }
            if let Some(reason) = &e.reason {
                out.extend_from_slice(b",\"reason\":");
                encode::string_into(&mut out, reason);
            }
        }
        out.extend_from_slice(b"},\"log_writer\":{\"ok\":");
        let l = &self.log_writer;
        bool_into(&mut out, l.ok);
        out.extend_from_slice(b",\"lost_lines\":");
        encode::int_into(&mut out, l.lost_lines);
        if let Some(ago) = l.last_loss {
            secs_into(&mut out, "last_loss_s_ago", ago);
        }
        if let Some(w) = l.window {
            secs_into(&mut out, "window_s", w);
        }
        out.extend_from_slice(b"}}}");
        // Only JSON text and escaped strings were written.
        String::from_utf8(out).unwrap_or_default()
    }
}

fn bool_into(out: &mut Vec<u8>, b: bool) {
    out.extend_from_slice(if b { b"true" } else { b"false" });
}

fn secs_into(out: &mut Vec<u8>, key: &str, d: Duration) {
    out.push(b',');
    encode::string_into(out, key);
    out.push(b':');
    encode::int_into(out, d.as_secs());
}

/// The body of `GET /healthz`.
pub(crate) const LIVE_BODY: &str = "{\"status\":\"live\"}";

/// What `GET path` answers when `path` is one of the probes — `(status, JSON body)` — for both
/// the axum router and the metrics listener, so they cannot disagree.
pub(crate) fn answer(health: &Health, path: &str) -> Option<(u16, String)> {
    match path {
        "/healthz" => Some((200, LIVE_BODY.to_string())),
        "/readyz" => {
            let readiness = health.readiness();
            Some((readiness.status_code(), readiness.to_json()))
        }
        _ => None,
    }
}
