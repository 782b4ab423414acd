//! Log lines that break each `log.*` rule of `watchpost check` exactly once (and
//! `trace.error-without-span`, whose ERROR line names a trace no span was exported for).

/// A trace with too many INFO lines.
pub const TOO_MANY_INFO_TRACE: &str = "b0000000000000000000000000000001";
/// A trace that answered 500 with no line saying why: the same request as the bad 5xx server
/// span of [`super::spans`], judged once.
pub const SERVER_ERROR_TRACE: &str = super::spans::BAD_UNLOGGED_TRACE_ID;
/// A trace with an ERROR line and no exported span (an OTLP log record names it too).
pub const ERROR_WITHOUT_SPAN_TRACE: &str = super::spans::BAD_ERROR_TRACE_ID;
/// A resource id that one line mentions without its field.
pub const RESOURCE_ID: &str = "bad0resource0id";

/// The lines, in order. Every line but the broken ones has the standard keys; times are far
/// apart so that only the `bad-noisy-when-idle` lines fall outside every request.
pub const BAD_LOG_LINES: &[&str] = &[
    "this line is not JSON (bad-invalid-json)",
    r#"{"time":"2026-01-01T00:00:01Z","level":"INFO","msg":"bad-missing-key"}"#,
    r#"{"time":"2026-01-01T00:00:02Z","level":"TRACE","msg":"bad-trace-level","subsystem":"BAD"}"#,
    r#"{"time":"2026-01-01T00:01:00Z","level":"INFO","msg":"bad-noisy-when-idle","subsystem":"BAD"}"#,
    r#"{"time":"2026-01-01T00:02:00Z","level":"INFO","msg":"bad-noisy-when-idle","subsystem":"BAD"}"#,
    r#"{"time":"2026-01-01T00:03:00Z","level":"INFO","msg":"bad-noisy-when-idle","subsystem":"BAD"}"#,
    // Two INFO lines in a trace with one request.
    r#"{"time":"2026-01-01T00:04:00Z","level":"INFO","msg":"bad-too-many-info","subsystem":"API","trace_id":"b0000000000000000000000000000001","span_id":"b000000000000001"}"#,
    r#"{"time":"2026-01-01T00:04:00.001Z","level":"INFO","msg":"request handled","subsystem":"API","trace_id":"b0000000000000000000000000000001","span_id":"b000000000000001","method":"GET","path":"/things","status":200,"duration_ms":1.0}"#,
    // An access line without a trace id.
    r#"{"time":"2026-01-01T00:05:00Z","level":"INFO","msg":"bad-missing-trace-id","subsystem":"API","method":"GET","path":"/things","status":200,"duration_ms":1.0}"#,
    // A resource learnt from its field, then mentioned without it.
    r#"{"time":"2026-01-01T00:06:00Z","level":"DEBUG","msg":"resource created","subsystem":"BAD","instance_id":"bad0resource0id"}"#,
    r#"{"time":"2026-01-01T00:06:01Z","level":"DEBUG","msg":"bad-resource-without-id bad0resource0id","subsystem":"BAD"}"#,
    // A 500 that nothing explains.
    r#"{"time":"2026-01-01T00:07:00Z","level":"WARN","msg":"bad-server-error-unlogged","subsystem":"API","trace_id":"bad000000000000000000000000000d1","span_id":"b000000000000002","method":"POST","path":"/things","status":500,"duration_ms":1.0}"#,
    // An ERROR line whose trace was never exported.
    r#"{"time":"2026-01-01T00:08:00Z","level":"ERROR","msg":"bad-error-without-span","subsystem":"BAD","trace_id":"bad000000000000000000000000000e1","span_id":"b000000000000003"}"#,
];

/// Rule id → the name that shows in the finding (its `signal_name` or context). The bad spans
/// name `log.server-error-unlogged` and `trace.error-without-span` too: the same offenders.
pub const BAD_LOG_RULES: &[(&str, &str)] = &[
    ("log.invalid-json", "bad-invalid-json"),
    ("log.missing-key", "bad-missing-key"),
    ("log.trace-level", "bad-trace-level"),
    ("log.noisy-when-idle", "bad-noisy-when-idle"),
    ("log.too-many-info", "b0000000000000000000000000000001"),
    ("log.missing-trace-id", "bad-missing-trace-id"),
    ("log.resource-without-id", "bad-resource-without-id"),
    ("log.server-error-unlogged", "bad-server-error-unlogged"),
    ("trace.error-without-span", ERROR_WITHOUT_SPAN_TRACE),
];
