//! The one place that imports atomics and the blocking primitives.
//!
//! Under `--cfg epoch_cache_loom` every atomic, lock and condition variable
//! comes from loom, so the model checker in `loom-tests/` explores the real
//! table and single-flight protocols. Nothing else in the crate names
//! `std::sync::atomic`, `std::sync::Mutex` or `loom` directly.

#[cfg(not(epoch_cache_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(epoch_cache_loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};
#[cfg(not(epoch_cache_loom))]
pub(crate) use std::thread::{current as current_thread, ThreadId};

#[cfg(epoch_cache_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering,
};
#[cfg(epoch_cache_loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};
#[cfg(epoch_cache_loom)]
pub(crate) use loom::thread::{current as current_thread, ThreadId};

/// Atomics that stay std's even under loom: the process-wide clock (a static,
/// which loom's atomics cannot be) and counters and hints that order nothing
/// else (statistics, the "has deadlines" flag). Loom need not model them.
///
/// The per-thread slots (`raw::per_thread`) use them too: their registry is a
/// std thread-local, which outlives a loom model. Under loom only the
/// statistics keep slots (the crossbeam backend registers a handle per pin).
pub(crate) mod unmodeled {
    /// For the crossbeam backend's handle cells, which loom never builds.
    #[cfg(not(epoch_cache_loom))]
    pub(crate) use std::cell::UnsafeCell;
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicU8, Ordering};
}
