//! The RED page (rate, errors and duration per route, from the spans) and the Findings page
//! (the check rules run live, and the state of the `--scrape` and `--logs` sources).

use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::api::{Console, Params};
use super::findings::now_ns;
use super::html::{self, esc, url};
use super::live::{self, red_params};
use super::pages::{bad, frame, input};
use super::query::red;
use crate::finding::Level;

fn percent(r: f64) -> String {
    format!("{:.1} %", r * 100.0)
}

async fn red_page(State(c): State<Console>, Query(p): Query<Vec<(String, String)>>) -> Response {
    let p = Params(p);
    let (window, service) = match red_params(&p) {
        Ok(x) => x,
        Err(e) => return bad(&c, "RED", "/red", &e),
    };
    let rows = red::red(&c.read(), window, now_ns(), service.as_deref());
    let mut body = String::from(
        "<h1>RED</h1><p class=\"meta\">Per service and route: the rate of requests, the share that failed, and their duration, from the server and consumer spans that ended in the window (sampled traces count only their sampled requests).</p>\
<form class=\"filters\" method=\"get\" action=\"/red\">",
    );
    body += &input("window", "Window", p.get("window"), "5m");
    body += &input("service", "Service", p.get("service"), "any");
    body += "<button type=\"submit\">Show</button> <a href=\"/red\">clear</a></form>";
    if rows.is_empty() {
        body += &html::notice("empty", "No server or consumer span ended in this window.");
    } else {
        body += "<table id=\"red\"><thead><tr><th>Service</th><th>Route</th><th class=\"num\">Requests</th><th class=\"num\">Rate</th><th class=\"num\">Errors</th><th class=\"num\">Error ratio</th><th class=\"num\">p50</th><th class=\"num\">p90</th><th class=\"num\">p99</th><th>Slowest</th></tr></thead><tbody>";
        for r in &rows {
            let _ = write!(
                body,
                "<tr class=\"red-row{err}\" data-service=\"{svc}\" data-route=\"{route}\"><td>{svc}</td><td><a href=\"/traces?service={su}&amp;route={ru}\">{route}</a></td><td class=\"num\">{n}</td><td class=\"num\">{rate}/s</td><td class=\"num\">{e}</td><td class=\"num\">{ratio}</td><td class=\"num\">{p50}</td><td class=\"num\">{p90}</td><td class=\"num\">{p99}</td><td><a class=\"trace-link\" href=\"/traces/{tid}\">trace</a></td></tr>",
                err = if r.errors > 0 { " status-error" } else { "" },
                svc = esc(&r.service),
                route = esc(&r.route),
                su = esc(&url(&r.service)),
                ru = esc(&url(&r.route)),
                n = r.requests,
                rate = html::number(r.rate_per_s),
                e = r.errors,
                ratio = percent(r.error_ratio),
                p50 = html::duration(r.p50_ns),
                p90 = html::duration(r.p90_ns),
                p99 = html::duration(r.p99_ns),
                tid = esc(&r.slowest_trace_id),
            );
        }
        body += "</tbody></table>";
    }
    frame(&c, "RED", "/red", &body).into_response()
}

