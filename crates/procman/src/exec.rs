//! `POST /instances/{id}/exec`: run a command next to an instance, with a timeout.

use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use tracing::Instrument;

use crate::child;
use crate::instances::{Manager, OpError};

pub struct ExecOutput {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// Output beyond the cap was dropped (the child ran to its end; its output was drained).
    pub truncated: bool,
    /// Bytes the command wrote (kept or not).
    pub bytes: u64,
}

pub enum ExecError {
    /// The command could not be started (not found, not executable, invalid).
    Spawn(OpError),
    TimedOut(u64),
    Failed(String),
}

/// Default bytes kept per output stream of an exec.
pub const DEFAULT_MAX_OUTPUT: usize = 1024 * 1024;

/// Runs `command` in a process group of its own; at the timeout the whole group is killed (so
/// what it forked goes too). Keeps at most `max_output` bytes per stream.
pub async fn run(
    manager: &Manager,
    instance_id: &str,
    command: &str,
    args: &[String],
    timeout: Duration,
    max_output: usize,
) -> Result<ExecOutput, ExecError> {
    let started = Instant::now();
    let span = tracing::info_span!("exec", instance_id = %instance_id, command = %command);
    let result = async {
        let mut child = match child::command(command, args).spawn() {
            Ok(c) => c,
            Err(e) => return Err(ExecError::Spawn(OpError::spawn_failed(command, &e))),
        };
        let pgid = child.id();
        // Dropped at the end, or when the request is cancelled: kills what is left of the group
        // (children the command left running, or everything if the client went away).
        let _group = pgid.map(|p| manager.track_exec(p));
        if manager.is_stopping() {
            // Shutdown began while this exec was starting: it goes with its group guard.
            return Err(ExecError::Failed("procman is shutting down".into()));
        }
        let (Some(out), Some(err)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(ExecError::Failed(
                "the command's output is not piped".into(),
            ));
        };
        let run = async {
            // The readers end when every process of the group has closed its output.
            let ((stdout, out_bytes), (stderr, err_bytes), status) = tokio::join!(
                child::read_capped(out, max_output),
                child::read_capped(err, max_output),
                child.wait()
            );
            (stdout, stderr, out_bytes + err_bytes, status)
        };
        match tokio::time::timeout(timeout, run).await {
            Ok((stdout, stderr, bytes, Ok(status))) => {
                let truncated = bytes > (stdout.len() + stderr.len()) as u64;
                tracing::debug!(exit_code = status.code(), truncated, "exec finished");
                Ok(ExecOutput {
                    exit_code: status.code(),
                    bytes,
                    stdout: child::text(&stdout, false),
                    stderr: child::text(&stderr, false),
                    truncated,
                })
            }
            Ok((_, _, _, Err(e))) => Err(ExecError::Failed(e.to_string())),
            Err(_) => {
                // Kill the whole group (the leader is reaped when `child` drops: kill_on_drop).
                if let Some(pgid) = pgid {
                    child::signal_group(pgid, libc::SIGKILL);
                }
                let _ = child.wait().await;
                // An error trace: always kept by the sampler.
                tracing::error!(
                    timeout_ms = timeout.as_millis() as u64,
                    "exec timed out, its process group killed"
                );
                Err(ExecError::TimedOut(timeout.as_millis() as u64))
            }
        }
    }
    .instrument(span)
    .await;
    if let Some(m) = manager.metrics() {
        let status = match &result {
            Ok(o) if o.exit_code == Some(0) => "success",
            Ok(_) => "nonzero_exit",
            Err(ExecError::TimedOut(_)) => "timeout",
            Err(_) => "error",
        };
        let attrs = [KeyValue::new("status", status)];
        m.exec_duration
            .record(started.elapsed().as_secs_f64(), &attrs);
        if let Ok(o) = &result {
            m.exec_bytes.add(o.bytes, &[]);
        }
    }
    result
}
