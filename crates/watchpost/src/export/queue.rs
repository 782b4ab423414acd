//! The bounded per-signal queue between the application's threads and the export worker.

use std::sync::atomic::Ordering;
use std::sync::Mutex;

/// A bounded queue that wakes its consumer only when a batch is ready (not per item: a wake-up
/// per span was a context switch per request).
#[derive(Debug)]
pub(crate) struct BatchQueue<T> {
    items: Mutex<std::collections::VecDeque<T>>,
    capacity: usize,
    /// The length at which the worker is woken: a batch, or what ordinary items can reach.
    signal_at: usize,
    pub(super) ready: tokio::sync::Notify,
    /// Set at shutdown ([`BatchQueue::close`]): later items are dropped and counted.
    closed: std::sync::atomic::AtomicBool,
}

impl<T> BatchQueue<T> {
    pub(super) fn new(capacity: usize, batch: usize) -> Self {
        Self {
            items: Mutex::new(std::collections::VecDeque::with_capacity(batch)),
            capacity,
            signal_at: batch.min(Self::ordinary_limit(capacity)).max(1),
            ready: tokio::sync::Notify::new(),
            closed: std::sync::atomic::AtomicBool::new(false),
        }
    }

    pub(super) fn ordinary_limit(capacity: usize) -> usize {
        capacity - capacity / 4
    }

    /// Adds an item; `false` (item dropped) if the queue is full. Ordinary items fill at most
    /// three quarters of it: the last quarter is kept for important ones (spans of error and
    /// slow traces, WARN and ERROR log records), so that a flood of ordinary telemetry at
    /// saturation does not push out the data an operator needs most.
    pub(super) fn push(&self, item: T, important: bool) -> bool {
        if self.closed.load(Ordering::Relaxed) {
            return false;
        }
        let limit = if important {
            self.capacity
        } else {
            Self::ordinary_limit(self.capacity)
        };
        let len = {
            let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
            // Checked again under the lock: an item that passed the check above while the
            // queue was being closed is refused here, not left behind the worker's last take.
            if q.len() >= limit || self.closed.load(Ordering::Relaxed) {
                return false;
            }
            q.push_back(item);
            q.len()
        };
        if len == self.signal_at {
            self.ready.notify_one();
        }
        true
    }

    /// Refuses every later item; `true` if it was open. Under the queue's lock, so that every
    /// item accepted before is in the queue when the worker takes it for the last time.
    pub(super) fn close(&self) -> bool {
        let _q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        !self.closed.swap(true, Ordering::Relaxed)
    }

    /// The length at which the worker is woken (a batch, or what ordinary items can reach).
    pub(super) fn signal_at(&self) -> usize {
        self.signal_at
    }

    /// Whether a batch is waiting (the worker is not signalled again while it stays above).
    #[cfg(test)]
    fn has_batch(&self) -> bool {
        self.len() >= self.signal_at
    }

    /// Moves everything queued into `into`: the application's threads never wait behind the
    /// worker (a swap of two buffers under the lock, whatever their length — the worker may be
    /// a low-priority thread, and must not hold the lock long enough to be preempted with it).
    pub(super) fn take_all(&self, into: &mut std::collections::VecDeque<T>) {
        let mut q = self.items.lock().unwrap_or_else(|p| p.into_inner());
        if into.is_empty() {
            std::mem::swap(&mut *q, into);
        } else {
            into.extend(q.drain(..));
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::FutureExt as _;

    #[test]
    fn the_worker_is_signalled_even_when_a_batch_is_larger_than_ordinary_items_may_fill() {
        // Ordinary items stop at 75 of 100; a batch of 100 would never be reached by them.
        let q = BatchQueue::new(100, 100);
        for i in 0..80 {
            let accepted = q.push(i, false);
            assert_eq!(accepted, i < 75, "item {i}");
        }
        assert!(
            q.ready.notified().now_or_never().is_some(),
            "signalled at 75"
        );
        assert!(q.push(1000, true), "the reserve takes important items");
        assert!(q.has_batch());
    }

    #[test]
    fn a_closed_queue_refuses_items() {
        let q = BatchQueue::new(10, 2);
        assert!(q.push(1, false));
        assert!(q.close());
        assert!(!q.close(), "closed once");
        assert!(!q.push(2, true));
        let mut taken = std::collections::VecDeque::new();
        q.take_all(&mut taken);
        assert_eq!(taken, [1]);
    }
}
