//! Values the HTTP server layer hands to the log layer and the trace bridge typed, alongside
//! its request span and access line.
//!
//! Through `tracing` alone, each value of a span or an event reaches every layer one by one
//! through a visitor: a dynamic call, a mask test and a name match per field, and for the trace
//! bridge a `String` per text value. The request span (thirteen fields) and the access line
//! (nine) are made once per request, so the HTTP layer also *stages* their values in a
//! per-thread slot just before it makes them ([`stage_span`], [`stage_line`]). A layer that
//! sees that callsite takes the values from the slot ([`take_span_for_logs`],
//! [`take_span_for_trace`], [`take_line`]) and writes exactly what its visitor would. The span
//! and the event are made as before, so any other layer sees every field.
//!
//! Each staged value is taken once per consumer; [`clear`] (right after the span or event, also
//! on a panic) drops what no layer took (a level that filters it out, another subscriber). The
//! visitors stay the reference, and tests compare both paths' output: the log layer falls back
//! to its visitor when the configuration names one of the fields as a secret or a resource id
//! (or, for the line, uses a reserved name); the bridge redacts the secret ones itself, with a
//! mask decided once.

use std::cell::RefCell;

/// The access line's values, as the HTTP layer passes them to its event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AccessValues<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) status: u16,
    pub(crate) bytes: u64,
    pub(crate) duration_ms: f64,
    pub(crate) remote_addr: Option<&'a str>,
    pub(crate) request_id: &'a str,
    pub(crate) complete: bool,
}

impl AccessValues<'_> {
    /// Whether the request failed (a 5xx): the line is a WARN, "request failed".
    pub(crate) fn failed(&self) -> bool {
        (500..600).contains(&self.status)
    }

    /// The line's message.
    pub(crate) fn msg(&self) -> &'static str {
        if self.failed() {
            "request failed"
        } else {
            "request handled"
        }
    }
}

/// The request span's values, as the HTTP layer passes them to its span.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SpanValues<'a> {
    pub(crate) subsystem: &'a str,
    /// A standard method, or `_OTHER`.
    pub(crate) method: &'static str,
    /// The method as sent, when `method` is `_OTHER`.
    pub(crate) method_original: Option<&'a str>,
    pub(crate) route: &'a str,
    pub(crate) client_ip: Option<&'a str>,
    pub(crate) client_port: Option<u16>,
    pub(crate) request_id: &'a str,
}

/// The staged values, owned: the strings' buffers are reused (no allocation in steady state).
#[derive(Default)]
struct Slot {
    line_pending: bool,
    method: String,
    path: String,
    status: u16,
    bytes: u64,
    duration_ms: f64,
    remote_addr: String,
    has_remote_addr: bool,
    request_id: String,
    complete: bool,

    span_for_logs: bool,
    span_for_trace: bool,
    subsystem: String,
    span_method: &'static str,
    method_original: String,
    has_method_original: bool,
    route: String,
    client_ip: String,
    has_client_ip: bool,
    client_port: Option<u16>,
    span_request_id: String,
}

thread_local! {
    static SLOT: RefCell<Slot> = RefCell::new(Slot::default());
}

/// `to` holds `from`, reusing its buffer.
fn copy(to: &mut String, from: &str) {
    to.clear();
    to.push_str(from);
}

/// `to` holds `from` (the buffer kept when there is none); whether there is one.
fn copy_opt(to: &mut String, from: Option<&str>) -> bool {
    copy(to, from.unwrap_or_default());
    from.is_some()
}

/// Stages the values of the access line the caller emits next, on this thread.
pub(crate) fn stage_line(v: &AccessValues<'_>) {
    SLOT.with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        let s = &mut *s;
        copy(&mut s.method, v.method);
        copy(&mut s.path, v.path);
        copy(&mut s.request_id, v.request_id);
        s.has_remote_addr = copy_opt(&mut s.remote_addr, v.remote_addr);
        s.status = v.status;
        s.bytes = v.bytes;
        s.duration_ms = v.duration_ms;
        s.complete = v.complete;
        s.line_pending = true;
    });
}

