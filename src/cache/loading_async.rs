//! Loading with a future, under the same single flight as the sync loaders:
//! `get_or_insert_async` and its fallible and borrowed-key forms.
//!
//! No pin, lock or `Ref` lives across an `.await` here: each step that pins
//! (a lookup and clone, joining a flight, the insert) runs to its end within
//! one poll, so the futures are `Send` whenever `K`, `V`, the hasher and the
//! loader are.

use std::borrow::Borrow;
use std::convert::Infallible;
use std::future::Future;
use std::hash::{BuildHasher, Hash};

use super::Cache;
use crate::flight::Entered;
use crate::raw::reclaim::Reclaimer;

impl<K, V, S, R> Cache<K, V, S, R>
where
    K: Hash + Eq + Send + Sync,
    V: Send + Sync + Clone,
    S: BuildHasher,
    R: Reclaimer,
{
    /// Returns a clone of `key`'s value, inserting the output of `init` if
    /// the key is absent; of many tasks (or threads) asking at once for the
    /// same absent key, one awaits its `init` and the others wait for it,
    /// then read what it inserted. The async twin of
    /// [`get_or_insert_with`](Self::get_or_insert_with), with which it shares
    /// its flights: a sync and an async caller of one key run one loader.
    ///
    /// - Runtime-agnostic: waiting tasks are woken through
    ///   [`event-listener`](https://docs.rs/event-listener), and never block
    ///   their thread.
    /// - Cancellation-safe: if the leading task is dropped (aborted, timed
    ///   out) before its `init` completes, the flight ends with no entry and
    ///   one waiting caller takes over at once with its own `init`.
    /// - A panic in `init` reaches the task that polls it and leaves no
    ///   entry; waiters take over, as for a failure.
    /// - The future holds no epoch pin and no lock across an `.await`, and
    ///   is `Send` whenever `K`, `V`, `S` and `init` are (so it works in
    ///   `tokio::spawn`). It returns a clone, not a [`Ref`](crate::Ref): a
    ///   `Ref` is a pin and cannot be kept across an `.await`; store `Arc<V>`
    ///   values to make the clone cheap.
    /// - On a present key it costs about what
    ///   [`get_cloned`](Self::get_cloned) costs; `init` is dropped unpolled.
    /// - A sync caller of a key whose loader is an async task blocks its
    ///   thread until that task finishes: on a single-threaded executor that
    ///   also runs the loader, it never does. Use the async form from async
    ///   code.
    /// - A loader that awaits its own key never finishes (a task cannot be
    ///   told from its waiters, so this is not detected, unlike the sync
    ///   form's re-entry); one that awaits other keys is fine. Called from
    ///   inside a sync initializer of the same key, it panics, as the sync
    ///   form does.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, String> = Cache::new(100);
    /// let loaded = pollster::block_on(async {
    ///     cache.get_or_insert_async(7, async { "seven".to_string() }).await
    /// });
    /// assert_eq!(loaded, "seven");
    /// let again = pollster::block_on(cache.get_or_insert_async(7, async { unreachable!() }));
    /// assert_eq!(again, "seven");
    /// ```
    pub async fn get_or_insert_async(&self, key: K, init: impl Future<Output = V>) -> V {
        let init = async { Ok::<V, Infallible>(init.await) };
        match self.try_get_or_insert_async(key, init).await {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// Like [`get_or_insert_async`](Self::get_or_insert_async), for a loader
    /// that can fail: an `Err` goes to its own caller and inserts nothing,
    /// and the callers waiting on it retry with their own `init`.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<u64, u64> = Cache::new(100);
    /// pollster::block_on(async {
    ///     let failed = cache.try_get_or_insert_async(1, async { Err("backend down") }).await;
    ///     assert_eq!(failed, Err("backend down"));
    ///     assert!(!cache.contains_key(&1));
    ///     let loaded = cache.try_get_or_insert_async(1, async { Ok::<_, &str>(10) }).await;
    ///     assert_eq!(loaded, Ok(10));
    /// });
    /// ```
    pub async fn try_get_or_insert_async<E>(
        &self,
        key: K,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let hash = self.core.hash(&key);
        if let Some(found) = self.core.cloned(hash, &key, true) {
            return Ok(found);
        }
        self.load_async(key, hash, init).await
    }

    /// Like [`get_or_insert_async`](Self::get_or_insert_async), with the key
    /// borrowed: it is turned into an owned `K` (`to_owned`) only if it must
    /// be inserted, so a hit on a `String` key allocates nothing.
    ///
    /// ```
    /// use epoch_cache::Cache;
    ///
    /// let cache: Cache<String, usize> = Cache::new(100);
    /// let len = pollster::block_on(cache.get_or_insert_async_ref("four", async { 4 }));
    /// assert_eq!(len, 4);
    /// assert_eq!(cache.get_cloned("four"), Some(4));
    /// ```
    pub async fn get_or_insert_async_ref<Q>(&self, key: &Q, init: impl Future<Output = V>) -> V
    where
        K: Borrow<Q>,
        Q: ToOwned<Owned = K> + Hash + Eq + ?Sized,
    {
        let hash = self.core.hash(key);
        if let Some(found) = self.core.cloned(hash, key, true) {
            return found;
        }
        let init = async { Ok::<V, Infallible>(init.await) };
        match self.load_async(key.to_owned(), hash, init).await {
            Ok(value) => value,
            Err(never) => match never {},
        }
    }

    /// The miss path: await the key's flight, or lead one.
    async fn load_async<E>(
        &self,
        mut key: K,
        hash: u64,
        init: impl Future<Output = Result<V, E>>,
    ) -> Result<V, E> {
        let leading = loop {
            // Each step runs pinned only within this poll (`enter_flight`
            // and `cloned` unpin before they return).
            let entered = self.core.enter_flight(key, hash);
            match entered {
                Entered::Present(returned) => {
                    if let Some(found) = self.core.cloned(hash, &returned, false) {
                        return Ok(found);
                    }
                    key = returned; // gone again: enter again
                }
                Entered::Wait(returned, waiting) => {
                    waiting.finished().await;
                    key = returned;
                }
                Entered::Lead(leading) => break leading,
            }
        };
        // An Err, a panic, or this future dropped while `init` is pending all
        // drop `leading`, which ends the flight: a waiter takes over.
        let value = init.await?;
        // Cloned before the insert, unpinned: `Clone` is user code.
        let copy = value.clone();
        // Dropped at once: its pin goes, then the listener runs unpinned.
        drop(self.core.land(leading, hash, value));
        Ok(copy)
    }
}
