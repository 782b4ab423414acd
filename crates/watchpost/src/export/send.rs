//! Sends an encoded OTLP request (spans or log records, `encode_*.rs`) to the collector and
//! reads its answer, as opentelemetry-otlp's exporters do: over gRPC (`grpc_raw.rs`, tonic's
//! channel) or as an OTLP/HTTP `POST` of `application/x-protobuf` through our hyper client
//! (`http_client.rs`), gzipped when the target says so; retried with the same policy and the
//! same classification of failures (three retries, exponential backoff from 100 ms to 1.6 s
//! with up to 100 ms of jitter, within the export's budget; HTTP 429/502/503/504 and network
//! errors, gRPC UNAVAILABLE, CANCELLED, DEADLINE_EXCEEDED, ABORTED, OUT_OF_RANGE and DATA_LOSS
//! retried, a server's `Retry-After` (seconds) or `RetryInfo` honoured, capped at 30 s); the
//! answer's `partial_success` read for the number of items the collector rejected.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use opentelemetry_http::HttpClient;

use super::encode::{Field, Fields};
use super::grpc_raw::GrpcRaw;

/// How one signal's requests go.
#[derive(Debug)]
pub(super) enum Transport {
    Grpc(GrpcRaw),
    Http {
        client: Arc<dyn HttpClient>,
        url: http::Uri,
        gzip: bool,
    },
}

/// One signal's sender: its transport, and until when its collector asked not to be sent to.
///
/// Several exports of a signal may be in flight at once (`worker.rs`); when the collector
/// throttles one of them (`RetryInfo`, `Retry-After`), that export waits and retries as asked,
/// and [`RawExporter::held_until`] tells the worker to start no new export of the signal before
/// the wait is over — the others in flight are not stopped (they were sent already).
#[derive(Debug)]
pub(super) struct RawExporter {
    transport: Transport,
    /// The end of the longest wait a collector asked for so far (the export thread's only:
    /// a `Cell`).
    hold: std::cell::Cell<Option<Instant>>,
}

impl From<Transport> for RawExporter {
    fn from(transport: Transport) -> Self {
        Self {
            transport,
            hold: std::cell::Cell::new(None),
        }
    }
}

/// What a collector accepted: how many items it rejected (its `partial_success`), and why.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Accepted {
    pub(super) rejected: u64,
    pub(super) message: String,
}

/// A failed attempt: what to say, and whether (and when) to try again.
#[derive(Debug)]
struct Failure {
    message: String,
    retry: Retry,
}

#[derive(Debug, PartialEq)]
enum Retry {
    No,
    Backoff,
    /// The server asked to wait this long (`Retry-After`, `RetryInfo`).
    After(Duration),
}

const MAX_RETRIES: usize = 3;
const INITIAL_DELAY: Duration = Duration::from_millis(100);
const MAX_DELAY: Duration = Duration::from_millis(1600);
const MAX_JITTER_MS: u32 = 100;
/// The longest a server's throttling hint may hold the export thread.
const MAX_THROTTLE: Duration = Duration::from_secs(30);

impl RawExporter {
    /// The body of a request carrying `encoded` (an encoded `Export…ServiceRequest`): gzipped
    /// for OTLP/HTTP when the target says so (over gRPC, tonic compresses the message).
    pub(super) fn body(&self, encoded: &[u8]) -> Result<Bytes, String> {
        match &self.transport {
            Transport::Http { gzip: true, .. } => Ok(Bytes::from(gzip_bytes(encoded)?)),
            _ => Ok(Bytes::copy_from_slice(encoded)),
        }
    }

    /// Until when no new export should start: the collector asked to wait that long (`None`
    /// once the wait is over).
    pub(super) fn held_until(&self) -> Option<Instant> {
        self.held_at(Instant::now())
    }

    /// [`RawExporter::held_until`] as of `now`.
    pub(super) fn held_at(&self, now: Instant) -> Option<Instant> {
        self.hold.get().filter(|&until| until > now)
    }

    /// Sends `body` (from [`RawExporter::body`]), retrying within `budget`.
    pub(super) async fn export(&self, body: Bytes, budget: Duration) -> Result<Accepted, String> {
        let answer = match &self.transport {
            Transport::Grpc(grpc) => {
                retry(budget, &self.hold, || async {
                    grpc.export(body.clone()).await.map_err(grpc_failure)
                })
                .await?
            }
            Transport::Http { client, url, gzip } => {
                let encoding = gzip.then_some("gzip");
                retry(budget, &self.hold, || {
                    http_once(&**client, url, body.clone(), encoding)
                })
                .await?
            }
        };
        Ok(partial_success(&answer))
    }
}

