//! Tests of the OpenTelemetry specification's variables (`otel_env.rs`).

use crate::config::{Config, OtlpCompression, OtlpProtocol, OtlpSignal};
use crate::error::Error;

fn build(vars: &[(&str, &str)]) -> Result<Config, Error> {
    Config::builder("svc")
        .env_vars(vars.iter().copied())
        .build()
}

fn target(c: &Config, signal: OtlpSignal) -> (OtlpProtocol, String) {
    let t = c.otlp(signal);
    (t.protocol(), t.url().to_string())
}

#[test]
fn bad_values_name_the_variable_the_value_and_what_is_allowed() {
    for (var, value, allowed) in [
        ("OTEL_SDK_DISABLED", "yes", "true or false"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "1", "true or false"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "0", "1 to 3600000"),
        ("OTEL_BSP_MAX_QUEUE_SIZE", "lots", "a whole number"),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "ftp://c:21",
            "http:// or https:// URL",
        ),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "collector",
            "host:port",
        ),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318/v1 x",
            "http:// or https:// URL",
        ),
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://c:4318#frag",
            "without a fragment",
        ),
        ("OTEL_ENDPOINT", "http://c", "with a port"),
        ("OTEL_RESOURCE_ATTRIBUTES", "team", "key=value pairs"),
    ] {
        let err = build(&[(var, value)]).unwrap_err().to_string();
        assert!(err.contains(var), "{err}");
        assert!(err.contains(&format!("{value:?}")), "{err}");
        assert!(err.contains(allowed), "{var}: {err}");
    }
    let err = Config::builder("svc")
        .resource_attribute("service.name", "has space")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("ConfigBuilder::resource_attribute(service.name)"),
        "{err}"
    );
    let err = build(&[("OTEL_RESOURCE_ATTRIBUTES", "service.name=has space")]).unwrap_err();
    let err = err.to_string();
    assert!(
        err.contains("OTEL_RESOURCE_ATTRIBUTES (service.name)"),
        "{err}"
    );
    assert!(
        err.contains("\"has space\"") && err.contains("ASCII letters"),
        "{err}"
    );
    let err = build(&[
        ("OTEL_TRACES_SAMPLER", "traceidratio"),
        ("OTEL_TRACES_SAMPLER_ARG", "2"),
    ])
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("OTEL_TRACES_SAMPLER_ARG") && err.contains("\"2\""),
        "{err}"
    );
}

#[test]
fn a_bad_header_is_refused_without_showing_any_value() {
    // `s3cret` and `c2VjcmV0` stand for credentials: no part of them may show.
    for (bad, shown) in [
        (
            "authorization=Bearer s3cret,x-bad name=s3cret",
            "authorization=[REDACTED],entry 2: [REDACTED]",
        ),
        ("authorization=Bearer%0As3cret", "authorization=[REDACTED]"),
        ("s3cret", "entry 1: [REDACTED]"),
        ("x-token-bin=s3cret", "x-token-bin=[REDACTED]"),
        // The `name: value` form: everything before the first `=` is no header name.
        ("Authorization: Basic c2VjcmV0=", "entry 1: [REDACTED]"),
        (
            "x-team=a, Authorization: Basic s3cret",
            "x-team=[REDACTED],entry 2: [REDACTED]",
        ),
        ("api-key%3Ds3cret=1", "entry 1: [REDACTED]"),
    ] {
        for var in [
            "OTEL_EXPORTER_OTLP_HEADERS",
            "OTEL_EXPORTER_OTLP_LOGS_HEADERS",
        ] {
            let err = build(&[(var, bad)]).unwrap_err();
            let text = format!("{err} {err:?} {err:#?}");
            assert!(text.contains(var), "{text}");
            assert!(text.contains(&format!("{shown:?}")), "{shown}: {text}");
            assert!(
                !text.contains("s3cret") && !text.contains("c2VjcmV0") && !text.contains("Basic"),
                "{text}"
            );
        }
    }
    let err = Config::builder("svc")
        .otel_header("authorization: Bearer s3cret", "x")
        .build()
        .unwrap_err();
    assert!(!format!("{err} {err:#?}").contains("s3cret"), "{err}");
}

