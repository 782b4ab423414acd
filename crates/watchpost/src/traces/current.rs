//! The current span's ids without a span lookup: what an exemplar asks on every measurement.
//!
//! Through `tracing`, "the current span's trace id, span id and sampled flag" is the default
//! dispatcher, a downcast to the registry, its per-thread span stack, the span's slot in its slab
//! (a reference count taken and dropped), a read lock on its extensions and a type-map lookup:
//! ~500 instructions, paid by every measurement of a histogram that keeps exemplars (a
//! `#[measured]` function, a user histogram) even when the answer is "not sampled, no exemplar".
//!
//! The bridge of a pipeline that exports traces keeps two things instead:
//! - a **per-thread stack** of the spans it has entered on this thread (pushed in `on_enter`,
//!   removed in `on_exit`; at most [`DEPTH`] deep, deeper spans are counted and answered by the
//!   lookup), and
//! - a **process-wide table** from a span's `tracing` id (and the bridge's tag, as ids are per
//!   subscriber) to its trace id, span id and sampled flag, written when the span is made (and
//!   again when [`set_parent`](super::set_parent) changes its trace), cleared in the bridge's
//!   `on_close` — before the registry frees the id for reuse, so an entry that names a live span
//!   is that span's. Two spans whose ids share an entry evict each other: the one evicted is
//!   answered by the lookup ([`Current::Unknown`]).
//!
//! A measurement reads the top of its thread's stack and one table entry (a sequence lock: no
//! lock, no wait, no allocation). The cost moves to the bridge: a table write per span made, a
//! clear per span closed, a push and a pop per enter and exit — only in pipelines that export
//! traces.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::util::SeqLock;

use super::SpanIds;

/// Spans entered on one thread that the stack holds; deeper ones are counted only.
pub(crate) const DEPTH: usize = 32;
/// Table entries (a power of two): spans alive at once that are answered without a lookup, at
/// best (48 bytes each: 192 KiB of zeroed static memory, touched as entries are written).
const ENTRIES: usize = 4096;
/// The sampled flag in a table entry's tag word.
const SAMPLED: u32 = 1 << 31;
/// The duplicate flag in a stack entry's tag (a span entered again while on the stack).
const DUPLICATE: u32 = 1 << 31;

/// What [`current`] knows of the innermost span entered on this thread.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Current {
    /// No span of an exporting pipeline is entered here.
    None,
    /// The innermost entered span's ids.
    Ids(SpanIds),
    /// Not known here (the entry was evicted, or the stack overflowed): look the span up.
    Unknown,
}

/// A new tag for a bridge that exports traces (never 0).
pub(crate) fn new_tag() -> u32 {
    static NEXT: AtomicU32 = AtomicU32::new(1);
    // 2^31 bridges before a tag repeats; the sampled bit stays free.
    (NEXT.fetch_add(1, Ordering::Relaxed) & !SAMPLED).max(1)
}

/// Notes span `id`'s ids (bridge `tag`): when it is made, and when its trace changes. Left
/// out if another span's write holds the entry (the span is then answered by the lookup).
#[inline]
pub(crate) fn made(tag: u32, id: u64, ids: &SpanIds) {
    let [hi, lo] = crate::util::id_words(ids.trace_id);
    let sampled = if ids.sampled { SAMPLED } else { 0 };
    entry(tag, id).write(&[
        u64::from(tag | sampled),
        id,
        hi,
        lo,
        u64::from_ne_bytes(ids.span_id),
    ]);
}

/// Forgets span `id` (bridge `tag`): it is closing, and its id may be reused once it is gone.
/// If another span's write holds the entry, or took it since, this span is gone from it anyway.
#[inline]
pub(crate) fn closed(tag: u32, id: u64) {
    entry(tag, id).write_if(|now| is(now, tag, id), &[0; 5]);
}

/// Whether an entry's words are span `id`'s (bridge `tag`).
#[inline]
fn is(words: &[u64; 5], tag: u32, id: u64) -> bool {
    words[1] == id && words[0] as u32 & !SAMPLED == tag
}

/// Span `id` (bridge `tag`) is entered on this thread. Entered again while it is on the stack
/// already, it is marked a duplicate, which is not current (as `tracing-subscriber`'s registry
/// has it: re-entering a span does not make it current again).
#[inline]
pub(crate) fn entered(tag: u32, id: u64) {
    let _ = STACK.try_with(|st| {
        let len = st.len.get() as usize;
        match st.spans.get(len) {
            Some(slot) if st.deeper.get() == 0 => {
                let again = st.spans[..len]
                    .iter()
                    .any(|e| e.get() == (tag, id) || e.get() == (tag | DUPLICATE, id));
                slot.set((if again { tag | DUPLICATE } else { tag }, id));
                st.len.set(len as u32 + 1);
            }
            _ => st.deeper.set(st.deeper.get() + 1),
        }
    });
}

