//! Small helpers shared by the modules above: UTF-8 truncation, a per-thread cache, an
//! interner of names and a sequence lock.

use std::cell::RefCell;

/// The longest prefix of `s` of at most `max` bytes that ends at a character boundary, or
/// `None` if `s` is not longer than `max` (nothing to cut).
pub(crate) fn truncate_utf8(s: &str, max: usize) -> Option<&str> {
    if s.len() <= max {
        return None;
    }
    let mut at = max;
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    Some(&s[..at])
}

/// A per-thread, two-way set-associative cache from an address-like key to a small `Copy`
/// value, for hot-path verdicts computed once per callsite or field name. Entries carry the id of
/// their owner (a layer or redactor instance), so several pipelines in one process never share
/// verdicts. Use it in a `thread_local!`; a miss computes without holding the table.
pub(crate) struct TwoWayCache<K, V> {
    table: RefCell<Vec<Option<(u32, K, V)>>>,
}

impl<K: Copy + PartialEq, V: Copy> TwoWayCache<K, V> {
    /// A table of `slots` entries (a power of two).
    pub(crate) fn new(slots: usize) -> Self {
        debug_assert!(slots.is_power_of_two());
        TwoWayCache {
            table: RefCell::new(vec![None; slots]),
        }
    }

    /// The cached value for (`owner`, `key`), or `compute()`'s, which is then cached. `addr`
    /// chooses the bucket (the key's address: neighbours land apart).
    #[inline]
    pub(crate) fn get_or_insert(
        &self,
        owner: u32,
        addr: usize,
        key: K,
        compute: impl FnOnce() -> V,
    ) -> V {
        let slot = {
            let table = self.table.borrow();
            let slot = slot_of(addr, owner, table.len());
            let hit = [slot, slot ^ 1].into_iter().find_map(|i| match table[i] {
                Some((o, k, v)) if o == owner && k == key => Some(v),
                _ => None,
            });
            if let Some(v) = hit {
                return v;
            }
            slot
        };
        let v = compute();
        let mut table = self.table.borrow_mut();
        table[slot ^ 1] = table[slot];
        table[slot] = Some((owner, key, v));
        v
    }
}

/// Fibonacci hashing of an address (and an owner id) into `slots` (a power of two) buckets:
/// neighbouring addresses (short names stored back to back) land in different buckets.
#[inline]
fn slot_of(addr: usize, id: u32, slots: usize) -> usize {
    let h = (addr as u64 ^ ((id as u64) << 48)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    (h >> (64 - slots.trailing_zeros())) as usize
}

#[cfg(test)]
mod tests {
    use super::{truncate_utf8, TwoWayCache};

    #[test]
    fn the_cache_computes_once_per_owner_and_key_and_keeps_two_per_bucket() {
        let cache: TwoWayCache<usize, u32> = TwoWayCache::new(8);
        let mut computed = 0;
        for _ in 0..3 {
            for key in [16usize, 24] {
                cache.get_or_insert(1, key, key, || {
                    computed += 1;
                    key as u32
                });
            }
        }
        assert_eq!(computed, 2, "two keys, each computed once");
        // Another owner does not see owner 1's verdicts.
        assert_eq!(cache.get_or_insert(2, 16, 16, || 99), 99);
        assert_eq!(cache.get_or_insert(1, 16, 16, || 0), 16);
    }

    #[test]
    fn cuts_at_a_character_boundary_and_only_when_longer() {
        assert_eq!(truncate_utf8("abc", 3), None);
        assert_eq!(truncate_utf8("abcd", 3), Some("abc"));
        // "é" is two bytes: a cut inside it goes back to before it.
        assert_eq!(truncate_utf8("aé", 2), Some("a"));
        assert_eq!(truncate_utf8("🦀🦀", 5), Some("🦀"));
        assert_eq!(truncate_utf8("🦀", 0), Some(""));
    }
}

/// Names kept as `&'static str` for the life of the process (span field names must be), each
/// stored once, at most `max` of them.
#[derive(Debug)]
pub(crate) struct Interner {
    names: std::sync::Mutex<Vec<&'static str>>,
    max: usize,
}

impl Interner {
    pub(crate) const fn new(max: usize) -> Self {
        Interner {
            names: std::sync::Mutex::new(Vec::new()),
            max,
        }
    }

    /// `name` as a `&'static str`; `None` once `max` distinct names are stored.
    pub(crate) fn intern(&self, name: &str) -> Option<&'static str> {
        let mut names = self.names.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = names.iter().find(|n| **n == name) {
            return Some(n);
        }
        if names.len() >= self.max {
            return None;
        }
        let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.push(leaked);
        Some(leaked)
    }
}

