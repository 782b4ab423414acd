//! Measured functions: the runtime behind [`#[watchpost::measured]`](crate::measured).
//!
//! Per function, the attribute writes one `static` and registers it at link time; its first
//! call after a pipeline exists resolves the function's storage. `function_calls_total` and
//! `function_calls_duration_seconds` are kept by watchpost itself, lock-free, not by the SDK
//! (`store`: the SDK's bound histogram takes a mutex per point, and its bound instruments are a
//! dynamic call each), so a call costs two clock reads (the CPU's time-stamp counter where the
//! kernel keeps time with it), a thread-local swap and three relaxed atomic adds: its bucket,
//! the sum, and its (caller, result) count. The caller's count is kept in a small per-function
//! table (16 callers; more go through a slower path under a mutex, still correctly labelled).
//!
//! **Where they go.** The recording pipeline's exposition (`/metrics`, both formats) and its
//! OTLP metric push carry the two families, with the SDK's families, as if the SDK kept them
//! (the same names, labels, help and units; cumulative, started when the pipeline was built).
//! The SDK's collection ([`Metrics::collect`]) does not: its data types cannot be given points
//! from outside. `function_calls_concurrent` is an SDK up-down counter.
//!
//! **One series per label set.** Each function keeps its own storage, but functions whose labels
//! are the same — two functions of one module given the same `name`, `impl Foo<u8>` and
//! `impl Foo<u16>` both measuring `Foo::get` (the label has the type's last path segment only),
//! an inherent and a trait method of one name — are one series, as the SDK's instruments would
//! make them: at each scrape and push their counts, buckets and sums are added, and the smaller
//! minimum, the larger maximum and per bucket the newer exemplar kept (they share the
//! exemplars' slots anyway). So are two callers of the same labels in a function's counts.
//!
//! **Which pipeline.** The first pipeline built in the process ([`init`](crate::init), or
//! [`TelemetryBuilder::into_dispatch`](crate::TelemetryBuilder::into_dispatch)) records the
//! calls; before it exists calls are not counted. Every pipeline of a program that has measured
//! functions declares their metrics in its catalogue (`FUNCTIONS`, the concurrency gauge only
//! when a function tracks it), so `/metrics/catalogue`, `watchpost lint` and the generated
//! documentation know them before the first call.
//!
//! **The caller.** Each call puts its function in a per-thread slot for its duration (an async
//! function: around each poll of its body, so the slot follows the task across `.await` and
//! threads, like a task-local); a measured function called meanwhile reads its caller there. A
//! spawned task starts without a caller.
//!
//! **Exemplars.** `function_calls_duration_seconds` keeps them (see
//! [`ExemplarHistogram`](super::ExemplarHistogram)): a call made in a sampled span — the
//! function's own (`span`), else the current one — or over its `slow` threshold (its trace is
//! then kept) leaves that span's ids on its bucket, for the OpenMetrics exposition and the OTLP
//! push. Without trace export a call pays one test for it; with it, a read of the bridge's note of
//! the span the call runs in (`traces::current`: no lock, no registry lookup).
//!
//! **Outcome.** `result="error"` when the returned value says so ([`Outcome`]: `Result::Err`,
//! `Option::None`, or your type's own implementation), or when the function panics; any other
//! type is `ok`. An async call whose future is dropped before it completes is not counted.

mod clock;
mod store;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::{MeterProvider as _, UpDownCounter};
use opentelemetry::KeyValue;

use super::{own, Metrics};
use crate::catalogue::{self, Instrument as Kind};
use store::Resolved;

/// Whether a returned value is an error, for the `result` label of `function_calls_total`.
///
/// Implemented for `Result` (`Err` is an error) and `Option` (`None` is an error); implement it
/// for your own return types. A type without an implementation is always `ok`.
///
/// ```
/// use watchpost::metrics::function::Outcome;
///
/// enum Reply { Found(u32), Missing, Failed }
/// impl Outcome for Reply {
///     fn is_error(&self) -> bool {
///         matches!(self, Reply::Failed) // a missing item is an answer, not a failure
///     }
/// }
///
/// #[watchpost::measured]
/// fn lookup(id: u32) -> Reply {
///     if id == 0 { Reply::Failed } else if id > 10 { Reply::Missing } else { Reply::Found(id) }
/// }
/// assert!(matches!(lookup(3), Reply::Found(3)));
/// assert!(Reply::Failed.is_error() && !Reply::Missing.is_error());
/// ```
pub trait Outcome {
    /// `true` if this value means the call failed.
    fn is_error(&self) -> bool;
}

