//! The HTTP server layer: one span, one access log line and the golden-signal metrics per
//! request, for any axum router (a tower `Layer`).

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{HeaderValue, Method, Request, Response, StatusCode};
use futures_util::future::BoxFuture;
use futures_util::FutureExt as _;
use http_body::{Body as _, Frame};
use opentelemetry::metrics::Counter;
use tracing::Instrument as _;

use crate::catalogue::{self, targets};
use crate::staged::{self, AccessValues};

/// The `path` label of requests that matched no route (never the raw URL: it is unbounded).
pub const UNMATCHED: &str = "__unmatched__";

/// The target of the access log line ([`targets::HTTP_ACCESS`]). Its subsystem is that of
/// `watchpost::http` (longest prefix) or of the request span; the pipeline tells the trace
/// bridge to leave it out of the span's events, since the server span carries its data (as
/// attributes, and its duration) but the body size.
const ACCESS_LOG_TARGET: &str = targets::HTTP_ACCESS;

#[derive(Debug, Clone)]
struct ServerInstruments {
    duration: super::series::DurationSeries,
    /// The tail sampler's slow threshold (the server span is the local root).
    slow: std::time::Duration,
    /// W3C baggage keys copied into request context (`OTEL_BAGGAGE_FIELDS`).
    baggage_fields: Arc<[String]>,
    /// Request headers copied into the request context ([`HttpLayer::context_header`]).
    context_headers: Vec<(axum::http::HeaderName, String)>,
    /// Bound to its (empty) attribute set once: no attribute lookup per request.
    in_flight: opentelemetry::metrics::BoundUpDownCounter<i64>,
    panics: Counter<u64>,
    exclude: Vec<String>,
    /// Whether requests to the routes of [`metrics::router`](crate::metrics::router) (scrapes)
    /// pass through unmeasured (the default; [`HttpLayer::include_scrapes`] turns it off).
    skip_scrapes: bool,
    subsystem: String,
}

/// The routes [`metrics::router`](crate::metrics::router) serves: a request matched to one of
/// them is a scrape, which [`HttpLayer`] leaves alone unless told otherwise.
const SCRAPE_ROUTES: [&str; 2] = ["/metrics", "/metrics/catalogue"];

/// A tower layer that instruments an axum router (use `Router::layer`, so that the route
/// template — `MatchedPath` — is known):
///
/// * a server span `"{METHOD} {route}"` continuing the caller's `traceparent`, with the HTTP
///   semantic-convention attributes, status Error and `error.type` (the status code) on 5xx and
///   on panics;
/// * `<svc>_http_request_duration_seconds{method,path,status}` (the standard's buckets; its
///   `_count` counts requests) and `<svc>_http_requests_in_flight`; `path` is the route template, [`UNMATCHED`] for 404s;
/// * exactly one access log line per request (INFO, WARN for 5xx) with method, path, status,
///   bytes, duration, remote address, request id — and the trace id;
/// * `x-request-id` taken from the request (if sane) or generated, and returned;
/// * a panicking handler becomes a 500, logged once at ERROR and counted in
///   `<svc>_http_panics_total`: the line is the panic hook's
///   ([`Telemetry::install_panic_hook`](crate::Telemetry::install_panic_hook), with the
///   location, the backtrace and the request span's fields) when it wrote one, else the
///   layer's own (`"request handler panicked"`);
/// * streaming bodies (SSE) are measured until the body ends or the client goes away.
///
/// Three things a newcomer falls into:
///
/// * **`remote_addr` needs the connection's address.** Serve the router with
///   `app.into_make_service_with_connect_info::<std::net::SocketAddr>()`; with a plain
///   `axum::serve(listener, app)` the access line and the span have no client address.
/// * **Scrapes are not requests.** When [`metrics::router`](crate::metrics::router) is merged
///   into the application's router (before `.layer(HttpLayer…)`), requests matched to its routes
///   (`/metrics`, `/metrics/catalogue`) pass through without span, access line or metrics, so a
///   scrape every 15 seconds neither writes a line nor counts in the request histogram (and its
///   SLOs). [`include_scrapes`](Self::include_scrapes) measures them like any request. Serving
///   `/metrics` on its own listener ([`Telemetry::serve_metrics`](crate::Telemetry::serve_metrics))
///   keeps it off the application's port altogether.
/// * **The subsystem must be declared.** The request span's subsystem (default `API`, see
///   [`subsystem`](Self::subsystem)) names the level its lines follow only if the application
///   declares it (`Subsystem::new("API")`); otherwise the access line and the events inside the
///   request without a subsystem of their own are in the default subsystem (`APP`) and follow
///   `LOG_LEVEL`.
///
/// ```
/// # let config = watchpost::Config::builder("demo").subsystem(watchpost::Subsystem::new("API")).build().unwrap();
/// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
/// let app: axum::Router = axum::Router::new()
///     .route("/instances/{id}", axum::routing::get(|| async { "ok" }))
///     .merge(watchpost::metrics::router(telemetry.metrics().clone())) // scrapes: not logged
///     .layer(watchpost::http::HttpLayer::new(&telemetry).exclude("/healthz"));
/// // axum::serve(listener, app.into_make_service_with_connect_info::<std::net::SocketAddr>())
/// # drop(app);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a layer does nothing until it wraps a service"]
pub struct HttpLayer {
    shared: Arc<ServerInstruments>,
}

