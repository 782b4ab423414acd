//! Every line carries the standard fields `service`, `version` and `environment` — the values of
//! the OpenTelemetry resource, JSON-escaped — right after `subsystem` and before
//! `trace_id`/`span_id`, on the main log and in per-resource files alike; with
//! `LOG_STANDARD_FIELDS=false` no line has them.

mod support;

use watchpost::Config;
use watchpost_testkit::capture::{self, Capture};

/// The lines of one event outside any span and one inside a span, through a pipeline built
/// from `config`.
fn lines(config: Config) -> Vec<String> {
    let capture = Capture::default();
    let (_t, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(pid = 7, "outside");
        let span = tracing::info_span!("request", request_id = "r-1");
        span.in_scope(|| tracing::warn!(attempt = 2, "inside"));
    });
    capture.lines()
}

#[test]
fn every_line_carries_service_version_and_environment() {
    // From the builder, with characters that JSON must escape.
    let config = Config::builder("svc")
        .service_version("1.2.3")
        .environment("prod \"eu\"\n")
        .build()
        .unwrap();
    let raw = lines(config);
    let parsed = capture::parse_all(&raw);
    assert_eq!(parsed.len(), 2, "{raw:#?}");
    assert_eq!(
        capture::keys(&raw[0]),
        [
            "time",
            "level",
            "msg",
            "subsystem",
            "service",
            "version",
            "environment",
            "pid"
        ],
        "{}",
        raw[0]
    );
    assert_eq!(
        capture::keys(&raw[1]),
        [
            "time",
            "level",
            "msg",
            "subsystem",
            "service",
            "version",
            "environment",
            "trace_id",
            "span_id",
            "attempt",
            "request_id"
        ],
        "{}",
        raw[1]
    );
    for (line, raw) in parsed.iter().zip(&raw) {
        assert_eq!(line["service"], "svc", "{raw}");
        assert_eq!(line["version"], "1.2.3", "{raw}");
        assert_eq!(line["environment"], "prod \"eu\"\n", "{raw}");
        assert!(
            raw.contains(r#","subsystem":"APP","service":"svc","version":"1.2.3","environment":"prod \"eu\"\n","#),
            "{raw}"
        );
    }

    // From the environment: the same values as the resource (`OTEL_SERVICE_NAME`, `ENV`); the
    // version is the code's (default `unknown`).
    let config = Config::builder("svc")
        .env_vars([("OTEL_SERVICE_NAME", "other"), ("ENV", "staging")])
        .build()
        .unwrap();
    assert_eq!(
        (config.service_name(), config.environment()),
        ("other", "staging")
    );
    for line in capture::parse_all(&lines(config)) {
        assert_eq!(
            (&line["service"], &line["version"], &line["environment"]),
            (&"other".into(), &"unknown".into(), &"staging".into())
        );
    }

    // Switched off, in code or by the environment: none of the three, same order otherwise.
    for config in [
        Config::builder("svc").log_standard_fields(false).build(),
        Config::builder("svc")
            .env_vars([("LOG_STANDARD_FIELDS", "false")])
            .build(),
    ] {
        let raw = lines(config.unwrap());
        for (line, raw) in capture::parse_all(&raw).iter().zip(&raw) {
            for key in ["service", "version", "environment"] {
                assert!(!line.contains_key(key), "{raw}");
            }
        }
        assert_eq!(
            capture::keys(&raw[0]),
            ["time", "level", "msg", "subsystem", "pid"],
            "{}",
            raw[0]
        );
        assert_eq!(
            capture::keys(&raw[1])[..6],
            ["time", "level", "msg", "subsystem", "trace_id", "span_id"],
            "{}",
            raw[1]
        );
    }
}

#[test]
fn resource_file_lines_carry_the_standard_fields_too() {
    let dir = watchpost_testkit::tools::TempDir::new("standard-fields");
    let capture = Capture::default();
    let (telemetry, dispatch) = support::resource_pipeline(&dir.0, |_| {}, capture.clone());

    let logs = telemetry.resource_logs().unwrap();
    logs.register("instance", "web-1").unwrap();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!(instance_id = "web-1", "started");
    });
    logs.flush();
    let in_file = logs.read("instance", "web-1", 10).unwrap();
    assert_eq!(in_file, capture.lines(), "the file has the main log's line");
    let line = capture::parse(&in_file[0]);
    assert_eq!(
        (&line["service"], &line["version"], &line["environment"]),
        (&"svc".into(), &"unknown".into(), &"unset".into()),
        "{}",
        in_file[0]
    );
}
