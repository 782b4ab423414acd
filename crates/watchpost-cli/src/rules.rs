//! Every rule `watchpost lint` and `watchpost check` apply, with its stable id, default level and
//! the signal it reads. The ids are part of the interface: reports, `watchpost.toml` exclusions and
//! overrides, and the tests name them.

use crate::finding::{Level, Signal};

/// A rule: a stable id, its default level, the signal it is about and what it means.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    /// Stable id, `<signal>.<name>` in kebab case.
    pub id: &'static str,
    /// Default level (`watchpost.toml` may override it, with a reason).
    pub level: Level,
    /// The signal it is usually about (privacy rules apply to every signal).
    pub signal: Signal,
    /// One sentence: what breaks the rule.
    pub summary: &'static str,
}

const fn rule(id: &'static str, level: Level, signal: Signal, summary: &'static str) -> Rule {
    Rule {
        id,
        level,
        signal,
        summary,
    }
}

/// `metric.no-help`: A metric family has no HELP text (promlint).
pub const METRIC_NO_HELP: Rule = rule(
    "metric.no-help",
    Level::Violation,
    Signal::Metric,
    "A metric family has no HELP text (promlint).",
);

/// `metric.non-base-unit`: A name uses a non-base unit such as `milliseconds` or `kilobytes` instead of `seconds`/`bytes` (promlint).
pub const METRIC_NON_BASE_UNIT: Rule = rule(
    "metric.non-base-unit",
    Level::Violation,
    Signal::Metric,
    "A name uses a non-base unit such as `milliseconds` or `kilobytes` instead of `seconds`/`bytes` (promlint).",
);

/// `metric.counter-without-total`: A counter's name does not end in `_total` (promlint).
pub const METRIC_COUNTER_WITHOUT_TOTAL: Rule = rule(
    "metric.counter-without-total",
    Level::Violation,
    Signal::Metric,
    "A counter's name does not end in `_total` (promlint).",
);

/// `metric.total-on-non-counter`: A gauge, histogram or untyped metric is named `_total` (promlint).
pub const METRIC_TOTAL_ON_NON_COUNTER: Rule = rule(
    "metric.total-on-non-counter",
    Level::Violation,
    Signal::Metric,
    "A gauge, histogram or untyped metric is named `_total` (promlint).",
);

/// `metric.reserved-suffix`: A metric that is not a histogram (summary) ends in `_bucket` (`_count`, `_sum`) (promlint).
pub const METRIC_RESERVED_SUFFIX: Rule = rule(
    "metric.reserved-suffix",
    Level::Violation,
    Signal::Metric,
    "A metric that is not a histogram (summary) ends in `_bucket` (`_count`, `_sum`) (promlint).",
);

/// `metric.reserved-label`: A metric that is not a histogram has an `le` label, or one that is not a summary a `quantile` label (promlint).
pub const METRIC_RESERVED_LABEL: Rule = rule(
    "metric.reserved-label",
    Level::Violation,
    Signal::Metric,
    "A metric that is not a histogram has an `le` label, or one that is not a summary a `quantile` label (promlint).",
);

/// `metric.type-in-name`: A name contains its type (`counter`, `gauge`, `histogram`, `summary`) (promlint).
pub const METRIC_TYPE_IN_NAME: Rule = rule(
    "metric.type-in-name",
    Level::Violation,
    Signal::Metric,
    "A name contains its type (`counter`, `gauge`, `histogram`, `summary`) (promlint).",
);

/// `metric.colon-in-name`: A name contains `:`, which is reserved for recording rules (promlint).
pub const METRIC_COLON_IN_NAME: Rule = rule(
    "metric.colon-in-name",
    Level::Violation,
    Signal::Metric,
    "A name contains `:`, which is reserved for recording rules (promlint).",
);

/// `metric.camel-case`: A metric or label name is camelCase, not snake_case (promlint).
pub const METRIC_CAMEL_CASE: Rule = rule(
    "metric.camel-case",
    Level::Violation,
    Signal::Metric,
    "A metric or label name is camelCase, not snake_case (promlint).",
);

/// `metric.unit-abbreviation`: A name abbreviates a unit (`sec`, `ms`, `kb`…) (promlint).
pub const METRIC_UNIT_ABBREVIATION: Rule = rule(
    "metric.unit-abbreviation",
    Level::Violation,
    Signal::Metric,
    "A name abbreviates a unit (`sec`, `ms`, `kb`…) (promlint).",
);

