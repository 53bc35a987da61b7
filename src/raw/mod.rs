//! The unsafe core: sets of atomic slots, heap entries, the eviction policy
//! and the reclamation backends. `cache/` wraps it in a safe API.

pub(crate) mod departures;
pub(crate) mod entry;
pub(crate) mod fork;
pub(crate) mod guarded;
pub(crate) mod hooks;
mod idle;
mod insert;
pub(crate) mod per_thread;
pub(crate) mod policy;
mod pool;
pub(crate) mod reclaim;
pub(crate) mod set;
mod snapshot;
pub(crate) mod table;
#[cfg(any(test, fuzzing))]
mod validate;
mod weight;
pub(crate) mod word;
