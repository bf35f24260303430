//! Fetching many heads at once. [`FetchMany`] keeps up to `concurrency` fetches in slots and
//! polls only the slots whose fetch was woken (each slot has its own waker that queues its
//! index), so a completion costs O(1) however many fetches are in flight. A finished slot is
//! refilled at once with the next target, until the input runs out or the stop flag is set.
//!
//! The fetches run on the thread that polls the stream, with no executor or channel between
//! them and the consumer: under `block_on` one thread runs the fetches, the reactor and the
//! consumer, and a completion costs no cross-thread wake-up. Measured on loopback, that took
//! about a third off the CPU time per connection compared with workers on smol's global
//! executor thread sending results through a channel (fewer context switches and reactor
//! wake-ups), and it needs no threads of its own.
//!
//! Deadlines are kept here too, not by a timer per fetch (each timer costs the reactor a
//! wake-up, about 7% of the CPU time per connection on loopback): every fetch has the same
//! timeout and they start in order, so their deadlines form a FIFO queue, and one timer set to
//! the oldest is enough. A fetch that finishes leaves its entry behind, dropped when it reaches
//! the front; a fetch whose deadline passes is dropped (closing its connection) and reported as
//! a timeout in the phase it had reached.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::Stream;

use crate::fd::fd_budget;
use crate::fetch::{FetchError, Options, Phase, Response, exchange};
use crate::target::Target;

/// One target's outcome, as [`FetchMany`] yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The target's position in the input (0-based).
    pub index: usize,
    /// The head, or why there is none.
    pub result: Result<Response, FetchError>,
    /// How long the fetch took, failed or not (for a success, the same as
    /// [`Response::elapsed`]).
    pub elapsed: Duration,
}

type FetchFuture = Pin<Box<dyn Future<Output = Fetched> + Send>>;

/// The stream returned by [`fetch_many`]: yields a [`Fetched`] as each fetch completes, and
/// ends when every target started has finished.
///
/// Fetches make progress while the stream is polled (as with any stream; deadlines keep
/// counting in between), on the polling thread. Dropping the stream cancels the fetches in
/// flight. [`FetchMany::stop`] (or setting the flag given to [`fetch_many_until`]) only stops
/// new ones from starting: those in flight still finish (each within its deadline) and are
/// yielded, then the stream ends.
#[must_use = "streams do nothing unless polled"]
pub struct FetchMany {
    targets: Box<dyn Iterator<Item = Target> + Send>,
    /// The index the next target taken will have.
    next_index: usize,
    options: Arc<Options>,
    stop: Arc<AtomicBool>,
    concurrency: usize,
    slots: Vec<Slot>,
    /// Slots with nothing in them, to refill.
    free: Vec<usize>,
    /// Slots whose fetch was woken and must be polled.
    ready: Arc<ReadyQueue>,
    /// Results finished in a batch, not yet yielded.
    done: VecDeque<Fetched>,
    started: bool,
    /// (deadline, slot, fetch index) in start order, hence deadline order.
    deadlines: VecDeque<(Instant, usize, usize)>,
    /// Set to the front deadline (or earlier: it is not moved when the front entry finishes).
    timer: Timer,
    timer_armed: bool,
}

struct Slot {
    fetch: Option<FetchFuture>,
    /// The input index of the fetch in the slot, and when it started.
    current: Option<(usize, Instant)>,
    /// Where the fetch has got, for the timeout message.
    phase: Arc<AtomicU8>,
    waker: Waker,
    wake: Arc<SlotWake>,
}

/// The indices of woken slots, and the waker of whoever polls the stream.
#[derive(Default)]
struct ReadyQueue {
    indices: Mutex<Vec<usize>>,
    consumer: Mutex<Option<Waker>>,
}

/// A slot's waker: queues the slot's index once until it has been polled again.
struct SlotWake {
    index: usize,
    queued: AtomicBool,
    ready: Arc<ReadyQueue>,
}

impl SlotWake {
    /// Queues the slot's index unless already queued; true if it was not.
    fn queue(&self) -> bool {
        if self.queued.swap(true, Ordering::AcqRel) {
            return false;
        }
        lock(&self.ready.indices).push(self.index);
        true
    }
}

