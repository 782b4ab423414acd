//! `POST /instances/{id}/exec`: run a command next to an instance, with a timeout.

use std::process::Stdio;
use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use tracing::Instrument;

use crate::instances::Manager;

pub struct ExecOutput {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub enum ExecError {
    CommandNotFound(String),
    TimedOut(u64),
    Failed(String),
}

pub async fn run(
    manager: &Manager,
    instance_id: &str,
    command: &str,
    args: &[String],
    timeout: Duration,
) -> Result<ExecOutput, ExecError> {
    let started = Instant::now();
    let span = tracing::info_span!("exec", instance_id = %instance_id, command = %command);
    let result = async {
        let child = tokio::process::Command::new(command)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn();
        let child = match child {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ExecError::CommandNotFound(command.to_string()))
            }
            Err(e) => return Err(ExecError::Failed(e.to_string())),
        };
        match tokio::time::timeout(timeout, child.wait_with_output()).await {
            Ok(Ok(out)) => {
                tracing::debug!(exit_code = out.status.code(), "exec finished");
                Ok(ExecOutput {
                    exit_code: out.status.code(),
                    stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
                    stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
                })
            }
            Ok(Err(e)) => Err(ExecError::Failed(e.to_string())),
            Err(_) => {
                // The child is killed on drop. An error trace: always kept by the sampler.
                tracing::error!(
                    timeout_ms = timeout.as_millis() as u64,
                    "exec timed out, command killed"
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
        m.exec_sessions.add(1, &attrs);
        m.exec_duration
            .record(started.elapsed().as_secs_f64(), &attrs);
        if let Ok(o) = &result {
            m.exec_bytes
                .add((o.stdout.len() + o.stderr.len()) as u64, &[]);
        }
    }
    result
}