/// Runs `attempt` until it succeeds, fails for good, runs out of retries or of `budget`. A wait
/// the server asked for is also recorded in `hold` (no new export before it is over).
async fn retry<F, Fut>(
    budget: Duration,
    hold: &std::cell::Cell<Option<Instant>>,
    mut attempt: F,
) -> Result<Bytes, String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Bytes, Failure>>,
{
    let start = Instant::now();
    let mut retries = 0;
    let mut delay = INITIAL_DELAY;
    let mut cap = MAX_DELAY;
    loop {
        let failure = match attempt().await {
            Ok(answer) => return Ok(answer),
            Err(f) => f,
        };
        if let Retry::After(asked) = failure.retry {
            // No new export before the wait the collector asked for (capped at
            // `MAX_THROTTLE`) is over, whether or not this one retries.
            let until = Instant::now() + asked.min(MAX_THROTTLE);
            hold.set(Some(hold.get().map_or(until, |h| h.max(until))));
        }
        if retries >= MAX_RETRIES || start.elapsed() >= budget {
            return Err(failure.message);
        }
        match failure.retry {
            Retry::No => return Err(failure.message),
            Retry::Backoff => {}
            Retry::After(asked) => {
                let asked = asked.min(MAX_THROTTLE);
                if asked > cap {
                    cap = MAX_THROTTLE;
                }
                delay = delay.max(asked);
            }
        }
        retries += 1;
        let sleep = (delay + jitter()).min(cap);
        if sleep >= budget.saturating_sub(start.elapsed()) {
            return Err(failure.message);
        }
        tokio::time::sleep(sleep).await;
        delay = (delay * 2).min(cap);
    }
}

/// Up to [`MAX_JITTER_MS`] milliseconds, from the clock's nanoseconds.
fn jitter() -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    Duration::from_millis(u64::from(nanos % (MAX_JITTER_MS + 1)))
}

/// One OTLP/HTTP request: the answer's body, or why it failed.
async fn http_once(
    client: &dyn HttpClient,
    url: &http::Uri,
    body: Bytes,
    encoding: Option<&'static str>,
) -> Result<Bytes, Failure> {
    let mut request = http::Request::builder()
        .method(http::Method::POST)
        .uri(url.clone())
        .header(http::header::CONTENT_TYPE, "application/x-protobuf");
    if let Some(encoding) = encoding {
        request = request.header(http::header::CONTENT_ENCODING, encoding);
    }
    let request = request.body(body).map_err(|e| Failure {
        message: format!("cannot build the HTTP request: {e}"),
        retry: Retry::No,
    })?;
    let response = client.send_bytes(request).await.map_err(|e| {
        if e.downcast_ref::<opentelemetry_http::ResponseBodyTooLarge>()
            .is_some()
        {
            Failure {
                message: e.to_string(),
                retry: Retry::No,
            }
        } else {
            Failure {
                message: format!("HTTP export failed: network error: {e}"),
                retry: Retry::Backoff,
            }
        }
    })?;
    let status = response.status().as_u16();
    if response.status().is_success() {
        return Ok(response.into_body());
    }
    let retry = match status {
        429 | 503 => response
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map_or(Retry::Backoff, |s| {
                Retry::After(Duration::from_secs(s.min(600)))
            }),
        502 | 504 => Retry::Backoff,
        _ => Retry::No,
    };
    Err(Failure {
        message: format!("HTTP export failed with status code: {status}"),
        retry,
    })
}

/// A failed gRPC call: its code (and the error under it), and whether to retry.
fn grpc_failure(status: tonic::Status) -> Failure {
    use tonic::Code;
    let delay = retry_info(status.details());
    let retry = match status.code() {
        Code::ResourceExhausted => delay.map_or(Retry::No, Retry::After),
        Code::Unavailable => delay
            .filter(|d| !d.is_zero())
            .map_or(Retry::Backoff, Retry::After),
        Code::Cancelled
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::OutOfRange
        | Code::DataLoss => Retry::Backoff,
        _ => Retry::No,
    };
    let mut message = format!("export failed with gRPC code: {:?}", status.code());
    let mut source = std::error::Error::source(&status);
    if source.is_none() && !status.message().is_empty() {
        message.push_str(": ");
        message.push_str(status.message());
    }
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    Failure { message, retry }
}

