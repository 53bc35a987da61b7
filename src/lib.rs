//! A bounded concurrent cache whose reads take no lock and touch no reference
//! count.
//!
//! (crate guide: filled in below)

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod cache;
mod error;
mod raw;
mod removal;
mod sync;

pub use cache::{Builder, Cache, DefaultHashBuilder, Pinned, Ref};
pub use error::BuildError;
#[cfg(not(epoch_cache_loom))]
pub use raw::reclaim::Seize;
pub use raw::reclaim::{Crossbeam, CrossbeamGuard, DefaultReclaimer, Reclaimer};
pub use removal::RemovalCause;
