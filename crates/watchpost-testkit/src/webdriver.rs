//! A real browser for tests: headless Chromium driven by `chromedriver` over WebDriver (the W3C
//! protocol: JSON over HTTP), spoken with a few lines of HTTP/1.1 on a std socket — no client
//! library. Screenshots are saved as PNG files.
//!
//! [`Browser::start`] returns `None` (with a notice) when `chromium` or `chromedriver` is missing,
//! except under `CI=true`, where it panics (Debian: `apt-get install -y chromium chromium-driver`).
//!
//! ```no_run
//! let Some(browser) = watchpost_testkit::webdriver::Browser::start() else { return };
//! browser.goto("http://127.0.0.1:18888/traces");
//! let rows = browser.find_all("tr.trace-row");
//! println!("{} traces, first: {}", rows.len(), browser.text(&rows[0]));
//! browser.screenshot(std::path::Path::new("target/traces.png"));
//! ```

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The key WebDriver names element references with.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A WebDriver session in a headless Chromium; ended (and the driver stopped) on drop.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
}

/// An element reference of the current page.
#[derive(Debug, Clone)]
pub struct Element(pub String);

fn find(names: &[&str]) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

/// One HTTP/1.1 exchange with the driver: (status, JSON body).
fn exchange(addr: SocketAddr, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).expect("connect to chromedriver");
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let body = body.map(Value::to_string).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    // chromedriver keeps the connection open whatever the request says: read the head, then
    // Content-Length bytes (or chunks up to the last one).
    let mut raw = Vec::new();
    let mut buf = [0u8; 65536];
    let split = loop {
        if let Some(p) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        let n = s.read(&mut buf).expect("an answer from chromedriver");
        assert!(n > 0, "chromedriver closed the connection mid-answer");
        raw.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let lower = head.to_ascii_lowercase();
    let length = lower.lines().find_map(|l| {
        l.strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    let chunked = lower.contains("transfer-encoding: chunked");
    let mut body = raw[split + 4..].to_vec();
    loop {
        let complete = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.windows(5).any(|w| w == b"0\r\n\r\n"),
            None => false,
        };
        if complete {
            break;
        }
        let n = s.read(&mut buf).expect("an answer from chromedriver");
        if n == 0 {
            break;
        }
        body.extend_from_slice(&buf[..n]);
    }
    if chunked {
        body = dechunk(&body);
    }
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, value)
}

fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = body.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&body[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&body[end + 2..end + 2 + size]);
        body = &body[end + 2 + size + 2..];
    }
    out
}

/// Decodes standard base64 (screenshots).
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for v in text.bytes().filter_map(value) {
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}

impl Browser {
    /// Starts `chromedriver` on a free port and a headless Chromium session (1400×1000), or
    /// `None` with a notice when either program is missing (a panic under `CI=true`).
    pub fn start() -> Option<Browser> {
        let driver = find(&["chromedriver"]);
        let chromium = find(&["chromium", "chromium-browser", "google-chrome"]);
        let (Some(driver), Some(chromium)) = (driver, chromium) else {
            let hint = "apt-get install -y chromium chromium-driver";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("chromium and chromedriver are required under CI=true ({hint})");
            }
            eprintln!(
                "SKIPPED: chromium or chromedriver is not installed ({hint}); skipping this test"
            );
            return None;
        };
        let port = crate::process::free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if TcpStream::connect(addr).is_ok() {
                let (_, status) = exchange(addr, "GET", "/status", None);
                if status["value"]["ready"] == true {
                    break;
                }
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let mut browser = Browser {
            driver: child,
            addr,
            session: String::new(),
        };
        let (status, answer) = exchange(
            addr,
            "POST",
            "/session",
            Some(&json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": chromium,
                    "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                             "--disable-dev-shm-usage", "--window-size=1400,1000",
                             "--force-device-scale-factor=1"]
                }
            }}})),
        );
        assert_eq!(status, 200, "chromedriver refused the session: {answer}");
        browser.session = answer["value"]["sessionId"]
            .as_str()
            .expect("a session id")
            .to_owned();
        Some(browser)
    }

    /// A WebDriver command of this session; panics on an error answer, naming it.
    pub fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let (status, answer) = exchange(self.addr, method, &path, body.as_ref());
        assert_eq!(status, 200, "{method} {path}: {answer}");
        answer["value"].clone()
    }

    /// Opens `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({ "url": url })));
    }

    /// The current page's URL.
    pub fn url(&self) -> String {
        self.command("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The elements matching a CSS selector, in document order.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        self.command(
            "POST",
            "/elements",
            Some(json!({ "using": "css selector", "value": css })),
        )
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e[ELEMENT].as_str().map(|s| Element(s.to_owned())))
                .collect()
        })
        .unwrap_or_default()
    }

    /// The first element matching `css`; panics naming the selector if there is none.
    pub fn find(&self, css: &str) -> Element {
        self.find_all(css)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no element matches '{css}' on {}", self.url()))
    }

    /// An element's attribute (or property), if set.
    pub fn attr(&self, e: &Element, name: &str) -> Option<String> {
        self.command("GET", &format!("/element/{}/attribute/{name}", e.0), None)
            .as_str()
            .map(str::to_owned)
    }

    /// An element's rendered text.
    pub fn text(&self, e: &Element) -> String {
        self.command("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Clicks an element.
    pub fn click(&self, e: &Element) {
        self.command("POST", &format!("/element/{}/click", e.0), Some(json!({})));
    }

    /// Types `text` into an element.
    pub fn type_into(&self, e: &Element, text: &str) {
        self.command(
            "POST",
            &format!("/element/{}/value", e.0),
            Some(json!({ "text": text })),
        );
    }

    /// Runs a script in the page (`arguments` are `args`) and returns its result.
    pub fn script(&self, script: &str, args: Vec<Value>) -> Value {
        self.command(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Waits (up to 10 s) until `done` is true, polling every 100 ms; panics naming `what`.
    pub fn wait_for(&self, what: &str, done: impl Fn(&Browser) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(self) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what} on {}",
                self.url()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves a screenshot of the window as a PNG file (directories created).
    pub fn screenshot(&self, path: &Path) {
        let png = base64(
            self.command("GET", "/screenshot", None)
                .as_str()
                .unwrap_or_default(),
        );
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is not a PNG");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                exchange(
                    self.addr,
                    "DELETE",
                    &format!("/session/{}", self.session),
                    None,
                )
            }));
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_decodes_the_standard_alphabet() {
        assert_eq!(super::base64("aGVsbG8gd29ybGQ="), b"hello world");
        assert_eq!(super::base64("iVBORw=="), b"\x89PNG");
    }
}
