//! Stress tests for the FIFO ring with a watchdog that says where a run hangs (which phase, how
//! many producers and consumers are still running, the queue's counts): immediate and graceful
//! shutdowns mid-stream and `join` on tiny capacities, with `try_put` / `try_get` mixed in.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering::SeqCst};
use std::thread;
use std::time::Duration;

use futures_lite::future::{self, yield_now};
use smol::Executor;
use tulip_queue::Queue;

mod common;

const THREADS: usize = 4;
const DEADLINE: Duration = Duration::from_secs(30);

struct Ledger {
    consumed: Vec<AtomicU8>,
    dropped: Vec<AtomicU8>,
    created: Vec<AtomicU8>,
    total_created: AtomicUsize,
    total_consumed: AtomicUsize,
    total_accounted: AtomicUsize,
    phase: AtomicUsize,
    producers_done: AtomicUsize,
    consumers_done: AtomicUsize,
    /// The shutdown of `ImmediateAfter` had not come when the producers were done.
    fallback: AtomicUsize,
}

impl Ledger {
    fn new(n: usize) -> Arc<Self> {
        let v = |_| AtomicU8::new(0);
        Arc::new(Ledger {
            consumed: (0..n).map(v).collect(),
            dropped: (0..n).map(v).collect(),
            created: (0..n).map(v).collect(),
            total_created: AtomicUsize::new(0),
            total_consumed: AtomicUsize::new(0),
            total_accounted: AtomicUsize::new(0),
            phase: AtomicUsize::new(0),
            producers_done: AtomicUsize::new(0),
            consumers_done: AtomicUsize::new(0),
            fallback: AtomicUsize::new(0),
        })
    }
}

struct Item {
    id: u32,
    consumed: bool,
    ledger: Arc<Ledger>,
}

