//! The unsafe core: sets of atomic slots, heap entries, the eviction policy
//! and the reclamation backends. `cache.rs` wraps it in a safe API.

pub(crate) mod entry;
pub(crate) mod policy;
pub(crate) mod reclaim;
pub(crate) mod set;
pub(crate) mod table;
