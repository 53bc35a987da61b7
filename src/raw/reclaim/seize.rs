//! The seize backend: one `seize::Collector` per cache.
//!
//! Seize keeps each thread's reservation in thread-locals of its own, and its
//! `enter` panics (so the process aborts) in a thread-local destructor that
//! runs after seize's thread-local guard is gone. So the backend notes, per
//! thread, whether that guard may be gone, and if so enters with an
//! `OwnedGuard`, which takes a reservation of its own and needs no
//! thread-local.

use std::cell::Cell;

use super::{drop_box, sealed, Reclaimer};
use crate::sync::{AtomicPtr, Ordering};

/// The seize backend: one `seize::Collector` per cache. Entering costs no
/// fence with the membarrier strategy, garbage is bounded per thread, and
/// dropping the collector reclaims every retired entry.
///
/// Which backend for writes: the default, crossbeam. A seize thread
/// retires entries in batches, each batch costing a process-wide barrier;
/// this crate sizes batches at a thirty-second of the capacity (32 to 2,048
/// entries), which brought two-thread writes from a quarter of crossbeam's
/// speed to 0.86x-0.97x (BENCHMARKS.md), at the price of that much garbage
/// per writing thread: a thread's unfilled batch (and its values' `Drop`)
/// waits until the batch fills, the thread exits or the cache is dropped
/// (crossbeam keeps up to a bag of 64 per thread the same way). Seize was
/// ahead on two-thread reads in the same runs.
///
/// A cache operation from a thread-local destructor is fine. Known limitation
/// (seize 0.5.1, upstream): seize hands a thread's reservation to a new
/// thread once the first thread's own thread-local guard is destroyed, which
/// can happen while that thread still runs other thread-local destructors. Do
/// not keep a [`Ref`](crate::Ref), [`Pinned`](crate::Pinned) or
/// [`Iter`](crate::Iter) of a seize-backed cache in thread-local storage;
/// dropping it from a thread-local destructor can race with another thread's
/// pin. The default [`Crossbeam`](super::Crossbeam) backend has no such
/// limitation.
///
/// ```
/// use epoch_cache::{Cache, DefaultHashBuilder, Seize};
///
/// let cache: Cache<u64, u64, DefaultHashBuilder, Seize> =
///     Cache::builder().capacity(100).reclaimer::<Seize>().build()?;
/// cache.insert(1, 2);
/// assert_eq!(cache.get_cloned(&1), Some(2));
/// # Ok::<(), epoch_cache::BuildError>(())
/// ```
pub struct Seize {
    collector: ::seize::Collector,
}

/// A seize guard: the thread's own, or one with a reservation of its own.
pub struct SeizeGuard<'a>(Entered<'a>);

enum Entered<'a> {
    /// The common case: the thread's reservation.
    Local(::seize::LocalGuard<'a>),
    /// In a thread-local destructor, once seize's thread-locals may be gone.
    Owned(::seize::OwnedGuard<'a>),
}

/// How far the current thread is in its life, as far as seize is concerned.
///
/// Thread-local destructors run in reverse order of registration (std's own
/// list, and glibc's `__cxa_thread_atexit_impl`, which std uses on Linux).
/// `EXIT_WATCH` is first touched right after a thread's first `enter`, so it
/// is registered after seize's guard and destroyed before it: while it lives,
/// seize's thread-locals do too.
const UNSEEN: u8 = 0;
/// `EXIT_WATCH` is registered and alive.
const ENTERED: u8 = 1;
/// `EXIT_WATCH` is destroyed: seize's guard may be too.
const EXITING: u8 = 2;

thread_local! {
    /// `UNSEEN`, `ENTERED` or `EXITING`. No destructor, so always reachable.
    static LIFE: Cell<u8> = const { Cell::new(UNSEEN) };
    /// Marks the thread `EXITING` when destroyed.
    static EXIT_WATCH: ExitWatch = const { ExitWatch };
}

struct ExitWatch;

impl Drop for ExitWatch {
    fn drop(&mut self) {
        LIFE.with(|life| life.set(EXITING));
    }
}

impl sealed::Sealed for Seize {}

impl std::fmt::Debug for Seize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seize")
    }
}

impl Seize {
    /// The thread's first pin: seize registers its thread-local guard, and
    /// then `EXIT_WATCH` is registered (see `ENTERED`).
    #[cold]
    #[inline(never)]
    fn pin_first(&self) -> SeizeGuard<'_> {
        let guard = self.collector.enter();
        EXIT_WATCH.with(|_| {});
        LIFE.with(|life| life.set(ENTERED));
        SeizeGuard(Entered::Local(guard))
    }

    #[cold]
    #[inline(never)]
    fn pin_exiting(&self) -> SeizeGuard<'_> {
        SeizeGuard(Entered::Owned(self.collector.enter_owned()))
    }
}

/// How many entries a thread retires before seize tries to reclaim them:
/// a thirty-second of the capacity, from 32 to 2,048, and never fewer than
/// the CPUs (seize's own default is the larger of 32 and the CPUs: a batch
/// smaller than the number of active threads is not retired, yet pays the
/// barrier).
///
/// Each batch costs a process-wide barrier (`membarrier`, which interrupts
/// every CPU running the process) when it is retired. With seize's default of
/// 32, two threads that insert fresh keys ran at a quarter of the crossbeam
/// backend's speed; with batches of 2,048, at 0.86x to 0.97x (insert-100
/// and get+insert-on-miss, capacity 65,536, this crate's BENCHMARKS.md). A batch is garbage that
/// waits, so it scales with the capacity: each thread holds at most a
/// thirty-second of it.
fn batch_size(capacity: usize) -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cpus = *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
    (capacity / 32).clamp(32, 2_048).max(cpus)
}

impl Reclaimer for Seize {
    type Guard<'a> = SeizeGuard<'a>;

    fn new(capacity: usize) -> Self {
        Seize {
            collector: ::seize::Collector::new().batch_size(batch_size(capacity)),
        }
    }

    #[inline]
    fn pin(&self) -> Self::Guard<'_> {
        match LIFE.with(Cell::get) {
            ENTERED => SeizeGuard(Entered::Local(self.collector.enter())),
            UNSEEN => self.pin_first(),
            _ => self.pin_exiting(),
        }
    }

    #[inline]
    fn protect<T>(guard: &Self::Guard<'_>, slot: &AtomicPtr<T>, order: Ordering) -> *mut T {
        match &guard.0 {
            Entered::Local(guard) => ::seize::Guard::protect(guard, slot, order),
            Entered::Owned(guard) => ::seize::Guard::protect(guard, slot, order),
        }
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
            unsafe fn reclaim<T>(ptr: *mut T, _: &::seize::Collector) {
                // SAFETY: seize calls this once, after every guard that could
                // observe `ptr` is gone (retire's contract 2).
                unsafe { drop_box(ptr) }
            }
            // SAFETY: retire's contract 1 and 2 are seize's `defer_retire`
            // contract; `reclaim` recycles a block from `pool::allocate` (or a
            // `Box`), which is what `ptr` is (1).
            unsafe {
                match &guard.0 {
                    Entered::Local(guard) => ::seize::Guard::defer_retire(guard, ptr, reclaim::<T>),
                    Entered::Owned(guard) => ::seize::Guard::defer_retire(guard, ptr, reclaim::<T>),
                }
            }
        }
    }
}