impl Drop for Item {
    fn drop(&mut self) {
        let slot = if self.consumed {
            &self.ledger.consumed
        } else {
            &self.ledger.dropped
        };
        slot[self.id as usize].fetch_add(1, SeqCst);
        self.ledger.total_accounted.fetch_add(1, SeqCst);
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    JoinThenShutdown,
    ImmediateAfter(usize),
    GracefulAfter(usize),
}

fn diag(q: &Queue<Item>, l: &Ledger) -> String {
    format!(
        "phase {} producers done {} consumers done {} created {} consumed {} accounted {} \
         | queue {:?} putters waiting {} getters waiting {}",
        l.phase.load(SeqCst),
        l.producers_done.load(SeqCst),
        l.consumers_done.load(SeqCst),
        l.total_created.load(SeqCst),
        l.total_consumed.load(SeqCst),
        l.total_accounted.load(SeqCst),
        q,
        q.putters_waiting(),
        q.getters_waiting(),
    )
}

async fn cancel_soon(rng: &mut fastrand::Rng) {
    for _ in 0..rng.usize(0..4) {
        yield_now().await;
    }
}

/// Producers and consumers as in tests/stress.rs, plus try_put / try_get at random.
async fn body(
    ex: Arc<Executor<'static>>,
    q: Queue<Item>,
    ledger: Arc<Ledger>,
    producers: u32,
    consumers: u32,
    end: End,
    mix_try: bool,
) {
    let n = ledger.consumed.len() as u32;
    let per = n / producers;
    ledger.phase.store(1, SeqCst);
    let producer_tasks: Vec<_> = (0..producers)
        .map(|p| {
            let (q, ledger) = (q.clone(), ledger.clone());
            ex.spawn(async move {
                let mut rng = fastrand::Rng::with_seed(u64::from(p) + 7);
                for id in p * per..(p + 1) * per {
                    ledger.created[id as usize].store(1, SeqCst);
                    ledger.total_created.fetch_add(1, SeqCst);
                    let item = Item {
                        id,
                        consumed: false,
                        ledger: ledger.clone(),
                    };
                    if mix_try && rng.u8(0..4) == 0 {
                        match q.try_put(item) {
                            Ok(()) => {}
                            Err(tulip_queue::TryPutError::Full(_)) => {}
                            Err(tulip_queue::TryPutError::ShutDown(_)) => break,
                        }
                        yield_now().await;
                        continue;
                    }
                    let put = async { Some(q.put(item).await) };
                    match future::race(put, async {
                        cancel_soon(&mut rng).await;
                        None
                    })
                    .await
                    {
                        Some(Ok(())) | None => {}
                        Some(Err(_)) => break,
                    }
                }
                ledger.producers_done.fetch_add(1, SeqCst);
            })
        })
        .collect();
    let consumer_tasks: Vec<_> = (0..consumers)
        .map(|c| {
            let (q, ledger) = (q.clone(), ledger.clone());
            ex.spawn(async move {
                let mut rng = fastrand::Rng::with_seed(1000 + u64::from(c));
                loop {
                    let got = if mix_try && rng.u8(0..4) == 0 {
                        let r = match q.try_get() {
                            Ok(item) => Some(Ok(item)),
                            Err(tulip_queue::TryGetError::Empty) => None,
                            Err(tulip_queue::TryGetError::ShutDown) => Some(Err(())),
                        };
                        yield_now().await;
                        r
                    } else {
                        let get = async { Some(q.get().await.map_err(|_| ())) };
                        future::race(get, async {
                            cancel_soon(&mut rng).await;
                            None
                        })
                        .await
                    };
                    match got {
                        Some(Ok(mut item)) => {
                            item.consumed = true;
                            drop(item);
                            q.task_done().unwrap();
                            let total = ledger.total_consumed.fetch_add(1, SeqCst) + 1;
                            if end == End::ImmediateAfter(total) {
                                q.shutdown_immediate();
                            }
                            if end == End::GracefulAfter(total) {
                                q.shutdown();
                            }
                        }
                        Some(Err(())) => break,
                        None => {}
                    }
                }
                ledger.consumers_done.fetch_add(1, SeqCst);
            })
        })
        .collect();
    for p in producer_tasks {
        p.await;
    }
    ledger.phase.store(2, SeqCst);
    match end {
        End::JoinThenShutdown => {
            // Wait until every item is accounted for.
            while ledger.total_accounted.load(SeqCst) < ledger.total_created.load(SeqCst) {
                smol::Timer::after(Duration::from_millis(1)).await;
            }
            ledger.phase.store(3, SeqCst);
            q.join().await;
            q.shutdown();
        }
        // If too few items were consumed to trigger it (try_put drops many), shut down now.
        End::ImmediateAfter(_) => {
            if !q.is_shutdown() {
                // Too few consumed for the trigger (cancelled puts drop items): shut down now.
                ledger.fallback.store(1, SeqCst);
                println!(
                    "fallback shutdown: producers done with only {} of {} items consumed",
                    ledger.total_consumed.load(SeqCst),
                    n
                );
            }
            q.shutdown_immediate()
        }
        End::GracefulAfter(_) => q.shutdown(),
    }
    ledger.phase.store(4, SeqCst);
    for c in consumer_tasks {
        c.await;
    }
    ledger.phase.store(5, SeqCst);
    assert_eq!(
        ledger.total_accounted.load(SeqCst),
        ledger.total_created.load(SeqCst),
        "items left behind: {}",
        diag(&q, &ledger)
    );
    q.join().await;
    ledger.phase.store(6, SeqCst);
    assert_eq!(q.unfinished(), 0);
    assert_eq!(q.len(), 0);
}

fn run(cap: usize, items: usize, producers: u32, consumers: u32, end: End, mix_try: bool) -> bool {
    let q = Queue::<Item>::bounded(cap);
    let ledger = Ledger::new(items);
    let (q2, l2) = (q.clone(), ledger.clone());
    common::run_on_threads(
        THREADS,
        DEADLINE,
        move |ex| body(ex, q2, l2, producers, consumers, end, mix_try),
        || {
            let d1 = diag(&q, &ledger);
            thread::sleep(Duration::from_secs(2));
            format!(
                "hang (cap {cap}, {end:?}, try {mix_try}):\n  {d1}\n  2 s later: {}",
                diag(&q, &ledger)
            )
        },
    );
    for id in 0..items {
        let (c, d, e) = (
            ledger.consumed[id].load(SeqCst),
            ledger.dropped[id].load(SeqCst),
            ledger.created[id].load(SeqCst),
        );
        assert_eq!(c + d, e, "item {id}: consumed {c} times, dropped {d} times");
    }
    ledger.fallback.load(SeqCst) == 1
}

#[test]
fn immediate_shutdown_mid_stream() {
    for _ in 0..5 {
        run(4, 100_000, 8, 8, End::ImmediateAfter(20_000), false);
    }
}

#[test]
fn immediate_shutdown_tiny_caps_with_try() {
    for cap in [1, 2] {
        for _ in 0..5 {
            run(cap, 20_000, 8, 8, End::ImmediateAfter(3_000), true);
        }
    }
}

#[test]
fn graceful_shutdown_mid_stream_tiny_caps() {
    for cap in [1, 2] {
        for _ in 0..5 {
            run(cap, 20_000, 8, 8, End::GracefulAfter(3_000), true);
        }
    }
}

#[test]
fn join_tiny_caps_with_try() {
    for cap in [1, 2, 3] {
        run(cap, 20_000, 6, 6, End::JoinThenShutdown, true);
        run(cap, 20_000, 2, 10, End::JoinThenShutdown, false);
        run(cap, 20_000, 10, 2, End::JoinThenShutdown, true);
    }
}
