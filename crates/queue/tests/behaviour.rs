//! The queue's behaviour, one operation at a time: every error, both shutdown modes,
//! `task_done` / `join`, fairness between waiters, and what a dropped future leaves behind.
//! Futures are polled by hand so that the order of events is exact.

mod common;

use std::error::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Poll;

use common::{Tracked, counting_waker, poll, poll_noop};
use tulip_queue::{GetError, PutError, Queue, TaskDoneError, TryGetError, TryPutError};

#[test]
fn handles_and_futures_are_send_and_sync() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Queue<String>>();
    send::<tulip_queue::Put<'static, String>>();
    send::<tulip_queue::Get<'static, String>>();
    send::<tulip_queue::Join<'static, String>>();
}

#[test]
fn sizes() {
    let q = Queue::bounded(2);
    assert_eq!(
        (q.len(), q.capacity(), q.is_empty(), q.is_full()),
        (0, 2, true, false)
    );
    q.try_put(1).unwrap();
    assert_eq!((q.len(), q.is_empty(), q.is_full()), (1, false, false));
    q.clone().try_put(2).unwrap(); // a clone is the same queue
    assert_eq!((q.len(), q.is_empty(), q.is_full()), (2, false, true));
    q.try_get().unwrap();
    assert_eq!((q.len(), q.peak_len()), (1, 2));
}

#[test]
#[should_panic(expected = "capacity must be at least 1")]
fn capacity_zero_panics() {
    let _ = Queue::<u8>::bounded(0);
}

#[test]
fn try_put_full_hands_the_item_back() {
    let q = Queue::bounded(1);
    q.try_put("a".to_string()).unwrap();
    let err = q.try_put("b".to_string()).unwrap_err();
    assert!(err.is_full() && !err.is_shut_down());
    assert_eq!(err.to_string(), "queue is full");
    assert_eq!(format!("{err:?}"), "Full(..)");
    assert_eq!(err.into_inner(), "b");
    assert_eq!(q.len(), 1);
}

#[test]
fn try_get_empty() {
    let q = Queue::<u8>::bounded(1);
    let err = q.try_get().unwrap_err();
    assert_eq!(err, TryGetError::Empty);
    assert!(err.is_empty() && !err.is_shut_down());
    assert_eq!(err.to_string(), "queue is empty");
}

#[test]
fn errors_after_shutdown() {
    let q = Queue::bounded(2);
    q.try_put(1).unwrap();
    q.shutdown();
    assert!(q.is_shutdown());
    let err = q.try_put(2).unwrap_err();
    assert!(err.is_shut_down() && !err.is_full());
    assert_eq!(err.to_string(), "queue is shut down");
    assert_eq!(err, TryPutError::ShutDown(2));
    let err = futures_lite::future::block_on(q.put(3)).unwrap_err();
    assert_eq!(err, PutError(3));
    assert_eq!(err.to_string(), "queue is shut down");
    assert_eq!(err.into_inner(), 3);
    // What was in the queue is still handed out, then gets fail.
    assert_eq!(futures_lite::future::block_on(q.get()), Ok(1));
    assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    assert_eq!(TryGetError::ShutDown.to_string(), "queue is shut down");
    let err = futures_lite::future::block_on(q.get()).unwrap_err();
    assert_eq!(err, GetError);
    assert_eq!(err.to_string(), "queue is shut down");
}

#[test]
fn errors_are_std_errors() {
    let errors: Vec<Box<dyn Error>> = vec![
        Box::new(TryPutError::Full(1)),
        Box::new(PutError(1)),
        Box::new(TryGetError::Empty),
        Box::new(GetError),
        Box::new(TaskDoneError),
    ];
    let messages: Vec<String> = errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        messages,
        [
            "queue is full",
            "queue is shut down",
            "queue is empty",
            "queue is shut down",
            "task_done called more times than items were taken"
        ]
    );
}

