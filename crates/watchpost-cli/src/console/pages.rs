//! The console's pages, rendered on the server: Traces (list and filters), a trace's waterfall,
//! Logs, Errors, Services (the dependency map) and Metrics (a chart). Everything they load is in
//! the binary (`console.css`, `console.js`); every text from the telemetry is escaped.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::api::{self, BadParam, Console, Params};
use super::html::{self, esc, url};
use super::query::{self, LogView, SpanView, TraceSummary};
use super::store::LEVELS;

/// The most spans a waterfall draws (with their log records); a notice says how many more.
pub const MAX_WATERFALL_SPANS: usize = 2000;

const CSS: &str = include_str!("console.css");
const JS: &str = include_str!("console.js");

/// A page: the console's frame (title, navigation, stats) around `body`.
pub(super) fn frame(c: &Console, title: &str, active: &str, body: &str) -> Html<String> {
    Html(html::page(title, active, &c.stats(), body))
}

/// A page saying which parameter is wrong (400).
pub(super) fn bad(c: &Console, title: &str, active: &str, e: &BadParam) -> Response {
    (
        StatusCode::BAD_REQUEST,
        frame(
            c,
            title,
            active,
            &html::notice("error", &format!("{}: {}", e.parameter, e.message)),
        ),
    )
        .into_response()
}

/// A labelled text input of a filter form.
pub(super) fn input(name: &str, label: &str, value: Option<&str>, placeholder: &str) -> String {
    format!(
        "<label>{label} <input name=\"{name}\" value=\"{}\" placeholder=\"{}\"></label>",
        esc(value.unwrap_or("")),
        esc(placeholder)
    )
}

fn trace_link(id: &str, text: &str, span: Option<&str>) -> String {
    let anchor = span.map_or(String::new(), |s| format!("#span-{}", esc(s)));
    format!(
        "<a class=\"trace-link\" href=\"/traces/{}{anchor}\">{}</a>",
        esc(id),
        esc(text)
    )
}

async fn traces(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    let p = Params(p);
    let filter = match api::trace_filter(&p) {
        Ok(f) => f,
        Err(e) => return bad(&c, "Traces", "/traces", &e),
    };
    let list = query::traces(&c.read(), &filter);
    let mut body =
        String::from("<h1>Traces</h1><form class=\"filters\" method=\"get\" action=\"/traces\">");
    body += &input("service", "Service", p.get("service"), "any");
    body += &input("route", "Route", p.get("route"), "/orders/{id}");
    body += &input(
        "min_duration",
        "Min duration",
        p.get("min_duration"),
        "250ms",
    );
    let _ = write!(
        body,
        "<label><input type=\"checkbox\" name=\"errors\" value=\"true\"{}> Errors only</label>\
<button type=\"submit\">Filter</button> <a href=\"/traces\">clear</a></form>",
        if filter.errors { " checked" } else { "" }
    );
    if list.is_empty() {
        body += &html::notice(
            "empty",
            "No traces match (send OTLP to this console, or widen the filters).",
        );
    } else {
        body += "<table id=\"traces\"><thead><tr><th>Start</th><th>Root</th><th>Service</th><th>Route</th><th class=\"num\">Duration</th><th>Status</th><th class=\"num\">Spans</th><th class=\"num\">Logs</th></tr></thead><tbody>";
        for t in &list {
            body += &trace_row(t);
        }
        body += "</tbody></table>";
    }
    frame(&c, "Traces", "/traces", &body).into_response()
}

fn trace_row(t: &TraceSummary) -> String {
    format!(
        "<tr class=\"trace-row status-{status}\" data-trace-id=\"{id}\"><td>{start}</td><td>{root}</td><td>{svc}</td><td>{route}</td><td class=\"num\">{dur}</td><td><span class=\"badge {status}\">{status}</span></td><td class=\"num\">{spans}</td><td class=\"num\">{logs}</td></tr>",
        status = t.status,
        id = esc(&t.trace_id),
        start = html::time(t.start_ns),
        root = trace_link(&t.trace_id, &t.root, None),
        svc = esc(&t.services.join(", ")),
        route = esc(t.route.as_deref().unwrap_or("")),
        dur = html::duration(t.duration_ns),
        spans = t.spans,
        logs = t.logs,
    )
}

