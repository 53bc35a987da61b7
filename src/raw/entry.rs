//! The heap entry a slot points to: the key and the value, and after them a
//! trailer of 64-bit words only for entries that need one.
//!
//! Policy bits live in the set and the tag in the slot word, so an entry of a
//! cache without a weigher or a time to idle, and without a time to live,
//! costs exactly its key and value. Otherwise the allocation is an
//! `Extended` entry: the plain `Entry` first (`repr(C)`, so a pointer to it is
//! also a pointer to its `Entry`), then the trailer, whose words are, in
//! order and each only if present:
//!
//! 1. the deadline of a time to live: present when the word's timed bit
//!    (`Word::is_timed`) is set, chosen entry by entry;
//! 2. the weight: present in every entry of a cache with a weigher;
//! 3. the idle deadline: present in every entry of a cache with a time to
//!    idle, and the one word of an entry that changes after it is published.
//!
//! A cache's configuration is fixed when it is built, so the `Shape` it
//! passes here, together with the timed bit, says which type was allocated.
//! A cache without TTL, weigher or idle time pays neither the bytes nor a
//! clock read on its hit path; a weigher costs 8 bytes an entry, a time to
//! idle 8 more.

use super::pool;
use super::reclaim::{drop_box, Reclaimer};
use super::word::Word;
use crate::clock;
use crate::sync::unmodeled::{AtomicU64, Ordering};

/// One cached key and value, allocated once and never mutated.
#[repr(C)]
pub(crate) struct Entry<K, V> {
    pub(crate) key: K,
    pub(crate) value: V,
    /// Forces an alignment of at least 4, so bits 0 and 1 of a pointer to an
    /// entry are free for the word's pending and timed bits.
    _align: [u32; 0],
}

/// An entry with a trailer of `N` words (see the module docs for their order).
#[repr(C)]
struct Extended<K, V, const N: usize> {
    // Invariant: first field, so a `*mut Extended` is a valid `*mut Entry`.
    entry: Entry<K, V>,
    /// Atomic only for the idle deadline, which readers refresh; the others
    /// are written before the entry is published and never again.
    trailer: [AtomicU64; N],
}

/// Which trailer words every entry of a cache carries, fixed at build time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Shape {
    /// A weight word (the cache has a weigher).
    pub(crate) weighted: bool,
    /// An idle-deadline word (the cache has a time to idle).
    pub(crate) idle: bool,
}

impl Shape {
    /// The number of trailer words of an entry with `word`'s timed bit.
    #[inline]
    fn words<K, V>(self, word: Word<Entry<K, V>>) -> usize {
        usize::from(word.is_timed()) + usize::from(self.weighted) + usize::from(self.idle)
    }
}

/// The trailer fields of a new entry.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Trailer {
    /// The time-to-live deadline, in `clock` milliseconds; `clock::NEVER`
    /// for none (the entry is then untimed).
    pub(crate) deadline: u64,
    /// The weight, stored only if the shape is weighted.
    pub(crate) weight: u64,
    /// The first idle deadline, stored only if the shape has idle.
    pub(crate) idle_deadline: u64,
}

impl Trailer {
    /// No deadline, no weight, no idle deadline.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) const NONE: Trailer = Trailer {
        deadline: clock::NEVER,
        weight: 0,
        idle_deadline: clock::NEVER,
    };
}

/// Trailer word `index` of the entry behind `word`.
///
/// # Safety
///
/// `word` points to a live entry allocated with more than `index` trailer
/// words; the reference must not outlive it.
#[inline]
unsafe fn trailer_word<'a, K, V>(word: Word<Entry<K, V>>, index: usize) -> &'a AtomicU64 {
    // `repr(C)`: the trailer starts at the entry's size rounded up to the
    // alignment of its words, whatever its length.
    let offset =
        std::mem::size_of::<Entry<K, V>>().next_multiple_of(std::mem::align_of::<AtomicU64>());
    // SAFETY: the pointer came from `pool::allocate` of the whole `Extended`
    // (so its provenance covers the trailer), and the caller promises the
    // allocation is live and has word `index` at this offset.
    unsafe {
        &*word
            .address()
            .byte_add(offset)
            .cast::<AtomicU64>()
            .add(index)
    }
}

/// The weight of the entry behind `word`, 0 if the shape is not weighted.
///
/// # Safety
///
/// `word` (from `Unpublished::new` with this `shape`, possibly tagged since)
/// points to a live entry.
#[inline]
pub(crate) unsafe fn weight<K, V>(shape: Shape, word: Word<Entry<K, V>>) -> u64 {
    if !shape.weighted {
        return 0;
    }
    // SAFETY: a weighted shape gives every entry a weight word, after the
    // deadline if the entry is timed; live by the caller's promise.
    let weight = unsafe { trailer_word(word, usize::from(word.is_timed())) };
    // Relaxed: written before the entry was published, which the load that
    // found `word` acquired.
    weight.load(Ordering::Relaxed)
}

