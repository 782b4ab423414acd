//! Layers added with `TelemetryBuilder::with_layer` see exactly the events the pipeline writes:
//! Watchpost's subsystem levels filter for them too, a level changed at runtime included, and a
//! per-layer filter narrows only its own layer.

use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing::Level;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};
use watchpost::{Config, Subsystem, Telemetry};
use watchpost_testkit::capture::Capture;

/// Records the message of every event it sees.
#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<String>>>);

impl Recorder {
    fn messages(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

struct Message<'a>(&'a mut String);

impl Visit for Message<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            *self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber> Layer<S> for Recorder {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut message = String::new();
        event.record(&mut Message(&mut message));
        self.0.lock().unwrap().push(message);
    }
}

#[test]
fn a_user_layer_added_to_the_pipeline_sees_every_event() {
    let capture = Capture::default();
    let (first, second, warnings) = (
        Recorder::default(),
        Recorder::default(),
        Recorder::default(),
    );
    let config = Config::builder("svc")
        .subsystem(Subsystem::new("JOBS").target("jobs"))
        .build()
        .unwrap();
    let (telemetry, dispatch) = Telemetry::builder(config)
        .writer(capture.clone())
        .with_layer(first.clone())
        .with_layer(second.clone())
        .with_layer(warnings.clone().with_filter(LevelFilter::WARN))
        .into_dispatch();

    tracing::dispatcher::with_default(&dispatch, || {
        tracing::info!("one");
        tracing::debug!("app debug, below the level");
        tracing::info!(target: "jobs", "job started");
        tracing::debug!(target: "jobs", "job detail, below the level");
        tracing::info_span!("request").in_scope(|| tracing::warn!("in a span"));
        telemetry.set_level("JOBS", Level::DEBUG).unwrap();
        tracing::debug!(target: "jobs", "job detail, now shown");
        telemetry.set_level("APP", Level::WARN).unwrap();
        tracing::info!("app info, now below the level");
        tracing::error!("an error");
    });

    let written: Vec<String> = capture
        .json()
        .iter()
        .map(|l| l["msg"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        written,
        [
            "one",
            "job started",
            "in a span",
            "job detail, now shown",
            "an error"
        ]
    );
    assert_eq!(first.messages(), written, "the first layer");
    assert_eq!(second.messages(), written, "the second layer");
    assert_eq!(
        warnings.messages(),
        ["in a span", "an error"],
        "a per-layer filter narrows its own layer only"
    );
}
