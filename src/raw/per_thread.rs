//! One slot per thread for each owner (a cache's crossbeam handles, its
//! statistics), found through a std thread-local, and handed back when the
//! thread exits.
//!
//! An owner, [`PerThread`], keeps every slot it ever made in a push-only,
//! lock-free list: what it sums, and what it closes when it is dropped. Each
//! thread keeps the slots it holds in its thread-local [`Registry`], keyed by
//! the owner's id: the fast path compares the owner used last, the slow path
//! looks in a map. When the thread exits, the registry's destructor hands each
//! slot back ([`ThreadData::release`], then FREE), and a thread that needs a
//! slot claims a FREE one before it makes one. So an owner has at most as many
//! slots as threads that used it at the same time (plus any that were exiting
//! at that moment), however many threads come and go.
//!
//! Ids come from a global counter and are never reused, so an entry left in
//! a registry by a dropped owner is never mistaken for a live owner's (the
//! registry drops such entries as it grows). Nothing here takes a lock.
//!
//! In a thread-local destructor that runs after the registry's, there is no
//! slot: [`PerThread::mine`] returns `None` and the caller falls back to
//! something that needs none.
//!
//! Under loom the registries are loom's thread-locals (one per modelled
//! thread, dropped when it ends) and the slots' states are loom's atomics, so
//! the models in `loom-tests/` check this protocol: claiming a slot an exited
//! thread handed back, and closing slots when the owner is dropped.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::sync::unmodeled::AtomicU64;
use crate::sync::{const_thread_local, yield_now, AtomicPtr, AtomicU8, LocalKey, Ordering};

/// What a thread keeps in its slot.
pub(crate) trait ThreadData: Default + Send + Sync + Sized + 'static {
    /// The thread-local registry of this type's slots (one `thread_local!`
    /// per type: a static cannot be generic).
    fn registry() -> &'static LocalKey<Registry<Self>>;

    /// Frees what only the slot's thread may use, once that thread is done
    /// with the slot: it exited, or the owner is being dropped. Runs at most
    /// once per holder; a slot's data must survive it for the next holder.
    ///
    /// # Safety
    ///
    /// The caller has moved the slot to BUSY or CLOSED itself, so no other
    /// thread touches it, and no reference into the data that its thread
    /// made while holding it is still alive.
    unsafe fn release(&self) {}
}

/// Held by a live thread, whose registry lists the slot.
const OWNED: u8 = 0;
/// Being released by its exiting thread.
const BUSY: u8 = 1;
/// Released: the next thread that needs a slot may claim it.
const FREE: u8 = 2;
/// The owner is dropped, or being dropped: no thread uses the slot again.
const CLOSED: u8 = 3;

struct Slot<T> {
    // Invariant: OWNED -> BUSY -> FREE -> OWNED ... as its holders come and
    // go (only the holder leaves OWNED, only its exit leaves BUSY, any thread
    // may claim FREE), and OWNED or FREE -> CLOSED once, by the owner's drop.
    state: AtomicU8,
    data: T,
    /// The slot pushed before this one; set before this one is published and
    /// never changed after.
    next: AtomicPtr<Slot<T>>,
}

/// The per-thread slots of one owner.
pub(crate) struct PerThread<T: ThreadData> {
    id: u64,
    // Invariant: null, or the newest of a list of slots linked by `next`,
    // each from `Arc::into_raw`; the list holds one strong count of each
    // until `drop`, and only grows before then.
    head: AtomicPtr<Slot<T>>,
    _owns: PhantomData<Arc<Slot<T>>>,
}

/// The order of a successful claim of a FREE slot (see `claim_or_push`).
/// The mutant `relaxed_claim` weakens it, for the loom models to catch.
#[cfg(not(epoch_cache_mutant = "relaxed_claim"))]
const CLAIM: Ordering = Ordering::Acquire;
#[cfg(epoch_cache_mutant = "relaxed_claim")]
const CLAIM: Ordering = Ordering::Relaxed;

/// The source of owner ids. Starts at 1: 0 is the registry's "none".
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

