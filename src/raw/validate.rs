//! The table's invariant checker, for tests and fuzzing.

use super::entry::Entry;
use super::reclaim::Reclaimer;
use super::set::WAYS;
use super::table::{Side, Table};
use super::word::Word;
use crate::sync::Ordering;

impl<K: Eq, V, R: Reclaimer> Table<K, V, R> {
    /// Checks the table's invariants; call only while no operation is in
    /// flight. `hash` must be the hash the cache uses for keys.
    ///
    /// # Panics
    ///
    /// On the first broken invariant, with a message saying which.
    pub(crate) fn validate(&self, hash: impl Fn(&K) -> u64) {
        let mut occupied = 0;
        let mut weight = 0_u64;
        let mut seen = std::collections::HashSet::new();
        for (set_index, set) in self.sets.iter().enumerate() {
            for (slot_index, slot) in set.slots.iter().enumerate() {
                // Relaxed: quiescent by the caller's contract.
                let word = Word::from_raw(slot.load(Ordering::Relaxed));
                if word.is_null() {
                    continue;
                }
                occupied += 1;
                weight += self.weight_of(word);
                assert!(
                    !word.is_pending(),
                    "pending entry at rest in set {set_index}"
                );
                // (Zero-sized entries all share one address: skip them.)
                assert!(
                    std::mem::size_of::<Entry<K, V>>() == 0 || seen.insert(word.address().addr()),
                    "one entry in two slots"
                );
                // SAFETY: quiescent, so every linked entry is live.
                let entry = unsafe { &*word.address() };
                let probe = self.probe(hash(&entry.key));
                assert!(
                    Side::BOTH.iter().any(|&side| probe.set(side) == set_index),
                    "entry outside its two sets"
                );
                assert!(
                    word.matches_visible(probe.tag),
                    "tag disagrees with the key's hash"
                );
                for side in Side::BOTH {
                    for other in 0..WAYS {
                        if (probe.set(side), other) == (set_index, slot_index) {
                            continue;
                        }
                        // Relaxed: quiescent, as above.
                        let w =
                            Word::from_raw(self.slot(&probe, side, other).load(Ordering::Relaxed));
                        // SAFETY: as above.
                        let duplicate = !w.is_null() && unsafe { (*w.address()).key == entry.key };
                        assert!(!duplicate, "a key in two slots");
                    }
                }
            }
        }
        assert_eq!(
            occupied,
            self.len(),
            "len disagrees with the occupied slots"
        );
        assert!(self.len() <= self.capacity, "len above capacity");
        assert_eq!(
            weight,
            self.weight(),
            "weight disagrees with the weights of the occupied slots"
        );
        assert!(self.weight() <= self.max_weight, "weight above max_weight");
    }
}
