//! Where and how each signal is exported over OTLP: [`OtlpTarget`], one per [`OtlpSignal`],
//! resolved by [`ConfigBuilder::build`](super::ConfigBuilder::build) from the builder and the
//! OpenTelemetry environment variables (`otel_env.rs`), with the specification's precedence: a
//! per-signal setting wins over the general one, which wins over the default.
//!
//! The default protocol follows where the endpoint came from. Watchpost's own endpoint
//! (`OTEL_ENDPOINT` or [`ConfigBuilder::otel_endpoint`](super::ConfigBuilder::otel_endpoint))
//! has always meant OTLP/gRPC, and still does; every other case — no endpoint at all, or one from
//! the standard variables — gets the specification's default, OTLP/HTTP with protobuf bodies
//! (`http://localhost:4318`). A protocol variable or
//! [`ConfigBuilder::otel_protocol`](super::ConfigBuilder::otel_protocol) overrides both.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::endpoint::{
    check_endpoint, has_scheme, is_https, shown_endpoint, Endpoint, EndpointUse,
};
use super::ConfigBuilder;
use crate::error::Error;

/// The OTLP transport of a signal.
///
/// ```
/// use watchpost::config::OtlpProtocol;
/// assert_eq!(OtlpProtocol::HttpProtobuf.as_str(), "http/protobuf");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// OTLP/gRPC (`grpc`).
    Grpc,
    /// OTLP/HTTP with protobuf bodies (`http/protobuf`), the specification's default.
    HttpProtobuf,
}

impl OtlpProtocol {
    /// The name the environment variables use: `grpc` or `http/protobuf`.
    ///
    /// ```
    /// assert_eq!(watchpost::config::OtlpProtocol::Grpc.as_str(), "grpc");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Grpc => "grpc",
            Self::HttpProtobuf => "http/protobuf",
        }
    }

    /// The endpoint used when none is configured (the specification's defaults).
    fn default_endpoint(self) -> &'static str {
        match self {
            Self::Grpc => "http://localhost:4317",
            Self::HttpProtobuf => "http://localhost:4318",
        }
    }
}

/// Compression of OTLP requests.
///
/// ```
/// assert_eq!(watchpost::config::OtlpCompression::default(), watchpost::config::OtlpCompression::None);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpCompression {
    /// Uncompressed (`none`, the default).
    #[default]
    None,
    /// Gzip (`gzip`).
    Gzip,
}

/// One of the three signals, for the per-signal settings.
///
/// ```
/// use watchpost::config::OtlpSignal;
/// assert_eq!(OtlpSignal::Logs.name(), "logs");
/// assert_eq!(OtlpSignal::ALL.len(), 3);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtlpSignal {
    /// Spans.
    Traces,
    /// Metrics (the OTLP push; `/metrics` is served either way).
    Metrics,
    /// Log records.
    Logs,
}

impl OtlpSignal {
    /// Every signal, in the order [`crate::Config::otlp`] keeps them.
    pub const ALL: [OtlpSignal; 3] = [Self::Traces, Self::Metrics, Self::Logs];

    /// `traces`, `metrics` or `logs`.
    ///
    /// ```
    /// assert_eq!(watchpost::config::OtlpSignal::Traces.name(), "traces");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Self::Traces => "traces",
            Self::Metrics => "metrics",
            Self::Logs => "logs",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }

    /// The part of a per-signal variable's name: `TRACES`, `METRICS` or `LOGS`.
    pub(crate) fn env_part(self) -> &'static str {
        match self {
            Self::Traces => "TRACES",
            Self::Metrics => "METRICS",
            Self::Logs => "LOGS",
        }
    }

    /// The signal a per-signal variable's name part stands for.
    pub(crate) fn from_env_part(part: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.env_part() == part)
    }

    /// The path OTLP/HTTP appends to a base endpoint.
    fn http_path(self) -> &'static str {
        match self {
            Self::Traces => "/v1/traces",
            Self::Metrics => "/v1/metrics",
            Self::Logs => "/v1/logs",
        }
    }
}

/// Header names and values sent with every OTLP request (gRPC metadata, HTTP headers). The
/// values are secrets (collector credentials): `Debug` shows the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub(crate) struct Headers(pub(crate) Vec<(String, String)>);

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.0.iter().map(|(k, _)| (k, "[REDACTED]")))
            .finish()
    }
}

