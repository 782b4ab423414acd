//! Many scrapes at once, while other threads keep measuring, all succeed, each sees a counter
//! that never goes backwards, and the last one sees every measurement.
use std::sync::atomic::{AtomicBool, Ordering};

use watchpost::metrics::Format;

fn value(text: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with("conc_events_total "))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .unwrap_or(0)
}

#[test]
fn concurrent_scrapes_are_consistent() {
    let config = watchpost::Config::builder("conc").build().unwrap();
    let (telemetry, _d) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let metrics = telemetry.metrics();
    let events = metrics
        .meter()
        .u64_counter("conc_events_total")
        .with_description("Events")
        .build();
    events.add(1, &[]); // a counter has no series until its first measurement
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..200_000 {
                    events.add(1, &[]);
                }
            });
        }
        let scrapers: Vec<_> = (0..4)
            .map(|i| {
                let done = &done;
                s.spawn(move || {
                    let format = if i % 2 == 0 {
                        Format::Text
                    } else {
                        Format::OpenMetrics
                    };
                    let mut last = 0;
                    let mut scrapes = 0;
                    while !done.load(Ordering::Relaxed) || scrapes < 5 {
                        let text = metrics.encode(format);
                        assert!(text.contains("# TYPE conc_events"), "{text}");
                        let v = value(&text);
                        assert!(v >= last, "counter went backwards: {v} < {last}");
                        last = v;
                        scrapes += 1;
                    }
                    scrapes
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(200));
        done.store(true, Ordering::Relaxed);
        for s in scrapers {
            assert!(s.join().unwrap() >= 5);
        }
    });
    // Measurers are done when the scope ends.
    assert_eq!(value(&metrics.encode(Format::Text)), 400_001);
}
