//! `watchpost dashboard`: a Grafana dashboard (JSON, schema 39, Grafana 10+) generated from a
//! service's metric catalogue, querying only what the catalogue declares.
//!
//! Rows: **RED per route** (request rate, 5xx ratio and p50/p90/p99 latency by `path`, from the
//! HTTP server histogram), **saturation** (requests in flight, CPU, memory, descriptors, the
//! Tokio runtime), **telemetry health** (drops, export errors, series overflow, lost log lines),
//! **SLO** (error budget remaining and burn rates from the recording rules of `watchpost
//! rules`), then **one row per subsystem** with a panel for every metric not shown above
//! (counters as a rate by their labels, gauges as they are, histograms as their p99). A panel is
//! there only when its metrics are in the catalogue.
//!
//! Template variables: `datasource` (Prometheus), `job` (every catalogue selector matches
//! `{job=~"$job"}`; panels show one line per `instance`), `service` (the `service` label of
//! the SLO recording rules, by default the catalogue's prefix) and `slo`. Every rate uses
//! `$__rate_interval`. Every query passes [`promql::check`] against the catalogue, with
//! [`SLO_SERIES`] as extra series.
//!
//! ```
//! use watchpost_cli::catalogue::Catalogue;
//! use watchpost_cli::dashboard::{self, DashboardOptions};
//!
//! let c = Catalogue::parse(r#"{"service_prefix": "svc", "metrics": [
//!   {"name": "svc_jobs_total", "type": "counter", "subsystem": "JOBS",
//!    "labels": [{"name": "outcome", "values": ["ok", "failed"]}]}]}"#).unwrap();
//! let d = dashboard::generate(&c, &DashboardOptions::default());
//! assert_eq!(d["uid"], "watchpost-svc");
//! let exprs = dashboard::expressions(&d);
//! assert!(exprs.contains(&r#"sum by (outcome) (rate(svc_jobs_total{job=~"$job"}[$__rate_interval]))"#.to_owned()));
//! assert!(dashboard::problems(&c, &d).is_empty());
//! ```

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::catalogue::{self, Catalogue, CatalogueMetric};
use crate::error::{Error, Result};
use crate::promql::{self, Problem};

/// The recording rules the SLO row reads (written by `watchpost rules`).
pub const SLO_SERIES: &[&str] = &[
    "watchpost:slo_errors:ratio_rate5m",
    "watchpost:slo_errors:ratio_rate1h",
    "watchpost:slo_objective:ratio",
    "watchpost:slo_error_budget_remaining:ratio",
];

/// The matchers every catalogue selector of the dashboard carries.
const TARGET_MATCHERS: &str = r#"job=~"$job""#;

/// The matchers of the SLO row's selectors: the recording rules carry `service` and `slo`.
const SLO_MATCHERS: &str = r#"{service="$service", slo=~"$slo"}"#;

/// What `generate` may be told.
#[derive(Debug, Clone, Default)]
pub struct DashboardOptions {
    /// The dashboard's title (default: `<prefix> (Watchpost)`).
    pub title: Option<String>,
    /// Its uid (default: `watchpost-<prefix>`; Grafana allows 40 characters).
    pub uid: Option<String>,
}

/// `watchpost dashboard`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct DashboardArgs {
    /// The service's catalogue: a JSON file exported by the library (`GET /metrics/catalogue`),
    /// a URL, or -.
    #[arg(long, value_name = "FILE|URL|-")]
    pub catalogue: String,
    /// The dashboard's title (default: `<service prefix> (Watchpost)`).
    #[arg(long, value_name = "T")]
    pub title: Option<String>,
    /// The dashboard's uid (default: `watchpost-<service prefix>`).
    #[arg(long, value_name = "U")]
    pub uid: Option<String>,
}