/// The idle-deadline word of the entry behind `word`, if the shape has one.
///
/// # Safety
///
/// As for `weight`; the reference must not outlive the entry.
#[inline]
pub(crate) unsafe fn idle_deadline<'a, K, V>(
    shape: Shape,
    word: Word<Entry<K, V>>,
) -> Option<&'a AtomicU64> {
    if !shape.idle {
        return None;
    }
    let index = usize::from(word.is_timed()) + usize::from(shape.weighted);
    // SAFETY: an idle shape gives every entry an idle word, after the
    // deadline and the weight; live by the caller's promise.
    Some(unsafe { trailer_word(word, index) })
}

/// Whether an entry's time to live has run out: never for an untimed one.
///
/// # Safety
///
/// `word` points to a live entry.
#[inline(always)]
pub(crate) unsafe fn ttl_expired<K, V>(word: Word<Entry<K, V>>) -> bool {
    if !word.is_timed() {
        return false;
    }
    // SAFETY: a timed entry's first trailer word is its deadline; live by
    // the caller's promise.
    let deadline = unsafe { trailer_word(word, 0) };
    // Relaxed: written before the entry was published (see `weight`).
    clock::expired(deadline.load(Ordering::Relaxed))
}

/// Whether the entry behind `word` has expired: its time to live has run
/// out, or it has not been read for the cache's time to idle.
///
/// # Safety
///
/// `word` (from `Unpublished::new` with this `shape`, possibly tagged since)
/// points to a live entry.
#[inline]
pub(crate) unsafe fn expired<K, V>(shape: Shape, word: Word<Entry<K, V>>) -> bool {
    // SAFETY: forwarded.
    if unsafe { ttl_expired(word) } {
        return true;
    }
    // SAFETY: forwarded from the caller.
    match unsafe { idle_deadline(shape, word) } {
        // Relaxed: a refresh orders nothing else (see `Table::touch`).
        Some(idle) => clock::expired(idle.load(Ordering::Relaxed)),
        None => false,
    }
}

/// Frees an entry, dropping its key and value (a panic in their `Drop` is
/// discarded; the memory is freed either way).
///
/// # Safety
///
/// `word` came from `Unpublished::new` with this `shape` (possibly tagged
/// since), and the caller owns it: no one else can reach it any more.
pub(crate) unsafe fn free<K, V>(shape: Shape, word: Word<Entry<K, V>>) {
    let ptr = word.address();
    // SAFETY: `Unpublished::new` allocated (`pool::allocate`) a block of the
    // type with `shape.words(word)` trailer words, which the caller hands
    // over.
    unsafe {
        match shape.words(word) {
            0 => drop_box(ptr),
            1 => drop_box(ptr.cast::<Extended<K, V, 1>>()),
            2 => drop_box(ptr.cast::<Extended<K, V, 2>>()),
            _ => drop_box(ptr.cast::<Extended<K, V, 3>>()),
        }
    }
}

/// Hands an unlinked entry to the reclaimer, with the type it was allocated as.
///
/// # Safety
///
/// As `Reclaimer::retire`, for the allocation behind `word`, which came from
/// `Unpublished::new` with this `shape`.
pub(crate) unsafe fn retire<K: Send, V: Send, R: Reclaimer>(
    reclaimer: &R,
    guard: &R::Guard<'_>,
    shape: Shape,
    word: Word<Entry<K, V>>,
) {
    let ptr = word.address();
    // SAFETY: forwarded from the caller; the allocation is a block of the
    // type with `shape.words(word)` trailer words (see `free`).
    unsafe {
        match shape.words(word) {
            0 => reclaimer.retire(guard, ptr),
            1 => reclaimer.retire(guard, ptr.cast::<Extended<K, V, 1>>()),
            2 => reclaimer.retire(guard, ptr.cast::<Extended<K, V, 2>>()),
            _ => reclaimer.retire(guard, ptr.cast::<Extended<K, V, 3>>()),
        }
    }
}

/// Allocates an entry with trailer words `words`, tagging its word timed if
/// `timed`.
fn allocate<K, V, const N: usize>(
    entry: Entry<K, V>,
    words: [u64; N],
    timed: bool,
) -> Word<Entry<K, V>> {
    let trailer = words.map(AtomicU64::new);
    let extended = pool::allocate(Extended { entry, trailer });
    Word::allocated(extended.cast::<Entry<K, V>>(), timed)
}

/// An entry not yet linked into a slot: freed (value dropped) if the insert
/// unwinds before it is.
pub(crate) struct Unpublished<K, V> {
    // Invariant: from `pool::allocate` of an `Entry` or `Extended` allocated
    // by `new` for `shape`, owned here until `publish`.
    word: Word<Entry<K, V>>,
    shape: Shape,
}

