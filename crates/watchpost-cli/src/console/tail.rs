//! `--logs FILE`: the console follows a JSON-lines log file (Watchpost's format: `time`,
//! `level`, `msg`, `subsystem`, `service`, `version`, `environment`, `trace_id`, `span_id`, then
//! the fields) and stores each line as a log record, linked to its trace by `trace_id`.
//!
//! - **Where from**: the file's end (lines written from now on), or its start with
//!   `--logs-from-start`. A file that does not exist yet is waited for, then read from its start.
//! - **Rotation and truncation**: the path is looked at whenever the file has nothing more to
//!   read (every [`POLL`]); when it names another file (rotation by rename, Watchpost's `x.log` →
//!   `x.log.1`), the old one is read to its end and the new one from its start; when it shrank,
//!   or its first [`HEAD_BYTES`] bytes changed (a `copytruncate` followed by writes past the old
//!   offset before the next look), it is read again from its start. Both are counted. The limit:
//!   a truncation followed, within one poll, by writes past the old offset that begin with the
//!   same bytes as before is not seen (the lines past the old offset are then read as new ones).
//! - **Files only**: a path that is not a regular file (a FIFO, a device, a directory) is refused
//!   at start ([`check_regular`]), and not opened if it becomes one later.
//! - **Mapping**: `msg` is the body; `level` the severity; `time` the record's time (else the
//!   time read); `trace_id`/`span_id` link it to its trace; `service`, `version` and
//!   `environment` make the resource (`service.name`, `service.version`,
//!   `deployment.environment.name`; without `service`, the file's name up to its first dot);
//!   every other key (`subsystem` included) is an attribute, as is `log.file.path`.
//! - **Lines that are not JSON objects** (a panic message, a stack trace) are stored whole as
//!   INFO records with that body, so nothing a service wrote is hidden; they are counted
//!   (`plain`) and found by `log.invalid-json` ([`super::findings`]). Blank lines are skipped.
//! - **Bounds**: a line over [`MAX_LINE`] bytes is cut there (never held longer) and counted
//!   (`cut`); at most [`BATCH_LINES`] lines are stored at a time.
//!
//! ```
//! use watchpost_cli::console::tail::to_otlp;
//! let line = br#"{"time":"2026-11-30T10:00:00Z","level":"WARN","msg":"slow","subsystem":"API","service":"procman","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","route":"/x"}"#;
//! let (req, json) = to_otlp(&[line.to_vec()], "/var/log/procman.log", 7);
//! assert_eq!(json, 1);
//! let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
//! assert_eq!((rec.severity_number, rec.trace_id.len()), (13, 16));
//! ```

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use serde::Serialize;
use serde_json::{Map, Value};

use super::findings::{now_ns, Findings};
use super::otlp_kv::{kv, service_name, text};
use super::store::unhex;
use super::Console;
use crate::logs::{parse_rfc3339, LogChecker};
use crate::report::Report;

/// The longest line kept; longer ones are cut here (and counted).
pub const MAX_LINE: usize = 64 << 10;
/// Lines stored (and checked) at a time.
pub const BATCH_LINES: usize = 1000;
/// How often a file with nothing new is looked at again.
pub const POLL: Duration = Duration::from_millis(100);
/// The scope name of the records a tailed file gives.
pub const SCOPE: &str = "watchpost.console.tail";
/// The bytes at the start of a file remembered to notice it was rewritten from the start.
pub const HEAD_BYTES: usize = 64;
/// Lines a log checker sees before a fresh one replaces it (its memory of traces and resource
/// ids stays bounded).
pub const CHECKER_LINES: u64 = 100_000;

/// One tailed file's record.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TailStatus {
    /// The path.
    pub path: String,
    /// JSON lines stored.
    pub json: u64,
    /// Lines that were not JSON objects, stored as plain bodies.
    pub plain: u64,
    /// Lines cut at [`MAX_LINE`] bytes.
    pub cut: u64,
    /// Times the path named a new file (rotation).
    pub rotations: u64,
    /// Times the file shrank (truncation).
    pub truncations: u64,
    /// Why the file cannot be read now, if it cannot.
    pub error: Option<String>,
}

