//! The one place that imports atomics and the blocking primitives.
//!
//! Under `--cfg epoch_cache_loom` every atomic, lock and condition variable
//! comes from loom, so the model checker in `loom-tests/` explores the real
//! table and single-flight protocols. Nothing else in the crate names
//! `std::sync::atomic`, `std::sync::Mutex` or `loom` directly.

#[cfg(not(epoch_cache_loom))]
pub(crate) use std::sync::atomic::{
    fence, AtomicPtr, AtomicU16, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(not(epoch_cache_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(epoch_cache_loom))]
pub(crate) use std::thread::{current as current_thread, ThreadId};

#[cfg(epoch_cache_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicPtr, AtomicU16, AtomicU64, AtomicU8, AtomicUsize, Ordering,
};
#[cfg(epoch_cache_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(epoch_cache_loom)]
pub(crate) use loom::thread::{current as current_thread, ThreadId};

// Thread-locals and yielding: loom's threads share one OS thread, so a std
// thread-local cannot tell them apart; loom's are per modelled thread and are
// dropped when that thread ends, as std's are at thread exit.
#[cfg(epoch_cache_loom)]
pub(crate) use loom::thread::{yield_now, LocalKey};
#[cfg(not(epoch_cache_loom))]
pub(crate) use std::thread::{yield_now, LocalKey};

/// `thread_local!` with a constant initializer: std's, or loom's under loom
/// (which takes no `const` block).
macro_rules! const_thread_local {
    ($(#[$attr:meta])* static $name:ident: $t:ty = $init:expr;) => {
        #[cfg(not(epoch_cache_loom))]
        std::thread_local! { $(#[$attr])* static $name: $t = const { $init }; }
        #[cfg(epoch_cache_loom)]
        loom::thread_local! { $(#[$attr])* static $name: $t = $init; }
    };
}
pub(crate) use const_thread_local;

/// A cell whose accesses loom checks for races under loom (loom's
/// `UnsafeCell`), and std's `UnsafeCell` otherwise, behind loom's API: a
/// closure gets the raw pointer, for a shared (`with`) or an exclusive
/// (`with_mut`) access.
#[cfg(not(epoch_cache_loom))]
#[derive(Debug, Default)]
pub(crate) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(epoch_cache_loom))]
impl<T> UnsafeCell<T> {
    /// A shared access: `f` may only read through the pointer.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// An exclusive access: no other access may overlap it.
    #[inline]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

#[cfg(epoch_cache_loom)]
pub(crate) use loom::cell::UnsafeCell;

/// Atomics that stay std's even under loom: the process-wide clock (a static,
/// which loom's atomics cannot be) and counters and hints that order nothing
/// else (statistics, the "has deadlines" flag, the per-thread slots' owner
/// ids). Loom need not model them.
pub(crate) mod unmodeled {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
}
