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

/// An insert's two candidate sets as one scan saw them: their words, and as
/// masks over the 14 positions `set * WAYS + slot`, which held visible
/// entries and which were empty.
pub(super) struct Snapshot<K, V> {
    pub(super) words: [[Word<Entry<K, V>>; WAYS]; 2],
    pub(super) visible: u16,
    pub(super) free: u16,
}

impl<K, V> Snapshot<K, V> {
    const EMPTY: Self = Snapshot {
        words: [[Word::NULL; WAYS]; 2],
        visible: 0,
        free: 0,
    };

    /// Records `word`, loaded from `slot` of the set on side `s` (0 or 1).
    #[inline(always)]
    fn note(&mut self, s: usize, slot: usize, word: Word<Entry<K, V>>) {
        self.words[s][slot] = word;
        // `&`, not `&&`: no branch per slot.
        let present = !word.is_null();
        self.visible |= u16::from(present & !word.is_pending()) << (s * WAYS + slot);
        self.free |= u16::from(!present) << (s * WAYS + slot);
    }
}

impl<K, V, R: Reclaimer> Table<K, V, R> {
    /// Loads both candidate sets of `probe`, with the masks of visible and
    /// empty slots that `choose_victim` and `pick_free` take.
    #[inline(always)]
    pub(super) fn snapshot(&self, guard: &R::Guard<'_>, probe: &Probe) -> Snapshot<K, V> {
        let mut snapshot = Snapshot::EMPTY;
        for (s, side) in Side::BOTH.into_iter().enumerate() {
            let set = &self.sets[probe.set(side)];
            for (slot, cell) in set.slots.iter().enumerate() {
                snapshot.note(s, slot, self.load(guard, cell));
            }
        }
        snapshot
    }
}
