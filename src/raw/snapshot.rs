//! One scan of an insert's two candidate sets: the words it loaded, and
//! which slots were visible or empty, for choosing a slot to link into.

use super::entry::Entry;
use super::reclaim::Reclaimer;
use super::set::WAYS;
use super::table::{Probe, Side, Table};
use super::word::Word;

/// A free slot in the emptier set, the first set on a tie: sets fill evenly,
/// so a working set that fits the capacity stays resident (with first-fit
/// placement 900 keys in a 1,000-entry cache did not all fit), and a lookup
/// still ends in the first set it reads more often than not. Bit
/// `set * WAYS + slot` of `free` is set when that slot is empty.
pub(super) fn pick_free(free: u16) -> Option<(Side, usize)> {
    let first = free & SET_MASK;
    let second = free >> WAYS;
    let (side, mask) = if first.count_ones() >= second.count_ones() {
        (Side::First, first)
    } else {
        (Side::Second, second)
    };
    (mask != 0).then(|| (side, mask.trailing_zeros() as usize))
}

/// The slots of one set in a two-set mask.
const SET_MASK: u16 = (1 << WAYS) - 1;

/// An insert's two candidate sets as one scan saw them. The masks over the
/// 14 positions `set * WAYS + slot` are computed from the words when asked
/// for: a slot is usually free while the cache fills, and the visible mask
/// is needed only when none is (computing both during the scan cost a
/// filling insert about 45 instructions, callgrind).
pub(super) struct Snapshot<K, V> {
    pub(super) words: [[Word<Entry<K, V>>; WAYS]; 2],
}

impl<K, V> Snapshot<K, V> {
    /// Bit `set * WAYS + slot` set where `test` holds for that slot's word.
    #[inline(always)]
    fn mask(&self, test: impl Fn(Word<Entry<K, V>>) -> bool) -> u16 {
        let mut mask = 0;
        for (s, words) in self.words.iter().enumerate() {
            for (slot, &word) in words.iter().enumerate() {
                mask |= u16::from(test(word)) << (s * WAYS + slot);
            }
        }
        mask
    }

    /// The slots that held a visible entry.
    #[inline(always)]
    pub(super) fn visible(&self) -> u16 {
        // `&`, not `&&`: no branch per slot.
        self.mask(|word| !word.is_null() & !word.is_pending())
    }

    /// The slots that were empty.
    #[inline(always)]
    pub(super) fn free(&self) -> u16 {
        self.mask(Word::is_null)
    }
}

impl<K, V, R: Reclaimer> Table<K, V, R> {
    /// Loads both candidate sets of `probe`.
    #[inline(always)]
    pub(super) fn snapshot(&self, guard: &R::Guard<'_>, probe: &Probe) -> Snapshot<K, V> {
        let mut words = [[Word::NULL; WAYS]; 2];
        for (s, side) in Side::BOTH.into_iter().enumerate() {
            let set = &self.sets[probe.set(side)];
            for (slot, cell) in set.slots.iter().enumerate() {
                words[s][slot] = self.load(guard, cell);
            }
        }
        Snapshot { words }
    }
}