#[test]
fn task_done_more_than_taken_is_an_error() {
    let q = Queue::bounded(4);
    assert_eq!(q.task_done(), Err(TaskDoneError));
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    // Two were put but none taken: nothing to mark done.
    assert_eq!(q.task_done(), Err(TaskDoneError));
    q.try_get().unwrap();
    assert_eq!(q.task_done(), Ok(()));
    assert_eq!(q.task_done(), Err(TaskDoneError));
    assert_eq!(q.unfinished(), 1);
}

#[test]
fn join_waits_for_every_item_to_be_done() {
    let q = Queue::bounded(4);
    let mut join = q.join();
    // Nothing put: join returns at once.
    assert_eq!(poll_noop(&mut join), Poll::Ready(()));
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    let (waker, woken) = counting_waker();
    let mut join = q.join();
    assert!(poll(&mut join, &waker).is_pending());
    q.try_get().unwrap();
    q.try_get().unwrap();
    q.task_done().unwrap();
    assert!(poll(&mut join, &waker).is_pending());
    assert_eq!(woken.count(), 0);
    q.task_done().unwrap();
    assert_eq!(woken.count(), 1);
    assert_eq!(poll(&mut join, &waker), Poll::Ready(()));
}

#[test]
fn join_returns_once_the_count_reached_zero_though_items_came_again() {
    let q = Queue::bounded(4);
    q.try_put(1).unwrap();
    q.try_get().unwrap();
    let (waker, woken) = counting_waker();
    let mut join = q.join();
    assert!(poll(&mut join, &waker).is_pending());
    // The count reaches zero and goes up again before the joiner runs.
    q.task_done().unwrap();
    q.try_put(2).unwrap();
    assert_eq!(woken.count(), 1);
    assert_eq!(poll(&mut join, &waker), Poll::Ready(()));
    // A joiner that began after that zero waits for the next one.
    let mut late = q.join();
    assert!(poll(&mut late, &waker).is_pending());
    q.try_get().unwrap();
    q.task_done().unwrap();
    assert_eq!(poll(&mut late, &waker), Poll::Ready(()));
}

#[test]
fn a_waiting_getter_takes_the_item_the_order_puts_first_when_it_runs() {
    fn served<K: tulip_queue::Kind<u8>>(q: Queue<u8, K>) -> Poll<Result<u8, GetError>> {
        let mut g = q.get();
        assert!(poll_noop(&mut g).is_pending());
        // 5 serves the getter; 1 and 3 arrive before it runs.
        for x in [5, 1, 3] {
            q.try_put(x).unwrap();
        }
        poll_noop(&mut g)
    }
    assert_eq!(served(Queue::bounded(3)), Poll::Ready(Ok(5)));
    assert_eq!(served(Queue::lifo(3)), Poll::Ready(Ok(3)));
    assert_eq!(served(Queue::priority(3)), Poll::Ready(Ok(1)));
}

#[test]
fn graceful_shutdown_fails_waiting_putters_with_their_items() {
    let q = Queue::bounded(1);
    q.try_put(1).unwrap();
    let (waker, woken) = counting_waker();
    let mut put = q.put(2);
    assert!(poll(&mut put, &waker).is_pending());
    q.shutdown();
    assert_eq!(woken.count(), 1);
    assert_eq!(poll(&mut put, &waker), Poll::Ready(Err(PutError(2))));
    // The item already in the queue is drained, and join follows it being done.
    let mut join = q.join();
    assert!(poll_noop(&mut join).is_pending());
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    q.task_done().unwrap();
    assert_eq!(poll_noop(&mut join), Poll::Ready(()));
}

#[test]
fn graceful_shutdown_fails_waiting_getters() {
    let q = Queue::<u8>::bounded(1);
    let (waker, woken) = counting_waker();
    let mut get = q.get();
    assert!(poll(&mut get, &waker).is_pending());
    q.shutdown();
    assert_eq!(woken.count(), 1);
    assert_eq!(poll(&mut get, &waker), Poll::Ready(Err(GetError)));
}

