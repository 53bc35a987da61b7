//! Per-thread pools of entry blocks whose grace period has passed, so that an
//! insert reuses the memory of an entry reclaimed on its thread instead of a
//! `free` and a `malloc` per entry.
//!
//! Reclamation drops a retired entry's key and value (`reclaim::drop_box`)
//! and hands its block to the pool of the thread that reclaims it
//! (`release`); an allocation of the
//! same layout on that thread takes a block back (`allocate`) before asking
//! the global allocator. Every block came from the global allocator with the
//! layout of its type, so a pooled block can go back to it at any time, and
//! `Box::from_raw` stays valid for an entry in a reused block.
//!
//! Bounds: a thread keeps blocks of at most `CLASSES` layouts, at most
//! `MAX_BLOCKS` and `CLASS_BYTES` bytes per layout (a block larger than
//! that is never pooled); beyond that a block goes back to the allocator. A
//! class left empty is given up to the next layout that needs one. A
//! thread's pool is freed when the thread exits; a block reclaimed after
//! that (by a thread-local destructor) is freed at once. The memory held is
//! thus at most 4 x 64 KiB of blocks per thread, plus at most 16 KiB of
//! bookkeeping per class, whatever the churn, and each live entry is still
//! exactly one allocation.
//!
//! Why: with glibc, `malloc` and `free` were about 270 of the 1,330
//! instructions of an insert that evicts (callgrind), and crossbeam's deferred
//! frees arrive in bursts of a bag or more, which overflow the allocator's
//! own per-thread cache (seven blocks a size in glibc's tcache).
//!
//! Off under loom (the models check the protocol, not the allocator), with
//! `--cfg epoch_cache_no_pool` (the AddressSanitizer and ThreadSanitizer
//! stages: a use after free of a reused block would look like a valid
//! access), and under Miri except in the crate's own unit tests (which
//! check the pool itself): Miri's integration tests must see a use after
//! reclamation as a use after free.

use std::alloc::Layout;
use std::ptr::NonNull;

/// Allocates a block for a `T` and moves `value` into it: a pooled block of
/// `T`'s layout if this thread has one, a new allocation otherwise. Like
/// `Box::into_raw(Box::new(value))`, and freed the same ways.
#[inline]
pub(crate) fn allocate<T>(value: T) -> *mut T {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return Box::into_raw(Box::new(value));
    }
    match take(layout) {
        Some(block) => {
            let ptr = block.as_ptr().cast::<T>();
            // SAFETY: a pooled block was allocated by the global allocator
            // with `layout`, `T`'s own, and holds no value (its last one was
            // dropped before it was pooled); this thread owns it now.
            unsafe { ptr.write(value) };
            ptr
        }
        None => Box::into_raw(Box::new(value)),
    }
}

/// Pools the block of a `T` whose value was dropped (or moved out), or frees
/// it when this thread's pool is full. The value is the caller's business:
/// `reclaim::drop_box` drops it, swallowing a panic, and then calls this.
///
/// # Safety
///
/// `ptr` came from `allocate::<T>` or `Box::<T>::into_raw`, holds no live
/// value any more, and no one else can reach it.
pub(crate) unsafe fn release<T>(ptr: *mut T) {
    let layout = Layout::new::<T>();
    if layout.size() == 0 {
        return;
    }
    // SAFETY: a box's pointer is never null.
    let block = unsafe { NonNull::new_unchecked(ptr.cast::<u8>()) };
    if let Some(block) = put(block, layout) {
        // SAFETY: allocated by the global allocator with `layout` (by
        // `Box::new` or by `allocate`, which pools only such blocks), and it
        // holds no value (the caller's promise).
        unsafe { std::alloc::dealloc(block.as_ptr(), layout) };
    }
}

#[cfg(not(any(epoch_cache_loom, epoch_cache_no_pool, all(miri, not(test)))))]
mod local {
    use std::cell::RefCell;

    use super::*;

    /// How many layouts a thread keeps blocks of.
    const CLASSES: usize = 4;
    /// The most blocks a thread keeps of one layout: a whole seize batch at
    /// its largest (`reclaim::seize`), which a thread reclaims at once.
    /// With 256, seize's single-thread insert-100 still spent 16% more
    /// instructions, in `malloc` and `free` (callgrind); crossbeam reclaims
    /// about two bags of 64 per collection.
    pub(super) const MAX_BLOCKS: usize = 2_048;
    /// The most bytes a thread keeps of one layout (2,048 entries of two
    /// `u64`s take 32 KiB).
    pub(super) const CLASS_BYTES: usize = 64 << 10;

    /// The blocks of one layout; `size == 0` marks an unused class.
    struct Class {
        size: usize,
        align: usize,
        // Invariant: each block was allocated by the global allocator with
        // `Layout::from_size_align(size, align)`, holds no value, and is owned
        // by this pool alone.
        blocks: Vec<NonNull<u8>>,
    }

    impl Class {
        const UNUSED: Class = Class {
            size: 0,
            align: 0,
            blocks: Vec::new(),
        };
    }

    pub(super) struct Pool {
        classes: [Class; CLASSES],
    }

    impl Drop for Pool {
        fn drop(&mut self) {
            for class in &mut self.classes {
                for block in class.blocks.drain(..) {
                    // SAFETY: by the invariant of `Class`, allocated with
                    // this layout and owned here alone.
                    unsafe {
                        std::alloc::dealloc(
                            block.as_ptr(),
                            Layout::from_size_align_unchecked(class.size, class.align),
                        )
                    };
                }
            }
        }
    }

    std::thread_local! {
        // A `RefCell`, so that a reentrant use (an allocator that itself
        // inserts into a cache) finds it busy and bypasses it.
        static POOL: RefCell<Pool> = const {
            RefCell::new(Pool {
                classes: [Class::UNUSED; CLASSES],
            })
        };
    }