impl<T, E> Outcome for Result<T, E> {
    fn is_error(&self) -> bool {
        self.is_err()
    }
}

impl<T> Outcome for Option<T> {
    fn is_error(&self) -> bool {
        self.is_none()
    }
}

/// A measured function as its attribute declared it (what an alert generator reads: see
/// [`declared`]). Written by the attribute; not meant to be built by hand.
#[derive(Debug, Clone, Copy)]
pub struct Descriptor {
    /// The `function` label: the name as written (`Type::method` in a measured `impl` block).
    pub function: &'static str,
    /// The `module` label: `module_path!()` where the function is.
    pub module: &'static str,
    /// The objective's name (`objective_name`), if the function has one.
    pub objective: Option<&'static str>,
    /// The success objective: the percentage of calls that must be `ok` (`"99.9"`).
    pub success_percentile: Option<&'static str>,
    /// The latency objective: the threshold in seconds, as its label and bucket (`"0.25"`), and
    /// the percentage of calls that must be under it (`"99"`).
    pub latency: Option<(&'static str, &'static str)>,
    /// The slow-call threshold, if any.
    pub slow: Option<Duration>,
    /// At most one slow-call WARN per this interval (per function).
    pub slow_warn_every: Duration,
    /// Whether `function_calls_concurrent` tracks the function.
    pub concurrency: bool,
}

/// Every measured function linked into this program (in no particular order), whether it was
/// called or not.
///
/// ```
/// #[watchpost::measured(objective = "checkout", success = 99.9, latency = "250ms")]
/// fn pay() -> Result<(), String> { Ok(()) }
///
/// let d = watchpost::metrics::function::declared().find(|d| d.function == "pay").unwrap();
/// assert_eq!(d.objective, Some("checkout"));
/// assert_eq!(d.success_percentile, Some("99.9"));
/// assert_eq!(d.latency, Some(("0.25", "99")));
/// # let _ = pay();
/// ```
pub fn declared() -> impl Iterator<Item = &'static Descriptor> {
    inventory::iter::<__private::Registered>
        .into_iter()
        .map(|r| &r.0.desc)
}

/// The pipeline that records measured calls.
struct Pipeline {
    /// Which pipeline (its exposition and push carry the families).
    owner: Weak<super::MetricPipeline>,
    /// Only its exemplars are used (its SDK histogram is a no-op one).
    duration: super::ExemplarHistogram,
    concurrent: Option<UpDownCounter<i64>>,
    service: KeyValue,
    /// The families' full names.
    calls_name: String,
    duration_name: String,
    /// When the pipeline was built (the start of the cumulative points), since the Unix epoch.
    started_unix_nano: u64,
}

static PIPELINE: OnceLock<Pipeline> = OnceLock::new();

/// Declares the function metrics in `metrics`' catalogue if the program has measured functions,
/// and makes it the pipeline that records them if none does yet.
pub(crate) fn attach(metrics: &Metrics, service_name: &str) {
    let mut any = false;
    let mut concurrency = false;
    for d in declared() {
        any = true;
        concurrency |= d.concurrency;
    }
    if !any {
        return;
    }
    // The counter and the histogram are kept here (`store`), not by the SDK: declared in the
    // catalogue (so budgets, `/metrics/catalogue` and `watchpost lint` know them), not registered.
    let calls_name = metrics.declare(&catalogue::FUNCTION_CALLS, &[Kind::Counter]);
    let def = &catalogue::FUNCTION_CALLS_DURATION;
    let duration_name = metrics.declare(def, &[Kind::Histogram]);
    let exemplars = metrics
        .pipeline
        .exemplars
        .slots(&duration_name, def.buckets());
    let noop = opentelemetry::metrics::noop::NoopMeterProvider::new()
        .meter("watchpost")
        .f64_histogram(duration_name.clone())
        .build();
    let duration = super::ExemplarHistogram::new(noop, exemplars, metrics.pipeline.trace_tag);
    let pipeline = Pipeline {
        owner: Arc::downgrade(&metrics.pipeline),
        duration,
        concurrent: concurrency
            .then(|| metrics.up_down_counter(&catalogue::FUNCTION_CALLS_CONCURRENT)),
        service: KeyValue::new("service_name", service_name.to_string()),
        calls_name,
        duration_name,
        started_unix_nano: unix_nanos(),
    };
    if PIPELINE.set(pipeline).is_ok() {
        clock::get(); // calibrated now rather than in the first call
    }
}

fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// `function_calls_total` and `function_calls_duration_seconds` as plain data, if the pipeline
/// whose exemplar store is `store` is the one that records measured calls (else `None`: another
/// pipeline's exposition and push have no function families), with the time that pipeline was
/// built (the start of its cumulative points). One point per label set: functions and callers
/// whose labels are the same are added up.
///
/// The SDK's collection (`Metrics::collect`) does not have them: its data types cannot be given
/// points from outside. The exposition and the OTLP push add them.
pub(crate) fn families(store: &super::exemplars::ExemplarStore) -> Option<(Vec<own::Family>, u64)> {
    let p = PIPELINE.get()?;
    let owner = p.owner.upgrade()?;
    if !std::ptr::eq(&owner.exemplars, store) {
        return None;
    }
    let mut counts = Vec::new();
    let mut durations = Vec::new();
    for f in inventory::iter::<__private::Registered> {
        if let Some(r) = f.0.resolved_now() {
            r.counter_points(&mut counts);
            durations.extend(r.histogram_point());
        }
    }
    let mut out = Vec::with_capacity(2);
    // Functions (and callers) whose labels are the same are one series, as in the SDK.
    if !counts.is_empty() {
        let mut data = own::Data::Counter(counts);
        data.merge_equal_labels();
        out.push(own::Family {
            name: p.calls_name.clone(),
            description: catalogue::FUNCTION_CALLS.help(),
            unit: catalogue::FUNCTION_CALLS.unit_of().ucum(),
            data,
        });
    }
    if !durations.is_empty() {
        let def = &catalogue::FUNCTION_CALLS_DURATION;
        let mut data = own::Data::Histogram {
            bounds: def.buckets(),
            points: durations,
        };
        data.merge_equal_labels();
        out.push(own::Family {
            name: p.duration_name.clone(),
            description: def.help(),
            unit: def.unit_of().ucum(),
            data,
        });
    }
    Some((out, p.started_unix_nano))
}

thread_local! {
    /// The measured function running on this thread (the caller of the next one).
    static CURRENT: Cell<Option<&'static __private::Function>> = const { Cell::new(None) };
}

/// Milliseconds since the first slow call of the process (the WARN rate limit's clock).
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The span a call is attributed to (its trace marked slow, its exemplar): the function's own,
/// if it has one that is enabled; else (`None`) the current span.
#[inline]
fn exemplar_span(span: Option<&tracing::Span>) -> Option<&tracing::Span> {
    span.filter(|s| !s.is_disabled())
}