impl Wake for SlotWake {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.queue() {
            return;
        }
        // Woken outside the lock: the consumer's waker may run arbitrary code.
        let consumer = lock(&self.ready.consumer).clone();
        if let Some(waker) = consumer {
            waker.wake();
        }
    }
}

/// Locks, ignoring poisoning: the data (indices, a waker) stays valid whatever panicked.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for FetchMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchMany")
            .field("concurrency", &self.concurrency)
            .field("started", &self.next_index)
            .field("in_flight", &(self.slots.len() - self.free.len()))
            .field("stopped", &self.stop.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl FetchMany {
    /// Starts nothing new: fetches in flight finish, then the stream ends.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The stop flag, to hand to a signal handler (`signal_hook::flag::register`).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The concurrency actually used: the cap asked for, lowered to the number of targets (when
    /// known) and to what the open-file limit allows.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Puts the next target's fetch into slot `i` and queues it for polling; false (and the
    /// slot freed) when there is no next target or the stream was stopped.
    fn refill(&mut self, i: usize) -> bool {
        let next = if self.stop.load(Ordering::Relaxed) {
            None
        } else {
            self.targets.next()
        };
        let Some(target) = next else {
            debug_assert!(self.slots[i].fetch.is_none() && self.slots[i].current.is_none());
            self.free.push(i);
            return false;
        };
        let index = self.next_index;
        self.next_index += 1;
        let options = self.options.clone();
        let started = Instant::now();
        // A timeout too large to add to the clock is no deadline at all.
        let deadline = started.checked_add(options.timeout);
        if let Some(at) = deadline {
            self.deadlines.push_back((at, i, index));
        }
        let slot = &mut self.slots[i];
        let phase = slot.phase.clone();
        phase.store(Phase::Dns as u8, Ordering::Relaxed);
        slot.current = Some((index, started));
        slot.fetch = Some(Box::pin(async move {
            let result = exchange(&target, &options, &phase, started, deadline).await;
            let elapsed = match &result {
                Ok(response) => response.elapsed,
                Err(_) => started.elapsed(),
            };
            Fetched {
                index,
                result,
                elapsed,
            }
        }));
        // Queued for the poll loop this is called from, without waking the consumer: a wake
        // here would make `block_on` poll the reactor once more for nothing before sleeping.
        slot.wake.queue();
        true
    }

    /// Ends the fetches whose deadline has passed, drops entries of finished fetches from the
    /// front, and keeps the timer set no later than the front deadline.
    fn expire(&mut self, cx: &mut Context<'_>) {
        loop {
            let now = Instant::now();
            while let Some(&(at, i, index)) = self.deadlines.front() {
                let Some((current, started)) = self.slots[i].current else {
                    self.deadlines.pop_front();
                    continue;
                };
                if current != index {
                    self.deadlines.pop_front();
                    continue;
                }
                if at > now {
                    break;
                }
                self.deadlines.pop_front();
                let slot = &mut self.slots[i];
                // Dropping the fetch closes its connection.
                slot.fetch = None;
                slot.current = None;
                let phase = Phase::from_u8(slot.phase.load(Ordering::Relaxed));
                self.done.push_back(Fetched {
                    index,
                    result: Err(FetchError::Timeout(phase)),
                    elapsed: now.saturating_duration_since(started),
                });
                self.refill(i);
            }
            let Some(&(front, ..)) = self.deadlines.front() else {
                return;
            };
            if !self.timer_armed {
                self.timer.set_at(front);
                self.timer_armed = true;
            }
            match Pin::new(&mut self.timer).poll(cx) {
                // Fired (maybe for an entry that finished since): look again.
                Poll::Ready(_) => self.timer_armed = false,
                Poll::Pending => return,
            }
        }
    }

    fn start(&mut self) {
        self.started = true;
        for i in 0..self.concurrency {
            let wake = Arc::new(SlotWake {
                index: i,
                queued: AtomicBool::new(false),
                ready: self.ready.clone(),
            });
            self.slots.push(Slot {
                fetch: None,
                current: None,
                phase: Arc::new(AtomicU8::new(Phase::Dns as u8)),
                waker: Waker::from(wake.clone()),
                wake,
            });
            if !self.refill(i) {
                break;
            }
        }
    }
}

impl Stream for FetchMany {
    type Item = Fetched;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fetched>> {
        let this = &mut *self;
        {
            let mut consumer = lock(&this.ready.consumer);
            if !consumer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *consumer = Some(cx.waker().clone());
            }
        }
        if !this.started {
            this.start();
        }
        loop {
            if let Some(fetched) = this.done.pop_front() {
                return Poll::Ready(Some(fetched));
            }
            this.expire(cx);
            if !this.done.is_empty() {
                continue;
            }
            let ready = std::mem::take(&mut *lock(&this.ready.indices));
            if ready.is_empty() {
                return if this.free.len() == this.slots.len() {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            }
            for i in ready {
                let slot = &mut this.slots[i];
                // Cleared before polling, so a wake during the poll queues the slot again.
                slot.wake.queued.store(false, Ordering::Release);
                let Some(fetch) = slot.fetch.as_mut() else {
                    continue;
                };
                if let Poll::Ready(fetched) =
                    fetch.as_mut().poll(&mut Context::from_waker(&slot.waker))
                {
                    slot.fetch = None;
                    slot.current = None;
                    this.done.push_back(fetched);
                    this.refill(i);
                }
            }
        }
    }
}

/// Fetches the heads of all `targets`, at most `concurrency` at a time, yielding each result
/// ([`Fetched`]: input index, result, elapsed) as it completes. See [`fetch_many_until`] to
/// stop early.
///
/// The fetches run on the thread that polls the stream, while it is polled: poll it from
/// `smol::block_on` or any executor. The soft open-file limit is raised first, and the
/// concurrency lowered to what it allows (connections beyond it wait for a free descriptor
/// rather than fail).
///
/// ```
/// use futures_lite::StreamExt;
/// use headers::{fetch_many, Options, Target};
/// # futures_lite::future::block_on(async {
/// let ok = stub::Stub::start(stub::Behavior::Ok).unwrap();
/// let missing = stub::Stub::start(stub::Behavior::Status(404)).unwrap();
/// let targets: Vec<Target> = [ok.target(), missing.target(), ok.target()]
///     .iter()
///     .map(|t| t.parse().unwrap())
///     .collect();
/// let mut results: Vec<(usize, u16)> = fetch_many(targets, &Options::default(), 2)
///     .map(|f| (f.index, f.result.unwrap().head.status))
///     .collect()
///     .await;
/// results.sort();
/// assert_eq!(results, [(0, 200), (1, 404), (2, 200)]);
/// # });
/// ```
pub fn fetch_many<I>(targets: I, options: &Options, concurrency: usize) -> FetchMany
where
    I: IntoIterator<Item = Target>,
    I::IntoIter: Send + 'static,
{
    fetch_many_until(
        targets,
        options,
        concurrency,
        Arc::new(AtomicBool::new(false)),
    )
}

/// Like [`fetch_many`], but no new fetch starts once `stop` is set (e.g. by a Ctrl-C handler):
/// those in flight finish and are yielded, then the stream ends. Targets are taken from the
/// iterator one at a time as slots free up, so it may be lazy (lines of stdin, say).
pub fn fetch_many_until<I>(
    targets: I,
    options: &Options,
    concurrency: usize,
    stop: Arc<AtomicBool>,
) -> FetchMany
where
    I: IntoIterator<Item = Target>,
    I::IntoIter: Send + 'static,
{
    let targets = targets.into_iter();
    let mut n = concurrency.max(1);
    if let Some(upper) = targets.size_hint().1 {
        n = n.min(upper.max(1));
    }
    if let Some(budget) = fd_budget() {
        n = n.min(budget);
    }
    FetchMany {
        targets: Box::new(targets),
        next_index: 0,
        options: Arc::new(options.clone()),
        stop,
        concurrency: n,
        slots: Vec::with_capacity(n),
        free: Vec::new(),
        ready: Arc::new(ReadyQueue::default()),
        done: VecDeque::new(),
        started: false,
        deadlines: VecDeque::new(),
        timer: Timer::never(),
        timer_armed: false,
    }
}
