//! Shared by the integration tests: one size table, a drop-counting value,
//! and a macro that runs each test against both reclamation backends.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use epoch_cache::{Cache, DefaultHashBuilder, Reclaimer};

/// Sizes for the tests in this directory: small under Miri.
pub struct Sizes {
    pub threads: usize,
    pub ops_per_thread: usize,
    pub capacity: usize,
    pub keys: u64,
}

#[cfg(not(miri))]
pub const SIZES: Sizes = Sizes {
    threads: 4,
    ops_per_thread: 50_000,
    capacity: 256,
    keys: 1_024,
};

#[cfg(miri)]
pub const SIZES: Sizes = Sizes {
    threads: 3,
    ops_per_thread: 150,
    capacity: 16,
    keys: 48,
};

pub type TestCache<K, V, R> = Cache<K, V, DefaultHashBuilder, R>;

pub fn cache<K, V, R: Reclaimer>(capacity: usize) -> TestCache<K, V, R> {
    Cache::builder()
        .capacity(capacity)
        .reclaimer::<R>()
        .build()
        .expect("valid capacity")
}

/// Counts how many values were created and how many dropped.
#[derive(Default)]
pub struct DropLedger {
    pub created: AtomicUsize,
    pub dropped: AtomicUsize,
}

impl DropLedger {
    pub fn value(self: &Arc<Self>, payload: u64) -> Counted {
        self.created.fetch_add(1, Ordering::Relaxed);
        Counted {
            payload,
            check: !payload,
            ledger: Arc::clone(self),
        }
    }

    pub fn live(&self) -> usize {
        // `dropped` first: both only grow and a value is created before it
        // is dropped, so `created` read after it is at least as large, even
        // while other threads create and drop values.
        let dropped = self.dropped.load(Ordering::SeqCst);
        self.created.load(Ordering::SeqCst) - dropped
    }
}

/// A value that records its drop, and whose two fields must agree: a value
/// read after being freed (or half-written) fails `assert_intact`.
pub struct Counted {
    pub payload: u64,
    check: u64,
    ledger: Arc<DropLedger>,
}

impl Counted {
    pub fn assert_intact(&self) {
        assert_eq!(self.check, !self.payload, "value corrupted");
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.assert_intact();
        self.check = 0xDEAD; // poison: a later read of this value fails
        self.ledger.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// A small deterministic generator (xorshift), so tests need no extra crate.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Runs each listed generic test `fn name<R: Reclaimer>()` once per backend.
#[macro_export]
macro_rules! for_each_backend {
    ($($name:ident),* $(,)?) => {
        mod seize {
            $( #[test] fn $name() { super::$name::<epoch_cache::Seize>() } )*
        }
        mod crossbeam {
            $( #[test] fn $name() { super::$name::<epoch_cache::Crossbeam>() } )*
        }
    };
}