#[test]
fn graceful_shutdown_keeps_an_item_already_handed_to_a_getter() {
    let q = Queue::bounded(1);
    let mut get = q.get();
    assert!(poll_noop(&mut get).is_pending());
    q.try_put(5).unwrap();
    q.shutdown();
    assert_eq!(poll_noop(&mut get), Poll::Ready(Ok(5)));
}

#[test]
fn immediate_shutdown_discards_the_rest_and_counts_it_done() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Queue::bounded(4);
    for i in 0..3 {
        q.try_put(Tracked(i, drops.clone())).unwrap();
    }
    let taken = q.try_get().unwrap();
    assert_eq!(taken.0, 0);
    let mut join = q.join();
    assert!(poll_noop(&mut join).is_pending());
    q.shutdown_immediate();
    // The two left were dropped and count as done; the taken one still waits for task_done.
    assert_eq!(drops.load(Ordering::SeqCst), 2);
    assert_eq!((q.len(), q.unfinished()), (0, 1));
    assert!(q.try_get().unwrap_err().is_shut_down());
    assert!(
        q.try_put(Tracked(9, drops.clone()))
            .unwrap_err()
            .is_shut_down()
    );
    assert!(poll_noop(&mut join).is_pending());
    q.task_done().unwrap();
    assert_eq!(poll_noop(&mut join), Poll::Ready(()));
    drop(taken);
}

#[test]
fn immediate_shutdown_fails_waiting_getters_and_putters() {
    let q = Queue::<u8>::bounded(1);
    let (gw, got) = counting_waker();
    let mut get = q.get();
    assert!(poll(&mut get, &gw).is_pending());
    let other = Queue::bounded(1);
    other.try_put(0).unwrap();
    let (pw, put_woken) = counting_waker();
    let mut put = other.put(1);
    assert!(poll(&mut put, &pw).is_pending());
    q.shutdown_immediate();
    other.shutdown_immediate();
    assert_eq!((got.count(), put_woken.count()), (1, 1));
    assert_eq!(poll(&mut get, &gw), Poll::Ready(Err(GetError)));
    assert_eq!(poll(&mut put, &pw), Poll::Ready(Err(PutError(1))));
    assert_eq!(poll_noop(&mut other.join()), Poll::Ready(()));
}

#[test]
fn immediate_shutdown_discards_an_item_handed_to_a_getter_that_has_not_run() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Queue::bounded(1);
    let mut get = q.get();
    assert!(poll_noop(&mut get).is_pending());
    q.try_put(Tracked(1, drops.clone())).unwrap();
    assert_eq!(q.len(), 1);
    q.shutdown_immediate();
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert!(matches!(poll_noop(&mut get), Poll::Ready(Err(GetError))));
    assert_eq!(poll_noop(&mut q.join()), Poll::Ready(()));
}

#[test]
fn graceful_then_immediate_discards_what_was_being_drained() {
    let q = Queue::bounded(2);
    q.try_put(1).unwrap();
    q.try_put(2).unwrap();
    q.shutdown();
    assert_eq!(q.try_get(), Ok(1));
    q.shutdown_immediate();
    assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    assert_eq!(q.unfinished(), 1); // the one taken
}

