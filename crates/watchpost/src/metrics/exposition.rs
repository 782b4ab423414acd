//! Prometheus text 0.0.4 and OpenMetrics 1.0.0 exposition of OpenTelemetry `ResourceMetrics`.
//!
//! The encoder owns no storage: it reads the SDK's collected data and writes to any
//! [`fmt::Write`]. Families are emitted sorted by name (deterministic output), metrics with the
//! same Prometheus name from different scopes are merged into one family.
//!
//! Naming follows the OpenTelemetry → Prometheus compatibility rules:
//! * a name that is already Prometheus-style (only `[a-zA-Z0-9_:]`, no dots) passes through;
//!   only `_total` is added to a monotonic sum that lacks it;
//! * an OTel-style name (`http.server.request.duration`) is sanitized (`.` and other invalid
//!   characters → `_`), gets its unit as a suffix unless already there (`s` → `_seconds`,
//!   `By` → `_bytes`, `1` on a gauge → `_ratio`, `{annotations}` dropped, `a/b` → `a_per_b`), and
//!   `_total` if it is a monotonic sum.
//!
//! ```
//! use opentelemetry::KeyValue;
//! use watchpost::metrics::Format;
//!
//! let config = watchpost::Config::builder("demo").build().unwrap();
//! let (telemetry, _dispatch) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
//! let meter = telemetry.metrics().meter();
//! let jobs = meter.u64_counter("demo_jobs_total").with_description("Jobs run").build();
//! jobs.add(3, &[KeyValue::new("status", "ok \"fine\"\n")]);
//! let latency = meter
//!     .f64_histogram("demo.job.duration")
//!     .with_unit("s")
//!     .with_description("Job duration")
//!     .with_boundaries(vec![0.1, 1.0])
//!     .build();
//! latency.record(0.5, &[]);
//!
//! let family = |text: &str, name: &str| -> String {
//!     let start = text.find(&format!("# HELP {name} ")).unwrap();
//!     let end = text[start + 1..].find("# HELP").map_or(text.len(), |e| start + 1 + e);
//!     text[start..end].to_string()
//! };
//! let om = telemetry.metrics().encode(Format::OpenMetrics);
//! assert_eq!(family(&om, "demo_jobs"), "\
//! ## HELP demo_jobs Jobs run
//! ## TYPE demo_jobs counter
//! demo_jobs_total{status=\"ok \\\"fine\\\"\\n\"} 3
//! ");
//! assert_eq!(family(&om, "demo_job_duration_seconds"), "\
//! ## HELP demo_job_duration_seconds Job duration
//! ## TYPE demo_job_duration_seconds histogram
//! ## UNIT demo_job_duration_seconds seconds
//! demo_job_duration_seconds_bucket{le=\"0.1\"} 0
//! demo_job_duration_seconds_bucket{le=\"1\"} 1
//! demo_job_duration_seconds_bucket{le=\"+Inf\"} 1
//! demo_job_duration_seconds_sum 0.5
//! demo_job_duration_seconds_count 1
//! ");
//! assert!(om.ends_with("# EOF\n"));
//!
//! let text = telemetry.metrics().encode(Format::Text);
//! assert!(text.contains("# HELP demo_jobs_total Jobs run\n# TYPE demo_jobs_total counter\n"));
//! ```

use std::borrow::Cow;
use std::fmt::{self, Write};

use opentelemetry::{KeyValue, Value};
use opentelemetry_sdk::metrics::data::{
    AggregatedMetrics, Histogram, Metric, MetricData, ResourceMetrics,
};

use super::own::Family;

mod naming;
mod own;

use naming::is_prometheus_style;
pub(crate) use naming::sanitize;
pub use naming::{prom_name, PromName};

