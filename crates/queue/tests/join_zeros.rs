//! `join` returns once the count of unfinished items reached zero after it began waiting, "even
//! if items were put again before the joiner ran" (crate docs), including when a put follows
//! the last `task_done` at once: puts and `task_done`s that count apart must still see that
//! zero (a first lock-free version left a joiner waiting in 294 of 20,000 cycles).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::thread;

use futures_lite::future::{block_on, poll_once};
use tulip_queue::{Kind, Queue};

/// Spins until `f` holds (yielding now and then: the test may have more threads than CPUs).
fn until(mut f: impl FnMut() -> bool) {
    let mut spins = 0u32;
    while !f() {
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(1024) {
            thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

/// The consumer marks item `k - 1` done; this thread puts item `k` the moment it sees the count
/// of unfinished items at zero. A joiner that waited before must be released.
fn put_right_after_the_last_task_done<K: Kind<usize> + 'static>(q: Queue<usize, K>) {
    const CYCLES: usize = 20_000;
    let done = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicUsize::new(0));
    let consumer = {
        let (q, done, gate) = (q.clone(), done.clone(), gate.clone());
        thread::spawn(move || {
            for k in 1..=CYCLES {
                block_on(q.get()).unwrap();
                until(|| gate.load(SeqCst) >= k);
                q.task_done().unwrap();
                done.fetch_add(1, SeqCst);
            }
        })
    };
    let mut missed = 0;
    q.try_put(0).unwrap();
    for k in 1..=CYCLES {
        // Unfinished is 1 (item k-1): the joiner begins to wait.
        let mut join = Box::pin(q.join());
        assert!(block_on(poll_once(&mut join)).is_none());
        gate.store(k, SeqCst);
        // Put the next item the moment the count reaches zero.
        until(|| q.unfinished() == 0);
        if k < CYCLES {
            q.try_put(k).unwrap();
        }
        // The consumer's task_done has returned: the zero it made must have released the joiner.
        until(|| done.load(SeqCst) >= k);
        if block_on(poll_once(&mut join)).is_none() {
            missed += 1;
        }
    }
    consumer.join().unwrap();
    assert_eq!(
        missed, 0,
        "joiners not released by a zero of unfinished items (of {CYCLES})"
    );
}

#[test]
fn join_sees_a_zero_even_if_a_put_follows_at_once_fifo() {
    put_right_after_the_last_task_done(Queue::bounded(4));
}

#[test]
fn join_sees_a_zero_even_if_a_put_follows_at_once_lifo() {
    put_right_after_the_last_task_done(Queue::lifo(4));
}

#[test]
fn join_sees_a_zero_even_if_a_put_follows_at_once_priority() {
    put_right_after_the_last_task_done(Queue::priority(4));
}

/// The last `task_done` and the next put race (released together); a third thread watches the
/// count of unfinished items. Whenever it saw zero, the joiner that waited before must be
/// released, whichever of the two sides noticed the zero.
fn put_racing_the_last_task_done<K: Kind<usize> + 'static>(q: Queue<usize, K>) -> usize {
    const CYCLES: usize = 20_000;
    let go = Arc::new(AtomicUsize::new(0));
    let (done_c, done_p) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let consumer = {
        let (q, go, done) = (q.clone(), go.clone(), done_c.clone());
        thread::spawn(move || {
            for k in 1..=CYCLES {
                block_on(q.get()).unwrap();
                until(|| go.load(SeqCst) >= k);
                q.task_done().unwrap();
                done.store(k, SeqCst);
            }
        })
    };
    let producer = {
        let (q, go, done) = (q.clone(), go.clone(), done_p.clone());
        thread::spawn(move || {
            for k in 1..CYCLES {
                until(|| go.load(SeqCst) >= k);
                q.try_put(k).unwrap();
                done.store(k, SeqCst);
            }
        })
    };
    let (mut missed, mut zeros_seen) = (0, 0);
    q.try_put(0).unwrap();
    for k in 1..=CYCLES {
        // The consumer holds item k-1: the joiner begins to wait.
        until(|| q.is_empty());
        let mut join = Box::pin(q.join());
        assert!(block_on(poll_once(&mut join)).is_none());
        go.store(k, SeqCst);
        let saw_zero = AtomicBool::new(false);
        until(|| {
            if q.unfinished() == 0 {
                saw_zero.store(true, SeqCst);
            }
            done_c.load(SeqCst) >= k && (k == CYCLES || done_p.load(SeqCst) >= k)
        });
        let released = block_on(poll_once(&mut join)).is_some();
        if saw_zero.load(SeqCst) {
            zeros_seen += 1;
            missed += usize::from(!released);
        }
    }
    consumer.join().unwrap();
    producer.join().unwrap();
    assert_eq!(
        missed, 0,
        "joiners not released by a zero seen by a third thread (of {zeros_seen})"
    );
    zeros_seen
}

#[test]
fn join_sees_a_zero_that_a_racing_put_ends_fifo() {
    let seen = put_racing_the_last_task_done(Queue::bounded(4));
    println!("zeros seen by the watcher: {seen}");
}

#[test]
fn join_sees_a_zero_that_a_racing_put_ends_priority() {
    let seen = put_racing_the_last_task_done(Queue::priority(4));
    println!("zeros seen by the watcher: {seen}");
}

/// A joiner dropped while it waits withdraws (the others are still released, and a later joiner
/// works as before).
#[test]
fn dropped_joiner_leaves_the_others_waiting_correctly() {
    let q = Queue::<u32>::bounded(4);
    q.try_put(1).unwrap();
    let mut a = Box::pin(q.join());
    let mut b = Box::pin(q.join());
    assert!(block_on(poll_once(&mut a)).is_none());
    assert!(block_on(poll_once(&mut b)).is_none());
    drop(a);
    assert_eq!(q.try_get(), Ok(1));
    q.try_put(2).unwrap();
    // Unfinished 1 (item 1 taken, item 2 stored) until item 1 is done, then 1 again (item 2)
    // after a put: the zero in between releases `b`.
    q.task_done().unwrap();
    assert!(block_on(poll_once(&mut b)).is_none(), "no zero yet: item 2");
    assert_eq!(q.try_get(), Ok(2));
    q.task_done().unwrap();
    q.try_put(3).unwrap();
    assert!(block_on(poll_once(&mut b)).is_some());
    let mut c = Box::pin(q.join());
    assert!(block_on(poll_once(&mut c)).is_none());
    assert_eq!(q.try_get(), Ok(3));
    q.task_done().unwrap();
    assert!(block_on(poll_once(&mut c)).is_some());
    // Polled again after it returned: still ready.
    assert!(block_on(poll_once(&mut c)).is_some());
    block_on(q.join());
}
