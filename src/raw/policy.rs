//! Eviction policy: a two-bit frequency per slot, aged CLOCK-style, and a
//! newcomer bit.
//!
//! Each set keeps one byte per slot in its policy word, and a CLOCK hand in
//! the word's last byte. A slot byte is a frequency (bits 0-1) and `NEW_BIT`,
//! set on a newcomer until its first hit. A hit clears the bit or raises the
//! frequency (saturating at `MAX_FREQ`), and only when that changes the byte,
//! so a hot entry's reads store nothing. When an insert must evict, the victim
//! is the lowest-ranked visible entry of the key's two sets (ties broken by a
//! rotating start taken from the new key's hash): first a newcomer never hit,
//! then by frequency (see `rank`). A key seen once is thus the first to go
//! (scan resistance), as in S3-FIFO's small queue. Only when an established entry is
//! evicted does its set decay one slot under its hand and move the hand on,
//! so an entry that stops being hit loses its frequency within a few such
//! evictions; if even the victim was warm, the whole set ages at once. A
//! newcomer that the ghost remembers starts cold but established.
//!
//! Measured on ../shared/traces, mean hit ratio over 30 trace/capacity pairs
//! (the trace table of `cargo run --release --example compare -- --traces
//! ../shared/traces`: same traces and capacities; LRU: 43.6%, moka 54.2%,
//! quick_cache 53.5%): ageing at every eviction, 43.9%; ageing only when the
//! victim is warm, 49.2%, but then an entry hit once stays for ever while cold
//! newcomers churn; adding the hand in both candidate sets, 47.0%; the hand in
//! the victim's set only, 48.1%; plus the ghost below (this code), 48.7%. A
//! three-bit counter or newcomers starting at one did worse (48.8% and 45.1%
//! without the hand); a ghost two or four times larger, or warm starts at two,
//! changed nothing beyond noise; breaking frequency ties by insertion age
//! (oldest first) lowered the mean to 47.3%.
//!
//! On the get-then-insert-on-miss workload (zipf 0.99 over 16x the capacity,
//! 65,536 entries; quick_cache 77.6-78.4% here) that policy hit 75.2-75.4%.
//! The newcomer bit (evict a never-hit newcomer before a cold established
//! entry) raised it to 76.4% and the trace mean to 51.5%; ghost-remembered
//! newcomers starting cold rather than at one, 76.6%; decaying only when an
//! established entry is evicted, 76.9% (this code; trace mean 51.5%).
//! Evicting instead a newcomer from one more set picked by the hash, when the
//! key's sets hold none but have a free slot, gave 77.1% (two or four more
//! sets: 77.2%) and a trace mean of 51.9%, but get+insert-on-miss ran 17%
//! slower (a cache miss on another set and an unlink on one insert in five).
//! Preferring to evict established cold entries over newcomers instead gave
//! 74.7%; the hand turning cold entries back into newcomers, 76.0%; a
//! blocked count-min sketch of misses (4-bit counters, one word per key) to
//! warm newcomers up or mark them established did no better than the ghost
//! (75.4-77.1%) for 2-8 more bytes per entry.
//! Two earlier prototypes that did not close the gap: TinyLFU-style admission
//! (refuse a newcomer the ghost has not seen when the victim is warm) gave
//! 75.4-75.8%; choosing the victim among four sets (the key's two and two
//! more under a global hand) when a slot is free gave 75.9% at 20% lower
//! throughput.
//!
//! Issue 11 (admission and adaptivity), same table, 30 rows; moka 54.16,
//! quick_cache 53.03, LRU 43.57, this policy 51.46 (worst row 13.7 points
//! under the best peer, 8.8 under LRU). Tried, none kept:
//! - A count-min sketch of 4-bit counters (four per key in one word, halved
//!   every 20x the capacity of counted events; counted on inserts and on hits
//!   that change the policy byte) with a 32-bit fingerprint per slot, 9
//!   bytes per entry, and W-TinyLFU's path from window to main (a newcomer
//!   competes with the least-ranked established entry of its sets and wins
//!   with a count at least 2 above it): 51.70 (margin 0: 47.6, 1: 49.7, 3:
//!   51.6; letting one to four newcomers stay before competing: 48.4-51.1;
//!   without the ghost: 49.4); halving every 10x or 40x the capacity: 51.9,
//!   52.4; an 8-byte sketch per entry: +0.35.
//! - Set dueling between that and this policy (leader sets 1/32 each, a
//!   10-bit counter of misses): 52.1; the small rows have too few leader sets.
//! - Evicting under a table-wide hand (a CLOCK over eight sets at a time,
//!   lowest rank first) whenever one of the key's sets has a free slot, the
//!   key taking that slot: 52.9-53.1 with or without the sketch (victims
//!   under the hand are nearly always newcomers, which admission never
//!   judges); loop@512 46.6, cs@352 15.6, gli@632 32.5, scan@1000 43.1, but
//!   sprite@353 58.2 (was 63.4), worst row still 8.2 under the best peer
//!   and 7.5 under LRU; hands over two, four or sixteen sets: 52.6, 52.9,
//!   52.8. It cost get+insert-on-miss about 28% on one thread (13.7-14.0
//!   against 9.9-10.2 Mops, capacity 65,536, zipf 0.99; prefetching the
//!   hand's next sets did not help), which the write path cannot afford.
//! - Newcomers evicted oldest first by a 5-bit insert stamp in their policy
//!   byte: 51.1; ageing every set the hand passes: 51.2-52.5.
//!
//! So in this table every variant measured lands at 53 or below, against
//! 54.3-54.5 for the best fixed setting per row chosen after the fact: what
//! is missing is an adaptation between recency and frequency that works on
//! small caches, and a victim search wider than two sets that costs no
//! cold cache lines on the insert path.
//!
//! Issue 11, second attempt (same 30 rows on the real crate; this policy
//! 51.47, worst row 14.1 under the best peer (cs@352), 8.8 under LRU
//! (zigzag@1000); zipf get+insert-on-miss at 8,192 entries 73.1%). Tried,
//! none kept, because none meets both robustness rules:
//! - Where the loss comes from: on loop@512 nearly every eviction (95%) is a
//!   newcomer, yet about 100 of the 512 entries are newcomers never hit. A
//!   newcomer can only evict within its own two sets, so every set keeps a
//!   newcomer as a revolving door: about capacity / 5.6 entries that a loop
//!   cannot freeze. On cs, gli and ps the newcomer evicted is the older one,
//!   so a loop longer than the ghost's reach never freezes at all.
//! - Static recency (cold established entries evicted before newcomers):
//!   50.08; ignoring the ghost: 48.93; a static newcomer share (established
//!   first while the candidates hold under 10/25/50% newcomers): 51.03,
//!   50.24, 47.77; the hand demoting cold entries to newcomers, or stepping
//!   on one newcomer eviction in 2, 8 or 32: 51.0-51.75.
//! - F1, a `FRESH` bit on each set's latest insert, evicted first among
//!   newcomers (the incoming key is the next victim, so the entries before it
//!   stay): 52.74 (cs@352 16.3, gli@632 35.3, ps@770 59.7), zipf unchanged.
//!   Oldest newcomer first instead: 51.10. Ghost re-inserts starting as
//!   non-fresh newcomers: 52.43.
//! - R1, F1 plus, when the key's sets hold no newcomer but have a free slot,
//!   evicting the fresh newcomer of the set that this thread last inserted a
//!   newcomer into (a thread-local hint: its line is usually still in cache)
//!   and taking the free slot: 53.28 (loop@512 47.3, scan@1000 43.2), but
//!   oltp -3.5, web07@1024 -2.5, zigzag 37.3. The same with the hint lagging
//!   4, 32 or 128 newcomers: 53.34, 53.16, 53.13. R1P, ghost re-inserts also
//!   fresh (the freshest cold entry goes first): 53.43.
//! - ARC-like adaptation of R1P (M6F): the ghost fingerprint's spare bit
//!   marks a key that the remote path evicted as a fresh newcomer; a score
//!   (0-128, starting full) gains one per such eviction and loses six per
//!   marked key inserted again, and the remote path is taken with
//!   probability score/128 (at least 1 in 16, to keep measuring). The share
//!   of marked keys that come back separates the rows: loop, scan, cs, ps
//!   0.000-0.016, multi, gli 0.02-0.09, zipf 0.14, against oltp 0.30-0.40,
//!   sprite 0.41-0.64, zigzag 0.58. Mean 53.50-53.55, worst row 7.3-9.8
//!   under the best peer (cpp@61, which moves by 1.5 points from run to
//!   run), 6.7 under LRU (zigzag@1000); zipf 73.1%. The score starting at
//!   zero: 53.04, 53.11, 53.17 with penalties of 4, 6, 10; at half: 53.37;
//!   a ghost twice as large: 53.45.
//! - Cost of M6F (callgrind, 2,000,000 get+insert-on-miss on zipf 0.99 over
//!   16x 65,536 keys, capacity 65,536; 507.6 M of the totals are the key
//!   generation): this policy 1,568.7 M; M6F 1,688.1 M (+7.6%), because
//!   `choose_victim` then scans all 14 slots when only non-fresh newcomers
//!   remain. Packing the newcomer and fresh flags of both words into one
//!   14-bit mask (a multiply gathers a bit per byte) and taking the first
//!   at the rotating start: 1,612.4 M (+2.8%, hit 74.61% against 74.46%);
//!   F1 alone with that mask: 1,556.2 M (-0.8%).
//! - What M6F still fails: zigzag@1000 41.3 (LRU 48.0), sprite@353 60.6
//!   (LRU 65.6), p3@190635 54.3 (LRU 57.7), cpp@61 57.2 (moka 64.5), ps@154
//!   35.1 (moka 40.8). Ghost re-inserts starting at frequency one while the
//!   score is under a quarter fix sprite@353 (63.9), p3@190635 (56.5) and
//!   oltp@9344 (59.8), but zigzag falls to 29.6 (only when the victim is a
//!   newcomer: 37.0; starting cold instead: 38.0). Zigzag wants a pure
//!   freeze: the remote path always on and no ghost promotion give 47.7,
//!   and sprite@353 22.6. No signal measured separates the two: ghost hits
//!   per insert 0.52 and 0.46, marked returns 0.58 and 0.41, re-inserts
//!   evicted before a hit 0.89 and 0.87, ghost hits on keys hit before 0.05
//!   and 0.05. Set dueling between the pure freeze and M6F (leader sets 1/8,
//!   1/16, 1/32): 52.99, 53.18, 51.98, zigzag 41.5 at best, because a
//!   freeze works only table-wide. In the recency regime, victims by a 4-bit
//!   insert stamp (FIFO): 52.36, zipf 66.5.
//!
//! So F1 is free and worth 1.3 points, and M6F reaches quick_cache's mean
//! (53.5 against 53.0) at +2.8% instructions, but the worst rows need what
//! the table does not keep: recency order among established entries
//! (zigzag, sprite: LRU-like behaviour without a store on hits) and a
//! frequency history longer than the ghost at small capacities (cpp@61,
//! ps@154, where moka's sketch wins), plus a signal to choose between a
//! freeze and recency that leader sets cannot give.
//!
//! This module is the seam for the policy: it sees only policy words and
//! occupancy masks, never entries.