impl HttpLayer {
    /// A layer recording into `telemetry`'s metrics, logging in subsystem `API` if the
    /// application declares it (`Subsystem::new("API")`, e.g. with the target `watchpost::http`),
    /// else in the default subsystem (`APP`); see [`subsystem`](Self::subsystem). Scrapes of a
    /// merged [`metrics::router`](crate::metrics::router) are not measured (see
    /// [`include_scrapes`](Self::include_scrapes)).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let layer = watchpost::http::HttpLayer::new(&telemetry);
    /// # drop(layer);
    /// ```
    pub fn new(telemetry: &crate::Telemetry) -> Self {
        let metrics = telemetry.metrics();
        let shared = ServerInstruments {
            duration: super::series::DurationSeries::new(
                metrics.exemplar_histogram(&catalogue::HTTP_REQUEST_DURATION),
            ),
            slow: metrics.trace_slow(),
            baggage_fields: telemetry.baggage_fields(),
            context_headers: Vec::new(),
            in_flight: metrics
                .up_down_counter(&catalogue::HTTP_REQUESTS_IN_FLIGHT)
                .bind(&[]),
            panics: metrics.counter(&catalogue::HTTP_PANICS),
            exclude: Vec::new(),
            skip_scrapes: true,
            subsystem: "API".into(),
        };
        // The in-flight gauge and the panic counter exist from the start (0), not only after the
        // first request or panic: a dashboard or an alert on them sees 0, not "no data".
        shared.in_flight.add(0);
        shared.panics.add(0, &[]);
        Self {
            shared: Arc::new(shared),
        }
    }

    /// Serves `path` (an exact path, e.g. `/healthz`) without span, log or metrics.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let layer = watchpost::http::HttpLayer::new(&telemetry).exclude("/healthz");
    /// # drop(layer);
    /// ```
    pub fn exclude(mut self, path: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).exclude.push(path.into());
        self
    }

    /// Copies the request header `header` into the request's context as `field`
    /// ([`context::set_on`](crate::context::set_on)): every log line and span of the request
    /// carries it. A value is taken only if it is 1 to 64 visible ASCII characters (anything
    /// else — empty, longer, spaces, non-ASCII — is ignored: the header is the caller's input).
    /// The header is read before the handler runs, without a middleware of its own (an
    /// `axum::middleware::from_fn` doing the same costs a few thousand instructions per request).
    ///
    /// # Panics
    ///
    /// If `field` is not a valid context field name
    /// ([`valid_context_name`](crate::config::valid_context_name): 1 to 64 of `A-Z a-z 0-9 _ -`).
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// use axum::http::HeaderName;
    /// let layer = watchpost::http::HttpLayer::new(&telemetry)
    ///     .context_header(HeaderName::from_static("x-user-id"), "user_id");
    /// # drop(layer);
    /// ```
    pub fn context_header(mut self, header: axum::http::HeaderName, field: &str) -> Self {
        assert!(
            crate::config::valid_context_name(field),
            "HttpLayer::context_header: '{field}' is not a context field name (1 to 64 of A-Z a-z 0-9 _ -)"
        );
        Arc::make_mut(&mut self.shared)
            .context_headers
            .push((header, field.to_owned()));
        self
    }

    /// Measures, traces and logs requests to the routes of a merged
    /// [`metrics::router`](crate::metrics::router) (`/metrics`, `/metrics/catalogue`) like any
    /// other request. By default they pass through untouched: a scraper calls every few seconds,
    /// and an access line per scrape is noise in the log and in the request metrics.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let layer = watchpost::http::HttpLayer::new(&telemetry).include_scrapes();
    /// # drop(layer);
    /// ```
    pub fn include_scrapes(mut self) -> Self {
        Arc::make_mut(&mut self.shared).skip_scrapes = false;
        self
    }

    /// The subsystem of the request span (and so of the access log and of events without a
    /// subsystem of their own inside the request). Default: `API`. If the application did not
    /// declare that name (`ConfigBuilder::subsystem`), those lines are in the default subsystem
    /// (`APP`) and follow its level.
    ///
    /// ```
    /// # let config = watchpost::Config::builder("demo").build().unwrap();
    /// # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
    /// let layer = watchpost::http::HttpLayer::new(&telemetry).subsystem("FRONT");
    /// # drop(layer);
    /// ```
    pub fn subsystem(mut self, name: impl Into<String>) -> Self {
        Arc::make_mut(&mut self.shared).subsystem = name.into();
        self
    }
}

