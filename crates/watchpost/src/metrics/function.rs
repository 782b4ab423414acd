//! Measured functions: the runtime behind [`#[watchpost::measured]`](crate::measured).
//!
//! Per function, the attribute writes one `static` and registers it at link time; its first
//! call after a pipeline exists resolves the instruments and *binds* them to the function's
//! attribute set (the SDK's bound instruments: the attribute lookup is done once), so a call
//! costs two clock reads (the CPU's time-stamp counter where the kernel keeps time with it), a
//! thread-local swap, a bound counter add and a bound histogram record. The counter's attribute set varies with the caller: each
//! (function, caller, result) binding is made on first use and kept in a small per-function
//! table (16 callers; more go through the ordinary, slower path, still correctly labelled).
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
//! push. Without trace export a call pays one test for it; with it, a span lookup.
//!
//! **Outcome.** `result="error"` when the returned value says so ([`Outcome`]: `Result::Err`,
//! `Option::None`, or your type's own implementation), or when the function panics; any other
//! type is `ok`. An async call whose future is dropped before it completes is not counted.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use opentelemetry::metrics::{
    BoundCounter, BoundHistogram, BoundUpDownCounter, Counter, UpDownCounter,
};
use opentelemetry::KeyValue;

use super::Metrics;
use crate::catalogue;

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

/// The instruments of the pipeline that records measured calls.
struct Pipeline {
    calls: Counter<u64>,
    duration: super::ExemplarHistogram,
    concurrent: Option<UpDownCounter<i64>>,
    service: KeyValue,
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
    let pipeline = Pipeline {
        calls: metrics.counter(&catalogue::FUNCTION_CALLS),
        duration: metrics.exemplar_histogram(&catalogue::FUNCTION_CALLS_DURATION),
        concurrent: concurrency
            .then(|| metrics.up_down_counter(&catalogue::FUNCTION_CALLS_CONCURRENT)),
        service: KeyValue::new("service_name", service_name.to_string()),
    };
    if PIPELINE.set(pipeline).is_ok() {
        clock::get(); // calibrated now rather than in the first call
    }
}

thread_local! {
    /// The measured function running on this thread (the caller of the next one).
    static CURRENT: Cell<Option<&'static __private::Function>> = const { Cell::new(None) };
}

/// Callers whose bindings a function keeps; calls from more go through the unbound path.
const CALLER_SLOTS: usize = 16;

struct CallerSlot {
    caller: AtomicPtr<__private::Function>,
    counters: [OnceLock<BoundCounter<u64>>; 2],
}

/// A function's instruments, bound to its attribute sets.
struct Resolved {
    duration: BoundHistogram<f64>,
    /// The duration series' exemplars (when traces are exported).
    exemplars: Option<super::exemplars::Series>,
    concurrent: Option<BoundUpDownCounter<i64>>,
    /// Calls without a measured caller: `[ok, error]`.
    root: [OnceLock<BoundCounter<u64>>; 2],
    callers: [CallerSlot; CALLER_SLOTS],
    calls: Counter<u64>,
    /// `function`, `module`, `service_name` and the success objective's labels.
    counter_base: Vec<KeyValue>,
}

impl Resolved {
    fn new(desc: &Descriptor, p: &Pipeline) -> Resolved {
        let base = [
            KeyValue::new("function", desc.function),
            KeyValue::new("module", desc.module),
            p.service.clone(),
        ];
        let mut histogram = base.to_vec();
        if let (Some(name), Some((threshold, percentile))) = (desc.objective, desc.latency) {
            histogram.extend([
                KeyValue::new("objective_name", name),
                KeyValue::new("objective_percentile", percentile),
                KeyValue::new("objective_latency_threshold", threshold),
            ]);
        }
        let mut counter_base = base.to_vec();
        if let (Some(name), Some(percentile)) = (desc.objective, desc.success_percentile) {
            counter_base.extend([
                KeyValue::new("objective_name", name),
                KeyValue::new("objective_percentile", percentile),
            ]);
        }
        Resolved {
            duration: p.duration.histogram().bind(&histogram),
            exemplars: p.duration.series(&histogram),
            concurrent: desc
                .concurrency
                .then(|| p.concurrent.as_ref().map(|c| c.bind(&base)))
                .flatten(),
            root: Default::default(),
            callers: std::array::from_fn(|_| CallerSlot {
                caller: AtomicPtr::new(std::ptr::null_mut()),
                counters: Default::default(),
            }),
            calls: p.calls.clone(),
            counter_base,
        }
    }