use crate::sync::{AtomicU16, AtomicU64, Ordering};

use super::set::WAYS;

const FREQ_MASK: u64 = 0b11;
const MAX_FREQ: u64 = 3;
/// Bit 2 of a slot byte: a newcomer, not hit since its insert. A slot byte
/// is always either `NEW_BIT` alone or a frequency from 0 to `MAX_FREQ`:
/// `record_insert` writes 0 or `NEW_BIT`, a hit turns `NEW_BIT` into 1 or
/// raises a frequency, and decay and ageing only lower non-zero frequencies.
const NEW_BIT: u64 = 0b100;
/// Low bit of every slot byte: used to age all slots at once.
const BYTE_LOW_BITS: u64 = 0x0101_0101_0101_0101;
/// The seven slot bytes of a policy word (byte 7 is the hand).
const SLOT_BYTES: u64 = 0x00FF_FFFF_FFFF_FFFF;

/// The rank (see `rank`) of a newcomer never hit: the first to be evicted.
pub(crate) const NEWCOMER: u64 = 0;
/// The rank of an established entry at frequency zero.
pub(crate) const COLD: u64 = 1;

/// 16-bit fingerprints of recently inserted keys, one per slot of the table
/// (2.5 bytes per entry of capacity), written
/// only by inserts. A key inserted again while its fingerprint survives starts
/// established (cold, without `NEW_BIT`): it missed twice within about one
/// cache's worth of inserts, so it is more than a one-hit wonder (S3-FIFO's
/// ghost queue, TinyLFU's doorkeeper).
pub(crate) struct Ghost {
    fingerprints: Box<[AtomicU16]>,
}