#[test]
fn a_header_list_that_is_not_utf8_is_refused_without_showing_it() {
    use std::os::unix::ffi::OsStringExt as _;
    let value = std::ffi::OsString::from_vec(b"api-key=\xffs3cret".to_vec());
    for var in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        let (read, err) = crate::config::env::read_env([(var.into(), value.clone())]);
        assert!(read.is_empty());
        let err = err.expect("not valid UTF-8");
        let text = format!("{err} {err:#?}");
        assert!(text.contains(var) && text.contains("valid UTF-8"), "{text}");
        assert!(
            !text.contains("s3cret") && !text.contains("api-key"),
            "{text}"
        );
    }
    // An endpoint shows no credentials; other variables show what they can, as before.
    let url = std::ffi::OsString::from_vec(b"https://u:hunter2@c\xff:4318".to_vec());
    let (_, err) = crate::config::env::read_env([("OTEL_EXPORTER_OTLP_ENDPOINT".into(), url)]);
    let text = err.unwrap().to_string();
    assert!(
        text.contains("https://[REDACTED]@c") && !text.contains("hunter2"),
        "{text}"
    );
    let env = std::ffi::OsString::from_vec(b"pr\xffod".to_vec());
    let (_, err) = crate::config::env::read_env([("ENV".into(), env)]);
    assert!(err.unwrap().to_string().contains("pr\u{fffd}od"));
}

#[test]
fn the_builders_debug_shows_no_header_value() {
    let builder = Config::builder("svc")
        .otel_header("x-code", "code-s3cret")
        .env_vars([
            (
                "OTEL_EXPORTER_OTLP_HEADERS",
                "authorization=Bearer%20env-s3cret",
            ),
            (
                "OTEL_EXPORTER_OTLP_METRICS_HEADERS",
                "api-key=signal-s3cret",
            ),
            ("ENV", "prod"),
        ]);
    let shown = format!("{builder:?} {builder:#?}");
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(
        shown.contains("OTEL_EXPORTER_OTLP_HEADERS") && shown.contains("prod"),
        "names and other values are shown: {shown}"
    );
    let built = builder.build().unwrap();
    assert!(!format!("{built:?}").contains("s3cret"));
}

#[test]
fn credentials_in_an_endpoint_are_refused_and_never_shown() {
    for (var, value, shown) in [
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "https://apikey:hunter2@collector.example:4318",
            "https://[REDACTED]@collector.example:4318",
        ),
        (
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT",
            "https://hunter2@logs.example/v1/logs",
            "https://[REDACTED]@logs.example/v1/logs",
        ),
        (
            "OTEL_ENDPOINT",
            "apikey:hunter2@collector:4317",
            "[REDACTED]@collector:4317",
        ),
    ] {
        let err = build(&[(var, value)]).unwrap_err();
        let text = format!("{err} {err:#?}");
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains(&format!("{shown:?}")), "{text}");
        assert!(
            text.contains(var) && text.contains("OTEL_EXPORTER_OTLP_HEADERS"),
            "{text}"
        );
    }
    let err = Config::builder("svc")
        .otel_endpoint("http://u:hunter2@c:4317")
        .build()
        .unwrap_err();
    let text = format!("{err}");
    assert!(
        text.contains("ConfigBuilder::otel_endpoint") && !text.contains("hunter2"),
        "{text}"
    );
    let builder = Config::builder("svc").otel_endpoint("http://u:hunter2@c:4317");
    assert!(!format!("{builder:?}").contains("hunter2"));
}

#[test]
fn a_base_endpoint_takes_no_query_and_the_signals_path_is_appended_to_its_path() {
    let err = build(&[(
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "http://c:4318?api-key=s3cret",
    )])
    .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("\"http://c:4318?[REDACTED]\""), "{text}");
    assert!(
        text.contains("without a query") && !text.contains("s3cret"),
        "{text}"
    );
    // A signal's own URL may have one: it is used as it is.
    let c = build(&[(
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "https://t.example/v1/traces?tenant=a",
    )])
    .unwrap();
    assert_eq!(
        c.otlp(OtlpSignal::Traces).url(),
        "https://t.example/v1/traces?tenant=a"
    );
    let c = build(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "https://c.example/otlp/")]).unwrap();
    assert_eq!(
        c.otlp(OtlpSignal::Logs).url(),
        "https://c.example/otlp/v1/logs"
    );
    // Endpoints given in code are checked too, under their setter's name.
    let err = Config::builder("svc")
        .otel_signal_endpoint(OtlpSignal::Metrics, "http://m:4318/v1 metrics")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("ConfigBuilder::otel_signal_endpoint(metrics)"),
        "{err}"
    );
}

