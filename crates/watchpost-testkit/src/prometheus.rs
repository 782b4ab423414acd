//! A real Prometheus server for end-to-end tests: started on a free loopback port with a given
//! configuration, queried over its HTTP API, killed on drop.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::http;

/// A running Prometheus (killed when dropped).
pub struct Prometheus {
    /// Its HTTP API.
    pub addr: SocketAddr,
    child: Child,
}

impl Prometheus {
    /// Starts `binary` with `config` (YAML) written into `dir`, its TSDB in `dir/data`; waits
    /// until it answers (60 s at most). `extra` arguments are passed on (e.g. feature flags).
    pub fn start(binary: &Path, dir: &Path, config: &str, extra: &[&str]) -> Prometheus {
        let file = dir.join("prometheus.yml");
        std::fs::write(&file, config).expect("write prometheus.yml");
        let addr: SocketAddr = format!("127.0.0.1:{}", crate::process::free_port())
            .parse()
            .expect("address");
        let child = Command::new(binary)
            .arg(format!("--config.file={}", file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus");
        let p = Prometheus { addr, child };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !(std::net::TcpStream::connect(p.addr).is_ok()
            && http::get(p.addr, "/-/ready", None).0 == 200)
        {
            assert!(Instant::now() < deadline, "prometheus did not become ready");
            std::thread::sleep(Duration::from_millis(200));
        }
        p
    }

    /// An instant query: the result vector (`data.result`), panicking on an API error.
    pub fn query(&self, q: &str) -> Vec<serde_json::Value> {
        let (status, _, body) = http::get(
            self.addr,
            &format!("/api/v1/query?query={}", encode(q)),
            None,
        );
        assert_eq!(status, 200, "{q}: {body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON from the query API");
        v["data"]["result"].as_array().cloned().unwrap_or_default()
    }

    /// A GET on the API (e.g. `/api/v1/rules`), parsed.
    pub fn api(&self, path: &str) -> serde_json::Value {
        let (status, _, body) = http::get(self.addr, path, None);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).expect("JSON from the API")
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes a query parameter.
pub fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