impl Ghost {
    /// A ghost of `len` fingerprints; `None` if they cannot be allocated.
    pub(crate) fn new(len: usize) -> Option<Self> {
        let mut fingerprints = Vec::new();
        fingerprints.try_reserve_exact(len).ok()?;
        fingerprints.extend((0..len).map(|_| AtomicU16::new(0)));
        Some(Ghost {
            fingerprints: fingerprints.into_boxed_slice(),
        })
    }

    /// Remembers `hash`; true if it was already remembered.
    pub(crate) fn remember(&self, hash: u64) -> bool {
        let n = self.fingerprints.len() as u64;
        let index = (((hash >> 32).wrapping_mul(0x9E37_79B9) & 0xFFFF_FFFF) * n) >> 32;
        let fingerprint = (hash as u16) | 1;
        let cell = &self.fingerprints[index as usize];
        // Relaxed: a hint that orders nothing. A load and a plain store, not
        // a swap: no locked instruction on the insert path, and a race
        // between two inserts only forgets one key, as a lost swap would.
        let seen = cell.load(Ordering::Relaxed) == fingerprint;
        if !seen {
            cell.store(fingerprint, Ordering::Relaxed);
        }
        seen
    }
}

#[inline]
fn shift(slot: usize) -> u32 {
    (slot * 8) as u32
}