/// Span `id` (bridge `tag`) is exited on this thread: its innermost entry is removed (spans may
/// be exited out of order). Beyond [`DEPTH`], a span not on the stack is one of the counted
/// ones; while any are, [`current`] answers `Unknown`.
#[inline]
pub(crate) fn exited(tag: u32, id: u64) {
    let _ = STACK.try_with(|st| {
        let len = (st.len.get() as usize).min(DEPTH);
        let spans = &st.spans[..len];
        let found = spans
            .iter()
            .rposition(|e| e.get() == (tag, id) || e.get() == (tag | DUPLICATE, id));
        match found {
            Some(i) => {
                for k in i..len - 1 {
                    spans[k].set(spans[k + 1].get());
                }
                st.len.set(len as u32 - 1);
            }
            None => st.deeper.set(st.deeper.get().saturating_sub(1)),
        }
    });
}

/// The innermost span of bridge `tag` entered on this thread (not a duplicate), as far as this
/// module knows it: spans of other pipelines are skipped (their traces are not this pipeline's).
#[inline]
pub(crate) fn current(tag: u32) -> Current {
    let top = STACK
        .try_with(|st| {
            if st.deeper.get() > 0 {
                return Err(());
            }
            let len = (st.len.get() as usize).min(DEPTH);
            Ok(st.spans[..len]
                .iter()
                .rev()
                .map(Cell::get)
                .find(|e| e.0 == tag))
        })
        .unwrap_or(Err(()));
    match top {
        Ok(None) => Current::None,
        Ok(Some((tag, id))) => read(tag, id).map_or(Current::Unknown, Current::Ids),
        Err(()) => Current::Unknown,
    }
}

/// Span `id`'s ids (bridge `tag`) if its entry holds them.
#[inline]
fn read(tag: u32, id: u64) -> Option<SpanIds> {
    let words = entry(tag, id).read(4)?;
    if !is(&words, tag, id) {
        return None;
    }
    let [flags, _, hi, lo, span_id] = words;
    Some(SpanIds {
        trace_id: crate::util::id_bytes([hi, lo]),
        span_id: span_id.to_ne_bytes(),
        sampled: flags as u32 & SAMPLED != 0,
    })
}

/// The spans entered on one thread: a fixed array of cells (no allocation, no destructor to
/// register, no borrow flag: a push or a pop is a few loads and stores).
struct Stack {
    /// (bridge tag, span id), innermost at `len - 1`.
    spans: [Cell<(u32, u64)>; DEPTH],
    len: Cell<u32>,
    /// Spans entered while `spans` was full, not exited yet.
    deeper: Cell<u32>,
}

thread_local! {
    static STACK: Stack = const {
        Stack {
            spans: [const { Cell::new((0, 0)) }; DEPTH],
            len: Cell::new(0),
            deeper: Cell::new(0),
        }
    };
}

/// The table: zeroed static memory, so a page is touched only once an entry on it is written.
/// An entry's words: the bridge's tag with [`SAMPLED`], the span's `tracing` id (0: empty), the
/// trace id's two halves, the span id.
static TABLE: [SeqLock<5>; ENTRIES] = [const { SeqLock::new() }; ENTRIES];