impl Headers {
    /// Sets `name` (case-insensitive) to `value`, replacing an earlier value.
    pub(crate) fn set(&mut self, name: String, value: String) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
        self.0.push((name, value));
    }

    /// Lays `other` over these (its names win).
    pub(crate) fn merge(&mut self, other: &Headers) {
        for (k, v) in &other.0 {
            self.set(k.clone(), v.clone());
        }
    }
}

/// A CA certificate file and the input it came from (named by errors).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CaFile {
    pub(crate) path: PathBuf,
    pub(crate) source: String,
}

/// The OTLP settings given for all signals or for one (each `None` when not given).
#[derive(Debug, Clone, Default)]
pub(crate) struct OtlpSettings {
    pub(crate) endpoint: Option<Endpoint>,
    pub(crate) protocol: Option<OtlpProtocol>,
    pub(crate) headers: Option<Headers>,
    pub(crate) insecure: Option<bool>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) compression: Option<OtlpCompression>,
    pub(crate) ca_file: Option<CaFile>,
}

/// Where and how one signal is exported: see [`crate::Config::otlp`].
///
/// `Debug` leaves the header values out (they are credentials).
///
/// ```
/// use watchpost::config::{OtlpProtocol, OtlpSignal};
/// let c = watchpost::Config::builder("svc")
///     .env_vars([("OTEL_EXPORTER_OTLP_HEADERS", "api-key=s3cret")])
///     .build()
///     .unwrap();
/// let traces = c.otlp(OtlpSignal::Traces);
/// assert_eq!(traces.protocol(), OtlpProtocol::HttpProtobuf);
/// assert_eq!(traces.url(), "http://localhost:4318/v1/traces");
/// assert_eq!(traces.header_names().collect::<Vec<_>>(), ["api-key"]);
/// assert!(!format!("{traces:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct OtlpTarget {
    pub(crate) protocol: OtlpProtocol,
    pub(crate) url: String,
    /// The input the endpoint came from (a variable or a setter), or `default`.
    pub(crate) endpoint_source: String,
    pub(crate) headers: Headers,
    pub(crate) compression: OtlpCompression,
    pub(crate) timeout: Duration,
    pub(crate) ca_file: Option<CaFile>,
}