#[inline]
fn freq(word: u64, slot: usize) -> u64 {
    (word >> shift(slot)) & FREQ_MASK
}

/// Whether `slot` of a set with policy word `word` holds a newcomer not hit
/// since its insert (or held one: a freed slot keeps its byte until reused).
#[cfg(test)]
pub(crate) fn is_newcomer(word: u64, slot: usize) -> bool {
    (word >> shift(slot)) & NEW_BIT != 0
}

/// The eviction order of a slot, lowest first: `NEWCOMER`, `COLD`, then
/// `COLD + 2 * frequency`, so a rank of two or more is a warm entry.
#[cfg(test)]
fn rank(word: u64, slot: usize) -> u64 {
    if is_newcomer(word, slot) {
        NEWCOMER
    } else {
        COLD + 2 * freq(word, slot)
    }
}

/// Notes a hit on `slot`: a newcomer's first hit makes it established at
/// frequency one; a later one raises the frequency. Stores nothing when the
/// frequency is already at its maximum; a lost race just loses one count.
#[inline]
pub(crate) fn record_hit(policy: &AtomicU64, slot: usize) {
    // Relaxed: the policy word is a hint that orders nothing else.
    let word = policy.load(Ordering::Relaxed);
    let byte = (word >> shift(slot)) & 0xFF;
    // A hot entry: one compare, nothing stored.
    if byte == MAX_FREQ {
        return;
    }
    let next = if byte == NEW_BIT {
        // NEW_BIT -> frequency one, in one subtraction.
        word - ((NEW_BIT - 1) << shift(slot))
    } else {
        word + (1 << shift(slot))
    };
    // Relaxed on success and failure: a hint; a failed CAS drops one count.
    let _ = policy.compare_exchange(word, next, Ordering::Relaxed, Ordering::Relaxed);
}

/// Resets `slot` for an entry that was just linked into it: a newcomer, or
/// a cold established entry when the ghost remembers the key (`seen_recently`,
/// see `Ghost`).
pub(crate) fn record_insert(policy: &AtomicU64, slot: usize, seen_recently: bool) {
    let clear = !(0xFF << shift(slot));
    let initial = if seen_recently { 0 } else { NEW_BIT };
    let set = initial << shift(slot);
    // Relaxed: a hint. A load and a plain store, not a CAS loop: no locked
    // instruction on the insert path. What a race can do: a hit or a decay
    // on a neighbour slot between the two is lost (a count, as when a hit's
    // CAS fails), and two inserts into one set at once may leave one of the
    // new entries with its victim's byte until the hand decays it. Neither
    // can undo this reset: hits, decay and ageing CAS the whole word.
    let w = policy.load(Ordering::Relaxed);
    policy.store((w & clear) | set, Ordering::Relaxed);
}

/// Byte 7 of the policy word: the set's CLOCK hand, the slot that the next
/// eviction in this set decays.
const HAND_SHIFT: u32 = 56;