#[test]
fn unknown_enum_values_are_warned_about_and_ignored() {
    for (vars, warning) in [
        (vec![("OTEL_PROPAGATORS", "tracecontext,baggage,b3")], Some("OTEL_PROPAGATORS=tracecontext,baggage,b3: b3 not supported, ignored")),
        (vec![("OTEL_PROPAGATORS", "tracecontext")], Some("baggage propagated anyway")),
        (vec![("OTEL_PROPAGATORS", "none")], Some("none not supported")),
        (vec![("OTEL_PROPAGATORS", "Baggage, tracecontext")], None),
        (vec![("OTEL_TRACES_SAMPLER", "jaeger_remote")], Some("OTEL_TRACES_SAMPLER=jaeger_remote: not a sampler Watchpost supports")),
        (vec![("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")], Some("OTEL_EXPORTER_OTLP_PROTOCOL=http/json: not supported")),
        (vec![("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "thrift")], Some("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=thrift")),
        (vec![("OTEL_EXPORTER_OTLP_COMPRESSION", "zstd")], Some("OTEL_EXPORTER_OTLP_COMPRESSION=zstd: not supported (gzip or none)")),
        (vec![("OTEL_TRACES_EXPORTER", "zipkin")], Some("OTEL_TRACES_EXPORTER=zipkin: zipkin not supported")),
        (vec![("OTEL_LOGS_EXPORTER", "otlp,console")], Some("console not supported (Watchpost exports over OTLP only), ignored; exporting over OTLP")),
        (vec![("OTEL_METRICS_EXPORTER", "prometheus")], None),
        (vec![("OTEL_TRACES_EXPORTER", "OTLP")], None),
    ] {
        let c = build(&vars).unwrap_or_else(|e| panic!("{vars:?}: {e}"));
        match warning {
            Some(w) => {
                assert_eq!(c.warnings().len(), 1, "{vars:?}: {:?}", c.warnings());
                assert!(c.warnings()[0].contains(w), "{vars:?}: {:?}", c.warnings());
            }
            None => assert!(c.warnings().is_empty(), "{vars:?}: {:?}", c.warnings()),
        }
    }
}

#[test]
fn exporter_lists_decide_by_otlp_then_none_and_otherwise_leave_the_setting() {
    let c = build(&[
        ("OTEL_TRACES_EXPORTER", "OTLP"),
        ("OTEL_LOGS_EXPORTER", "console, otlp"),
        ("OTEL_METRICS_EXPORTER", "prometheus"),
    ])
    .unwrap();
    assert!(c.export_traces && c.export_logs);
    assert!(!c.export_metrics, "prometheus alone: no OTLP push");
    let c = build(&[
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_LOGS_EXPORTER", "None,console"),
        ("OTEL_METRICS_EXPORTER", "otlp,prometheus"),
    ])
    .unwrap();
    assert!(c.export_traces, "nothing known: the default stays");
    assert!(!c.export_logs && c.export_metrics);
    assert_eq!(c.warnings().len(), 2, "{:?}", c.warnings());
    let off = Config::builder("svc")
        .env_vars([("OTEL_TRACES_SAMPLER", "xray")])
        .trace_sampler_ratio(0.3)
        .build()
        .unwrap();
    assert_eq!(
        off.trace_sampler_ratio(),
        0.3,
        "an unknown sampler is ignored"
    );
    let proto = build(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/json"),
    ])
    .unwrap();
    assert_eq!(
        proto.otlp(OtlpSignal::Logs).protocol(),
        OtlpProtocol::Grpc,
        "the general one applies"
    );
}

#[test]
fn headers_are_percent_decoded_and_a_signals_own_replace_the_general_ones() {
    let c = build(&[
        (
            "OTEL_EXPORTER_OTLP_HEADERS",
            "Authorization=Bearer%20abc%3D, x-team = a ,",
        ),
        ("OTEL_EXPORTER_OTLP_LOGS_HEADERS", "x-logs=1"),
    ])
    .unwrap();
    let traces = &c.otlp(OtlpSignal::Traces).headers.0;
    assert_eq!(
        traces,
        &[
            ("authorization".to_string(), "Bearer abc=".to_string()),
            ("x-team".to_string(), "a".to_string())
        ]
    );
    assert_eq!(
        c.otlp(OtlpSignal::Logs).headers.0,
        [("x-logs".into(), "1".into())]
    );
    let shown = format!("{c:?}");
    assert!(!shown.contains("Bearer abc"), "Debug shows no header value");
}

#[test]
fn code_headers_are_merged_under_the_environments() {
    let c = Config::builder("svc")
        .otel_header("x-team", "code")
        .otel_header("x-region", "eu")
        .env_vars([("OTEL_EXPORTER_OTLP_HEADERS", "x-team=env")])
        .build()
        .unwrap();
    let mut h = c.otlp(OtlpSignal::Metrics).headers.0.clone();
    h.sort();
    assert_eq!(
        h,
        [
            ("x-region".into(), "eu".into()),
            ("x-team".into(), "env".into())
        ]
    );
    let err = Config::builder("svc")
        .otel_header("x-token", "a\nb")
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("otel_header") && !err.to_string().contains("a\nb"));
}

#[test]
fn the_default_is_http_protobuf_to_localhost_4318_and_ours_keeps_meaning_grpc() {
    let c = build(&[]).unwrap();
    assert_eq!(
        target(&c, OtlpSignal::Traces),
        (
            OtlpProtocol::HttpProtobuf,
            "http://localhost:4318/v1/traces".into()
        )
    );
    let ours = build(&[("OTEL_ENDPOINT", "127.0.0.1:4317")]).unwrap();
    assert_eq!(
        target(&ours, OtlpSignal::Logs),
        (OtlpProtocol::Grpc, "http://127.0.0.1:4317".into())
    );
    // Ours as the base endpoint of OTLP/HTTP.
    let http = build(&[
        ("OTEL_ENDPOINT", "127.0.0.1:4318"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
    ])
    .unwrap();
    assert_eq!(
        target(&http, OtlpSignal::Metrics),
        (
            OtlpProtocol::HttpProtobuf,
            "http://127.0.0.1:4318/v1/metrics".into()
        )
    );
    let grpc = build(&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).unwrap();
    assert_eq!(
        target(&grpc, OtlpSignal::Traces),
        (OtlpProtocol::Grpc, "http://localhost:4317".into())
    );
}

#[test]
fn per_signal_settings_win_over_the_general_ones() {
    let c = build(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://base:4318"),
        (
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
            "http://traces:9999/custom",
        ),
        ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "base:4317"),
        ("OTEL_EXPORTER_OTLP_METRICS_INSECURE", "true"),
        ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip"),
        ("OTEL_EXPORTER_OTLP_LOGS_COMPRESSION", "none"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "3000"),
        ("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT", "500"),
        ("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE", "/etc/ca.pem"),
    ])
    .unwrap();
    assert_eq!(
        target(&c, OtlpSignal::Traces),
        (
            OtlpProtocol::HttpProtobuf,
            "http://traces:9999/custom".into()
        )
    );
    assert_eq!(
        target(&c, OtlpSignal::Metrics),
        (OtlpProtocol::Grpc, "http://base:4317".into())
    );
    assert_eq!(
        target(&c, OtlpSignal::Logs),
        (
            OtlpProtocol::HttpProtobuf,
            "http://base:4318/v1/logs".into()
        )
    );
    let (t, l) = (c.otlp(OtlpSignal::Traces), c.otlp(OtlpSignal::Logs));
    assert_eq!(t.compression(), OtlpCompression::Gzip);
    assert_eq!(l.compression(), OtlpCompression::None);
    assert_eq!(t.timeout().as_millis(), 3000);
    assert_eq!(l.timeout().as_millis(), 500);
    assert_eq!(l.ca_file(), Some(std::path::Path::new("/etc/ca.pem")));
    assert_eq!(t.ca_file(), None);
    // Unknown signals are not ours (a later specification's signal, say).
    assert!(build(&[("OTEL_EXPORTER_OTLP_PROFILES_ENDPOINT", "nonsense")]).is_ok());
}

