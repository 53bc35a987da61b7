//! Reclamation backends behind one small trait: pin a guard, protect a load,
//! retire a pointer.
//!
//! The table never names crossbeam-epoch or seize; it asks its `Reclaimer`.
//! Both backends give every cache its own collector, so every retired entry
//! is reclaimed by the time the cache (and with it the collector) is dropped.

use std::marker::PhantomData;
use std::panic::{self, AssertUnwindSafe};

use crate::sync::{AtomicPtr, Ordering};

mod sealed {
    pub trait Sealed {}
}

/// A memory-reclamation scheme for [`Cache`](crate::Cache).
///
/// Implemented by [`Crossbeam`] (the default) and [`Seize`]; the trait is
/// sealed. Pick one with the cache's last type parameter:
///
/// ```
/// use epoch_cache::{Cache, DefaultHashBuilder, Seize};
///
/// let cache: Cache<u64, u64, DefaultHashBuilder, Seize> =
///     Cache::builder().capacity(100).reclaimer::<Seize>().build().unwrap();
/// cache.insert(1, 2);
/// assert_eq!(cache.get_cloned(&1), Some(2));
/// ```
pub trait Reclaimer: sealed::Sealed + std::fmt::Debug + Send + Sync + Sized + 'static {
    /// Keeps everything loaded through it alive until it is dropped.
    #[doc(hidden)]
    type Guard<'a>;

    #[doc(hidden)]
    fn new() -> Self;

    #[doc(hidden)]
    fn pin(&self) -> Self::Guard<'_>;

    /// Loads `slot` so that the pointer stays valid while `guard` lives.
    #[doc(hidden)]
    fn protect<T>(guard: &Self::Guard<'_>, slot: &AtomicPtr<T>, order: Ordering) -> *mut T;

    /// Drops `Box::from_raw(ptr)` once no guard can still observe it.
    ///
    /// # Safety
    ///
    /// 1. `ptr` came from `Box::into_raw` and is retired exactly once.
    /// 2. It is no longer reachable from the table: a guard pinned after this
    ///    call can never load it.
    /// 3. `T` is `Send`: the drop may run on another thread.
    #[doc(hidden)]
    unsafe fn retire<T: Send>(&self, guard: &Self::Guard<'_>, ptr: *mut T);
}

/// Drops a retired box, swallowing a panic from the value's `Drop`.
///
/// Reclamation runs on whichever thread happens to collect; a panic there has
/// no caller that could handle it. The memory is freed either way: unwinding
/// out of `drop_in_place` still deallocates the box.
///
/// # Safety
///
/// `ptr` came from `Box::into_raw`, and no one else can reach it any more.
pub(crate) unsafe fn drop_box<T>(ptr: *mut T) {
    // SAFETY: the caller hands over sole ownership of a live `Box<T>`.
    let owned = unsafe { Box::from_raw(ptr) };
    let _ = panic::catch_unwind(AssertUnwindSafe(move || drop(owned)));
}

/// The seize backend: one `seize::Collector` per cache. Reads are cheap
/// (no fence on entry with the membarrier strategy), garbage is bounded per
/// thread, and dropping the collector reclaims every retired entry.
#[cfg(not(epoch_cache_loom))]
pub struct Seize {
    collector: seize::Collector,
}

#[cfg(not(epoch_cache_loom))]
impl sealed::Sealed for Seize {}

#[cfg(not(epoch_cache_loom))]
impl std::fmt::Debug for Seize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seize")
    }
}

#[cfg(not(epoch_cache_loom))]
impl Reclaimer for Seize {
    type Guard<'a> = seize::LocalGuard<'a>;

    fn new() -> Self {
        Seize {
            collector: seize::Collector::new(),
        }
    }

