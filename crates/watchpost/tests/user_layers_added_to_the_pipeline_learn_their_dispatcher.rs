//! Layers added with `with_layer` get `on_register_dispatch` when the pipeline's dispatcher is
//! built, as they would in a registry of their own (a layer that emits from another thread, or
//! keeps a weak handle to its subscriber, needs it) — every one of them, not only the first.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts the dispatchers it is registered with.
struct Registered(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Registered {
    fn on_register_dispatch(&self, _: &tracing::Dispatch) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
}

#[test]
fn user_layers_added_to_the_pipeline_learn_their_dispatcher() {
    let first = Arc::new(AtomicUsize::new(0));
    let second = Arc::new(AtomicUsize::new(0));
    let config = watchpost::Config::builder("svc").build().unwrap();
    let (_telemetry, dispatch) = watchpost::Telemetry::builder(config)
        .writer(std::io::sink)
        .with_layer(Registered(first.clone()))
        .with_layer(Registered(second.clone()))
        .into_dispatch();
    assert_eq!(first.load(Ordering::Relaxed), 1);
    assert_eq!(second.load(Ordering::Relaxed), 1);
    drop(dispatch);
}
