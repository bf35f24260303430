//! Review: `join` must return once the count of unfinished items reached zero after it began
//! waiting, "even if items were put again before the joiner ran" (crate docs). On main the zero
//! is counted under the lock by `task_done` itself. On queue-fast `task_done` bumps `dones` and
//! only then (`count_zero`) reads `pushed`: a `put` in between hides the zero, and a joiner that
//! waited through it is not released (on a queue that never drains, never).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::thread;

use futures_lite::future::block_on;
use tulip_queue::Queue;

#[test]
fn review_join_sees_every_zero_even_if_a_put_follows_at_once() {
    const CYCLES: usize = 20_000;
    let q = Queue::<usize>::bounded(4);
    let done = Arc::new(AtomicUsize::new(0));
    let gate = Arc::new(AtomicUsize::new(0));
    let consumer = {
        let (q, done, gate) = (q.clone(), done.clone(), gate.clone());
        thread::spawn(move || {
            for k in 1..=CYCLES {
                block_on(q.get()).unwrap();
                while gate.load(SeqCst) < k {
                    std::hint::spin_loop();
                }
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
        assert!(block_on(futures_lite::future::poll_once(&mut join)).is_none());
        gate.store(k, SeqCst);
        // Put the next item the moment the count reaches zero.
        while q.unfinished() != 0 {
            std::hint::spin_loop();
        }
        if k < CYCLES {
            q.try_put(k).unwrap();
        }
        // The consumer's task_done has returned: the zero it made must have released the joiner.
        while done.load(SeqCst) < k {
            std::hint::spin_loop();
        }
        if let Some(p) = block_on(futures_lite::future::poll_once(&mut join)) {
            let () = p;
        } else {
            missed += 1;
        }
    }
    consumer.join().unwrap();
    assert_eq!(
        missed, 0,
        "joiners not released by a zero of unfinished items (of {CYCLES})"
    );
}