async fn trace(
    State(c): State<Console>,
    Path(id): Path<String>,
    Query(p): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(e) = Params(p).only(&[]) {
        return bad(&c, "Trace", "/traces", &e);
    }
    let tid = match api::trace_id("trace_id", &id) {
        Ok(t) => t,
        Err(e) => return bad(&c, "Trace", "/traces", &e),
    };
    let Some(t) = query::trace(&c.read(), &tid) else {
        return (
            StatusCode::NOT_FOUND,
            frame(
                &c,
                "Trace",
                "/traces",
                &html::notice(
                    "empty",
                    "No span of this trace is held: never received, or evicted.",
                ),
            ),
        )
            .into_response();
    };
    let total = t.summary.duration_ns.max(1) as f64;
    let pct = |ns: u64| (ns as f64 / total * 100.0).clamp(0.0, 100.0);
    let mut body = format!(
        "<h1>{root} <small>{svc}</small></h1><p class=\"meta\">trace <code>{id}</code> · {start} · {dur} · {n} spans · {l} log records · <span class=\"badge {status}\">{status}</span> · <a href=\"/logs?trace_id={id}\">its logs</a></p>",
        root = esc(&t.summary.root),
        svc = esc(&t.summary.services.join(", ")),
        id = esc(&t.summary.trace_id),
        start = html::time(t.summary.start_ns),
        dur = html::duration(t.summary.duration_ns),
        n = t.span_list.len(),
        l = t.log_list.len(),
        status = t.summary.status,
    );
    let _ = write!(
        body,
        "<div class=\"waterfall\" data-trace-id=\"{}\"><div class=\"wf-head\"><span>span</span><span class=\"scale\"><span>0</span><span>{}</span><span>{}</span></span></div>",
        esc(&t.summary.trace_id),
        html::duration(t.summary.duration_ns / 2),
        html::duration(t.summary.duration_ns)
    );
    // The trace's log records by span, found once (not a scan of the logs per span).
    let mut by_span: HashMap<&str, Vec<&LogView>> = HashMap::new();
    let mut loose = Vec::new();
    let spans: HashSet<&str> = t.span_list.iter().map(|s| s.span_id.as_str()).collect();
    for l in &t.log_list {
        match l.span_id.as_deref() {
            Some(s) if spans.contains(s) => by_span.entry(s).or_default().push(l),
            _ => loose.push(l),
        }
    }
    for s in t.span_list.iter().take(MAX_WATERFALL_SPANS) {
        body += &span_row(s, pct(s.offset_ns), pct(s.duration_ns));
        // The span's own log records follow it, at their time on the axis.
        for l in by_span.get(s.span_id.as_str()).into_iter().flatten() {
            body += &log_row(
                l,
                s.depth + 1,
                pct(l.time_ns.saturating_sub(t.summary.start_ns)),
            );
        }
    }
    for l in loose {
        body += &log_row(l, 0, pct(l.time_ns.saturating_sub(t.summary.start_ns)));
    }
    body += "</div>";
    if t.span_list.len() > MAX_WATERFALL_SPANS {
        body += &html::notice(
            "empty",
            &format!(
                "The first {MAX_WATERFALL_SPANS} of {} spans are shown, with their log records; /api/traces/{} has them all.",
                t.span_list.len(),
                t.summary.trace_id
            ),
        );
    }
    frame(&c, &t.summary.root, "/traces", &body).into_response()
}