/// Stages the values of the request span the caller makes next, on this thread.
pub(crate) fn stage_span(v: &SpanValues<'_>) {
    SLOT.with(|s| {
        let Ok(mut s) = s.try_borrow_mut() else {
            return;
        };
        let s = &mut *s;
        copy(&mut s.subsystem, v.subsystem);
        s.span_method = v.method;
        s.has_method_original = copy_opt(&mut s.method_original, v.method_original);
        copy(&mut s.route, v.route);
        s.has_client_ip = copy_opt(&mut s.client_ip, v.client_ip);
        s.client_port = v.client_port;
        copy(&mut s.span_request_id, v.request_id);
        s.span_for_logs = true;
        s.span_for_trace = true;
    });
}

/// Clears the slot when dropped: what the caller staged is gone after its span or event, even
/// if a layer panicked.
#[must_use = "the slot is cleared when the guard is dropped"]
pub(crate) struct ClearOnDrop;

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        clear();
    }
}

/// Drops staged values no layer took.
pub(crate) fn clear() {
    SLOT.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut() {
            s.line_pending = false;
            s.span_for_logs = false;
            s.span_for_trace = false;
        }
    });
}

/// Calls `f` with the staged access line, if one is staged (and marks it taken).
pub(crate) fn take_line<R>(f: impl FnOnce(&AccessValues<'_>) -> R) -> Option<R> {
    SLOT.with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        if !std::mem::take(&mut s.line_pending) {
            return None;
        }
        Some(f(&AccessValues {
            method: &s.method,
            path: &s.path,
            status: s.status,
            bytes: s.bytes,
            duration_ms: s.duration_ms,
            remote_addr: s.has_remote_addr.then_some(s.remote_addr.as_str()),
            request_id: &s.request_id,
            complete: s.complete,
        }))
    })
}

/// Calls `f` with the staged request span, if one is staged for the log layer (and marks it
/// taken by it).
pub(crate) fn take_span_for_logs<R>(f: impl FnOnce(&SpanValues<'_>) -> R) -> Option<R> {
    take_span(|s| &mut s.span_for_logs, f)
}

/// Calls `f` with the staged request span, if one is staged for the trace bridge (and marks it
/// taken by it).
pub(crate) fn take_span_for_trace<R>(f: impl FnOnce(&SpanValues<'_>) -> R) -> Option<R> {
    take_span(|s| &mut s.span_for_trace, f)
}

fn take_span<R>(
    flag: impl FnOnce(&mut Slot) -> &mut bool,
    f: impl FnOnce(&SpanValues<'_>) -> R,
) -> Option<R> {
    SLOT.with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        if !std::mem::take(flag(&mut s)) {
            return None;
        }
        Some(f(&SpanValues {
            subsystem: &s.subsystem,
            method: s.span_method,
            method_original: s.has_method_original.then_some(s.method_original.as_str()),
            route: &s.route,
            client_ip: s.has_client_ip.then_some(s.client_ip.as_str()),
            client_port: s.client_port,
            request_id: &s.span_request_id,
        }))
    })
}

/// Whether staged values wait for a layer to take them.
#[cfg(test)]
pub(crate) fn pending() -> bool {
    SLOT.with(|s| {
        let s = s.borrow();
        s.line_pending || s.span_for_logs || s.span_for_trace
    })
}

#[cfg(test)]
thread_local! {
    static TAKEN: std::cell::Cell<[u32; 3]> = const { std::cell::Cell::new([0; 3]) };
}

/// What the layers wrote from staged values on this thread: lines, spans by the log layer,
/// spans by the trace bridge.
#[cfg(test)]
pub(crate) fn taken() -> [u32; 3] {
    TAKEN.with(|t| t.get())
}

/// Counts a staged value written (`which` as in [`taken`]); nothing outside tests.
#[inline]
pub(crate) fn count_taken(which: usize) {
    #[cfg(test)]
    TAKEN.with(|t| {
        let mut v = t.get();
        v[which] += 1;
        t.set(v);
    });
    #[cfg(not(test))]
    let _ = which;
}