/// An exposition format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Text,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    /// The exact `Content-Type` of a response in this format.
    ///
    /// ```
    /// use watchpost::metrics::exposition::Format;
    /// assert_eq!(Format::Text.content_type(), "text/plain; version=0.0.4; charset=utf-8");
    /// ```
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// Chooses the format for a scraper's `Accept` header the way Prometheus negotiates: the
    /// acceptable media range with the highest `q` wins (ties: first listed); OpenMetrics for
    /// `application/openmetrics-text` (version absent, `1.0.0` or `0.0.1`), text 0.0.4 for
    /// `text/plain` (version absent or `0.0.4`) and `*/*`. No header, or nothing acceptable: text.
    ///
    /// ```
    /// use watchpost::metrics::exposition::Format;
    /// let prometheus = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::negotiate(Some(prometheus)), Format::OpenMetrics);
    /// assert_eq!(Format::negotiate(None), Format::Text);
    /// assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
    /// ```
    pub fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best: Option<(f32, Format)> = None;
        for range in accept.split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for p in parts {
                if let Some((k, v)) = p.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.trim().parse().unwrap_or(0.0),
                        "version" => version = Some(v.trim().to_string()),
                        _ => {}
                    }
                }
            }
            let format = match (media.as_str(), version.as_deref()) {
                ("application/openmetrics-text", None | Some("1.0.0") | Some("0.0.1")) => {
                    Some(Format::OpenMetrics)
                }
                ("text/plain", None | Some("0.0.4")) | ("*/*", _) | ("text/*", _) => {
                    Some(Format::Text)
                }
                _ => None,
            };
            if let Some(f) = format {
                if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                    best = Some((q, f));
                }
            }
        }
        best.map(|(_, f)| f).unwrap_or(Format::Text)
    }
}

/// The Prometheus family kind of an OTel metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

fn kind_of(metric: &Metric) -> Option<Kind> {
    fn k<T>(d: &MetricData<T>) -> Option<Kind> {
        match d {
            MetricData::Gauge(_) => Some(Kind::Gauge),
            MetricData::Sum(s) if s.is_monotonic() => Some(Kind::Counter),
            MetricData::Sum(_) => Some(Kind::Gauge),
            MetricData::Histogram(_) => Some(Kind::Histogram),
            MetricData::ExponentialHistogram(_) => None,
        }
    }
    match metric.data() {
        AggregatedMetrics::F64(d) => k(d),
        AggregatedMetrics::U64(d) => k(d),
        AggregatedMetrics::I64(d) => k(d),
    }
}

/// A sample value, written the way Prometheus parses it.
trait Num: Copy {
    fn write(self, out: &mut impl Write) -> fmt::Result;
}
impl Num for u64 {
    fn write(self, out: &mut impl Write) -> fmt::Result {
        out.write_str(itoa::Buffer::new().format(self))
    }
}
impl Num for i64 {
    fn write(self, out: &mut impl Write) -> fmt::Result {
        out.write_str(itoa::Buffer::new().format(self))
    }
}
impl Num for f64 {
    fn write(self, out: &mut impl Write) -> fmt::Result {
        write_float(out, self)
    }
}

/// `NaN`, `+Inf`, `-Inf`, integers without a fraction, others in shortest round-trip form.
pub(crate) fn write_float(out: &mut impl Write, v: f64) -> fmt::Result {
    if v.is_nan() {
        out.write_str("NaN")
    } else if v.is_infinite() {
        out.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        out.write_str(itoa::Buffer::new().format(v as i64))
    } else {
        out.write_str(ryu::Buffer::new().format_finite(v))
    }
}

fn escape_label_value(out: &mut impl Write, s: &str) -> fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'\\' => "\\\\",
            b'"' => "\\\"",
            b'\n' => "\\n",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}

fn escape_help(out: &mut impl Write, s: &str, format: Format) -> fmt::Result {
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'"' if format == Format::OpenMetrics => "\\\"",
            _ => continue,
        };
        out.write_str(&s[start..i])?;
        out.write_str(rep)?;
        start = i + 1;
    }
    out.write_str(&s[start..])
}

fn value_str(v: &Value) -> Cow<'_, str> {
    match v {
        Value::String(s) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(other.to_string()),
    }
}

/// Renders `k="v",k2="v2"` (no braces) into `out`, sanitizing keys.
fn write_labels<'a, I>(out: &mut String, attrs: impl Fn() -> I)
where
    I: Iterator<Item = &'a KeyValue>,
{
    // Labels in key order, whatever order the SDK hands them in (it keeps both the order given
    // at the first measurement and the sorted one): the exposition is deterministic.
    let mut keys = attrs().map(|kv| kv.key.as_str());
    let mut sorted = true;
    if let Some(mut prev) = keys.next() {
        for k in keys {
            if k < prev {
                sorted = false;
                break;
            }
            prev = k;
        }
    }
    if sorted {
        write_label_list(out, attrs());
    } else {
        let mut v: Vec<&KeyValue> = attrs().collect();
        v.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
        write_label_list(out, v.into_iter());
    }
}