fn attr_table(attrs: &serde_json::Map<String, serde_json::Value>) -> String {
    if attrs.is_empty() {
        return String::new();
    }
    let mut out = String::from("<table class=\"attrs\">");
    for (k, v) in attrs {
        let v = match v {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let _ = write!(out, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    out + "</table>"
}

fn span_row(s: &SpanView, left: f64, width: f64) -> String {
    let mut details = attr_table(&s.attributes);
    if !s.status_message.is_empty() {
        details = format!(
            "<p class=\"status-message\">status: {}</p>",
            esc(&s.status_message)
        ) + &details;
    }
    for e in &s.events {
        let _ = write!(
            details,
            "<div class=\"event\"><b>event</b> {} at {}{}</div>",
            esc(e["name"].as_str().unwrap_or("")),
            html::clock(e["time_ns"].as_u64().unwrap_or(0)),
            e["attributes"]
                .as_object()
                .map(attr_table)
                .unwrap_or_default()
        );
    }
    format!(
        "<details class=\"row span-row status-{status}\" id=\"span-{id}\" data-span-id=\"{id}\" data-parent-id=\"{parent}\" data-depth=\"{depth}\">\
<summary><span class=\"label\" style=\"padding-left:{indent:.1}em\"><span class=\"svc\">{svc}</span> {name} <span class=\"kind\">{kind}</span></span>\
<span class=\"track\"><span class=\"bar {status}\" style=\"left:{left:.3}%;width:{width:.3}%\"></span>{dur}</span></summary>\
<div class=\"detail\">{details}</div></details>",
        status = s.status,
        id = esc(&s.span_id),
        parent = esc(s.parent_id.as_deref().unwrap_or("")),
        depth = s.depth,
        indent = s.depth as f64 * 1.2 + 0.3,
        svc = esc(&s.service),
        name = esc(&s.name),
        kind = s.kind,
        width = width.max(0.2),
        dur = duration_label(s.duration_ns, left, width),
    )
}

/// The span's duration beside its bar: after it when there is room, else before it, else
/// inside its end.
fn duration_label(ns: u64, left: f64, width: f64) -> String {
    let text = html::duration(ns);
    if left + width <= 85.0 {
        format!(
            "<span class=\"dur\" style=\"left:{:.3}%\">{text}</span>",
            left + width
        )
    } else if left >= 12.0 {
        format!(
            "<span class=\"dur before\" style=\"right:{:.3}%\">{text}</span>",
            100.0 - left
        )
    } else {
        format!(
            "<span class=\"dur inside\" style=\"right:{:.3}%\">{text}</span>",
            100.0 - left - width
        )
    }
}

fn log_row(l: &LogView, depth: usize, at: f64) -> String {
    format!(
        "<div class=\"row log-row level-{lvl}\" data-span-id=\"{span}\"><span class=\"label\" style=\"padding-left:{indent:.1}em\"><span class=\"level\">{lvl}</span> {body}</span>\
<span class=\"track\"><span class=\"tick\" style=\"left:{at:.3}%\" title=\"{time}\"></span></span></div>",
        lvl = l.level,
        span = esc(l.span_id.as_deref().unwrap_or("")),
        indent = depth as f64 * 1.2 + 0.3,
        body = esc(&l.body),
        time = html::time(l.time_ns),
    )
}

async fn logs(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    let p = Params(p);
    // `live` is the page's own (its script refreshes the list); the rest is the API's filter.
    let api_params = Params(p.0.iter().filter(|(k, _)| k != "live").cloned().collect());
    let filter = match api::log_filter(&api_params) {
        Ok(f) => f,
        Err(e) => return bad(&c, "Logs", "/logs", &e),
    };
    let list = query::logs(&c.read(), &filter);
    let mut body =
        String::from("<h1>Logs</h1><form class=\"filters\" method=\"get\" action=\"/logs\">");
    body += &input("service", "Service", p.get("service"), "any");
    let mut levels =
        String::from("<label>Level <select name=\"level\"><option value=\"\">any</option>");
    for l in LEVELS {
        let selected = if filter.level == Some(l) {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            levels,
            "<option value=\"{}\"{selected}>{l} and worse</option>",
            l.to_lowercase()
        );
    }
    body += &levels;
    body += "</select></label>";
    body += &input("subsystem", "Subsystem", p.get("subsystem"), "API");
    body += &input("text", "Text", p.get("text"), "contains");
    body += &input("trace_id", "Trace", p.get("trace_id"), "trace id");
    body += &input("attr", "Attribute", p.get("attr"), "instance_id=…");
    let _ = write!(
        body,
        "<label><input type=\"checkbox\" name=\"live\" value=\"1\" id=\"live\"{}> Live</label><button type=\"submit\">Filter</button> <a href=\"/logs\">clear</a></form>",
        if p.get("live").is_some() { " checked" } else { "" }
    );
    if list.is_empty() {
        body += &html::notice("empty", "No log records match.");
    } else {
        body += "<table id=\"logs\"><thead><tr><th>Time</th><th>Service</th><th>Level</th><th>Subsystem</th><th>Message</th><th>Trace</th></tr></thead><tbody>";
        for l in &list {
            let trace = l.trace_id.as_deref().map_or(String::new(), |t| {
                trace_link(t, &t[..8], l.span_id.as_deref())
            });
            let attrs: Vec<String> = l
                .attributes
                .iter()
                .filter(|(k, _)| *k != "subsystem")
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                    )
                })
                .collect();
            let _ = write!(
                body,
                "<tr class=\"log-line level-{lvl}\" data-trace-id=\"{tid}\"><td class=\"time\">{time}</td><td>{svc}</td><td><span class=\"level\">{lvl}</span></td><td>{sub}</td><td class=\"msg\">{msg}<span class=\"fields\">{fields}</span></td><td>{trace}</td></tr>",
                lvl = l.level,
                tid = esc(l.trace_id.as_deref().unwrap_or("")),
                time = html::time(l.time_ns),
                svc = esc(&l.service),
                sub = esc(&l.subsystem),
                msg = esc(&l.body),
                fields = esc(&attrs.join(" ")),
            );
        }
        body += "</tbody></table>";
    }
    frame(&c, "Logs", "/logs", &body).into_response()
}