/// Runs `watchpost dashboard`: reads the catalogue, generates the dashboard, checks every query
/// against the catalogue, and returns the JSON to print.
pub async fn run(args: &DashboardArgs) -> Result<String> {
    let c = catalogue::load(&args.catalogue).await?;
    let options = DashboardOptions {
        title: args.title.clone(),
        uid: args.uid.clone(),
    };
    if let Some(uid) = &options.uid {
        if uid.is_empty() || uid.len() > 40 {
            return Err(Error::new(format!("--uid '{uid}' is not a Grafana uid"))
                .hint("give 1 to 40 characters: letters, digits, - and _"));
        }
    }
    let d = generate(&c, &options);
    let problems = problems(&c, &d);
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        return Err(Error::new(format!(
            "the dashboard for '{}' would query what its catalogue does not declare:\n{}",
            args.catalogue,
            list.join("\n")
        ))
        .hint("this is a bug of watchpost: please report it with the catalogue"));
    }
    Ok(format!("{d:#}\n"))
}

/// Every query of `dashboard` checked against `catalogue` (with [`SLO_SERIES`]): no problem, an
/// empty list.
pub fn problems(catalogue: &Catalogue, dashboard: &Value) -> Vec<Problem> {
    expressions(dashboard)
        .iter()
        .flat_map(|e| promql::check(e, catalogue, SLO_SERIES))
        .collect()
}