/// Notes an eviction in a set of a victim of rank `victim_rank` (see
/// `rank`). Evicting a newcomer changes nothing. Evicting an established
/// entry decays the slot under the hand and moves the hand on, so an entry
/// that stops being hit loses its frequency within a few such evictions even
/// when colder entries keep being evicted first. When the victim itself was
/// warm (every candidate was), the whole set ages at once.
pub(crate) fn record_eviction(policy: &AtomicU64, victim_rank: u64) {
    if victim_rank == NEWCOMER {
        return;
    }
    if victim_rank > COLD {
        age(policy);
    }
    // Relaxed: a hint, as above.
    let _ = policy.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
        let hand = ((w >> HAND_SHIFT) as usize) % WAYS;
        let decayed = if freq(w, hand) > 0 {
            w - (1 << shift(hand))
        } else {
            w
        };
        let next = ((hand + 1) % WAYS) as u64;
        Some((decayed & !(0xFF << HAND_SHIFT)) | (next << HAND_SHIFT))
    });
}

/// Ages every slot of a set by one step.
fn age(policy: &AtomicU64) {
    // Relaxed: a hint, as above.
    let _ = policy.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
        // One in the low bit of each byte whose two-bit count is non-zero.
        let nonzero = (w | (w >> 1)) & BYTE_LOW_BITS & SLOT_BYTES;
        Some(w - nonzero)
    });
}

/// Picks a victim among the visible slots of two sets, with its rank.
///
/// Bit `s * WAYS + i` of `visible` is set when slot `i` of set `s` holds a
/// visible entry. Returns `(set, slot, rank)` for a slot of least `rank`, or `None`
/// when neither set has one. Ties go to the first such slot at or after a
/// start taken from `salt`, in the cyclic order of the 14 positions
/// (`set * WAYS + slot`), so evictions spread over equal candidates.
///
/// Branch-light: each rank's slots are gathered into one 14-bit mask at
/// once (see `gather`), instead of ranking the slots one by one; the
/// insert's snapshot supplies `visible` as the same kind of mask.
#[inline]
pub(crate) fn choose_victim(
    policy: [u64; 2],
    visible: u16,
    salt: u64,
) -> Option<(usize, usize, u64)> {
    if visible == 0 {
        return None;
    }
    let both = |f: fn(u64) -> u64| gather(f(policy[0])) | gather(f(policy[1])) << WAYS;
    // Per slot byte: bit 0 and bit 1 are the frequency, bit 2 is `NEW_BIT`.
    let newcomers = both(|w| w >> 2) & visible;
    let (rank, candidates) = if newcomers != 0 {
        (NEWCOMER, newcomers)
    } else {
        let low = both(|w| w);
        let high = both(|w| w >> 1);
        // No newcomer is visible, so every visible slot is ranked by its
        // frequency alone: the first non-empty class, coldest first.
        [!low & !high, low & !high, !low & high, low & high]
            .into_iter()
            .zip(0..)
            .map(|(class, frequency)| (COLD + 2 * frequency, class & visible))
            .find(|&(_, class)| class != 0)?
    };
    let start = (salt % (2 * WAYS) as u64) as u32;
    let from_start = candidates & (u16::MAX << start);
    let pos = if from_start != 0 {
        from_start.trailing_zeros()
    } else {
        candidates.trailing_zeros()
    } as usize;
    Some((pos / WAYS, pos % WAYS, rank))
}