    #[inline]
    fn pin(&self) -> Self::Guard<'_> {
        self.collector.enter()
    }

    #[inline]
    fn protect<T>(guard: &Self::Guard<'_>, slot: &AtomicPtr<T>, order: Ordering) -> *mut T {
        seize::Guard::protect(guard, slot, order)
    }

    #[inline]
    unsafe fn retire<T: Send>(&self, guard: &Self::Guard<'_>, ptr: *mut T) {
        #[cfg(epoch_cache_mutant = "free_on_unlink")]
        {
            let _ = guard;
            // SAFETY: none; this mutant frees at unlink on purpose, so that the
            // verification suite can prove it notices.
            return unsafe { drop_box(ptr) };
        }
        #[cfg(not(epoch_cache_mutant = "free_on_unlink"))]
        {
            unsafe fn reclaim<T>(ptr: *mut T, _: &seize::Collector) {
                // SAFETY: seize calls this once, after every guard that could
                // observe `ptr` is gone (retire's contract 2).
                unsafe { drop_box(ptr) }
            }
            // SAFETY: retire's contract 1 and 2 are seize's `defer_retire`
            // contract; `reclaim` frees a `Box`, which is what `ptr` is (1).
            unsafe { seize::Guard::defer_retire(guard, ptr, reclaim::<T>) }
        }
    }
}

/// The crossbeam-epoch backend: one `crossbeam_epoch::Collector` per cache,
/// with a handle per thread. Pinning costs a full fence; it is the backend
/// that loom can model (crossbeam-epoch's `crossbeam_loom` support).
pub struct Crossbeam {
    // Drop order matters: the handles go first, pushing their local garbage to
    // the collector's global queue; dropping the last collector reference then
    // runs every deferred destructor.
    #[cfg(not(epoch_cache_loom))]
    handles: thread_local::ThreadLocal<HandleCell>,
    collector: crossbeam_epoch::Collector,
}

/// A `LocalHandle` stored in the per-cache thread-local table.
#[cfg(not(epoch_cache_loom))]
struct HandleCell(crossbeam_epoch::LocalHandle);

// SAFETY: a `LocalHandle` is !Send because it must not be used by two threads
// at once; nothing in it is tied to the identity of the thread that made it.
// `ThreadLocal` hands each cell only to the thread that owns its slot (a slot
// passes to a new thread only after the old one has exited, with the id
// recycling synchronised by `thread_local`), and drops the cells only when the
// `Crossbeam` value is dropped, which requires that no guard, and hence no
// thread, still uses any handle.
#[cfg(not(epoch_cache_loom))]
unsafe impl Send for HandleCell {}

impl sealed::Sealed for Crossbeam {}

impl std::fmt::Debug for Crossbeam {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Crossbeam")
    }
}

/// A crossbeam guard tied to the lifetime of its cache.
pub struct CrossbeamGuard<'a> {
    guard: crossbeam_epoch::Guard,
    _cache: PhantomData<&'a Crossbeam>,
}

impl Reclaimer for Crossbeam {
    type Guard<'a> = CrossbeamGuard<'a>;

    fn new() -> Self {
        Crossbeam {
            #[cfg(not(epoch_cache_loom))]
            handles: thread_local::ThreadLocal::new(),
            collector: crossbeam_epoch::Collector::new(),
        }
    }

    #[inline]
    fn pin(&self) -> Self::Guard<'_> {
        #[cfg(not(epoch_cache_loom))]
        let guard = self
            .handles
            .get_or(|| HandleCell(self.collector.register()))
            .0
            .pin();
        // Loom threads share one OS thread, so `thread_local` cannot tell them
        // apart; register a fresh handle instead (the guard keeps it alive).
        #[cfg(epoch_cache_loom)]
        let guard = self.collector.register().pin();
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
            return unsafe { drop_box(ptr) };
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
struct SendPtr<T>(*mut T);

// SAFETY: only `retire` builds one, for a `T: Send` that no one else can reach.
unsafe impl<T: Send> Send for SendPtr<T> {}

/// The default backend: crossbeam-epoch, chosen by measurement.
///
/// On the read path (a pin and an unpin around every `get`), crossbeam's pin
/// (one `lock cmpxchg`) beat seize's enter and leave (a store, then an `xchg`,
/// plus two thread-local lookups) in every one-thread run here: 75 to 86
/// against 65 to 70 million gets a second on 16,384 hot keys (see
/// BENCHMARKS.md for the full tables). It is also the backend that loom models.
/// Seize remains available; it bounds garbage per thread more tightly.
pub type DefaultReclaimer = Crossbeam;
