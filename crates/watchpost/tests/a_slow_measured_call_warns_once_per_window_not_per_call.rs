//! `#[measured(slow = …)]`: a call at or over its threshold logs a WARN — at most one per
//! function per `slow_warn_every` window, however many slow calls there are; the next WARN says
//! how many were not logged. Fast calls log nothing. The WARN's target is the function's module
//! (so it goes to that module's subsystem), with the function, its duration and the threshold.

use std::time::Duration;

use watchpost_testkit::capture::Capture;

#[watchpost::measured(slow = "20ms", slow_warn_every = "3s")]
fn work(ms: u64) -> Result<(), String> {
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

#[watchpost::measured(slow = "20ms", slow_warn_every = "3s", span = "info")]
async fn fetch(ms: u64) -> u64 {
    tokio::time::sleep(Duration::from_millis(ms)).await;
    ms
}

#[test]
fn a_slow_measured_call_warns_once_per_window_not_per_call() {
    let capture = Capture::default();
    let config = watchpost::Config::builder("shop").build().unwrap();
    let (_telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(capture.clone())
        .into_dispatch();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let warns = || {
        capture
            .json()
            .into_iter()
            .filter(|l| l["level"] == "WARN")
            .collect::<Vec<_>>()
    };
    tracing::dispatcher::with_default(&dispatch, || {
        work(0).unwrap(); // fast: nothing
        assert!(warns().is_empty());
        for _ in 0..3 {
            work(25).unwrap();
        }
        rt.block_on(async {
            fetch(0).await;
            fetch(25).await;
            fetch(25).await;
        });
        let first = warns();
        assert_eq!(first.len(), 2, "one per function: {first:#?}");
        let w = first.iter().find(|l| l["function"] == "work").unwrap();
        assert_eq!(w["msg"], "slow call: over its threshold");
        assert_eq!(
            w["module"],
            "a_slow_measured_call_warns_once_per_window_not_per_call"
        );
        assert!(w["duration_ms"].as_f64().unwrap() >= 20.0, "{w:?}");
        assert_eq!(w["threshold_ms"].as_f64(), Some(20.0));
        assert_eq!(w["suppressed"].as_u64(), Some(0));
        let f = first.iter().find(|l| l["function"] == "fetch").unwrap();
        assert!(f["duration_ms"].as_f64().unwrap() >= 20.0, "{f:?}");

        // After the window, the next slow call logs again and counts the ones it did not.
        std::thread::sleep(Duration::from_millis(3100));
        work(0).unwrap();
        assert_eq!(warns().len(), 2);
        work(25).unwrap();
        let all = warns();
        assert_eq!(all.len(), 3, "{all:#?}");
        assert_eq!(all[2]["function"], "work");
        assert_eq!(all[2]["suppressed"].as_u64(), Some(2));
    });
}