const_thread_local! {
    /// The slot whose release this thread is running, if any: an owner's drop
    /// that finds it BUSY must not wait for itself (the release ran user code
    /// that dropped the owner). No destructor, so it is always reachable.
    static RELEASING: Cell<*const ()> = Cell::new(std::ptr::null());
}

impl<T: ThreadData> Default for PerThread<T> {
    fn default() -> Self {
        PerThread {
            // Relaxed: ids need only be unique, which any order gives.
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            head: AtomicPtr::new(std::ptr::null_mut()),
            _owns: PhantomData,
        }
    }
}

impl<T: ThreadData> PerThread<T> {
    /// The current thread's slot, claimed or made on its first call; `None`
    /// in a thread-local destructor that runs after the registry's (or in a
    /// reentrant call from inside this module, which does not happen).
    #[inline]
    pub(crate) fn mine(&self) -> Option<&T> {
        T::registry()
            .try_with(|registry| {
                let (id, slot) = registry.recent.get();
                if id == self.id {
                    // SAFETY: `recent` names a slot of the owner whose id it
                    // is (Registry invariant; ids are unique): ours, and our
                    // list keeps it alive while `self` is borrowed.
                    return Some(unsafe { &(*slot).data });
                }
                self.mine_slow(registry)
            })
            .ok()
            .flatten()
    }

    #[cold]
    #[inline(never)]
    fn mine_slow<'s>(&'s self, registry: &Registry<T>) -> Option<&'s T> {
        let mut held = registry.held.try_borrow_mut().ok()?;
        let slot = match held.get(&self.id) {
            Some(slot) => Arc::as_ptr(slot),
            None => {
                let slot = self.claim_or_push();
                let ptr = Arc::as_ptr(&slot);
                registry.prune(&mut held);
                held.insert(self.id, slot);
                ptr
            }
        };
        registry.recent.set((self.id, slot));
        // SAFETY: the slot is in our list, which keeps it alive while `self`
        // is borrowed.
        Some(unsafe { &(*slot).data })
    }

    /// Claims a FREE slot of this owner, or pushes a new one; either way the
    /// current thread holds it (OWNED).
    fn claim_or_push(&self) -> Arc<Slot<T>> {
        // Acquire: pairs with the Release CAS of every push, so each slot's
        // fields are visible (the CAS of each push is a read-modify-write of
        // `head`, so the one we read carries all the earlier ones).
        let head = self.head.load(Ordering::Acquire);
        let mut node = head;
        while !node.is_null() {
            // SAFETY: a listed slot stays alive while `self` is borrowed.
            let slot = unsafe { &*node };
            // Relaxed: a hint; the CAS decides.
            if slot.state.load(Ordering::Relaxed) == FREE
                // Acquire on success: pairs with the Release store of FREE by
                // the slot's last holder, so its release and its last writes
                // to the data happen before our use.
                // Relaxed on failure: another thread claimed it; move on.
                && slot
                    .state
                    .compare_exchange(FREE, OWNED, CLAIM, Ordering::Relaxed)
                    .is_ok()
            {
                // SAFETY: `node` came from `Arc::into_raw` and the list still
                // holds that count, so the slot is alive to count one more.
                unsafe { Arc::increment_strong_count(node) };
                // SAFETY: the count just added is the one we take.
                return unsafe { Arc::from_raw(node) };
            }
            // Relaxed: published with the slot (see the Acquire above).
            node = slot.next.load(Ordering::Relaxed);
        }
        self.push(head)
    }

    fn push(&self, mut head: *mut Slot<T>) -> Arc<Slot<T>> {
        let slot = Arc::new(Slot {
            state: AtomicU8::new(OWNED),
            data: T::default(),
            next: AtomicPtr::new(head),
        });
        let node = Arc::into_raw(Arc::clone(&slot)).cast_mut(); // the list's count
        loop {
            // Release on success: publishes the slot's fields to the Acquire
            // loads of `head`. Relaxed on failure: we only retry.
            match self
                .head
                .compare_exchange_weak(head, node, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return slot,
                Err(current) => {
                    head = current;
                    // Relaxed: the next CAS publishes it.
                    slot.next.store(current, Ordering::Relaxed);
                }
            }
        }
    }

    /// Visits every slot's data, held or not (for sums).
    pub(crate) fn for_each(&self, mut visit: impl FnMut(&T)) {
        // Acquire: as in `claim_or_push`.
        let mut node = self.head.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: a listed slot stays alive while `self` is borrowed.
            let slot = unsafe { &*node };
            visit(&slot.data);
            // Relaxed: as in `claim_or_push`.
            node = slot.next.load(Ordering::Relaxed);
        }
    }

    /// How many slots this owner has made.
    #[cfg(test)]
    pub(crate) fn slot_count(&self) -> usize {
        let mut count = 0;
        self.for_each(|_| count += 1);
        count
    }
}