fn write_label_list<'a>(out: &mut String, attrs: impl Iterator<Item = &'a KeyValue>) {
    for (i, kv) in attrs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let key = kv.key.as_str();
        if is_prometheus_style(key) && !key.contains(':') {
            out.push_str(key);
        } else {
            out.push_str(&sanitize(key, false));
        }
        out.push_str("=\"");
        let _ = escape_label_value(out, &value_str(&kv.value));
        out.push('"');
    }
}

fn write_sample(
    out: &mut impl Write,
    name: &str,
    suffix: &str,
    labels: &str,
    extra: Option<(&str, &str)>,
) -> fmt::Result {
    out.write_str(name)?;
    out.write_str(suffix)?;
    if !labels.is_empty() || extra.is_some() {
        out.write_char('{')?;
        out.write_str(labels)?;
        if let Some((k, v)) = extra {
            if !labels.is_empty() {
                out.write_char(',')?;
            }
            out.write_str(k)?;
            out.write_str("=\"")?;
            out.write_str(v)?;
            out.write_char('"')?;
        }
        out.write_char('}')?;
    }
    out.write_char(' ')
}

/// Encodes everything in `rm` (plus `target_info` from its resource) in `format`.
///
/// # Errors
/// Only those of the writer.
pub fn encode(out: &mut impl Write, rm: &ResourceMetrics, format: Format) -> fmt::Result {
    encode_with(out, rm, format, None, &[])
}