fn json_value(v: &Value) -> any_value::Value {
    match v {
        Value::String(s) => text(s),
        Value::Bool(b) => any_value::Value::BoolValue(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => any_value::Value::IntValue(i),
            None => any_value::Value::DoubleValue(n.as_f64().unwrap_or(0.0)),
        },
        other => text(&other.to_string()),
    }
}

fn severity(level: &str) -> i32 {
    match level.to_ascii_uppercase().as_str() {
        "TRACE" => 1,
        "DEBUG" => 5,
        "INFO" | "NOTICE" => 9,
        "WARN" | "WARNING" => 13,
        "ERROR" => 17,
        "FATAL" | "CRITICAL" | "PANIC" => 21,
        _ => 0,
    }
}

/// The service of a file without a `service` key: its name up to the first dot.
pub fn file_service(path: &str) -> String {
    let name = Path::new(path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match name.split('.').next() {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => "unknown_service".to_owned(),
    }
}

/// Turns lines of the file `path` read at `now_ns` into an OTLP export (one resource per
/// `service`/`version`/`environment`); also returns how many were JSON objects.
pub fn to_otlp(lines: &[Vec<u8>], path: &str, now_ns: u64) -> (ExportLogsServiceRequest, u64) {
    let fallback = file_service(path);
    let mut by_resource: BTreeMap<[String; 3], Vec<LogRecord>> = BTreeMap::new();
    let mut json = 0;
    for line in lines {
        let obj = match serde_json::from_slice::<Value>(line) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        };
        let (resource, record) = match obj {
            Some(o) => {
                json += 1;
                record(&o, &fallback, path, now_ns)
            }
            None => (
                [fallback.clone(), String::new(), String::new()],
                LogRecord {
                    time_unix_nano: now_ns,
                    observed_time_unix_nano: now_ns,
                    body: Some(AnyValue {
                        value: Some(text(&String::from_utf8_lossy(line))),
                    }),
                    attributes: vec![kv("log.file.path", text(path))],
                    ..LogRecord::default()
                },
            ),
        };
        by_resource.entry(resource).or_default().push(record);
    }
    let req = ExportLogsServiceRequest {
        resource_logs: by_resource
            .into_iter()
            .map(|([service, version, environment], log_records)| {
                let mut attributes = vec![kv("service.name", text(&service))];
                if !version.is_empty() {
                    attributes.push(kv("service.version", text(&version)));
                }
                if !environment.is_empty() {
                    attributes.push(kv("deployment.environment.name", text(&environment)));
                }
                ResourceLogs {
                    resource: Some(Resource {
                        attributes,
                        ..Resource::default()
                    }),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(InstrumentationScope {
                            name: SCOPE.to_owned(),
                            ..InstrumentationScope::default()
                        }),
                        log_records,
                        ..ScopeLogs::default()
                    }],
                    ..ResourceLogs::default()
                }
            })
            .collect(),
    };
    (req, json)
}

fn record(
    o: &Map<String, Value>,
    fallback: &str,
    path: &str,
    now_ns: u64,
) -> ([String; 3], LogRecord) {
    let s = |k: &str| o.get(k).and_then(Value::as_str).unwrap_or("");
    let service = match s("service") {
        "" => fallback.to_owned(),
        svc => svc.to_owned(),
    };
    let time = o
        .get("time")
        .and_then(Value::as_str)
        .and_then(parse_rfc3339)
        .and_then(|t| u64::try_from(t).ok())
        .unwrap_or(now_ns);
    let mut attributes: Vec<KeyValue> = o
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "time"
                    | "level"
                    | "msg"
                    | "service"
                    | "version"
                    | "environment"
                    | "trace_id"
                    | "span_id"
            )
        })
        .map(|(k, v)| kv(k, json_value(v)))
        .collect();
    attributes.push(kv("log.file.path", text(path)));
    let rec = LogRecord {
        time_unix_nano: time,
        observed_time_unix_nano: now_ns,
        severity_number: severity(s("level")),
        severity_text: s("level").to_owned(),
        body: Some(AnyValue {
            value: Some(match o.get("msg") {
                Some(v) => json_value(v),
                None => text(""),
            }),
        }),
        attributes,
        trace_id: unhex::<16>(s("trace_id")).map_or_else(Vec::new, Vec::from),
        span_id: unhex::<8>(s("span_id")).map_or_else(Vec::new, Vec::from),
        ..LogRecord::default()
    };
    (
        [
            service,
            s("version").to_owned(),
            s("environment").to_owned(),
        ],
        rec,
    )
}

