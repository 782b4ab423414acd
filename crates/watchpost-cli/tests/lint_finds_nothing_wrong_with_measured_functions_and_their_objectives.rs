//! `watchpost lint` against the service's catalogue finds nothing wrong with the metrics of
//! measured functions — autometrics' names without the service prefix, `result`, the caller
//! labels, and the objectives' `objective_*` labels — in Prometheus text or OpenMetrics, third-party
//! rules included. (The library's own exposition, of a service that measures functions with and
//! without objectives, one of them called by another, with errors, and one tracking concurrency.)

use watchpost::metrics::Format as Wire;
use watchpost_cli::catalogue::Catalogue;
use watchpost_cli::config::Config;
use watchpost_cli::exposition;
use watchpost_cli::lint::{self, LintOptions};
use watchpost_cli::report::Report;

#[watchpost::measured(objective = "checkout", success = 99.9, latency = "250ms", concurrency)]
fn pay(fail: bool) -> Result<u32, String> {
    let _ = lookup(fail);
    if fail {
        Err("declined".into())
    } else {
        Ok(1)
    }
}

#[watchpost::measured(latency = "1s", latency_percentile = 95)]
fn lookup(missing: bool) -> Option<u32> {
    (!missing).then_some(7)
}

#[watchpost::measured]
fn plain() -> u32 {
    3
}

#[test]
fn lint_finds_nothing_wrong_with_measured_functions_and_their_objectives() {
    let config = watchpost::Config::builder("shop-api").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    for fail in [false, false, true] {
        let _ = pay(fail);
    }
    let _ = lookup(true);
    assert_eq!(plain(), 3);
    let metrics = telemetry.metrics();
    let catalogue = Catalogue::parse(&metrics.catalogue().to_json()).unwrap();
    for wire in [Wire::Text, Wire::OpenMetrics] {
        let text = metrics.encode(wire);
        for needle in [
            "objective_percentile=\"99.9\"",
            "objective_latency_threshold=\"1\"",
            "caller_function=\"pay\"",
            "function_calls_concurrent",
        ] {
            assert!(text.contains(needle), "{needle} missing from\n{text}");
        }
        let parsed = exposition::parse(&text);
        assert!(parsed.errors.is_empty(), "{:?}\n{text}", parsed.errors);
        let mut report = Report::new(Config::default());
        let opts = LintOptions {
            include_third_party: true,
            ..LintOptions::default()
        };
        lint::lint(&parsed, &opts, Some(&catalogue), &mut report);
        let found: Vec<String> = report
            .tallies()
            .iter()
            .flat_map(|t| {
                t.samples
                    .iter()
                    .map(move |s| format!("{} {s:?}", t.rule.id))
            })
            .collect();
        assert!(
            found.is_empty(),
            "{wire:?}:\n{}\n---\n{text}",
            found.join("\n")
        );
    }
}
