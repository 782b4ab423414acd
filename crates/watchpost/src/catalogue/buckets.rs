//! Shared histogram bucket presets (upper bounds, in seconds), so that every service's latency
//! histograms can be compared and aggregated.
//!
//! ```
//! use watchpost::metrics::buckets;
//! # let config = watchpost::Config::builder("demo").build().unwrap();
//! # let (telemetry, _d) = watchpost::Telemetry::builder(config).writer(std::io::sink).into_dispatch();
//! let h = telemetry
//!     .metrics()
//!     .meter()
//!     .f64_histogram("demo_request_duration_seconds")
//!     .with_unit("s")
//!     .with_boundaries(buckets::DURATION_SECONDS.to_vec())
//!     .build();
//! h.record(0.3, &[]);
//! ```

/// Request and operation durations: 1 ms to 2 minutes (the standard's duration buckets).
pub const DURATION_SECONDS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];

/// Long operations (image builds, restores, migrations): 100 ms to 30 minutes.
pub const LONG_OPERATION_SECONDS: &[f64] = &[
    0.1, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
];

/// Measured functions (`#[watchpost::measured]`): autometrics' default boundaries, 5 ms to 10 s,
/// so that its dashboards and latency objectives (a threshold is one of these) work unchanged.
pub const FUNCTION_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

#[cfg(test)]
mod tests {
    #[test]
    fn presets_are_strictly_increasing_and_span_the_documented_range() {
        for (preset, lo, hi) in [
            (super::DURATION_SECONDS, 0.001, 120.0),
            (super::LONG_OPERATION_SECONDS, 0.1, 1800.0),
            (super::FUNCTION_SECONDS, 0.005, 10.0),
        ] {
            assert!(preset.windows(2).all(|w| w[0] < w[1]));
            assert_eq!((preset[0], *preset.last().unwrap()), (lo, hi));
        }
    }
}
