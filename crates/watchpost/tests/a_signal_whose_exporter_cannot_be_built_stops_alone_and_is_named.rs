//! Each signal's exporter is built on its own: a per-signal CA file that cannot be read (logs),
//! or that holds no PEM certificate (traces, over gRPC: checked as over HTTP), stops that signal
//! alone, with one WARN naming the signal, the file and the variable; the metrics still arrive.

use watchpost_testkit::capture::Capture;
use watchpost_testkit::otlp::{Receiver, Signal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_whose_exporter_cannot_be_built_stops_alone_and_is_named() {
    let dir = std::env::temp_dir().join(format!("watchpost-ca-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let not_pem = dir.join("not-a-certificate.pem");
    std::fs::write(&not_pem, "this is no certificate\n").unwrap();
    let missing = dir.join("missing.pem");
    let receiver = Receiver::start("127.0.0.1:0".parse().unwrap(), None).await;
    let endpoint = receiver.url();
    let config = watchpost::Config::builder("shop")
        .env_vars([
            ("OTEL_ENABLED", "true"),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_TRACES_SAMPLER", "always_on"),
            (
                "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE",
                not_pem.to_str().unwrap(),
            ),
            (
                "OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE",
                missing.to_str().unwrap(),
            ),
        ])
        .build()
        .unwrap();
    let capture = Capture::default();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info_span!("checkout").in_scope(|| tracing::info!("order placed"));
    });
    let _ = tokio::task::spawn_blocking(move || telemetry.shutdown())
        .await
        .unwrap();
    let received = receiver.stop().await;
    let r = received.lock().unwrap();
    let came = |s: Signal| r.requests.iter().any(|q| q.signal == s);
    assert!(came(Signal::Metrics), "the metrics' exporter was built");
    assert!(!came(Signal::Traces) && !came(Signal::Logs));

    let warns: Vec<serde_json::Value> = (capture.lines().iter())
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| {
            l["level"] == "WARN"
                && (l["msg"].as_str()).is_some_and(|m| m.starts_with("OTLP export failing"))
        })
        .collect();
    let error = |signal: &str| -> String {
        let w: Vec<_> = warns.iter().filter(|w| w["signal"] == signal).collect();
        assert_eq!(w.len(), 1, "one report for {signal}: {warns:?}");
        w[0]["error"].as_str().unwrap().to_string()
    };
    let traces = error("traces");
    assert!(
        traces.contains("OTLP traces exporter")
            && traces.contains(not_pem.to_str().unwrap())
            && traces.contains("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE")
            && traces.contains("no PEM certificate"),
        "{traces}"
    );
    let logs = error("logs");
    assert!(
        logs.contains("OTLP logs exporter")
            && logs.contains(missing.to_str().unwrap())
            && logs.contains("OTEL_EXPORTER_OTLP_LOGS_CERTIFICATE")
            && logs.contains("cannot read it"),
        "{logs}"
    );
    assert!(warns.iter().all(|w| w["signal"] != "metrics"), "{warns:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
