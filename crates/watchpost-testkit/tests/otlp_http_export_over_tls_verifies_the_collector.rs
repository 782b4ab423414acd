//! OTLP/HTTP to an `https://` endpoint goes over TLS (rustls, as the gRPC side): given the
//! collector's CA in `OTEL_EXPORTER_OTLP_CERTIFICATE`, every span arrives; without it (the
//! system's roots only) the collector's certificate is refused, nothing is sent in clear, and the
//! failures are counted.
mod support;

use std::time::Duration;

use watchpost_testkit::demo::Service;
use watchpost_testkit::otlp::Receiver;

/// A CA and a certificate for `localhost` signed by it (PEM: CA cert, server cert, server key).
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "watchpost test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), server.pem(), key.serialize_pem())
}

async fn get_ok(client: &reqwest::Client, service: &Service, n: usize) {
    for _ in 0..n {
        let r = client
            .get(format!("http://{}/ok", service.http))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_http_export_over_tls_verifies_the_collector() {
    let (ca, cert, key) = certificates();
    let dir = std::env::temp_dir().join(format!("watchpost-http-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, &ca).unwrap();
    let receiver = Receiver::start_http_tls("127.0.0.1:0".parse().unwrap(), &cert, &key).await;
    let endpoint = format!("https://localhost:{}", receiver.addr.port());
    let client = reqwest::Client::new();
    const N: usize = 10;
    let common = [
        ("OTEL_ENABLED", "true"),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
        ("OTEL_TRACES_SAMPLER", "always_on"),
        ("OTEL_LOGS_EXPORTER", "none"),
        ("OTEL_METRICS_EXPORTER", "none"),
    ];

    // Trusted through the CA file: everything arrives.
    let mut env = common.to_vec();
    env.push(("OTEL_EXPORTER_OTLP_CERTIFICATE", ca_file.to_str().unwrap()));
    let service = support::otlpdemo(&env);
    get_ok(&client, &service, N).await;
    let (code, _ms, ok) = tokio::task::spawn_blocking(move || service.terminate())
        .await
        .unwrap();
    assert_eq!(code, 0);
    assert!(ok, "shutdown reported an error");
    let roots = (receiver.received.lock().unwrap().spans.iter())
        .filter(|s| s.name == "GET /ok")
        .count();
    assert_eq!(roots, N, "every trace arrived over TLS");

    // Not trusted (no CA file): refused and counted, nothing arrives.
    receiver.received.lock().unwrap().spans.clear();
    let mut env = common.to_vec();
    env.extend([
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("OTEL_EXPORTER_OTLP_TIMEOUT", "2000"),
    ]);
    let service = support::otlpdemo(&env);
    get_ok(&client, &service, N).await;
    let mut errors = 0.0;
    for _ in 0..200 {
        errors = service
            .metric(
                &client,
                "otlpdemo_telemetry_export_errors_total{signal=\"traces\"}",
            )
            .await;
        if errors > 0.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = tokio::task::spawn_blocking(move || service.terminate()).await;
    let received = receiver.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        errors > 0.0,
        "the untrusted collector's certificate was refused and counted"
    );
    assert!(
        received.lock().unwrap().spans.is_empty(),
        "nothing reached an untrusted collector"
    );
}