#[test]
fn insecure_decides_only_for_an_endpoint_without_a_scheme_and_ours_wins() {
    let tls = build(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
    ])
    .unwrap();
    assert_eq!(tls.otlp(OtlpSignal::Traces).url(), "https://collector:4317");
    let plain = build(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "TRUE"),
    ])
    .unwrap();
    assert_eq!(
        plain.otlp(OtlpSignal::Traces).url(),
        "http://collector:4317"
    );
    let ours = build(&[
        ("OTEL_ENDPOINT", "collector:4317"),
        ("OTEL_INSECURE", "false"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "true"),
    ])
    .unwrap();
    assert_eq!(ours.otlp(OtlpSignal::Logs).url(), "https://collector:4317");
    let scheme = build(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
        ("OTEL_EXPORTER_OTLP_INSECURE", "false"),
    ])
    .unwrap();
    assert!(scheme.otlp(OtlpSignal::Logs).url().starts_with("http://"));
}

#[test]
fn the_sampler_maps_onto_the_ratio_and_ours_wins() {
    for (sampler, arg, ratio) in [
        ("always_on", None, 1.0),
        ("parentbased_always_off", None, 0.0),
        ("parentbased_traceidratio", Some("0.25"), 0.25),
        ("TraceIdRatio", None, 1.0),
    ] {
        let mut vars = vec![("OTEL_TRACES_SAMPLER", sampler)];
        vars.extend(arg.map(|a| ("OTEL_TRACES_SAMPLER_ARG", a)));
        assert_eq!(
            build(&vars).unwrap().trace_sampler_ratio(),
            ratio,
            "{sampler}"
        );
    }
    let ours = build(&[
        ("OTEL_TRACES_SAMPLER", "always_on"),
        ("OTEL_TRACES_SAMPLER_RATIO", "0.5"),
    ])
    .unwrap();
    assert_eq!(ours.trace_sampler_ratio(), 0.5);
    // The argument alone means nothing.
    let arg = build(&[("OTEL_TRACES_SAMPLER_ARG", "0.3")]).unwrap();
    assert_eq!(arg.trace_sampler_ratio(), 0.1);
}

