//! Stress tests on a multi-threaded executor: many producers and consumers whose `put` and `get`
//! futures are randomly cancelled (raced against a few yields, polled first or second at random,
//! so that a future is also dropped after it was served). Every item must end up either consumed
//! exactly once or dropped by the cancelled `put` that owned it — never lost, never duplicated —
//! and `join` must return.
//!
//! A lost item is caught directly: once the producers are done, every item they created must
//! soon be accounted for (consumed, or dropped by its cancelled `put` or by the shutdown), and
//! the test says how many are missing instead of waiting for `join` to hang. Each test also
//! runs under a generous deadline, for a lost wake-up that stalls a task.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use futures_lite::future::{self, yield_now};
use smol::Executor;
use tulip_queue::{Kind, Queue};

mod common;

const THREADS: usize = 4;
/// Generous: a loaded 2-core machine must never trip it; only a hang does.
const DEADLINE: Duration = Duration::from_secs(120);
/// How long the count of items accounted for may stand still, once the producers are done and
/// some are missing, before they are reported lost: only the few items left in the queue
/// remain to be taken, so this is generous too.
const STALL: Duration = Duration::from_secs(10);

/// The fate of every item: how often it was consumed, and how often dropped unconsumed.
struct Ledger {
    consumed: Vec<AtomicU8>,
    dropped: Vec<AtomicU8>,
    created: Vec<AtomicU8>,
    /// Items found dropped right after their `put` was cancelled (so dropped with it).
    dropped_by_put: Vec<AtomicU8>,
    /// Consumed so far, all items together.
    total_consumed: AtomicUsize,
    /// Items created so far, all producers together.
    total_created: AtomicUsize,
    /// Items whose fate is known (consumed or dropped), all together.
    total_accounted: AtomicUsize,
}

impl Ledger {
    fn new(n: usize) -> Arc<Self> {
        Arc::new(Ledger {
            consumed: (0..n).map(|_| AtomicU8::new(0)).collect(),
            dropped: (0..n).map(|_| AtomicU8::new(0)).collect(),
            created: (0..n).map(|_| AtomicU8::new(0)).collect(),
            dropped_by_put: (0..n).map(|_| AtomicU8::new(0)).collect(),
            total_consumed: AtomicUsize::new(0),
            total_created: AtomicUsize::new(0),
            total_accounted: AtomicUsize::new(0),
        })
    }

    /// Checks that each item created had exactly one fate and the others none, and (unless
    /// the queue discarded items in a shutdown) that every item dropped was dropped with its
    /// cancelled `put`, not lost on the way; returns (consumed, dropped).
    fn check(&self, discards: bool) -> (usize, usize) {
        let (mut consumed, mut dropped) = (0, 0);
        for id in 0..self.consumed.len() {
            let c = self.consumed[id].load(Ordering::SeqCst);
            let d = self.dropped[id].load(Ordering::SeqCst);
            let expected = self.created[id].load(Ordering::SeqCst);
            assert_eq!(
                c + d,
                expected,
                "item {id}: consumed {c} times, dropped {d} times"
            );
            if !discards && d == 1 {
                let by_put = self.dropped_by_put[id].load(Ordering::SeqCst);
                assert_eq!(by_put, 1, "item {id} was put, then lost");
            }
            consumed += usize::from(c);
            dropped += usize::from(d);
        }
        (consumed, dropped)
    }
}

/// An item that records in the ledger if it is dropped without being consumed.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Token {
    id: u32,
    #[allow(dead_code)]
    consumed: bool,
}

struct Item {
    token: Token,
    ledger: Arc<Ledger>,
}

