//! `ConfigBuilder`'s `Debug`, by hand: no value of a sensitive variable is shown.

use super::env;
use super::ConfigBuilder;
use crate::error::ErrorKind;

/// By hand, so that no value of a sensitive variable (the OTLP headers: credentials) is shown;
/// every field is named, so a new one cannot be forgotten.
impl std::fmt::Debug for ConfigBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            service_name,
            service_name_input: _,
            service_version,
            service_instance_id,
            environment,
            otel_enabled,
            sdk_disabled,
            otlp,
            otlp_signals,
            resource_attributes,
            metrics_listen,
            log_level,
            subsystem_levels,
            subsystems,
            default_subsystem,
            target_levels,
            span_level,
            max_field_bytes,
            log_standard_fields,
            baggage_fields,
            redaction,
            default_metric_series_budget,
            metric_series_budgets,
            resource_logs,
            log_output,
            log_output_from_env,
            retention_env,
            trace_ratio,
            trace_slow,
            export_timeout,
            metric_export_interval,
            export_traces,
            export_logs,
            export_metrics,
            export_priority,
            span_batching,
            log_batching,
            readiness,
            env,
            env_error,
        } = self;
        // The environment as read: a sensitive variable's value is never shown.
        let env = env.as_ref().map(|vars| {
            vars.iter()
                .map(|(k, v)| match env::is_sensitive(k) {
                    true => (k.as_str(), "[REDACTED]"),
                    false => (k.as_str(), v.as_str()),
                })
                .collect::<Vec<_>>()
        });
        // Its error shows no sensitive value either (`env::read_env`); its input is enough.
        let env_error = env_error.as_ref().map(|e| match e.kind() {
            ErrorKind::InvalidValue { input, .. } if env::is_sensitive(input) => {
                format!("invalid value \"[REDACTED]\" for {input}: expected valid UTF-8")
            }
            _ => e.to_string(),
        });
        f.debug_struct("ConfigBuilder")
            .field("service_name", service_name)
            .field("service_version", service_version)
            .field("service_instance_id", service_instance_id)
            .field("environment", environment)
            .field("otel_enabled", otel_enabled)
            .field("sdk_disabled", sdk_disabled)
            .field("otlp", otlp)
            .field("otlp_signals", otlp_signals)
            .field("resource_attributes", resource_attributes)
            .field("metrics_listen", metrics_listen)
            .field("log_level", log_level)
            .field("subsystem_levels", subsystem_levels)
            .field("subsystems", subsystems)
            .field("default_subsystem", default_subsystem)
            .field("target_levels", target_levels)
            .field("span_level", span_level)
            .field("max_field_bytes", max_field_bytes)
            .field("log_standard_fields", log_standard_fields)
            .field("baggage_fields", baggage_fields)
            .field("redaction", redaction)
            .field("default_metric_series_budget", default_metric_series_budget)
            .field("metric_series_budgets", metric_series_budgets)
            .field("resource_logs", resource_logs)
            .field("log_output", log_output)
            .field("log_output_from_env", log_output_from_env)
            .field("retention_env", retention_env)
            .field("trace_ratio", trace_ratio)
            .field("trace_slow", trace_slow)
            .field("export_timeout", export_timeout)
            .field("metric_export_interval", metric_export_interval)
            .field("export_traces", export_traces)
            .field("export_logs", export_logs)
            .field("export_metrics", export_metrics)
            .field("export_priority", export_priority)
            .field("span_batching", span_batching)
            .field("log_batching", log_batching)
            .field("readiness", readiness)
            .field("env", &env)
            .field("env_error", &env_error)
            .finish()
    }
}