/// Every panel query (`targets[].expr`) of a dashboard, rows' nested panels included, in order.
pub fn expressions(dashboard: &Value) -> Vec<String> {
    fn walk(panels: &Value, out: &mut Vec<String>) {
        for p in panels.as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(e) = t["expr"].as_str() {
                    out.push(e.to_owned());
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    walk(&dashboard["panels"], &mut out);
    out
}

/// `expr` with Grafana's variables replaced, to send it to Prometheus as Grafana would:
/// `$__rate_interval`, `$__interval` and `$__range` by `interval`, and each `(name, value)` of
/// `values` (`$name` and `${name}`). Variables not given are left as they are.
///
/// ```
/// let e = watchpost_cli::dashboard::instantiate(
///     r#"rate(x{job=~"$job", instance=~"${instance}"}[$__rate_interval])"#, "1m",
///     &[("job", ".+"), ("instance", ".*")]);
/// assert_eq!(e, r#"rate(x{job=~".+", instance=~".*"}[1m])"#);
/// ```
pub fn instantiate(expr: &str, interval: &str, values: &[(&str, &str)]) -> String {
    let lookup = |name: &str| -> Option<String> {
        match name {
            "__rate_interval" | "__interval" | "__range" => Some(interval.to_owned()),
            _ => values
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned()),
        }
    };
    let mut out = String::with_capacity(expr.len());
    let mut rest = expr;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, len) = if let Some(b) = after.strip_prefix('{') {
            match b.find('}') {
                Some(end) => (&b[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        match lookup(name) {
            Some(v) if !name.is_empty() => {
                out.push_str(&v);
                rest = &after[len..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// `name{job=~"$job", extra}`.
fn sel(name: &str, extra: &str) -> String {
    if extra.is_empty() {
        format!("{name}{{{TARGET_MATCHERS}}}")
    } else {
        format!("{name}{{{TARGET_MATCHERS}, {extra}}}")
    }
}

fn rate(name: &str, extra: &str) -> String {
    format!("rate({}[$__rate_interval])", sel(name, extra))
}

fn legend(labels: &[&str]) -> String {
    if labels.is_empty() {
        "{{instance}}".to_owned()
    } else {
        labels
            .iter()
            .map(|l| format!("{{{{{l}}}}}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

fn label_names(m: &CatalogueMetric) -> Vec<&str> {
    m.labels.iter().map(|l| l.name.as_str()).collect()
}

/// `sum by (labels) (rate(counter[…]))`, per instance when it has no label.
fn counter_rate(m: &CatalogueMetric) -> (String, String) {
    let labels = label_names(m);
    let by = if labels.is_empty() {
        "instance".to_owned()
    } else {
        labels.join(", ")
    };
    (
        format!("sum by ({by}) ({})", rate(&m.name, "")),
        legend(&labels),
    )
}

fn quantile(m: &CatalogueMetric, q: &str, by: &[&str]) -> String {
    let mut labels = vec!["le"];
    labels.extend_from_slice(by);
    format!(
        "histogram_quantile({q}, sum by ({}) ({}))",
        labels.join(", "),
        rate(&format!("{}_bucket", m.name), "")
    )
}

fn unit_of(m: &CatalogueMetric, per_second: bool) -> &'static str {
    match (m.unit.as_str(), per_second) {
        ("seconds", false) => "s",
        ("bytes", false) => "bytes",
        ("bytes", true) => "Bps",
        ("seconds", true) => "percentunit",
        (_, true) => "cps",
        _ => "short",
    }
}

/// A query of a panel: the expression and its legend.
struct Target {
    expr: String,
    legend: String,
}

fn t(expr: impl Into<String>, legend: impl Into<String>) -> Target {
    Target {
        expr: expr.into(),
        legend: legend.into(),
    }
}

struct Builder<'c> {
    catalogue: &'c Catalogue,
    panels: Vec<Value>,
    next_id: u64,
    x: u64,
    y: u64,
    used: HashSet<String>,
}

const PANEL_HEIGHT: u64 = 8;
const PANEL_WIDTH: u64 = 12;

fn datasource() -> Value {
    json!({"type": "prometheus", "uid": "${datasource}"})
}

impl<'c> Builder<'c> {
    /// The catalogue metric `name` of type `kind`, marked as shown.
    fn take(&mut self, name: &str, kind: &str) -> Option<&'c CatalogueMetric> {
        let m = self.catalogue.get(name).filter(|m| m.kind == kind)?;
        self.used.insert(m.name.clone());
        Some(m)
    }

    fn prefixed(&self, name: &str) -> String {
        if self.catalogue.service_prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}_{name}", self.catalogue.service_prefix)
        }
    }

    fn row(&mut self, title: &str) {
        if self.x > 0 {
            self.x = 0;
            self.y += PANEL_HEIGHT;
        }
        self.next_id += 1;
        self.panels.push(json!({
            "id": self.next_id,
            "type": "row",
            "title": title,
            "collapsed": false,
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
            "panels": [],
        }));
        self.y += 1;
    }

    fn panel(
        &mut self,
        kind: &str,
        title: &str,
        description: &str,
        unit: &str,
        targets: Vec<Target>,
    ) {
        if targets.is_empty() {
            return;
        }
        self.next_id += 1;
        let targets: Vec<Value> = targets
            .into_iter()
            .enumerate()
            .map(|(i, t)| {
                json!({
                    "refId": ref_id(i),
                    "datasource": datasource(),
                    "expr": t.expr,
                    "legendFormat": t.legend,
                    "range": true,
                    "editorMode": "code",
                })
            })
            .collect();
        let mut panel = json!({
            "id": self.next_id,
            "type": kind,
            "title": title,
            "description": description,
            "datasource": datasource(),
            "gridPos": {"h": PANEL_HEIGHT, "w": PANEL_WIDTH, "x": self.x, "y": self.y},
            "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
            "targets": targets,
        });
        panel["options"] = if kind == "stat" {
            json!({
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": false},
                "colorMode": "value",
                "graphMode": "area",
                "textMode": "auto",
            })
        } else {
            json!({
                "legend": {"displayMode": "list", "placement": "bottom", "showLegend": true},
                "tooltip": {"mode": "multi", "sort": "desc"},
            })
        };
        self.panels.push(panel);
        if self.x == 0 {
            self.x = PANEL_WIDTH;
        } else {
            self.x = 0;
            self.y += PANEL_HEIGHT;
        }
    }

    fn red(&mut self) {
        let name = self.prefixed("http_request_duration_seconds");
        let Some(h) = self.take(&name, "histogram") else {
            return;
        };
        self.row("Requests: rate, errors, duration by route");
        let by: Vec<&str> = ["path"]
            .into_iter()
            .filter(|l| h.label(l).is_some())
            .collect();
        let group = if by.is_empty() {
            "sum".to_owned()
        } else {
            format!("sum by ({})", by.join(", "))
        };
        let count = format!("{name}_count");
        self.panel(
            "timeseries",
            "Request rate by route",
            "Requests per second, by route template (the _count of the request duration histogram)",
            "reqps",
            vec![t(format!("{group} ({})", rate(&count, "")), legend(&by))],
        );
        if h.label("status").is_some() {
            let all = format!("{group} ({})", rate(&count, ""));
            let errors = format!("{group} ({})", rate(&count, r#"status=~"5..""#));
            self.panel(
                "timeseries",
                "Server errors by route (5xx ratio)",
                "The share of requests answered with a 5xx status, by route template",
                "percentunit",
                vec![t(format!("({errors} or {all} * 0) / {all}"), legend(&by))],
            );
        }
        let targets = [("0.5", "p50"), ("0.9", "p90"), ("0.99", "p99")]
            .into_iter()
            .map(|(q, p)| {
                let l = if by.is_empty() {
                    p.to_owned()
                } else {
                    format!("{p} {}", legend(&by))
                };
                t(quantile(h, q, &by), l)
            })
            .collect();
        self.panel(
            "timeseries",
            "Request duration by route (p50, p90, p99)",
            &h.help,
            "s",
            targets,
        );
        if let Some(p) = self.take(&self.prefixed("http_panics_total"), "counter") {
            let (expr, legend) = counter_rate(p);
            self.panel(
                "timeseries",
                "Handler panics",
                &p.help,
                "cps",
                vec![t(expr, legend)],
            );
        }
    }

    fn saturation(&mut self) {
        let mut panels: Vec<(&str, &str, &str, Vec<Target>)> = Vec::new();
        if let Some(m) = self.take(&self.prefixed("http_requests_in_flight"), "gauge") {
            panels.push((
                "Requests in flight",
                &m.help,
                "short",
                vec![t(
                    format!("sum by (instance) ({})", sel(&m.name, "")),
                    "{{instance}}",
                )],
            ));
        }
        if let Some(m) = self.take("process_cpu_seconds_total", "counter") {
            panels.push((
                "CPU (cores)",
                &m.help,
                "short",
                vec![t(rate(&m.name, ""), "{{instance}}")],
            ));
        }
        if let Some(m) = self.take("process_resident_memory_bytes", "gauge") {
            panels.push((
                "Resident memory",
                &m.help,
                "bytes",
                vec![t(sel(&m.name, ""), "{{instance}}")],
            ));
        }
        let mut fds = Vec::new();
        for (name, what) in [("process_open_fds", "open"), ("process_max_fds", "limit")] {
            if let Some(m) = self.take(name, "gauge") {
                fds.push(t(sel(&m.name, ""), format!("{what} {{{{instance}}}}")));
            }
        }
        panels.push((
            "File descriptors",
            "Open file descriptors and their limit",
            "short",
            fds,
        ));
        let mut tokio = Vec::new();
        for (name, what) in [
            ("tokio_runtime_workers", "workers"),
            ("tokio_runtime_alive_tasks", "alive tasks"),
            ("tokio_runtime_global_queue_depth", "global queue"),
        ] {
            if let Some(m) = self.take(name, "gauge") {
                tokio.push(t(sel(&m.name, ""), format!("{what} {{{{instance}}}}")));
            }
        }
        panels.push((
            "Tokio runtime",
            "Worker threads, alive tasks and tasks waiting in the global queue",
            "short",
            tokio,
        ));
        if panels.iter().all(|p| p.3.is_empty()) {
            return;
        }
        self.row("Saturation");
        for (title, help, unit, targets) in panels {
            self.panel("timeseries", title, help, unit, targets);
        }
    }

    fn telemetry(&mut self) {
        let mut panels = Vec::new();
        for (name, title) in [
            ("telemetry_dropped_total", "Telemetry dropped by signal"),
            ("telemetry_export_errors_total", "Export errors by signal"),
            ("metric_series_overflow_total", "Series overflow by metric"),
            ("log_write_errors_total", "Lost log lines"),
            (
                "trace_buffer_overflow_total",
                "Tail-sampling buffer overflow",
            ),
        ] {
            if let Some(m) = self.take(&self.prefixed(name), "counter") {
                let (mut expr, legend) = counter_rate(m);
                if !m.labels.is_empty() {
                    // A labelled counter of rare events has no series until its first event:
                    // show 0, not "No data".
                    // `or on() vector(0)`: the 0 only when there is no series at all.
                    expr.push_str(" or on() vector(0)");
                }
                panels.push((title, m, vec![t(expr, legend)]));
            }
        }
        if panels.is_empty() {
            return;
        }
        self.row("Telemetry health");
        for (title, m, targets) in panels {
            self.panel("timeseries", title, &m.help, "cps", targets);
        }
    }

    fn slo(&mut self) {
        let [rate5m, rate1h, objective, budget] = SLO_SERIES else {
            unreachable!()
        };
        self.row("SLO");
        self.panel(
            "stat",
            "Error budget remaining",
            "The share of each SLO's error budget left in its window (watchpost rules)",
            "percentunit",
            vec![t(format!("{budget}{SLO_MATCHERS}"), "{{slo}}")],
        );
        let burn = |errors: &str| {
            format!(
                "{errors}{SLO_MATCHERS} / on (service, slo) group_left () (1 - {objective}{SLO_MATCHERS})"
            )
        };
        self.panel(
            "timeseries",
            "Burn rate",
            "The error ratio over 5 minutes and 1 hour divided by the error budget (1 - objective): at 1 the budget lasts exactly the SLO period; the page tiers fire at 14.4 (1h) and 6 (6h)",
            "short",
            vec![
                t(burn(rate5m), "5m {{slo}}"),
                t(burn(rate1h), "1h {{slo}}"),
            ],
        );
    }

    fn subsystems(&mut self) {
        let mut order: Vec<&str> = Vec::new();
        for m in &self.catalogue.metrics {
            if !order.contains(&m.subsystem.as_str()) {
                order.push(&m.subsystem);
            }
        }
        // Metrics without a subsystem last.
        order.sort_by_key(|s| s.is_empty());
        for subsystem in order {
            let metrics: Vec<&'c CatalogueMetric> = self
                .catalogue
                .metrics
                .iter()
                .filter(|m| m.subsystem == subsystem && !self.used.contains(&m.name))
                .collect();
            if metrics.is_empty() {
                continue;
            }
            self.row(&if subsystem.is_empty() {
                "Other metrics".to_owned()
            } else {
                format!("Subsystem {subsystem}")
            });
            for m in metrics {
                self.used.insert(m.name.clone());
                let labels = label_names(m);
                let (expr, legend, unit, title) = match m.kind.as_str() {
                    "counter" => {
                        let (e, l) = counter_rate(m);
                        (e, l, unit_of(m, true), format!("{} (per second)", m.name))
                    }
                    "histogram" => (
                        quantile(m, "0.99", &labels),
                        if labels.is_empty() {
                            "p99".to_owned()
                        } else {
                            format!("p99 {}", legend(&labels))
                        },
                        unit_of(m, false),
                        format!("{} (p99)", m.name),
                    ),
                    _ => {
                        let mut l = vec!["instance"];
                        l.extend(labels.iter().copied());
                        (
                            sel(&m.name, ""),
                            legend(&l),
                            unit_of(m, false),
                            m.name.clone(),
                        )
                    }
                };
                self.panel("timeseries", &title, &m.help, unit, vec![t(expr, legend)]);
            }
        }
    }
}

fn ref_id(i: usize) -> String {
    let mut s = String::new();
    let mut n = i;
    loop {
        s.insert(0, (b'A' + (n % 26) as u8) as char);
        if n < 26 {
            break;
        }
        n = n / 26 - 1;
    }
    s
}

/// A series of the catalogue to read `job` values from.
fn anchor(c: &Catalogue) -> String {
    let uptime = format!("{}_uptime_seconds", c.service_prefix);
    if c.get(&uptime).is_some() {
        return uptime;
    }
    let m = c
        .metrics
        .iter()
        .find(|m| m.name.starts_with(&c.service_prefix))
        .or(c.metrics.first());
    match m {
        Some(m) if m.kind == "histogram" => format!("{}_count", m.name),
        Some(m) => m.name.clone(),
        None => "up".to_owned(),
    }
}

fn query_variable(name: &str, label: &str, query: &str) -> Value {
    json!({
        "name": name,
        "label": label,
        "type": "query",
        "datasource": datasource(),
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "includeAll": true,
        "allValue": ".*",
        "multi": true,
        "current": {"selected": true, "text": ["All"], "value": ["$__all"]},
        "options": [],
        "regex": "",
        "sort": 1,
        "hide": 0,
        "skipUrlSync": false,
    })
}

fn default_uid(prefix: &str) -> String {
    let clean: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let mut uid = if clean.is_empty() {
        "watchpost".to_owned()
    } else {
        format!("watchpost-{clean}")
    };
    uid.truncate(40);
    uid
}

/// The Grafana dashboard for `catalogue`.
pub fn generate(catalogue: &Catalogue, opts: &DashboardOptions) -> Value {
    let prefix = &catalogue.service_prefix;
    let mut b = Builder {
        catalogue,
        panels: Vec::new(),
        next_id: 0,
        x: 0,
        y: 0,
        used: HashSet::new(),
    };
    b.red();
    b.saturation();
    b.telemetry();
    b.slo();
    b.subsystems();
    let anchor = anchor(catalogue);
    let title = opts.title.clone().unwrap_or_else(|| {
        if prefix.is_empty() {
            "Service (Watchpost)".to_owned()
        } else {
            format!("{prefix} (Watchpost)")
        }
    });
    let mut tags = vec!["watchpost".to_owned()];
    if !prefix.is_empty() {
        tags.push(prefix.clone());
    }
    json!({
        "id": null,
        "uid": opts.uid.clone().unwrap_or_else(|| default_uid(prefix)),
        "title": title,
        "description": format!("Generated by `watchpost dashboard` from the metric catalogue of {}", if prefix.is_empty() { "the service" } else { prefix }),
        "tags": tags,
        "schemaVersion": 39,
        "version": 1,
        "editable": true,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "fiscalYearStartMonth": 0,
        "liveNow": false,
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1,
            "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": true,
            "hide": true,
            "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts",
            "type": "dashboard",
        }]},
        "templating": {"list": [
            {
                "name": "datasource",
                "label": "Data source",
                "type": "datasource",
                "query": "prometheus",
                "current": {},
                "hide": 0,
                "includeAll": false,
                "multi": false,
                "options": [],
                "refresh": 1,
                "regex": "",
                "skipUrlSync": false,
            },
            query_variable("job", "Job", &format!("label_values({anchor}, job)")),
            {
                "name": "service",
                "label": "Service",
                "description": "The `service` label of the SLO recording rules (`[service] name` of watchpost.toml; by default the metric prefix)",
                "type": "textbox",
                "query": prefix,
                "current": {"selected": false, "text": prefix, "value": prefix},
                "options": [{"selected": true, "text": prefix, "value": prefix}],
                "hide": 0,
                "skipUrlSync": false,
            },
            query_variable("slo", "SLO", &format!(r#"label_values({}{{service="$service"}}, slo)"#, SLO_SERIES[2])),
        ]},
        "panels": b.panels,
    })
}

#[cfg(test)]
mod tests;