/// Splits bytes into lines of at most [`MAX_LINE`] bytes, counting the cut ones.
#[derive(Debug, Default)]
struct Lines {
    partial: Vec<u8>,
    cutting: bool,
    cut: u64,
    /// Discard up to the first newline (reading started inside a line).
    skip: bool,
}

impl Lines {
    fn feed(&mut self, mut bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        if self.skip {
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.skip = false;
                    bytes = &bytes[i + 1..];
                }
                None => return,
            }
        }
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.push(&bytes[..i]);
            out.push(std::mem::take(&mut self.partial));
            self.cutting = false;
            bytes = &bytes[i + 1..];
        }
        self.push(bytes);
    }

    fn push(&mut self, bytes: &[u8]) {
        let room = MAX_LINE - self.partial.len();
        if bytes.len() > room && !self.cutting {
            self.cutting = true;
            self.cut += 1;
        }
        self.partial
            .extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// A last line without its newline (the file was replaced), handed on.
    fn flush(&mut self, out: &mut Vec<Vec<u8>>) {
        if !self.partial.is_empty() {
            out.push(std::mem::take(&mut self.partial));
        }
        self.cutting = false;
    }
}

/// One followed file.
struct Tail {
    path: PathBuf,
    name: String,
    console: Console,
    index: usize,
    checker: LogChecker,
    checked: u64,
    lines: Lines,
    pending: Vec<Vec<u8>>,
    service: String,
}

/// A file opened for following.
#[derive(Debug)]
pub struct Opened {
    file: File,
    ino: u64,
    pos: u64,
    /// Reading starts inside a line: its rest is skipped.
    skip: bool,
}

/// Whether `path` can be followed: a regular file, or nothing yet (waited for; so is a path
/// that cannot be looked at now). Never opens it: opening a FIFO blocks until a writer comes.
///
/// ```
/// use watchpost_cli::console::tail::check_regular;
/// assert!(check_regular("/dev/null".as_ref()).is_err());
/// assert!(check_regular("/no/such/file.log".as_ref()).is_ok());
/// ```
pub fn check_regular(path: &Path) -> std::io::Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(()),
        Ok(m) => Err(not_regular(&m.file_type())),
        // Missing (waited for) or not readable now (shown in its record, looked at again).
        Err(_) => Ok(()),
    }
}

fn not_regular(t: &std::fs::FileType) -> std::io::Error {
    use std::os::unix::fs::FileTypeExt;
    let kind = if t.is_fifo() {
        "FIFO"
    } else if t.is_dir() {
        "directory"
    } else if t.is_char_device() || t.is_block_device() {
        "device"
    } else if t.is_socket() {
        "socket"
    } else {
        "special file"
    };
    std::io::Error::other(format!("not a regular file (a {kind})"))
}

/// Opens `path` positioned at its end (`at_end`) or its start; refuses what is not a regular
/// file ([`check_regular`]) without opening it.
pub fn open(path: &Path, at_end: bool) -> std::io::Result<Opened> {
    let before = std::fs::metadata(path)?;
    if !before.is_file() {
        return Err(not_regular(&before.file_type()));
    }
    let mut file = File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(&meta.file_type()));
    }
    let pos = if at_end { meta.len() } else { 0 };
    let mut skip = false;
    if pos > 0 {
        file.seek(SeekFrom::Start(pos))?;
        let mut last = [0u8];
        skip = file.read_at(&mut last, pos - 1).is_ok() && last[0] != b'\n';
    }
    Ok(Opened {
        file,
        ino: meta.ino(),
        pos,
        skip,
    })
}

