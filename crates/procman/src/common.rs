//! `--telemetry common`: the stack services assemble by hand today — `tower-http`'s `TraceLayer`,
//! `tracing-subscriber`'s JSON formatter and `tracing-opentelemetry` with the SDK's batch
//! processor exporting over OTLP. It exists only as the peer of the overhead benchmark.

use opentelemetry::trace::TracerProvider as _;
use tracing_subscriber::layer::SubscriberExt as _;

pub struct Common {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

pub fn init() -> Result<Common, String> {
    let endpoint = std::env::var("OTEL_ENDPOINT").unwrap_or_else(|_| "127.0.0.1:4317".into());
    let endpoint = if endpoint.starts_with("http") {
        endpoint
    } else {
        format!("http://{endpoint}")
    };
    use opentelemetry_otlp::WithExportConfig as _;
    let mut provider = opentelemetry_sdk::trace::SdkTracerProvider::builder();
    // Without `OTEL_ENABLED=true` spans are made but not exported (the benchmark's "no OTLP").
    if std::env::var("OTEL_ENABLED").is_ok_and(|v| v == "true") {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build()
            .map_err(|e| e.to_string())?;
        provider = provider.with_batch_exporter(exporter);
    }
    let provider = provider
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name("procman")
                .build(),
        )
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::INFO)
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("procman")))
        .with(
            tracing_subscriber::fmt::layer()
                .json()
                .with_current_span(true)
                .with_span_list(true),
        );
    tracing::subscriber::set_global_default(subscriber).map_err(|e| e.to_string())?;
    Ok(Common { provider })
}

pub fn layer() -> tower_http::trace::TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
> {
    // Spans at INFO: tower-http's default (DEBUG) would be filtered out by the INFO level and
    // the "common" stack would then trace nothing.
    tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO))
        .on_response(tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO))
}

impl Common {
    pub fn shutdown(self) {
        let _ = self.provider.shutdown();
    }
}
