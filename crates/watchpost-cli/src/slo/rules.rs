//! The rule file: recording rules and burn-rate alerts per SLO, then the symptom alerts.

use std::fmt::Write as _;

use super::burn::{self, WINDOWS};
use super::{camel, q, Objective, Service, SloKind};

/// A written alerting rule, with what its tests need.
pub(crate) struct Alert {
    pub name: String,
    /// The rule's labels (the expression adds its own: see `expr_labels`).
    pub labels: Vec<(String, String)>,
    /// Annotation templates.
    pub annotations: Vec<(String, String)>,
    pub what: What,
}

/// What an alert watches.
pub(crate) enum What {
    /// Tier `tier` of objective `slo`.
    Burn { slo: usize, tier: usize },
    /// The HTTP 5xx ratio over 5m.
    ErrorRate,
    /// p99 above the latency objective `slo`.
    LatencyP99,
    /// A counter that must not increase, summed by a label.
    Counter {
        metric: String,
        by: Option<&'static str>,
    },
    /// `process_start_time_seconds` changed.
    Restart,
    /// The scrape of the service's job failed.
    Down,
    /// Tier `tier` of [`burn::TIERS`] of every measured-function objective of one kind and
    /// percentile (label-driven: see `functions`).
    FunctionBurn {
        sli: super::functions::Sli,
        tier: usize,
        /// Each percentile whose tier can fire, and its threshold.
        thresholds: Vec<(String, burn::Ratio)>,
    },
}

pub(crate) struct Written {
    pub yaml: String,
    pub expressions: Vec<String>,
    pub alerts: Vec<Alert>,
}

/// Requests of objective `o` per second needed by the symptom error-rate alert's guard.
const SYMPTOM_MIN_REQUESTS_PER_HOUR: u64 = 10;