impl<S> tower::Layer<S> for HttpLayer {
    type Service = HttpService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        HttpService {
            inner,
            shared: self.shared.clone(),
        }
    }
}

/// The service made by [`HttpLayer`].
#[derive(Debug, Clone)]
#[must_use = "a service does nothing until it is called"]
pub struct HttpService<S> {
    inner: S,
    shared: Arc<ServerInstruments>,
}

/// `x-request-id`, parsed once (a `&str` name is parsed on every lookup and insert).
static X_REQUEST_ID: axum::http::HeaderName = axum::http::HeaderName::from_static("x-request-id");

/// The request's id: the caller's `x-request-id` if it is sane (1 to 128 of
/// `A-Z a-z 0-9 - _ . :`), shared with the request (no copy), else 32 random hex digits kept on
/// the stack until the response header is made. The log layer writes request ids unscanned, so a
/// caller's id that could hold a card number is masked here (with the default rules, whatever the
/// configuration) for the telemetry, and echoed unchanged in the response.
#[derive(Clone)]
enum RequestId {
    /// The caller's id, and its masked text when it could hold personal data.
    Given(HeaderValue, Option<Box<str>>),
    Made([u8; 32]),
}

impl RequestId {
    fn of(req: &Request<Body>) -> Self {
        let given = req.headers().get(&X_REQUEST_ID).filter(|v| {
            let b = v.as_bytes();
            !b.is_empty()
                && b.len() <= 128
                && b.iter()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
        });
        match given {
            Some(v) => {
                let masked = crate::redact::may_hold_personal_data(v.as_bytes()).then(|| {
                    let text = v.to_str().unwrap_or_default();
                    crate::redact::mask_with_defaults(text).into()
                });
                RequestId::Given(v.clone(), masked)
            }
            None => {
                let n = crate::traces::random_u64() as u128
                    | ((crate::traces::random_u64() as u128) << 64);
                let mut hex = [0u8; 32];
                for (i, b) in n.to_be_bytes().into_iter().enumerate() {
                    hex[2 * i] = HEX[usize::from(b >> 4)];
                    hex[2 * i + 1] = HEX[usize::from(b & 0xf)];
                }
                RequestId::Made(hex)
            }
        }
    }

    /// The id as the telemetry writes it (checked to be ASCII, masked, or generated as hex).
    fn as_str(&self) -> &str {
        match self {
            RequestId::Given(_, Some(masked)) => masked,
            RequestId::Given(v, None) => v.to_str().unwrap_or_default(),
            RequestId::Made(hex) => std::str::from_utf8(hex).unwrap_or_default(),
        }
    }

