//! What the benches (`benches/`) and the demo (`examples/compare/`) share:
//! the contenders behind one trait, the workloads with their precomputed key
//! streams, and runners that start every thread together.
//!
//! A workspace-internal crate (`publish = false`), a dev-dependency of
//! `epoch-cache`; it depends on `epoch-cache` itself, as the benches do.

#![forbid(unsafe_code)]

pub mod contenders;
pub mod latency;
mod runner;
mod workloads;
pub mod zipf;

pub use runner::{drive, median, run_for, run_iters, Budget, Measured, Tally};
pub use workloads::{Streams, Workload};

/// The capacity of every throughput cache.
pub const CAPACITY: usize = 65_536;
/// The keys of `read-100`, all inserted before timing.
pub const HOT_KEYS: u64 = 16_384;
/// The keyspace of `get+insert-on-miss`: 16 times the capacity.
pub const MISS_KEYSPACE: u64 = 16 * CAPACITY as u64;
/// The zipf exponent of every skewed workload.
pub const ZIPF_S: f64 = 0.99;
/// Keys per thread stream; a power of two, replayed in a loop.
pub const STREAM_LEN: usize = 1 << 20;
/// The stream word's top bit: insert this key (keys use 63 bits).
pub const INSERT: u64 = 1 << 63;
