//! HTML helpers for the console's pages: escaping, URL encoding, times and durations, the page
//! frame, and the two inline SVG drawings (a metric chart, the service map).
//!
//! ```
//! use watchpost_cli::console::html::esc;
//! assert_eq!(esc("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
//! ```

use std::fmt::Write as _;

use super::query::{Edge, ExemplarView, Series};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a query component (unreserved characters kept).
pub fn url(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Unix nanoseconds as `YYYY-MM-DD HH:MM:SS.mmm` (UTC).
pub fn time(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    let millis = (ns / 1_000_000) % 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}.{millis:03}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Only the time of day of [`time`].
pub fn clock(ns: u64) -> String {
    time(ns)[11..].to_owned()
}

/// A duration for people: `850 µs`, `12.3 ms`, `1.25 s`.
pub fn duration(ns: u64) -> String {
    let n = ns as f64;
    if ns < 1_000 {
        format!("{ns} ns")
    } else if ns < 1_000_000 {
        format!("{:.0} µs", n / 1e3)
    } else if ns < 1_000_000_000 {
        format!("{:.1} ms", n / 1e6)
    } else {
        format!("{:.2} s", n / 1e9)
    }
}

/// A byte count in MiB, one decimal (KiB below 1 MiB).
pub fn mib(bytes: usize) -> String {
    if bytes < 1 << 20 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
    }
}

/// The pages, for the navigation bar: (path, title).
pub const PAGES: [(&str, &str); 8] = [
    ("/traces", "Traces"),
    ("/logs", "Logs"),
    ("/errors", "Errors"),
    ("/operations", "Operations"),
    ("/services", "Services"),
    ("/charts", "Metrics"),
    ("/red", "RED"),
    ("/findings", "Findings"),
];

/// A whole page: the frame (navigation, the store's numbers) around `body`.
pub fn page(title: &str, active: &str, stats: &serde_json::Value, body: &str) -> String {
    let mut nav = String::new();
    for (path, name) in PAGES {
        let class = if path == active { " class=\"on\"" } else { "" };
        let _ = write!(nav, "<a href=\"{path}\"{class}>{name}</a>");
    }
    let n = |k: &str, s: &str| stats[k][s].as_u64().unwrap_or(0);
    let held = format!(
        "{} of {} · {} spans, {} logs, {} points · evicted {} spans, {} logs, {} points · refused {}",
        mib(stats["bytes"].as_u64().unwrap_or(0) as usize),
        mib(stats["budget"].as_u64().unwrap_or(0) as usize),
        n("stored", "spans"),
        n("stored", "logs"),
        n("stored", "metric_points"),
        n("evicted", "spans"),
        n("evicted", "logs"),
        n("evicted", "metric_points"),
        stats["refused_exports"].as_u64().unwrap_or(0),
    );
    let unreadable = n("unreadable", "spans") + n("unreadable", "metric_points");
    let held = if unreadable > 0 {
        format!(
            "{held} · unreadable {} spans, {} metrics",
            n("unreadable", "spans"),
            n("unreadable", "metric_points")
        )
    } else {
        held
    };
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{title} · watchpost console</title><link rel=\"stylesheet\" href=\"/static/console.css\"></head>\
<body><header><a class=\"brand\" href=\"/\">watchpost console</a><nav>{nav}</nav>\
<span id=\"held\" title=\"the store: bytes held of the budget, items held, evicted (oldest first), exports refused, items unreadable\">{held}</span></header>\
<main>\n{body}\n</main><script src=\"/static/console.js\"></script></body></html>\n",
        title = esc(title),
        held = esc(&held),
    )
}

/// A message in place of a page's content (an unusable parameter, nothing found).
pub fn notice(class: &str, text: &str) -> String {
    format!("<p class=\"notice {class}\">{}</p>", esc(text))
}

/// Colours for chart lines and map nodes.
const COLOURS: [&str; 8] = [
    "#2563eb", "#dc2626", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#4b5563",
];

