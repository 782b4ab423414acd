//! The panic hook: one JSON ERROR line per panic, through the pipeline, counted.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::Telemetry;
use crate::logs::{LogHandle, NonBlocking};

/// Set by the first hook installed: a second install does nothing.
static INSTALLED: AtomicBool = AtomicBool::new(false);

impl Telemetry {
    /// Installs a process-wide panic hook that writes each panic as one JSON ERROR line through
    /// the pipeline, instead of plain text on stderr: `msg` `"panicked"`, the panic message in
    /// `panic`, `location` (`file:line:column`), `thread`, and a `backtrace` field when
    /// `RUST_BACKTRACE` asks for one (`1` or `full`). The line is an event of the panicking
    /// thread's current span, so it carries that trace's ids (and the span's fields, and its
    /// resource's log file); it is counted in `<svc>_panics_total`. A panic in a request handler
    /// under [`HttpLayer`](crate::http::HttpLayer) is this one line too (the request span's
    /// fields are on it): the layer, which answers the request 500 and counts it in
    /// `<svc>_http_panics_total`, writes its own ERROR line only for a panic the hook did not
    /// write (no hook installed, or the panic happened inside the pipeline itself).
    ///
    /// The line is flushed out of the pipeline's background writer before the hook returns
    /// (at most 250 ms; 2 s in a program built with `panic = "abort"`, which ends right after
    /// the hook, so that the line is out before the process is gone).
    ///
    /// The previous hook (Rust's default: text on stderr) is replaced; it still runs when the
    /// line may not have been written — no subscriber could take it (none is installed, or the
    /// panic happened inside the subscriber itself), the log buffer was full, the writer failed,
    /// or the flush did not finish in time — and always in a program built with
    /// `panic = "abort"`, so no panic goes unsaid. To keep it for every panic (a crash reporter
    /// of its own), use [`install_panic_hook_chained`](Self::install_panic_hook_chained).
    ///
    /// [`init`](crate::init) does not install it: a panic hook is process-wide, and the
    /// application decides. Only the first call in a process installs a hook.
    ///
    /// ```no_run
    /// let config = watchpost::Config::builder("demo").from_env().build().unwrap();
    /// let telemetry = watchpost::init(config).unwrap();
    /// telemetry.install_panic_hook();
    /// ```
    pub fn install_panic_hook(&self) {
        install(self.sink(), false);
    }

    /// Like [`install_panic_hook`](Self::install_panic_hook), then runs the hook that was
    /// installed before (Rust's default prints the panic on stderr as well).
    ///
    /// ```no_run
    /// let config = watchpost::Config::builder("demo").from_env().build().unwrap();
    /// let telemetry = watchpost::init(config).unwrap();
    /// telemetry.install_panic_hook_chained();
    /// ```
    pub fn install_panic_hook_chained(&self) {
        install(self.sink(), true);
    }

    fn sink(&self) -> Sink {
        Sink {
            panics: self.inner.panics.clone(),
            logs: self.inner.logs.clone(),
            writer: self.inner.log_writer.clone(),
        }
    }
}

/// Where the hook's lines go, and what says whether one got out.
struct Sink {
    panics: Arc<AtomicU64>,
    /// Lines lost (`log_write_errors`): a loss while the hook writes means its line may be one.
    logs: LogHandle,
    /// The pipeline's background writer, flushed after the line.
    writer: Option<NonBlocking>,
}

impl Sink {
    /// Writes the panic's line: whether a subscriber took it, and whether it is known to be
    /// out (taken, through the background writer within `flush`, no line lost meanwhile).
    fn write(&self, panicked: &crate::internal::Panicked<'_>, flush: Duration) -> (bool, bool) {
        let lost = self.logs.self_stats().log_write_errors;
        if !panicked.emit(&self.panics) {
            return (false, false);
        }
        let flushed = self.writer.as_ref().is_none_or(|w| w.flush(flush));
        (
            true,
            flushed && self.logs.self_stats().log_write_errors == lost,
        )
    }
}

