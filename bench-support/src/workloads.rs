//! The workloads: what each one does, the cache state it starts from, and the
//! key streams its threads replay.

use std::collections::HashMap;
use std::sync::Arc;

use crate::contenders::Contender;
use crate::zipf::{key_of, zipf_keys, Rng};
use crate::{CAPACITY, HOT_KEYS, INSERT, MISS_KEYSPACE, STREAM_LEN, ZIPF_S};

/// One of the four workloads every contender runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Workload {
    /// `get` of 16,384 pre-inserted keys, zipf(0.99): every lookup hits.
    Read100,
    /// zipf(0.99) over 65,536 pre-inserted keys; one operation in 20 is an
    /// insert (of a key already present, or evicted meanwhile).
    Read95Insert5,
    /// `get`, then `insert` on a miss, zipf(0.99) over 16x the capacity.
    GetInsertOnMiss,
    /// Inserts of fresh random keys into a full cache: every one evicts.
    Insert100,
}

impl Workload {
    pub const ALL: [Workload; 4] = [
        Workload::Read100,
        Workload::Read95Insert5,
        Workload::GetInsertOnMiss,
        Workload::Insert100,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Read100 => "read-100",
            Workload::Read95Insert5 => "read-95-insert-5",
            Workload::GetInsertOnMiss => "get-insert-on-miss",
            Workload::Insert100 => "insert-100",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Workload::Read100 => "get of 16,384 pre-inserted keys, zipf(0.99): every key hits",
            Workload::Read95Insert5 => {
                "zipf(0.99) over 65,536 pre-inserted keys, 95% get, 5% insert"
            }
            Workload::GetInsertOnMiss => {
                "get, insert on a miss; zipf(0.99) over 1,048,576 keys (16x capacity)"
            }
            Workload::Insert100 => {
                "insert of fresh random keys into a full cache (every insert evicts)"
            }
        }
    }

    /// Fills a new cache before timing: the keys every thread will look up
    /// (`read-100`, `read-95`), or the hottest `CAPACITY` ranks (the cache's
    /// steady state under `get+insert-on-miss`; fullness for `insert-100`).
    pub fn prefill<C: Contender>(self, cache: &C) {
        let n = if self == Workload::Read100 {
            HOT_KEYS
        } else {
            CAPACITY as u64
        };
        for rank in 0..n {
            let key = key_of(rank);
            cache.insert(key, key);
        }
        cache.sync();
    }

    /// The key stream of thread `thread`: distinct per thread, the same in
    /// every run.
    pub fn stream(self, thread: usize) -> Vec<u64> {
        let seed = ((self as u64) << 32) ^ thread as u64;
        match self {
            Workload::Read100 => zipf_keys(HOT_KEYS, ZIPF_S, STREAM_LEN, seed),
            Workload::Read95Insert5 => {
                let mut rng = Rng::new(!seed);
                let mut keys = zipf_keys(CAPACITY as u64, ZIPF_S, STREAM_LEN, seed);
                for key in &mut keys {
                    if rng.next_u64() % 20 == 0 {
                        *key |= INSERT;
                    }
                }
                keys
            }
            Workload::GetInsertOnMiss => zipf_keys(MISS_KEYSPACE, ZIPF_S, STREAM_LEN, seed),
            Workload::Insert100 => {
                let mut rng = Rng::new(seed);
                (0..STREAM_LEN).map(|_| rng.next_u64() >> 1).collect()
            }
        }
    }
}

/// A workload and a thread index: names one key stream.
type StreamId = (Workload, usize);

/// Key streams, made once and shared by every contender.
#[derive(Default)]
pub struct Streams(HashMap<StreamId, Arc<[u64]>>);

impl Streams {
    /// Makes the streams of `threads` threads for each workload, in parallel.
    pub fn prepare(&mut self, workloads: &[Workload], threads: usize) {
        let missing: Vec<StreamId> = workloads
            .iter()
            .flat_map(|&w| (0..threads).map(move |t| (w, t)))
            .filter(|key| !self.0.contains_key(key))
            .collect();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let chunk = missing.len().div_ceil(workers).max(1);
        let made: Vec<(StreamId, Arc<[u64]>)> = std::thread::scope(|s| {
            let handles: Vec<_> = missing
                .chunks(chunk)
                .map(|jobs| {
                    s.spawn(move || {
                        jobs.iter()
                            .map(|&(w, t)| ((w, t), w.stream(t).into()))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("stream generation"))
                .collect()
        });
        self.0.extend(made);
    }

    /// The streams of threads `0..threads` (made on demand).
    pub fn get(&mut self, workload: Workload, threads: usize) -> Vec<Arc<[u64]>> {
        self.prepare(&[workload], threads);
        (0..threads)
            .map(|t| Arc::clone(&self.0[&(workload, t)]))
            .collect()
    }
}