    /// A pooled block of `layout`, if this thread has one.
    #[inline]
    pub(super) fn take(layout: Layout) -> Option<NonNull<u8>> {
        POOL.try_with(|pool| {
            let mut pool = pool.try_borrow_mut().ok()?;
            let class = pool
                .classes
                .iter_mut()
                .find(|c| c.size == layout.size() && c.align == layout.align())?;
            class.blocks.pop()
        })
        .ok()
        .flatten()
    }

    /// Pools `block` (of `layout`, holding no value); gives it back when the
    /// pool is full, busy or gone (the thread is exiting).
    #[inline]
    pub(super) fn put(block: NonNull<u8>, layout: Layout) -> Option<NonNull<u8>> {
        POOL.try_with(|pool| {
            let Ok(mut pool) = pool.try_borrow_mut() else {
                return Some(block);
            };
            // A block larger than a class may hold is never pooled.
            let limit = (CLASS_BYTES / layout.size()).min(MAX_BLOCKS);
            if limit == 0 {
                return Some(block);
            }
            // The layout's class, else an unused one, else one left empty
            // (a thread that moved on to other layouts gives its class up).
            let index = pool
                .classes
                .iter()
                .position(|c| c.size == layout.size() && c.align == layout.align())
                .or_else(|| pool.classes.iter().position(|c| c.blocks.is_empty()));
            let Some(index) = index else {
                return Some(block);
            };
            let class = &mut pool.classes[index];
            // Its `Vec` keeps its capacity when the class changes layout:
            // `MAX_BLOCKS` entries at most, bookkeeping of the same bound.
            class.size = layout.size();
            class.align = layout.align();
            if class.blocks.len() >= limit {
                return Some(block);
            }
            if class.blocks.capacity() < limit
                && class
                    .blocks
                    .try_reserve_exact(limit - class.blocks.len())
                    .is_err()
            {
                return Some(block);
            }
            class.blocks.push(block);
            None
        })
        .unwrap_or(Some(block))
    }

    /// How many blocks of `layout` this thread's pool holds.
    #[cfg(test)]
    pub(super) fn pooled(layout: Layout) -> usize {
        POOL.with_borrow(|pool| {
            pool.classes
                .iter()
                .find(|c| c.size == layout.size() && c.align == layout.align())
                .map_or(0, |c| c.blocks.len())
        })
    }
}

#[cfg(not(any(epoch_cache_loom, epoch_cache_no_pool, all(miri, not(test)))))]
use local::{put, take};

#[cfg(any(epoch_cache_loom, epoch_cache_no_pool, all(miri, not(test))))]
fn take(_: Layout) -> Option<NonNull<u8>> {
    None
}

#[cfg(any(epoch_cache_loom, epoch_cache_no_pool, all(miri, not(test))))]
fn put(block: NonNull<u8>, _: Layout) -> Option<NonNull<u8>> {
    Some(block)
}

#[cfg(all(test, not(any(epoch_cache_loom, epoch_cache_no_pool))))]
mod tests {
    use super::*;

    /// (The values are byte arrays: nothing to drop before `release`.)
    #[test]
    fn pools_are_bounded_per_layout() {
        std::thread::spawn(|| {
            const N: usize = 3_000;
            let blocks: Vec<*mut [u8; 64]> = (0..N).map(|_| allocate([7_u8; 64])).collect();
            for &block in &blocks {
                // SAFETY: from `allocate`, never shared.
                unsafe { release(block) };
            }
            let limit = (local::CLASS_BYTES / 64).min(local::MAX_BLOCKS);
            assert!(limit < N);
            assert_eq!(local::pooled(Layout::new::<[u8; 64]>()), limit);
            let reused = (0..N).map(|_| allocate([0_u8; 64])).collect::<Vec<_>>();
            assert_eq!(local::pooled(Layout::new::<[u8; 64]>()), 0);
            for block in reused {
                // SAFETY: as above.
                unsafe { release(block) };
            }
            // Layouts beyond the classes go straight back to the allocator.
            let (a, b, c, d) = (
                allocate([0_u8; 8]),
                allocate([0_u8; 24]),
                allocate([0_u8; 40]),
                allocate([0_u8; 48]),
            );
            // SAFETY: each from `allocate`, never shared.
            unsafe {
                release(a);
                release(b);
                release(c);
                release(d);
            }
            assert_eq!(local::pooled(Layout::new::<[u8; 8]>()), 1);
            assert_eq!(local::pooled(Layout::new::<[u8; 24]>()), 1);
            assert_eq!(local::pooled(Layout::new::<[u8; 40]>()), 1);
            assert_eq!(
                local::pooled(Layout::new::<[u8; 48]>()),
                0,
                "a fifth layout"
            );
            // A class left empty is given up to the next layout.
            let eight = allocate([1_u8; 8]);
            assert_eq!(local::pooled(Layout::new::<[u8; 8]>()), 0);
            // SAFETY: from `allocate`, never shared.
            unsafe { release(allocate([2_u8; 48])) };
            assert_eq!(
                local::pooled(Layout::new::<[u8; 48]>()),
                1,
                "took the empty class"
            );
            // SAFETY: as above.
            unsafe { release(eight) };
            assert_eq!(
                local::pooled(Layout::new::<[u8; 8]>()),
                0,
                "its class is gone"
            );
            // A block larger than a class may hold is never pooled.
            let big = allocate([3_u8; (64 << 10) + 1]);
            // SAFETY: as above.
            unsafe { release(big) };
            assert_eq!(local::pooled(Layout::new::<[u8; (64 << 10) + 1]>()), 0);
        })
        .join()
        .unwrap();
    }
}
