//! The metric catalogue: every metric declared once, as data.
//!
//! A [`MetricDef`] names a metric and says what it is: its instrument, unit, help text, labels
//! (each a closed set of values or a series budget), histogram buckets and the subsystem it
//! belongs to. Registration ([`Metrics::counter`](crate::metrics::Metrics::counter) and
//! friends), the cardinality limits, the README tables — and the planned tools that lint a live
//! service or generate rules and dashboards — read the same definitions, so they cannot drift.
//!
//! The library's own metrics are the constants of this module ([`BUILTIN`] lists those every
//! pipeline registers, [`HTTP`] those of the HTTP layers). An application declares its own the
//! same way and registers them through [`Metrics`](crate::metrics::Metrics):
//!
//! ```
//! use watchpost::catalogue::{Label, MetricDef, Unit};
//!
//! const JOBS: MetricDef = MetricDef::counter("demo_jobs_total", "Jobs run, by outcome")
//!     .labels(&[Label::closed("outcome", &["ok", "failed"])])
//!     .subsystem("JOBS");
//! const JOB_DURATION: MetricDef = MetricDef::histogram(
//!     "demo_job_duration_seconds",
//!     "Time to run a job",
//!     watchpost::metrics::buckets::DURATION_SECONDS,
//! )
//! .unit(Unit::Seconds)
//! .subsystem("JOBS");
//!
//! let config = watchpost::Config::builder("demo").build().unwrap();
//! let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
//! let jobs = telemetry.metrics().counter(&JOBS);
//! jobs.add(1, &[opentelemetry::KeyValue::new("outcome", "ok")]);
//! telemetry.metrics().histogram(&JOB_DURATION).record(0.2, &[]);
//!
//! let catalogue = telemetry.metrics().catalogue();
//! assert!(catalogue.get("demo_jobs_total").is_some());
//! assert!(catalogue.to_json().contains("\"name\": \"demo_job_duration_seconds\""));
//! ```

use std::fmt::Write as _;

pub mod buckets;
mod builtin;
mod function;
pub mod targets;

pub use builtin::*;
pub use function::*;

/// The kind of instrument a metric is recorded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Instrument {
    /// A monotonic sum (`u64`/`f64` counter, or an observable counter).
    Counter,
    /// A sum that goes up and down (exposed as a gauge).
    UpDownCounter,
    /// A value sampled at collection time.
    Gauge,
    /// A histogram with explicit buckets.
    Histogram,
}

impl Instrument {
    /// The Prometheus type of the exposed family.
    ///
    /// ```
    /// use watchpost::catalogue::Instrument;
    /// assert_eq!(Instrument::UpDownCounter.prometheus_type(), "gauge");
    /// ```
    pub fn prometheus_type(self) -> &'static str {
        match self {
            Instrument::Counter => "counter",
            Instrument::UpDownCounter | Instrument::Gauge => "gauge",
            Instrument::Histogram => "histogram",
        }
    }

    /// The OpenTelemetry instrument name (`counter`, `updowncounter`, `gauge`, `histogram`), as
    /// semantic-convention registries spell it.
    ///
    /// ```
    /// assert_eq!(watchpost::catalogue::Instrument::UpDownCounter.otel_name(), "updowncounter");
    /// ```
    pub fn otel_name(self) -> &'static str {
        match self {
            Instrument::Counter => "counter",
            Instrument::UpDownCounter => "updowncounter",
            Instrument::Gauge => "gauge",
            Instrument::Histogram => "histogram",
        }
    }
}

/// The unit of a metric. The Prometheus name must end with its suffix (`_seconds`, `_bytes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unit {
    /// A count of things: no unit.
    None,
    /// Seconds (UCUM `s`).
    Seconds,
    /// Bytes (UCUM `By`).
    Bytes,
}

impl Unit {
    /// The UCUM code OpenTelemetry uses (`""`, `"s"`, `"By"`).
    ///
    /// ```
    /// assert_eq!(watchpost::catalogue::Unit::Bytes.ucum(), "By");
    /// ```
    pub fn ucum(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Seconds => "s",
            Unit::Bytes => "By",
        }
    }

    /// The Prometheus unit (`""`, `"seconds"`, `"bytes"`): the `# UNIT` line and name suffix.
    ///
    /// ```
    /// assert_eq!(watchpost::catalogue::Unit::Seconds.prometheus(), "seconds");
    /// ```
    pub fn prometheus(self) -> &'static str {
        match self {
            Unit::None => "",
            Unit::Seconds => "seconds",
            Unit::Bytes => "bytes",
        }
    }
}

/// The values a label may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Values {
    /// Exactly these values.
    Closed(&'static [&'static str]),
    /// Open-ended but bounded: at most this many distinct values are expected (the series budget
    /// of the metric is the product over its labels).
    Budget(usize),
}