async fn errors(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = Params(p).only(&[]) {
        return bad(&c, "Errors", "/errors", &e);
    }
    let list = query::errors(&c.read());
    let mut body = String::from("<h1>Errors</h1>");
    if list.is_empty() {
        body += &html::notice("empty", "No failed spans held.");
    } else {
        body += "<table id=\"errors\"><thead><tr><th>Span</th><th>Error</th><th>Service</th><th class=\"num\">Count</th><th>First seen</th><th>Last seen</th><th>Sample</th></tr></thead><tbody>";
        for g in &list {
            let _ = write!(
                body,
                "<tr class=\"error-group\"><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.name),
                esc(&g.error),
                esc(&g.service),
                g.count,
                html::time(g.first_seen_ns),
                html::time(g.last_seen_ns),
                trace_link(&g.sample_trace_id, "trace", None)
            );
        }
        body += "</tbody></table>";
    }
    frame(&c, "Errors", "/errors", &body).into_response()
}

async fn operations(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = Params(p).only(&[]) {
        return bad(&c, "Operations", "/operations", &e);
    }
    let list = query::operations(&c.read());
    let mut body = String::from("<h1>Operations</h1><p class=\"meta\">Spans by service and name, slowest 99th percentile first.</p>");
    if list.is_empty() {
        body += &html::notice("empty", "No spans held.");
    } else {
        body += "<table id=\"operations\"><thead><tr><th>Service</th><th>Span</th><th>Kind</th><th class=\"num\">Count</th><th class=\"num\">Failed</th><th class=\"num\">p50</th><th class=\"num\">p99</th><th class=\"num\">Max</th><th>Slowest</th></tr></thead><tbody>";
        for o in &list {
            let _ = write!(
                body,
                "<tr class=\"operation\"><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&o.service),
                esc(&o.name),
                o.kind,
                o.count,
                o.errors,
                html::duration(o.p50_ns),
                html::duration(o.p99_ns),
                html::duration(o.max_ns),
                trace_link(&o.slowest_trace_id, "trace", None)
            );
        }
        body += "</tbody></table>";
    }
    frame(&c, "Operations", "/operations", &body).into_response()
}

async fn services(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    if let Err(e) = Params(p).only(&[]) {
        return bad(&c, "Services", "/services", &e);
    }
    let (list, edges) = query::services(&c.read());
    let mut body = String::from("<h1>Services</h1>");
    if list.is_empty() {
        body += &html::notice("empty", "No telemetry received yet.");
        return frame(&c, "Services", "/services", &body).into_response();
    }
    let names: Vec<String> = list.iter().map(|s| s.name.clone()).collect();
    body += &html::service_map(&names, &edges);
    body += "<h2>Dependencies</h2>";
    if edges.is_empty() {
        body += &html::notice(
            "empty",
            "No span of one service is the parent of a span of another yet.",
        );
    } else {
        body += "<table id=\"edges\"><thead><tr><th>Caller</th><th>Called</th><th class=\"num\">Calls</th><th class=\"num\">Client→server</th><th class=\"num\">Failed</th></tr></thead><tbody>";
        for e in &edges {
            let _ = write!(
                body,
                "<tr class=\"edge-row\" data-from=\"{f}\" data-to=\"{t}\"><td>{f}</td><td>{t}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
                e.calls,
                e.client_server,
                e.errors,
                f = esc(&e.from),
                t = esc(&e.to),
            );
        }
        body += "</tbody></table>";
    }
    body += "<h2>Held per service</h2><table id=\"services\"><thead><tr><th>Service</th><th class=\"num\">Spans</th><th class=\"num\">Failed spans</th><th class=\"num\">Log records</th><th class=\"num\">Metric points</th></tr></thead><tbody>";
    for s in &list {
        let _ = write!(
            body,
            "<tr class=\"service-row\"><td><a href=\"/traces?service={u}\">{n}</a></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\"><a href=\"/logs?service={u}\">{}</a></td><td class=\"num\">{}</td></tr>",
            s.spans,
            s.error_spans,
            s.logs,
            s.metric_points,
            u = esc(&url(&s.name)),
            n = esc(&s.name),
        );
    }
    body += "</tbody></table>";
    frame(&c, "Services", "/services", &body).into_response()
}

