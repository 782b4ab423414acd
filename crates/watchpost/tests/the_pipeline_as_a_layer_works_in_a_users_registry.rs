//! `TelemetryBuilder::into_layer` puts the whole pipeline into a registry the application builds,
//! between layers of its own: lines inside a span carry its trace ids, a remote parent is
//! continued, levels change at runtime, and the other layers see every event.

use std::sync::{Arc, Mutex};

use opentelemetry::propagation::TextMapPropagator as _;
use tracing::Level;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt as _};
use watchpost::traces::OpenTelemetrySpanExt as _;
use watchpost::{Config, Telemetry};
use watchpost_testkit::capture::Capture;

/// Counts the events it sees and the spans it sees created.
#[derive(Clone, Default)]
struct Counter(Arc<Mutex<(usize, usize)>>);

impl<S: tracing::Subscriber> Layer<S> for Counter {
    fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, S>) {
        self.0.lock().unwrap().0 += 1;
    }
    fn on_new_span(
        &self,
        _: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        self.0.lock().unwrap().1 += 1;
    }
}

#[test]
fn the_pipeline_as_a_layer_works_in_a_users_registry() {
    let capture = Capture::default();
    let (before, after) = (Counter::default(), Counter::default());
    let config = Config::builder("svc").build().unwrap();
    let (telemetry, layer) = Telemetry::builder(config)
        .writer(capture.clone())
        .into_layer();
    let subscriber = tracing_subscriber::registry()
        .with(before.clone())
        .with(layer)
        .with(after.clone());

    let remote_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let mut headers = std::collections::HashMap::new();
    headers.insert(
        "traceparent".to_string(),
        format!("00-{remote_trace}-00f067aa0ba902b7-01"),
    );
    let parent = opentelemetry_sdk::propagation::TraceContextPropagator::new().extract(&headers);

    let mut local_trace = String::new();
    tracing::subscriber::with_default(subscriber, || {
        let work = tracing::info_span!("work");
        local_trace = watchpost::traces::trace_id(&work).expect("a trace id");
        work.in_scope(|| tracing::info!("inside"));
        tracing::info!("outside");
        tracing::debug!("below the level");
        telemetry.set_level("APP", Level::DEBUG).unwrap();
        tracing::debug!("now shown");
        let request = tracing::info_span!("request");
        request
            .set_parent(parent)
            .expect("our bridge is in this registry");
        request.in_scope(|| tracing::info!("continued"));
    });

    let lines = capture.json();
    let msgs: Vec<&str> = lines.iter().map(|l| l["msg"].as_str().unwrap()).collect();
    assert_eq!(msgs, ["inside", "outside", "now shown", "continued"]);
    assert_eq!(lines[0]["trace_id"], local_trace.as_str());
    assert_eq!(lines[0]["span_id"].as_str().unwrap().len(), 16);
    assert!(!lines[1].contains_key("trace_id"), "{:?}", lines[1]);
    assert_eq!(lines[3]["trace_id"], remote_trace);
    for (name, counter) in [("before", &before), ("after", &after)] {
        assert_eq!(
            *counter.0.lock().unwrap(),
            (4, 2),
            "the layer {name} ours: every event written, both spans"
        );
    }
}
