//! Values of the specification's lists of names that Watchpost does not know or cannot honour
//! start the service anyway, as the specification says: each is one WARN on the service's log
//! when the pipeline starts, naming the variable and what is ignored; values it honours say
//! nothing.

use watchpost_testkit::capture::Capture;

#[test]
fn unsupported_opentelemetry_values_are_warned_about_once_at_start() {
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_PROPAGATORS", "tracecontext,baggage,b3"),
            ("OTEL_LOGS_EXPORTER", "otlp,console"),
            ("OTEL_METRICS_EXPORTER", "prometheus"),
            ("OTEL_TRACES_EXPORTER", "OTLP"),
        ])
        .build()
        .expect("unknown names are no error");
    let capture = Capture::default();
    let (_telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || tracing::info!("order placed"));

    let lines: Vec<serde_json::Value> = (capture.lines().iter())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let warnings: Vec<&str> = (lines.iter())
        .filter(|l| l["level"] == "WARN")
        .map(|l| l["warning"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(warnings.len(), 2, "{lines:?}");
    assert!(
        (warnings.iter())
            .any(|w| w.starts_with("OTEL_PROPAGATORS=tracecontext,baggage,b3: b3 not supported")),
        "{warnings:?}"
    );
    assert!(
        warnings.iter().any(|w| w
            .starts_with("OTEL_LOGS_EXPORTER=otlp,console: console not supported")
            && w.ends_with("exporting over OTLP")),
        "{warnings:?}"
    );
    assert!(lines.iter().any(|l| l["msg"] == "order placed"));
}