impl<T: ThreadData> Drop for PerThread<T> {
    fn drop(&mut self) {
        // Relaxed: `&mut self`; whatever handed us the owner ordered every
        // push before this drop.
        let mut node = self.head.load(Ordering::Relaxed);
        while !node.is_null() {
            // SAFETY: the list's strong count of this slot (invariant),
            // given up here, once.
            let slot = unsafe { Arc::from_raw(node) };
            slot.close();
            // Relaxed: `&mut self`; whatever handed us the owner ordered
            // every push before this drop.
            node = slot.next.load(Ordering::Relaxed);
        }
    }
}

impl<T: ThreadData> Slot<T> {
    /// The owner's drop: the slot is never used again; releases what its
    /// holder left, or waits while an exiting holder releases it.
    fn close(&self) {
        let mut waits = 0_u32;
        loop {
            // Relaxed: picks the CAS to try; the CAS orders.
            let state = self.state.load(Ordering::Relaxed);
            match state {
                OWNED | FREE => {
                    // Acquire on success: pairs with the Release store of FREE
                    // by an exiting holder, so its release happened before
                    // ours (and before the owner frees what the data refers
                    // to). An OWNED slot's holder used the owner before this
                    // drop, which whatever handed us the owner ordered.
                    // Relaxed on failure: its holder began to exit; look again.
                    if self
                        .state
                        .compare_exchange(state, CLOSED, Ordering::Acquire, Ordering::Relaxed)
                        .is_ok()
                    {
                        // A holder's references into the slot are made and
                        // dropped within one call that borrows the owner.
                        // SAFETY: we moved the slot to CLOSED, so no thread
                        // touches it again, and the owner is being dropped, so
                        // no such call is running: no reference is alive.
                        unsafe { self.data.release() };
                        return;
                    }
                }
                BUSY if RELEASING.with(Cell::get) == self.erased() => {
                    // This thread is releasing the slot, and that release
                    // dropped the owner. It finishes once we return.
                    return;
                }
                BUSY => {
                    // Another thread is exiting; its release is short.
                    waits += 1;
                    if waits < 64 && cfg!(not(epoch_cache_loom)) {
                        std::hint::spin_loop();
                    } else {
                        yield_now();
                    }
                }
                _ => return, // CLOSED: only this drop closes, once
            }
        }
    }

    /// The current thread exits: releases the slot for a later thread,
    /// unless the owner closed it first.
    fn hand_back(&self) {
        // Relaxed on success: the holder is this thread, which wrote the data
        // last; the Release store of FREE below publishes the release.
        // Relaxed on failure: the slot is CLOSED and not ours to touch.
        if self
            .state
            .compare_exchange(OWNED, BUSY, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            return;
        }
        let outer = RELEASING.with(|releasing| releasing.replace(self.erased()));
        // SAFETY: we moved the slot to BUSY; we run in the registry's
        // destructor, outside any call that made a reference into the data.
        unsafe { self.data.release() };
        RELEASING.with(|releasing| releasing.set(outer));
        // Release: pairs with the Acquire CAS of the thread that claims the
        // slot next, or of the owner's drop, so that our release happens
        // before either of them.
        self.state.store(FREE, Ordering::Release);
    }

    fn erased(&self) -> *const () {
        (self as *const Self).cast()
    }
}

