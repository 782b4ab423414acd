//! Traces: the tracer provider, W3C propagation helpers, and tail sampling that keeps whole error
//! traces.
//!
//! `tracing` spans become OpenTelemetry spans through our bridge ([`set_parent`], [`context`],
//! [`trace_id`]; see the `bridge` module), so `#[instrument]` and `info_span!` are traced, and the
//! log layer sees their ids. [`SpanExt`] (also named [`OpenTelemetrySpanExt`]) has
//! `tracing-opentelemetry`'s span methods with their signatures (`set_parent`, `context`,
//! `set_attribute`, `set_status`, `add_event`, `add_link`): code written for it moves over by
//! changing the import.
//!
//! **Sampling.** Every span is recorded; the decision is made when a trace's *local root* ends
//! (the span without a parent in this process), over every span of that trace this process
//! finished (an in-process tail decision). A trace is kept if any of its spans has status Error
//! or an ERROR event or was marked slow by a measured function (`#[measured(slow = …)]`), if the
//! local root took at least the slow threshold, if the caller's
//! `traceparent` said sampled (parent-based), or else with probability `OTEL_TRACES_SAMPLER_RATIO`
//! (default 0.1, decided from the trace id, so every service that uses the same rule on the same
//! trace agrees). Spans ending after their trace was decided follow the decision. The buffer is
//! bounded (traces and spans): when it is full the oldest trace is decided early with what is
//! known so far, and `<svc>_trace_buffer_overflow_total` counts it.
//!
//! Across services this means: a downstream service that samples by ratio keeps its part of an
//! error trace only if it saw the error itself or the caller said sampled; propagate
//! `traceparent` with the sampled flag set for traces you must keep everywhere.
//!
//! **Hygiene.** The log redactor's rules hold in spans too, for `tracing` spans and for spans
//! made with the OpenTelemetry API alike: attributes and event fields whose names mean secrets
//! (the redaction list) are `[REDACTED]`; e-mail addresses and card numbers are masked in
//! attribute values, event fields, event names (the message), error status messages and span
//! names; string values are cut at 1 KiB, and a span holds at most 128 attributes. An unsigned
//! field above `i64::MAX` is exported as its decimal string (OpenTelemetry has no `u64`).

mod bridge;
mod current;
mod deferred;
pub(crate) use current::new_tag as new_trace_tag;
mod propagation;
mod sampling;
mod span_ext;
mod w3c;

pub use bridge::{context, set_parent, trace_id};
pub(crate) use bridge::{
    current_span_ids, is_server_span, mark_slow, new_span_ids, random_u64, record_context,
    span_ids, Bridge, OtelSpan, SpanIds,
};
pub(crate) use propagation::new_propagator;
pub use propagation::{extract, inject};
use propagation::{sdk_trace_state, tracestate_of};
pub(crate) use sampling::{MarkingSampler, SharedTail, SpanSink, TailSampler, TailSettings};
pub use span_ext::{SetParentError, SpanExt, SpanExt as OpenTelemetrySpanExt};
