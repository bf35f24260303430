//! `join` never returns while an item is unfinished. A holder takes an item and keeps it (no
//! `task_done`) while producers put and consumers get and finish items, racing, and a joiner is
//! started: the joiner must not return before the holder's `task_done`. The store-buffering
//! protocol this replaced released it early: a push that found joiners read `dones` after its
//! compare-and-swap, and a consumer that got and finished the pushed item in between made it
//! count a zero that never existed.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};
use std::thread;

use futures_lite::future::block_on;
use tulip_queue::{Kind, Queue};

fn cycles<K: Kind<u64> + Send + Sync + 'static>(q: &Queue<u64, K>, cycles: usize) {
    const PER: u64 = 200;
    for cycle in 0..cycles {
        let released = AtomicBool::new(false);
        let stop = AtomicBool::new(false);
        let puts = AtomicU64::new(0);
        // The held item: unfinished until the holder's `task_done` below.
        q.try_put(u64::MAX).unwrap();
        let held = q.try_get().unwrap();
        assert_eq!((held, q.unfinished()), (u64::MAX, 1));
        thread::scope(|s| {
            let producers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        for i in 0..PER {
                            block_on(q.put(i)).unwrap();
                            puts.fetch_add(1, SeqCst);
                        }
                    })
                })
                .collect();
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(SeqCst) || !q.is_empty() {
                        match q.try_get() {
                            Ok(_) => q.task_done().unwrap(),
                            Err(_) => thread::yield_now(),
                        }
                    }
                });
            }
            let joiner = s.spawn(|| {
                block_on(q.join());
                assert!(
                    released.load(SeqCst),
                    "cycle {cycle}: join returned while an item was unfinished"
                );
            });
            // Hold the item while the others race (and the joiner begins to wait).
            let mark = puts.load(SeqCst) + PER;
            while puts.load(SeqCst) < mark.min(2 * PER) {
                thread::yield_now();
            }
            released.store(true, SeqCst);
            q.task_done().unwrap();
            // The joiner may return at a zero between later puts; the consumers stop once the
            // producers are through and the queue is drained.
            joiner.join().unwrap();
            producers.into_iter().for_each(|p| p.join().unwrap());
            stop.store(true, SeqCst);
        });
        assert_eq!(q.unfinished(), 0);
    }
}

const CYCLES: usize = 1_500;

#[test]
#[cfg_attr(miri, ignore)]
fn fifo_join_waits_for_a_held_item() {
    cycles(&Queue::bounded(4), CYCLES);
    cycles(&Queue::bounded(1), CYCLES / 3);
}

#[test]
#[cfg_attr(miri, ignore)]
fn lifo_join_waits_for_a_held_item() {
    cycles(&Queue::lifo(4), CYCLES / 3);
}

#[test]
#[cfg_attr(miri, ignore)]
fn priority_join_waits_for_a_held_item() {
    cycles(&Queue::priority(4), CYCLES / 3);
}