    fn attributes(&self, caller: Option<&Descriptor>, error: bool) -> Vec<KeyValue> {
        let mut attrs = self.counter_base.clone();
        attrs.push(KeyValue::new("result", if error { "error" } else { "ok" }));
        if let Some(c) = caller {
            attrs.push(KeyValue::new("caller_function", c.function));
            attrs.push(KeyValue::new("caller_module", c.module));
        }
        attrs
    }

    #[inline]
    fn count(&self, caller: Option<&'static __private::Function>, error: bool) {
        let i = usize::from(error);
        let Some(c) = caller else {
            self.root[i]
                .get_or_init(|| self.calls.bind(&self.attributes(None, error)))
                .add(1);
            return;
        };
        let ptr = c as *const __private::Function as *mut __private::Function;
        for slot in &self.callers {
            let mut held = slot.caller.load(Ordering::Acquire);
            if held.is_null() {
                held = match slot.caller.compare_exchange(
                    std::ptr::null_mut(),
                    ptr,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => ptr,
                    Err(other) => other,
                };
            }
            if held == ptr {
                slot.counters[i]
                    .get_or_init(|| self.calls.bind(&self.attributes(Some(&c.desc), error)))
                    .add(1);
                return;
            }
        }
        self.calls.add(1, &self.attributes(Some(&c.desc), error));
    }
}

/// Milliseconds since the first slow call of the process (the WARN rate limit's clock).
fn now_ms() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    EPOCH.get_or_init(Instant::now).elapsed().as_millis() as u64
}

/// The clock of measured calls: the CPU's time-stamp counter when the kernel keeps time with it
/// (`clocksource` `tsc`: invariant and synchronized across CPUs), read in a few nanoseconds;
/// otherwise `Instant`. Calibrated once against `Instant` (5 ms, when the first pipeline is
/// built, or at the first call before that).
mod clock {
    use std::sync::OnceLock;
    use std::time::{Duration, Instant};

    pub(super) struct Clock {
        /// Whether ticks are the time-stamp counter's; else `Instant` nanoseconds since `epoch`.
        #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
        tsc: bool,
        /// Seconds per tick.
        secs_per_tick: f64,
        epoch: Instant,
    }

    static CLOCK: OnceLock<Clock> = OnceLock::new();