/// One label of a metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Label {
    name: &'static str,
    values: Values,
}

impl Label {
    /// A label with a closed set of values.
    ///
    /// ```
    /// let l = watchpost::catalogue::Label::closed("signal", &["traces", "metrics", "logs"]);
    /// assert_eq!(l.cardinality(), 3);
    /// ```
    pub const fn closed(name: &'static str, values: &'static [&'static str]) -> Label {
        Label {
            name,
            values: Values::Closed(values),
        }
    }

    /// A label with at most `budget` distinct values.
    ///
    /// ```
    /// let l = watchpost::catalogue::Label::budget("path", 100);
    /// assert_eq!(l.cardinality(), 100);
    /// ```
    pub const fn budget(name: &'static str, budget: usize) -> Label {
        Label {
            name,
            values: Values::Budget(budget),
        }
    }

    /// The label's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The label's values.
    pub fn values(&self) -> Values {
        self.values
    }

    /// The most distinct values it takes.
    pub fn cardinality(&self) -> usize {
        match self.values {
            Values::Closed(v) => v.len(),
            Values::Budget(n) => n,
        }
    }
}

/// A metric, declared once. Build it in a `const` with [`counter`](Self::counter),
/// [`up_down_counter`](Self::up_down_counter), [`gauge`](Self::gauge) or
/// [`histogram`](Self::histogram), then refine it with [`unit`](Self::unit),
/// [`labels`](Self::labels) and [`subsystem`](Self::subsystem).
///
/// The name is the Prometheus family name as scraped (counters end in `_total`, units are a
/// suffix). A definition made [`per_service`](Self::per_service) is named `<svc>_<name>`, where
/// `<svc>` is the service's metric prefix.
///
/// ```
/// use watchpost::catalogue::{MetricDef, Unit};
/// const UP: MetricDef = MetricDef::gauge("uptime_seconds", "Seconds since start").unit(Unit::Seconds).per_service();
/// assert_eq!(UP.name_for("procman"), "procman_uptime_seconds");
/// assert_eq!(UP.display_name(), "<svc>_uptime_seconds");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MetricDef {
    name: &'static str,
    per_service: bool,
    instrument: Instrument,
    unit: Unit,
    help: &'static str,
    labels: &'static [Label],
    buckets: &'static [f64],
    subsystem: &'static str,
}

impl MetricDef {
    const fn new(name: &'static str, instrument: Instrument, help: &'static str) -> MetricDef {
        MetricDef {
            name,
            per_service: false,
            instrument,
            unit: Unit::None,
            help,
            labels: &[],
            buckets: &[],
            subsystem: "",
        }
    }

    /// A counter (monotonic). Its name ends in `_total`.
    pub const fn counter(name: &'static str, help: &'static str) -> MetricDef {
        MetricDef::new(name, Instrument::Counter, help)
    }

    /// An up-down counter (exposed as a gauge).
    pub const fn up_down_counter(name: &'static str, help: &'static str) -> MetricDef {
        MetricDef::new(name, Instrument::UpDownCounter, help)
    }

    /// A gauge, usually observed at collection time.
    pub const fn gauge(name: &'static str, help: &'static str) -> MetricDef {
        MetricDef::new(name, Instrument::Gauge, help)
    }

    /// A histogram with these bucket boundaries (see [`crate::metrics::buckets`]).
    pub const fn histogram(
        name: &'static str,
        help: &'static str,
        buckets: &'static [f64],
    ) -> MetricDef {
        let mut def = MetricDef::new(name, Instrument::Histogram, help);
        def.buckets = buckets;
        def
    }

    /// Sets the unit. Default: [`Unit::None`].
    pub const fn unit(mut self, unit: Unit) -> MetricDef {
        self.unit = unit;
        self
    }

    /// Sets the labels. Default: none.
    pub const fn labels(mut self, labels: &'static [Label]) -> MetricDef {
        self.labels = labels;
        self
    }

    /// Sets the subsystem the metric belongs to (as in `LOG_LEVEL_<SUBSYSTEM>`). Default: none.
    pub const fn subsystem(mut self, subsystem: &'static str) -> MetricDef {
        self.subsystem = subsystem;
        self
    }

    /// Names the metric `<svc>_<name>` (the library's own metrics). Default: the name as given.
    pub const fn per_service(mut self) -> MetricDef {
        self.per_service = true;
        self
    }

    /// The name as declared (without the service prefix).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The full name for a service whose metric prefix is `prefix`.
    pub fn name_for(&self, prefix: &str) -> String {
        if self.per_service {
            format!("{prefix}_{}", self.name)
        } else {
            self.name.to_string()
        }
    }

