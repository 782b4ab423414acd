//! procman's own metrics, declared once in Watchpost's catalogue (names, labels, buckets) and
//! registered from it: the `/catalogue` endpoint, the README and the tests read the same list.

use opentelemetry::metrics::{Counter, Histogram};
use watchpost::catalogue::{Label, MetricDef, Unit};
use watchpost::metrics::buckets::DURATION_SECONDS;

/// Instance states, as in the `state`, `from` and `to` labels.
pub const STATES: &[&str] = &["created", "running", "standby", "stopped", "exited"];

/// Instances by state.
pub const INSTANCES: MetricDef = MetricDef::gauge("procman_instances", "Instances by state")
    .labels(&[Label::closed("state", STATES)])
    .subsystem("INSTANCES");
/// Time to create an instance.
pub const CREATE_DURATION: MetricDef = MetricDef::histogram(
    "procman_instances_create_duration_seconds",
    "Time to create an instance (spawn included)",
    DURATION_SECONDS,
)
.unit(Unit::Seconds)
.labels(&[Label::closed("status", &["success", "error"])])
.subsystem("INSTANCES");
/// State transitions.
pub const TRANSITIONS: MetricDef = MetricDef::counter(
    "procman_instances_state_transitions_total",
    "Instance state transitions",
)
.labels(&[Label::closed("from", STATES), Label::closed("to", STATES)])
.subsystem("INSTANCES");
/// Outcomes of exec sessions.
const EXEC_STATUS: Label =
    Label::closed("status", &["success", "nonzero_exit", "timeout", "error"]);
/// Exec durations; its `_count` counts exec sessions by outcome (no separate counter: it would be
/// a denormalized copy).
pub const EXEC_DURATION: MetricDef = MetricDef::histogram(
    "procman_exec_duration_seconds",
    "Exec command duration, by outcome",
    DURATION_SECONDS,
)
.unit(Unit::Seconds)
.labels(&[EXEC_STATUS])
.subsystem("EXEC");
/// Bytes received from exec commands.
pub const EXEC_BYTES: MetricDef = MetricDef::counter(
    "procman_exec_output_bytes_total",
    "Bytes received from exec commands (stdout and stderr)",
)
.unit(Unit::Bytes)
.subsystem("EXEC");

/// Every metric procman declares itself (the library declares the rest).
#[allow(dead_code)] // read by the tests; the running service registers each one itself
pub const ALL: &[MetricDef] = &[
    INSTANCES,
    CREATE_DURATION,
    TRANSITIONS,
    EXEC_DURATION,
    EXEC_BYTES,
];

/// The instruments procman records into (the instance gauge is observed by the manager).
pub struct Metrics {
    pub create_duration: Histogram<f64>,
    pub transitions: Counter<u64>,
    pub exec_duration: Histogram<f64>,
    pub exec_bytes: Counter<u64>,
}

impl Metrics {
    pub fn new(m: &watchpost::metrics::Metrics) -> Metrics {
        Metrics {
            create_duration: m.histogram(&CREATE_DURATION),
            transitions: m.counter(&TRANSITIONS),
            exec_duration: m.histogram(&EXEC_DURATION),
            exec_bytes: m.counter(&EXEC_BYTES),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_state_labels_are_the_instance_states() {
        let states: Vec<&str> = crate::instances::State::ALL
            .iter()
            .map(|s| s.as_str())
            .collect();
        assert_eq!(states, super::STATES);
    }
}