/// `metric.duplicate`: A family is described twice, or a series appears twice with the same labels (promtool).
pub const METRIC_DUPLICATE: Rule = rule(
    "metric.duplicate",
    Level::Violation,
    Signal::Metric,
    "A family is described twice, or a series appears twice with the same labels (promtool).",
);

/// `metric.unit-suffix`: A declared unit (OpenMetrics `# UNIT` or the catalogue) and the name's suffix disagree.
pub const METRIC_UNIT_SUFFIX: Rule = rule(
    "metric.unit-suffix",
    Level::Violation,
    Signal::Metric,
    "A declared unit (OpenMetrics `# UNIT` or the catalogue) and the name's suffix disagree.",
);

/// `metric.high-cardinality`: A label has more distinct values in one family than the limit (`--max-label-values`, default 100) or than its catalogue budget.
pub const METRIC_HIGH_CARDINALITY: Rule = rule(
    "metric.high-cardinality",
    Level::Violation,
    Signal::Metric,
    "A label has more distinct values in one family than the limit (`--max-label-values`, default 100) or than its catalogue budget.",
);

/// `metric.id-like-label`: A label value looks like an id: a UUID, long hex, an IP address, a number in a path, an e-mail address (a label with a catalogue budget may carry per-instance UUIDs, hex ids and addresses: the standard's guarded exception).
pub const METRIC_ID_LIKE_LABEL: Rule = rule(
    "metric.id-like-label",
    Level::Violation,
    Signal::Metric,
    "A label value looks like an id: a UUID, long hex, an IP address, a number in a path, an e-mail address (a label with a catalogue budget may carry per-instance UUIDs, hex ids and addresses: the standard's guarded exception).",
);

/// `metric.denormalized`: A series can be derived from others: a counter equal to a histogram's `_count` with the same labels, or a series equal to the sum of its siblings.
pub const METRIC_DENORMALIZED: Rule = rule(
    "metric.denormalized",
    Level::Violation,
    Signal::Metric,
    "A series can be derived from others: a counter equal to a histogram's `_count` with the same labels, or a series equal to the sum of its siblings.",
);

/// `metric.requests-without-histogram`: A request or operation counter has no timing histogram beside it.
pub const METRIC_REQUESTS_WITHOUT_HISTOGRAM: Rule = rule(
    "metric.requests-without-histogram",
    Level::Violation,
    Signal::Metric,
    "A request or operation counter has no timing histogram beside it.",
);

/// `metric.no-application-metric`: The exposition has only third-party metrics (`process_*`, `go_*`, …): the application measures nothing of its own.
pub const METRIC_NO_APPLICATION_METRIC: Rule = rule(
    "metric.no-application-metric",
    Level::Violation,
    Signal::Metric,
    "The exposition has only third-party metrics (`process_*`, `go_*`, …): the application measures nothing of its own.",
);

/// `metric.undeclared`: A family on the exposition is not in the catalogue given with `--catalogue`.
pub const METRIC_UNDECLARED: Rule = rule(
    "metric.undeclared",
    Level::Violation,
    Signal::Metric,
    "A family on the exposition is not in the catalogue given with `--catalogue`.",
);

/// `metric.catalogue-mismatch`: A family's type, labels or label values differ from its catalogue entry.
pub const METRIC_CATALOGUE_MISMATCH: Rule = rule(
    "metric.catalogue-mismatch",
    Level::Violation,
    Signal::Metric,
    "A family's type, labels or label values differ from its catalogue entry.",
);

/// `metric.series-growth`: A family gained 100 series or more between the first and the last scrape of a check, or grew past half its catalogue budget.
pub const METRIC_SERIES_GROWTH: Rule = rule(
    "metric.series-growth",
    Level::Information,
    Signal::Metric,
    "A family gained 100 series or more between the first and the last scrape of a check, or grew past half its catalogue budget.",
);

/// `metric.parse-error`: A line of the exposition cannot be read (the rest is still linted).
pub const METRIC_PARSE_ERROR: Rule = rule(
    "metric.parse-error",
    Level::Violation,
    Signal::Metric,
    "A line of the exposition cannot be read (the rest is still linted).",
);

/// `log.invalid-json`: A log line is not one JSON object.
pub const LOG_INVALID_JSON: Rule = rule(
    "log.invalid-json",
    Level::Violation,
    Signal::Log,
    "A log line is not one JSON object.",
);