#[test]
fn resource_attributes_are_decoded_and_the_dedicated_variables_win() {
    let c = build(&[
        (
            "OTEL_RESOURCE_ATTRIBUTES",
            "team=pay%2Cments, service.name=from-attrs,service.version=2.0,deployment.environment.name=attrs,k8s.pod.name=p-1",
        ),
        ("ENV", "prod"),
    ])
    .unwrap();
    assert_eq!(c.service_name(), "from-attrs");
    assert_eq!(c.service_version(), "2.0");
    assert_eq!(c.environment(), "prod");
    assert_eq!(
        c.resource_attributes(),
        [
            ("team".to_string(), "pay,ments".to_string()),
            ("k8s.pod.name".to_string(), "p-1".to_string())
        ]
    );
    let named = build(&[
        ("OTEL_RESOURCE_ATTRIBUTES", "service.name=from-attrs"),
        ("OTEL_SERVICE_NAME", "from-name"),
    ])
    .unwrap();
    assert_eq!(named.service_name(), "from-name");
}

#[test]
fn sdk_disabled_turns_export_off_and_empty_values_are_unset() {
    let c = build(&[("OTEL_ENABLED", "true"), ("OTEL_SDK_DISABLED", "true")]).unwrap();
    assert!(!c.otel_enabled());
    let c = build(&[("OTEL_ENABLED", "true"), ("OTEL_SDK_DISABLED", "False")]).unwrap();
    assert!(c.otel_enabled());
    let c = build(&[
        ("OTEL_SDK_DISABLED", ""),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", " "),
        ("OTEL_SERVICE_NAME", ""),
        ("OTEL_PROPAGATORS", ""),
        ("OTEL_TRACES_EXPORTER", ""),
    ])
    .unwrap();
    assert_eq!(c.service_name(), "svc");
    assert_eq!(
        c.otlp(OtlpSignal::Traces).protocol(),
        OtlpProtocol::HttpProtobuf
    );
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    let propagators = build(&[("OTEL_PROPAGATORS", "baggage, tracecontext,baggage")]).unwrap();
    assert!(propagators.warnings().is_empty());
}