/// A line chart of `series` as inline SVG, with its legend; `exemplars` (in the chart's unit) are
/// drawn as dots linking to their traces.
pub fn chart(series: &[Series], exemplars: &[ExemplarView], unit: &str) -> String {
    let (w, h, left, bottom) = (880.0, 260.0, 70.0, 24.0);
    let dots: Vec<(u64, f64)> = exemplars.iter().map(|e| (e.time_ms, e.value)).collect();
    let points = series
        .iter()
        .flat_map(|s| s.points.iter())
        .chain(dots.iter());
    let (mut t0, mut t1, mut v0, mut v1) = (u64::MAX, 0u64, f64::INFINITY, f64::NEG_INFINITY);
    for &(t, v) in points {
        t0 = t0.min(t);
        t1 = t1.max(t);
        v0 = v0.min(v);
        v1 = v1.max(v);
    }
    if t0 > t1 {
        return notice(
            "empty",
            "no points to draw yet (rates need two points of a series)",
        );
    }
    v0 = v0.min(0.0);
    if v1 <= v0 {
        v1 = v0 + 1.0;
    }
    let span = (t1 - t0).max(1) as f64;
    let x = |t: u64| left + (t - t0) as f64 / span * (w - left - 10.0);
    let y = |v: f64| 10.0 + (1.0 - (v - v0) / (v1 - v0)) * (h - bottom - 10.0);
    let mut svg = format!(
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">\
<line x1=\"{left}\" y1=\"10\" x2=\"{left}\" y2=\"{yb}\" class=\"axis\"/>\
<line x1=\"{left}\" y1=\"{yb}\" x2=\"{xr}\" y2=\"{yb}\" class=\"axis\"/>\
<text x=\"{tl}\" y=\"16\" class=\"tick\" text-anchor=\"end\">{top}</text>\
<text x=\"{tl}\" y=\"{yb}\" class=\"tick\" text-anchor=\"end\">{low}</text>\
<text x=\"{left}\" y=\"{yt}\" class=\"tick\">{start}</text>\
<text x=\"{xr}\" y=\"{yt}\" class=\"tick\" text-anchor=\"end\">{end}</text>",
        yb = h - bottom,
        xr = w - 10.0,
        tl = left - 4.0,
        yt = h - 6.0,
        top = esc(&format!("{} {unit}", number(v1))),
        low = esc(&format!("{} {unit}", number(v0))),
        start = clock(t0 * 1_000_000),
        end = clock(t1 * 1_000_000),
    );
    let mut legend = String::from("<ul class=\"legend\">");
    for (i, s) in series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let path: Vec<String> = s
            .points
            .iter()
            .map(|&(t, v)| format!("{:.1},{:.1}", x(t), y(v)))
            .collect();
        let _ = write!(
            svg,
            "<polyline class=\"series\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            path.join(" ")
        );
        if let [(t, v)] = s.points[..] {
            let _ = write!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
                x(t),
                y(v)
            );
        }
        let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let last = s.points.last().map_or(String::new(), |p| number(p.1));
        let _ = write!(
            legend,
            "<li><span class=\"swatch\" style=\"background:{colour}\"></span>{} <b>{}</b></li>",
            esc(&labels.join(", ")),
            esc(&last)
        );
    }
    for e in exemplars {
        let _ = write!(
            svg,
            "<a class=\"exemplar\" href=\"/traces/{id}{span}\"><circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4.5\"><title>{} {unit} at {} — open its trace</title></circle></a>",
            x(e.time_ms),
            y(e.value),
            esc(&number(e.value)),
            clock(e.time_ms * 1_000_000),
            id = esc(&e.trace_id),
            span = e.span_id.as_deref().map_or(String::new(), |s| format!("#span-{}", esc(s))),
            unit = esc(unit),
        );
    }
    svg.push_str("</svg>");
    legend.push_str("</ul>");
    if !exemplars.is_empty() {
        legend.push_str("<p class=\"meta\">Dots are exemplars: measurements made in a trace; click one to open it.</p>");
    }
    svg + &legend
}

/// A number with at most 3 significant decimals.
pub fn number(v: f64) -> String {
    if v.abs() >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

/// The service map: services on a circle, an arrow per edge (caller → called).
pub fn service_map(services: &[String], edges: &[Edge]) -> String {
    if services.is_empty() {
        return String::new();
    }
    let (w, h) = (640.0_f64, 360.0_f64);
    let (cx, cy, r) = (
        w / 2.0,
        h / 2.0,
        if services.len() == 1 { 0.0 } else { 130.0 },
    );
    let pos = |i: usize| {
        let a =
            std::f64::consts::TAU * i as f64 / services.len() as f64 - std::f64::consts::FRAC_PI_2;
        (cx + r * a.cos(), cy + r * a.sin())
    };
    let index = |name: &str| services.iter().position(|s| s == name);
    let mut svg = format!(
        "<svg class=\"map\" viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\">\
<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#475569\"/></marker></defs>"
    );
    for e in edges {
        let (Some(a), Some(b)) = (index(&e.from), index(&e.to)) else {
            continue;
        };
        let ((x1, y1), (x2, y2)) = (pos(a), pos(b));
        let len = ((x2 - x1).powi(2) + (y2 - y1).powi(2)).sqrt().max(1.0);
        // Stop at the node's edge (radius 34).
        let (dx, dy) = ((x2 - x1) / len * 34.0, (y2 - y1) / len * 34.0);
        let _ = write!(
            svg,
            "<line class=\"edge\" data-from=\"{f}\" data-to=\"{t}\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" marker-end=\"url(#arrow)\"/>\
<text class=\"edge-label\" x=\"{:.1}\" y=\"{:.1}\">{}</text>",
            x1 + dx,
            y1 + dy,
            x2 - dx,
            y2 - dy,
            (x1 + x2) / 2.0,
            (y1 + y2) / 2.0 - 4.0,
            e.calls,
            f = esc(&e.from),
            t = esc(&e.to),
        );
    }
    for (i, s) in services.iter().enumerate() {
        let (x, y) = pos(i);
        let _ = write!(
            svg,
            "<g class=\"node\" data-service=\"{n}\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"34\" fill=\"{c}\"/>\
<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{n}</text></g>",
            y + 50.0,
            n = esc(s),
            c = COLOURS[i % COLOURS.len()],
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_utc_civil_dates() {
        assert_eq!(time(0), "1970-01-01 00:00:00.000");
        // 2024-02-29 12:34:56.789 UTC
        assert_eq!(time(1_709_210_096_789_000_000), "2024-02-29 12:34:56.789");
        assert_eq!(duration(1_500_000), "1.5 ms");
        assert_eq!(url("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }
}