/// `log.missing-key`: A log line lacks a standard key (`time`, `level`, `msg`, `subsystem`).
pub const LOG_MISSING_KEY: Rule = rule(
    "log.missing-key",
    Level::Violation,
    Signal::Log,
    "A log line lacks a standard key (`time`, `level`, `msg`, `subsystem`).",
);

/// `log.trace-level`: A line is logged at TRACE (the standard: do not use TRACE).
pub const LOG_TRACE_LEVEL: Rule = rule(
    "log.trace-level",
    Level::Violation,
    Signal::Log,
    "A line is logged at TRACE (the standard: do not use TRACE).",
);

/// `log.noisy-when-idle`: The same INFO+ message repeats while no request is in flight (the standard: quiet when idle).
pub const LOG_NOISY_WHEN_IDLE: Rule = rule(
    "log.noisy-when-idle",
    Level::Violation,
    Signal::Log,
    "The same INFO+ message repeats while no request is in flight (the standard: quiet when idle).",
);

/// `log.too-many-info`: A request (one `trace_id`) logged more than one INFO+ line at INFO (about one INFO line per request).
pub const LOG_TOO_MANY_INFO: Rule = rule(
    "log.too-many-info",
    Level::Violation,
    Signal::Log,
    "A request (one `trace_id`) logged more than one INFO+ line at INFO (about one INFO line per request).",
);

/// `log.missing-trace-id`: A line written inside a request carries no `trace_id`.
pub const LOG_MISSING_TRACE_ID: Rule = rule(
    "log.missing-trace-id",
    Level::Violation,
    Signal::Log,
    "A line written inside a request carries no `trace_id`.",
);

/// `log.resource-without-id`: A line mentions a known resource id (e.g. an `instance_id` value) without the id field, so it never reaches the resource's log.
pub const LOG_RESOURCE_WITHOUT_ID: Rule = rule(
    "log.resource-without-id",
    Level::Violation,
    Signal::Log,
    "A line mentions a known resource id (e.g. an `instance_id` value) without the id field, so it never reaches the resource's log.",
);

/// `log.server-error-unlogged`: A request answered 5xx and no WARN or ERROR line says why.
pub const LOG_SERVER_ERROR_UNLOGGED: Rule = rule(
    "log.server-error-unlogged",
    Level::Violation,
    Signal::Log,
    "A request answered 5xx and no WARN or ERROR line says why.",
);

/// `span.name-not-route`: An HTTP server span is not named by its route template (`GET /items/{id}`), or has no `http.route`.
pub const SPAN_NAME_NOT_ROUTE: Rule = rule(
    "span.name-not-route",
    Level::Violation,
    Signal::Span,
    "An HTTP server span is not named by its route template (`GET /items/{id}`), or has no `http.route`.",
);

/// `span.missing-status-code`: An HTTP server span has no `http.response.status_code`.
pub const SPAN_MISSING_STATUS_CODE: Rule = rule(
    "span.missing-status-code",
    Level::Violation,
    Signal::Span,
    "An HTTP server span has no `http.response.status_code`.",
);

/// `span.missing-error-type`: An HTTP server span that answered 5xx has no `error.type`.
pub const SPAN_MISSING_ERROR_TYPE: Rule = rule(
    "span.missing-error-type",
    Level::Violation,
    Signal::Span,
    "An HTTP server span that answered 5xx has no `error.type`.",
);

/// `span.unbounded-attribute`: A span attribute is unbounded: a value longer than 1 KiB, a payload-like value, or an id-like value in an attribute that should be low-cardinality.
pub const SPAN_UNBOUNDED_ATTRIBUTE: Rule = rule(
    "span.unbounded-attribute",
    Level::Violation,
    Signal::Span,
    "A span attribute is unbounded: a value longer than 1 KiB, a payload-like value, or an id-like value in an attribute that should be low-cardinality.",
);

/// `span.no-client-span`: A request's trace has only its server span while other requests of the service trace their calls out.
pub const SPAN_NO_CLIENT_SPAN: Rule = rule(
    "span.no-client-span",
    Level::Improvement,
    Signal::Span,
    "A request's trace has only its server span while other requests of the service trace their calls out.",
);