/// The header values left out, and a query of the URL (a signal's own URL may carry a key in
/// it).
impl fmt::Debug for OtlpTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtlpTarget")
            .field("protocol", &self.protocol)
            .field("url", &shown_endpoint(&self.url))
            .field("endpoint_source", &self.endpoint_source)
            .field("headers", &self.headers)
            .field("compression", &self.compression)
            .field("timeout", &self.timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl OtlpTarget {
    /// The transport.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_endpoint("127.0.0.1:4317").build().unwrap();
    /// let t = c.otlp(watchpost::config::OtlpSignal::Logs);
    /// assert_eq!(t.protocol(), watchpost::config::OtlpProtocol::Grpc);
    /// ```
    pub fn protocol(&self) -> OtlpProtocol {
        self.protocol
    }

    /// The URL requests go to, with its scheme (`https` means TLS); for OTLP/HTTP the full path.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_endpoint("127.0.0.1:4317").build().unwrap();
    /// assert_eq!(c.otlp(watchpost::config::OtlpSignal::Logs).url(), "http://127.0.0.1:4317");
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The names of the headers sent with every request (their values are not shown).
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_header("x-team", "a").build().unwrap();
    /// let t = c.otlp(watchpost::config::OtlpSignal::Metrics);
    /// assert_eq!(t.header_names().collect::<Vec<_>>(), ["x-team"]);
    /// ```
    pub fn header_names(&self) -> impl Iterator<Item = &str> {
        self.headers.0.iter().map(|(k, _)| k.as_str())
    }

    /// The compression of requests.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// let t = c.otlp(watchpost::config::OtlpSignal::Traces);
    /// assert_eq!(t.compression(), watchpost::config::OtlpCompression::None);
    /// ```
    pub fn compression(&self) -> OtlpCompression {
        self.compression
    }

    /// The timeout of one export.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// let t = c.otlp(watchpost::config::OtlpSignal::Traces);
    /// assert_eq!(t.timeout(), std::time::Duration::from_secs(10));
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The CA certificate file (PEM) trusted besides the system's roots, if any.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").build().unwrap();
    /// assert!(c.otlp(watchpost::config::OtlpSignal::Traces).ca_file().is_none());
    /// ```
    pub fn ca_file(&self) -> Option<&std::path::Path> {
        self.ca_file.as_ref().map(|ca| ca.path.as_path())
    }
}

/// The base endpoint in effect: the one configured, else the default of the general protocol.
pub(crate) fn base_endpoint(general: &OtlpSettings) -> String {
    match &general.endpoint {
        Some(e) => e.value.clone(),
        None => {
            let protocol = general.protocol.unwrap_or(OtlpProtocol::HttpProtobuf);
            protocol.default_endpoint().to_string()
        }
    }
}

/// Whether the base endpoint is reached without TLS, as [`resolve`] decides for a signal with
/// no setting of its own.
pub(crate) fn base_is_plaintext(general: &OtlpSettings) -> bool {
    let ours = general.endpoint.as_ref().is_some_and(|e| e.ours);
    match &general.endpoint {
        Some(e) if has_scheme(e.value.trim()) => !is_https(e.value.trim()),
        Some(_) => general.insecure.unwrap_or(ours),
        None => true,
    }
}

/// Checks the headers given in code ([`ConfigBuilder::otel_header`]); an error shows no value,
/// and the name only when it is a valid header name.
pub(crate) fn check_code_headers(general: &OtlpSettings) -> Result<(), Error> {
    for (name, value) in general.headers.iter().flat_map(|h| &h.0) {
        if let Err(allowed) = super::otel_env::check_header(name, value) {
            let shown = if super::otel_env::valid_header_name(name) {
                format!("{name}=[REDACTED]")
            } else {
                "[REDACTED]".to_string()
            };
            return Err(Error::invalid("ConfigBuilder::otel_header", shown, allowed));
        }
    }
    Ok(())
}

// The OTLP settings in code. The environment's variables win over them.
impl ConfigBuilder {
    /// The base OTLP endpoint of every signal, `host:port` or a URL. Given here (or by
    /// `OTEL_ENDPOINT`), it is OTLP/gRPC unless [`otel_protocol`](Self::otel_protocol) or a
    /// protocol variable says otherwise, and plaintext for `host:port` unless
    /// [`otel_insecure`](Self::otel_insecure)`(false)`. Default: none, so OTLP/HTTP to
    /// `http://localhost:4318`, the specification's default. Env: `OTEL_ENDPOINT`,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_endpoint("collector:4317").build().unwrap();
    /// assert_eq!(c.otel_endpoint(), "collector:4317");
    /// assert_eq!(c.otlp(watchpost::config::OtlpSignal::Traces).url(), "http://collector:4317");
    /// ```
    pub fn otel_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.otlp.endpoint = Some(Endpoint {
            value: endpoint.into(),
            ours: true,
            source: "ConfigBuilder::otel_endpoint".into(),
        });
        self
    }

    /// One signal's endpoint, used as it is (for OTLP/HTTP, the full URL with its path); it is
    /// OTLP/HTTP unless a protocol is set. Default: the base endpoint. Env:
    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_ENDPOINT`.
    ///
    /// ```
    /// use watchpost::config::OtlpSignal;
    /// let c = watchpost::Config::builder("svc")
    ///     .otel_signal_endpoint(OtlpSignal::Logs, "https://logs.example/v1/logs")
    ///     .build()
    ///     .unwrap();
    /// assert_eq!(c.otlp(OtlpSignal::Logs).url(), "https://logs.example/v1/logs");
    /// ```
    pub fn otel_signal_endpoint(mut self, signal: OtlpSignal, endpoint: impl Into<String>) -> Self {
        self.otlp_signals[signal.index()].endpoint = Some(Endpoint {
            value: endpoint.into(),
            ours: false,
            source: format!("ConfigBuilder::otel_signal_endpoint({})", signal.name()),
        });
        self
    }

    /// The OTLP protocol of every signal. Default: gRPC for an endpoint given by
    /// [`otel_endpoint`](Self::otel_endpoint) or `OTEL_ENDPOINT`, else OTLP/HTTP with protobuf.
    /// Env: `OTEL_EXPORTER_OTLP_PROTOCOL`, `OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL`.
    ///
    /// ```
    /// use watchpost::config::{OtlpProtocol, OtlpSignal};
    /// let c = watchpost::Config::builder("svc").otel_protocol(OtlpProtocol::Grpc).build().unwrap();
    /// assert_eq!(c.otlp(OtlpSignal::Metrics).url(), "http://localhost:4317");
    /// ```
    pub fn otel_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.otlp.protocol = Some(protocol);
        self
    }

    /// A header sent with every OTLP request (gRPC metadata, HTTP header), e.g. a collector's
    /// credentials; the environment's headers win for the same name. Its value is never logged
    /// nor shown by `Debug`. `build` refuses a name outside letters, digits, `-`, `_`, `.` and a
    /// value outside visible ASCII. Default: none. Env: `OTEL_EXPORTER_OTLP_HEADERS`,
    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_HEADERS` (which replaces these for its signal).
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_header("authorization", "Bearer abc").build().unwrap();
    /// assert!(!format!("{c:?}").contains("Bearer abc"));
    /// ```
    pub fn otel_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let headers = self.otlp.headers.get_or_insert_with(Headers::default);
        headers.set(name.into().to_ascii_lowercase(), value.into());
        self
    }

    /// Compression of OTLP requests. Default: [`OtlpCompression::None`]. Env:
    /// `OTEL_EXPORTER_OTLP_COMPRESSION`, `OTEL_EXPORTER_OTLP_<SIGNAL>_COMPRESSION`.
    ///
    /// ```
    /// use watchpost::config::{OtlpCompression, OtlpSignal};
    /// let c = watchpost::Config::builder("svc").otel_compression(OtlpCompression::Gzip).build().unwrap();
    /// assert_eq!(c.otlp(OtlpSignal::Traces).compression(), OtlpCompression::Gzip);
    /// ```
    pub fn otel_compression(mut self, compression: OtlpCompression) -> Self {
        self.otlp.compression = Some(compression);
        self
    }

    /// Plaintext (`true`) or TLS (`false`) for an endpoint without a scheme (`host:port`); an
    /// `http://` or `https://` URL decides by itself. Default: `true` for the endpoint of
    /// [`otel_endpoint`](Self::otel_endpoint), `false` (the specification's) for the standard
    /// variables' endpoints. Env: `OTEL_INSECURE`, `OTEL_EXPORTER_OTLP_INSECURE`,
    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_INSECURE`.
    ///
    /// ```
    /// let c = watchpost::Config::builder("svc").otel_endpoint("c:4317").otel_insecure(false).build().unwrap();
    /// assert!(!c.otel_insecure());
    /// assert_eq!(c.otlp(watchpost::config::OtlpSignal::Traces).url(), "https://c:4317");
    /// ```
    pub fn otel_insecure(mut self, insecure: bool) -> Self {
        self.otlp.insecure = Some(insecure);
        self
    }

    /// A CA certificate file (PEM) trusted besides the system's roots to verify the collector
    /// over TLS. Default: system roots only. Env: `OTEL_EXPORTER_OTLP_CERTIFICATE`,
    /// `OTEL_EXPORTER_OTLP_<SIGNAL>_CERTIFICATE`.
    ///
    /// ```
    /// let b = watchpost::Config::builder("svc").otel_ca_file("/etc/ssl/collector-ca.pem");
    /// # b.build().unwrap();
    /// ```
    pub fn otel_ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.otlp.ca_file = Some(CaFile {
            path: path.into(),
            source: "ConfigBuilder::otel_ca_file".into(),
        });
        self
    }
}