#[test]
fn waiting_putters_are_served_in_arrival_order_and_newcomers_wait() {
    let q = Queue::bounded(1);
    q.try_put(0).unwrap();
    let mut puts: Vec<_> = (1..=3).map(|i| q.put(i)).collect();
    let wakers: Vec<_> = (0..3).map(|_| counting_waker()).collect();
    for (put, (w, _)) in puts.iter_mut().zip(&wakers) {
        assert!(poll(put, w).is_pending());
    }
    assert_eq!(q.putters_waiting(), 3);
    // Taking an item moves the first putter's item in at once: a newcomer finds no room.
    assert_eq!(q.try_get(), Ok(0));
    assert_eq!(
        wakers.iter().map(|(_, c)| c.count()).collect::<Vec<_>>(),
        [1, 0, 0]
    );
    assert_eq!(q.try_put(9), Err(TryPutError::Full(9)));
    // Polling the later putters first changes nothing: they still wait, the first is done.
    for (put, (w, _)) in puts.iter_mut().zip(&wakers).skip(1).rev() {
        assert!(poll(put, w).is_pending());
    }
    assert_eq!(poll(&mut puts[0], &wakers[0].0), Poll::Ready(Ok(())));
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    assert_eq!(q.try_get(), Ok(3));
    for (put, (w, _)) in puts.iter_mut().zip(&wakers).skip(1) {
        assert_eq!(poll(put, w), Poll::Ready(Ok(())));
    }
}

#[test]
fn waiting_getters_are_served_in_arrival_order_and_newcomers_wait() {
    let q = Queue::bounded(4);
    let mut gets: Vec<_> = (0..3).map(|_| q.get()).collect();
    for get in gets.iter_mut() {
        assert!(poll_noop(get).is_pending());
    }
    assert_eq!(q.getters_waiting(), 3);
    q.try_put('a').unwrap();
    // The item is promised to the first getter, though it has not run yet.
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
    q.try_put('b').unwrap();
    q.try_put('c').unwrap();
    // Each served getter takes the item that comes out next when it runs, whatever the order
    // the executor runs them in.
    let got: Vec<_> = gets.iter_mut().rev().map(poll_noop).collect();
    assert_eq!(
        got,
        [
            Poll::Ready(Ok('a')),
            Poll::Ready(Ok('b')),
            Poll::Ready(Ok('c'))
        ]
    );
}

#[test]
fn a_dropped_get_passes_its_item_and_wake_up_to_the_next_getter() {
    let q = Queue::bounded(2);
    let (w1, woken1) = counting_waker();
    let (w2, woken2) = counting_waker();
    let mut g1 = q.get();
    let mut g2 = q.get();
    assert!(poll(&mut g1, &w1).is_pending());
    assert!(poll(&mut g2, &w2).is_pending());
    q.try_put(7).unwrap();
    assert_eq!((woken1.count(), woken2.count()), (1, 0));
    drop(g1);
    assert_eq!(woken2.count(), 1);
    assert_eq!(poll(&mut g2, &w2), Poll::Ready(Ok(7)));
    assert_eq!(q.len(), 0);
}

#[test]
fn a_dropped_get_with_nobody_behind_returns_its_item_to_the_head() {
    let q = Queue::bounded(2);
    let mut g = q.get();
    assert!(poll_noop(&mut g).is_pending());
    q.try_put(1).unwrap(); // handed to g
    q.try_put(2).unwrap(); // into the queue
    assert_eq!(q.try_put(3), Err(TryPutError::Full(3)));
    drop(g);
    assert_eq!(q.try_get(), Ok(1));
    assert_eq!(q.try_get(), Ok(2));
    // Only items actually taken can be marked done.
    q.task_done().unwrap();
    q.task_done().unwrap();
    assert_eq!(q.task_done(), Err(TaskDoneError));
}

#[test]
fn a_dropped_waiting_get_leaves_the_line() {
    let q = Queue::bounded(1);
    let mut g1 = q.get();
    let mut g2 = q.get();
    assert!(poll_noop(&mut g1).is_pending());
    assert!(poll_noop(&mut g2).is_pending());
    drop(g1);
    assert_eq!(q.getters_waiting(), 1);
    q.try_put(4).unwrap();
    assert_eq!(poll_noop(&mut g2), Poll::Ready(Ok(4)));
}