/// `trace.error-without-span`: An ERROR line or record, or a 5xx access line, names a trace of which no span was exported (logs and traces do not join).
pub const TRACE_ERROR_WITHOUT_SPAN: Rule = rule(
    "trace.error-without-span",
    Level::Violation,
    Signal::Log,
    "An ERROR line or record, or a 5xx access line, names a trace of which no span was exported (logs and traces do not join).",
);

/// `otlp.invalid`: An OTLP export could not be decoded, or carries invalid ids.
pub const OTLP_INVALID: Rule = rule(
    "otlp.invalid",
    Level::Violation,
    Signal::Span,
    "An OTLP export could not be decoded, or carries invalid ids.",
);

/// `privacy.secret`: A secret (password, token, key, bearer credential, private key) appears unredacted in a line, attribute, event or status message.
pub const PRIVACY_SECRET: Rule = rule(
    "privacy.secret",
    Level::Violation,
    Signal::Log,
    "A secret (password, token, key, bearer credential, private key) appears unredacted in a line, attribute, event or status message.",
);

/// `privacy.personal-data`: Personal data (an e-mail address, a card number) appears unmasked in a line, attribute, event or status message.
pub const PRIVACY_PERSONAL_DATA: Rule = rule(
    "privacy.personal-data",
    Level::Violation,
    Signal::Log,
    "Personal data (an e-mail address, a card number) appears unmasked in a line, attribute, event or status message.",
);

/// Every rule, in report order.
pub const ALL: &[&Rule] = &[
    &METRIC_NO_HELP,
    &METRIC_NON_BASE_UNIT,
    &METRIC_COUNTER_WITHOUT_TOTAL,
    &METRIC_TOTAL_ON_NON_COUNTER,
    &METRIC_RESERVED_SUFFIX,
    &METRIC_RESERVED_LABEL,
    &METRIC_TYPE_IN_NAME,
    &METRIC_COLON_IN_NAME,
    &METRIC_CAMEL_CASE,
    &METRIC_UNIT_ABBREVIATION,
    &METRIC_DUPLICATE,
    &METRIC_UNIT_SUFFIX,
    &METRIC_HIGH_CARDINALITY,
    &METRIC_ID_LIKE_LABEL,
    &METRIC_DENORMALIZED,
    &METRIC_REQUESTS_WITHOUT_HISTOGRAM,
    &METRIC_NO_APPLICATION_METRIC,
    &METRIC_UNDECLARED,
    &METRIC_CATALOGUE_MISMATCH,
    &METRIC_SERIES_GROWTH,
    &METRIC_PARSE_ERROR,
    &LOG_INVALID_JSON,
    &LOG_MISSING_KEY,
    &LOG_TRACE_LEVEL,
    &LOG_NOISY_WHEN_IDLE,
    &LOG_TOO_MANY_INFO,
    &LOG_MISSING_TRACE_ID,
    &LOG_RESOURCE_WITHOUT_ID,
    &LOG_SERVER_ERROR_UNLOGGED,
    &SPAN_NAME_NOT_ROUTE,
    &SPAN_MISSING_STATUS_CODE,
    &SPAN_MISSING_ERROR_TYPE,
    &SPAN_UNBOUNDED_ATTRIBUTE,
    &SPAN_NO_CLIENT_SPAN,
    &TRACE_ERROR_WITHOUT_SPAN,
    &OTLP_INVALID,
    &PRIVACY_SECRET,
    &PRIVACY_PERSONAL_DATA,
];

/// The rule with this id.
pub fn by_id(id: &str) -> Option<&'static Rule> {
    ALL.iter().copied().find(|r| r.id == id)
}

/// The rules as a Markdown table (`watchpost explain`, `watchpost docs --table rules`).
pub fn markdown_table() -> String {
    let mut out = String::from("| rule | level | signal | what breaks it |\n|---|---|---|---|\n");
    for r in ALL {
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            r.id,
            r.level,
            r.signal.as_str(),
            r.summary.replace('|', "\\|")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_kebab_case_and_prefixed_by_a_known_group() {
        let mut seen = std::collections::HashSet::new();
        for r in ALL {
            assert!(seen.insert(r.id), "{} twice", r.id);
            let (group, name) = r.id.split_once('.').expect("group.name");
            assert!(
                ["metric", "log", "span", "trace", "otlp", "privacy"].contains(&group),
                "{}",
                r.id
            );
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'),
                "{}",
                r.id
            );
            assert_eq!(by_id(r.id), Some(*r));
        }
    }
}
