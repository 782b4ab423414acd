//! A capturing writer and helpers for in-process tests.
#![allow(dead_code)]

use std::io;
use std::sync::{Arc, Mutex};

use tracing_subscriber::fmt::MakeWriter;

/// Collects every write; each `write_all` from the layer is one line.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn lines(&self) -> Vec<String> {
        let buf = self.0.lock().unwrap();
        let text = std::str::from_utf8(&buf).expect("UTF-8 output");
        text.lines().map(str::to_string).collect()
    }

    pub fn json(&self) -> Vec<serde_json::Map<String, serde_json::Value>> {
        self.lines()
            .iter()
            .map(|l| match serde_json::from_str(l) {
                Ok(serde_json::Value::Object(m)) => m,
                other => panic!("not a JSON object: {l:?} ({other:?})"),
            })
            .collect()
    }
}

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// A minimal HTTP/1.1 GET over a real socket: (status, content type, body).
pub fn http_get(
    addr: std::net::SocketAddr,
    path: &str,
    accept: Option<&str>,
) -> (u16, String, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(a) = accept {
        req.push_str(&format!("Accept: {a}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("UTF-8 response");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP response");
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default();
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, content_type, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n").expect("chunk size");
        let size = usize::from_str_radix(size.trim(), 16).expect("hex chunk size");
        if size == 0 {
            return out;
        }
        out.push_str(&rest[..size]);
        body = &rest[size + 2..];
    }
}

/// The path of an external tool, or `None` with a printed notice (tests then skip). Under
/// `CI=true` a missing tool fails the test instead.
pub fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{name} is required under CI=true but is not installed (apt-get install -y prometheus)");
        }
        eprintln!(
            "SKIPPED: {name} is not installed (apt-get install -y prometheus); skipping this test"
        );
    }
    found
}

/// A fresh, empty directory under the system temp dir, removed on drop.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("watchpost-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `promtool check metrics` on an exposition; `None` (with a notice) when promtool is
/// missing outside CI. Returns promtool's combined report and whether it exited 0.
pub fn promtool_check(text: &str) -> Option<(bool, String)> {
    use std::io::Write;
    let promtool = tool("promtool")?;
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some((out.status.success(), report))
}

/// A pipeline of service `svc` with per-resource logs of kind `instance` (`instance_id`) under
/// `dir`, after `tweak` adjusts the resource-log settings; log lines go to `writer`.
pub fn resource_pipeline<W>(
    dir: &std::path::Path,
    tweak: impl FnOnce(&mut watchpost::logs::ResourceLogConfig),
    writer: W,
) -> (watchpost::Telemetry, tracing::Dispatch)
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let mut rl = watchpost::logs::ResourceLogConfig::new(dir).kind("instance", "instance_id");
    tweak(&mut rl);
    let config = watchpost::Config::builder("svc")
        .resource_logs(rl)
        .build()
        .unwrap();
    watchpost::Telemetry::builder(config)
        .writer(writer)
        .into_dispatch()
}