    /// The response's `x-request-id` header: the caller's own, as sent.
    fn header(&self) -> HeaderValue {
        match self {
            RequestId::Given(v, _) => v.clone(),
            // 32 lowercase hex digits: always a valid header value.
            RequestId::Made(hex) => {
                HeaderValue::from_bytes(hex).unwrap_or(HeaderValue::from_static("invalid"))
            }
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Whether a header value may become a context field: 1 to 64 visible ASCII characters.
fn context_value(v: &[u8]) -> bool {
    (1..=64).contains(&v.len()) && v.iter().all(u8::is_ascii_graphic)
}

impl<S> tower::Service<Request<Body>> for HttpService<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The service polled ready serves the request: its future is made here, before the
        // async block, so it does not borrow the service and no clone is needed (a boxed route's
        // clone is an allocation per request).
        let inner = &mut self.inner;
        let shared = self.shared.clone();
        if shared.skips(&req) {
            return Box::pin(inner.call(req));
        }
        let start = Instant::now();
        let method = req.method().clone();
        // The route as axum shares it between requests (no copy): for the span, the series
        // and the access line.
        let path = Route(req.extensions().get::<MatchedPath>().cloned());
        let remote = req
            .extensions()
            .get::<ConnectInfo<std::net::SocketAddr>>()
            .map(|c| super::addr::AddrText::new(c.0));
        let rid = RequestId::of(&req);
        // Every value known now is given at creation (an `Option` records nothing when `None`):
        // each later `record` is one more round through every layer.
        let span = request_span(
            &shared.subsystem,
            &method,
            &path,
            remote.as_ref(),
            rid.as_str(),
        );
        let cx = crate::traces::extract(req.headers());
        {
            use opentelemetry::baggage::BaggageExt as _;
            use opentelemetry::trace::TraceContextExt as _;
            // A caller without trace headers (the common case): nothing to continue.
            if cx.has_active_span() || !cx.baggage().is_empty() {
                crate::traces::set_parent(&span, &cx);
            }
        }
        if !shared.baggage_fields.is_empty() {
            use opentelemetry::baggage::BaggageExt as _;
            let baggage = cx.baggage();
            for key in shared.baggage_fields.iter() {
                if let Some(v) = baggage.get(key.as_str()) {
                    crate::context::set_on(&span, key, v.as_str());
                }
            }
        }
        for (header, field) in &shared.context_headers {
            if let Some(v) = req
                .headers()
                .get(header)
                .filter(|v| context_value(v.as_bytes()))
            {
                // Visible ASCII, checked: always UTF-8.
                crate::context::set_on(&span, field, v.to_str().unwrap_or_default());
            }
        }
        // The span's ids as the bridge made them (no lookup), for the exemplar.
        let ids = if shared.duration.wants_ids() {
            crate::traces::new_span_ids(&span)
        } else {
            None
        };
        shared.in_flight.add(1);
        let fut = inner.call(req);
        // The future holds the other handle (a clone is a round through every layer, and so is
        // each handle's drop).
        let fut = fut.instrument(span.clone());
        Box::pin(async move {
            let mut fut = std::pin::pin!(fut);
            // Cleared before each poll: after a panic, the mark says whether the panic hook
            // wrote the line of this poll's panic (one ERROR line per panic).
            let polled = std::future::poll_fn(|cx| {
                crate::internal::PanicLine::clear();
                std::future::Future::poll(fut.as_mut(), cx)
            });
            let result = AssertUnwindSafe(polled).catch_unwind().await;
            let span2 = fut.as_ref().get_ref().span();
            let mut response = match result {
                Ok(Ok(r)) => r,
                Ok(Err(never)) => match never {},
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "non-string panic payload".into());
                    shared.panics.add(1, &[]);
                    if !crate::internal::PanicLine::take() {
                        span2.in_scope(|| {
                            tracing::error!(target: crate::catalogue::targets::HTTP, panic = %msg, "request handler panicked")
                        });
                    }
                    let mut r = Response::new(Body::from(
                        "{\"error\":\"internal\",\"message\":\"internal error\"}\n",
                    ));
                    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    r.headers_mut().insert(
                        axum::http::header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    r
                }
            };
            response
                .headers_mut()
                .insert(X_REQUEST_ID.clone(), rid.header());
            let status = response.status();
            span2.record("http.response.status_code", status.as_u16());
            if status.is_server_error() {
                span2.record("otel.status_code", "ERROR");
                // The HTTP conventions: a 5xx's error type is its status code, as a string.
                span2.record("error.type", status.as_str());
            }
            let done = Completion {
                shared,
                span,
                start,
                method,
                path,
                status,
                remote,
                request_id: rid,
                bytes: 0,
                ids,
            };
            let (parts, body) = response.into_parts();
            Ok(Response::from_parts(
                parts,
                Body::new(Tracked {
                    inner: body,
                    done: Some(done),
                }),
            ))
        })
    }
}

/// The request span (its values known at the request's start), its values staged for the log
/// layer and the trace bridge to take typed (see [`staged`]).
fn request_span(
    subsystem: &str,
    method: &Method,
    path: &Route,
    remote: Option<&super::addr::AddrText>,
    rid: &str,
) -> tracing::Span {
    let _clear = staged::ClearOnDrop;
    request_span_visited(subsystem, method, path, remote, rid, true)
}

