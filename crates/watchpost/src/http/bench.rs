//! The HTTP layer's duration recording, for the `metrics` benchmark: not part of the API
//! (re-exported hidden as `watchpost::__http_bench`), and free to change.
//!
//! ```
//! # let config = watchpost::Config::builder("demo").otel_enabled(true)
//! #     .otel_endpoint("127.0.0.1:9").build().unwrap();
//! # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
//! let recorder = watchpost::__http_bench::DurationRecorder::new(&telemetry);
//! recorder.record(0.012, true); // a request of a sampled trace: keeps an exemplar
//! recorder.record(0.012, false);
//! let om = telemetry.metrics().encode(watchpost::metrics::Format::OpenMetrics);
//! assert!(om.contains("trace_id=\"0101"), "{om}");
//! ```

use std::time::Instant;

use super::series::{DurationSeries, Request};

/// Records request durations into the layer's `http.server.request.duration` series, as the
/// layer does at the end of a request: a `GET /instances/{id}` answered 200, in a trace whose
/// ids the layer took when it made its span.
#[derive(Debug)]
pub struct DurationRecorder {
    series: DurationSeries,
    span: tracing::Span,
    end: Instant,
}

impl DurationRecorder {
    /// The layer's series on `telemetry`'s metrics.
    pub fn new(telemetry: &crate::Telemetry) -> Self {
        DurationRecorder {
            series: DurationSeries::new(
                telemetry
                    .metrics()
                    .exemplar_histogram(&crate::catalogue::HTTP_REQUEST_DURATION),
            ),
            span: tracing::Span::none(),
            end: Instant::now(),
        }
    }

    /// One request of `seconds`, in a trace that is `sampled` (it then leaves its exemplar,
    /// when traces are exported) or not.
    #[inline]
    pub fn record(&self, seconds: f64, sampled: bool) {
        let ids = crate::traces::SpanIds {
            trace_id: [1; 16],
            span_id: [2; 8],
            sampled,
        };
        self.series.record(
            seconds,
            "GET",
            "/instances/{id}",
            200,
            &Request {
                span: &self.span,
                ids: Some(ids),
                kept: false,
                end: self.end,
            },
        );
    }
}
