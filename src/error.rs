//! Errors from building a cache.

use std::fmt;

/// Why [`Builder::build`](crate::Builder::build) refused a configuration.
///
/// ```
/// use epoch_cache::{BuildError, Cache};
///
/// let err = Cache::<u64, u64>::builder().capacity(0).build().unwrap_err();
/// assert_eq!(err, BuildError::ZeroCapacity);
/// assert_eq!(err.to_string(), "cache capacity must be at least 1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BuildError {
    /// No capacity was given to the builder.
    MissingCapacity,
    /// A capacity of zero was asked for.
    ZeroCapacity,
    /// A time to live of zero was asked for: every entry would be expired at
    /// once.
    ZeroTimeToLive,
    /// A [`max_weight`](crate::Builder::max_weight) of zero was asked for.
    ZeroMaxWeight,
    /// A [`max_weight`](crate::Builder::max_weight) was given without a
    /// [`weigher`](crate::Builder::weigher).
    MaxWeightWithoutWeigher,
    /// A [`weigher`](crate::Builder::weigher) was given without a
    /// [`max_weight`](crate::Builder::max_weight).
    WeigherWithoutMaxWeight,
    /// A [`time_to_idle`](crate::Builder::time_to_idle) of zero was asked
    /// for: every entry would be expired at once.
    ZeroTimeToIdle,
    /// The table for this capacity would not fit in the address space (or
    /// would need more than 2^32 sets).
    CapacityTooLarge {
        /// The capacity asked for.
        capacity: usize,
    },
    /// The allocator could not provide the table.
    OutOfMemory {
        /// The size of the table that could not be allocated.
        bytes: usize,
    },
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BuildError::MissingCapacity => {
                f.write_str("cache capacity was not set: call `Builder::capacity`")
            }
            BuildError::ZeroCapacity => f.write_str("cache capacity must be at least 1"),
            BuildError::ZeroTimeToLive => f.write_str("time to live must be longer than zero"),
            BuildError::ZeroMaxWeight => f.write_str("max weight must be at least 1"),
            BuildError::MaxWeightWithoutWeigher => {
                f.write_str("max_weight was set without a weigher: call `Builder::weigher` too")
            }
            BuildError::WeigherWithoutMaxWeight => {
                f.write_str("a weigher was set without max_weight: call `Builder::max_weight` too")
            }
            BuildError::ZeroTimeToIdle => f.write_str("time to idle must be longer than zero"),
            BuildError::CapacityTooLarge { capacity } => {
                write!(
                    f,
                    "cache capacity {capacity} is too large: its table would not fit in memory"
                )
            }
            BuildError::OutOfMemory { bytes } => {
                write!(f, "could not allocate the cache's table of {bytes} bytes")
            }
        }
    }
}

impl std::error::Error for BuildError {}
