//! The library's own metrics. Each name is written here and nowhere else in the library.

use super::buckets::DURATION_SECONDS;
use super::{Label, MetricDef, Unit};

/// The `signal` label of the export pipeline's counters.
pub const SIGNALS: &[&str] = &["traces", "metrics", "logs"];

/// Seconds since the process started.
pub const UPTIME: MetricDef =
    MetricDef::gauge("uptime_seconds", "Seconds since the process started")
        .unit(Unit::Seconds)
        .subsystem("RUNTIME")
        .per_service();

/// Build information (`version` label); the value is always 1.
pub const INFO: MetricDef = MetricDef::gauge("info", "Build information; the value is always 1")
    .labels(&[Label::budget("version", 1)])
    .subsystem("RUNTIME")
    .per_service();

/// Collections that found new measurements in a metric's overflow series.
pub const METRIC_SERIES_OVERFLOW: MetricDef = MetricDef::counter(
    "metric_series_overflow_total",
    "Collections that found new measurements folded into a metric's overflow series",
)
.labels(&[Label::budget("metric", 200)])
.subsystem("TELEMETRY")
.per_service();

/// Log lines lost by the main log.
pub const LOG_WRITE_ERRORS: MetricDef = MetricDef::counter(
    "log_write_errors_total",
    "Log lines lost: the log output failed, or its buffer was full",
)
.subsystem("TELEMETRY")
.per_service();

/// Telemetry items dropped before or by export, per signal.
pub const TELEMETRY_DROPPED: MetricDef = MetricDef::counter(
    "telemetry_dropped_total",
    "Telemetry items dropped: full export queue, failed export, or refused by the collector",
)
.labels(&[Label::closed("signal", SIGNALS)])
.subsystem("TELEMETRY")
.per_service();

/// Failed OTLP exports, per signal.
pub const TELEMETRY_EXPORT_ERRORS: MetricDef = MetricDef::counter(
    "telemetry_export_errors_total",
    "Failed OTLP exports (errors and timeouts)",
)
.labels(&[Label::closed("signal", SIGNALS)])
.subsystem("TELEMETRY")
.per_service();

/// Traces decided early because the tail-sampling buffer was full.
pub const TRACE_BUFFER_OVERFLOW: MetricDef = MetricDef::counter(
    "trace_buffer_overflow_total",
    "Traces decided before their local root ended because the tail-sampling buffer was full",
)
.subsystem("TELEMETRY")
.per_service();

/// Spans the tail sampler decided on, by decision.
pub const TRACE_SAMPLED_SPANS: MetricDef = MetricDef::counter(
    "trace_sampled_spans_total",
    "Spans decided by the tail sampler: kept (sent to export) or dropped",
)
.labels(&[Label::closed("decision", &["kept", "dropped"])])
.subsystem("TELEMETRY")
.per_service();

/// Panics seen by the panic hook.
pub const PANICS: MetricDef = MetricDef::counter(
    "panics_total",
    "Panics in any thread, seen by the panic hook (each also written as one ERROR line); 0 until the hook is installed",
)
.subsystem("RUNTIME")
.per_service();

/// Total user and system CPU time.
pub const PROCESS_CPU: MetricDef = MetricDef::counter(
    "process_cpu_seconds_total",
    "Total user and system CPU time spent",
)
.unit(Unit::Seconds)
.subsystem("RUNTIME");
/// Resident memory.
pub const PROCESS_RESIDENT_MEMORY: MetricDef =
    MetricDef::gauge("process_resident_memory_bytes", "Resident memory size")
        .unit(Unit::Bytes)
        .subsystem("RUNTIME");
/// Virtual memory.
pub const PROCESS_VIRTUAL_MEMORY: MetricDef =
    MetricDef::gauge("process_virtual_memory_bytes", "Virtual memory size")
        .unit(Unit::Bytes)
        .subsystem("RUNTIME");
