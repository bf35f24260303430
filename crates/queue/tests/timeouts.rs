//! Cancellation by real timeouts on a multi-threaded executor: producers and consumers on two
//! and four threads race each `put` and `get` against a timer of a few microseconds, so futures
//! are dropped at arbitrary moments on other threads than the ones serving them (while waiting,
//! right after being served, or in the middle of being served). Every item must be consumed
//! exactly once or dropped with its cancelled `put`, `join` must return, and the whole run must
//! end within seconds: a lost wake-up shows as a stall, reported with the counts so far.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use futures_lite::future;
use smol::Timer;
use tulip_queue::{Kind, Queue};

mod common;

const ITEMS: usize = 20_000;
/// Far above a run's second or so, far below a test harness's patience.
const DEADLINE: Duration = Duration::from_secs(20);

struct Ledger {
    consumed: Vec<AtomicU8>,
    dropped: Vec<AtomicU8>,
    received: AtomicUsize,
}

/// An item that records being dropped unconsumed (by a cancelled `put`, or lost).
struct Item {
    id: usize,
    consumed: bool,
    ledger: Arc<Ledger>,
}

impl PartialEq for Item {
    fn eq(&self, o: &Self) -> bool {
        self.id == o.id
    }
}
impl Eq for Item {}
impl PartialOrd for Item {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Item {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        self.id.cmp(&o.id)
    }
}

impl Drop for Item {
    fn drop(&mut self) {
        let slot = if self.consumed {
            &self.ledger.consumed
        } else {
            &self.ledger.dropped
        };
        slot[self.id].fetch_add(1, SeqCst);
    }
}

/// A timer of 0 to 20 microseconds: often it fires while the future waits, sometimes while it is
/// being served on another thread.
fn soon(rng: &mut fastrand::Rng) -> Timer {
    Timer::after(Duration::from_micros(rng.u64(0..20)))
}

fn run<K: Kind<Item> + 'static>(q: Queue<Item, K>, threads: usize)
where
    Item: Send,
{
    let ledger = Arc::new(Ledger {
        consumed: (0..ITEMS).map(|_| AtomicU8::new(0)).collect(),
        dropped: (0..ITEMS).map(|_| AtomicU8::new(0)).collect(),
        received: AtomicUsize::new(0),
    });
    let (q2, l2) = (q.clone(), ledger.clone());
    common::run_on_threads(
        threads,
        DEADLINE,
        move |ex| async move {
            let (q, ledger) = (q2, l2);
            let producers: Vec<_> = (0..4)
                .map(|p| {
                    let (q, ledger) = (q.clone(), ledger.clone());
                    ex.spawn(async move {
                        let mut rng = fastrand::Rng::with_seed(p);
                        for id in (p as usize..ITEMS).step_by(4) {
                            let item = Item {
                                id,
                                consumed: false,
                                ledger: ledger.clone(),
                            };
                            let put = async { Some(q.put(item).await) };
                            let timeout = async {
                                soon(&mut rng).await;
                                None
                            };
                            if let Some(r) = future::or(put, timeout).await {
                                r.map_err(|_| "put failed before the shutdown").unwrap();
                            }
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..4)
                .map(|c| {
                    let (q, ledger) = (q.clone(), ledger.clone());
                    ex.spawn(async move {
                        let mut rng = fastrand::Rng::with_seed(100 + c);
                        loop {
                            let get = async { Some(q.get().await) };
                            let timeout = async {
                                soon(&mut rng).await;
                                None
                            };
                            match future::or(get, timeout).await {
                                Some(Ok(mut item)) => {
                                    item.consumed = true;
                                    ledger.received.fetch_add(1, SeqCst);
                                    drop(item);
                                    q.task_done().unwrap();
                                }
                                Some(Err(_)) => break,
                                None => {}
                            }
                        }
                    })
                })
                .collect();
            for p in producers {
                p.await;
            }
            q.join().await;
            q.shutdown();
            for c in consumers {
                c.await;
            }
        },
        || {
            format!(
                "stalled (a lost wake-up?): {} received, {} dropped by cancelled puts, {:?}",
                ledger.received.load(SeqCst),
                ledger.dropped.iter().filter(|d| d.load(SeqCst) > 0).count(),
                q
            )
        },
    );
    for id in 0..ITEMS {
        let (c, d) = (
            ledger.consumed[id].load(SeqCst),
            ledger.dropped[id].load(SeqCst),
        );
        assert_eq!(c + d, 1, "item {id}: consumed {c} times, dropped {d} times");
    }
    assert_eq!((q.len(), q.unfinished()), (0, 0));
}

#[test]
fn fifo_with_timeouts_on_two_threads() {
    run(Queue::bounded(4), 2);
}

#[test]
fn fifo_with_timeouts_on_four_threads() {
    run(Queue::bounded(2), 4);
}

#[test]
fn fifo_capacity_one_with_timeouts() {
    run(Queue::bounded(1), 4);
}

#[test]
fn lifo_and_priority_with_timeouts() {
    run(Queue::lifo(3), 4);
    run(Queue::priority(3), 4);
}
