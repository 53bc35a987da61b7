//! `get_or_insert_async` and `try_get_or_insert_async`: single flight across
//! tasks and threads, cancellation, panics and errors, `Send`, and waiters
//! that never block their executor's thread.
//!
//! Time bounds here are generous liveness bounds (a loader that would take
//! 30 s against a waiter that must finish within 5 s), never speed goals.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use epoch_cache::Cache;
use tokio::sync::oneshot;

/// A generous bound for anything that should take milliseconds.
const LIVENESS: Duration = Duration::from_secs(5);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap()
}

/// Many tasks asking for one absent key run one loader, and all get its
/// value.
#[test]
fn tasks_share_one_load() {
    runtime().block_on(async {
        let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(100));
        let loads = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..32)
            .map(|task| {
                let (cache, loads) = (Arc::clone(&cache), Arc::clone(&loads));
                tokio::spawn(async move {
                    cache
                        .get_or_insert_async(7, async move {
                            loads.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            task
                        })
                        .await
                })
            })
            .collect();
        let mut values = Vec::new();
        for task in tasks {
            values.push(task.await.unwrap());
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1, "more than one loader ran");
        assert!(values.iter().all(|&v| v == values[0]), "{values:?}");
        assert_eq!(cache.get_cloned(&7), Some(values[0]));
    });
}

/// A sync caller and an async caller of one key share its flight, whichever
/// leads.
#[test]
fn sync_and_async_callers_share_a_flight() {
    let cache: Arc<Cache<u64, &str>> = Arc::new(Cache::new(100));
    let rt = runtime();
    // A sync leader; an async waiter.
    let (started_tx, started_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let leader = {
        let cache = Arc::clone(&cache);
        std::thread::spawn(move || {
            *cache.get_or_insert_with(1, || {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                "sync"
            })
        })
    };
    started_rx.recv().unwrap();
    let waiter = {
        let cache = Arc::clone(&cache);
        rt.spawn(async move { cache.get_or_insert_async(1, async { "async" }).await })
    };
    std::thread::sleep(Duration::from_millis(50)); // let it join
    assert!(!waiter.is_finished(), "the async caller did not wait");
    go_tx.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), "sync");
    assert_eq!(
        rt.block_on(waiter).unwrap(),
        "sync",
        "the async caller loaded"
    );

    // An async leader; a sync waiter.
    let (started_tx, started_rx) = oneshot::channel();
    let (go_tx, go_rx) = oneshot::channel::<()>();
    let leader = {
        let cache = Arc::clone(&cache);
        rt.spawn(async move {
            let load = async {
                started_tx.send(()).unwrap();
                go_rx.await.unwrap();
                "async"
            };
            cache.get_or_insert_async(2, load).await
        })
    };
    rt.block_on(started_rx).unwrap();
    let waiter = {
        let cache = Arc::clone(&cache);
        std::thread::spawn(move || *cache.get_or_insert_with(2, || "sync"))
    };
    std::thread::sleep(Duration::from_millis(50)); // let it join
    assert!(!waiter.is_finished(), "the sync caller did not wait");
    go_tx.send(()).unwrap();
    assert_eq!(rt.block_on(leader).unwrap(), "async");
    assert_eq!(waiter.join().unwrap(), "async", "the sync caller loaded");
}

/// Starts a leader for key 1 whose loader never finishes on its own, and a
/// waiter behind it; `end` ends the leader somehow. The waiter must take
/// over within the liveness bound, with its own loader.
fn waiter_takes_over(end: impl FnOnce(tokio::task::JoinHandle<u64>, oneshot::Sender<()>)) {
    let rt = runtime();
    rt.block_on(async {
        let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(100));
        let (started_tx, started_rx) = oneshot::channel();
        let (fail_tx, fail_rx) = oneshot::channel::<()>();
        let leader = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let load = async {
                    started_tx.send(()).unwrap();
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(30)) => 1,
                        _ = fail_rx => panic!("the leader's loader failed"),
                    }
                };
                cache.get_or_insert_async(1, load).await
            })
        };
        started_rx.await.unwrap();
        let waiter = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move { cache.get_or_insert_async(1, async { 2 }).await })
        };
        tokio::time::sleep(Duration::from_millis(50)).await; // let it join
                                                             // Its own loader is instant: pending here, it waits for the leader.
        assert!(!waiter.is_finished(), "the waiter did not wait");
        end(leader, fail_tx);
        let took_over = tokio::time::timeout(LIVENESS, waiter).await;
        let value = took_over.expect("the waiter is still stuck behind the leader");
        assert_eq!(value.unwrap(), 2, "the waiter ran its own loader");
        assert_eq!(cache.get_cloned(&1), Some(2));
    });
}