/// A thread's slots, one per owner it used, in that type's `thread_local!`.
pub(crate) struct Registry<T: ThreadData> {
    /// The owner and slot used last: the fast path.
    // Invariant: owner id 0 (no owner has it, and the pointer is null), or
    // an entry of `held`.
    recent: Cell<(u64, *const Slot<T>)>,
    // Invariant: every slot here is OWNED by this thread, or CLOSED.
    held: RefCell<BTreeMap<u64, Arc<Slot<T>>>>,
    /// Once `held` has this many entries, the next insert first drops the
    /// entries of dropped owners.
    prune_at: Cell<usize>,
}

/// Size below which a registry does not bother to prune.
const PRUNE_FLOOR: usize = 8;

impl<T: ThreadData> Registry<T> {
    pub(crate) const fn new() -> Self {
        Registry {
            recent: Cell::new((0, std::ptr::null())),
            held: RefCell::new(BTreeMap::new()),
            prune_at: Cell::new(PRUNE_FLOOR),
        }
    }

    /// Drops the entries of dropped owners once `held` has doubled since the
    /// last time, so that a thread that uses many short-lived owners keeps a
    /// small map, at a constant cost per insert on average.
    fn prune(&self, held: &mut BTreeMap<u64, Arc<Slot<T>>>) {
        if held.len() < self.prune_at.get() {
            return;
        }
        self.recent.set((0, std::ptr::null()));
        // Relaxed: CLOSED is final, and we touch nothing else of the slot.
        held.retain(|_, slot| slot.state.load(Ordering::Relaxed) != CLOSED);
        self.prune_at.set((held.len() * 2).max(PRUNE_FLOOR));
    }

    #[cfg(test)]
    fn held_len(&self) -> usize {
        self.held.borrow().len()
    }
}

