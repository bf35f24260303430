//! Helpers shared by the queue's tests: polling a future by hand with a waker that counts its
//! wake-ups, items that record whether they were dropped, and a multi-threaded run with a
//! watchdog.

#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread;
use std::time::Duration;

use smol::Executor;

/// A waker that counts how often it was woken.
pub struct Counter(AtomicUsize);

impl Wake for Counter {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker and its count of wake-ups.
pub fn counting_waker() -> (Waker, Arc<Counter>) {
    let counter = Arc::new(Counter(AtomicUsize::new(0)));
    (Waker::from(counter.clone()), counter)
}

impl Counter {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls a future once with `waker`.
pub fn poll<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(f).poll(&mut Context::from_waker(waker))
}

/// Polls a future once with a waker nobody looks at.
pub fn poll_noop<F: Future + Unpin>(f: &mut F) -> Poll<F::Output> {
    poll(f, Waker::noop())
}

/// An item that counts its drops in a shared counter.
#[derive(Debug)]
pub struct Tracked(pub u32, pub Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

/// Runs `body` on an executor shared by `threads` threads and fails if it is not done within
/// `deadline`: a panic of the body is reported as itself, a hang with `on_hang`'s description
/// (called while the run is still stuck, so it can show the counts so far).
pub fn run_on_threads<F>(
    threads: usize,
    deadline: Duration,
    body: impl FnOnce(Arc<Executor<'static>>) -> F + Send + 'static,
    on_hang: impl FnOnce() -> String,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let (done_tx, done_rx) = mpsc::channel();
    let runner = thread::spawn(move || {
        let ex = Arc::new(Executor::new());
        let (stop_tx, stop_rx) = smol::channel::bounded::<()>(1);
        let workers: Vec<_> = (1..threads)
            .map(|_| {
                let (ex, stop_rx) = (ex.clone(), stop_rx.clone());
                thread::spawn(move || smol::block_on(ex.run(stop_rx.recv())))
            })
            .collect();
        let task = ex.spawn(body(ex.clone()));
        smol::block_on(ex.run(task));
        drop(stop_tx);
        for w in workers {
            // The stop channel closed: its `recv` error is how a worker is told to stop.
            w.join().unwrap().unwrap_err();
        }
        let _ = done_tx.send(());
    });
    match done_rx.recv_timeout(deadline) {
        Ok(()) => {}
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = runner.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("{}", on_hang()),
    }
}