async fn findings_page(
    State(c): State<Console>,
    Query(p): Query<Vec<(String, String)>>,
) -> Response {
    let p = Params(p);
    if let Err(e) = p.only(&["service"]) {
        return bad(&c, "Findings", "/findings", &e);
    }
    let (list, evicted) = {
        let f = c.live.findings.lock().unwrap_or_else(|e| e.into_inner());
        (f.list(p.get("service")), f.evicted())
    };
    let mut body = String::from(
        "<h1>Findings</h1><p class=\"meta\">The rules of <code>watchpost check</code> and <code>watchpost lint</code>, run on what arrives: each scrape, each tailed log line, each OTLP export. The rules that need a whole window are left to <code>watchpost check</code>.</p>\
<form class=\"filters\" method=\"get\" action=\"/findings\">",
    );
    body += &input("service", "Service", p.get("service"), "any");
    body += "<button type=\"submit\">Filter</button> <a href=\"/findings\">clear</a></form>";
    if list.is_empty() {
        body += &html::notice("empty", "Nothing found (yet).");
    } else {
        body += "<table id=\"findings\"><thead><tr><th>Level</th><th>Rule</th><th>Service</th><th>Signal</th><th>Name</th><th>Message</th><th class=\"num\">Count</th><th>First seen</th><th>Last seen</th></tr></thead><tbody>";
        for f in &list {
            let ctx = if f.context.is_empty() {
                String::new()
            } else {
                serde_json::Value::Object(f.context.clone()).to_string()
            };
            let _ = write!(
                body,
                "<tr class=\"finding level-{lvl}\" data-rule=\"{rule}\"><td><span class=\"badge {badge}\">{lvl}</span></td><td><code>{rule}</code></td><td>{svc}</td><td>{sig}</td><td>{name}</td><td class=\"msg\">{msg}<span class=\"fields\">{ctx}</span></td><td class=\"num\">{n}</td><td>{first}</td><td>{last}</td></tr>",
                lvl = f.level.as_str(),
                // Violations in the error colour, the rest in the neutral one.
                badge = if f.level == Level::Violation { "error" } else { "" },
                rule = esc(f.rule),
                svc = esc(&f.service),
                sig = f.signal.as_str(),
                name = esc(&f.name),
                msg = esc(&f.message),
                ctx = esc(&ctx),
                n = f.count,
                first = html::time(f.first_seen_ns),
                last = html::time(f.last_seen_ns),
            );
        }
        body += "</tbody></table>";
    }
    if evicted > 0 {
        body += &html::notice(
            "empty",
            &format!("{evicted} finding groups were evicted (the least counted first) to keep the newest and most counted."),
        );
    }
    body += &sources(&c);
    frame(&c, "Findings", "/findings", &body).into_response()
}

/// The `--scrape` and `--logs` sources and how they fare.
fn sources(c: &Console) -> String {
    let scrapes = c
        .live
        .scrapes
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let tails = c
        .live
        .tails
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    if scrapes.is_empty() && tails.is_empty() {
        return String::new();
    }
    let mut out = String::from("<h2>Sources</h2>");
    if !scrapes.is_empty() {
        out += "<h3>Scraped</h3><table id=\"scrapes\"><thead><tr><th>Scraped</th><th class=\"num\">Good</th><th class=\"num\">Failed</th><th class=\"num\">Samples</th><th>Last good</th><th>Last error</th></tr></thead><tbody>";
        for s in &scrapes {
            let _ = write!(
                out,
                "<tr class=\"scrape-row\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&s.url),
                s.ok,
                s.failed,
                s.last_samples,
                if s.last_ok_ns > 0 { html::time(s.last_ok_ns) } else { "never".into() },
                esc(s.last_error.as_deref().unwrap_or("")),
            );
        }
        out += "</tbody></table>";
    }
    if !tails.is_empty() {
        out += "<h3>Followed log files</h3><table id=\"tails\"><thead><tr><th>Log file</th><th class=\"num\">JSON lines</th><th class=\"num\">Plain lines</th><th class=\"num\">Cut</th><th class=\"num\">Rotations</th><th class=\"num\">Truncations</th><th>Error</th></tr></thead><tbody>";
        for t in &tails {
            let _ = write!(
                out,
                "<tr class=\"tail-row\"><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&t.path),
                t.json,
                t.plain,
                t.cut,
                t.rotations,
                t.truncations,
                esc(t.error.as_deref().unwrap_or("")),
            );
        }
        out += "</tbody></table>";
    }
    out
}

/// The RED and Findings pages, and the API of [`live`].
pub fn router() -> Router<Console> {
    Router::new()
        .route("/red", get(red_page))
        .route("/findings", get(findings_page))
        .merge(live::api_router())
}