fn matchers(extra: &[(&str, String)]) -> String {
    if extra.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = extra
        .iter()
        .map(|(k, v)| {
            let op = if k.ends_with('~') { "" } else { "=" };
            format!("{k}{op}{}", q(v))
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

/// Selectors of objective `o`: (total requests, failed requests or good requests).
pub(crate) struct Selectors {
    pub total: String,
    /// Availability: the 5xx series; latency: the bucket at the threshold (good requests).
    pub other: String,
}

pub(crate) fn le_value(v: f64) -> String {
    format!("{v}")
}

/// The matcher of the bucket at `v`: Prometheus 3 stores a whole-number bound the library writes
/// as `le="1"` as `le="1.0"` (it normalises `le` on ingestion), Prometheus 2 as written; both
/// match.
pub(crate) fn le_matcher(v: f64) -> (&'static str, String) {
    if v.fract() == 0.0 && v.is_finite() {
        ("le=~", format!("{v}|{v}.0"))
    } else {
        ("le", le_value(v))
    }
}

pub(crate) fn selectors(service: &Service<'_>, o: &Objective) -> Selectors {
    let h = service.http.as_deref().expect("checked by generate");
    let route: Vec<(&str, String)> = o.route.iter().map(|r| ("path", r.clone())).collect();
    let total = format!("{h}_count{}", matchers(&route));
    let other = match o.kind {
        SloKind::Availability => {
            let mut m = vec![("status=~", "5..".to_owned())];
            m.extend(route.iter().cloned());
            format!("{h}_count{}", matchers(&m))
        }
        SloKind::Latency => {
            let mut m = vec![le_matcher(o.threshold.as_ref().expect("latency").1)];
            m.extend(route.iter().cloned());
            format!("{h}_bucket{}", matchers(&m))
        }
    };
    Selectors { total, other }
}

fn ratio_expr(kind: SloKind, s: &Selectors, func: &str, range: &str) -> String {
    let total = format!("sum({func}({}[{range}]))", s.total);
    match kind {
        SloKind::Availability => {
            format!("(sum({func}({}[{range}])) or vector(0)) / {total}", s.other)
        }
        SloKind::Latency => format!("({total} - sum({func}({}[{range}]))) / {total}", s.other),
    }
}

pub(crate) struct Out {
    pub yaml: String,
    pub expressions: Vec<String>,
}

impl Out {
    pub(crate) fn record(&mut self, name: &str, expr: &str, labels: &[(&str, &str)]) {
        let _ = writeln!(self.yaml, "      - record: {name}");
        let _ = writeln!(self.yaml, "        expr: {}", q(expr));
        if !labels.is_empty() {
            let _ = writeln!(self.yaml, "        labels:");
            for (k, v) in labels {
                let _ = writeln!(self.yaml, "          {k}: {}", q(v));
            }
        }
        self.expressions.push(expr.to_owned());
    }

    pub(crate) fn alert(&mut self, alert: &Alert, expr: &str, for_minutes: u32) {
        let _ = writeln!(self.yaml, "      - alert: {}", alert.name);
        let _ = writeln!(self.yaml, "        expr: {}", q(expr));
        if for_minutes > 0 {
            let _ = writeln!(self.yaml, "        for: {}", burn::window(for_minutes));
        }
        let _ = writeln!(self.yaml, "        labels:");
        for (k, v) in &alert.labels {
            let _ = writeln!(self.yaml, "          {k}: {}", q(v));
        }
        let _ = writeln!(self.yaml, "        annotations:");
        for (k, v) in &alert.annotations {
            let _ = writeln!(self.yaml, "          {k}: {}", q(v));
        }
        self.expressions.push(expr.to_owned());
    }

    pub(crate) fn group(&mut self, name: &str) {
        let _ = writeln!(self.yaml, "  - name: {}", q(name));
        let _ = writeln!(self.yaml, "    rules:");
    }
}

fn percent(r: burn::Ratio) -> String {
    (r * burn::Ratio::new(100, 1)).to_decimal()
}

pub(crate) fn with_runbook(
    service: &Service<'_>,
    name: &str,
    mut annotations: Vec<(String, String)>,
) -> Vec<(String, String)> {
    if let Some(url) = &service.runbook_url {
        annotations.push(("runbook_url".to_owned(), url.replace("{alertname}", name)));
    }
    annotations
}

pub(crate) fn write(service: &Service<'_>, objectives: &[Objective]) -> Written {
    let svc = service.name.as_str();
    let mut out = Out {
        yaml: format!(
            "# Generated by `watchpost rules` for the service '{svc}': recording rules and\n\
             # multi-window multi-burn-rate alerts per SLO, then the standard's symptom alerts.\n\
             # Do not edit: change watchpost.toml and generate again.\n\
             groups:\n"
        ),
        expressions: Vec::new(),
    };
    let mut alerts = Vec::new();
    for (si, o) in objectives.iter().enumerate() {
        let s = selectors(service, o);
        let labels = [("slo", o.name.as_str()), ("service", svc)];
        let sel = format!("{{slo={},service={}}}", q(&o.name), q(svc));
        out.group(&format!("{svc}-slo-{}", o.name));
        for w in WINDOWS {
            let range = burn::window(w);
            out.record(
                &format!("watchpost:slo_requests:rate{range}"),
                &format!("sum(rate({}[{range}]))", s.total),
                &labels,
            );
            out.record(
                &format!("watchpost:slo_errors:ratio_rate{range}"),
                &ratio_expr(o.kind, &s, "rate", &range),
                &labels,
            );
        }
        let period = burn::duration(o.period_hours * 60);
        out.record(
            "watchpost:slo_errors:ratio_period",
            &ratio_expr(o.kind, &s, "increase", &period),
            &labels,
        );
        out.record(
            "watchpost:slo_error_budget_remaining:ratio",
            &format!(
                "1 - watchpost:slo_errors:ratio_period{sel} / {}",
                o.budget.to_decimal()
            ),
            &labels,
        );
        out.record(
            "watchpost:slo_objective:ratio",
            &format!("vector({})", o.objective.to_decimal()),
            &labels,
        );
        let failed = match o.kind {
            SloKind::Availability => "failed (5xx)".to_owned(),
            SloKind::Latency => format!(
                "took longer than {} s",
                o.threshold.as_ref().expect("latency").0
            ),
        };
        let scope = match &o.route {
            Some(r) => format!("{svc} {r}"),
            None => svc.to_owned(),
        };
        for (ti, t) in o.tiers.iter().enumerate() {
            let long = burn::window(t.def.long_minutes);
            let short = burn::window(t.def.short_minutes);
            let name = t
                .alert
                .clone()
                .unwrap_or_else(|| format!("{}{}BudgetBurn{long}", camel(svc), camel(&o.name)));
            let threshold = t.threshold.to_decimal();
            let mut expr = format!(
                "watchpost:slo_errors:ratio_rate{long}{sel} > {threshold}\nand watchpost:slo_errors:ratio_rate{short}{sel} > {threshold}"
            );
            if o.min_requests_per_hour > 0 {
                let _ = write!(
                    expr,
                    "\nand watchpost:slo_requests:rate{long}{sel} * 3600 >= {}",
                    o.min_requests_per_hour
                );
            }
            let period_text = burn::duration(o.period_hours * 60);
            let annotations = vec![
                (
                    "summary".to_owned(),
                    format!(
                        "{scope}: the {} SLO's error budget burns {}x too fast ({long} and {short} windows)",
                        o.name,
                        t.factor.to_decimal()
                    ),
                ),
                (
                    "description".to_owned(),
                    format!(
                        "{{{{ $value | humanizePercentage }}}} of {scope}'s requests {failed} over the last {long} (and over {short}): above {}%, which is {}x the error budget of {}% ({}% objective over {period_text}). At this rate {}% of the {period_text} budget is spent in {long}.",
                        percent(t.threshold),
                        t.factor.to_decimal(),
                        percent(o.budget),
                        o.objective_percent,
                        t.def.consumed_percent
                    ),
                ),
            ];
            let alert = Alert {
                annotations: with_runbook(service, &name, annotations),
                labels: vec![
                    ("severity".to_owned(), t.severity.as_str().to_owned()),
                    ("slo".to_owned(), o.name.clone()),
                    ("service".to_owned(), svc.to_owned()),
                    ("burn_tier".to_owned(), t.def.rank.to_string()),
                    ("long_window".to_owned(), long.clone()),
                    ("short_window".to_owned(), short.clone()),
                ],
                name,
                what: What::Burn { slo: si, tier: ti },
            };
            out.alert(&alert, &expr, t.def.for_minutes);
            alerts.push(alert);
        }
    }

    super::functions::write(service, &mut out, &mut alerts);

    // The symptom alerts.
    let mut symptoms: Vec<(Alert, String, u32)> = Vec::new();
    let has = |m: &str| service.catalogue.get(m).is_some();
    let alert =
        |name: String, severity: &str, summary: String, description: String, what: What| Alert {
            annotations: with_runbook(
                service,
                &name,
                vec![
                    ("summary".to_owned(), summary),
                    ("description".to_owned(), description),
                ],
            ),
            labels: vec![
                ("severity".to_owned(), severity.to_owned()),
                ("service".to_owned(), svc.to_owned()),
            ],
            name,
            what,
        };
    if let Some(h) = &service.http {
        let expr = format!(
            "(sum(rate({h}_count{{status=~\"5..\"}}[5m])) or vector(0)) / sum(rate({h}_count[5m])) > 0.01\nand sum(rate({h}_count[5m])) * 3600 >= {SYMPTOM_MIN_REQUESTS_PER_HOUR}"
        );
        symptoms.push((
            alert(
                format!("{}HttpErrorRate", camel(svc)),
                "page",
                format!("{svc}: more than 1% of HTTP requests fail"),
                format!("{{{{ $value | humanizePercentage }}}} of {svc}'s HTTP requests answered 5xx over the last 5m (more than 1% for 5m)."),
                What::ErrorRate,
            ),
            expr,
            5,
        ));
        for o in objectives {
            let Some((text, _)) = &o.threshold else {
                continue;
            };
            let route: Vec<(&str, String)> = o.route.iter().map(|r| ("path", r.clone())).collect();
            let expr = format!(
                "histogram_quantile(0.99, sum by (le) (rate({h}_bucket{}[5m]))) > {text}",
                matchers(&route)
            );
            let mut a = alert(
                format!("{}LatencyP99High", camel(svc)),
                "ticket",
                format!("{svc}: p99 latency above the {} objective's {text} s", o.name),
                format!("The 99th percentile of {svc}'s request latency{} is {{{{ $value | humanizeDuration }}}} over the last 5m, above the {text} s of the {} SLO.",
                    o.route.as_ref().map(|r| format!(" on {r}")).unwrap_or_default(), o.name),
                What::LatencyP99,
            );
            a.labels.push(("slo".to_owned(), o.name.clone()));
            symptoms.push((a, expr, 10));
        }
    }
    for (suffix, by, name, what_lost) in [
        ("telemetry_dropped_total", Some("signal"), "TelemetryDropped", "telemetry items were dropped (full export queue, failed export, or refused by the collector)"),
        ("telemetry_export_errors_total", Some("signal"), "TelemetryExportErrors", "OTLP exports failed"),
        ("metric_series_overflow_total", Some("metric"), "MetricSeriesOverflow", "collections found measurements folded into a metric's overflow series (a label outgrew its budget)"),
        ("log_write_errors_total", None, "LogWriteErrors", "log lines were lost (the log output failed or its buffer was full)"),
        ("resource_log_io_errors_total", None, "ResourceLogIoErrors", "per-resource log file operations failed (disk full or unwritable?)"),
    ] {
        let metric = format!("{svc}_{suffix}");
        if !has(&metric) {
            continue;
        }
        let (agg, of) = match by {
            Some(l) => (format!("sum by ({l}) "), format!(" ({l} {{{{ $labels.{l} }}}})")),
            None => ("sum".to_owned(), String::new()),
        };
        let expr = format!("{agg}(increase({metric}[15m])) > 0");
        symptoms.push((
            alert(
                format!("{}{name}", camel(svc)),
                "ticket",
                format!("{svc}: {what_lost}{of}"),
                format!("{{{{ $value | humanize }}}} in the last 15m: {svc} {what_lost}{of}."),
                What::Counter { metric, by },
            ),
            expr,
            5,
        ));
    }
    let info = format!("{svc}_info");
    if has("process_start_time_seconds") && has(&info) {
        let expr =
            format!("changes(process_start_time_seconds[1h]) > 0\nand on (instance, job) {info}");
        symptoms.push((
            alert(
                format!("{}Restarted", camel(svc)),
                "ticket",
                format!("{svc} restarted ({{{{ $labels.instance }}}})"),
                format!("{svc} on {{{{ $labels.instance }}}} started {{{{ $value | humanize }}}} time(s) in the last hour."),
                What::Restart,
            ),
            expr,
            0,
        ));
    }
    // Every SLO series goes empty, not high, when the service is down: say so (for a service that
    // exposes the library's metrics; the scrape job is named after it, as `watchpost bundle` does).
    let expr = format!("up{{job={}}} == 0", q(svc));
    if has(&info) {
        symptoms.push((
        alert(
            format!("{}Down", camel(svc)),
            "page",
            format!("{svc} cannot be scraped ({{{{ $labels.instance }}}})"),
            format!("Prometheus has failed to scrape {svc} on {{{{ $labels.instance }}}} for 2 minutes: it is down or unreachable, and its SLO alerts cannot see it."),
            What::Down,
        ),
        expr,
        2,
    ));
    }
    if !symptoms.is_empty() {
        out.group(&format!("{svc}-symptoms"));
        for (a, expr, for_minutes) in symptoms {
            out.alert(&a, &expr, for_minutes);
            alerts.push(a);
        }
    }
    if objectives.is_empty() && alerts.is_empty() {
        out.yaml.push_str("  []\n");
    }
    Written {
        yaml: out.yaml,
        expressions: out.expressions,
        alerts,
    }
}
