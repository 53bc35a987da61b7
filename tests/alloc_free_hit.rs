//! A hit through the borrowed-key loaders allocates nothing: a `String` key
//! is made only to insert it. Alone in its binary, which counts this thread's
//! allocations with a global allocator of its own.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use epoch_cache::Cache;

/// The system allocator, counting the allocations of threads that ask.
struct Counting;

thread_local! {
    /// This thread's allocations, while counting (`Some`).
    static ALLOCATIONS: Cell<Option<usize>> = const { Cell::new(None) };
}

// SAFETY: every call is forwarded to `System` unchanged; the count is a
// const-initialised thread-local `Cell`, which allocates nothing.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get().map(|n| n + 1)));
        // SAFETY: the caller's contract is `System`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as in `alloc`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How many allocations `work` made on this thread.
fn allocations(work: impl FnOnce()) -> usize {
    ALLOCATIONS.with(|n| n.set(Some(0)));
    work();
    ALLOCATIONS.with(|n| n.replace(None)).unwrap()
}

struct NoWake;

impl Wake for NoWake {
    fn wake(self: Arc<Self>) {}
}

/// Polls a future that must be ready at once.
fn ready_now<F: Future>(future: F, context: &mut Context<'_>) -> F::Output {
    match pin!(future).poll(context) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a hit is ready at its first poll"),
    }
}

#[test]
fn a_hit_with_a_borrowed_key_allocates_nothing() {
    let cache: Cache<String, u64> = Cache::new(100);
    let waker = Waker::from(Arc::new(NoWake));
    let mut context = Context::from_waker(&waker);
    // The first use of the cache on this thread registers it with the
    // reclaimer, which may allocate once.
    assert_eq!(*cache.get_or_insert_with_ref("key", || 1), 1);

    let sync_hits = allocations(|| {
        for _ in 0..100 {
            assert_eq!(*cache.get_or_insert_with_ref("key", || unreachable!()), 1);
        }
    });
    assert_eq!(sync_hits, 0, "get_or_insert_with_ref allocated on a hit");
    let async_hits = allocations(|| {
        for _ in 0..100 {
            let hit = cache.get_or_insert_async_ref("key", async { unreachable!() });
            assert_eq!(ready_now(hit, &mut context), 1);
        }
    });
    assert_eq!(async_hits, 0, "get_or_insert_async_ref allocated on a hit");

    // The control: the owned-key form allocates its key every time.
    let owned_hits = allocations(|| {
        for _ in 0..100 {
            let key = "key".to_string();
            assert_eq!(*cache.get_or_insert_with(key, || unreachable!()), 1);
        }
    });
    assert!(
        owned_hits >= 100,
        "the count sees the allocations: {owned_hits}"
    );
}