impl<T: ThreadData> Drop for Registry<T> {
    fn drop(&mut self) {
        for slot in std::mem::take(self.held.get_mut()).into_values() {
            slot.hand_back();
        }
    }
}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    use std::collections::VecDeque;
    use std::sync::{mpsc, Arc, Mutex};
    use std::thread;

    use super::*;
    use crate::sync::unmodeled::AtomicU64;

    /// Short-lived threads per test, and how many may live at once.
    const THREADS: usize = if cfg!(miri) { 24 } else { 10_000 };
    const LIVE: usize = 4;

    /// Counts its holders' uses and releases.
    #[derive(Default)]
    struct Tally {
        uses: AtomicU64,
        releases: AtomicU64,
    }

    impl ThreadData for Tally {
        fn registry() -> &'static LocalKey<Registry<Self>> {
            const_thread_local! {
                static TALLIES: Registry<Tally> = Registry::new();
            }
            &TALLIES
        }

        unsafe fn release(&self) {
            self.releases.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Runs `body` on `THREADS` threads, at most `LIVE` alive at once.
    fn churn_threads(body: impl Fn() + Send + Sync + 'static) {
        let body = Arc::new(body);
        let mut live = VecDeque::new();
        for _ in 0..THREADS {
            if live.len() == LIVE {
                let oldest: thread::JoinHandle<()> = live.pop_front().unwrap();
                // `join` returns once the thread's thread-locals are dropped.
                oldest.join().unwrap();
            }
            let body = Arc::clone(&body);
            live.push_back(thread::spawn(move || body()));
        }
        live.into_iter().for_each(|t| t.join().unwrap());
    }

    #[test]
    fn exited_threads_hand_their_slots_back() {
        let owner = Arc::new(PerThread::<Tally>::default());
        let shared = Arc::clone(&owner);
        churn_threads(move || {
            let mine = shared.mine().expect("a live thread has a slot");
            mine.uses.fetch_add(1, Ordering::Relaxed);
        });
        let count = owner.slot_count();
        assert!(count <= LIVE, "{count} slots for {LIVE} threads at a time");
        let (mut uses, mut releases) = (0, 0);
        owner.for_each(|t| {
            uses += t.uses.load(Ordering::Relaxed);
            releases += t.releases.load(Ordering::Relaxed);
        });
        assert_eq!(uses, THREADS as u64, "a slot's data outlives its holders");
        assert_eq!(releases, THREADS as u64, "each exit released its slot once");
    }

    #[test]
    fn a_registry_forgets_dropped_owners() {
        thread::spawn(|| {
            for _ in 0..THREADS {
                let owner = PerThread::<Tally>::default();
                owner.mine().expect("a slot");
                drop(owner);
            }
            let held = Tally::registry().with(Registry::held_len);
            assert!(held <= PRUNE_FLOOR, "{held} entries for one live owner");
        })
        .join()
        .unwrap();
    }

    /// Counts releases in a static: its data dies with its owner. Used by
    /// one test only.
    #[derive(Default)]
    struct Probe;

    static PROBE_RELEASES: AtomicU64 = AtomicU64::new(0);

    impl ThreadData for Probe {
        fn registry() -> &'static LocalKey<Registry<Self>> {
            const_thread_local! {
                static PROBES: Registry<Probe> = Registry::new();
            }
            &PROBES
        }

        unsafe fn release(&self) {
            PROBE_RELEASES.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn an_owner_closes_the_slots_of_live_threads() {
        let owner = Arc::new(PerThread::<Probe>::default());
        let (to_main, from_holder) = mpsc::channel();
        let (to_holder, from_main) = mpsc::channel::<()>();
        let holder = {
            let owner = Arc::clone(&owner);
            thread::spawn(move || {
                owner.mine().expect("a slot");
                drop(owner);
                to_main.send(()).unwrap();
                // Exit only once the owner is gone.
                from_main.recv().unwrap();
            })
        };
        from_holder.recv().unwrap();
        drop(owner);
        let released = PROBE_RELEASES.load(Ordering::Relaxed);
        assert_eq!(released, 1, "the drop released the live thread's slot");
        to_holder.send(()).unwrap();
        holder.join().unwrap();
        let released = PROBE_RELEASES.load(Ordering::Relaxed);
        assert_eq!(released, 1, "the exit left the closed slot alone");
    }

    #[test]
    fn no_slot_once_the_registry_is_gone() {
        /// Reports from its destructor whether the thread still had a slot.
        struct AtExit(Arc<PerThread<Tally>>, mpsc::Sender<bool>);
        impl Drop for AtExit {
            fn drop(&mut self) {
                self.1.send(self.0.mine().is_some()).unwrap();
            }
        }
        const_thread_local! {
            static AT_EXIT: RefCell<Option<AtExit>> = RefCell::new(None);
        }
        let owner = Arc::new(PerThread::<Tally>::default());
        let (report, reported) = mpsc::channel();
        thread::spawn(move || {
            let at_exit = AtExit(Arc::clone(&owner), report);
            // Thread-locals are destroyed in reverse order of registration
            // (on the platforms std supports): `AT_EXIT` after the registry.
            AT_EXIT.with(|slot| *slot.borrow_mut() = Some(at_exit));
            assert!(owner.mine().is_some());
        })
        .join()
        .unwrap();
        assert!(!reported.recv().unwrap(), "no slot after the registry");
    }

    /// Holds the last reference to its own owner, which its release drops.
    #[derive(Default)]
    struct SelfOwned(Mutex<Option<Arc<PerThread<SelfOwned>>>>);

    impl ThreadData for SelfOwned {
        fn registry() -> &'static LocalKey<Registry<Self>> {
            const_thread_local! {
                static SELF_OWNED: Registry<SelfOwned> = Registry::new();
            }
            &SELF_OWNED
        }

        unsafe fn release(&self) {
            let owner = self.0.lock().unwrap().take();
            drop(owner);
        }
    }

    #[test]
    fn a_release_that_drops_the_owner_does_not_wait_for_itself() {
        let owner = Arc::new(PerThread::<SelfOwned>::default());
        let weak = Arc::downgrade(&owner);
        thread::spawn(move || {
            let mine = owner.mine().expect("a slot");
            *mine.0.lock().unwrap() = Some(Arc::clone(&owner));
        })
        .join() // would hang if the owner's drop waited for the release
        .unwrap();
        assert!(weak.upgrade().is_none(), "the release dropped the owner");
    }
}
