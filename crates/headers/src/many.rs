//! Fetching many heads at once. A shard keeps up to its share of the concurrency in slots and
//! polls only the slots whose fetch was woken (each slot has its own waker that queues its
//! index), so a completion costs O(1) however many fetches are in flight. A finished slot is
//! refilled at once with the next target, until the input runs out or the stop flag is set.
//!
//! One shard runs inside the stream, on the thread that polls it, with no executor or channel
//! between it and the consumer. With enough concurrency, more shards run on helper threads (one
//! per core, at most [`MAX_THREADS`]), taking targets from the same input and handing results
//! to the consumer through a queue. Measured on a loaded 2-core machine against nginx on
//! loopback, where nearly all the time is the kernel's TCP work: in six alternating runs of
//! 20,000 fetches at concurrency 256, two threads beat one every time (median about 12.5k/s
//! against 10.2k/s); 10,000 hosts answering after 200 ms took 0.73-0.88 s on two threads
//! against 0.80-0.96 s on one.
//!
//! With [`Options::max_redirects`] set, each slot follows its target's redirects
//! ([`crate::fetch_chain`]) and keeps that chain's deadline with a timer of its own, so that the
//! hops fetched before a timeout are not lost with the future.
//!
//! Deadlines are kept by each shard, not by a timer per fetch (each timer costs the reactor a
//! wake-up, about 7% of the CPU time per connection on loopback): every fetch has the same
//! timeout and a shard starts them in order, so their deadlines form a FIFO queue, and one
//! timer set to the oldest is enough. A fetch that finishes leaves its entry behind, dropped
//! when it reaches the front; a fetch whose deadline passes is dropped (closing its
//! connection) and reported as a timeout in the phase it had reached.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_io::Timer;
use futures_lite::Stream;

use crate::chain::{Hop, follow};
use crate::fd::fd_budget;
use crate::fetch::{FetchError, Options, Phase, Response, exchange};
use crate::target::Target;

/// The most threads [`fetch_many`] uses by default.
pub const MAX_THREADS: usize = 4;

/// Below this many connections per thread, another thread is not worth starting.
const MIN_CONCURRENCY_PER_THREAD: usize = 64;

/// One target's outcome, as [`FetchMany`] yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The target's position in the input (0-based).
    pub index: usize,
    /// The head, or why there is none.
    pub result: Result<Response, FetchError>,
    /// How long the fetch took, failed or not (for a success without redirects, the same as
    /// [`Response::elapsed`]; with redirects, the whole chain).
    pub elapsed: Duration,
    /// With [`Options::max_redirects`] set: the redirects followed before `result`, in order
    /// (see [`crate::Chain`]). Always empty otherwise.
    pub redirects: Vec<Hop>,
    /// With redirects followed: the URL `result` is about ([`crate::Chain::redirected_to`]);
    /// `None` when it is the input target.
    pub redirected_to: Option<Target>,
}

type FetchFuture = Pin<Box<dyn Future<Output = Fetched> + Send>>;

/// The stream returned by [`fetch_many`]: yields a [`Fetched`] as each fetch completes, and
/// ends when every target started has finished.
///
/// Part of the fetches run on the thread that polls the stream, while it is polled (deadlines
/// keep counting in between); the rest, if [`FetchMany::threads`] is above one, on helper
/// threads that start at once and hand their results over as they come. Dropping the stream
/// cancels the fetches in flight and joins the helpers. [`FetchMany::stop`] (or setting the
/// flag given to [`fetch_many_until`]) only stops new fetches from starting: those in flight
/// still finish (each within its deadline) and are yielded, then the stream ends.
#[must_use = "streams do nothing unless polled"]
pub struct FetchMany {
    local: Shard,
    local_done: bool,
    helpers: Vec<Helper>,
    /// Results from the helpers, and the consumer's waker.
    outbox: Arc<Outbox>,
    stop: Arc<AtomicBool>,
    cancel: Arc<AtomicBool>,
    concurrency: usize,
}

struct Helper {
    thread: Option<JoinHandle<()>>,
    /// The helper shard's wake-up, to make it notice the cancel flag.
    ready: Arc<ReadyQueue>,
}

#[derive(Default)]
struct Outbox {
    results: Mutex<VecDeque<Fetched>>,
    consumer: Mutex<Option<Waker>>,
    /// Helpers still running.
    live: AtomicUsize,
}