impl<K, V> Unpublished<K, V> {
    /// Allocates an entry for a cache of `shape`: timed unless
    /// `trailer.deadline` is `clock::NEVER`, with the words `shape` asks for.
    pub(crate) fn new(shape: Shape, key: K, value: V, trailer: Trailer) -> Self {
        let entry = Entry {
            key,
            value,
            _align: [],
        };
        let timed = trailer.deadline != clock::NEVER;
        let (deadline, weight, idle) = (trailer.deadline, trailer.weight, trailer.idle_deadline);
        let word = match (timed, shape.weighted, shape.idle) {
            (false, false, false) => Word::allocated(pool::allocate(entry), false),
            (true, false, false) => allocate(entry, [deadline], true),
            (false, true, false) => allocate(entry, [weight], false),
            (false, false, true) => allocate(entry, [idle], false),
            (true, true, false) => allocate(entry, [deadline, weight], true),
            (true, false, true) => allocate(entry, [deadline, idle], true),
            (false, true, true) => allocate(entry, [weight, idle], false),
            (true, true, true) => allocate(entry, [deadline, weight, idle], true),
        };
        Unpublished { word, shape }
    }

    /// The entry's word, untagged, for the CAS that links it.
    pub(crate) fn word(&self) -> Word<Entry<K, V>> {
        self.word
    }

    /// The entry's key.
    pub(crate) fn key(&self) -> &K {
        // SAFETY: owned here (invariant), so live and not shared mutably.
        unsafe { &(*self.word.address()).key }
    }

    /// Hands the entry to the table, which linked it (or refused it): it no
    /// longer frees it.
    pub(crate) fn publish(self) -> Word<Entry<K, V>> {
        let word = self.word;
        std::mem::forget(self);
        word
    }
}

impl<K, V> Drop for Unpublished<K, V> {
    fn drop(&mut self) {
        // SAFETY: the word came from `new` for `self.shape` and was never
        // linked into a slot (`publish` forgets `self`), so this is its only
        // owner.
        unsafe { free(self.shape, self.word) }
    }
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use super::*;

    #[test]
    fn plain_entries_cost_only_key_and_value() {
        assert_eq!(std::mem::size_of::<Entry<u64, u64>>(), 16);
        // A time to live, a weigher or a time to idle: 8 bytes each.
        assert_eq!(std::mem::size_of::<Extended<u64, u64, 1>>(), 24);
        assert_eq!(std::mem::size_of::<Extended<u64, u64, 2>>(), 32);
        assert_eq!(std::mem::size_of::<Extended<u64, u64, 3>>(), 40);
        // Small keys and values: the trailer starts at the next 8 bytes.
        assert_eq!(std::mem::size_of::<Entry<u32, u8>>(), 8);
        assert_eq!(std::mem::size_of::<Extended<u32, u8, 1>>(), 16);
    }

    #[test]
    fn timed_words_carry_their_deadline() {
        let shape = Shape::default();
        let plain = Unpublished::new(shape, 1_u64, 2_u64, Trailer::NONE);
        let past = clock::now().saturating_sub(1);
        let timed = Unpublished::new(
            shape,
            3_u64,
            4_u64,
            Trailer {
                deadline: past,
                ..Trailer::NONE
            },
        );
        assert!(!plain.word().is_timed());
        assert!(timed.word().is_timed());
        assert_eq!(*timed.key(), 3);
        // SAFETY: both are live and owned here.
        unsafe {
            assert!(!expired(shape, plain.word()));
            assert!(expired(shape, timed.word()));
            assert_eq!((*timed.word().address()).value, 4);
        }
    }

    /// Every combination of trailer words reads back what was written, each
    /// from its own place, and frees with the type it was allocated as
    /// (Miri checks the layouts).
    #[test]
    fn trailers_keep_their_fields_apart() {
        let far = clock::now() + 60_000;
        let past = clock::now().saturating_sub(1);
        for weighted in [false, true] {
            for idle in [false, true] {
                for timed in [false, true] {
                    let shape = Shape { weighted, idle };
                    let trailer = Trailer {
                        deadline: if timed { far } else { clock::NEVER },
                        weight: 77,
                        idle_deadline: if idle { past } else { far },
                    };
                    let new = Unpublished::new(shape, 5_u32, 6_u8, trailer);
                    let word = new.word();
                    assert_eq!(word.is_timed(), timed);
                    // SAFETY: live and owned here.
                    unsafe {
                        assert_eq!(weight(shape, word), if weighted { 77 } else { 0 });
                        assert_eq!(
                            idle_deadline(shape, word).map(|w| w.load(Ordering::Relaxed)),
                            idle.then_some(past)
                        );
                        assert_eq!(expired(shape, word), idle, "{shape:?} timed {timed}");
                        assert_eq!(((*word.address()).key, (*word.address()).value), (5, 6));
                    }
                }
            }
        }
    }
}
