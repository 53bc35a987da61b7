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
    discard_panic(panic::catch_unwind(AssertUnwindSafe(move || drop(owned))));
}

/// Discards a caught panic. The payload is forgotten, not dropped: a payload
/// whose own `Drop` panics would otherwise escape right here, in the middle of
/// an operation that must finish (a leak of the payload is the lesser harm).
pub(crate) fn discard_panic(result: std::thread::Result<()>) {
    if let Err(payload) = result {
        std::mem::forget(payload);
    }
}

/// The seize backend: one `seize::Collector` per cache. Entering costs no
/// fence with the membarrier strategy, garbage is bounded per thread, and
/// dropping the collector reclaims every retired entry.
///
/// Known limitation (seize 0.5.1, upstream): seize hands a thread's
/// reservation to a new thread once the first thread's own thread-local
/// guard is destroyed, which can happen while that thread still runs other
/// thread-local destructors. Do not keep a [`Ref`](crate::Ref),
/// [`Pinned`](crate::Pinned) or [`Iter`](crate::Iter) of a seize-backed cache
/// in thread-local storage; dropping it from a thread-local destructor can
/// race with another thread's pin. The default [`Crossbeam`] backend checks
/// the owner of each handle and has no such limitation.
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

/// The current thread's `LocalHandle` for one cache, in the per-cache
/// thread-local table.
///
/// `thread_local` recycles a thread's slot once that thread's own TLS guard is
/// destroyed, which can happen while the thread still runs other TLS
/// destructors (one of which may drop a `Ref` and so unpin this handle). A
/// thread handed a slot whose owner may still be alive must therefore not use
/// the owner's handle: it checks `owner` and, if it is not the owner, uses a
/// handle of its own from `strangers`, a lock-free list.
#[cfg(not(epoch_cache_loom))]
struct HandleCell {
    /// `thread_token()` of the thread that registered `handle`.
    owner: usize,
    // Invariant: pinned (and so touched) only by the thread whose token is
    // `owner`, until the cache is dropped.
    handle: crossbeam_epoch::LocalHandle,
    // Invariant: null or a `Box<Stranger>` from `pin_stranger`; nodes are
    // only added (at the head), never removed before the cell is dropped.
    strangers: AtomicPtr<Stranger>,
}

/// The handle of a thread that was handed someone else's slot.
#[cfg(not(epoch_cache_loom))]
struct Stranger {
    token: usize,
    // Invariant: pinned only by the thread whose token is `token`.
    handle: crossbeam_epoch::LocalHandle,
    /// Written once, before the node is published.
    next: *mut Stranger,
}

/// An identity of the current thread that no other *live* thread shares: the
/// address of a thread-local byte. A thread that has exited may leave its
/// address to a new thread; by then it touches no handle any more.
#[cfg(not(epoch_cache_loom))]
#[inline]
fn thread_token() -> usize {
    thread_local! {
        static TOKEN: u8 = const { 0 };
    }
    TOKEN.with(|byte| (byte as *const u8).addr())
}

