//! The crossbeam-epoch backend: one `Collector` per cache, and a
//! `LocalHandle` per thread that uses it, kept in the thread's slot of the
//! cache (`raw::per_thread`).
//!
//! A thread's handle goes when the thread exits: dropping it moves the
//! thread's bag of deferred drops to the collector's global queue, and the
//! slot is free for the next thread. So exited threads leave no garbage
//! behind, and a cache has at most as many handles as threads that used it at
//! the same time. A pin from a thread-local destructor that runs after the
//! thread's slots are gone registers a handle for that one pin.

use std::marker::PhantomData;

#[cfg(not(epoch_cache_mutant = "free_on_unlink"))]
use super::drop_box;
use super::{sealed, Reclaimer};
use crate::raw::per_thread::{PerThread, Registry, ThreadData};
use crate::sync::{const_thread_local, AtomicPtr, LocalKey, Ordering, UnsafeCell};
use crossbeam_epoch::{Collector, LocalHandle};

/// The crossbeam-epoch backend: one `crossbeam_epoch::Collector` per cache,
/// with a handle per thread. Pinning costs a full fence; it is the backend
/// that loom can model (crossbeam-epoch's `crossbeam_loom` support).
///
/// A thread's handle, and the garbage it holds, are handed back to the cache
/// when the thread exits. A cache may be used from a thread-local destructor.
/// Dropping a cache waits for a thread that is exiting at that very moment
/// to finish handing its handle back (which drops values it retired), so that
/// every value is dropped by the time the cache is; a value's `Drop` that
/// blocks on the thread dropping the cache would deadlock that wait.
///
/// ```
/// use epoch_cache::{Cache, Crossbeam, DefaultHashBuilder};
///
/// // The default: `Cache<K, V>` is `Cache<K, V, DefaultHashBuilder, Crossbeam>`.
/// let cache: Cache<u64, u64, DefaultHashBuilder, Crossbeam> =
///     Cache::builder().capacity(100).reclaimer::<Crossbeam>().build()?;
/// cache.insert(1, 2);
/// assert_eq!(cache.get_cloned(&1), Some(2));
/// # Ok::<(), epoch_cache::BuildError>(())
/// ```
pub struct Crossbeam {
    // Drop order matters: the handles go first, pushing their local garbage to
    // the collector's global queue; dropping the last collector reference then
    // runs every deferred destructor.
    handles: PerThread<HandleCell>,
    collector: crossbeam_epoch::Collector,
}

/// A thread's `LocalHandle` for one cache: the data of its per-thread slot.
#[derive(Default)]
struct HandleCell {
    // Invariant: touched only by the thread that holds the slot, and by
    // whoever then releases it (`ThreadData::release`'s contract). `None`
    // until the holder's first pin, and again once released.
    handle: UnsafeCell<Option<LocalHandle>>,
}

// SAFETY: a `LocalHandle` is !Send and !Sync because its `Local` must not be
// used by two threads at once; nothing in it is tied to the identity of the
// thread that registered it. The cell's invariant gives the handle one user
// at a time: its slot's holder, then whoever releases the slot, after a
// change of the slot's state that orders the two (an exiting holder's own
// thread, or the cache's drop, which follows every use of the cache).
unsafe impl Send for HandleCell {}
// SAFETY: as for Send: shared references reach the handle only through `pin`
// on the holder's thread and `release`, which the invariant keeps apart.
unsafe impl Sync for HandleCell {}

impl HandleCell {
    /// Pins this thread's handle, registering it on the thread's first pin.
    ///
    /// Called only by the thread that holds the slot.
    #[inline]
    fn pin(&self, collector: &Collector) -> crossbeam_epoch::Guard {
        // No loop here: a loop around the cold `register` call made the
        // compiler keep its address in a callee-saved register, which every
        // inlined get then saved and restored (measured with callgrind).
        match self.pin_registered() {
            Some(guard) => guard,
            None => self.register(collector),
        }
    }