/// The request span; `stage`: its values staged first (tests make it both ways).
pub(super) fn request_span_visited(
    subsystem: &str,
    method: &Method,
    path: &Route,
    remote: Option<&super::addr::AddrText>,
    rid: &str,
    stage: bool,
) -> tracing::Span {
    let known = known_method(method);
    let method_original = (known == "_OTHER").then_some(method.as_str());
    let client_ip = remote.map(super::addr::AddrText::ip);
    let client_port = remote.map(super::addr::AddrText::port);
    if stage {
        staged::stage_span(&staged::SpanValues {
            subsystem,
            method: known,
            method_original,
            route: path.as_str(),
            client_ip,
            client_port,
            request_id: rid,
        });
    }
    tracing::info_span!(
        target: crate::catalogue::targets::HTTP,
        "request",
        otel.name = %format_args!("{known} {path}"),
        otel.kind = "server",
        otel.status_code = tracing::field::Empty,
        subsystem,
        http.request.method = known,
        http.request.method_original = method_original,
        http.route = path.as_str(),
        http.response.status_code = tracing::field::Empty,
        error.type = tracing::field::Empty,
        url.scheme = "http",
        // The HTTP conventions: the address without the port, and the port apart.
        client.address = client_ip,
        client.port = client_port,
        request_id = rid,
    )
}

impl ServerInstruments {
    /// Whether `req` passes through unmeasured: an excluded path, or a scrape.
    fn skips(&self, req: &Request<Body>) -> bool {
        self.exclude.iter().any(|p| p == req.uri().path())
            || (self.skip_scrapes
                && req
                    .extensions()
                    .get::<MatchedPath>()
                    .is_some_and(|m| SCRAPE_ROUTES.contains(&m.as_str())))
    }
}

/// Milliseconds to the microsecond (truncated): `5.604`, never `5.604445000000001`. The log
/// encoder writes the shortest decimal that reads back as the value, which for a whole number of
/// microseconds divided by 1000 has at most three decimals; no allocation, no formatting here.
fn millis(elapsed: std::time::Duration) -> f64 {
    elapsed.as_micros() as f64 / 1000.0
}

/// The method as metrics and span names see it: one of the standard methods, or `_OTHER` (the
/// OpenTelemetry HTTP conventions), so no request can create series or span names at will.
pub(crate) fn known_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// A status label without allocating for the common codes.
pub(super) fn status_label(status: u16) -> opentelemetry::Value {
    const KNOWN: [(u16, &str); 16] = [
        (200, "200"),
        (201, "201"),
        (202, "202"),
        (204, "204"),
        (301, "301"),
        (302, "302"),
        (304, "304"),
        (400, "400"),
        (401, "401"),
        (403, "403"),
        (404, "404"),
        (409, "409"),
        (422, "422"),
        (500, "500"),
        (503, "503"),
        (504, "504"),
    ];
    match KNOWN.iter().find(|(c, _)| *c == status) {
        Some((_, s)) => opentelemetry::Value::from(*s),
        None => opentelemetry::Value::from(status.to_string()),
    }
}

/// The route template of a request (axum's shared text), or [`UNMATCHED`].
pub(super) struct Route(pub(super) Option<MatchedPath>);

