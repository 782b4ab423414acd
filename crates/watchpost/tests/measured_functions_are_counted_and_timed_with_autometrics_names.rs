//! `#[watchpost::measured]` on sync functions and methods: `function_calls_total{function,
//! module, service_name, result}` and `function_calls_duration_seconds` (autometrics' buckets),
//! with `result` from `Result`, `Option`, a type's own `Outcome`, or a panic; early `return`s and
//! `?` inside the body end the call, not the measurement; every name is in the catalogue.

use watchpost::metrics::function::Outcome;
use watchpost::metrics::Format;

#[watchpost::measured]
fn plain(n: u32) -> u32 {
    n + 1
}

#[watchpost::measured]
fn fallible(ok: bool) -> Result<u8, String> {
    if ok {
        Ok(1)
    } else {
        Err("no".into())
    }
}

#[watchpost::measured]
fn maybe(n: u32) -> Option<u32> {
    n.checked_sub(1)
}

/// A missing item is an answer, not a failure.
enum Reply {
    Found,
    Missing,
    Failed,
}

impl Outcome for Reply {
    fn is_error(&self) -> bool {
        matches!(self, Reply::Failed)
    }
}

#[watchpost::measured]
fn lookup(n: u32) -> Reply {
    match n {
        0 => Reply::Failed,
        1 => Reply::Missing,
        _ => Reply::Found,
    }
}

#[watchpost::measured]
fn parse_sum(a: &str, b: &str) -> Result<u64, Box<dyn std::error::Error>> {
    if a.is_empty() {
        return Ok(0);
    }
    Ok(a.parse::<u64>()? + b.parse::<u64>()?)
}

#[watchpost::measured]
fn boom() {
    panic!("measured panic");
}

struct Store {
    items: Vec<u32>,
}

#[watchpost::measured]
impl Store {
    fn get(&self, i: usize) -> Option<&u32> {
        self.items.get(i)
    }

    fn push(&mut self, v: u32) -> &mut Vec<u32> {
        self.items.push(v);
        &mut self.items
    }

    #[watchpost::measured(skip)]
    fn len(&self) -> usize {
        self.items.len()
    }
}

impl Store {
    #[watchpost::measured]
    fn clear(&mut self) -> Result<(), std::io::Error> {
        self.items.clear();
        Ok(())
    }
}

fn series(text: &str, prefix: &str) -> Vec<String> {
    let mut v: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_string)
        .collect();
    v.sort();
    v
}

#[test]
fn measured_functions_are_counted_and_timed_with_autometrics_names() {
    let config = watchpost::Config::builder("shop").build().unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    tracing::dispatcher::with_default(&dispatch, || {
        assert_eq!(plain(1), 2);
        assert_eq!(plain(2), 3);
        assert_eq!(fallible(true), Ok(1));
        assert_eq!(fallible(false), Err("no".to_string()));
        assert_eq!(maybe(3), Some(2));
        assert_eq!(maybe(0), None);
        assert!(matches!(lookup(0), Reply::Failed));
        assert!(matches!(lookup(1), Reply::Missing));
        assert!(matches!(lookup(2), Reply::Found));
        assert_eq!(parse_sum("", "x").unwrap(), 0);
        assert_eq!(parse_sum("2", "3").unwrap(), 5);
        assert!(parse_sum("2", "x").is_err());
        assert!(std::panic::catch_unwind(boom).is_err());
        let mut store = Store { items: vec![] };
        store.push(4).push(5);
        assert_eq!(store.get(0), Some(&4));
        assert_eq!(store.get(9), None);
        assert_eq!(store.len(), 2);
        store.clear().unwrap();
    });
    let text = telemetry.metrics().encode(Format::Text);
    let m = "measured_functions_are_counted_and_timed_with_autometrics_names";
    let calls = |f: &str, result: &str, n: u64| {
        format!(
            "function_calls_total{{function=\"{f}\",module=\"{m}\",result=\"{result}\",service_name=\"shop\"}} {n}"
        )
    };
    let mut expected = vec![
        calls("plain", "ok", 2),
        calls("fallible", "ok", 1),
        calls("fallible", "error", 1),
        calls("maybe", "ok", 1),
        calls("maybe", "error", 1),
        calls("lookup", "ok", 2),
        calls("lookup", "error", 1),
        calls("parse_sum", "ok", 2),
        calls("parse_sum", "error", 1),
        calls("boom", "error", 1),
        calls("Store::push", "ok", 1),
        calls("Store::get", "ok", 1),
        calls("Store::get", "error", 1),
        calls("clear", "ok", 1),
    ];
    expected.sort();
    assert_eq!(series(&text, "function_calls_total{"), expected, "{text}");
    assert!(
        text.contains("# TYPE function_calls_total counter\n"),
        "{text}"
    );
    assert!(!text.contains("Store::len"), "skipped: {text}");

    // The histogram: autometrics' boundaries, one series per function.
    assert!(text.contains("# TYPE function_calls_duration_seconds histogram\n"));
    let les: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("function_calls_duration_seconds_bucket{function=\"plain\""))
        .map(|l| l.split(",le=\"").nth(1).unwrap().split('"').next().unwrap())
        .collect();
    assert_eq!(
        les,
        [
            "0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5",
            "5", "7.5", "10", "+Inf"
        ]
    );
    assert!(text.contains(&format!(
        "function_calls_duration_seconds_count{{function=\"plain\",module=\"{m}\",service_name=\"shop\"}} 2\n"
    )));
    assert!(text.contains(&format!(
        "function_calls_duration_seconds_count{{function=\"boom\",module=\"{m}\",service_name=\"shop\"}} 1\n"
    )));
    // No function tracks its concurrency: no gauge.
    assert!(!text.contains("function_calls_concurrent"));

    let catalogue = telemetry.metrics().catalogue();
    assert!(catalogue.get("function_calls_total").is_some());
    assert!(catalogue.get("function_calls_duration_seconds").is_some());
    assert!(catalogue.get("function_calls_concurrent").is_none());
}