    /// Pins this thread's handle, if it has registered one.
    ///
    /// Called only by the thread that holds the slot.
    #[inline]
    fn pin_registered(&self) -> Option<crossbeam_epoch::Guard> {
        // A pin may reenter (its collection runs deferred drops, which may
        // use the cache), and reentrant pins only read the cell: shared
        // accesses overlap, the one write (`register`) overlaps nothing.
        self.handle.with(|cell| {
            // SAFETY: we hold the slot (our caller's contract), so no other
            // thread touches the cell; this thread writes it only in
            // `register`, which runs no code while it does.
            unsafe { (*cell).as_ref() }.map(LocalHandle::pin)
        })
    }

    /// Registers this thread's handle, then pins it.
    #[cold]
    #[inline(never)]
    fn register(&self, collector: &Collector) -> crossbeam_epoch::Guard {
        let handle = collector.register();
        self.handle.with_mut(|cell| {
            // SAFETY: as in `pin_registered`; the cell holds `None` (no
            // reference into it is alive), and overwriting `None` runs no code.
            unsafe { *cell = Some(handle) }
        });
        // Pinned through the cell, which now holds the handle: the pin's
        // collection may reenter, and a reentrant pin must find it there.
        self.pin_registered()
            .expect("the handle was registered just above")
    }
}

impl ThreadData for HandleCell {
    fn registry() -> &'static LocalKey<Registry<Self>> {
        const_thread_local! {
            static HANDLES: Registry<HandleCell> = Registry::new();
        }
        &HANDLES
    }

    unsafe fn release(&self) {
        let handle = self.handle.with_mut(|cell| {
            // SAFETY: `release`'s contract: the slot is ours alone, and no
            // reference into the cell is alive.
            unsafe { (*cell).take() }
        });
        // Finalises the `Local` (its bag goes to the global queue) unless a
        // guard of it is still alive, in which case the guard's unpin does.
        // Outside the cell: the drop may run deferred drops, i.e. user code.
        drop(handle);
    }
}

/// Pins through a handle of its own, for a thread whose slots are gone (a
/// thread-local destructor that runs after theirs): the guard keeps the
/// `Local` alive and, when it unpins, hands its garbage to the collector.
#[cold]
#[inline(never)]
fn pin_unregistered(collector: &Collector) -> crossbeam_epoch::Guard {
    let handle = collector.register();
    let guard = handle.pin();
    drop(handle);
    guard
}

impl sealed::Sealed for Crossbeam {}

impl std::fmt::Debug for Crossbeam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crossbeam")
    }
}

/// A crossbeam guard tied to the lifetime of its cache: the pin that a
/// [`Ref`](crate::Ref), [`Pinned`](crate::Pinned) or [`Iter`](crate::Iter)
/// of a [`Crossbeam`]-backed cache holds. You never make one yourself. It is
/// `!Send`, and so are they: a pin belongs to its thread, and must not be
/// kept across an `.await` (see the crate docs, "Async use").
///
/// ```
/// use epoch_cache::{Cache, Crossbeam, CrossbeamGuard, Reclaimer};
///
/// fn guard_of<R: Reclaimer>() -> &'static str {
///     std::any::type_name::<R::Guard<'static>>()
/// }
/// assert_eq!(guard_of::<Crossbeam>(), std::any::type_name::<CrossbeamGuard<'static>>());
///
/// let cache: Cache<u64, u64> = Cache::new(10);
/// let pinned = cache.pin(); // holds a `CrossbeamGuard` until dropped
/// assert!(pinned.get(&1).is_none());
/// ```
///
/// ```compile_fail
/// use epoch_cache::Cache;
///
/// fn send<T: Send>(_: T) {}
/// let cache: Cache<u64, u64> = Cache::new(10);
/// send(cache.pin()); // a guard is not `Send`
/// ```
pub struct CrossbeamGuard<'a> {
    guard: crossbeam_epoch::Guard,
    _cache: PhantomData<&'a Crossbeam>,
}

impl Reclaimer for Crossbeam {
    type Guard<'a> = CrossbeamGuard<'a>;

    fn new(_capacity: usize) -> Self {
        Crossbeam {
            handles: PerThread::default(),
            collector: crossbeam_epoch::Collector::new(),
        }
    }