    /// The clock (calibrated on first use).
    #[inline]
    pub(super) fn get() -> &'static Clock {
        match CLOCK.get() {
            Some(c) => c,
            None => init(),
        }
    }

    #[cold]
    fn init() -> &'static Clock {
        CLOCK.get_or_init(calibrate)
    }

    impl Clock {
        /// The current tick.
        #[inline]
        pub(super) fn now(&self) -> u64 {
            #[cfg(target_arch = "x86_64")]
            if self.tsc {
                // SAFETY: `rdtsc` is available on every x86_64 CPU and has no preconditions.
                #[allow(unused_unsafe)]
                return unsafe { core::arch::x86_64::_rdtsc() };
            }
            self.epoch.elapsed().as_nanos() as u64
        }

        /// Seconds from tick `start` to tick `end` (zero if the counter went back: a task that
        /// moved to a CPU a few ticks behind).
        #[inline]
        pub(super) fn seconds(&self, start: u64, end: u64) -> f64 {
            // Below 2^63 ticks (a century): the signed conversion is one instruction.
            end.saturating_sub(start) as i64 as f64 * self.secs_per_tick
        }
    }

    fn calibrate() -> Clock {
        let epoch = Instant::now();
        let ns_per_tick = tsc_scale();
        Clock {
            tsc: ns_per_tick.is_some(),
            secs_per_tick: ns_per_tick.unwrap_or(1.0) * 1e-9,
            epoch,
        }
    }

    #[cfg(all(target_arch = "x86_64", target_os = "linux"))]
    fn tsc_scale() -> Option<f64> {
        let source = std::fs::read_to_string(
            "/sys/devices/system/clocksource/clocksource0/current_clocksource",
        )
        .ok()?;
        if source.trim() != "tsc" {
            return None;
        }
        // SAFETY: as above.
        #[allow(unused_unsafe)]
        let read = || unsafe { core::arch::x86_64::_rdtsc() };
        let (t0, i0) = (read(), Instant::now());
        std::thread::sleep(Duration::from_millis(5));
        let (t1, i1) = (read(), Instant::now());
        let ticks = t1.checked_sub(t0)? as f64;
        let scale = i1.duration_since(i0).as_nanos() as f64 / ticks;
        // A counter between 100 MHz and 20 GHz; anything else is not a clock to trust.
        (0.05..=10.0).contains(&scale).then_some(scale)
    }

    #[cfg(not(all(target_arch = "x86_64", target_os = "linux")))]
    fn tsc_scale() -> Option<f64> {
        None
    }
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

    /// One measured function: its descriptor, its bound instruments (once a pipeline exists)
    /// and its slow-call WARN rate limit.
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

        #[cold]
        fn resolve(&'static self) -> Option<&'static Resolved> {
            let p = PIPELINE.get()?;
            Some(self.resolved.get_or_init(|| Resolved::new(&self.desc, p)))
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
        caller: Option<&'static Function>,
        clock: &'static clock::Clock,
        start: u64,
        restore: bool,
        /// Whether the concurrency gauge was raised for this call.
        in_flight: bool,
        done: bool,
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
            let mut in_flight = false;
            if function.desc.concurrency {
                if let Some(g) = function.resolved().and_then(|r| r.concurrent.as_ref()) {
                    g.add(1);
                    in_flight = true;
                }
            }
            let clock = clock::get();
            Call {
                function,
                caller,
                clock,
                start: clock.now(),
                restore,
                in_flight,
                done: false,
            }
        }

        /// The call returned: records it (`error` from the returned value) and, if it was slow,
        /// marks its trace (`span`, or the current span) and says whether to log the WARN.
        #[inline]
        pub fn finish(mut self, error: bool, span: Option<&tracing::Span>) -> Option<SlowCall> {
            let seconds = self.clock.seconds(self.start, self.clock.now());
            self.done = true;
            self.record(seconds, error, span);
            match self.function.desc.slow {
                Some(threshold) if seconds >= threshold.as_secs_f64() => {
                    self.function.slow(seconds, threshold, span)
                }
                _ => None,
            }
        }

        /// Records the call; its exemplar comes from `span` (else the current span) if that
        /// trace is sampled.
        #[inline]
        fn record(&mut self, seconds: f64, error: bool, span: Option<&tracing::Span>) {
            if let Some(r) = self.function.resolved() {
                r.duration.record(seconds);
                if let Some(exemplars) = &r.exemplars {
                    exemplars.keep(seconds, exemplar_span(span), false);
                }
                r.count(self.caller, error);
                if self.in_flight {
                    self.leave();
                }
            }
        }

        fn leave(&mut self) {
            if std::mem::take(&mut self.in_flight) {
                if let Some(g) = self.function.resolved().and_then(|r| r.concurrent.as_ref()) {
                    g.add(-1);
                }
            }
        }

        /// Dropped before `finish`: a panic (counted as an error) or a future dropped before it
        /// completed (not counted).
        #[cold]
        fn unfinished(&mut self) {
            if std::thread::panicking() {
                self.record(self.clock.seconds(self.start, self.clock.now()), true, None);
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
            if !self.done {
                self.unfinished();
            }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_call_clock_measures_what_instant_measures() {
        let clock = super::clock::get();
        let (start, instant) = (clock.now(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let ours = clock.seconds(start, clock.now());
        let theirs = instant.elapsed().as_secs_f64();
        assert!(ours >= 0.019, "{ours} s for a 20 ms sleep");
        assert!(
            (ours - theirs).abs() < 0.01 + theirs * 0.01,
            "{ours} vs {theirs}"
        );
        assert_eq!(
            clock.seconds(10, 5),
            0.0,
            "a counter that went back reads zero"
        );
    }
}