impl PartialEq for Item {
    fn eq(&self, other: &Self) -> bool {
        self.token == other.token
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Item {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.token.cmp(&other.token)
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        let slot = if self.token.consumed {
            &self.ledger.consumed
        } else {
            &self.ledger.dropped
        };
        slot[self.token.id as usize].fetch_add(1, Ordering::SeqCst);
        self.ledger.total_accounted.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `body` on an executor shared by `THREADS` threads, failing if it takes past `DEADLINE`.
fn run_on_threads<F>(body: impl FnOnce(Arc<Executor<'static>>) -> F + Send + 'static)
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    common::run_on_threads(THREADS, DEADLINE, body, || {
        "stress test did not finish: a wake-up was lost (join or a waiter hangs)".to_owned()
    });
}

/// Yields a random few times: the rival that cancels a `put` or `get` when it wins the race.
async fn cancel_soon(rng: &mut fastrand::Rng) {
    for _ in 0..rng.usize(0..4) {
        yield_now().await;
    }
}

/// How a stress run ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// Once producers finish: wait until every item is accounted for, join, shut down.
    JoinThenShutdown,
    /// Once producers finish: shut down gracefully at once, while consumers still drain (and
    /// items handed to their cancelled `get`s come back); one consumer gives up at its first
    /// cancelled `get` after the shutdown.
    ShutdownWhileDraining,
    /// The consumer that takes the n-th item shuts the queue down at once, mid-stream.
    ImmediateAfter(usize),
}

/// Producers put items `0..n` between them, each `put` raced against `cancel_soon`; consumers
/// `get` (also raced) and mark each item done, until the queue is shut down as `end` says.
/// Returns when every task has stopped.
async fn produce_and_consume<K: Kind<Item> + 'static>(
    ex: Arc<Executor<'static>>,
    q: Queue<Item, K>,
    ledger: Arc<Ledger>,
    producers: u32,
    consumers: u32,
    end: End,
) where
    K::Store: Send,
{
    let n = ledger.consumed.len() as u32;
    let per = n / producers;
    let producer_tasks: Vec<_> = (0..producers)
        .map(|p| {
            let (q, ledger) = (q.clone(), ledger.clone());
            ex.spawn(async move {
                let mut rng = fastrand::Rng::with_seed(u64::from(p));
                for id in p * per..(p + 1) * per {
                    ledger.created[id as usize].store(1, Ordering::SeqCst);
                    ledger.total_created.fetch_add(1, Ordering::SeqCst);
                    let item = Item {
                        token: Token {
                            id,
                            consumed: false,
                        },
                        ledger: ledger.clone(),
                    };
                    let put = async { Some(q.put(item).await) };
                    match future::race(put, async {
                        cancel_soon(&mut rng).await;
                        None
                    })
                    .await
                    {
                        // Put, or cancelled (the item dropped with its future, or already put).
                        Some(Ok(())) | None => {}
                        // Shut down: the item came back and is dropped here.
                        Some(Err(_)) => return,
                    }
                    // The `put` future is gone now: if the item is dropped, it was dropped with it.
                    if ledger.dropped[id as usize].load(Ordering::SeqCst) == 1 {
                        ledger.dropped_by_put[id as usize].store(1, Ordering::SeqCst);
                    }
                }
            })
        })
        .collect();
    let consumer_tasks: Vec<_> = (0..consumers)
        .map(|c| {
            let (q, ledger) = (q.clone(), ledger.clone());
            ex.spawn(async move {
                let mut rng = fastrand::Rng::with_seed(1000 + u64::from(c));
                loop {
                    let get = async { Some(q.get().await) };
                    let got = future::race(get, async {
                        cancel_soon(&mut rng).await;
                        None
                    })
                    .await;
                    match got {
                        Some(Ok(mut item)) => {
                            item.token.consumed = true;
                            drop(item);
                            q.task_done().unwrap();
                            let total = ledger.total_consumed.fetch_add(1, Ordering::SeqCst) + 1;
                            if end == End::ImmediateAfter(total) {
                                q.shutdown_immediate();
                            }
                        }
                        Some(Err(_)) => return,
                        // One consumer gives up when its `get` is cancelled after the shutdown,
                        // as a task cancelled as a whole would: an item handed to that `get`
                        // must then reach another consumer, which must not have stopped yet.
                        None if c == 0 && end == End::ShutdownWhileDraining && q.is_shutdown() => {
                            return;
                        }
                        None => {}
                    }
                }
            })
        })
        .collect();
    for p in producer_tasks {
        p.await;
    }
    match end {
        End::JoinThenShutdown => {
            all_accounted_for(&q, &ledger).await;
            // Every item put was consumed and marked done.
            q.join().await;
            assert!(q.is_empty());
            q.shutdown();
        }
        End::ShutdownWhileDraining => q.shutdown(),
        End::ImmediateAfter(_) => {
            all_accounted_for(&q, &ledger).await;
            // So many puts were cancelled that the consumers never took the n-th item: nothing
            // else would stop them.
            if !q.is_shutdown() {
                q.shutdown_immediate();
            }
        }
    }
    for c in consumer_tasks {
        c.await;
    }
    // The consumers have stopped: nothing can happen to an item any more.
    let (created, accounted) = (
        ledger.total_created.load(Ordering::SeqCst),
        ledger.total_accounted.load(Ordering::SeqCst),
    );
    assert_eq!(
        accounted, created,
        "items left behind when the consumers stopped (queue {q:?})"
    );
    q.join().await;
    assert_eq!(q.unfinished(), 0);
}

/// Waits (boundedly) until every item created is consumed or dropped; fails naming how many are
/// missing. Called once the producers are done, so no item is created any more.
async fn all_accounted_for<K: Kind<Item>>(q: &Queue<Item, K>, ledger: &Ledger) {
    let created = ledger.total_created.load(Ordering::SeqCst);
    let (mut last, mut since) = (usize::MAX, std::time::Instant::now());
    loop {
        let accounted = ledger.total_accounted.load(Ordering::SeqCst);
        assert!(
            accounted <= created,
            "{accounted} fates for {created} items"
        );
        if accounted == created {
            return;
        }
        if accounted != last {
            (last, since) = (accounted, std::time::Instant::now());
        }
        assert!(
            since.elapsed() < STALL,
            "{} of {created} items lost: neither consumed nor dropped, and nothing happened \
             for {STALL:?} (queue {q:?}, {} getters waiting)",
            created - accounted,
            q.getters_waiting(),
        );
        smol::Timer::after(Duration::from_millis(1)).await;
    }
}

/// `q` with 8 producers and 8 consumers.
fn stress<K: Kind<Item> + 'static>(q: Queue<Item, K>, items: usize, end: End)
where
    K::Store: Send,
{
    stress_with(q, items, 8, 8, end)
}

fn stress_with<K: Kind<Item> + 'static>(
    q: Queue<Item, K>,
    items: usize,
    producers: u32,
    consumers: u32,
    end: End,
) where
    K::Store: Send,
{
    let ledger = Ledger::new(items);
    let l = ledger.clone();
    run_on_threads(move |ex| produce_and_consume(ex, q, l, producers, consumers, end));
    let immediate = matches!(end, End::ImmediateAfter(_));
    let (consumed, dropped) = ledger.check(immediate);
    println!("{consumed} consumed, {dropped} dropped by cancelled puts or the shutdown");
    // The cancellations did happen, and items did flow.
    assert!(
        consumed > 0 && dropped > 0,
        "{consumed} consumed, {dropped} dropped"
    );
    if immediate {
        let created = ledger
            .created
            .iter()
            .filter(|c| c.load(Ordering::SeqCst) == 1)
            .count();
        assert!(created < items, "the shutdown did not stop the producers");
    }
}