    #[inline]
    fn pin(&self) -> Self::Guard<'_> {
        let guard = match self.handles.mine() {
            Some(cell) => cell.pin(&self.collector),
            None => pin_unregistered(&self.collector),
        };
        CrossbeamGuard {
            guard,
            _cache: PhantomData,
        }
    }

    #[inline]
    fn protect<T>(_guard: &Self::Guard<'_>, slot: &AtomicPtr<T>, order: Ordering) -> *mut T {
        // Being pinned is the protection: crossbeam defers every destructor
        // retired after this pin until the guard is dropped.
        slot.load(order)
    }

    #[inline]
    unsafe fn retire<T: Send>(&self, guard: &Self::Guard<'_>, ptr: *mut T) {
        #[cfg(epoch_cache_mutant = "free_on_unlink")]
        {
            let _ = guard;
            // SAFETY: none; this mutant frees at unlink on purpose, so that the
            // verification suite can prove it notices.
            return unsafe { super::drop_box(ptr) };
        }
        #[cfg(not(epoch_cache_mutant = "free_on_unlink"))]
        {
            let ptr = SendPtr(ptr);
            // SAFETY: the closure runs after every guard pinned before this call
            // is dropped (crossbeam's contract), and by retire's contract 2 no
            // later guard can reach `ptr`; contract 1 makes the drop the only one.
            unsafe {
                guard.guard.defer_unchecked(move || {
                    let ptr = ptr;
                    drop_box(ptr.0)
                })
            };
        }
    }
}

/// A raw pointer that may cross threads: used only for a retired `T: Send`.
#[cfg(not(epoch_cache_mutant = "free_on_unlink"))]
struct SendPtr<T>(*mut T);

// SAFETY: only `retire` builds one, for a `T: Send` that no one else can reach.
#[cfg(not(epoch_cache_mutant = "free_on_unlink"))]
unsafe impl<T: Send> Send for SendPtr<T> {}

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    //! Under `crossbeam::`, so that the strict-provenance Miri runs skip it.

    use std::collections::VecDeque;
    use std::sync::Arc;
    use std::thread;

    use super::*;

    /// Short-lived threads, and how many may live at once.
    const THREADS: usize = if cfg!(miri) { 24 } else { 10_000 };
    const LIVE: usize = 4;

    #[test]
    fn a_cache_keeps_no_handle_of_an_exited_thread() {
        let reclaimer = Arc::new(Crossbeam::new(16));
        let mut live = VecDeque::new();
        for t in 0..THREADS {
            if live.len() == LIVE {
                let oldest: thread::JoinHandle<()> = live.pop_front().unwrap();
                // `join` returns once the thread's thread-locals are dropped.
                oldest.join().unwrap();
            }
            let reclaimer = Arc::clone(&reclaimer);
            // Stacks of varying sizes put thread-locals at varying addresses
            // (which made the code before this one register more handles:
            // 24 here).
            let spawned = thread::Builder::new()
                .stack_size(64 * 1024 + (t % 16) * 16 * 1024)
                .spawn(move || drop(reclaimer.pin()));
            live.push_back(spawned.unwrap());
        }
        live.into_iter().for_each(|t| t.join().unwrap());
        let handles = reclaimer.handles.slot_count();
        assert!(
            handles <= LIVE,
            "{handles} handles for {LIVE} threads at a time"
        );
    }

    #[test]
    fn an_exiting_thread_hands_its_garbage_to_the_collector() {
        // Fewer retirements than a bag holds (64): they stay in the thread's
        // local bag unless its exit hands them over.
        const RETIRED: usize = 40;
        let dropped = Arc::new(());
        let reclaimer = Arc::new(Crossbeam::new(16));
        {
            let (reclaimer, dropped) = (Arc::clone(&reclaimer), Arc::clone(&dropped));
            thread::spawn(move || {
                let guard = reclaimer.pin();
                for _ in 0..RETIRED {
                    let ptr = Box::into_raw(Box::new(Arc::clone(&dropped)));
                    // SAFETY: a fresh box, retired once, never shared.
                    unsafe { reclaimer.retire(&guard, ptr) };
                }
            })
            .join()
            .unwrap();
        }
        // Pins on this thread advance the epoch and collect the global queue.
        for _ in 0..1_000 {
            if Arc::strong_count(&dropped) == 1 {
                break;
            }
            reclaimer.pin().guard.flush();
        }
        assert_eq!(
            Arc::strong_count(&dropped),
            1,
            "the exited thread's garbage"
        );
    }
}
