//! `--telemetry floor`: the least procman could pay for the per-request signals the standard asks
//! for, written by hand for this one service. It exists only as the lower bound of the overhead
//! benchmark (issue 10's "how far can the tax go down"), like `common` is its peer; it is not a way
//! to run procman.
//!
//! Per request: a trace id and span id (random), a request id, the `x-request-id` response
//! header, one duration histogram (atomic buckets), and one JSON access line with the fields of
//! Watchpost's — encoded by a writer specialised for exactly these fields into a thread-local
//! buffer, appended to a shared buffer under a lock, written to stdout by a thread every 10 ms.
//!
//! What it leaves out, and Watchpost pays for: a span (so the handler's own lines get no request
//! context, there are no traces and no tail sampling), `traceparent` propagation, per-subsystem
//! levels, redaction and truncation, the per-instance copy of the line, labelled OpenTelemetry
//! instruments and their exposition, exemplars, drop counters beyond one, graceful shutdown of the
//! writer beyond a last flush.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::io::Write as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::HttpBody as _;
use axum::extract::{ConnectInfo, MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;

/// Lines waiting beyond this many bytes are dropped (and counted): the buffer is bounded.
const MAX_PENDING: usize = 8 << 20;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The route whose second path segment procman's line carries as `instance_id`.
const INSTANCE_ROUTE: &str = "/instances/{id}";

/// Histogram bounds in microseconds (the usual 5 ms … 10 s).
const BOUNDS_US: [u64; 11] = [
    5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];

struct Shared {
    pending: Mutex<Vec<u8>>,
    dropped: AtomicU64,
    stop: AtomicBool,
    /// The histogram: recorded, never read. The floor measures what recording costs a request;
    /// exposition is per scrape, not per request.
    buckets: [AtomicU64; BOUNDS_US.len() + 1],
    sum_us: AtomicU64,
}

/// The running floor: its writer thread.
pub struct Floor {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

/// Starts the writer thread.
pub fn init() -> Result<Floor, String> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Vec::with_capacity(1 << 20)),
        dropped: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        buckets: Default::default(),
        sum_us: AtomicU64::new(0),
    });
    let s = shared.clone();
    let writer = std::thread::Builder::new()
        .name("floor-writer".into())
        .spawn(move || {
            let mut spare = Vec::with_capacity(1 << 20);
            loop {
                let stop = s.stop.load(Ordering::Acquire);
                std::mem::swap(&mut *s.pending.lock().unwrap(), &mut spare);
                if !spare.is_empty() {
                    let _ = std::io::stdout().lock().write_all(&spare);
                    spare.clear();
                }
                if stop {
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .map_err(|e| format!("cannot start the floor writer: {e}"))?;
    Ok(Floor {
        shared,
        writer: Some(writer),
    })
}

impl Floor {
    /// The layer for the API router.
    pub fn layer(&self) -> FloorLayer {
        FloorLayer(self.shared.clone())
    }

    /// Writes what is pending and stops the writer.
    pub fn shutdown(mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let dropped = self.shared.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            eprintln!("procman: the floor writer dropped {dropped} lines");
        }
    }
}

#[derive(Clone)]
pub struct FloorLayer(Arc<Shared>);

impl<S> tower::Layer<S> for FloorLayer {
    type Service = FloorService<S>;
    fn layer(&self, inner: S) -> FloorService<S> {
        FloorService {
            inner,
            shared: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct FloorService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> tower::Service<Request> for FloorService<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = FloorFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let start = Instant::now();
        let method = req.method().clone();
        let route = req.extensions().get::<MatchedPath>().cloned();
        // procman's line names the instance of `/instances/{id}…` (its `record_resource`).
        let instance = route
            .as_ref()
            .filter(|r| r.as_str().starts_with(INSTANCE_ROUTE))
            .and_then(|_| Instance::from_path(req.uri().path()));
        let remote = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        FloorFuture {
            inner: self.inner.call(req),
            start,
            method,
            route,
            remote,
            instance,
            shared: self.shared.clone(),
        }
    }
}

pin_project_lite::pin_project! {
    pub struct FloorFuture<F> {
        #[pin]
        inner: F,
        start: Instant,
        method: Method,
        route: Option<MatchedPath>,
        remote: Option<SocketAddr>,
        instance: Option<Instance>,
        shared: Arc<Shared>,
    }
}

/// An instance id taken from the path, valid as Watchpost's resource logs judge ids
/// ([`watchpost::config::valid_id`]); procman's are 12 hex digits, up to 32 bytes are kept.
#[derive(Clone, Copy)]
struct Instance([u8; 32], u8);

impl Instance {
    fn from_path(path: &str) -> Option<Instance> {
        let id = path.strip_prefix("/instances/")?.split('/').next()?;
        if id.len() > 32 || !watchpost::config::valid_id(id) {
            return None;
        }
        let mut buf = [0u8; 32];
        buf[..id.len()].copy_from_slice(id.as_bytes());
        Some(Instance(buf, id.len() as u8))
    }
}

impl<F, E> Future for FloorFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut out = std::task::ready!(this.inner.poll(cx));
        if let Ok(resp) = &mut out {
            let (trace, span, request) = (random(), random64(), random());
            let mut hex = [0u8; 32];
            hex_into(&mut hex, &request.to_be_bytes());
            if let Ok(v) = HeaderValue::from_bytes(&hex) {
                resp.headers_mut().insert(X_REQUEST_ID.clone(), v);
            }
            let micros = this.start.elapsed().as_micros() as u64;
            let s = &**this.shared;
            let b = BOUNDS_US.partition_point(|&b| b < micros);
            s.buckets[b].fetch_add(1, Ordering::Relaxed);
            s.sum_us.fetch_add(micros, Ordering::Relaxed);
            let line = Line {
                status: resp.status().as_u16(),
                bytes: resp.body().size_hint().exact().unwrap_or(0),
                micros,
                method: this.method.as_str(),
                path: this
                    .route
                    .as_ref()
                    .map_or(watchpost::http::UNMATCHED, MatchedPath::as_str),
                remote: *this.remote,
                trace,
                span,
                request_hex: &hex,
                // procman records the instance once its handler found it: a success.
                instance: this
                    .instance
                    .as_ref()
                    .filter(|_| resp.status().is_success())
                    .map(|i| &i.0[..usize::from(i.1)]),
            };
            LINE.with_borrow_mut(|buf| {
                buf.clear();
                line.encode(buf);
                let mut pending = s.pending.lock().unwrap();
                if pending.len() + buf.len() > MAX_PENDING {
                    s.dropped.fetch_add(1, Ordering::Relaxed);
                } else {
                    pending.extend_from_slice(buf);
                }
            });
        }
        Poll::Ready(out)
    }
}

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(1024));
    static RNG: Cell<u64> = Cell::new({
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u8(0);
        h.finish() | 1
    });
}