#[test]
fn fifo_with_random_cancellation_loses_and_duplicates_nothing() {
    stress(Queue::bounded(4), 20_000, End::JoinThenShutdown);
}

#[test]
fn lifo_with_random_cancellation_loses_and_duplicates_nothing() {
    stress(Queue::lifo(3), 20_000, End::JoinThenShutdown);
}

#[test]
fn priority_with_random_cancellation_loses_and_duplicates_nothing() {
    stress(Queue::priority(5), 20_000, End::JoinThenShutdown);
}

#[test]
fn capacity_one_with_random_cancellation_loses_and_duplicates_nothing() {
    stress(Queue::bounded(1), 20_000, End::JoinThenShutdown);
}

#[test]
fn few_producers_many_waiting_getters_lose_and_duplicate_nothing() {
    // Getters mostly wait here, so items are handed to getters that are then cancelled.
    stress_with(Queue::bounded(4), 20_000, 2, 12, End::JoinThenShutdown);
}

#[test]
fn many_producers_few_consumers_lose_and_duplicate_nothing() {
    stress_with(Queue::bounded(2), 20_000, 12, 2, End::JoinThenShutdown);
}

#[test]
fn immediate_shutdown_mid_stream_discards_and_join_returns() {
    // A twentieth of the items consumed, then the shutdown comes while they flow (under load,
    // cancelled puts have left fewer than a fifth of them to consume).
    let ledger_items = 100_000;
    stress(
        Queue::bounded(4),
        ledger_items,
        End::ImmediateAfter(ledger_items / 20),
    );
}

#[test]
fn graceful_shutdown_while_draining_strands_nothing() {
    // Many short runs, so that the shutdown often comes while an item is handed to a getter
    // that is then cancelled: the item must still reach a consumer before they all stop.
    for _ in 0..100 {
        stress_with(Queue::bounded(4), 400, 2, 8, End::ShutdownWhileDraining);
    }
}