impl Outbox {
    fn wake_consumer(&self) {
        let waker = lock(&self.consumer).clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Counts a helper as live until dropped, even by a panic, so the stream cannot wait forever.
struct LiveGuard(Arc<Outbox>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
        self.0.wake_consumer();
    }
}

/// The input, shared by the shards: targets are taken one at a time, in order.
struct Source {
    targets: Box<dyn Iterator<Item = Target> + Send>,
    /// The index the next target taken will have.
    next_index: usize,
}

/// A set of slots driven by one thread.
struct Shard {
    source: Arc<Mutex<Source>>,
    options: Arc<Options>,
    stop: Arc<AtomicBool>,
    size: usize,
    slots: Vec<Slot>,
    /// Slots with a fetch in them: the shard is done when none is left.
    active: usize,
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

/// The indices of woken slots, and the waker of whoever drives the shard.
#[derive(Default)]
struct ReadyQueue {
    indices: Mutex<Vec<usize>>,
    driver: Mutex<Option<Waker>>,
}

impl ReadyQueue {
    fn wake_driver(&self) {
        // Woken outside the lock: the driver's waker may run arbitrary code.
        let waker = lock(&self.driver).clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
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
        if self.queue() {
            self.ready.wake_driver();
        }
    }
}

/// Locks, ignoring poisoning: the data (indices, wakers, results) stays valid whatever panicked.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl std::fmt::Debug for FetchMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchMany")
            .field("concurrency", &self.concurrency)
            .field("threads", &self.threads())
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

    /// The threads fetching: the polling thread and the helpers.
    pub fn threads(&self) -> usize {
        1 + self.helpers.len()
    }
}

impl Drop for FetchMany {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::Release);
        for helper in &self.helpers {
            helper.ready.wake_driver();
        }
        for helper in &mut self.helpers {
            if let Some(thread) = helper.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Stream for FetchMany {
    type Item = Fetched;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fetched>> {
        let this = &mut *self;
        if !this.helpers.is_empty() {
            // Registered before looking, so a result handed over meanwhile wakes us.
            let mut consumer = lock(&this.outbox.consumer);
            if !consumer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *consumer = Some(cx.waker().clone());
            }
        }
        if let Some(fetched) = lock(&this.outbox.results).pop_front() {
            return Poll::Ready(Some(fetched));
        }
        if !this.local_done {
            match this.local.poll_shard(cx) {
                Poll::Ready(Some(fetched)) => return Poll::Ready(Some(fetched)),
                Poll::Ready(None) => this.local_done = true,
                Poll::Pending => {}
            }
        }
        if this.local_done && this.outbox.live.load(Ordering::Acquire) == 0 {
            // The helpers are gone: whatever they handed over is in the outbox by now.
            return Poll::Ready(lock(&this.outbox.results).pop_front());
        }
        Poll::Pending
    }
}

impl Shard {
    fn new(
        source: Arc<Mutex<Source>>,
        options: Arc<Options>,
        stop: Arc<AtomicBool>,
        size: usize,
    ) -> Shard {
        Shard {
            source,
            options,
            stop,
            size,
            slots: Vec::with_capacity(size),
            active: 0,
            ready: Arc::new(ReadyQueue::default()),
            done: VecDeque::new(),
            started: false,
            deadlines: VecDeque::new(),
            timer: Timer::never(),
            timer_armed: false,
        }
    }