/// Follows `path` until `stop` is set, storing its lines in `console`'s store; its record is
/// `console.live.tails[index]`. It is opened first (at its end when `at_end`), then `opened` is
/// told so (the console waits for that before it says it listens, so that every line written
/// after is read); when it cannot be opened, it is waited for and read from its start.
pub fn follow(
    path: PathBuf,
    at_end: bool,
    opened: std::sync::mpsc::SyncSender<()>,
    console: Console,
    index: usize,
    stop: Arc<AtomicBool>,
) {
    let first = open(&path, at_end);
    let _ = opened.send(());
    let name = path.to_string_lossy().into_owned();
    let mut t = Tail {
        service: file_service(&name),
        name,
        path,
        console,
        index,
        checker: LogChecker::new(&Default::default()),
        checked: 0,
        lines: Lines::default(),
        pending: Vec::new(),
    };
    let mut file: Option<(File, u64)> = None;
    let mut pos = 0u64;
    let mut next = Some(first);
    let mut buf = vec![0u8; 64 << 10];
    let mut head: Vec<u8> = Vec::new();
    let mut erred = false;
    while !stop.load(Ordering::Relaxed) {
        let Some((f, ino)) = file.as_mut() else {
            // A file that appears (or reappears) later is new, and read whole.
            match next.take().unwrap_or_else(|| open(&t.path, false)) {
                Ok(o) => {
                    pos = o.pos;
                    t.lines.skip = o.skip;
                    head = read_head(&o.file, o.pos);
                    t.status(|s| s.error = None);
                    erred = false;
                    file = Some((o.file, o.ino));
                }
                Err(e) => {
                    t.status(|s| s.error = Some(format!("cannot read {}: {e}", s.path)));
                    erred = true;
                    std::thread::sleep(POLL);
                }
            }
            continue;
        };
        let n = match f.read(&mut buf) {
            Ok(n) => n,
            Err(e) => {
                t.status(|s| s.error = Some(format!("cannot read {}: {e}", s.path)));
                erred = true;
                0
            }
        };
        if n > 0 {
            if std::mem::take(&mut erred) {
                t.status(|s| s.error = None);
            }
            pos += n as u64;
            if head.len() < HEAD_BYTES && pos > head.len() as u64 {
                head = read_head(f, pos);
            }
            t.feed(&buf[..n]);
            continue;
        }
        t.store();
        // Looked at after the pause, right before the next read: a file rewritten from its start
        // in the meantime is noticed before its new bytes are read from the old offset.
        std::thread::sleep(POLL);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let now = std::fs::metadata(&t.path).ok();
        let rewritten = !head.is_empty() && head_changed(f, &head);
        match now {
            Some(m) if m.ino() != *ino => {
                // Rotated: what the old file still has, then the new one from its start.
                while let Ok(n) = f.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    t.feed(&buf[..n]);
                }
                t.lines.flush(&mut t.pending);
                t.store();
                t.status(|s| s.rotations += 1);
                file = None;
                continue;
            }
            Some(m) if m.len() < pos || rewritten => {
                let _ = f.seek(SeekFrom::Start(0));
                pos = 0;
                head.clear();
                t.lines = Lines {
                    cut: t.lines.cut,
                    ..Lines::default()
                };
                t.status(|s| s.truncations += 1);
                continue;
            }
            // Gone (being rotated): looked at again after the pause.
            _ => {}
        }
    }
    t.lines.flush(&mut t.pending);
    t.store();
}

/// The first bytes of `f` (at most [`HEAD_BYTES`], and not past `pos`).
fn read_head(f: &File, pos: u64) -> Vec<u8> {
    let mut head = vec![0u8; HEAD_BYTES.min(usize::try_from(pos).unwrap_or(HEAD_BYTES))];
    match f.read_at(&mut head, 0) {
        Ok(n) => head.truncate(n),
        Err(_) => head.clear(),
    }
    head
}

/// Whether `f` no longer starts with `head`.
fn head_changed(f: &File, head: &[u8]) -> bool {
    let mut now = vec![0u8; head.len()];
    match f.read_at(&mut now, 0) {
        Ok(n) => now[..n] != *head,
        Err(_) => false,
    }
}

