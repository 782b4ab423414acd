//! The instance manager: OS processes with a small state machine, their output in the
//! instance's `app` log, and the metrics of the reference catalogue.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use opentelemetry::KeyValue;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tracing::Instrument;
use watchpost::logs::ResourceLogs;

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
}

/// Errors of instance operations, mapped to HTTP statuses by the API.
#[derive(Debug)]
pub enum OpError {
    NotFound,
    Conflict(String),
    CommandNotFound(String),
    Internal(String),
}

#[derive(Clone)]
pub struct Manager {
    inner: Arc<Mutex<HashMap<String, Instance>>>,
    logs: Option<ResourceLogs>,
    metrics: Option<Arc<Metrics>>,
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
                        let n = map.values().filter(|i| i.view.state == s).count() as u64;
                        o.observe(n, &[KeyValue::new("state", s.as_str())]);
                    }
                });
            Arc::new(Metrics::new(t.metrics()))
        });
        Manager {
            inner,
            logs: telemetry.and_then(|t| t.resource_logs().cloned()),
            metrics,
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
        let mut v: Vec<InstanceView> = map.values().map(|i| i.view.clone()).collect();
        v.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        v
    }

    pub fn get(&self, id: &str) -> Option<InstanceView> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|i| i.view.clone())
    }

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
            self.inner
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.clone(), Instance { view, child: None });
            let spawned = async {
                tracing::debug!(command = %command, args = args.len(), "spawning");
                tokio::process::Command::new(&command)
                    .args(&args)
                    .stdin(Stdio::null())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .kill_on_drop(true)
                    .spawn()
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
                    return Err(if e.kind() == std::io::ErrorKind::NotFound {
                        OpError::CommandNotFound(command.clone())
                    } else {
                        OpError::Internal(format!("cannot start {command:?}: {e}"))
                    });
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
                    let mut lines = BufReader::new(reader).lines();
                    while let Ok(Some(line)) = lines.next_line().await {
                        let _ = logs.append("instance", &id, "app", line.as_bytes());
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
        let inst = map.get_mut(id).ok_or(OpError::NotFound)?;
        if inst.view.state != from {
            return Err(OpError::Conflict(format!(
                "instance is {}, {op} needs it {}",
                inst.view.state.as_str(),
                from.as_str()
            )));
        }
        let pid = inst
            .view
            .pid
            .ok_or_else(|| OpError::Conflict("instance has no process".into()))?;
        // SAFETY: kill(2) with a pid we spawned and still own (not reaped yet).
        if unsafe { libc::kill(pid as i32, sig) } != 0 {
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
            let (child, state) = {
                let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
                let inst = map.get_mut(id).ok_or(OpError::NotFound)?;
                (inst.child.take(), inst.view.state)
            };
            if let Some(mut child) = child {
                stop_child(&mut child, grace).await;
            }
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

    /// Stops every child (service shutdown).
    pub async fn stop_all(&self, grace: Duration) {
        let children: Vec<(String, tokio::process::Child)> = {
            let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
            map.iter_mut()
                .filter_map(|(id, i)| i.child.take().map(|c| (id.clone(), c)))
                .collect()
        };
        for (_, mut c) in children {
            stop_child(&mut c, grace).await;
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
                        exited.push((id.clone(), from, status.code()));
                    }
                }
            }
        }
        for (id, from, code) in exited {
            self.transition(&id, from, State::Exited);
            tracing::info!(instance_id = %id, exit_code = code, "instance exited");
        }
    }
}

async fn stop_child(child: &mut tokio::process::Child, grace: Duration) {
    if let Some(pid) = child.id() {
        // SAFETY: signalling our own child. SIGCONT first, so a stopped child can handle TERM.
        unsafe {
            libc::kill(pid as i32, libc::SIGCONT);
            libc::kill(pid as i32, libc::SIGTERM);
        }
    }
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        tracing::debug!("grace period over, killing");
        let _ = child.kill().await;
    }
}
