//! The clock of measured calls: the CPU's time-stamp counter when the kernel keeps time with it
//! (`clocksource` `tsc`: invariant and synchronized across CPUs), read in a few nanoseconds;
//! otherwise `Instant`. Calibrated once against `Instant` (5 ms, when the first pipeline is
//! built, or at the first call before that).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Ticks to nanoseconds: `ns = ticks * mult >> SHIFT`.
const SHIFT: u32 = 32;

pub(super) struct Clock {
    /// Whether ticks are the time-stamp counter's; else `Instant` nanoseconds since `epoch`.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    tsc: bool,
    /// Nanoseconds per tick, fixed point (`SHIFT` fractional bits): one multiplication per call.
    mult: u64,
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

    /// Nanoseconds from tick `start` to tick `end` (zero if the counter went back: a task that
    /// moved to a CPU a few ticks behind).
    #[inline]
    pub(super) fn nanos(&self, start: u64, end: u64) -> u64 {
        ((u128::from(end.saturating_sub(start)) * u128::from(self.mult)) >> SHIFT) as u64
    }
}

/// Seconds in `ns` nanoseconds (correctly rounded: a bucket bound's nanoseconds give the
/// bound's own `f64`, so a value and its exemplar fall in the same bucket).
#[inline]
pub(super) fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn calibrate() -> Clock {
    let epoch = Instant::now();
    let ns_per_tick = tsc_scale();
    Clock {
        tsc: ns_per_tick.is_some(),
        mult: (ns_per_tick.unwrap_or(1.0) * (1u64 << SHIFT) as f64).round() as u64,
        epoch,
    }
}

#[cfg(all(target_arch = "x86_64", target_os = "linux"))]
fn tsc_scale() -> Option<f64> {
    let source =
        std::fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    fn the_call_clock_measures_what_instant_measures() {
        let clock = super::get();
        let (start, instant) = (clock.now(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(20));
        let ours = super::seconds(clock.nanos(start, clock.now()));
        let theirs = instant.elapsed().as_secs_f64();
        assert!(ours >= 0.019, "{ours} s for a 20 ms sleep");
        assert!(
            (ours - theirs).abs() < 0.01 + theirs * 0.01,
            "{ours} vs {theirs}"
        );
        assert_eq!(clock.nanos(10, 5), 0, "a counter that went back reads zero");
    }

    #[test]
    fn a_bounds_nanoseconds_read_as_the_bounds_own_seconds() {
        for b in crate::catalogue::buckets::FUNCTION_SECONDS {
            let ns = (b * 1e9).round() as u64;
            assert_eq!(super::seconds(ns), *b);
            assert!(super::seconds(ns + 1) > *b);
        }
    }
}