/// Resolves the three signals' targets: a per-signal setting wins over the general one; the
/// general timeout is `timeout` (it always has a value). Every endpoint is checked again here,
/// under the name of its input, so that those given in code are checked too; an error names the
/// input and the signal.
pub(crate) fn resolve(
    general: &OtlpSettings,
    signals: &[OtlpSettings; 3],
    timeout: Duration,
) -> Result<[OtlpTarget; 3], Error> {
    let resolved = OtlpSignal::ALL.map(|signal| resolve_one(signal, general, signals, timeout));
    let [traces, metrics, logs] = resolved;
    Ok([traces?, metrics?, logs?])
}

fn resolve_one(
    signal: OtlpSignal,
    general: &OtlpSettings,
    signals: &[OtlpSettings; 3],
    timeout: Duration,
) -> Result<OtlpTarget, Error> {
    let own = &signals[signal.index()];
    let endpoint = own.endpoint.as_ref().or(general.endpoint.as_ref());
    let ours = endpoint.is_some_and(|e| e.ours);
    let protocol = own.protocol.or(general.protocol).unwrap_or(if ours {
        OtlpProtocol::Grpc
    } else {
        OtlpProtocol::HttpProtobuf
    });
    // The specification's default is TLS for an endpoint without a scheme; Watchpost's own
    // endpoint has always been plaintext unless `OTEL_INSECURE=false`.
    let insecure = own.insecure.or(general.insecure).unwrap_or(ours);
    let (mut url, source) = match endpoint {
        Some(e) => {
            let usage = match own.endpoint {
                Some(_) => EndpointUse::Signal,
                None => EndpointUse::Base,
            };
            let value = check_endpoint(&e.source, &e.value, usage, false)?;
            (value, e.source.clone())
        }
        None => (
            protocol.default_endpoint().to_string(),
            "default".to_string(),
        ),
    };
    if !has_scheme(&url) {
        let scheme = if insecure { "http" } else { "https" };
        url = format!("{scheme}://{url}");
    }
    // A per-signal endpoint is used as it is; the base endpoint gets the signal's path (it has
    // no query or fragment: checked above).
    if protocol == OtlpProtocol::HttpProtobuf && own.endpoint.is_none() {
        url = format!("{}{}", url.trim_end_matches('/'), signal.http_path());
    }
    if url.parse::<http::Uri>().is_err() {
        return Err(Error::invalid(
            format!("{source} (the {} endpoint)", signal.name()),
            shown_endpoint(&url),
            "a URL the OTLP exporter can send to",
        ));
    }
    Ok(OtlpTarget {
        protocol,
        url,
        endpoint_source: source,
        headers: own
            .headers
            .clone()
            .or_else(|| general.headers.clone())
            .unwrap_or_default(),
        compression: own.compression.or(general.compression).unwrap_or_default(),
        timeout: own.timeout.unwrap_or(timeout),
        ca_file: own.ca_file.clone().or_else(|| general.ca_file.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(value: &str, ours: bool) -> Option<Endpoint> {
        Some(Endpoint {
            value: value.into(),
            ours,
            source: "TEST_ENDPOINT".into(),
        })
    }

    fn urls(general: &OtlpSettings, signals: &[OtlpSettings; 3]) -> Vec<String> {
        resolve(general, signals, Duration::from_secs(1))
            .unwrap()
            .into_iter()
            .map(|t| format!("{} {}", t.protocol.as_str(), t.url))
            .collect()
    }

    #[test]
    fn the_base_endpoint_gets_each_signals_path_and_a_signals_own_endpoint_is_used_as_it_is() {
        let general = OtlpSettings {
            endpoint: endpoint("http://c:4318/", false),
            ..Default::default()
        };
        let mut signals: [OtlpSettings; 3] = Default::default();
        signals[OtlpSignal::Logs.index()].endpoint = endpoint("https://logs.example/ingest", false);
        assert_eq!(
            urls(&general, &signals),
            [
                "http/protobuf http://c:4318/v1/traces",
                "http/protobuf http://c:4318/v1/metrics",
                "http/protobuf https://logs.example/ingest",
            ]
        );
    }

    #[test]
    fn ours_means_grpc_and_plaintext_the_standard_ones_http_and_tls_without_a_scheme() {
        let ours = OtlpSettings {
            endpoint: endpoint("collector:4317", true),
            ..Default::default()
        };
        let signals: [OtlpSettings; 3] = Default::default();
        assert_eq!(urls(&ours, &signals)[0], "grpc http://collector:4317");
        let standard = OtlpSettings {
            endpoint: endpoint("collector:4318", false),
            ..Default::default()
        };
        assert_eq!(
            urls(&standard, &signals)[0],
            "http/protobuf https://collector:4318/v1/traces"
        );
        let grpc = OtlpSettings {
            protocol: Some(OtlpProtocol::Grpc),
            ..Default::default()
        };
        assert_eq!(urls(&grpc, &signals)[2], "grpc http://localhost:4317");
        assert_eq!(
            urls(&OtlpSettings::default(), &signals)[1],
            "http/protobuf http://localhost:4318/v1/metrics"
        );
    }

    #[test]
    fn header_values_never_show_in_debug_output() {
        let mut h = Headers::default();
        h.set("Authorization".into(), "Bearer abc".into());
        h.set("authorization".into(), "Bearer xyz".into());
        assert_eq!(h.0.len(), 1, "names are case-insensitive");
        let shown = format!("{h:?}");
        assert!(
            shown.contains("authorization") && !shown.contains("xyz"),
            "{shown}"
        );
    }
}
