//! When the exporters cannot be built (here: the CA file for TLS cannot be read), the service
//! runs on without export and says so once per signal, as a WARN on its own log, naming the
//! signal, the file and the variable.
mod support;

use watchpost_testkit::capture;

#[test]
fn a_broken_export_setup_is_reported_on_the_log() {
    let mut demo = support::logdemo(&[
        ("OTEL_ENABLED", "true"),
        ("OTEL_INSECURE", "false"),
        (
            "OTEL_EXPORTER_OTLP_CERTIFICATE",
            "/nonexistent/watchpost-test-ca.pem",
        ),
    ]);
    let mut out = demo.run("emit");
    let (code, rest, _err) = demo.finish();
    out.extend(rest);
    assert_eq!(code, 0, "the service runs on");
    let warns: Vec<_> = capture::parse_all(&out)
        .into_iter()
        .filter(|l| {
            l["level"] == "WARN"
                && l["msg"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("OTLP export failing"))
        })
        .collect();
    assert_eq!(warns.len(), 3, "one report per signal: {out:?}");
    for signal in ["traces", "metrics", "logs"] {
        let warn = warns.iter().find(|w| w["signal"] == signal);
        let error = warn.and_then(|w| w["error"].as_str()).unwrap_or_default();
        assert!(
            error.contains(&format!("OTLP {signal} exporter"))
                && error.contains("CA file /nonexistent/watchpost-test-ca.pem")
                && error.contains("OTEL_EXPORTER_OTLP_CERTIFICATE"),
            "{signal}: {error}"
        );
    }
}