/// The delay of a `google.rpc.RetryInfo` among a gRPC status's details (an encoded
/// `google.rpc.Status`: details = 3, each an `Any` with type_url = 1 and value = 2; RetryInfo's
/// retry_delay = 1 is a `Duration`, seconds = 1 and nanos = 2), capped at 10 minutes.
fn retry_info(details: &[u8]) -> Option<Duration> {
    for (field, value) in Fields::new(details) {
        let (3, Field::Bytes(any)) = (field, value) else {
            continue;
        };
        let mut type_url = &[][..];
        let mut inner = &[][..];
        for (f, v) in Fields::new(any) {
            match (f, v) {
                (1, Field::Bytes(b)) => type_url = b,
                (2, Field::Bytes(b)) => inner = b,
                _ => {}
            }
        }
        if !type_url.ends_with(b"google.rpc.RetryInfo") {
            continue;
        }
        let mut delay = Duration::ZERO;
        for (f, v) in Fields::new(inner) {
            if let (1, Field::Bytes(d)) = (f, v) {
                for (f, v) in Fields::new(d) {
                    match (f, v) {
                        (1, Field::Varint(s)) => delay += Duration::from_secs(s.min(600)),
                        (2, Field::Varint(n)) => delay += Duration::from_nanos(n % 1_000_000_000),
                        _ => {}
                    }
                }
            }
        }
        return Some(delay.min(Duration::from_secs(600)));
    }
    None
}

/// The `partial_success` (= 1) of an `Export…ServiceResponse`: rejected items (= 1) and the
/// message (= 2). An answer that cannot be read counts as a full success, as the SDK has it.
fn partial_success(answer: &[u8]) -> Accepted {
    let mut accepted = Accepted::default();
    for (field, value) in Fields::new(answer) {
        if let (1, Field::Bytes(p)) = (field, value) {
            for (f, v) in Fields::new(p) {
                match (f, v) {
                    (1, Field::Varint(n)) => accepted.rejected = n,
                    (2, Field::Bytes(m)) => {
                        accepted.message = String::from_utf8_lossy(m).into_owned();
                    }
                    _ => {}
                }
            }
        }
    }
    accepted
}

/// `body` gzipped.
fn gzip_bytes(body: &[u8]) -> Result<Vec<u8>, String> {
    use std::io::Write as _;
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::default(),
    );
    gz.write_all(body)
        .and_then(|()| gz.finish())
        .map_err(|e| format!("cannot gzip the request: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_success_is_read_from_the_answer() {
        // ExportTraceServiceResponse { partial_success { rejected_spans: 3, error_message: "x" } }
        let answer = [0x0a, 0x05, 0x08, 0x03, 0x12, 0x01, b'x'];
        assert_eq!(
            partial_success(&answer),
            Accepted {
                rejected: 3,
                message: "x".into()
            }
        );
        assert_eq!(partial_success(&[]), Accepted::default());
        assert_eq!(partial_success(&[0xff]), Accepted::default());
    }

    #[test]
    fn a_retry_info_delay_is_found_among_the_details() {
        // google.rpc.Status { code 8, details [Any { RetryInfo { retry_delay { 2 s, 5 ns } } }] }
        let url = b"type.googleapis.com/google.rpc.RetryInfo";
        let duration = [0x08, 0x02, 0x10, 0x05];
        let mut info = vec![0x0a, duration.len() as u8];
        info.extend_from_slice(&duration);
        let mut any = vec![0x0a, url.len() as u8];
        any.extend_from_slice(url);
        any.extend_from_slice(&[0x12, info.len() as u8]);
        any.extend_from_slice(&info);
        let mut status = vec![0x08, 0x08, 0x1a, any.len() as u8];
        status.extend_from_slice(&any);
        assert_eq!(retry_info(&status), Some(Duration::new(2, 5)));
        assert_eq!(retry_info(&[0x08, 0x08]), None);
    }

    #[tokio::test]
    async fn retries_stop_at_the_limit_and_at_a_final_failure() {
        let mut tries = 0;
        let result = retry(Duration::from_secs(60), &Default::default(), || {
            tries += 1;
            async {
                Err::<Bytes, _>(Failure {
                    message: "down".into(),
                    retry: Retry::Backoff,
                })
            }
        })
        .await;
        assert_eq!(result, Err("down".to_string()));
        assert_eq!(tries, 1 + MAX_RETRIES);
        let mut tries = 0;
        let result = retry(Duration::from_secs(60), &Default::default(), || {
            tries += 1;
            async {
                Err::<Bytes, _>(Failure {
                    message: "refused".into(),
                    retry: Retry::No,
                })
            }
        })
        .await;
        assert_eq!(result, Err("refused".to_string()));
        assert_eq!(tries, 1);
    }
}
