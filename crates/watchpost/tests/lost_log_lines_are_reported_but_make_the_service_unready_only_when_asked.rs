//! Readiness's telemetry checks are off by default: log lines lost (here: a writer that fails
//! every write) are reported in the readiness body, and the service stays ready — a burst of
//! logging under load must not take replicas out of their load balancer unless the application
//! asked for it. With `READY_LOG_LOSS` set, the same losses make it unready.

use std::io::Write;

/// A log writer whose every write fails.
struct Broken;

impl Write for Broken {
    fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("disk full"))
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn readiness_after_losing_lines(config: watchpost::Config) -> watchpost::health::Readiness {
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(|| Broken)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        for i in 0..3 {
            tracing::warn!(i, "lost");
        }
    });
    telemetry.readiness()
}

#[test]
fn lost_log_lines_are_reported_but_make_the_service_unready_only_when_asked() {
    let by_default =
        readiness_after_losing_lines(watchpost::Config::builder("svc").build().unwrap());
    assert!(by_default.ready, "{by_default:?}");
    assert!(by_default.log_writer.ok);
    assert!(by_default.log_writer.lost_lines >= 3, "{by_default:?}");
    assert_eq!(by_default.log_writer.window, None);
    let body = by_default.to_json();
    assert!(body.contains("\"lost_lines\":"), "{body}");
    assert!(body.contains("\"last_loss_s_ago\":"), "{body}");

    let asked = readiness_after_losing_lines(
        watchpost::Config::builder("svc")
            .env_vars([("READY_LOG_LOSS", "1m")])
            .build()
            .unwrap(),
    );
    assert!(!asked.ready, "{asked:?}");
    assert!(!asked.log_writer.ok);
    assert_eq!(asked.status_code(), 503);
}
