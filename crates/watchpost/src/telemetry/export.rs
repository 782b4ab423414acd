//! Wires OTLP export into a new pipeline (feature `otlp`): the export thread, the tail sampler
//! that feeds it spans, and the log sink that feeds it records. Without the feature the same
//! function attaches nothing and the configuration refuses `OTEL_ENABLED=true`.

use std::sync::Arc;

use opentelemetry_sdk::trace::TracerProviderBuilder;
use opentelemetry_sdk::Resource;

use crate::config::Config;
use crate::internal::{DispatchSlot, ExportCounters, TailCounters};
use crate::logs::LogHandle;
use crate::metrics::Metrics;
use crate::traces::TailSampler;

#[cfg(feature = "otlp")]
pub(super) use crate::export::Exporter;

/// Without the `otlp` feature there is no exporter: a type with no values, so every use of one
/// is statically dead.
#[cfg(not(feature = "otlp"))]
#[derive(Debug)]
pub(super) enum Exporter {}

#[cfg(not(feature = "otlp"))]
impl Exporter {
    pub(super) fn flush(&self, _timeout: std::time::Duration) {
        match *self {}
    }

    pub(super) fn shutdown(&self, _timeout: std::time::Duration) -> bool {
        match *self {}
    }
}

/// The counters and the dispatcher slot the export thread reports through.
pub(super) type Shared = (Arc<ExportCounters>, Arc<TailCounters>, DispatchSlot);

/// Starts the export thread when `config` asks for OTLP, and attaches its span and log inputs:
/// (the exporter, the provider with the tail sampler added, the tail sampler).
#[cfg(feature = "otlp")]
pub(super) fn attach(
    config: &Config,
    resource: Resource,
    mut provider: TracerProviderBuilder,
    metrics: &Metrics,
    logs: &LogHandle,
    (export_counters, tail_counters, dispatch_slot): Shared,
) -> (
    Option<Exporter>,
    TracerProviderBuilder,
    Option<Arc<TailSampler>>,
) {
    if !config.otel_enabled {
        return (None, provider, None);
    }
    let exporter = crate::export::start(
        crate::export::ExportSettings::new(config),
        resource,
        metrics.clone(),
        export_counters,
        dispatch_slot,
    );
    let mut tail = None;
    // `OTEL_TRACES_EXPORTER=none`: no tail sampler, so no span is kept for export.
    if config.export_traces {
        let t = Arc::new(TailSampler::new(
            crate::traces::TailSettings {
                ratio: config.trace_ratio,
                slow: config.trace_slow,
                max_traces: 4096,
                max_spans: 65_536,
                max_attribute_bytes: 1024,
            },
            Arc::new(exporter.clone()),
            crate::redact::Redactor::new(&config.redaction),
            tail_counters,
        ));
        provider = provider.with_span_processor(crate::traces::SharedTail(t.clone()));
        tail = Some(t);
    }
    if config.export_logs {
        // The provider only makes records (no processors): the layer queues what the JSON line
        // has, and the export thread builds the records from it.
        let log_provider = opentelemetry_sdk::logs::SdkLoggerProvider::builder().build();
        use opentelemetry::logs::LoggerProvider as _;
        exporter.set_log_maker(crate::export::LogMaker {
            logger: log_provider.logger("watchpost"),
            scope: opentelemetry::InstrumentationScope::builder("watchpost")
                .with_version(env!("CARGO_PKG_VERSION"))
                .build(),
            subsystems: logs.shared.filter.names.clone(),
        });
        let _ = logs.shared.log_sink.set(Box::new(exporter.clone()));
    }
    (Some(exporter), provider, tail)
}

/// Without the `otlp` feature: nothing to attach (`OTEL_ENABLED=true` was refused by the
/// configuration).
#[cfg(not(feature = "otlp"))]
pub(super) fn attach(
    _config: &Config,
    _resource: Resource,
    provider: TracerProviderBuilder,
    _metrics: &Metrics,
    _logs: &LogHandle,
    _shared: Shared,
) -> (
    Option<Exporter>,
    TracerProviderBuilder,
    Option<Arc<TailSampler>>,
) {
    (None, provider, None)
}
