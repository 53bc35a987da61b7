//! The one place that imports atomics.
//!
//! Under `--cfg epoch_cache_loom` every atomic comes from loom, so the model
//! checker in `loom-tests/` explores the real table protocol. Nothing else in
//! the crate names `std::sync::atomic` or `loom` directly.

#[cfg(not(epoch_cache_loom))]
pub(crate) use std::sync::atomic::{fence, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering};

#[cfg(epoch_cache_loom)]
pub(crate) use loom::sync::atomic::{
    fence, AtomicPtr, AtomicU16, AtomicU64, AtomicUsize, Ordering,
};

/// Atomics that stay std's even under loom: the process-wide clock (a static,
/// which loom's atomics cannot be) and counters and hints that order nothing
/// else (statistics, the "has deadlines" flag). Loom need not model them.
pub(crate) mod unmodeled {
    pub(crate) use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
}
