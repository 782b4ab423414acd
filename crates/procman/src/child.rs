//! Children in their own process group, and their output read as bounded bytes.
//!
//! Every instance and every exec is the leader of a new process group, so everything it forks
//! (`sh -c "a; b &"`) can be signalled at once: stopping sends SIGCONT + SIGTERM to the group,
//! waits for the leader up to a grace period, then SIGKILLs whatever is left of the group. A
//! process that starts its own session (a daemon) leaves the group and is not followed.
//!
//! Output is read as bytes, never as strings: invalid UTF-8 becomes U+FFFD and never stops the
//! reader, a line is cut at [`MAX_LINE`] bytes (the rest of it is skipped and the line marked),
//! and exec output keeps at most a fixed number of bytes per stream while the rest is drained,
//! so memory stays bounded whatever a child prints.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt};

/// The longest line kept from a child's output; longer lines end with [`TRUNCATED`].
pub const MAX_LINE: usize = 64 * 1024;
/// Appended to a cut line.
pub const TRUNCATED: &str = "…[truncated]";

/// `program args…` as the leader of a new process group, stdin closed, output piped, killed if
/// dropped.
pub fn command(program: &str, args: &[String]) -> tokio::process::Command {
    let mut c = tokio::process::Command::new(program);
    c.args(args)
        // procman's own secret is not the child's business.
        .env_remove("PROCMAN_TOKEN")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    c
}

/// Sends `sig` to the process group led by `pgid` (errors, such as an empty group, ignored).
pub fn signal_group(pgid: u32, sig: i32) {
    // SAFETY: kill(2) on a process group we created; a negative pid names the group.
    unsafe {
        libc::kill(-(pgid as i32), sig);
    }
}

/// What a process group runs: an instance, or an exec next to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupKind {
    Instance,
    Exec,
}

/// Every live process group procman started, so that shutdown (and its deadline) can reach
/// each one, including groups being stopped right now.
#[derive(Clone, Default)]
pub struct Groups(Arc<Mutex<HashMap<u32, GroupKind>>>);

impl Groups {
    /// Registers the group led by `pgid` until the returned guard drops.
    pub fn track(&self, pgid: u32, kind: GroupKind) -> Group {
        self.lock().insert(pgid, kind);
        Group {
            groups: self.clone(),
            pgid,
        }
    }

    /// SIGKILLs every registered group of `kind` (every group with `None`).
    pub fn kill(&self, kind: Option<GroupKind>) {
        for (pgid, k) in self.lock().iter() {
            if kind.is_none_or(|want| want == *k) {
                signal_group(*pgid, libc::SIGKILL);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u32, GroupKind>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A live process group. Dropping it SIGKILLs whatever is left of the group and forgets it: a
/// request cancelled mid-way (the client went away), an exec whose leader ended but left
/// children, an instance removed or exited — none leaves processes behind.
pub struct Group {
    groups: Groups,
    pgid: u32,
}

impl Group {
    /// The group id (the leader's pid).
    pub fn pgid(&self) -> u32 {
        self.pgid
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        signal_group(self.pgid, libc::SIGKILL);
        self.groups.lock().remove(&self.pgid);
    }
}

/// Stops a child's whole group: SIGCONT (a stopped group can handle TERM) and SIGTERM, up to
/// `grace` for the leader to exit, then SIGKILL to every member left; the leader is reaped.
pub async fn stop_group(child: &mut tokio::process::Child, grace: Duration) {
    let Some(pgid) = child.id() else {
        return; // already reaped
    };
    signal_group(pgid, libc::SIGCONT);
    signal_group(pgid, libc::SIGTERM);
    if tokio::time::timeout(grace, child.wait()).await.is_err() {
        tracing::debug!("grace period over, killing the process group");
    }
    // Members that outlived the leader (or ignored TERM) still hold the group id.
    signal_group(pgid, libc::SIGKILL);
    let _ = child.wait().await;
}

/// Reads the next line (without its `\n`) into `line`, keeping at most [`MAX_LINE`] bytes and
/// skipping the rest of a longer one. Returns `Ok(None)` at the end of the stream, else whether
/// the line was cut.
pub async fn next_line<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    line: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    line.clear();
    let mut cut = false;
    let mut read_any = false;
    loop {
        let buf = reader.fill_buf().await?;
        if buf.is_empty() {
            return Ok(read_any.then_some(cut));
        }
        read_any = true;
        let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(i) => (&buf[..i], Some(i + 1)),
            None => (buf, None),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        if chunk.len() > room {
            cut = true;
        }
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(buf.len());
        reader.consume(used);
        if done.is_some() {
            return Ok(Some(cut));
        }
    }
}

/// `bytes` as text: invalid UTF-8 replaced, [`TRUNCATED`] appended if `cut`.
pub fn text(bytes: &[u8], cut: bool) -> String {
    let mut s = String::from_utf8_lossy(bytes).into_owned();
    if cut {
        s.push_str(TRUNCATED);
    }
    s
}

/// Reads a whole stream, keeping its first `cap` bytes and draining the rest (so the writer
/// never blocks on a full pipe). Returns the kept bytes and how many bytes were read in all.
pub async fn read_capped<R: AsyncRead + Unpin>(mut reader: R, cap: usize) -> (Vec<u8>, u64) {
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => return (kept, total),
            Ok(n) => {
                total += n as u64;
                let room = cap.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_are_cut_and_invalid_bytes_do_not_stop_the_reader() {
        let mut input: Vec<u8> = b"a\xffb\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', MAX_LINE + 10));
        input.extend_from_slice(b"\nlast");
        let mut reader = tokio::io::BufReader::with_capacity(1024, &input[..]);
        let mut line = Vec::new();
        assert_eq!(
            next_line(&mut reader, &mut line).await.unwrap(),
            Some(false)
        );
        assert_eq!(text(&line, false), "a\u{fffd}b");
        assert_eq!(next_line(&mut reader, &mut line).await.unwrap(), Some(true));
        assert_eq!(line.len(), MAX_LINE);
        assert!(text(&line, true).ends_with(TRUNCATED));
        assert_eq!(
            next_line(&mut reader, &mut line).await.unwrap(),
            Some(false)
        );
        assert_eq!(line, b"last");
        assert_eq!(next_line(&mut reader, &mut line).await.unwrap(), None);
    }

    #[tokio::test]
    async fn capped_reads_keep_the_head_and_flag_the_rest() {
        let input = vec![b'y'; 300_000];
        let (kept, total) = read_capped(&input[..], 100_000).await;
        assert_eq!((kept.len(), total), (100_000, 300_000));
        let (kept, total) = read_capped(&input[..10], 100_000).await;
        assert_eq!((kept.len(), total), (10, 10));
    }
}