impl Route {
    fn as_str(&self) -> &str {
        self.0.as_ref().map_or(UNMATCHED, MatchedPath::as_str)
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is recorded when the response body ends (or the client goes away).
struct Completion {
    shared: Arc<ServerInstruments>,
    span: tracing::Span,
    start: Instant,
    method: Method,
    path: Route,
    status: StatusCode,
    remote: Option<super::addr::AddrText>,
    request_id: RequestId,
    bytes: u64,
    /// The span's ids, taken at its creation.
    ids: Option<crate::traces::SpanIds>,
}

impl Completion {
    fn finish(self, complete: bool) {
        let end = Instant::now();
        let elapsed = end.saturating_duration_since(self.start);
        let status = self.status.as_u16();
        // The exemplar points at this request's trace when it is exported: sampled, or kept by
        // the tail sampler anyway (an error, or a slow local root).
        let slow = elapsed >= self.shared.slow;
        if slow {
            // Kept by the tail sampler whatever else happened to the trace (even if the buffer
            // overflowed and the trace was decided before its root ended).
            crate::traces::mark_slow(&self.span);
        }
        let kept = self.status.is_server_error() || slow;
        self.shared.duration.record(
            elapsed.as_secs_f64(),
            known_method(&self.method),
            self.path.as_str(),
            status,
            &super::series::Request {
                span: &self.span,
                ids: self.ids,
                kept,
                end,
            },
        );
        self.shared.in_flight.add(-1);
        let duration_ms = millis(elapsed);
        // The method as sent (the log layer writes it unscanned, as the library's own): an
        // extension method is a token (letters, digits and ``!#$%&'*+-.^_`|~``), so one that
        // could hold a card number is written as `_OTHER`.
        let method = match known_method(&self.method) {
            "_OTHER" if crate::redact::may_hold_personal_data(self.method.as_str().as_bytes()) => {
                "_OTHER"
            }
            _ => self.method.as_str(),
        };
        let (path, request_id) = (self.path.as_str(), self.request_id.as_str());
        let remote = self.remote.as_ref().map(super::addr::AddrText::as_str);
        let access = AccessValues {
            method,
            path,
            status,
            bytes: self.bytes,
            duration_ms,
            remote_addr: remote,
            request_id,
            complete,
        };
        // The same values staged for the log layer, which then writes them without visiting
        // the event's fields (see `staged`); what no layer took is dropped after.
        let _clear = staged::ClearOnDrop;
        staged::stage_line(&access);
        self.span.in_scope(|| access_event(&access));
    }
}

/// The access line's event. The server span carries most of its data (method, route, status,
/// client address and request id as attributes; the duration is its own; not the body size), so
/// the trace bridge does not copy the line into the span as an event (see ACCESS_LOG_TARGET).
pub(super) fn access_event(v: &AccessValues<'_>) {
    let AccessValues {
        method,
        path,
        status,
        bytes,
        duration_ms,
        remote_addr,
        request_id,
        complete,
    } = *v;
    // (The messages are `AccessValues::msg`'s, which the staged line is written with.)
    if v.failed() {
        tracing::warn!(
            target: ACCESS_LOG_TARGET,
            method, path, status, bytes, duration_ms, remote_addr, request_id, complete,
            "request failed"
        );
    } else {
        tracing::info!(
            target: ACCESS_LOG_TARGET,
            method, path, status, bytes, duration_ms, remote_addr, request_id, complete,
            "request handled"
        );
    }
}

/// A response body that finishes the request's telemetry when it ends or is dropped.
struct Tracked {
    inner: Body,
    done: Option<Completion>,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(d), Some(data)) = (this.done.as_mut(), frame.data_ref()) {
                    d.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) => {
                if let Some(d) = this.done.take() {
                    d.finish(true);
                }
            }
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if let Some(d) = self.done.take() {
            // Ended before the body did: the client went away (or the body was empty and never
            // polled to its end).
            let complete = self.inner.is_end_stream();
            d.finish(complete);
        }
    }
}

/// This module's path, which the log layer and the trace bridge use to tell the layer's own
/// request span and access line from an application's span or event with the same target.
#[cfg(test)]
const MODULE: &str = module_path!();

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_layers_callsites_are_in_the_module_the_catalogue_names() {
        assert_eq!(super::MODULE, crate::catalogue::targets::HTTP_SERVER_MODULE);
    }

    /// Access lines write durations in milliseconds with at most three decimals (as the log
    /// encoder writes a float: ryu's shortest form).
    #[test]
    fn durations_are_rounded_to_the_microsecond() {
        let text = |d: Duration| {
            ryu::Buffer::new()
                .format_finite(super::millis(d))
                .to_string()
        };
        assert_eq!(text(Duration::from_nanos(100_544_999)), "100.544");
        assert_eq!(text(Duration::from_nanos(100_544)), "0.1");
        assert_eq!(text(Duration::from_micros(100_544)), "100.544");
        assert_eq!(text(Duration::from_micros(544)), "0.544");
        assert_eq!(text(Duration::from_nanos(999)), "0.0");
        for micros in (0..3_000_000u64)
            .step_by(7)
            .chain([4_688_445, 2_995_054_603])
        {
            let written = text(Duration::from_micros(micros));
            let decimals = written.split_once('.').map_or(0, |(_, d)| d.len());
            assert!(decimals <= 3, "{micros} µs written as {written}");
            assert_eq!(written.parse::<f64>().unwrap(), micros as f64 / 1000.0);
        }
    }
}
