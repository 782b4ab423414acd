//! A background worker instrumented with Watchpost: no HTTP API, but a span per job, one INFO
//! line per job, a histogram and a counter from the catalogue, `/metrics`, and a clean stop.
//!
//! ```sh
//! cargo run -p watchpost --example worker        # a job every second until Ctrl-C
//! curl -s localhost:9464/metrics | grep worker_  # jobs by outcome and duration, items
//! LOG_LEVEL_JOBS=debug cargo run -p watchpost --example worker   # each job's steps too
//! ```
//!
//! `WORKER_INTERVAL_MS` (default 1000) is the pause between jobs. Every third job fails, to show
//! what a failure looks like: a WARN line, `outcome="error"` on the metrics, and a trace that the
//! tail sampler keeps whatever the sampling ratio.

use std::time::{Duration, Instant};

use opentelemetry::KeyValue;
use tracing::Instrument as _;
use watchpost::catalogue::{Label, MetricDef, Unit};
use watchpost::metrics::buckets::DURATION_SECONDS;
use watchpost::{Config, Subsystem};

/// Outcomes of a job, the `outcome` label's closed set of values.
const OUTCOME: Label = Label::closed("outcome", &["success", "error"]);

/// How long jobs take, by outcome. Its `_count` counts the jobs: a separate jobs counter would
/// be a denormalized copy of it (the standard asks for none, and `watchpost check` flags one).
const JOB_DURATION: MetricDef = MetricDef::histogram(
    "worker_job_duration_seconds",
    "Time to process a job, by outcome",
    DURATION_SECONDS,
)
.unit(Unit::Seconds)
.labels(&[OUTCOME])
.subsystem("JOBS");

/// Items processed. A counter: its rate is exact whatever the scrape interval.
const ITEMS: MetricDef =
    MetricDef::counter("worker_items_processed_total", "Items processed by jobs").subsystem("JOBS");

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let interval = Duration::from_millis(match std::env::var("WORKER_INTERVAL_MS") {
        Ok(ms) => ms.parse()?,
        Err(_) => 1000,
    });

    // 1. Configure and install: the `JOBS` subsystem has its own level (`LOG_LEVEL_JOBS`).
    let config = Config::builder("worker")
        .service_version(env!("CARGO_PKG_VERSION"))
        .subsystem(Subsystem::new("JOBS").target("worker"))
        .from_env()
        .build()?;
    let telemetry = watchpost::init(config)?;

    // 2. Register the instruments once, from their declarations, and serve `/metrics`
    //    (`METRICS_LISTEN`, default 127.0.0.1:9464) for Prometheus to scrape.
    let durations = telemetry.metrics().histogram(&JOB_DURATION);
    let items = telemetry.metrics().counter(&ITEMS);
    let metrics_server = telemetry.serve_metrics().await?;
    // 3. Work until SIGTERM or Ctrl-C; a job in progress is finished first.
    let mut stop = std::pin::pin!(shutdown_signal());
    eprintln!("metrics on http://{}/metrics", metrics_server.local_addr());

    for job_id in 1u64.. {
        tokio::select! {
            _ = &mut stop => break,
            _ = tokio::time::sleep(interval) => {}
        }
        // A root span per job: every line inside carries its `trace_id` and `job_id`, and it is
        // exported as a trace with `OTEL_ENABLED=true`.
        let span = tracing::info_span!("job", job_id, otel.status_code = tracing::field::Empty);
        let start = Instant::now();
        let outcome = match run_job(job_id).instrument(span).await {
            Ok(processed) => {
                items.add(processed, &[]);
                "success"
            }
            Err(()) => "error",
        };
        let elapsed = start.elapsed().as_secs_f64();
        durations.record(elapsed, &[KeyValue::new("outcome", outcome)]);
    }

    // 4. Stop serving `/metrics`, then flush logs, traces and metrics (bounded: 5 seconds).
    metrics_server.shutdown().await;
    telemetry.shutdown()?;
    Ok(())
}

/// One job: its steps at DEBUG (shown with `LOG_LEVEL_JOBS=debug`), one INFO line when it is
/// done (the standard: about one INFO line per event), a WARN when it fails.
async fn run_job(job_id: u64) -> Result<u64, ()> {
    tracing::debug!("fetching the batch");
    tokio::time::sleep(Duration::from_millis(2)).await;
    if job_id.is_multiple_of(3) {
        // An ERROR status on the span: the tail sampler keeps this trace whole.
        tracing::Span::current().record("otel.status_code", "ERROR");
        tracing::warn!(reason = "the upstream queue was empty", "job failed");
        return Err(());
    }
    let items = job_id * 10;
    tracing::info!(items, "job done");
    Ok(items)
}

/// Resolves on SIGTERM (what a supervisor sends) or Ctrl-C. Both are listened for from the call
/// on, not from the first poll: a SIGTERM that comes right after the start stops the service
/// cleanly instead of killing it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("a SIGINT handler");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