/// 64 random bits (xorshift64*, seeded per thread): ids, not secrets.
fn random64() -> u64 {
    RNG.with(|r| {
        let mut x = r.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        r.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

fn random() -> u128 {
    (u128::from(random64()) << 64) | u128::from(random64())
}

struct Line<'a> {
    status: u16,
    bytes: u64,
    micros: u64,
    method: &'a str,
    path: &'a str,
    remote: Option<SocketAddr>,
    trace: u128,
    span: u64,
    request_hex: &'a [u8; 32],
    instance: Option<&'a [u8]>,
}

impl Line<'_> {
    fn encode(&self, out: &mut Vec<u8>) {
        let failed = self.status >= 500;
        out.extend_from_slice(b"{\"time\":\"");
        rfc3339_micros(out, SystemTime::now());
        out.extend_from_slice(if failed {
            b"\",\"level\":\"WARN\",\"msg\":\"request failed\""
        } else {
            b"\",\"level\":\"INFO\",\"msg\":\"request handled\""
        });
        out.extend_from_slice(
            b",\"subsystem\":\"API\",\"service\":\"procman\",\"version\":\"0.1.0\",\
              \"environment\":\"unset\",\"trace_id\":\"",
        );
        let mut hex = [0u8; 32];
        hex_into(&mut hex, &self.trace.to_be_bytes());
        out.extend_from_slice(&hex);
        out.extend_from_slice(b"\",\"span_id\":\"");
        hex_into(&mut hex[..16], &self.span.to_be_bytes());
        out.extend_from_slice(&hex[..16]);
        out.extend_from_slice(b"\",\"method\":");
        string_into(out, self.method);
        out.extend_from_slice(b",\"path\":");
        string_into(out, self.path);
        out.extend_from_slice(b",\"status\":");
        int_into(out, u64::from(self.status));
        out.extend_from_slice(b",\"bytes\":");
        int_into(out, self.bytes);
        out.extend_from_slice(b",\"duration_ms\":");
        int_into(out, self.micros / 1000);
        out.push(b'.');
        digits(out, self.micros % 1000, 3);
        if let Some(addr) = self.remote {
            out.extend_from_slice(b",\"remote_addr\":\"");
            match addr {
                SocketAddr::V4(a) => {
                    for (i, o) in a.ip().octets().iter().enumerate() {
                        if i > 0 {
                            out.push(b'.');
                        }
                        int_into(out, u64::from(*o));
                    }
                    out.push(b':');
                    int_into(out, u64::from(a.port()));
                }
                SocketAddr::V6(a) => {
                    let _ = write!(out, "{a}");
                }
            }
            out.push(b'"');
        }
        out.extend_from_slice(b",\"request_id\":\"");
        out.extend_from_slice(self.request_hex);
        out.extend_from_slice(b"\",\"complete\":true");
        if let Some(id) = self.instance {
            out.extend_from_slice(b",\"instance_id\":\"");
            out.extend_from_slice(id);
            out.push(b'"');
        }
        out.extend_from_slice(b"}\n");
    }
}

/// `s` as a JSON string.
fn string_into(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
        return;
    }
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0..0x20 => {
                let _ = write!(out, "\\u{b:04x}");
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

fn hex_into(out: &mut [u8], bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, b) in bytes.iter().enumerate().take(out.len() / 2) {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 15)];
    }
}

