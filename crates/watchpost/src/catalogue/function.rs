//! The metrics of measured functions (`#[watchpost::measured]`), with autometrics' names and
//! labels (its specification v1.0.0), so that its dashboards and rules read them unchanged.
//! Not per-service: autometrics' names have no prefix; the service is the `service_name` label.

use super::buckets::FUNCTION_SECONDS;
use super::{Label, MetricDef, Unit};

/// Distinct measured functions expected in one service (the budget of the `function`, `module`
/// and `caller_*` labels).
pub const MAX_MEASURED_FUNCTIONS: usize = 200;

/// The percentiles an objective may name (autometrics' four).
pub const OBJECTIVE_PERCENTILES: &[&str] = &["90", "95", "99", "99.9"];

/// The latency thresholds an objective may name: the bucket boundaries of
/// [`FUNCTION_CALLS_DURATION`], as label text.
pub const OBJECTIVE_LATENCY_THRESHOLDS: &[&str] = &[
    "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5",
    "7.5", "10",
];

const FUNCTION: Label = Label::budget("function", MAX_MEASURED_FUNCTIONS);
const MODULE: Label = Label::budget("module", MAX_MEASURED_FUNCTIONS);
const SERVICE_NAME: Label = Label::budget("service_name", 1);
const OBJECTIVE_NAME: Label = Label::budget("objective_name", 32);
const OBJECTIVE_PERCENTILE: Label = Label::closed("objective_percentile", OBJECTIVE_PERCENTILES);

/// Calls of measured functions, by result and caller (autometrics' `function.calls`).
pub const FUNCTION_CALLS: MetricDef = MetricDef::counter(
    "function_calls_total",
    "Calls of measured functions, by result (ok or error) and calling measured function",
)
.labels(&[
    FUNCTION,
    MODULE,
    SERVICE_NAME,
    Label::closed("result", &["ok", "error"]),
    Label::budget("caller_function", MAX_MEASURED_FUNCTIONS),
    Label::budget("caller_module", MAX_MEASURED_FUNCTIONS),
    OBJECTIVE_NAME,
    OBJECTIVE_PERCENTILE,
]);

/// Durations of measured functions (autometrics' `function.calls.duration`).
pub const FUNCTION_CALLS_DURATION: MetricDef = MetricDef::histogram(
    "function_calls_duration_seconds",
    "Duration of measured functions' calls",
    FUNCTION_SECONDS,
)
.unit(Unit::Seconds)
.labels(&[
    FUNCTION,
    MODULE,
    SERVICE_NAME,
    OBJECTIVE_NAME,
    OBJECTIVE_PERCENTILE,
    Label::closed("objective_latency_threshold", OBJECTIVE_LATENCY_THRESHOLDS),
]);

/// Calls in progress of measured functions that track them (autometrics'
/// `function.calls.concurrent`).
pub const FUNCTION_CALLS_CONCURRENT: MetricDef = MetricDef::up_down_counter(
    "function_calls_concurrent",
    "Calls in progress of measured functions (those measured with `concurrency`)",
)
.labels(&[FUNCTION, MODULE, SERVICE_NAME]);

/// What a program with measured functions registers (the concurrency gauge only if one of them
/// tracks it).
pub const FUNCTIONS: &[MetricDef] = &[
    FUNCTION_CALLS,
    FUNCTION_CALLS_DURATION,
    FUNCTION_CALLS_CONCURRENT,
];

#[cfg(test)]
mod tests {
    #[test]
    fn thresholds_are_the_buckets_as_label_text() {
        let buckets = super::FUNCTION_SECONDS;
        assert_eq!(buckets.len(), super::OBJECTIVE_LATENCY_THRESHOLDS.len());
        for (b, t) in buckets.iter().zip(super::OBJECTIVE_LATENCY_THRESHOLDS) {
            assert_eq!(t.parse::<f64>().unwrap(), *b);
        }
    }

    /// The attribute refuses a latency objective off the buckets at compile time, from its own
    /// table: the same values, the same label text.
    #[test]
    fn the_attributes_latency_table_is_the_buckets() {
        let source = include_str!("../../../watchpost-macros/src/lib.rs");
        let start = source.find("const LATENCIES").unwrap();
        let table = &source[start..start + source[start..].find("];").unwrap()];
        let labels: Vec<&str> = table.split('"').skip(1).step_by(2).collect();
        assert_eq!(labels, super::OBJECTIVE_LATENCY_THRESHOLDS);
    }
}