/// `N` words written and read without a lock (a sequence lock, as crossbeam's `SeqLock` and the
/// kernel's seqcount: `seq` is odd while a write is in progress, 0 before the first). A writer
/// that finds another one mid-write gives up (the other's words are as new: nothing waits); a
/// reader retries a few times, then gives up too. For data written often and read rarely (an
/// exemplar per bucket) or read where a miss has a slower way (the current span's ids).
#[derive(Debug)]
pub(crate) struct SeqLock<const N: usize> {
    seq: std::sync::atomic::AtomicU32,
    words: [std::sync::atomic::AtomicU64; N],
}

impl<const N: usize> Default for SeqLock<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> SeqLock<N> {
    pub(crate) const fn new() -> Self {
        SeqLock {
            seq: std::sync::atomic::AtomicU32::new(0),
            words: [const { std::sync::atomic::AtomicU64::new(0) }; N],
        }
    }

    /// Writes `words`; `false` if another writer held the lock (nothing written).
    #[inline]
    pub(crate) fn write(&self, words: &[u64; N]) -> bool {
        use std::sync::atomic::Ordering;
        let s = self.seq.load(Ordering::Relaxed);
        s & 1 == 0 && self.write_from(s, words)
    }

    /// Writes `words` if the words there now satisfy `replace` (read without tearing: a write
    /// in between makes this one give up); `false` if nothing was written.
    #[inline]
    pub(crate) fn write_if(
        &self,
        replace: impl FnOnce(&[u64; N]) -> bool,
        words: &[u64; N],
    ) -> bool {
        use std::sync::atomic::Ordering;
        let s = self.seq.load(Ordering::Acquire);
        if s & 1 == 1 {
            return false;
        }
        let now: [u64; N] = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
        // The claim below fails if a write started since `s`: `now` was whole.
        replace(&now) && self.write_from(s, words)
    }

    #[inline]
    fn write_from(&self, s: u32, words: &[u64; N]) -> bool {
        use std::sync::atomic::{fence, Ordering};
        if self
            .seq
            .compare_exchange(s, s.wrapping_add(1), Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // Orders the odd `seq` before the data stores: without it a reader could see some new
        // words, yet the old, even `seq` on both sides of its reads, and return a mix.
        fence(Ordering::Release);
        for (w, v) in self.words.iter().zip(words) {
            w.store(*v, Ordering::Relaxed);
        }
        // Skips 0 (never written) when the counter wraps.
        self.seq.store(s.wrapping_add(2).max(2), Ordering::Release);
        true
    }

    /// The words (`None` before the first write, or if writers kept the lock busy through
    /// `tries` attempts).
    #[inline]
    pub(crate) fn read(&self, tries: usize) -> Option<[u64; N]> {
        use std::sync::atomic::{fence, Ordering};
        for _ in 0..tries {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 == 0 {
                return None;
            }
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let words: [u64; N] = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return Some(words);
            }
        }
        None
    }
}

/// A 16-byte id (a trace id) as two words, for a [`SeqLock`]; [`id_bytes`] turns them back.
#[inline]
pub(crate) fn id_words(id: [u8; 16]) -> [u64; 2] {
    let v = u128::from_ne_bytes(id);
    [v as u64, (v >> 64) as u64]
}

/// The 16-byte id that [`id_words`] made `words` of.
#[inline]
pub(crate) fn id_bytes(words: [u64; 2]) -> [u8; 16] {
    (u128::from(words[0]) | u128::from(words[1]) << 64).to_ne_bytes()
}
