//! The instance manager: OS processes with a small state machine, their output in the
//! instance's `app` log, and the metrics of the reference catalogue.

use std::collections::HashMap;
use std::os::unix::process::ExitStatusExt as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::KeyValue;
use serde::Serialize;
use tokio::io::BufReader;
use tracing::Instrument;
use watchpost::logs::ResourceLogs;

use crate::child::{self, GroupKind};
use crate::metrics::Metrics;

/// Instance states: Created → Running ⇄ Standby → Stopped (deleted) / Exited (process ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    Created,
    Running,
    Standby,
    Stopped,
    Exited,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Created,
        State::Running,
        State::Standby,
        State::Stopped,
        State::Exited,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Running => "running",
            State::Standby => "standby",
            State::Stopped => "stopped",
            State::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceView {
    pub id: String,
    pub name: String,
    pub state: State,
    pub pid: Option<u32>,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
}

struct Instance {
    view: InstanceView,
    child: Option<tokio::process::Child>,
    /// The process group the instance leads (its pid): what stop signals go to; dropping it
    /// kills what is left of the group.
    group: Option<child::Group>,
    /// A DELETE is under way: the instance is gone for every other request.
    deleting: bool,
}

/// Errors of instance operations, mapped to HTTP statuses by the API.
#[derive(Debug)]
pub enum OpError {
    NotFound,
    Conflict(String),
    CommandNotFound(String),
    /// The command exists but cannot be run (not executable, a directory, …).
    NotExecutable(String),
    /// The request cannot be carried out as given (a NUL byte, arguments too long, …).
    Invalid(String),
    Internal(String),
}

impl OpError {
    /// What a failed spawn of `command` means for the caller.
    pub fn spawn_failed(command: &str, e: &std::io::Error) -> OpError {
        use std::io::ErrorKind;
        match e.kind() {
            ErrorKind::NotFound => OpError::CommandNotFound(command.to_string()),
            ErrorKind::PermissionDenied => {
                OpError::NotExecutable(format!("command {command:?} cannot be executed: {e}"))
            }
            ErrorKind::InvalidInput => OpError::Invalid(format!(
                "the command or an argument contains a NUL byte: {e}"
            )),
            ErrorKind::ArgumentListTooLong => {
                OpError::Invalid(format!("arguments too long for the system: {e}"))
            }
            _ if e.raw_os_error() == Some(libc::ENOEXEC)
                || e.raw_os_error() == Some(libc::EISDIR) =>
            {
                OpError::NotExecutable(format!("command {command:?} cannot be executed: {e}"))
            }
            _ => OpError::Internal(format!("cannot start {command:?}: {e}")),
        }
    }
}

#[derive(Clone)]
pub struct Manager {
    inner: Arc<Mutex<HashMap<String, Instance>>>,
    logs: Option<ResourceLogs>,
    metrics: Option<Arc<Metrics>>,
    /// Every live process group (instances and execs), for shutdown and its deadline.
    groups: child::Groups,
    /// Set when shutdown begins: log streams end, new work is refused.
    stopping: tokio::sync::watch::Sender<bool>,
}

fn new_id() -> String {
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut x =
        (t as u64) ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (std::process::id() as u64) << 32;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    format!("{:012x}", x & 0xffff_ffff_ffff)
}

impl Manager {
    pub fn new(telemetry: Option<&watchpost::Telemetry>) -> Manager {
        let inner: Arc<Mutex<HashMap<String, Instance>>> = Arc::default();
        let metrics = telemetry.map(|t| {
            let by_state = inner.clone();
            t.metrics()
                .observe_u64(&crate::metrics::INSTANCES, move |o| {
                    let map = by_state.lock().unwrap_or_else(|p| p.into_inner());
                    for s in State::ALL {
                        let n = map
                            .values()
                            .filter(|i| !i.deleting && i.view.state == s)
                            .count() as u64;
                        o.observe(n, &[KeyValue::new("state", s.as_str())]);
                    }
                });
            Arc::new(Metrics::new(t.metrics()))
        });
        Manager {
            inner,
            logs: telemetry.and_then(|t| t.resource_logs().cloned()),
            metrics,
            groups: child::Groups::default(),
            stopping: tokio::sync::watch::Sender::new(false),
        }
    }

    pub fn metrics(&self) -> Option<&Metrics> {
        self.metrics.as_deref()
    }