/// Puts a thread's previous measured function back (also when a poll panics).
struct Restore(Option<&'static __private::Function>);

impl Drop for Restore {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

/// What the generated code uses. Not a stable interface.
#[doc(hidden)]
pub mod __private {
    use super::*;

    pub use inventory;
    pub use tracing;

    pub use super::Descriptor;

    /// One measured function: its descriptor, its storage (once a pipeline exists) and its
    /// slow-call WARN rate limit.
    pub struct Function {
        pub(super) desc: Descriptor,
        resolved: OnceLock<Resolved>,
        next_warn_ms: AtomicU64,
        suppressed: AtomicU64,
    }

    impl Function {
        /// A function as the attribute declared it.
        pub const fn new(desc: Descriptor) -> Function {
            Function {
                desc,
                resolved: OnceLock::new(),
                next_warn_ms: AtomicU64::new(0),
                suppressed: AtomicU64::new(0),
            }
        }

        #[inline]
        fn resolved(&'static self) -> Option<&'static Resolved> {
            match self.resolved.get() {
                Some(r) => Some(r),
                None => self.resolve(),
            }
        }

        /// The storage, if a pipeline resolved it (for the encoders).
        pub(super) fn resolved_now(&self) -> Option<&Resolved> {
            self.resolved.get()
        }

        #[cold]
        fn resolve(&'static self) -> Option<&'static Resolved> {
            let p = PIPELINE.get()?;
            Some(self.resolved.get_or_init(|| {
                Resolved::new(&self.desc, &p.service, &p.duration, p.concurrent.as_ref())
            }))
        }

        /// A call over its threshold: marks the trace, and says whether to WARN.
        #[cold]
        fn slow(
            &'static self,
            seconds: f64,
            threshold: Duration,
            span: Option<&tracing::Span>,
        ) -> Option<SlowCall> {
            match exemplar_span(span) {
                Some(span) => crate::traces::mark_slow(span),
                None => crate::traces::mark_slow(&tracing::Span::current()),
            }
            // Its trace is now kept whatever its sampling: the call's exemplar points at it.
            if let Some(exemplars) = self.resolved.get().and_then(|r| r.exemplars.as_ref()) {
                exemplars.keep(seconds, exemplar_span(span), true);
            }
            let now = now_ms();
            let next = self.next_warn_ms.load(Ordering::Relaxed);
            let every = (self.desc.slow_warn_every.as_millis() as u64).max(1);
            if now >= next
                && self
                    .next_warn_ms
                    .compare_exchange(
                        next,
                        now.saturating_add(every),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                Some(SlowCall {
                    elapsed: Duration::from_secs_f64(seconds),
                    threshold,
                    suppressed: self.suppressed.swap(0, Ordering::Relaxed),
                })
            } else {
                self.suppressed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Registers a measured function at link time (see [`declared`]).
    pub struct Registered(pub &'static Function);

    inventory::collect!(Registered);

    /// One call in progress: its caller, its start and (sync calls) the thread's slot to restore.
    pub struct Call {
        function: &'static Function,
        /// The function's storage, when a pipeline had resolved it at the start.
        resolved: Option<&'static Resolved>,
        caller: Option<&'static Function>,
        clock: &'static clock::Clock,
        start: u64,
        restore: bool,
        /// Whether the concurrency gauge was raised for this call.
        in_flight: bool,
    }

    impl Call {
        /// A synchronous call starts: the function becomes the thread's current one until the
        /// call ends.
        #[inline]
        pub fn start(function: &'static Function) -> Call {
            let caller = CURRENT.with(|c| c.replace(Some(function)));
            Call::begin(function, caller, true)
        }

        #[inline]
        fn begin(
            function: &'static Function,
            caller: Option<&'static Function>,
            restore: bool,
        ) -> Call {
            let resolved = function.resolved();
            let mut in_flight = false;
            if function.desc.concurrency {
                if let Some(g) = resolved.and_then(|r| r.concurrent.as_ref()) {
                    g.add(1);
                    in_flight = true;
                }
            }
            let clock = clock::get();
            Call {
                function,
                resolved,
                caller,
                clock,
                start: clock.now(),
                restore,
                in_flight,
            }
        }

        /// The call returned: records it (`error` from the returned value) and, if it was slow,
        /// marks its trace (`span`, or the current span) and says whether to log the WARN.
        #[inline]
        pub fn finish(self, error: bool, span: Option<&tracing::Span>) -> Option<SlowCall> {
            let end = self.clock.now();
            // Finished: nothing left for `Drop` but the thread's slot, restored here.
            let mut call = std::mem::ManuallyDrop::new(self);
            if call.restore {
                CURRENT.with(|c| c.set(call.caller));
            }
            let ns = call.clock.nanos(call.start, end);
            call.record(ns, error, span);
            match call.function.desc.slow {
                Some(threshold) if u128::from(ns) >= threshold.as_nanos() => {
                    call.function.slow(clock::seconds(ns), threshold, span)
                }
                _ => None,
            }
        }

        /// Records the call; its exemplar comes from `span` (else the current span) if that
        /// trace is sampled.
        #[inline]
        fn record(&mut self, ns: u64, error: bool, span: Option<&tracing::Span>) {
            let resolved = match self.resolved {
                Some(r) => Some(r),
                None => self.function.resolved(), // a pipeline built during the call
            };
            if let Some(r) = resolved {
                r.record(ns, self.caller, error);
                if let Some(exemplars) = &r.exemplars {
                    exemplars.keep(clock::seconds(ns), exemplar_span(span), false);
                }
                if self.in_flight {
                    self.leave();
                }
            }
        }

        fn leave(&mut self) {
            if std::mem::take(&mut self.in_flight) {
                if let Some(g) = self.resolved.and_then(|r| r.concurrent.as_ref()) {
                    g.add(-1);
                }
            }
        }

        /// Dropped before `finish`: a panic (counted as an error) or a future dropped before it
        /// completed (not counted).
        #[cold]
        fn unfinished(&mut self) {
            if std::thread::panicking() {
                let ns = self.clock.nanos(self.start, self.clock.now());
                self.record(ns, true, None);
            }
            self.leave();
        }
    }

    impl Drop for Call {
        #[inline]
        fn drop(&mut self) {
            if self.restore {
                CURRENT.with(|c| c.set(self.caller));
            }
            self.unfinished();
        }
    }

    /// A slow call to log (the first of its function's window).
    #[derive(Debug, Clone, Copy)]
    pub struct SlowCall {
        elapsed: Duration,
        threshold: Duration,
        suppressed: u64,
    }

    impl SlowCall {
        /// The call's duration in milliseconds, to the microsecond (at most three decimals in
        /// the log line).
        pub fn duration_ms(&self) -> f64 {
            self.elapsed.as_micros() as f64 / 1000.0
        }
        /// The threshold in milliseconds, to the microsecond.
        pub fn threshold_ms(&self) -> f64 {
            self.threshold.as_micros() as f64 / 1000.0
        }
        /// Slow calls of the function not logged since its previous WARN.
        pub fn suppressed(&self) -> u64 {
            self.suppressed
        }
    }

    pin_project_lite::pin_project! {
        /// An async function's body: the function is the thread's current one during each poll;
        /// the call starts at the first poll and is handed back with the output.
        pub struct Measured<F> {
            function: &'static Function,
            call: Option<Call>,
            #[pin]
            future: F,
        }
    }

    impl<F> Measured<F> {
        /// Wraps the body of `function`.
        pub fn new(function: &'static Function, future: F) -> Measured<F> {
            Measured {
                function,
                call: None,
                future,
            }
        }
    }

    impl<F: Future> Future for Measured<F> {
        type Output = (F::Output, Call);

        #[inline]
        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let function = *this.function;
            let caller = CURRENT.with(|c| c.replace(Some(function)));
            let _restore = Restore(caller);
            if this.call.is_none() {
                *this.call = Some(Call::begin(function, caller, false));
            }
            match this.future.poll(cx) {
                Poll::Ready(out) => match this.call.take() {
                    Some(call) => Poll::Ready((out, call)),
                    None => unreachable!("a measured future completes once"),
                },
                Poll::Pending => Poll::Pending,
            }
        }
    }

    /// Runs a synchronous body (a closure, so that its `return`s end the body, not the
    /// function).
    #[inline(always)]
    pub fn call_once<R>(body: impl FnOnce() -> R) -> R {
        body()
    }

    /// The return value, for [`Outcome`] by autoref specialization: `Probe<T: Outcome>` answers
    /// first, `&Probe<T>` (any `T`) says `ok`.
    pub struct Probe<'a, T: ?Sized>(pub &'a T);

    /// The [`Outcome`] of a value whose type implements it.
    pub trait ProbeOutcome {
        /// Whether the value is an error.
        fn __watchpost_is_error(&self) -> bool;
    }

    impl<T: Outcome + ?Sized> ProbeOutcome for Probe<'_, T> {
        #[inline]
        fn __watchpost_is_error(&self) -> bool {
            self.0.is_error()
        }
    }

    /// Any other value: `ok`.
    pub trait ProbeDefault {
        /// Always `false`.
        fn __watchpost_is_error(&self) -> bool;
    }

    impl<T: ?Sized> ProbeDefault for &Probe<'_, T> {
        #[inline]
        fn __watchpost_is_error(&self) -> bool {
            false
        }
    }
}