fn int_into(out: &mut Vec<u8>, mut v: u64) {
    let mut b = [0u8; 20];
    let mut i = b.len();
    loop {
        i -= 1;
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&b[i..]);
}

/// `v` in exactly `n` digits, zero-padded.
fn digits(out: &mut Vec<u8>, mut v: u64, n: usize) {
    let mut b = [b'0'; 6];
    for i in (0..n).rev() {
        b[i] = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend_from_slice(&b[..n]);
}

/// `2026-12-01T14:39:17.490327Z` (days to a civil date: Howard Hinnant's algorithm).
fn rfc3339_micros(out: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let sod = secs % 86_400;
    digits(out, year as u64, 4);
    out.push(b'-');
    digits(out, month as u64, 2);
    out.push(b'-');
    digits(out, day as u64, 2);
    out.push(b'T');
    digits(out, sod / 3600, 2);
    out.push(b':');
    digits(out, sod / 60 % 60, 2);
    out.push(b':');
    digits(out, sod % 60, 2);
    out.push(b'.');
    digits(out, u64::from(d.subsec_micros()), 6);
    out.push(b'Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_line_is_json_with_the_access_line_fields() {
        let line = Line {
            status: 503,
            bytes: 108,
            micros: 1_234_005,
            method: "GET",
            path: "/instances/{id}\"",
            remote: Some("127.0.0.1:56442".parse().unwrap()),
            trace: 0x0102,
            span: 0xff,
            request_hex: b"0123456789abcdef0123456789abcdef",
            instance: Some(b"d3f9ed7d0f85"),
        };
        let mut out = Vec::new();
        line.encode(&mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["msg"], "request failed");
        assert_eq!(v["trace_id"], "00000000000000000000000000000102");
        assert_eq!(v["span_id"], "00000000000000ff");
        assert_eq!(v["path"], "/instances/{id}\"");
        assert_eq!(v["status"], 503);
        assert_eq!(v["duration_ms"], 1234.005);
        assert_eq!(v["remote_addr"], "127.0.0.1:56442");
        assert_eq!(v["request_id"], "0123456789abcdef0123456789abcdef");
        assert_eq!(v["instance_id"], "d3f9ed7d0f85");
        assert_eq!(
            v.as_object().unwrap().len(),
            18,
            "the fields of Watchpost's line"
        );
    }

    #[test]
    fn floor_timestamps_are_the_civil_date() {
        let mut out = Vec::new();
        // 2026-12-01T14:39:17.490327Z and a leap day.
        rfc3339_micros(
            &mut out,
            UNIX_EPOCH + Duration::from_micros(1_796_135_957_490_327),
        );
        assert_eq!(out, b"2026-12-01T14:39:17.490327Z");
        out.clear();
        rfc3339_micros(&mut out, UNIX_EPOCH + Duration::from_secs(951_782_400));
        assert_eq!(out, b"2000-02-29T00:00:00.000000Z");
    }
}
