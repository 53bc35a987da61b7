//! A bounded concurrent cache whose reads take no lock and touch no reference
//! count.
//!
//! (crate guide: filled in below)

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod builder;
mod cache;
mod clock;
mod error;
mod flight;
mod iter;
mod raw;
mod refs;
mod removal;
mod stats;
mod sync;

pub use builder::Builder;
pub use cache::{Cache, DefaultHashBuilder};
pub use error::BuildError;
pub use iter::Iter;
#[cfg(not(epoch_cache_loom))]
pub use raw::reclaim::Seize;
pub use raw::reclaim::{Crossbeam, CrossbeamGuard, DefaultReclaimer, Reclaimer};
pub use refs::{Pinned, Ref};
pub use removal::RemovalCause;
pub use stats::CacheStats;
