//! The caller of a measured function is the measured function it runs in, across `.await`s and
//! threads (the caller follows the task, like a task-local): `caller_function` and
//! `caller_module` on `function_calls_total`. A function called through an unmeasured one still
//! names the measured one above it; a spawned task and the test itself have no caller.

use watchpost::metrics::Format;

#[watchpost::measured]
async fn handler(n: u32) -> Result<u32, String> {
    let a = step(n).await?;
    tokio::task::yield_now().await;
    tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    let b = helper(a);
    let c = unmeasured().await;
    let spawned = tokio::spawn(step(1)).await.map_err(|e| e.to_string())??;
    let d = Service.call().await;
    Ok(b + c + spawned + d)
}

#[watchpost::measured]
async fn step(n: u32) -> Result<u32, String> {
    tokio::task::yield_now().await;
    Ok(helper(n))
}

async fn unmeasured() -> u32 {
    tokio::task::yield_now().await;
    helper(0)
}

#[watchpost::measured]
fn helper(n: u32) -> u32 {
    n * 2
}

struct Service;

#[watchpost::measured]
impl Service {
    async fn call(&self) -> u32 {
        tokio::task::yield_now().await;
        helper(5)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_measured_functions_caller_is_known_across_await() {
    let config = watchpost::Config::builder("shop").build().unwrap();
    let (telemetry, _dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    const N: u64 = 20;
    let tasks: Vec<_> = (0..N).map(|i| tokio::spawn(handler(i as u32))).collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(helper(1), 2); // from the test: no caller

    let text = telemetry.metrics().encode(Format::Text);
    let m = "a_measured_functions_caller_is_known_across_await";
    let line = |f: &str, caller: Option<&str>, n: u64| {
        match caller {
        Some(c) => format!(
            "function_calls_total{{caller_function=\"{c}\",caller_module=\"{m}\",function=\"{f}\",module=\"{m}\",result=\"ok\",service_name=\"shop\"}} {n}"
        ),
        None => format!(
            "function_calls_total{{function=\"{f}\",module=\"{m}\",result=\"ok\",service_name=\"shop\"}} {n}"
        ),
    }
    };
    let mut expected = vec![
        line("handler", None, N),
        line("step", Some("handler"), N),
        line("step", None, N), // spawned
        line("Service::call", Some("handler"), N),
        // From `step` (both), from `handler` (itself, and through `unmeasured`), from
        // `Service::call`, and once from the test.
        line("helper", Some("step"), 2 * N),
        line("helper", Some("handler"), 2 * N),
        line("helper", Some("Service::call"), N),
        line("helper", None, 1),
    ];
    expected.sort();
    let mut found: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("function_calls_total{"))
        .collect();
    found.sort();
    assert_eq!(found, expected, "{text}");
}