/// The leading task is aborted mid-load: a waiter takes over at once.
#[test]
fn aborted_leader_hands_over() {
    waiter_takes_over(|leader, _fail| leader.abort());
}

/// The leader's loader panics: the panic reaches the leading task only, and
/// a waiter takes over.
#[test]
fn panicking_leader_hands_over() {
    waiter_takes_over(|leader, fail| {
        fail.send(()).unwrap();
        let outcome = pollster::block_on(leader);
        assert!(
            outcome.unwrap_err().is_panic(),
            "the leader's task panicked"
        );
    });
}

/// An `Err` goes to its own caller and leaves no entry; a waiter then runs
/// its own loader.
#[test]
fn failed_load_leaves_no_entry() {
    runtime().block_on(async {
        let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(100));
        let failed = cache
            .try_get_or_insert_async(1, async { Err("down") })
            .await;
        assert_eq!(failed, Err("down"));
        assert!(!cache.contains_key(&1));

        let (go_tx, go_rx) = oneshot::channel::<()>();
        let leader = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let load = async {
                    go_rx.await.unwrap();
                    Err::<u64, _>("down again")
                };
                cache.try_get_or_insert_async(1, load).await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        let waiter = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                cache
                    .try_get_or_insert_async(1, async { Ok::<_, &str>(5) })
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "the waiter did not wait");
        go_tx.send(()).unwrap();
        assert_eq!(leader.await.unwrap(), Err("down again"));
        assert_eq!(waiter.await.unwrap(), Ok(5));
        assert_eq!(cache.get_cloned(&1), Some(5));
    });
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

/// The futures are `Send` when `K`, `V` and the loader are: they work in
/// `tokio::spawn`. (A pin or a lock kept across an `.await` would make them
/// `!Send`, and this test would not compile.)
#[test]
fn futures_are_send() {
    runtime().block_on(async {
        let cache: Arc<Cache<String, Arc<str>>> = Arc::new(Cache::new(100));
        let load = async { Arc::<str>::from("v") };
        let owned = assert_send(cache.get_or_insert_async("k".to_string(), load));
        assert_eq!(&*owned.await, "v");
        let tried =
            cache.try_get_or_insert_async("j".to_string(), async { Ok::<_, ()>("w".into()) });
        assert_eq!(assert_send(tried).await.as_deref(), Ok("w"));
        let borrowed = assert_send(cache.get_or_insert_async_ref("k", async { unreachable!() }));
        assert_eq!(&*borrowed.await, "v");
        let spawned = {
            let cache = Arc::clone(&cache);
            tokio::spawn(async move {
                let load = async {
                    tokio::task::yield_now().await;
                    Arc::<str>::from("x")
                };
                cache.get_or_insert_async("x".to_string(), load).await
            })
        };
        assert_eq!(&*spawned.await.unwrap(), "x");
    });
}

/// On a single-threaded executor, a waiter and its leader run on the same
/// thread: if the waiter blocked the thread, the leader could never finish.
/// The runtime runs on a thread of its own, so that a blocked one fails this
/// test instead of hanging it.
#[test]
fn waiter_never_blocks_its_thread() {
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let cache: Arc<Cache<u64, u64>> = Arc::new(Cache::new(100));
        let values = rt.block_on(async {
            let (go_tx, go_rx) = oneshot::channel::<()>();
            let leader = {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move {
                    let load = async {
                        go_rx.await.unwrap();
                        1
                    };
                    cache.get_or_insert_async(1, load).await
                })
            };
            tokio::task::yield_now().await; // the leader starts its load
            let waiter = {
                let cache = Arc::clone(&cache);
                tokio::spawn(async move { cache.get_or_insert_async(1, async { 2 }).await })
            };
            tokio::task::yield_now().await; // the waiter joins
            go_tx.send(()).unwrap();
            (leader.await.unwrap(), waiter.await.unwrap())
        });
        let _ = done_tx.send(values);
    });
    let values = done_rx
        .recv_timeout(LIVENESS)
        .expect("the executor's only thread is blocked");
    assert_eq!(values, (1, 1), "the waiter shared the leader's load");
}
