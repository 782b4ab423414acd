//! The library's own counter and histogram of measured functions are lock-free: calls from
//! several threads at once, from no caller and from 20 measured callers (more than the 16 a
//! function keeps in its table: the rest are counted through the slower path), are all counted,
//! each under its own labels, and the histogram's buckets add up to its count.

use watchpost::metrics::Format;

const THREADS: u64 = 4;
const CALLS: u64 = 2_000;

#[watchpost::measured]
#[inline(never)]
fn target(n: u64) -> Result<u64, u64> {
    if n.is_multiple_of(4) {
        Err(n)
    } else {
        Ok(n)
    }
}

macro_rules! callers {
    ($($name:ident),*) => {
        $(
            #[watchpost::measured]
            fn $name(n: u64) {
                let _ = target(n);
            }
        )*
        const CALLERS: &[fn(u64)] = &[$($name),*];
        const CALLER_NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

callers!(
    c00, c01, c02, c03, c04, c05, c06, c07, c08, c09, c10, c11, c12, c13, c14, c15, c16, c17, c18,
    c19
);

fn value(text: &str, prefix: &str) -> u64 {
    let line = text
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn concurrent_measured_calls_from_many_threads_and_callers_are_all_counted() {
    let config = watchpost::Config::builder("shop").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                for i in 0..CALLS {
                    let n = t * CALLS + i;
                    let _ = target(n); // no caller
                    CALLERS[(n % CALLERS.len() as u64) as usize](n);
                }
            });
        }
    });
    let text = telemetry.metrics().encode(Format::Text);
    let m = "concurrent_measured_calls_from_many_threads_and_callers_are_all_counted";
    let total = THREADS * CALLS;
    // Root calls: n % 4 == 0 are errors.
    let root = |result: &str| {
        format!("function_calls_total{{function=\"target\",module=\"{m}\",result=\"{result}\",service_name=\"shop\"}} ")
    };
    assert_eq!(value(&text, &root("error")), total / 4);
    assert_eq!(value(&text, &root("ok")), total - total / 4);
    // Per caller: every caller gets the n with n % 20 == its index; n % 4 == 0 iff index % 4 == 0.
    let mut from_callers = 0;
    for (i, caller) in CALLER_NAMES.iter().enumerate() {
        let result = if i % 4 == 0 { "error" } else { "ok" };
        let prefix = format!(
            "function_calls_total{{caller_function=\"{caller}\",caller_module=\"{m}\",function=\"target\",module=\"{m}\",result=\"{result}\",service_name=\"shop\"}} "
        );
        let n = value(&text, &prefix);
        assert_eq!(n, total / CALLER_NAMES.len() as u64, "{caller}");
        from_callers += n;
        let callers_own = format!(
            "function_calls_total{{function=\"{caller}\",module=\"{m}\",result=\"ok\",service_name=\"shop\"}} "
        );
        assert_eq!(value(&text, &callers_own), n);
    }
    assert_eq!(from_callers, total);
    let series = text
        .lines()
        .filter(|l| l.starts_with("function_calls_total{") && l.contains("function=\"target\""))
        .count();
    assert_eq!(series, 2 + CALLER_NAMES.len(), "no other series: {text}");

    // The histogram: every call, once; the buckets (cumulative) end at the count.
    let histogram = |suffix: &str| {
        format!("function_calls_duration_seconds_{suffix}{{function=\"target\",module=\"{m}\",service_name=\"shop\"")
    };
    assert_eq!(value(&text, &histogram("count")), 2 * total);
    assert_eq!(
        value(
            &text,
            &format!("{}{}", histogram("bucket"), ",le=\"+Inf\"}")
        ),
        2 * total
    );
    let buckets: Vec<u64> = text
        .lines()
        .filter(|l| l.starts_with(&histogram("bucket")))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(
        buckets.len(),
        watchpost::metrics::buckets::FUNCTION_SECONDS.len() + 1
    );
    assert!(
        buckets.windows(2).all(|w| w[0] <= w[1]),
        "cumulative: {buckets:?}"
    );
}
