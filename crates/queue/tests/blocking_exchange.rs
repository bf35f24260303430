//! Threads blocking on `put` / `get` of a capacity-1 or -2 FIFO queue, with `try_put` /
//! `try_get`, cancelled futures, `join` and a shutdown; small enough for Miri
//! (`cargo +nightly miri test -p tulip-queue --test blocking_exchange`), whose scheduler and
//! weak-memory emulation look for data races and lost wake-ups (it reports a deadlock of every
//! thread). Outside Miri a watchdog fails a run that hangs.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::task::{Context, Poll};
use std::thread;

use futures_lite::future::block_on;
use tulip_queue::Queue;

const PER: usize = if cfg!(miri) { 6 } else { 2_000 };

fn exchange(cap: usize, mix: bool) {
    let q = Queue::<Box<usize>>::bounded(cap);
    let got = Arc::new(AtomicUsize::new(0));
    let sum = Arc::new(AtomicUsize::new(0));
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let q = q.clone();
            thread::spawn(move || {
                for i in 0..PER {
                    let v = Box::new(p * PER + i);
                    if mix && i % 3 == 1 {
                        let mut v = v;
                        loop {
                            match q.try_put(v) {
                                Ok(()) => break,
                                Err(tulip_queue::TryPutError::Full(back)) => v = back,
                                Err(e) => panic!("{e:?}"),
                            }
                            thread::yield_now();
                        }
                    } else if mix && i % 3 == 2 {
                        // A placeholder put polled once (it may line up) and dropped: it is
                        // either put (the consumers skip it) or dropped with the future; then
                        // the item is put for real.
                        let mut f = q.put(Box::new(usize::MAX));
                        let waker = std::task::Waker::noop();
                        let _ = std::pin::Pin::new(&mut f).poll(&mut Context::from_waker(waker));
                        drop(f);
                        block_on(q.put(v)).unwrap();
                    } else {
                        block_on(q.put(v)).unwrap();
                    }
                }
            })
        })
        .collect();
    let consumers: Vec<_> = (0..2)
        .map(|c| {
            let (q, got, sum) = (q.clone(), got.clone(), sum.clone());
            thread::spawn(move || {
                loop {
                    let item = if mix && c == 1 {
                        match q.try_get() {
                            Ok(x) => Ok(x),
                            Err(tulip_queue::TryGetError::Empty) => {
                                // A get polled once and dropped: a reservation it got passes on.
                                let mut f = q.get();
                                let waker = std::task::Waker::noop();
                                match std::pin::Pin::new(&mut f)
                                    .poll(&mut Context::from_waker(waker))
                                {
                                    Poll::Ready(r) => r.map_err(|_| ()),
                                    Poll::Pending => {
                                        drop(f);
                                        thread::yield_now();
                                        continue;
                                    }
                                }
                            }
                            Err(tulip_queue::TryGetError::ShutDown) => Err(()),
                        }
                    } else {
                        block_on(q.get()).map_err(|_| ())
                    };
                    match item {
                        Ok(v) => {
                            if *v != usize::MAX {
                                got.fetch_add(1, SeqCst);
                                sum.fetch_add(*v, SeqCst);
                            }
                            q.task_done().unwrap();
                        }
                        Err(()) => return,
                    }
                }
            })
        })
        .collect();
    for p in producers {
        p.join().unwrap();
    }
    block_on(q.join());
    q.shutdown();
    for c in consumers {
        c.join().unwrap();
    }
    let n = 2 * PER;
    assert_eq!(got.load(SeqCst), n, "items delivered");
    assert_eq!(sum.load(SeqCst), n * (n - 1) / 2, "each once");
    assert_eq!((q.len(), q.unfinished()), (0, 0));
}

/// Runs `exchange`, failing it if it takes more than a minute (Miri, whose clock is not the
/// wall's, reports a deadlock itself).
fn watched(cap: usize, mix: bool) {
    if cfg!(miri) {
        return exchange(cap, mix);
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let t = thread::spawn(move || {
        exchange(cap, mix);
        let _ = tx.send(());
    });
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(()) => t.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = t.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
            panic!("exchange (cap {cap}, mixed {mix}) hangs")
        }
    }
}

#[test]
fn cap1_blocking() {
    watched(1, false);
}

#[test]
fn cap1_mixed() {
    watched(1, true);
}

#[test]
fn cap2_mixed() {
    watched(2, true);
}
