//! Eviction policy: a two-bit frequency per slot, aged CLOCK-style.
//!
//! Each set keeps one byte per slot in its policy word. A hit raises the
//! slot's frequency (saturating at `MAX_FREQ`), and only when it would change,
//! so a hot entry's reads store nothing. When an insert must evict, the victim
//! is the least frequent visible entry of the key's two sets (ties broken by a
//! rotating start taken from the new key's hash). Only when even that victim
//! was hit do both sets age, every frequency dropping by one: CLOCK's second
//! chance with a small counter, as in S3-FIFO's main queue. A newcomer starts
//! at zero, so a key seen once is the first to go (scan resistance).
//!
//! Measured on ../shared/traces (`cargo run --release --example hit_ratio`):
//! ageing at every eviction gave a mean hit ratio of 43.9% (LRU: 43.6%);
//! ageing only when the victim is warm, 49.2%; a three-bit counter, 48.8%;
//! newcomers starting at one, 45.1%.
//!
//! This module is the seam for the policy: it sees only policy words and
//! occupancy masks, never entries.

use crate::sync::{AtomicU64, Ordering};

use super::set::WAYS;

const FREQ_MASK: u64 = 0b11;
const MAX_FREQ: u64 = 3;
/// Low bit of every slot byte: used to age all slots at once.
const BYTE_LOW_BITS: u64 = 0x0101_0101_0101_0101;

/// The frequency a newly inserted entry starts with.
const INITIAL_FREQ: u64 = 0;

#[inline]
fn shift(slot: usize) -> u32 {
    (slot * 8) as u32
}

#[inline]
fn freq(word: u64, slot: usize) -> u64 {
    (word >> shift(slot)) & FREQ_MASK
}

/// Notes a hit on `slot`. Stores nothing when the frequency is already at its
/// maximum; a lost race just loses one count.
#[inline]
pub(crate) fn record_hit(policy: &AtomicU64, slot: usize) {
    // Relaxed: the policy word is a hint that orders nothing else.
    let word = policy.load(Ordering::Relaxed);
    if freq(word, slot) < MAX_FREQ {
        // Relaxed on success and failure: a hint; a failed CAS drops one count.
        let _ = policy.compare_exchange(
            word,
            word + (1 << shift(slot)),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }
}

/// Resets `slot` for an entry that was just linked into it.
pub(crate) fn record_insert(policy: &AtomicU64, slot: usize) {
    let clear = !(0xFF << shift(slot));
    let set = INITIAL_FREQ << shift(slot);
    // Relaxed: a hint; the update retries only so that a concurrent hit on a
    // neighbour slot cannot undo the reset.
    let _ = policy.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
        Some((w & clear) | set)
    });
}

/// Ages every slot of a set by one step.
pub(crate) fn age(policy: &AtomicU64) {
    // Relaxed: a hint, as above.
    let _ = policy.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
        // One in the low bit of each byte whose two-bit count is non-zero.
        let nonzero = (w | (w >> 1)) & BYTE_LOW_BITS;
        Some(w - nonzero)
    });
}

/// Picks a victim among the visible slots of two sets, with its frequency.
///
/// `occupied[s]` has bit `i` set when slot `i` of set `s` holds a visible
/// entry. Returns `(set, slot, frequency)`, or `None` when neither set has one.
pub(crate) fn choose_victim(policy: [u64; 2], occupied: [u8; 2], salt: u64) -> Option<(usize, usize, u64)> {
    let mut best: Option<(u64, usize, usize)> = None;
    let start = (salt % (2 * WAYS) as u64) as usize;
    for step in 0..2 * WAYS {
        let pos = (start + step) % (2 * WAYS);
        let (set, slot) = (pos / WAYS, pos % WAYS);
        if occupied[set] & (1 << slot) == 0 {
            continue;
        }
        let f = freq(policy[set], slot);
        if best.is_none_or(|(best_f, _, _)| f < best_f) {
            best = Some((f, set, slot));
            if f == 0 {
                break;
            }
        }
    }
    best.map(|(f, set, slot)| (set, slot, f))
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;

    #[test]
    fn hits_saturate_and_stop_writing() {
        let policy = AtomicU64::new(0);
        for _ in 0..10 {
            record_hit(&policy, 3);
        }
        let word = policy.load(Ordering::Relaxed);
        assert_eq!(freq(word, 3), MAX_FREQ);
        assert_eq!(word & !(0xFF << 24), 0, "neighbours untouched");
    }

    #[test]
    fn ageing_decrements_each_nonzero_slot() {
        let policy = AtomicU64::new(0);
        for (slot, hits) in [(0, 3), (1, 1), (2, 0), (6, 2)] {
            for _ in 0..hits {
                record_hit(&policy, slot);
            }
        }
        age(&policy);
        let word = policy.load(Ordering::Relaxed);
        assert_eq!([0, 1, 2, 6].map(|s| freq(word, s)), [2, 0, 0, 1]);
    }

    #[test]
    fn victim_is_least_frequent_visible_slot() {
        let policy = [0x0303_0303_0303_0303, 0x0303_0303_0301_0303];
        // Set 1, slot 1 has frequency 1; every other slot 3.
        assert_eq!(choose_victim(policy, [0x7F, 0x7F], 0), Some((1, 1, 1)));
        // Not visible: skipped.
        assert_eq!(choose_victim(policy, [0x7F, 0x7D], 0).map(|v| v.1 == 1 && v.0 == 1), Some(false));
        assert_eq!(choose_victim(policy, [0, 0], 5), None);
    }

    #[test]
    fn insert_resets_the_slot() {
        let policy = AtomicU64::new(u64::MAX);
        record_insert(&policy, 2);
        let word = policy.load(Ordering::Relaxed);
        assert_eq!((word >> 16) & 0xFF, INITIAL_FREQ);
        assert_eq!(word | (0xFF << 16), u64::MAX);
    }
}
