//! The exemplar of a measured call comes from the innermost span it runs in — also after an
//! `.await` that moved the task to another worker thread, also once a child span has exited (the
//! bridge's per-thread note of entered spans, `traces::current`, is what answers this now, not
//! a registry lookup) — and a call outside any span keeps none.

use tracing::instrument::WithSubscriber as _;
use tracing::Instrument as _;
use watchpost::metrics::Format;

const TRACE: &str = "0af7651916cd43dd8448eb211c80319c";

#[watchpost::measured]
fn in_the_child() -> u64 {
    1
}

#[watchpost::measured]
fn in_the_request() -> u64 {
    2
}

#[watchpost::measured]
fn outside() -> u64 {
    3
}

fn span_id(span: &tracing::Span) -> String {
    let cx = watchpost::traces::context(span);
    opentelemetry::trace::TraceContextExt::span(&cx)
        .span_context()
        .span_id()
        .to_string()
}

/// The `span_id`s of the exemplars on `function`'s bucket lines.
fn exemplar_span_ids(om: &str, function: &str) -> Vec<String> {
    let prefix = format!("function_calls_duration_seconds_bucket{{function=\"{function}\"");
    om.lines()
        .filter(|l| l.starts_with(&prefix))
        .filter_map(|l| l.split_once(" # {"))
        .map(|(_, e)| {
            assert!(e.contains(&format!("trace_id=\"{TRACE}\"")), "{e}");
            let at = e.find("span_id=\"").expect("a span id") + 9;
            e[at..at + 16].to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_measured_call_after_an_await_names_the_innermost_span_it_runs_in() {
    let config = watchpost::Config::builder("shop")
        .otel_enabled(true)
        // Nothing listens: only the exemplars are looked at.
        .otel_endpoint("127.0.0.1:9")
        .trace_sampler_ratio(0.0)
        .build()
        .unwrap();
    let (telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .into_dispatch();
    let (request, child) = tracing::dispatcher::with_default(&dispatch, || {
        let mut incoming = http::HeaderMap::new();
        let traceparent = format!("00-{TRACE}-00f067aa0ba902b7-01");
        incoming.insert("traceparent", traceparent.parse().unwrap());
        let request = tracing::info_span!("request");
        watchpost::traces::set_parent(&request, &watchpost::traces::extract(&incoming));
        let child = tracing::info_span!(parent: &request, "db");
        (request, child)
    });
    let (request_id, child_id) =
        tracing::dispatcher::with_default(&dispatch, || (span_id(&request), span_id(&child)));
    assert_ne!(request_id, child_id);

    let work = |request: tracing::Span, child: tracing::Span| {
        async move {
            async {
                for _ in 0..20 {
                    tokio::task::yield_now().await;
                    in_the_child();
                }
            }
            .instrument(child)
            .await;
            for _ in 0..20 {
                tokio::task::yield_now().await;
                in_the_request();
            }
        }
        .instrument(request)
        .with_subscriber(dispatch.clone())
    };
    // Several tasks at once, so the polls land on both workers.
    let tasks: Vec<_> = (0..4)
        .map(|_| tokio::spawn(work(request.clone(), child.clone())))
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    tokio::spawn(async { outside() }.with_subscriber(dispatch.clone()))
        .await
        .unwrap();
    // On this thread too: a span entered and exited leaves nothing current behind.
    tracing::dispatcher::with_default(&dispatch, || {
        child.in_scope(in_the_child);
        outside();
    });
    drop((request, child));

    let om = telemetry.metrics().encode(Format::OpenMetrics);
    // Every bucket a call landed in (one, unless a call was preempted on a busy machine) names
    // the span it ran in.
    for (function, span) in [("in_the_child", &child_id), ("in_the_request", &request_id)] {
        let ids = exemplar_span_ids(&om, function);
        assert!(
            !ids.is_empty() && ids.iter().all(|id| id == span),
            "{function}: {ids:?}, expected {span}: {om}"
        );
    }
    assert!(
        exemplar_span_ids(&om, "outside").is_empty(),
        "no span, no exemplar: {om}"
    );
    assert!(
        om.contains("function_calls_total{function=\"outside\""),
        "the call outside a span is counted: {om}"
    );
}