    fn transition(&self, id: &str, from: State, to: State) {
        if let Some(m) = &self.metrics {
            m.transitions.add(
                1,
                &[
                    KeyValue::new("from", from.as_str()),
                    KeyValue::new("to", to.as_str()),
                ],
            );
        }
        tracing::debug!(
            instance_id = id,
            from = from.as_str(),
            to = to.as_str(),
            "state changed"
        );
    }

    pub fn list(&self) -> Vec<InstanceView> {
        let map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<InstanceView> = map
            .values()
            .filter(|i| !i.deleting)
            .map(|i| i.view.clone())
            .collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    }

    pub fn get(&self, id: &str) -> Option<InstanceView> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .filter(|i| !i.deleting)
            .map(|i| i.view.clone())
    }

    /// Per-call metrics with autometrics' names (`function_calls_total`,
    /// `function_calls_duration_seconds`); a creation slower than a second marks its trace, so it
    /// is kept whatever the sampling ratio, and logs a WARN (at most one a minute).
    #[watchpost::measured(name = "Manager::create", slow = "1s")]
    pub async fn create(
        &self,
        name: String,
        command: String,
        args: Vec<String>,
    ) -> Result<InstanceView, OpError> {
        let started = Instant::now();
        let id = new_id();
        let span = tracing::info_span!("create_instance", instance_id = %id, name = %name);
        let result = async {
            if let Some(l) = &self.logs {
                l.register("instance", &id)
                    .map_err(|e| OpError::Internal(e.to_string()))?;
            }
            let view = InstanceView {
                id: id.clone(),
                name: name.clone(),
                state: State::Created,
                pid: None,
                created_at: watchpost::logs::rfc3339(SystemTime::now()),
                exit_code: None,
            };
            self.inner.lock().unwrap_or_else(|p| p.into_inner()).insert(
                id.clone(),
                Instance {
                    view,
                    child: None,
                    group: None,
                    deleting: false,
                },
            );
            let spawned = async {
                tracing::debug!(command = %command, args = args.len(), "spawning");
                child::command(&command, &args).spawn()
            }
            .instrument(tracing::info_span!("spawn", command = %command))
            .await;
            let mut child = match spawned {
                Ok(c) => c,
                Err(e) => {
                    self.inner
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&id);
                    if let Some(l) = &self.logs {
                        let _ = l.remove("instance", &id);
                    }
                    return Err(OpError::spawn_failed(&command, &e));
                }
            };
            let pid = child.id();
            for (stream, reader) in [
                (
                    "stdout",
                    child
                        .stdout
                        .take()
                        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                ),
                (
                    "stderr",
                    child
                        .stderr
                        .take()
                        .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
                ),
            ] {
                let (Some(reader), Some(logs)) = (reader, self.logs.clone()) else {
                    continue;
                };
                let id = id.clone();
                tokio::spawn(async move {
                    // Ends when every process of the group has closed the pipe.
                    let mut reader = BufReader::new(reader);
                    let mut line = Vec::new();
                    while let Ok(Some(cut)) = child::next_line(&mut reader, &mut line).await {
                        let _ =
                            logs.append("instance", &id, "app", child::text(&line, cut).as_bytes());
                    }
                    let _ = stream;
                });
            }
            let view = {
                let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                let inst = map.get_mut(&id).ok_or(OpError::NotFound)?;
                inst.view.pid = pid;
                inst.view.state = State::Running;
                inst.child = Some(child);
                inst.group = pid.map(|p| self.groups.track(p, GroupKind::Instance));
                inst.view.clone()
            };
            self.transition(&id, State::Created, State::Running);
            tracing::debug!(pid, "instance running");
            Ok(view)
        }
        .instrument(span)
        .await;
        if let Some(m) = &self.metrics {
            let status = if result.is_ok() { "success" } else { "error" };
            m.create_duration.record(
                started.elapsed().as_secs_f64(),
                &[KeyValue::new("status", status)],
            );
        }
        result
    }

    #[watchpost::measured(name = "Manager::signal")]
    fn signal(
        &self,
        id: &str,
        sig: i32,
        from: State,
        to: State,
        op: &'static str,
    ) -> Result<InstanceView, OpError> {
        let span = tracing::info_span!("signal_instance", instance_id = %id, signal = op);
        let _g = span.enter();
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let inst = map
            .get_mut(id)
            .filter(|i| !i.deleting)
            .ok_or(OpError::NotFound)?;
        if inst.view.state != from {
            return Err(OpError::Conflict(format!(
                "instance is {}, {op} needs it {}",
                inst.view.state.as_str(),
                from.as_str()
            )));
        }
        let pgid = inst
            .group
            .as_ref()
            .map(child::Group::pgid)
            .ok_or_else(|| OpError::Conflict("instance has no process".into()))?;
        // SAFETY: kill(2) on the process group we created (a negative pid names the group); its
        // leader is not reaped yet (the state says so), so the id is still ours.
        if unsafe { libc::kill(-(pgid as i32), sig) } != 0 {
            return Err(OpError::Internal(format!(
                "{op} failed: {}",
                std::io::Error::last_os_error()
            )));
        }
        inst.view.state = to;
        let view = inst.view.clone();
        drop(map);
        self.transition(id, from, to);
        Ok(view)
    }

    pub fn standby(&self, id: &str) -> Result<InstanceView, OpError> {
        self.signal(id, libc::SIGSTOP, State::Running, State::Standby, "standby")
    }

    pub fn restore(&self, id: &str) -> Result<InstanceView, OpError> {
        self.signal(id, libc::SIGCONT, State::Standby, State::Running, "restore")
    }

    /// SIGTERM, then SIGKILL after `grace`; removes the instance and its logs.
    pub async fn delete(&self, id: &str, grace: Duration) -> Result<(), OpError> {
        let span = tracing::info_span!("delete_instance", instance_id = %id);
        async {
            let (child, group, state) = {
                let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                let inst = map
                    .get_mut(id)
                    .filter(|i| !i.deleting)
                    .ok_or(OpError::NotFound)?;
                inst.deleting = true;
                (inst.child.take(), inst.group.take(), inst.view.state)
            };
            if let Some(mut child) = child {
                child::stop_group(&mut child, grace).await;
            }
            // Whatever is left of the group goes with its guard.
            drop(group);
            self.inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(id);
            if state != State::Exited {
                self.transition(id, state, State::Stopped);
            }
            if let Some(l) = &self.logs {
                l.remove("instance", id)
                    .map_err(|e| OpError::Internal(e.to_string()))?;
            }
            Ok(())
        }
        .instrument(span)
        .await
    }

    /// Stops every instance's process group, all at once (service shutdown).
    pub async fn stop_all(&self, grace: Duration) {
        let mut stopping = tokio::task::JoinSet::new();
        {
            let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            for inst in map.values_mut() {
                let (child, group) = (inst.child.take(), inst.group.take());
                stopping.spawn(async move {
                    if let Some(mut c) = child {
                        child::stop_group(&mut c, grace).await;
                    }
                    drop(group);
                });
            }
        }
        while stopping.join_next().await.is_some() {}
    }

    /// SIGKILLs every live process group now, without waiting (the shutdown deadline).
    pub fn kill_all_now(&self) {
        self.groups.kill(None);
    }

    /// Registers a running exec's process group until the guard drops (which kills what is
    /// left of it).
    pub fn track_exec(&self, pgid: u32) -> child::Group {
        self.groups.track(pgid, GroupKind::Exec)
    }

    /// Whether shutdown has begun (new work is refused).
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Shutdown begins: running execs are killed (their requests answer at once) and open log
    /// streams end, so the server can finish its requests.
    pub fn begin_shutdown(&self) {
        self.stopping.send_replace(true);
        self.groups.kill(Some(GroupKind::Exec));
    }

    /// Resolves once shutdown has begun.
    pub fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stopping.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }

    /// One pass of the reaper: notices children that exited. Logs only when it finds one.
    pub fn reap(&self) {
        let mut exited = Vec::new();
        {
            let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            for (id, inst) in map.iter_mut() {
                if let Some(child) = inst.child.as_mut() {
                    if let Ok(Some(status)) = child.try_wait() {
                        let from = inst.view.state;
                        inst.view.state = State::Exited;
                        inst.view.exit_code = status.code();
                        inst.child = None;
                        // The instance is its group: what the leader left running goes too.
                        inst.group = None;
                        exited.push((id.clone(), from, status.code(), status.signal()));
                    }
                }
            }
        }
        for (id, from, code, signal) in exited {
            self.transition(&id, from, State::Exited);
            tracing::info!(instance_id = %id, exit_code = code, signal, "instance exited");
        }
    }
}
