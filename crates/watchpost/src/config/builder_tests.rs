//! Tests of the builder (`builder.rs`).

use super::*;
use crate::config::ENV_VARS;

#[test]
fn defaults_match_the_documented_table() {
    let c = Config::builder("procman")
        .subsystem(Subsystem::new("API"))
        .env_vars([("UNRELATED", "1")])
        .build()
        .unwrap();
    let documented = |name: &str| {
        ENV_VARS
            .iter()
            .find(|(n, _, _)| *n == name)
            .map(|(_, d, _)| *d)
            .unwrap()
    };
    assert_eq!(c.environment(), documented("ENV"));
    assert_eq!(
        c.log_standard_fields().to_string(),
        documented("LOG_STANDARD_FIELDS")
    );
    assert_eq!(c.otel_enabled().to_string(), documented("OTEL_ENABLED"));
    assert_eq!(c.otel_endpoint(), documented("OTEL_EXPORTER_OTLP_ENDPOINT"));
    assert_eq!(c.otel_insecure().to_string(), documented("OTEL_INSECURE"));
    assert_eq!(c.metrics_listen().to_string(), documented("METRICS_LISTEN"));
    assert_eq!(
        c.level_of("API").unwrap().to_string().to_lowercase(),
        documented("LOG_LEVEL")
    );
    assert_eq!(c.service_instance_id(), hostname());
}

#[test]
fn environment_overrides_code_which_overrides_defaults() {
    let c = Config::builder("svc")
        .subsystem(Subsystem::new("DB"))
        .subsystem_level("DB", Level::ERROR)
        .environment("dev")
        .env_vars([("ENV", "prod")])
        .build()
        .unwrap();
    assert_eq!(c.environment(), "prod");
    assert_eq!(c.level_of("DB"), Some(Level::ERROR));
    let c = Config::builder("svc")
        .subsystem(Subsystem::new("DB"))
        .subsystem_level("DB", Level::ERROR)
        .env_vars([("LOG_LEVEL_DB", "info")])
        .build()
        .unwrap();
    assert_eq!(c.level_of("DB"), Some(Level::INFO));
}

#[test]
fn bad_builder_input_is_rejected() {
    let err = Config::builder("svc")
        .subsystem(Subsystem::new("lower"))
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("Subsystem::new"), "{err}");
    let err = Config::builder("svc")
        .subsystem_level("NOPE", Level::INFO)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown subsystem \"NOPE\": declared subsystems are APP"
    );
    assert!(Config::builder("svc")
        .log_level(Level::TRACE)
        .build()
        .is_err());
    assert!(Config::builder("svc").max_field_bytes(3).build().is_err());
    assert!(Config::builder("9lives").build().is_err());
}