impl Tail {
    fn status(&self, f: impl FnOnce(&mut TailStatus)) {
        let mut tails = self
            .console
            .live
            .tails
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(s) = tails.get_mut(self.index) {
            f(s);
        }
    }

    fn feed(&mut self, bytes: &[u8]) {
        self.lines.feed(bytes, &mut self.pending);
        if self.pending.len() >= BATCH_LINES {
            self.store();
        }
    }

    /// Stores the lines read so far, and checks them.
    fn store(&mut self) {
        let cut = std::mem::take(&mut self.lines.cut);
        if self.pending.is_empty() {
            if cut > 0 {
                self.status(|s| s.cut += cut);
            }
            return;
        }
        let mut lines = std::mem::take(&mut self.pending);
        // Blank lines are no records; a CRLF file's lines lose their CR.
        lines.retain(|l| !l.iter().all(u8::is_ascii_whitespace));
        for l in &mut lines {
            if l.last() == Some(&b'\r') {
                l.pop();
            }
        }
        if lines.is_empty() {
            if cut > 0 {
                self.status(|s| s.cut += cut);
            }
            return;
        }
        let now = now_ns();
        let (req, json) = to_otlp(&lines, &self.name, now);
        if let Some(svc) = service_name(req.resource_logs.last().and_then(|r| r.resource.as_ref()))
        {
            self.service = svc.to_owned();
        }
        let mut report = Report::default();
        if self.checked > CHECKER_LINES {
            self.checker = LogChecker::new(&Default::default());
            self.checked = 0;
        }
        for l in &lines {
            self.checker.line(l, &mut report);
        }
        self.checked += lines.len() as u64;
        super::live::store(&self.console, crate::otlp::Batch::Logs(req));
        add_findings(&self.console.live.findings, &report, &self.service, now);
        let plain = lines.len() as u64 - json;
        self.status(|s| {
            s.json += json;
            s.plain += plain;
            s.cut += cut;
        });
    }
}

fn add_findings(findings: &Mutex<Findings>, report: &Report, service: &str, now: u64) {
    findings
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .add(report, service, now);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_counted_and_a_partial_start_is_skipped() {
        let mut lines = Lines {
            skip: true,
            ..Lines::default()
        };
        let mut out = Vec::new();
        lines.feed(b"rest of a line\nfirst\n", &mut out);
        let long = vec![b'x'; MAX_LINE * 2 + 5];
        lines.feed(&long[..MAX_LINE + 1], &mut out);
        lines.feed(&long[MAX_LINE + 1..], &mut out);
        lines.feed(b"\nlast\n", &mut out);
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], b"first");
        assert_eq!(out[1].len(), MAX_LINE);
        assert_eq!(out[2], b"last");
        assert_eq!(lines.cut, 1);
    }

    #[test]
    fn ids_of_the_wrong_length_link_to_nothing() {
        let line = br#"{"msg":"m","trace_id":"4bf92f3577b34da6","span_id":"00f067aa0ba902b7aa"}"#;
        let (req, _) = to_otlp(&[line.to_vec()], "a.log", 1);
        let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert!(rec.trace_id.is_empty() && rec.span_id.is_empty(), "{rec:?}");
        let line = br#"{"msg":"m","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","span_id":"00f067aa0ba902b7"}"#;
        let (req, _) = to_otlp(&[line.to_vec()], "a.log", 1);
        let rec = &req.resource_logs[0].scope_logs[0].log_records[0];
        assert_eq!((rec.trace_id.len(), rec.span_id.len()), (16, 8));
    }

    #[test]
    fn a_file_rewritten_from_its_start_is_noticed_by_its_head() {
        let dir = watchpost_testkit::tools::TempDir::new("tail-head");
        let path = dir.0.join("a.log");
        std::fs::write(&path, "{\"msg\":\"one\"}\n").unwrap();
        let f = File::open(&path).unwrap();
        let head = read_head(&f, 100);
        assert_eq!(head, b"{\"msg\":\"one\"}\n");
        assert!(!head_changed(&f, &head));
        std::fs::write(&path, "{\"msg\":\"two, longer than before\"}\n").unwrap();
        assert!(head_changed(&f, &head));
    }
}