#[test]
fn a_dropped_served_getter_leaves_the_items_in_the_queues_order() {
    // The item that served the dropped getter was put first: it stays the oldest.
    fn returned<K: tulip_queue::Kind<u8>>(q: Queue<u8, K>) -> Vec<u8> {
        let mut g = q.get();
        assert!(poll_noop(&mut g).is_pending());
        for x in [2, 3, 1] {
            q.try_put(x).unwrap();
        }
        drop(g);
        std::iter::from_fn(|| q.try_get().ok()).collect()
    }
    assert_eq!(returned(Queue::bounded(3)), [2, 3, 1]);
    assert_eq!(returned(Queue::lifo(3)), [1, 3, 2]);
    assert_eq!(returned(Queue::priority(3)), [1, 2, 3]);
}

#[test]
fn a_dropped_waiting_put_never_inserts_its_item() {
    let drops = Arc::new(AtomicUsize::new(0));
    let q = Queue::bounded(1);
    q.try_put(Tracked(0, drops.clone())).unwrap();
    let mut p1 = q.put(Tracked(1, drops.clone()));
    let mut p2 = q.put(Tracked(2, drops.clone()));
    assert!(poll_noop(&mut p1).is_pending());
    assert!(poll_noop(&mut p2).is_pending());
    drop(p1);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
    assert_eq!(q.putters_waiting(), 1);
    assert_eq!(q.try_get().unwrap().0, 0);
    assert_eq!(q.try_get().unwrap().0, 2);
    assert!(q.try_get().unwrap_err().is_empty());
    assert!(poll_noop(&mut p2).is_ready());
    assert_eq!(q.unfinished(), 2);
}

#[test]
fn a_put_dropped_after_it_was_served_has_put_its_item() {
    let q = Queue::bounded(1);
    q.try_put(0).unwrap();
    let mut p = q.put(1);
    assert!(poll_noop(&mut p).is_pending());
    assert_eq!(q.try_get(), Ok(0));
    // Served but not yet run: the item is already in the queue, so dropping loses nothing.
    drop(p);
    assert_eq!(q.try_get(), Ok(1));
}

#[test]
fn an_item_handed_over_frees_its_place_when_taken() {
    // Capacity 1: a getter holds a handed-over item, so a second put must wait for it.
    let q = Queue::bounded(1);
    let mut g1 = q.get();
    assert!(poll_noop(&mut g1).is_pending());
    q.try_put(1).unwrap();
    let mut g2 = q.get();
    assert!(poll_noop(&mut g2).is_pending());
    let (w, woken) = counting_waker();
    let mut p = q.put(2);
    assert!(poll(&mut p, &w).is_pending());
    // g1 takes its item: the place goes to the putter, whose item goes straight to g2.
    assert_eq!(poll_noop(&mut g1), Poll::Ready(Ok(1)));
    assert_eq!(woken.count(), 1);
    assert_eq!(poll(&mut p, &w), Poll::Ready(Ok(())));
    assert_eq!(poll_noop(&mut g2), Poll::Ready(Ok(2)));
}

#[test]
fn debug_output() {
    let q = Queue::<u8>::bounded(3);
    q.try_put(1).unwrap();
    let s = format!("{q:?}");
    assert!(
        s.starts_with("Queue { kind: Fifo, len: 1, capacity: 3"),
        "{s}"
    );
}

#[test]
fn graceful_shutdown_keeps_getters_waiting_while_a_handed_item_may_come_back() {
    // g1 is handed an item and dropped before it takes it, after a graceful shutdown: the item
    // goes to g2, which must still be in line for it (failing g2 would strand the item and
    // keep `join` waiting forever).
    let q = Queue::bounded(2);
    let (w2, woken2) = counting_waker();
    let mut g1 = q.get();
    let mut g2 = q.get();
    assert!(poll_noop(&mut g1).is_pending());
    assert!(poll(&mut g2, &w2).is_pending());
    q.try_put(1).unwrap(); // handed to g1
    q.shutdown();
    assert!(poll(&mut g2, &w2).is_pending());
    assert_eq!(q.try_get(), Err(TryGetError::Empty));
    drop(g1);
    assert_eq!(woken2.count(), 1);
    assert_eq!(poll(&mut g2, &w2), Poll::Ready(Ok(1)));
    assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
    q.task_done().unwrap();
    assert_eq!(poll_noop(&mut q.join()), Poll::Ready(()));
}