    /// The name as documented: `<svc>_<name>` for per-service metrics.
    pub fn display_name(&self) -> String {
        self.name_for("<svc>")
    }

    /// Whether the name carries the service prefix.
    pub fn is_per_service(&self) -> bool {
        self.per_service
    }

    /// The instrument.
    pub fn instrument(&self) -> Instrument {
        self.instrument
    }

    /// The unit.
    pub fn unit_of(&self) -> Unit {
        self.unit
    }

    /// The help text (`# HELP`).
    pub fn help(&self) -> &'static str {
        self.help
    }

    /// The labels.
    pub fn labels_of(&self) -> &'static [Label] {
        self.labels
    }

    /// The bucket boundaries (empty unless a histogram).
    pub fn buckets(&self) -> &'static [f64] {
        self.buckets
    }

    /// The subsystem (empty: none).
    pub fn subsystem_of(&self) -> &'static str {
        self.subsystem
    }

    /// The most series the labels allow (the product of their cardinalities; 1 without labels).
    ///
    /// ```
    /// assert_eq!(watchpost::catalogue::TELEMETRY_DROPPED.series_budget(), 3);
    /// ```
    pub fn series_budget(&self) -> usize {
        self.labels
            .iter()
            .fold(1usize, |n, l| n.saturating_mul(l.cardinality().max(1)))
    }
}

/// The metrics of one service: the library's built-ins and what the application registered.
/// [`Metrics::catalogue`](crate::metrics::Metrics::catalogue) returns the live one.
#[derive(Debug, Clone)]
pub struct Catalogue {
    prefix: String,
    metrics: Vec<MetricDef>,
}

impl Catalogue {
    /// A catalogue of `metrics` for a service whose metric prefix is `prefix`.
    ///
    /// ```
    /// let c = watchpost::catalogue::Catalogue::new("procman", watchpost::catalogue::BUILTIN.to_vec());
    /// assert!(c.get("procman_uptime_seconds").is_some());
    /// ```
    pub fn new(prefix: impl Into<String>, metrics: Vec<MetricDef>) -> Catalogue {
        Catalogue {
            prefix: prefix.into(),
            metrics,
        }
    }

    /// The metric prefix (the sanitized service name).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every definition, in registration order.
    pub fn metrics(&self) -> &[MetricDef] {
        &self.metrics
    }

    /// The definition whose full name is `name`.
    pub fn get(&self, name: &str) -> Option<&MetricDef> {
        self.metrics
            .iter()
            .find(|m| m.name_for(&self.prefix) == name)
    }