/// How long the hook waits for its line to be written: the process ends right after the hook
/// when panics abort; otherwise the flush only tells whether the line got out (and a stalled
/// log reader must not hold every panicking thread long).
const FLUSH: Duration = if cfg!(panic = "abort") {
    Duration::from_secs(2)
} else {
    Duration::from_millis(250)
};

fn install(sink: Sink, chain: bool) {
    if INSTALLED.swap(true, Ordering::AcqRel) {
        return;
    }
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let location = info.location().map_or_else(
            || "unknown".to_string(),
            |l| format!("{}:{}:{}", l.file(), l.line(), l.column()),
        );
        let thread = std::thread::current();
        let backtrace = backtrace();
        let panicked = crate::internal::Panicked {
            message,
            location: &location,
            thread: thread.name().unwrap_or("<unnamed>"),
            backtrace: backtrace.as_deref(),
        };
        let (taken, written) = sink.write(&panicked, FLUSH);
        // For a catcher on this thread that would log the panic too (`HttpLayer`): its line
        // would take the same way as this one.
        crate::internal::PanicLine::set(taken);
        // With `panic = "abort"` the process ends next: say it on stderr as well.
        if chain || !written || cfg!(panic = "abort") {
            previous(info);
        }
    }));
}

/// The panicking thread's backtrace, when `RUST_BACKTRACE` asks for one as Rust's own hook reads
/// it: unset or `0` means none, `full` every frame, anything else the short form.
fn backtrace() -> Option<String> {
    let wanted = std::env::var_os("RUST_BACKTRACE")?;
    if wanted == "0" {
        return None;
    }
    let trace = std::backtrace::Backtrace::force_capture();
    if wanted == "full" {
        return Some(format!("{trace:#}"));
    }
    Some(short(&trace.to_string()))
}

/// The frames that matter, as Rust's own short backtrace has them: from the panic's entry into
/// the runtime (`rust_begin_unwind`; the hook's own frames before it are left out) to the frame
/// below `__rust_begin_short_backtrace` (the thread's start-up after it is left out). Unchanged
/// when the markers are missing (no symbols).
fn short(trace: &str) -> String {
    // A frame starts with a line `  <n>: <function>`; its `at <file>` lines follow.
    let mut frames: Vec<&str> = Vec::new();
    let mut start = 0;
    for (i, _) in trace.match_indices('\n') {
        let next = &trace[i + 1..];
        let head = next.trim_start();
        let numbered = head
            .split_once(": ")
            .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if numbered {
            frames.push(&trace[start..=i]);
            start = i + 1;
        }
    }
    frames.push(&trace[start..]);
    let first = frames.iter().position(|f| f.contains("rust_begin_unwind"));
    let last = frames
        .iter()
        .position(|f| f.contains("__rust_begin_short_backtrace"));
    match first {
        Some(first) => {
            let end = last.filter(|l| *l > first).unwrap_or(frames.len());
            frames[first..end].concat().trim_end().to_string()
        }
        None => trace.trim_end().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn the_short_backtrace_keeps_the_frames_between_the_markers() {
        let trace = "   0: watchpost::telemetry::panic::backtrace\n             at ./src/telemetry/panic.rs:89:17\n   1: std::panicking::panic_with_hook\n   2: __rustc::rust_begin_unwind\n             at /rustc/std/src/panicking.rs:689:5\n   3: app::work\n             at ./src/main.rs:3:5\n   4: std::sys::backtrace::__rust_begin_short_backtrace\n   5: std::thread::start\n";
        assert_eq!(
            short(trace),
            "   2: __rustc::rust_begin_unwind\n             at /rustc/std/src/panicking.rs:689:5\n   3: app::work\n             at ./src/main.rs:3:5"
        );
        assert_eq!(short("no symbols\n"), "no symbols");
    }
}