    /// Puts the next target's fetch into the empty slot `i` and queues it for polling; false
    /// (the slot left empty) when there is no next target or the stream was stopped.
    fn refill(&mut self, i: usize) -> bool {
        let next = if self.stop.load(Ordering::Relaxed) {
            None
        } else {
            let mut source = lock(&self.source);
            let target = source.targets.next();
            let index = source.next_index;
            if target.is_some() {
                source.next_index += 1;
            }
            target.map(|t| (index, t))
        };
        let Some((index, target)) = next else {
            return false;
        };
        debug_assert!(self.slots[i].fetch.is_none(), "refilling a busy slot");
        self.active += 1;
        let options = self.options.clone();
        let started = Instant::now();
        // A timeout too large to add to the clock is no deadline at all.
        let deadline = started.checked_add(options.timeout);
        // A chain keeps its own deadline (see the module doc).
        if let (Some(at), None) = (deadline, options.max_redirects) {
            self.deadlines.push_back((at, i, index));
        }
        let slot = &mut self.slots[i];
        let phase = slot.phase.clone();
        phase.store(Phase::Dns as u8, Ordering::Relaxed);
        slot.current = Some((index, started));
        slot.fetch = Some(match options.max_redirects {
            None => Box::pin(async move {
                let result = exchange(&target, &options, &phase, started, deadline).await;
                let elapsed = match &result {
                    Ok(response) => response.elapsed,
                    Err(_) => started.elapsed(),
                };
                Fetched {
                    index,
                    result,
                    elapsed,
                    redirects: Vec::new(),
                    redirected_to: None,
                }
            }),
            Some(limit) => Box::pin(async move {
                let chain = follow(&target, &options, limit, &phase, started, deadline).await;
                Fetched {
                    index,
                    result: chain.result,
                    elapsed: chain.elapsed,
                    redirects: chain.redirects,
                    redirected_to: chain.redirected_to,
                }
            }),
        });
        // Queued for the poll loop this is called from, without waking the driver: a wake
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
                self.active -= 1;
                let phase = Phase::from_u8(slot.phase.load(Ordering::Relaxed));
                self.done.push_back(Fetched {
                    index,
                    result: Err(FetchError::Timeout(phase)),
                    elapsed: now.saturating_duration_since(started),
                    redirects: Vec::new(),
                    redirected_to: None,
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
        for i in 0..self.size {
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

    /// Runs the woken fetches; the next result, `None` once every slot is empty for good.
    fn poll_shard(&mut self, cx: &mut Context<'_>) -> Poll<Option<Fetched>> {
        {
            let mut driver = lock(&self.ready.driver);
            if !driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *driver = Some(cx.waker().clone());
            }
        }
        if !self.started {
            self.start();
        }
        loop {
            if let Some(fetched) = self.done.pop_front() {
                return Poll::Ready(Some(fetched));
            }
            self.expire(cx);
            if !self.done.is_empty() {
                continue;
            }
            let ready = std::mem::take(&mut *lock(&self.ready.indices));
            if ready.is_empty() {
                return if self.active == 0 {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            }
            for i in ready {
                let slot = &mut self.slots[i];
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
                    self.active -= 1;
                    self.done.push_back(fetched);
                    self.refill(i);
                }
            }
        }
    }
}

/// A helper thread: drives its shard, handing each batch of results to the consumer, until
/// the shard is done or the stream is dropped (then the shard is dropped, closing its
/// connections).
fn run_helper(mut shard: Shard, outbox: Arc<Outbox>, cancel: Arc<AtomicBool>) {
    let _live = LiveGuard(outbox.clone());
    async_io::block_on(futures_lite::future::poll_fn(|cx| {
        let mut handed = false;
        let end = loop {
            if cancel.load(Ordering::Acquire) {
                break Poll::Ready(());
            }
            match shard.poll_shard(cx) {
                Poll::Ready(Some(fetched)) => {
                    lock(&outbox.results).push_back(fetched);
                    handed = true;
                }
                Poll::Ready(None) => break Poll::Ready(()),
                // Looked at again now that the shard's waker is registered: a drop that set the
                // flag before the first registration found no waker to wake, and the helper
                // would sleep (its fetches open) until one of them woke it.
                Poll::Pending if cancel.load(Ordering::Acquire) => break Poll::Ready(()),
                Poll::Pending => break Poll::Pending,
            }
        };
        // One wake-up per batch, not per result.
        if handed {
            outbox.wake_consumer();
        }
        end
    }));
}

/// The threads worth using: one per core up to [`MAX_THREADS`], and only as many as have at
/// least [`MIN_CONCURRENCY_PER_THREAD`] connections each.
fn default_threads(concurrency: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores
        .min(MAX_THREADS)
        .min(concurrency / MIN_CONCURRENCY_PER_THREAD)
        .max(1)
}

/// Fetches the heads of all `targets`, at most `concurrency` at a time, yielding each result
/// ([`Fetched`]: input index, result, elapsed) as it completes. See [`fetch_many_until`] to
/// stop early.
///
/// Poll the stream from `smol::block_on` or any executor; fetches run on the polling thread
/// and, with concurrency of 128 or more on a machine with several cores, on helper threads too
/// ([`fetch_many_on`] chooses the number). The soft open-file limit is raised first, and the
/// concurrency lowered to what it allows (connections beyond it wait for a free descriptor
/// rather than fail).
///
/// ```
/// use futures_lite::StreamExt;
/// use tulip_headers::{fetch_many, Options, Target};
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
    fetch_many_on(targets, options, concurrency, stop, None)
}

/// Like [`fetch_many_until`], with the number of threads chosen: `Some(1)` keeps every fetch on
/// the polling thread; `None` picks one per core (at most [`MAX_THREADS`], and at least 64
/// connections per thread).
pub fn fetch_many_on<I>(
    targets: I,
    options: &Options,
    concurrency: usize,
    stop: Arc<AtomicBool>,
    threads: Option<usize>,
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
    let threads = threads.unwrap_or_else(|| default_threads(n)).clamp(1, n);
    let source = Arc::new(Mutex::new(Source {
        targets: Box::new(targets),
        next_index: 0,
    }));
    let options = Arc::new(options.clone());
    let outbox = Arc::new(Outbox::default());
    let cancel = Arc::new(AtomicBool::new(false));
    // The polling thread takes the remainder of the split.
    let share = n / threads;
    let helpers = (1..threads)
        .map(|k| {
            let shard = Shard::new(source.clone(), options.clone(), stop.clone(), share);
            let ready = shard.ready.clone();
            outbox.live.fetch_add(1, Ordering::AcqRel);
            let (to, cancelled) = (outbox.clone(), cancel.clone());
            let thread = std::thread::Builder::new()
                .name(format!("fetch-{k}"))
                .spawn(move || run_helper(shard, to, cancelled));
            match thread {
                Ok(thread) => Some(Helper {
                    thread: Some(thread),
                    ready,
                }),
                Err(_) => {
                    // No thread: its share goes to the polling thread.
                    outbox.live.fetch_sub(1, Ordering::AcqRel);
                    None
                }
            }
        })
        .collect::<Vec<_>>();
    let helpers: Vec<Helper> = helpers.into_iter().flatten().collect();
    let local = Shard::new(source, options, stop.clone(), n - share * helpers.len());
    FetchMany {
        local,
        local_done: false,
        helpers,
        outbox,
        stop,
        cancel,
        concurrency: n,
    }
}
