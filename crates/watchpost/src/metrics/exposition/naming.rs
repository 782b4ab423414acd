//! How an OTel instrument is named in the Prometheus exposition (see the module above).

/// How one OTel metric is named in the exposition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromName {
    /// The family name (`# TYPE` in OpenMetrics); for counters without `_total`.
    pub family: String,
    /// The converted unit (`seconds`), empty if none.
    pub unit: String,
}

pub(super) fn is_prometheus_style(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
}

/// Replaces invalid characters with `_`, collapses runs of `_`, and prefixes a leading digit.
pub(crate) fn sanitize(name: &str, allow_colon: bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    for c in name.chars() {
        let ok = c.is_ascii_alphanumeric() || c == '_' || (allow_colon && c == ':');
        let c = if ok { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    if out.is_empty() {
        out.push('_');
    }
    out
}

fn unit_word(unit: &str, per: bool) -> Option<&'static str> {
    Some(match (unit, per) {
        ("d", false) => "days",
        ("h", false) => "hours",
        ("min", false) => "minutes",
        ("s", false) => "seconds",
        ("ms", false) => "milliseconds",
        ("us", false) => "microseconds",
        ("ns", false) => "nanoseconds",
        ("By", false) => "bytes",
        ("KiBy", false) => "kibibytes",
        ("MiBy", false) => "mebibytes",
        ("GiBy", false) => "gibibytes",
        ("TiBy", false) => "tibibytes",
        ("KBy", false) => "kilobytes",
        ("MBy", false) => "megabytes",
        ("GBy", false) => "gigabytes",
        ("TBy", false) => "terabytes",
        ("m", false) => "meters",
        ("V", false) => "volts",
        ("A", false) => "amperes",
        ("J", false) => "joules",
        ("W", false) => "watts",
        ("g", false) => "grams",
        ("Cel", false) => "celsius",
        ("Hz", false) => "hertz",
        ("%", false) => "percent",
        ("s", true) => "second",
        ("m", true) => "minute",
        ("min", true) => "minute",
        ("h", true) => "hour",
        ("d", true) => "day",
        ("w", true) => "week",
        ("mo", true) => "month",
        ("y", true) => "year",
        _ => return None,
    })
}

/// Converts an OTel unit to its Prometheus suffix (`s` → `seconds`, `By/s` → `bytes_per_second`,
/// `{request}` → ``).
pub(crate) fn convert_unit(unit: &str, kind_is_gauge: bool) -> String {
    // Drop {annotations}.
    let mut clean = String::with_capacity(unit.len());
    let mut depth = 0;
    for c in unit.chars() {
        match c {
            '{' => depth += 1,
            '}' if depth > 0 => depth -= 1,
            _ if depth == 0 => clean.push(c),
            _ => {}
        }
    }
    let clean = clean.trim();
    if clean == "1" {
        return if kind_is_gauge {
            "ratio".into()
        } else {
            String::new()
        };
    }
    let (num, den) = match clean.split_once('/') {
        Some((n, d)) => (n.trim(), Some(d.trim())),
        None => (clean, None),
    };
    let mut out = String::new();
    if !num.is_empty() && num != "1" {
        match unit_word(num, false) {
            Some(w) => out.push_str(w),
            None => out.push_str(&sanitize(num, false)),
        }
    }
    if let Some(den) = den.filter(|d| !d.is_empty()) {
        if !out.is_empty() {
            out.push('_');
        }
        out.push_str("per_");
        match unit_word(den, true) {
            Some(w) => out.push_str(w),
            None => out.push_str(&sanitize(den, false)),
        }
    }
    out.trim_matches('_').to_string()
}

/// The Prometheus name of an OTel instrument.
///
/// ```
/// # use watchpost::metrics::exposition::prom_name;
/// let n = prom_name("http.server.request.duration", "s", false, false);
/// assert_eq!(n.family, "http_server_request_duration_seconds");
/// let n = prom_name("procman_http_requests_total", "", true, false);
/// assert_eq!(n.family, "procman_http_requests");
/// let n = prom_name("io.read", "By", true, false);
/// assert_eq!(n.family, "io_read_bytes"); // sample name io_read_bytes_total
/// ```
pub fn prom_name(name: &str, unit: &str, counter: bool, gauge: bool) -> PromName {
    let unit_suffix = convert_unit(unit, gauge);
    let mut base = if is_prometheus_style(name) {
        name.to_string()
    } else {
        let mut b = sanitize(name, true);
        if !unit_suffix.is_empty() {
            let without_total = b.strip_suffix("_total").unwrap_or(&b).to_string();
            if !without_total.ends_with(&format!("_{unit_suffix}")) {
                b = format!("{without_total}_{unit_suffix}");
            }
        }
        b
    };
    if counter {
        if let Some(stripped) = base.strip_suffix("_total") {
            base = stripped.to_string();
        }
    }
    let unit = if !unit_suffix.is_empty() && base.ends_with(&format!("_{unit_suffix}")) {
        unit_suffix
    } else {
        String::new()
    };
    PromName { family: base, unit }
}