    /// The catalogue as JSON: `{"service_prefix", "metrics": [{name, instrument, type, unit,
    /// help, subsystem, labels: [{name, values | budget}], buckets, series_budget}]}`.
    /// `series_budget` is what the labels allow; the pipeline enforces it capped by its default
    /// budget (or a configured per-metric budget).
    ///
    /// ```
    /// let c = watchpost::catalogue::Catalogue::new("svc", vec![watchpost::catalogue::TELEMETRY_DROPPED]);
    /// let json = c.to_json();
    /// assert!(json.contains("\"name\": \"svc_telemetry_dropped_total\""));
    /// assert!(json.contains("\"values\": [\"traces\", \"metrics\", \"logs\"]"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        out.push_str("{\n  \"service_prefix\": ");
        json_str(&mut out, &self.prefix);
        out.push_str(",\n  \"metrics\": [");
        for (i, m) in self.metrics.iter().enumerate() {
            out.push_str(if i == 0 { "\n    {" } else { ",\n    {" });
            out.push_str("\"name\": ");
            json_str(&mut out, &m.name_for(&self.prefix));
            let _ = write!(
                out,
                ", \"instrument\": \"{}\", \"type\": \"{}\", \"unit\": \"{}\", \"help\": ",
                m.instrument.otel_name(),
                m.instrument.prometheus_type(),
                m.unit.prometheus()
            );
            json_str(&mut out, m.help);
            out.push_str(", \"subsystem\": ");
            json_str(&mut out, m.subsystem);
            out.push_str(", \"labels\": [");
            for (j, l) in m.labels.iter().enumerate() {
                out.push_str(if j == 0 {
                    "{\"name\": "
                } else {
                    ", {\"name\": "
                });
                json_str(&mut out, l.name);
                match l.values {
                    Values::Closed(values) => {
                        out.push_str(", \"values\": [");
                        for (k, v) in values.iter().enumerate() {
                            if k > 0 {
                                out.push_str(", ");
                            }
                            json_str(&mut out, v);
                        }
                        out.push_str("]}");
                    }
                    Values::Budget(n) => {
                        let _ = write!(out, ", \"budget\": {n}}}");
                    }
                }
            }
            out.push_str("], \"buckets\": [");
            for (j, b) in m.buckets.iter().enumerate() {
                let _ = write!(out, "{}{b:?}", if j == 0 { "" } else { ", " });
            }
            let _ = write!(out, "], \"series_budget\": {}}}", m.series_budget());
        }
        out.push_str("\n  ]\n}\n");
        out
    }

    /// The catalogue as a Weaver-style semantic-convention registry (YAML): one `metric` group
    /// per metric, with its instrument, unit, brief and attributes (closed sets as enums).
    ///
    /// ```
    /// let c = watchpost::catalogue::Catalogue::new("svc", vec![watchpost::catalogue::TELEMETRY_DROPPED]);
    /// let yaml = c.to_yaml();
    /// assert!(yaml.contains("  - id: metric.svc_telemetry_dropped_total\n    type: metric\n"));
    /// assert!(yaml.contains("    instrument: counter\n"));
    /// ```
    pub fn to_yaml(&self) -> String {
        let mut out = String::from("groups:\n");
        for m in &self.metrics {
            let name = m.name_for(&self.prefix);
            let _ = writeln!(out, "  - id: metric.{name}");
            out.push_str("    type: metric\n");
            let _ = writeln!(out, "    metric_name: {name}");
            let _ = writeln!(out, "    instrument: {}", m.instrument.otel_name());
            let _ = writeln!(out, "    unit: \"{}\"", m.unit.ucum());
            out.push_str("    brief: ");
            json_str(&mut out, m.help); // a JSON string is a valid YAML double-quoted scalar
            out.push('\n');
            out.push_str("    stability: development\n");
            if !m.subsystem.is_empty() {
                let _ = writeln!(
                    out,
                    "    annotations:\n      watchpost:\n        subsystem: {}",
                    m.subsystem
                );
            }
            if m.labels.is_empty() {
                continue;
            }
            out.push_str("    attributes:\n");
            for l in m.labels {
                let _ = writeln!(out, "      - id: {}", l.name);
                out.push_str("        requirement_level: required\n");
                match l.values {
                    Values::Closed(values) => {
                        out.push_str("        type:\n          members:\n");
                        for v in values {
                            let _ = writeln!(
                                out,
                                "            - id: {v}\n              value: \"{v}\""
                            );
                        }
                        out.push_str("        brief: \"one of a closed set\"\n");
                    }
                    Values::Budget(n) => {
                        out.push_str("        type: string\n");
                        let _ = writeln!(out, "        brief: \"at most {n} distinct values\"");
                    }
                }
            }
        }
        out
    }

    /// A Markdown table (`| Metric | Type | Unit | Labels | Description |`) of the catalogue,
    /// with `<svc>` for the service prefix: what the README shows.
    ///
    /// ```
    /// let c = watchpost::catalogue::Catalogue::new("svc", vec![watchpost::catalogue::TELEMETRY_DROPPED]);
    /// assert_eq!(
    ///     c.markdown_table(),
    ///     "| Metric | Type | Unit | Labels | Description |\n|---|---|---|---|---|\n\
    ///      | `<svc>_telemetry_dropped_total` | counter |  | signal | Telemetry items dropped: full export queue, failed export, or refused by the collector |\n"
    /// );
    /// ```
    pub fn markdown_table(&self) -> String {
        let mut out = String::from(
            "| Metric | Type | Unit | Labels | Description |\n|---|---|---|---|---|\n",
        );
        for m in &self.metrics {
            let labels: Vec<&str> = m.labels.iter().map(|l| l.name).collect();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                m.display_name(),
                m.instrument.prometheus_type(),
                m.unit.prometheus(),
                labels.join(","),
                m.help
            );
        }
        out
    }
}

/// `doc` with the text between the markers `<!-- catalogue:{section} -->` and
/// `<!-- /catalogue:{section} -->` replaced by `table`: how a README keeps generated tables
/// ([`Catalogue::markdown_table`]) in place. `None` if the markers are missing.
///
/// ```
/// let doc = "# Metrics\n<!-- catalogue:app -->\nold\n<!-- /catalogue:app -->\nmore\n";
/// let new = watchpost::catalogue::fill_markdown_section(doc, "app", "| t |\n").unwrap();
/// assert_eq!(new, "# Metrics\n<!-- catalogue:app -->\n| t |\n<!-- /catalogue:app -->\nmore\n");
/// assert!(watchpost::catalogue::fill_markdown_section(doc, "other", "").is_none());
/// ```
pub fn fill_markdown_section(doc: &str, section: &str, table: &str) -> Option<String> {
    let open = format!("<!-- catalogue:{section} -->\n");
    let close = format!("<!-- /catalogue:{section} -->");
    let start = doc.find(&open)? + open.len();
    let end = start + doc[start..].find(&close)?;
    Some(format!("{}{table}{}", &doc[..start], &doc[end..]))
}

fn json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
