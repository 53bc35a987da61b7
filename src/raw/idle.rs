//! Time to idle: an entry not read for the cache's idle time expires.
//!
//! Every entry of a cache with a time to idle carries an idle deadline in
//! its trailer (`entry.rs`), set when it is inserted. A hit moves it to the
//! idle time from the coarse clock's now, but stores only when that moves it
//! by at least an eighth of the idle time, so a hot entry's hit path stores
//! nothing in all but one read per eighth of the idle time (and at most one
//! per clock millisecond). The price: an entry may expire up to an eighth of
//! the idle time (plus a tick of the coarse clock) before the idle time has
//! passed since its last read; it is never returned after it.
//!
//! Expiry itself is checked like a time to live's (`clock::expired`), and an
//! idle-expired entry is treated as one whose time to live ran out: never
//! returned, skipped by iteration, unlinked as `Expired` by `retain`,
//! `purge_expired` and the inserts that write its set.

use super::entry::{self, Entry};
use super::reclaim::Reclaimer;
use super::table::Table;
use super::word::Word;
use crate::clock;
use crate::sync::unmodeled::Ordering;

impl<K, V, R: Reclaimer> Table<K, V, R> {
    /// Whether the entry behind `word` has expired: its time to live ran out,
    /// or it was not read for the time to idle.
    ///
    /// # Safety
    ///
    /// `word` points to a live entry of this table.
    #[inline]
    pub(crate) unsafe fn expired(&self, word: Word<Entry<K, V>>) -> bool {
        // SAFETY: forwarded; the table allocates its entries with its shape.
        unsafe { entry::expired(self.shape, word) }
    }

    /// Checks a hit on the entry behind `word`: false if it has expired,
    /// otherwise true, having noted the read for the time to idle.
    ///
    /// Without a time to idle this is the time-to-live check alone, a bit
    /// test for an untimed entry; the idle work stays out of line (`touch`),
    /// so that the hit path of a cache without one pays a predictable branch
    /// and keeps its registers (inlined, it cost that path about 10
    /// instructions a hit; measured with callgrind; a whole lookup of its
    /// own for an idle cache, chosen before the lookup, cost it about 5).
    ///
    /// # Safety
    ///
    /// `word` points to a live entry of this table.
    #[inline]
    pub(super) unsafe fn hit(&self, word: Word<Entry<K, V>>) -> bool {
        if self.shape.idle {
            // SAFETY: forwarded.
            return unsafe { self.touch(word) };
        }
        // SAFETY: forwarded.
        unsafe { !entry::ttl_expired(word) }
    }

    /// The check of a hit in a cache with a time to idle: false if the
    /// entry behind `word` has expired; otherwise notes the read, pushing
    /// its idle deadline forward if the clock has moved far enough, and true.
    ///
    /// # Safety
    ///
    /// `word` points to a live entry of this table.
    #[inline(never)]
    unsafe fn touch(&self, word: Word<Entry<K, V>>) -> bool {
        // SAFETY: forwarded; the reference ends with this call.
        let Some(idle) = (unsafe { entry::idle_deadline(self.shape, word) }) else {
            // Not reached: `hit` calls this only with a time to idle.
            // SAFETY: forwarded.
            return unsafe { !self.expired(word) };
        };
        // Relaxed, load and store: the idle deadline publishes nothing and
        // guards nothing; it is only compared with the clock. Two racing
        // refreshes may land in either order, so one may move the deadline
        // back a little, never earlier than `now + idle` for a read that
        // happened (the coarse clock is never ahead), so no entry outlives
        // the idle time after a read that saw the refresh's result.
        let stored = idle.load(Ordering::Relaxed);
        // The idle deadline and the coarse clock with one load of it.
        let Some(now) = clock::unexpired_now(stored) else {
            return false;
        };
        // A timed entry's time to live too.
        // SAFETY: forwarded.
        if unsafe { entry::ttl_expired(word) } {
            return false;
        }
        let fresh = refreshed(now, self.idle_ms);
        if fresh >= stored.saturating_add(step(self.idle_ms)) {
            idle.store(fresh, Ordering::Relaxed);
        }
        true
    }
}

/// The idle deadline of an entry read at `now`.
#[inline]
pub(crate) fn refreshed(now: u64, idle_ms: u64) -> u64 {
    now.saturating_add(idle_ms).min(clock::NEVER - 1)
}

/// How far the clock must move before a read stores a new idle deadline.
#[inline]
fn step(idle_ms: u64) -> u64 {
    (idle_ms / 8).max(1)
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;
    use crate::raw::entry::{Trailer, Unpublished};
    use crate::raw::hooks::Hooks;
    use crate::raw::reclaim::Crossbeam;
    use crate::raw::table::{sets_for, Limits};

    /// A hot entry's hits store its idle deadline at most once per eighth of
    /// the idle time: over 100 ms of back-to-back hits with an 8 s idle time,
    /// at most once (if the clock crossed a second). And they do store:
    /// with an 80 ms idle time, about every 10 ms.
    #[test]
    #[cfg_attr(miri, ignore = "timing")]
    fn hits_store_the_idle_deadline_rarely() {
        for (idle_ms, most_stores) in [(8_000, 1), (80, usize::MAX)] {
            let limits = Limits {
                max_weight: None,
                idle_ms: Some(idle_ms),
            };
            let hooks = Hooks {
                listener: None,
                stats: None,
            };
            let table: Table<u64, u64, Crossbeam> =
                Table::new(16, sets_for(16).unwrap(), hooks, limits).unwrap();
            let (hash, key) = (0x0123_4567_89AB_CDEF, 7);
            let trailer = Trailer {
                idle_deadline: clock::now() + idle_ms,
                ..Trailer::NONE
            };
            let new = Unpublished::new(table.shape, key, 1, trailer);
            let word = new.word();
            let mut out = table.departures();
            let guard = table.reclaimer.pin();
            table.insert(&guard, &mut out, hash, new);
            // SAFETY: linked above and never unlinked; `guard` protects it.
            let idle = unsafe { entry::idle_deadline(table.shape, word) }.unwrap();
            let mut stores = 0;
            let mut last = idle.load(Ordering::Relaxed);
            let start = std::time::Instant::now();
            while start.elapsed() < std::time::Duration::from_millis(100) {
                assert!(table.get(&guard, hash, &key).is_some());
                let now = idle.load(Ordering::Relaxed);
                stores += usize::from(now != last);
                last = now;
            }
            assert!(
                stores <= most_stores,
                "{stores} stores for idle {idle_ms} ms"
            );
            if idle_ms == 80 {
                assert!(stores >= 2, "{stores} stores in 100 ms of hits");
            }
        }
    }

    #[test]
    fn refreshes_store_once_per_eighth() {
        assert_eq!(step(8_000), 1_000);
        assert_eq!(step(5), 1, "at most one store per clock millisecond");
        assert_eq!(refreshed(u64::MAX - 3, 10), clock::NEVER - 1);
    }
}
