//! [`Guarded`]: a layer around the pipeline's layers (and the application's) that marks the
//! thread as inside a layer callback while one runs ([`InCallback`]), so that the panic hook
//! never writes a line from a thread that may hold a span's data (see `panic`). It also answers
//! the probe by which `install_globals` learns whether an installed `log` logger hands records to
//! this pipeline ([`log_records_reach_the_pipeline`]).

use std::any::TypeId;
use std::cell::Cell;

use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};
use tracing_core::Interest;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Context, Layer};

use crate::internal::InCallback;

/// The target of the `log` metadata [`log_records_reach_the_pipeline`] asks about.
const PROBE_TARGET: &str = "watchpost::log_bridge_probe";

thread_local! {
    /// Set when a [`Guarded`] layer is asked about [`PROBE_TARGET`].
    static PROBED: Cell<bool> = const { Cell::new(false) };
}

/// Whether the installed `log` logger hands `log` records to the `tracing` dispatcher this
/// pipeline is in — tracing-log's `LogTracer` does, and tracing-subscriber's `init()` installs
/// one — asked with `log::Logger::enabled` for a record only the pipeline answers (and refuses).
pub(super) fn log_records_reach_the_pipeline() -> bool {
    PROBED.with(|p| p.set(false));
    let probe = log::Metadata::builder()
        .level(log::Level::Error)
        .target(PROBE_TARGET)
        .build();
    let _ = log::logger().enabled(&probe);
    PROBED.with(|p| p.replace(false))
}

/// `L`, each callback that can lock a span's data or write a line run under [`InCallback`];
/// everything else (interest, enter/exit) passed through as it is.
pub(super) struct Guarded<L>(pub(super) L);

impl<S, L> Layer<S> for Guarded<L>
where
    S: Subscriber,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, dispatch: &tracing::Dispatch) {
        self.0.on_register_dispatch(dispatch);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.0.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        if metadata.target() == PROBE_TARGET {
            PROBED.with(|p| p.set(true));
            return false;
        }
        self.0.enabled(metadata, ctx)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        self.0.max_level_hint()
    }

    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let _in = InCallback::enter();
        self.0.on_new_span(attrs, id, ctx);
    }

    fn on_record(&self, span: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let _in = InCallback::enter();
        self.0.on_record(span, values, ctx);
    }

    fn on_follows_from(&self, span: &Id, follows: &Id, ctx: Context<'_, S>) {
        let _in = InCallback::enter();
        self.0.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        let _in = InCallback::enter();
        self.0.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let _in = InCallback::enter();
        self.0.on_event(event, ctx);
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let _in = InCallback::enter();
        self.0.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &Id, new: &Id, ctx: Context<'_, S>) {
        let _in = InCallback::enter();
        self.0.on_id_change(old, new, ctx);
    }

    unsafe fn downcast_raw(&self, id: TypeId) -> Option<*const ()> {
        if id == TypeId::of::<Self>() {
            return Some(self as *const Self as *const ());
        }
        // SAFETY: forwarded as is: the inner layer answers for its own types.
        unsafe { self.0.downcast_raw(id) }
    }
}