#[inline]
fn entry(tag: u32, id: u64) -> &'static SeqLock<5> {
    let h = (id ^ (u64::from(tag) << 40)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    &TABLE[(h >> (64 - ENTRIES.trailing_zeros())) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: u8, sampled: bool) -> SpanIds {
        SpanIds {
            trace_id: [n; 16],
            span_id: [n; 8],
            sampled,
        }
    }

    /// Runs `f` on a thread of its own (a fresh stack).
    fn on_a_new_thread(f: impl FnOnce() + Send + 'static) {
        std::thread::spawn(f).join().unwrap();
    }

    #[test]
    fn the_innermost_entered_span_is_current() {
        on_a_new_thread(|| {
            let tag = new_tag();
            made(tag, 11, &ids(1, true));
            made(tag, 12, &ids(2, false));
            assert!(matches!(current(tag), Current::None));
            entered(tag, 11);
            assert!(matches!(current(tag), Current::Ids(i) if i.trace_id == [1; 16] && i.sampled));
            entered(tag, 12);
            assert!(matches!(current(tag), Current::Ids(i) if i.span_id == [2; 8] && !i.sampled));
            exited(tag, 12);
            assert!(matches!(current(tag), Current::Ids(i) if i.span_id == [1; 8]));
            exited(tag, 11);
            assert!(matches!(current(tag), Current::None));
        });
    }

    #[test]
    fn a_closed_span_is_forgotten_and_its_reused_id_is_not_mistaken_for_it() {
        on_a_new_thread(|| {
            let tag = new_tag();
            made(tag, 21, &ids(3, true));
            closed(tag, 21);
            // The id comes back for another span, made elsewhere (no entry written: evicted).
            entered(tag, 21);
            assert!(matches!(current(tag), Current::Unknown));
            exited(tag, 21);
        });
    }

    #[test]
    fn a_changed_trace_replaces_the_entry() {
        on_a_new_thread(|| {
            let tag = new_tag();
            made(tag, 31, &ids(4, false));
            made(tag, 31, &ids(5, true));
            entered(tag, 31);
            assert!(matches!(current(tag), Current::Ids(i) if i.trace_id == [5; 16] && i.sampled));
            exited(tag, 31);
        });
    }

    #[test]
    fn another_bridges_span_with_the_same_id_is_not_this_one() {
        on_a_new_thread(|| {
            let (a, b) = (new_tag(), new_tag());
            made(a, 41, &ids(6, true));
            closed(b, 41); // not a's: a's entry stays
            entered(b, 41);
            assert!(matches!(current(b), Current::Unknown));
            exited(b, 41);
            entered(a, 41);
            assert!(matches!(current(a), Current::Ids(i) if i.trace_id == [6; 16]));
            exited(a, 41);
            closed(a, 41);
        });
    }

    #[test]
    fn a_span_entered_again_does_not_become_current_again() {
        on_a_new_thread(|| {
            let tag = new_tag();
            made(tag, 61, &ids(9, true));
            made(tag, 62, &ids(10, true));
            entered(tag, 61);
            entered(tag, 62);
            entered(tag, 61); // as the registry has it: 62 stays current
            assert!(matches!(current(tag), Current::Ids(i) if i.span_id == [10; 8]));
            exited(tag, 61);
            exited(tag, 62);
            assert!(matches!(current(tag), Current::Ids(i) if i.span_id == [9; 8]));
            exited(tag, 61);
            assert!(matches!(current(tag), Current::None));
        });
    }

    #[test]
    fn another_pipelines_spans_are_skipped() {
        on_a_new_thread(|| {
            let (p, q) = (new_tag(), new_tag());
            made(p, 71, &ids(11, true));
            made(q, 72, &ids(12, true));
            entered(p, 71);
            entered(q, 72);
            assert!(matches!(current(p), Current::Ids(i) if i.span_id == [11; 8]));
            assert!(matches!(current(q), Current::Ids(i) if i.span_id == [12; 8]));
            exited(q, 72);
            exited(p, 71);
            assert!(matches!(current(q), Current::None));
        });
    }

    #[test]
    fn a_span_exited_out_of_order_beyond_the_bound_leaves_nothing_stale() {
        on_a_new_thread(|| {
            let tag = new_tag();
            made(tag, 80, &ids(13, true));
            entered(tag, 80);
            for id in 0..DEPTH as u64 + 2 {
                entered(tag, 2000 + id);
            }
            exited(tag, 80); // out of order, while deeper spans are counted
            for id in (0..DEPTH as u64 + 2).rev() {
                exited(tag, 2000 + id);
            }
            assert!(
                matches!(current(tag), Current::None),
                "80 is not current any more"
            );
            STACK.with(|st| assert_eq!((st.len.get(), st.deeper.get()), (0, 0)));
        });
    }

    #[test]
    fn spans_exited_out_of_order_leave_the_right_one_current() {
        on_a_new_thread(|| {
            let tag = new_tag();
            made(tag, 51, &ids(7, true));
            made(tag, 52, &ids(8, true));
            entered(tag, 51);
            entered(tag, 52);
            exited(tag, 51);
            assert!(matches!(current(tag), Current::Ids(i) if i.span_id == [8; 8]));
            exited(tag, 52);
            assert!(matches!(current(tag), Current::None));
        });
    }

    #[test]
    fn a_stack_deeper_than_its_bound_is_answered_by_the_lookup_until_it_unwinds() {
        on_a_new_thread(|| {
            let tag = new_tag();
            for id in 0..DEPTH as u64 + 3 {
                entered(tag, 1000 + id);
            }
            assert!(matches!(current(tag), Current::Unknown));
            for id in (0..DEPTH as u64 + 3).rev() {
                exited(tag, 1000 + id);
            }
            assert!(matches!(current(tag), Current::None));
            STACK.with(|st| assert_eq!((st.len.get(), st.deeper.get()), (0, 0)));
        });
    }
}