/// One metric to write: the SDK's, or one the library keeps itself.
enum Source<'a> {
    Sdk(&'a Metric),
    Own(&'a Family),
}

/// [`encode`], with the exemplars of `exemplars` after their buckets (OpenMetrics only), and
/// the families the library keeps itself (`own`: plain data, see [`super::own`]) among the
/// SDK's, named and merged by the same rules.
pub(crate) fn encode_with(
    out: &mut impl Write,
    rm: &ResourceMetrics,
    format: Format,
    exemplars: Option<&super::exemplars::ExemplarStore>,
    own: &[Family],
) -> fmt::Result {
    // Name every metric, then sort by family name so that same-named metrics from different
    // scopes are adjacent (merged into one family) and the output is deterministic.
    let named = |name: &str, unit: &str, kind: Kind| {
        prom_name(name, unit, kind == Kind::Counter, kind == Kind::Gauge)
    };
    let mut metrics: Vec<(PromName, Kind, Source)> = rm
        .scope_metrics()
        .flat_map(|s| s.metrics())
        .filter_map(|m| {
            let kind = kind_of(m)?;
            Some((named(m.name(), m.unit(), kind), kind, Source::Sdk(m)))
        })
        .chain(own.iter().map(|f| {
            let kind = own::kind(f);
            (named(&f.name, f.unit, kind), kind, Source::Own(f))
        }))
        .collect();
    // Stable: the SDK's first, then the library's, under one name.
    metrics.sort_by(|a, b| a.0.family.cmp(&b.0.family));

    let mut labels = String::with_capacity(128);
    let mut i = 0;
    while i < metrics.len() {
        let (name, kind, first) = &metrics[i];
        let mut j = i + 1;
        while j < metrics.len() && metrics[j].0.family == name.family {
            j += 1;
        }
        let description = match first {
            Source::Sdk(m) => m.description(),
            Source::Own(f) => f.description,
        };
        write_header(out, name, *kind, description, format)?;
        for (other_name, other_kind, m) in &metrics[i..j] {
            if other_kind != kind || other_name.unit != name.unit {
                continue; // conflicting definition under the same name: keep the first
            }
            let m = match m {
                Source::Sdk(m) => m,
                Source::Own(f) => {
                    own::write(out, &name.family, f, &mut labels, format)?;
                    continue;
                }
            };
            let slots = match format {
                Format::OpenMetrics => exemplars.and_then(|e| e.find(m.name())),
                Format::Text => None,
            };
            match m.data() {
                AggregatedMetrics::F64(MetricData::Histogram(h)) => {
                    write_histogram(out, &name.family, h, &mut labels, slots.as_deref())?
                }
                AggregatedMetrics::F64(d) => {
                    write_points(out, &name.family, *kind, d, &mut labels)?
                }
                AggregatedMetrics::U64(d) => {
                    write_points(out, &name.family, *kind, d, &mut labels)?
                }
                AggregatedMetrics::I64(d) => {
                    write_points(out, &name.family, *kind, d, &mut labels)?
                }
            }
        }
        i = j;
    }

    // target_info from the resource.
    labels.clear();
    let mut attrs: Vec<KeyValue> = rm
        .resource()
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    attrs.sort_by(|a, b| a.key.as_str().cmp(b.key.as_str()));
    if !attrs.is_empty() {
        write_labels(&mut labels, || attrs.iter());
        match format {
            Format::Text => {
                out.write_str("# HELP target_info Target metadata\n# TYPE target_info gauge\n")?
            }
            Format::OpenMetrics => {
                out.write_str("# HELP target Target metadata\n# TYPE target info\n")?
            }
        }
        write_sample(out, "target_info", "", &labels, None)?;
        out.write_str("1\n")?;
    }
    if format == Format::OpenMetrics {
        out.write_str("# EOF\n")?;
    }
    Ok(())
}

fn write_header(
    out: &mut impl Write,
    name: &PromName,
    kind: Kind,
    description: &str,
    format: Format,
) -> fmt::Result {
    let (type_name, type_str) = match (kind, format) {
        (Kind::Counter, Format::Text) => (Cow::Owned(format!("{}_total", name.family)), "counter"),
        (Kind::Counter, Format::OpenMetrics) => (Cow::Borrowed(name.family.as_str()), "counter"),
        (Kind::Gauge, _) => (Cow::Borrowed(name.family.as_str()), "gauge"),
        (Kind::Histogram, _) => (Cow::Borrowed(name.family.as_str()), "histogram"),
    };
    out.write_str("# HELP ")?;
    out.write_str(&type_name)?;
    out.write_char(' ')?;
    if description.trim().is_empty() {
        out.write_str(&name.family)?;
        out.write_str(" (no description)")?;
    } else {
        escape_help(out, description, format)?;
    }
    out.write_str("\n# TYPE ")?;
    out.write_str(&type_name)?;
    out.write_char(' ')?;
    out.write_str(type_str)?;
    out.write_char('\n')?;
    if format == Format::OpenMetrics && !name.unit.is_empty() {
        out.write_str("# UNIT ")?;
        out.write_str(&name.family)?;
        out.write_char(' ')?;
        out.write_str(&name.unit)?;
        out.write_char('\n')?;
    }
    Ok(())
}

fn write_points<T: Num>(
    out: &mut impl Write,
    family: &str,
    kind: Kind,
    data: &MetricData<T>,
    labels: &mut String,
) -> fmt::Result {
    match data {
        MetricData::Gauge(g) => {
            for p in g.data_points() {
                labels.clear();
                write_labels(labels, || p.attributes());
                write_sample(out, family, "", labels, None)?;
                p.value().write(out)?;
                out.write_char('\n')?;
            }
        }
        MetricData::Sum(s) => {
            let suffix = if kind == Kind::Counter { "_total" } else { "" };
            for p in s.data_points() {
                labels.clear();
                write_labels(labels, || p.attributes());
                write_sample(out, family, suffix, labels, None)?;
                p.value().write(out)?;
                out.write_char('\n')?;
            }
        }
        MetricData::Histogram(h) => write_histogram(out, family, h, labels, None)?,
        MetricData::ExponentialHistogram(_) => {}
    }
    Ok(())
}

fn write_histogram<T: Num>(
    out: &mut impl Write,
    family: &str,
    h: &Histogram<T>,
    labels: &mut String,
    exemplars: Option<&super::exemplars::Slots>,
) -> fmt::Result {
    let mut le = String::with_capacity(24);
    for p in h.data_points() {
        labels.clear();
        write_labels(labels, || p.attributes());
        let by_bucket = exemplars.and_then(|s| s.of(p.attributes()));
        let exemplar = |i: usize| by_bucket.as_ref().and_then(|b| b.get(i).copied().flatten());
        let buckets = p.bounds().zip(p.bucket_counts());
        write_histogram_point(
            out,
            family,
            labels,
            &mut le,
            buckets,
            p.count(),
            p.sum(),
            exemplar,
        )?;
    }
    Ok(())
}

/// One histogram point (its `labels` written already): the cumulative `_bucket` rows of
/// `buckets` (bound, count), `+Inf`, each with its bucket's exemplar, then `_sum` and `_count`.
/// For the SDK's points and the library's own (`own.rs`) alike.
#[allow(clippy::too_many_arguments)]
fn write_histogram_point(
    out: &mut impl Write,
    family: &str,
    labels: &str,
    le: &mut String,
    buckets: impl Iterator<Item = (f64, u64)>,
    count: u64,
    sum: impl Num,
    exemplar: impl Fn(usize) -> Option<super::exemplars::Exemplar>,
) -> fmt::Result {
    let mut cumulative = 0u64;
    let mut n = 0;
    for (bound, c) in buckets {
        cumulative += c;
        le.clear();
        write_float(le, bound)?;
        write_sample(out, family, "_bucket", labels, Some(("le", le)))?;
        cumulative.write(out)?;
        write_exemplar(out, exemplar(n))?;
        out.write_char('\n')?;
        n += 1;
    }
    write_sample(out, family, "_bucket", labels, Some(("le", "+Inf")))?;
    count.write(out)?;
    write_exemplar(out, exemplar(n))?;
    out.write_char('\n')?;
    write_sample(out, family, "_sum", labels, None)?;
    sum.write(out)?;
    out.write_char('\n')?;
    write_sample(out, family, "_count", labels, None)?;
    count.write(out)?;
    out.write_char('\n')
}

/// ` # {trace_id="…",span_id="…"} value timestamp` (OpenMetrics' exemplar: 63 characters of
/// labels, within the format's 128), or nothing.
fn write_exemplar(out: &mut impl Write, e: Option<super::exemplars::Exemplar>) -> fmt::Result {
    let Some(e) = e else { return Ok(()) };
    out.write_str(" # {trace_id=\"")?;
    for b in e.trace_id {
        write!(out, "{b:02x}")?;
    }
    out.write_str("\",span_id=\"")?;
    for b in e.span_id {
        write!(out, "{b:02x}")?;
    }
    out.write_str("\"} ")?;
    write_float(out, e.value)?;
    // Seconds since the epoch, to the millisecond.
    let ms = e.time_unix_nano / 1_000_000;
    write!(out, " {}.{:03}", ms / 1000, ms % 1000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otel_names_get_unit_and_total_suffixes_once() {
        let cases = [
            (
                "http.server.request.duration",
                "s",
                false,
                false,
                "http_server_request_duration_seconds",
                "seconds",
            ),
            (
                "http.server.request.duration",
                "ms",
                false,
                false,
                "http_server_request_duration_milliseconds",
                "milliseconds",
            ),
            (
                "db.bytes_seconds",
                "s",
                false,
                false,
                "db_bytes_seconds",
                "seconds",
            ),
            ("rpc.requests", "{request}", true, false, "rpc_requests", ""),
            (
                "net.io",
                "By/s",
                false,
                true,
                "net_io_bytes_per_second",
                "bytes_per_second",
            ),
            (
                "cpu.utilization",
                "1",
                false,
                true,
                "cpu_utilization_ratio",
                "ratio",
            ),
            ("jobs.completed", "1", true, false, "jobs_completed", ""),
            (
                "process.cpu.time",
                "s",
                true,
                false,
                "process_cpu_time_seconds",
                "seconds",
            ),
            (
                "weird-name/with spaces",
                "",
                false,
                true,
                "weird_name_with_spaces",
                "",
            ),
            ("9lives", "", false, true, "_9lives", ""),
            (
                "procman_http_requests_total",
                "",
                true,
                false,
                "procman_http_requests",
                "",
            ),
            (
                "process_cpu_seconds_total",
                "s",
                true,
                false,
                "process_cpu_seconds",
                "seconds",
            ),
            (
                "procman_uptime_seconds",
                "s",
                false,
                true,
                "procman_uptime_seconds",
                "seconds",
            ),
            ("a.b_total", "s", true, false, "a_b_seconds", "seconds"),
        ];
        for (name, unit, counter, gauge, family, u) in cases {
            let n = prom_name(name, unit, counter, gauge);
            assert_eq!(
                (n.family.as_str(), n.unit.as_str()),
                (family, u),
                "{name} [{unit}]"
            );
        }
    }

    #[test]
    fn an_exemplar_is_written_in_the_openmetrics_syntax() {
        let e = super::super::exemplars::Exemplar {
            value: 0.042,
            time_unix_nano: 1_764_500_000_250_999_999,
            trace_id: [
                0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd, 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21, 0x1c, 0x80,
                0x31, 0x9c,
            ],
            span_id: [0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31],
        };
        let mut out = String::from("demo_seconds_bucket{le=\"0.05\"} 3");
        write_exemplar(&mut out, Some(e)).unwrap();
        assert_eq!(
            out,
            "demo_seconds_bucket{le=\"0.05\"} 3 # {trace_id=\"0af7651916cd43dd8448eb211c80319c\",\
             span_id=\"b7ad6b7169203331\"} 0.042 1764500000.250"
        );
        let labels = &out[out.find("# {").unwrap() + 3..out.find("} 0.042").unwrap()];
        assert!(
            labels.chars().count() <= 128,
            "OpenMetrics: exemplar labels within 128 characters"
        );
        let mut none = String::new();
        write_exemplar(&mut none, None).unwrap();
        assert_eq!(none, "");
    }

    #[test]
    fn floats_are_written_the_way_prometheus_parses_them() {
        let mut s = String::new();
        for v in [
            0.005,
            1.0,
            120.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            -2.5,
            1e-9,
        ] {
            write_float(&mut s, v).unwrap();
            s.push(' ');
        }
        assert_eq!(s, "0.005 1 120 NaN +Inf -Inf -2.5 1e-9 ");
    }

    #[test]
    fn label_values_and_help_are_escaped() {
        let mut s = String::new();
        escape_label_value(&mut s, "a\"b\\c\nd 🦀").unwrap();
        assert_eq!(s, "a\\\"b\\\\c\\nd 🦀");
        let mut s = String::new();
        escape_help(&mut s, "x\\y\n\"z\"", Format::Text).unwrap();
        assert_eq!(s, "x\\\\y\\n\"z\"");
        let mut s = String::new();
        escape_help(&mut s, "\"z\"", Format::OpenMetrics).unwrap();
        assert_eq!(s, "\\\"z\\\"");
    }

    #[test]
    fn an_empty_registry_encodes_to_nothing_but_the_eof_marker() {
        let rm = ResourceMetrics::default();
        let mut s = String::new();
        encode(&mut s, &rm, Format::Text).unwrap();
        assert_eq!(s, "");
        encode(&mut s, &rm, Format::OpenMetrics).unwrap();
        assert_eq!(s, "# EOF\n");
    }

    #[test]
    fn negotiation_follows_q_values_and_versions() {
        let cases = [
            (None, Format::Text),
            (Some(""), Format::Text),
            (Some("*/*"), Format::Text),
            (Some("application/openmetrics-text"), Format::OpenMetrics),
            (Some("application/openmetrics-text;version=0.0.1"), Format::OpenMetrics),
            (Some("application/openmetrics-text;version=2.0.0"), Format::Text),
            (Some("text/plain;version=0.0.4;q=0.9,application/openmetrics-text;q=0.5"), Format::Text),
            (Some("text/plain;q=0.1,application/openmetrics-text;version=1.0.0;q=0.2"), Format::OpenMetrics),
            (Some("application/openmetrics-text;q=0"), Format::Text),
            (Some("application/json"), Format::Text),
            (
                Some("application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2"),
                Format::OpenMetrics,
            ),
        ];
        for (accept, want) in cases {
            assert_eq!(Format::negotiate(accept), want, "{accept:?}");
        }
    }
}