#[cfg(not(epoch_cache_loom))]
impl HandleCell {
    fn new(owner: usize, handle: crossbeam_epoch::LocalHandle) -> Self {
        HandleCell {
            owner,
            handle,
            strangers: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    #[inline]
    fn pin(&self, me: usize, collector: &crossbeam_epoch::Collector) -> crossbeam_epoch::Guard {
        if self.owner == me {
            return self.handle.pin();
        }
        self.pin_stranger(me, collector)
    }

    /// How many strangers have a handle here (tests).
    #[cfg(test)]
    fn stranger_count(&self) -> usize {
        let mut count = 0;
        // Acquire: as in `pin_stranger`.
        let mut node = self.strangers.load(Ordering::Acquire);
        while !node.is_null() {
            count += 1;
            // SAFETY: as in `pin_stranger`.
            node = unsafe { (*node).next };
        }
        count
    }

    /// The slow path: this thread was handed another thread's slot. Finds its
    /// own handle in the list, or registers one and pushes it; no lock.
    #[cold]
    #[inline(never)]
    fn pin_stranger(
        &self,
        me: usize,
        collector: &crossbeam_epoch::Collector,
    ) -> crossbeam_epoch::Guard {
        // Acquire: pairs with the Release CAS that pushed each node, so its
        // fields (and `next`) are initialised when we read them.
        let mut node = self.strangers.load(Ordering::Acquire);
        while !node.is_null() {
            // SAFETY: a published node stays allocated until the cell is
            // dropped (invariant), which cannot happen while we borrow it.
            let stranger = unsafe { &*node };
            if stranger.token == me {
                return stranger.handle.pin();
            }
            node = stranger.next;
        }
        let handle = collector.register();
        let guard = handle.pin();
        let node = Box::into_raw(Box::new(Stranger {
            token: me,
            handle,
            next: std::ptr::null_mut(),
        }));
        // Relaxed: the head is only the CAS's expected value; the Release CAS
        // below publishes the node.
        let mut head = self.strangers.load(Ordering::Relaxed);
        loop {
            // SAFETY: `node` is ours until the CAS below publishes it.
            unsafe { (*node).next = head };
            // Release on success: publishes the node's fields to the Acquire
            // loads above. Relaxed on failure: we only retry with the new head.
            match self.strangers.compare_exchange_weak(
                head,
                node,
                Ordering::Release,
                Ordering::Relaxed,
            ) {
                Ok(_) => return guard,
                Err(current) => head = current,
            }
        }
    }
}

#[cfg(not(epoch_cache_loom))]
impl Drop for HandleCell {
    fn drop(&mut self) {
        let mut node = *self.strangers.get_mut();
        while !node.is_null() {
            // SAFETY: `&mut self`: no thread uses the list any more, and each
            // node came from `Box::into_raw` in `pin_stranger`, freed once here.
            let stranger = unsafe { Box::from_raw(node) };
            node = stranger.next;
        }
    }
}

// SAFETY: a `LocalHandle` is !Send and !Sync because its `Local` must not be
// used by two threads at once; nothing in it is tied to the identity of the
// thread that made it. Each handle in a cell is pinned only by the thread
// whose token it is filed under (tokens are unique among live threads), so no
// two threads ever use one `Local`; what several threads do share is the
// immutable `owner` and the list, whose nodes are immutable once published.
// The cells are dropped only with the `Crossbeam` value, when no guard, and
// hence no thread, uses any handle, and that drop happens after every use
// (whatever handed the cache to the dropping thread ordered it).
#[cfg(not(epoch_cache_loom))]
unsafe impl Send for HandleCell {}
// SAFETY: as for Send: shared access is to `owner` (immutable) and the list
// (published, immutable nodes); each handle is used by one thread only.
#[cfg(not(epoch_cache_loom))]
unsafe impl Sync for HandleCell {}

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
        let guard = {
            let me = thread_token();
            let cell = self
                .handles
                .get_or(|| HandleCell::new(me, self.collector.register()));
            cell.pin(me, &self.collector)
        };
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

#[cfg(all(test, not(epoch_cache_loom)))]
mod tests {
    // Named `crossbeam::` so that the strict-provenance Miri runs skip it.
    mod crossbeam {
        use super::super::*;

        /// A thread handed a slot whose owner may still be alive (a recycled
        /// `thread_local` id) must get a handle of its own, not the owner's.
        #[test]
        fn strangers_never_share_the_owners_handle() {
            let collector = crossbeam_epoch::Collector::new();
            let cell = HandleCell::new(thread_token(), collector.register());
            drop(cell.pin(thread_token(), &collector));
            assert_eq!(cell.stranger_count(), 0, "the owner uses its own handle");
            let stranger = thread_token() ^ 0x40; // any token but the owner's
            drop(cell.pin(stranger, &collector));
            drop(cell.pin(stranger, &collector));
            assert_eq!(cell.stranger_count(), 1, "one handle per stranger, reused");
            std::thread::spawn(move || {
                let other = thread_token();
                assert_ne!(other, cell.owner, "live threads have distinct tokens");
                drop(cell.pin(other, &collector));
                assert_eq!(cell.stranger_count(), 2);
            })
            .join()
            .unwrap();
        }
    }
}