#[test]
fn graceful_shutdown_fails_the_waiting_getters_once_the_handed_item_is_taken() {
    let q = Queue::bounded(2);
    let (w2, woken2) = counting_waker();
    let mut g1 = q.get();
    let mut g2 = q.get();
    assert!(poll_noop(&mut g1).is_pending());
    assert!(poll(&mut g2, &w2).is_pending());
    q.try_put(1).unwrap(); // handed to g1
    q.shutdown();
    assert_eq!(woken2.count(), 0);
    assert_eq!(poll_noop(&mut g1), Poll::Ready(Ok(1)));
    assert_eq!(woken2.count(), 1);
    assert_eq!(poll(&mut g2, &w2), Poll::Ready(Err(GetError)));
    assert_eq!(q.getters_waiting(), 0);
}

#[test]
fn items_left_by_several_dropped_served_getters_keep_their_order() {
    // g1 and g2 are served by 1 and 2, a third item is stored, then both getters are dropped,
    // in either order: the items stay in the order they were put.
    fn given_back<K: tulip_queue::Kind<u8>>(q: Queue<u8, K>, g2_first: bool) -> Vec<u8> {
        let mut g1 = q.get();
        let mut g2 = q.get();
        assert!(poll_noop(&mut g1).is_pending());
        assert!(poll_noop(&mut g2).is_pending());
        for x in [1, 2, 3] {
            q.try_put(x).unwrap();
        }
        if g2_first {
            drop(g2);
            drop(g1);
        } else {
            drop(g1);
            drop(g2);
        }
        std::iter::from_fn(|| q.try_get().ok()).collect()
    }
    for g2_first in [false, true] {
        assert_eq!(given_back(Queue::bounded(4), g2_first), [1, 2, 3]);
        assert_eq!(given_back(Queue::lifo(4), g2_first), [3, 2, 1]);
        assert_eq!(given_back(Queue::priority(4), g2_first), [1, 2, 3]);
    }
}

#[test]
fn a_panicking_ord_while_admitting_a_putter_still_wakes_it_and_keeps_the_counts() {
    use std::cmp::Ordering as Cmp;
    use std::panic::{AssertUnwindSafe, catch_unwind};

    /// Compares by number, but panics when the number 99 is compared.
    #[derive(Debug, PartialEq, Eq)]
    struct Touchy(u8);
    impl PartialOrd for Touchy {
        fn partial_cmp(&self, other: &Self) -> Option<Cmp> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Touchy {
        fn cmp(&self, other: &Self) -> Cmp {
            assert!(self.0 != 99 && other.0 != 99, "touchy");
            self.0.cmp(&other.0)
        }
    }

    let q = Queue::priority(2);
    q.try_put(Touchy(1)).unwrap();
    q.try_put(Touchy(2)).unwrap();
    let (waker, woken) = counting_waker();
    let mut put = q.put(Touchy(99));
    assert!(poll(&mut put, &waker).is_pending());
    // Taking 1 admits the putter; placing its item compares it with 2 and panics.
    let taken = catch_unwind(AssertUnwindSafe(|| q.try_get()));
    assert!(taken.is_err());
    // The putter was served and is woken; its item stayed in the heap and is counted. (The
    // item being taken, 1, never reached the caller: it still counts as unfinished.)
    assert_eq!(woken.count(), 1);
    assert!(matches!(poll(&mut put, &waker), Poll::Ready(Ok(()))));
    assert_eq!((q.len(), q.unfinished()), (2, 3));
    // The queue still works.
    assert_eq!(q.try_get().map(|t| t.0), Ok(2));
}