/// Open file descriptors.
pub const PROCESS_OPEN_FDS: MetricDef =
    MetricDef::gauge("process_open_fds", "Number of open file descriptors").subsystem("RUNTIME");
/// The descriptor limit.
pub const PROCESS_MAX_FDS: MetricDef =
    MetricDef::gauge("process_max_fds", "Maximum number of open file descriptors")
        .subsystem("RUNTIME");
/// Process start time.
pub const PROCESS_START_TIME: MetricDef = MetricDef::gauge(
    "process_start_time_seconds",
    "Start time of the process since the Unix epoch",
)
.unit(Unit::Seconds)
.subsystem("RUNTIME");
/// OS threads.
pub const PROCESS_THREADS: MetricDef =
    MetricDef::gauge("process_threads", "Number of OS threads in the process").subsystem("RUNTIME");

/// Tokio worker threads.
pub const TOKIO_WORKERS: MetricDef = MetricDef::gauge(
    "tokio_runtime_workers",
    "Worker threads of the Tokio runtime",
)
.subsystem("RUNTIME");
/// Tokio alive tasks.
pub const TOKIO_ALIVE_TASKS: MetricDef = MetricDef::gauge(
    "tokio_runtime_alive_tasks",
    "Tasks alive in the Tokio runtime",
)
.subsystem("RUNTIME");
/// Tokio global queue depth.
pub const TOKIO_GLOBAL_QUEUE_DEPTH: MetricDef = MetricDef::gauge(
    "tokio_runtime_global_queue_depth",
    "Tasks waiting in the Tokio runtime's global queue",
)
.subsystem("RUNTIME");

/// What every pipeline registers (process metrics on Linux, runtime metrics inside Tokio).
pub const BUILTIN: &[MetricDef] = &[
    UPTIME,
    INFO,
    METRIC_SERIES_OVERFLOW,
    LOG_WRITE_ERRORS,
    TELEMETRY_DROPPED,
    TELEMETRY_EXPORT_ERRORS,
    TRACE_BUFFER_OVERFLOW,
    TRACE_SAMPLED_SPANS,
    PANICS,
    PROCESS_CPU,
    PROCESS_RESIDENT_MEMORY,
    PROCESS_VIRTUAL_MEMORY,
    PROCESS_OPEN_FDS,
    PROCESS_MAX_FDS,
    PROCESS_START_TIME,
    PROCESS_THREADS,
    TOKIO_WORKERS,
    TOKIO_ALIVE_TASKS,
    TOKIO_GLOBAL_QUEUE_DEPTH,
];

/// Lines appended to per-resource log files.
pub const RESOURCE_LOG_LINES: MetricDef = MetricDef::counter(
    "resource_log_lines_total",
    "Lines appended to per-resource log files",
)
.subsystem("LOGS")
.per_service();
/// Lines not written to a resource file, by reason.
pub const RESOURCE_LOG_DISCARDED: MetricDef = MetricDef::counter(
    "resource_log_discarded_total",
    "Lines for a resource file not written: the resource was not registered, or its id was rejected",
)
.labels(&[Label::closed("reason", &["unregistered", "rejected_id"])])
.subsystem("LOGS")
    .per_service();