async fn charts(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    let p = Params(p);
    if let Err(e) = p.only(&["name", "service"]) {
        return bad(&c, "Metrics", "/charts", &e);
    }
    let store = c.read();
    let names = query::metric_names(&store);
    let mut body =
        String::from("<h1>Metrics</h1><div class=\"metrics\"><ul class=\"metric-names\">");
    for m in &names {
        let on = if p.get("name") == Some(m.name.as_str()) {
            " class=\"on\""
        } else {
            ""
        };
        let _ = write!(
            body,
            "<li{on}><a href=\"/charts?name={}\">{}</a> <span class=\"kind\">{}</span></li>",
            esc(&url(&m.name)),
            esc(&m.name),
            m.info.kind
        );
    }
    body += "</ul><section class=\"chart-pane\">";
    match p.get("name") {
        None if names.is_empty() => body += &html::notice("empty", "No metrics received yet."),
        None => body += &html::notice("empty", "Pick a metric."),
        Some(name) => match query::metric_series(&store, name, p.get("service")) {
            None => body += &html::notice("error", &format!("No metric '{name}' is held.")),
            Some(s) => {
                let info = names.iter().find(|m| m.name == name);
                let description = info.map_or("", |m| m.info.description.as_str());
                let _ = write!(
                    body,
                    "<h2>{}</h2><p class=\"meta\">{} · shown as {}{}{}</p>",
                    esc(name),
                    s.kind,
                    s.shown_as,
                    if description.is_empty() { "" } else { " · " },
                    esc(description)
                );
                let unit = if s.shown_as == "rate per second" {
                    format!("{}/s", s.unit)
                } else {
                    s.unit.clone()
                };
                // Exemplars are measurements: drawn where the axis is in their unit.
                let exemplars = if s.shown_as == "rate per second" {
                    &[][..]
                } else {
                    &s.exemplars[..]
                };
                body += &html::chart(&s.series, exemplars, &unit);
            }
        },
    }
    body += "</section></div>";
    drop(store);
    frame(&c, "Metrics", "/charts", &body).into_response()
}

/// The pages and their static files.
pub fn router() -> Router<Console> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/traces") }))
        .route("/traces", get(traces))
        .route("/traces/{trace_id}", get(trace))
        .route("/logs", get(logs))
        .route("/errors", get(errors))
        .route("/services", get(services))
        .route("/operations", get(operations))
        .route("/charts", get(charts))
        .route(
            "/static/console.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
        .route(
            "/static/console.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    JS,
                )
            }),
        )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU64;
    use std::sync::{Arc, RwLock};

    use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
    use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};

    use super::*;
    use crate::console::store::Store;

    #[tokio::test]
    async fn a_waterfall_draws_at_most_its_cap_of_spans_and_says_so() {
        let n = MAX_WATERFALL_SPANS + 100;
        let mut store = Store::new(256 << 20);
        store.add_traces(ExportTraceServiceRequest {
            resource_spans: vec![ResourceSpans {
                scope_spans: vec![ScopeSpans {
                    spans: (1..=n as u64)
                        .map(|i| Span {
                            trace_id: vec![7; 16],
                            span_id: i.to_be_bytes().to_vec(),
                            start_time_unix_nano: i,
                            end_time_unix_nano: i + 10,
                            ..Span::default()
                        })
                        .collect(),
                    ..ScopeSpans::default()
                }],
                ..ResourceSpans::default()
            }],
        });
        let c = Console {
            store: Arc::new(RwLock::new(store)),
            refused: Arc::new(AtomicU64::new(0)),
            invalid: Arc::new(AtomicU64::new(0)),
            data: Arc::new(crate::console::persist::Persist::disabled()),
            live: Arc::default(),
            transfers: Arc::default(),
        };
        let res = trace(State(c), Path("07".repeat(16)), Query(vec![])).await;
        assert_eq!(res.status(), StatusCode::OK);
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        let page = String::from_utf8_lossy(&body);
        assert_eq!(
            page.matches("class=\"row span-row").count(),
            MAX_WATERFALL_SPANS
        );
        assert!(
            page.contains(&format!("The first {MAX_WATERFALL_SPANS} of {n} spans")),
            "the notice"
        );
    }
}