/// Bit 0 of each of a policy word's seven slot bytes, packed into the low
/// seven bits: one multiply moves bit `8k` to bit `56 + k` (the partial
/// products land on distinct bits, so nothing carries into the top byte).
#[inline]
fn gather(word: u64) -> u16 {
    const PACK: u64 = 1 << 56 | 1 << 49 | 1 << 42 | 1 << 35 | 1 << 28 | 1 << 21 | 1 << 14;
    ((word & BYTE_LOW_BITS & SLOT_BYTES).wrapping_mul(PACK) >> 56) as u16 & 0x7F
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
    fn first_hit_makes_a_newcomer_established() {
        let policy = AtomicU64::new(u64::MAX);
        record_insert(&policy, 4, false);
        assert!(is_newcomer(policy.load(Ordering::Relaxed), 4));
        record_hit(&policy, 4);
        let word = policy.load(Ordering::Relaxed);
        assert!(!is_newcomer(word, 4));
        assert_eq!(rank(word, 4), COLD + 2);
        assert_eq!(word | (0xFF << 32), u64::MAX, "neighbours untouched");
    }

    #[test]
    fn hand_decays_one_slot_per_eviction_and_wraps() {
        let policy = AtomicU64::new(0);
        for slot in 0..WAYS {
            record_hit(&policy, slot);
        }
        for evictions in 1..=WAYS {
            record_eviction(&policy, COLD);
            let word = policy.load(Ordering::Relaxed);
            let cold = (0..WAYS).filter(|&s| freq(word, s) == 0).count();
            assert_eq!(cold, evictions);
        }
        assert_eq!(
            policy.load(Ordering::Relaxed) >> HAND_SHIFT,
            0,
            "hand wrapped"
        );
    }

    #[test]
    fn evicting_a_newcomer_decays_nothing() {
        let policy = AtomicU64::new(0);
        record_hit(&policy, 0);
        let before = policy.load(Ordering::Relaxed);
        record_eviction(&policy, NEWCOMER);
        assert_eq!(policy.load(Ordering::Relaxed), before);
        record_eviction(&policy, COLD);
        assert_eq!(freq(policy.load(Ordering::Relaxed), 0), 0, "decayed");
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
        // Set 1, slot 2 has frequency 1; every other slot 3.
        assert_eq!(choose_victim(policy, 0x3FFF, 0), Some((1, 2, COLD + 2)));
        // Not visible: skipped, and the rest tie at 3.
        assert_eq!(
            choose_victim(policy, 0x3DFF, 0).map(|v| v.2),
            Some(COLD + 6)
        );
        assert_eq!(choose_victim(policy, 0x0000, 5), None);
    }

    #[test]
    fn newcomer_goes_before_a_cold_established_entry() {
        // Set 0, slot 1: cold and established; set 1, slot 5: a newcomer.
        let policy = [0x0303_0303_0303_0003, 0x0303_0403_0303_0303];
        assert_eq!(choose_victim(policy, 0x3FFF, 0), Some((1, 5, NEWCOMER)));
        // Without the newcomer, the cold entry.
        assert_eq!(choose_victim(policy, 0x2FFF, 0), Some((0, 1, COLD)));
    }

    /// The slot-by-slot ranking `choose_victim` replaced: the lowest rank,
    /// ties to the first slot in cyclic order from the salt's start.
    fn one_by_one(policy: [u64; 2], visible: u16, salt: u64) -> Option<(usize, usize, u64)> {
        let start = (salt % (2 * WAYS) as u64) as usize;
        let mut best: Option<(u64, usize)> = None;
        for step in 0..2 * WAYS {
            let pos = (start + step) % (2 * WAYS);
            if visible & (1 << pos) != 0 {
                let r = rank(policy[pos / WAYS], pos % WAYS);
                if best.is_none_or(|(b, _)| r < b) {
                    best = Some((r, pos));
                }
            }
        }
        best.map(|(r, pos)| (pos / WAYS, pos % WAYS, r))
    }

    #[test]
    fn victim_masks_agree_with_ranking_slot_by_slot() {
        // Every slot byte a policy word can hold, plus a hand byte.
        const BYTES: [u64; 5] = [0, 1, 2, 3, NEW_BIT];
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let rounds = if cfg!(miri) { 500 } else { 200_000 };
        for _ in 0..rounds {
            let word = |r: u64| {
                (0..WAYS).fold((r >> 60) << HAND_SHIFT, |w, i| {
                    w | BYTES[((r >> (3 * i)) % 5) as usize] << shift(i)
                })
            };
            let policy = [word(next()), word(next())];
            let r = next();
            let visible = (r & 0x3FFF) as u16;
            let salt = next();
            assert_eq!(
                choose_victim(policy, visible, salt),
                one_by_one(policy, visible, salt),
                "{policy:x?} {visible:x} {salt}"
            );
        }
    }

    #[test]
    fn insert_resets_the_slot() {
        let policy = AtomicU64::new(u64::MAX);
        record_insert(&policy, 2, false);
        let word = policy.load(Ordering::Relaxed);
        assert_eq!(rank(word, 2), NEWCOMER);
        assert_eq!((word >> 16) & 0xFF, NEW_BIT);
        assert_eq!(word | (0xFF << 16), u64::MAX);
        // One the ghost remembers starts cold but established.
        record_insert(&policy, 2, true);
        let word = policy.load(Ordering::Relaxed);
        assert_eq!(rank(word, 2), COLD);
        assert_eq!(word | (0xFF << 16), u64::MAX);
    }
}