/// Failed file operations of per-resource logs.
pub const RESOURCE_LOG_IO_ERRORS: MetricDef = MetricDef::counter(
    "resource_log_io_errors_total",
    "Failed per-resource log file operations (open, write, rotate, compress)",
)
.subsystem("LOGS")
.per_service();
/// Rotations of per-resource log files.
pub const RESOURCE_LOG_ROTATIONS: MetricDef = MetricDef::counter(
    "resource_log_rotations_total",
    "Rotations of per-resource log files",
)
.subsystem("LOGS")
.per_service();
/// Rotated files a follower could not read.
pub const RESOURCE_LOG_FOLLOWER_GAPS: MetricDef = MetricDef::counter(
    "resource_log_follower_gaps_total",
    "Rotated files a follower could not read because they were already deleted",
)
.subsystem("LOGS")
.per_service();
/// Per-resource log files deleted, by reason.
pub const RESOURCE_LOG_EVICTIONS: MetricDef = MetricDef::counter(
    "resource_log_evictions_total",
    "Per-resource log files deleted: older than the maximum age, or to hold the disk budget",
)
.labels(&[Label::closed("reason", &["age", "budget"])])
.subsystem("LOGS")
.per_service();
/// Bytes of per-resource log files on disk.
pub const RESOURCE_LOG_DISK_BYTES: MetricDef = MetricDef::gauge(
    "resource_log_disk_bytes",
    "Bytes of per-resource log files on disk (held under the disk budget)",
)
.unit(Unit::Bytes)
.subsystem("LOGS")
.per_service();
/// Open descriptors of per-resource log files.
pub const RESOURCE_LOG_OPEN_FILES: MetricDef = MetricDef::gauge(
    "resource_log_open_files",
    "Open descriptors of per-resource log files (bounded)",
)
.subsystem("LOGS")
.per_service();

/// What a pipeline with per-resource log files adds.
pub const RESOURCE_LOGS: &[MetricDef] = &[
    RESOURCE_LOG_LINES,
    RESOURCE_LOG_DISCARDED,
    RESOURCE_LOG_IO_ERRORS,
    RESOURCE_LOG_ROTATIONS,
    RESOURCE_LOG_FOLLOWER_GAPS,
    RESOURCE_LOG_OPEN_FILES,
    RESOURCE_LOG_EVICTIONS,
    RESOURCE_LOG_DISK_BYTES,
];

/// The `method` label values of the HTTP metrics: the standard methods, and `_OTHER` for any
/// other (the OpenTelemetry HTTP conventions).
pub const HTTP_METHODS: &[&str] = &[
    "GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "_OTHER",
];
/// Distinct route templates expected (unmatched requests share one value).
const ROUTES: usize = 64;
/// Distinct status codes expected.
const STATUSES: usize = 20;

/// HTTP request latency; its `_count` is the number of requests (there is no separate request
/// counter: it would be a denormalized copy of it, which the standard forbids).
pub const HTTP_REQUEST_DURATION: MetricDef = MetricDef::histogram(
    "http_request_duration_seconds",
    "HTTP request latency, until the response body ended",
    DURATION_SECONDS,
)
.unit(Unit::Seconds)
.labels(&[
    Label::closed("method", HTTP_METHODS),
    Label::budget("path", ROUTES),
    Label::budget("status", STATUSES),
])
.subsystem("API")
.per_service();
/// HTTP requests in flight.
pub const HTTP_REQUESTS_IN_FLIGHT: MetricDef =
    MetricDef::up_down_counter("http_requests_in_flight", "HTTP requests being served")
        .subsystem("API")
        .per_service();
/// Panicking handlers.
pub const HTTP_PANICS: MetricDef = MetricDef::counter(
    "http_panics_total",
    "HTTP handlers that panicked (answered 500)",
)
.subsystem("API")
.per_service();
/// Outgoing HTTP request latency.
pub const HTTP_CLIENT_REQUEST_DURATION: MetricDef = MetricDef::histogram(
    "http_client_request_duration_seconds",
    "Outgoing HTTP request latency, until the response head",
    DURATION_SECONDS,
)
.unit(Unit::Seconds)
.labels(&[
    Label::closed("method", HTTP_METHODS),
    Label::budget("host", crate::catalogue::MAX_CLIENT_HOSTS + 1),
    Label::budget("status", STATUSES),
])
.per_service();

/// Distinct `host` label values of the client metric; later hosts are counted as `other`.
pub const MAX_CLIENT_HOSTS: usize = 64;

/// What the HTTP server layer ([`crate::http::HttpLayer`]) and the client layers register.
pub const HTTP: &[MetricDef] = &[
    HTTP_REQUEST_DURATION,
    HTTP_REQUESTS_IN_FLIGHT,
    HTTP_PANICS,
    HTTP_CLIENT_REQUEST_DURATION,
];
