//! Reading a resource's log: a consistent snapshot of its current and rotated (gzipped) files
//! for the last lines, and the async follower that continues from the snapshot across
//! rotations (reading gzipped files too) until the resource is removed or the stream dropped.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::OpenOptionsExt as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::file::ResourceFile;
use super::{lock, ResourceLogs};
use crate::error::{Error, ErrorKind};

impl ResourceLogs {
    /// The last `tail` lines of a resource's service log (`usize::MAX` for all), oldest first,
    /// across rotated (and gzipped) files.
    ///
    /// # Errors
    /// Unknown kind, invalid id, or a resource that is not registered ([`ErrorKind::NotFound`]).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-read-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let logs = telemetry.resource_logs().unwrap();
    /// assert!(logs.read("instance", "nope", 10).is_err());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn read(&self, kind: &str, id: &str, tail: usize) -> Result<Vec<String>, Error> {
        let service = self.registry.service.clone();
        self.read_stream(kind, id, &service, tail)
    }

    /// Like [`read`](Self::read) for another stream (see [`append`](Self::append)).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// ```
    /// # let dir = std::env::temp_dir().join(format!("wp-doc-reads-{}", std::process::id()));
    /// # let config = watchpost::Config::builder("svc").resource_logs(watchpost::logs::ResourceLogConfig::new(&dir).kind("instance", "instance_id")).build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// # let logs = telemetry.resource_logs().unwrap();
    /// logs.register("instance", "a").unwrap();
    /// assert!(logs.read_stream("instance", "a", "app", 5).unwrap().is_empty());
    /// # std::fs::remove_dir_all(&dir).ok();
    /// ```
    pub fn read_stream(
        &self,
        kind: &str,
        id: &str,
        stream: &str,
        tail: usize,
    ) -> Result<Vec<String>, Error> {
        Ok(self.snapshot(kind, id, stream)?.tail(tail))
    }

    /// Flushes a stream and, under its lock, opens its current file and every rotated file, so
    /// that reading them afterwards is consistent even if a rotation happens meanwhile.
    fn snapshot(&self, kind: &str, id: &str, stream: &str) -> Result<Snapshot, Error> {
        let k = self.kind_index(kind)?;
        self.check_id("resource id", id)?;
        self.check_id("log stream", stream)?;
        let not_found = || {
            Error::new(ErrorKind::NotFound {
                what: format!("logs of {kind} {id}"),
            })
        };
        let file = self.file(k, id, stream).ok_or_else(not_found)?;
        let mut st = lock(&file.state);
        if st.removed {
            return Err(not_found());
        }
        self.flush_locked(&file, &mut st);
        let open = || {
            OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .mode(0o600)
                .open(&file.path)
        };
        let current = open()
            .or_else(|e| {
                // The directory of an idle resource may have been removed: create it again.
                let dir = file
                    .path
                    .parent()
                    .filter(|_| e.kind() == io::ErrorKind::NotFound);
                dir.map_or(Err(e), |d| {
                    crate::logs::rotate::create_private_dir_all(d).and_then(|()| open())
                })
            })
            .map_err(|e| {
                Error::invalid(
                    "resource log file",
                    file.path.display().to_string(),
                    format!("a readable file ({e})"),
                )
            })?;
        let size = current.metadata().map(|m| m.len()).unwrap_or(0);
        let mut rotated = Vec::new();
        for (i, r) in st.rotated.iter().enumerate() {
            // A hole (a file deleted by hand, a rotation that failed) is skipped.
            if let Ok(f) = File::open(r.path(&file.path, i)) {
                rotated.push((f, r.gz));
            }
        }
        let generation = st.generation;
        drop(st);
        Ok(Snapshot {
            file,
            current,
            size,
            generation,
            rotated,
        })
    }

    /// Follows a resource's service log: the last `tail` lines, then every new line as it is
    /// written, across rotations, until the resource is removed or the stream is dropped. Needs a
    /// Tokio runtime. Lines reach followers within `flush_interval`.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// ```no_run
    /// # async fn f(logs: watchpost::logs::ResourceLogs) -> Result<(), watchpost::Error> {
    /// use futures_util::StreamExt;
    /// let mut lines = logs.follow("instance", "web-1", 10)?;
    /// while let Some(line) = lines.next().await {
    ///     println!("{line}");
    /// }
    /// # Ok(()) }
    /// ```
    pub fn follow(
        &self,
        kind: &str,
        id: &str,
        tail: usize,
    ) -> Result<impl futures_core::Stream<Item = String> + Send + 'static, Error> {
        let service = self.registry.service.clone();
        self.follow_stream(kind, id, &service, tail)
    }

    /// Like [`follow`](Self::follow) for another stream (see [`append`](Self::append)).
    ///
    /// # Errors
    /// As [`read`](Self::read).
    ///
    /// ```no_run
    /// # async fn f(logs: watchpost::logs::ResourceLogs) -> Result<(), watchpost::Error> {
    /// let lines = logs.follow_stream("instance", "web-1", "app", 0)?;
    /// # drop(lines); Ok(()) }
    /// ```
    pub fn follow_stream(
        &self,
        kind: &str,
        id: &str,
        stream: &str,
        tail: usize,
    ) -> Result<impl futures_core::Stream<Item = String> + Send + 'static, Error> {
        // The tail is everything up to `size` of generation `g`; the follower continues from
        // exactly there in the same descriptor, so nothing is missed or repeated.
        let snap = self.snapshot(kind, id, stream)?;
        let initial = if tail > 0 {
            snap.tail_lines(tail)
        } else {
            Vec::new()
        };
        let Snapshot {
            file,
            current,
            size,
            generation,
            ..
        } = snap;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<String>(1024);
        let logs = self.clone();
        tokio::spawn(async move {
            for l in initial {
                if tx.send(l).await.is_err() {
                    return;
                }
            }
            logs.follow_task(file, current, generation, size, tx).await;
        });
        Ok(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }

    async fn follow_task(
        &self,
        file: Arc<ResourceFile>,
        mut current: File,
        mut generation: u64,
        offset: u64,
        tx: tokio::sync::mpsc::Sender<String>,
    ) {
        enum Next {
            Wait,
            End,
            Rotated(Option<Box<dyn Read + Send>>),
        }
        let poll = self
            .registry
            .cfg
            .flush_interval
            .max(Duration::from_millis(10));
        let mut carry: Vec<u8> = Vec::new();
        if current.seek(SeekFrom::Start(offset)).is_err() {
            return;
        }
        let mut reader: Box<dyn Read + Send> = Box::new(current);
        // The current file was missing when we moved on to it: opened as soon as it exists.
        let mut missing = false;
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            if missing {
                // Under the lock: the file must still be our generation's.
                let st = lock(&file.state);
                if st.generation == generation {
                    if let Ok(f) = File::open(&file.path) {
                        reader = Box::new(f);
                        missing = false;
                    }
                }
            }
            // Drain what is there.
            loop {
                match reader.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        carry.extend_from_slice(&chunk[..n]);
                        if !send_lines(&mut carry, &tx).await {
                            return;
                        }
                    }
                }
            }
            // At the end: rotated, removed, or just no new lines yet? The next file is opened
            // under the lock, so names cannot shift while it is picked: the first generation
            // after ours that still exists (rotated, perhaps gzipped, or the current file).
            let next = {
                let st = lock(&file.state);
                if st.removed {
                    Next::End
                } else if st.generation > generation {
                    let mut opened: Option<Box<dyn Read + Send>> = None;
                    let mut skipped = 0;
                    // Our own generation too if its file was never opened.
                    let first = if missing { generation } else { generation + 1 };
                    for g in first..st.generation {
                        let found = st
                            .rotated
                            .iter()
                            .enumerate()
                            .find(|(_, r)| r.generation == g);
                        let f = found.and_then(|(i, r)| {
                            let f = File::open(r.path(&file.path, i)).ok()?;
                            if r.gz {
                                crate::logs::rotate::gunzip(f)
                            } else {
                                Some(Box::new(f) as Box<dyn Read + Send>)
                            }
                        });
                        generation = g;
                        if f.is_some() {
                            opened = f;
                            break;
                        }
                        skipped += 1;
                    }
                    if opened.is_none() {
                        generation = st.generation;
                        opened = File::open(&file.path)
                            .ok()
                            .map(|f| Box::new(f) as Box<dyn Read + Send>);
                    }
                    if skipped > 0 {
                        // The files in between are gone (deleted for their age or the budget).
                        self.registry
                            .counters
                            .follower_gaps
                            .fetch_add(skipped, Ordering::Relaxed);
                    }
                    Next::Rotated(opened)
                } else {
                    Next::Wait
                }
            };
            match next {
                Next::End => return,
                Next::Wait => {
                    tokio::select! {
                        _ = tokio::time::sleep(poll) => {}
                        _ = tx.closed() => return,
                    }
                }
                Next::Rotated(opened) => {
                    // Our file is final (rotation flushed it first): drain it, then move on.
                    let mut rest = Vec::new();
                    let _ = reader.read_to_end(&mut rest);
                    carry.extend_from_slice(&rest);
                    if !send_lines(&mut carry, &tx).await {
                        return;
                    }
                    carry.clear();
                    match opened {
                        Some(f) => {
                            reader = f;
                            missing = false;
                        }
                        None => {
                            // The current file is missing (removed by hand, or it could not be
                            // created): wait for it, trying at every poll until it exists, the
                            // stream rotates again or the resource is removed.
                            reader = Box::new(io::empty());
                            missing = true;
                            tokio::select! {
                                _ = tokio::time::sleep(poll) => {}
                                _ = tx.closed() => return,
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Descriptors of a stream's files, opened together under its lock.
struct Snapshot {
    file: Arc<ResourceFile>,
    current: File,
    /// Bytes of `current` that belong to the snapshot.
    size: u64,
    generation: u64,
    /// `x.log.1`, `x.log.2`, … (newest first), `true` if gzipped.
    rotated: Vec<(File, bool)>,
}

impl Snapshot {
    fn tail(self, n: usize) -> Vec<String> {
        self.tail_lines(n)
    }

    /// The last `n` lines, oldest first: the current file up to `size`, then rotated files from
    /// the newest, as long as more lines are needed.
    fn tail_lines(&self, n: usize) -> Vec<String> {
        let mut chunks: Vec<Vec<String>> = Vec::new();
        let mut have = 0;
        if let Ok(mut f) = self.current.try_clone() {
            if f.seek(SeekFrom::Start(0)).is_ok() {
                let lines = lines_of(Box::new(f.take(self.size)));
                have += lines.len();
                chunks.push(lines);
            }
        }
        let _ = self.generation;
        for (f, gz) in &self.rotated {
            if have >= n {
                break;
            }
            let Ok(mut f) = f.try_clone() else { break };
            if f.seek(SeekFrom::Start(0)).is_err() {
                break;
            }
            let lines = if *gz {
                match crate::logs::rotate::gunzip(f) {
                    Some(r) => lines_of(r),
                    None => continue,
                }
            } else {
                lines_of(Box::new(f))
            };
            have += lines.len();
            chunks.push(lines);
        }
        let mut lines: Vec<String> = chunks.into_iter().rev().flatten().collect();
        let skip = lines.len().saturating_sub(n);
        lines.split_off(skip)
    }
}

fn lines_of(r: Box<dyn Read>) -> Vec<String> {
    BufReader::new(r)
        .split(b'\n')
        .map_while(Result::ok)
        .map(|l| String::from_utf8_lossy(&l).into_owned())
        .collect()
}

/// Sends every complete line in `carry` (keeping a partial one); `false` if the receiver is gone.
async fn send_lines(carry: &mut Vec<u8>, tx: &tokio::sync::mpsc::Sender<String>) -> bool {
    let mut start = 0;
    while let Some(pos) = carry[start..].iter().position(|&b| b == b'\n') {
        let line = String::from_utf8_lossy(&carry[start..start + pos]).into_owned();
        start += pos + 1;
        if tx.send(line).await.is_err() {
            return false;
        }
    }
    carry.drain(..start);
    true
}
