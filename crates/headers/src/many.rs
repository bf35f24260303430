//! Fetching many heads at once: [`Many`] configures, [`FetchMany`] is the stream of
//! [`Outcome`]s.
//!
//! The fetches run on worker threads of their own, never on the thread that consumes the
//! stream, so a consumer that is slow (a pipe into a slower program, a little async work per
//! result) cannot hold a fetch back while its deadline counts: an outcome depends on the server
//! and the network only. Targets go from the consumer to the workers through a bounded inbox,
//! and outcomes come back through an outbox: the consumer tops the inbox up each time it is
//! polled, so while outcomes wait unread nothing new starts beyond what the inbox held, and
//! memory stays bounded by the concurrency.
//!
//! Each worker runs its fetches on an event loop of its own (on Unix, fdwatch's
//! `local::block_on`): its own epoll instance, each socket registered once for as long as it
//! lives, so a socket's events are collected and handled on the thread that owns it, with no lock
//! and no wake-up across threads. Outcomes are handed over in batches of up to 64, or as soon as
//! the worker has nothing else to do (and within 5 ms while it stays busy), so the consumer is
//! woken once per batch rather than once per outcome, and a lone outcome is not held back.
//!
//! Each worker keeps its share of the concurrency in slots and polls only the slots whose fetch
//! was woken (each slot has its own waker that queues its index), so a completion costs O(1)
//! however many fetches are in flight. Deadlines are kept per worker with one timer: every
//! fetch has the same timeout and a worker starts them in order, so their deadlines form a FIFO
//! queue, and one timer set to the oldest is enough. A fetch whose deadline passes is told so
//! through its slot's flag and polled once more, ending as a timeout in the phase it had
//! reached (and, for a redirect chain, with the hops it had fetched).
//!
//! Pacing ([`Many::rate`], [`Many::per_host`]) is kept by a gate the workers share, consulted
//! each time a worker would start a fetch: the workers take turns at one schedule of start
//! times, so together they keep the rate, and a target whose host is at its cap waits in the
//! gate (not in the inbox) while targets of other hosts go ahead. Without pacing there is no
//! gate, and nothing of it is paid.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::rt::{Idle, Timer, idle};
use futures_lite::Stream;

use crate::fd::fd_budget;
use crate::fetch::{Deadline, Options, fetch_outcome};
use crate::outcome::Outcome;
use crate::target::Target;

/// Outcomes a worker gathers before handing them over while it is busy (an idle worker hands
/// over what it has at once): fewer, larger hand-overs wake the consumer less often.
const HANDOVER_BATCH: usize = 64;

/// The longest an outcome waits for its batch while the worker stays busy.
const HANDOVER_WAIT: Duration = Duration::from_millis(5);

/// Below this many connections per thread, another thread is not worth starting.
const MIN_CONCURRENCY_PER_THREAD: usize = 64;

/// The concurrency [`Many::new`] starts with.
pub const DEFAULT_CONCURRENCY: usize = 64;

/// How to fetch many targets at once: the [`Options`] of each fetch, how many at a time, and on
/// how many threads. [`Many::fetch`] (an iterator of targets) or [`Many::fetch_stream`] (a
/// stream of them) starts the fetching and returns the stream of outcomes.
///
/// ```
/// use futures_lite::StreamExt;
/// use tulip_headers::{Many, Options, Target};
/// # fn serve(status: u16, connections: usize) -> String {
/// #     use std::io::{Read, Write};
/// #     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// #     let addr = listener.local_addr().unwrap().to_string();
/// #     std::thread::spawn(move || {
/// #         for conn in listener.incoming().take(connections) {
/// #             let mut conn = conn.unwrap();
/// #             let _ = conn.read(&mut [0; 1024]);
/// #             let _ = write!(conn, "HTTP/1.1 {status} Status\r\nServer: doc\r\n\r\n");
/// #         }
/// #     });
/// #     addr
/// # }
/// # futures_lite::future::block_on(async {
/// // Loopback servers answering 200 and 404.
/// let (ok, missing) = (serve(200, 2), serve(404, 1));
/// let targets: Vec<Target> = [&ok, &missing, &ok]
///     .iter()
///     .map(|t| t.parse().unwrap())
///     .collect();
/// let mut results: Vec<(usize, u16)> = Many::new(&Options::default())
///     .concurrency(2)
///     .fetch(targets)
///     .map(|o| (o.index, o.result.unwrap().head.status))
///     .collect()
///     .await;
/// results.sort();
/// assert_eq!(results, [(0, 200), (1, 404), (2, 200)]);
/// # });
/// ```
#[derive(Debug, Clone)]
pub struct Many {
    options: Arc<Options>,
    concurrency: usize,
    threads: Option<usize>,
    /// The time between two starts (`rate`).
    interval: Option<Duration>,
    per_host: Option<usize>,
}

impl Many {
    /// Fetches with `options`, [`DEFAULT_CONCURRENCY`] at a time, on one thread per core.
    pub fn new(options: &Options) -> Many {
        Many {
            options: Arc::new(options.clone()),
            concurrency: DEFAULT_CONCURRENCY,
            threads: None,
            interval: None,
            per_host: None,
        }
    }

    /// Starts at most `per_second` fetches a second, evenly spaced: one every `1/per_second`
    /// seconds, never a burst at the start of a second, however many workers fetch (they share
    /// one schedule). A start that comes a little late (a timer's granularity, a busy worker)
    /// is made up for by the next one coming sooner (never sooner than half the spacing, for
    /// spacings of 2 ms and more), so the rate holds; after an idle spell (no target to start)
    /// the schedule starts anew, with no burst to catch up. Below a millisecond apart, starts
    /// come in groups of up to a millisecond's worth, the timers' granularity. A value that is not positive and finite
    /// means no limit (the default).
    ///
    /// A fetch "starts" when it begins to resolve or connect; its retries
    /// ([`Options::retries`]) are part of it and are not paced.
    pub fn rate(mut self, per_second: f64) -> Many {
        self.interval = (per_second.is_finite() && per_second > 0.0).then(|| {
            // Slower than once a year is as good as once a year.
            let year = Duration::from_secs(365 * 86_400);
            Duration::try_from_secs_f64(1.0 / per_second).map_or(year, |d| d.min(year))
        });
        self
    }

    /// At most `n` fetches at once (at least 1) to one host and port, across all workers;
    /// `n` of a host in flight, its other targets wait for one of them to finish while those of
    /// other hosts go ahead. The host is the target's as given (a name, or an IP address): two
    /// names of one server are two hosts, and a redirect's hops count against the target's
    /// host. A waiting target's deadline starts when it starts.
    ///
    /// Waiting targets are held up to one concurrency's worth: a list with more of one host's
    /// targets in a row than that runs at that host's pace until they are through (shuffle
    /// such a list).
    pub fn per_host(mut self, n: usize) -> Many {
        self.per_host = Some(n.max(1));
        self
    }

    /// At most `n` fetches in flight at once (at least 1). It is lowered to the number of
    /// targets when known, and to what the open-file limit leaves room for ([`fd_budget`]):
    /// raise that limit first ([`raise_fd_limit`](crate::raise_fd_limit)) to go higher.
    pub fn concurrency(mut self, n: usize) -> Many {
        self.concurrency = n.max(1);
        self
    }

    /// Fetch on `n` worker threads (at least 1, at most one per fetch). By default one per
    /// core, as long as each has at least 64 fetches to run.
    pub fn threads(mut self, n: usize) -> Many {
        self.threads = Some(n.max(1));
        self
    }

    /// Starts fetching `targets`, taken one at a time as fetches finish (the iterator may be
    /// lazy, the lines of a file say). It is advanced on the thread that polls the stream,
    /// never on the workers, so an iterator that blocks delays only new fetches.
    pub fn fetch<I>(self, targets: I) -> FetchMany
    where
        I: IntoIterator<Item = Target>,
        I::IntoIter: Send + 'static,
    {
        let targets = targets.into_iter();
        let known = targets.size_hint().1;
        self.start(Box::pin(futures_lite::stream::iter(targets)), known)
    }

    /// Starts fetching the targets `targets` yields, as fetches finish.
    pub fn fetch_stream<S>(self, targets: S) -> FetchMany
    where
        S: Stream<Item = Target> + Send + 'static,
    {
        let known = targets.size_hint().1;
        self.start(Box::pin(targets), known)
    }

    fn start(self, source: Source, known: Option<usize>) -> FetchMany {
        let mut n = self.concurrency;
        if let Some(known) = known {
            n = n.min(known.max(1));
        }
        if let Some(budget) = fd_budget() {
            n = n.min(budget);
        }
        let threads = self
            .threads
            .unwrap_or_else(|| default_threads(n))
            .clamp(1, n);
        let shared = Arc::new(Shared {
            inbox: Mutex::new(VecDeque::with_capacity(n)),
            // A lookahead of one concurrency's worth: a freed slot is refilled without waiting
            // for the consumer, and at most this many fetches start while it reads nothing.
            inbox_cap: n,
            outbox: Mutex::new(VecDeque::new()),
            consumer: Mutex::new(None),
            input_done: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            cancel: AtomicBool::new(false),
            live: AtomicUsize::new(0),
            gate: (self.interval.is_some() || self.per_host.is_some()).then(|| {
                Mutex::new(Gate {
                    pace: self.interval.map(Pace::new),
                    per_host: self.per_host.unwrap_or(usize::MAX),
                    hosts: HashMap::new(),
                    ready: VecDeque::new(),
                    waiting: 0,
                    waiting_cap: n,
                    sleepers: Vec::new(),
                })
            }),
        });
        let mut workers = Vec::with_capacity(threads);
        for k in 0..threads {
            // The first workers take the remainder of the split.
            let size = n / threads + usize::from(k < n % threads);
            let shard = Shard::new(shared.clone(), self.options.clone(), size);
            let ready = shard.ready.clone();
            shared.live.fetch_add(1, Ordering::AcqRel);
            let to = shared.clone();
            let thread = std::thread::Builder::new()
                .name(format!("fetch-{k}"))
                .spawn(move || run_worker(shard, to));
            match thread {
                Ok(thread) => workers.push(Worker {
                    thread: Some(thread),
                    ready,
                }),
                // No thread: its share is not run (the others still are), unless it was the
                // only one, which the first poll reports by ending the stream.
                Err(_) => {
                    shared.live.fetch_sub(1, Ordering::AcqRel);
                }
            }
        }
        FetchMany {
            source: Some(source),
            next_index: 0,
            shared,
            workers,
            local: VecDeque::new(),
            concurrency: n,
        }
    }
}

type Source = Pin<Box<dyn Stream<Item = Target> + Send>>;

type FetchFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// The stream [`Many::fetch`] returns: yields an [`Outcome`] as each fetch completes (in
/// completion order; [`Outcome::index`] is the input position), and ends when every target
/// started has finished.
///
/// A slow consumer costs throughput, never correctness: fetches in flight run to completion on
/// the workers with their real timings, and only new fetches wait (at most one concurrency's
/// worth start after the consumer stops reading). Dropping the stream cancels the fetches in
/// flight (closing their connections) and joins the workers. [`FetchMany::stop`] only stops new
/// fetches from starting: those in flight finish, within their deadlines, and are yielded, then
/// the stream ends.
#[must_use = "streams do nothing unless polled"]
pub struct FetchMany {
    source: Option<Source>,
    next_index: usize,
    shared: Arc<Shared>,
    workers: Vec<Worker>,
    /// Outcomes taken from the outbox in one go, not yet yielded.
    local: VecDeque<Outcome>,
    concurrency: usize,
}

impl std::fmt::Debug for FetchMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchMany")
            .field("concurrency", &self.concurrency)
            .field("threads", &self.threads())
            .field("started", &self.next_index)
            .field("stopped", &self.shared.stopped.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// What the consumer and the workers share.
struct Shared {
    /// Targets taken from the source, waiting for a free slot: (input index, target).
    inbox: Mutex<VecDeque<(usize, Target)>>,
    inbox_cap: usize,
    outbox: Mutex<VecDeque<Outcome>>,
    consumer: Mutex<Option<Waker>>,
    /// The source has ended: a worker with nothing in flight and an empty inbox is done.
    input_done: AtomicBool,
    /// No new fetch starts; the inbox was emptied.
    stopped: AtomicBool,
    /// The stream was dropped: workers drop their fetches and end.
    cancel: AtomicBool,
    /// Workers still running.
    live: AtomicUsize,
    /// Pacing, if any.
    gate: Option<Mutex<Gate>>,
}

/// A target's host and port, for [`Many::per_host`].
type HostKey = (String, u16);

fn host_key(target: &Target) -> HostKey {
    (target.host().to_ascii_lowercase(), target.port())
}

/// What the workers share for pacing: the schedule of starts and the fetches in flight (and
/// waiting) per host.
struct Gate {
    pace: Option<Pace>,
    per_host: usize,
    /// Hosts with a fetch in flight or a target waiting; no others, so a list of a million
    /// hosts leaves nothing behind.
    hosts: HashMap<HostKey, HostLoad>,
    /// Hosts that got room while targets of theirs wait, in that order (a host may be listed
    /// again after its room was taken; it is then skipped).
    ready: VecDeque<HostKey>,
    /// Targets waiting in `hosts`, in all, and how many may.
    waiting: usize,
    waiting_cap: usize,
    /// Workers to wake when a host frees room or the last waiting target starts: those blocked
    /// behind full hosts, and those with nothing in flight that wait to see the end.
    sleepers: Vec<Waker>,
}

#[derive(Default)]
struct HostLoad {
    running: usize,
    waiting: VecDeque<(usize, Target)>,
}

/// The schedule of starts for [`Many::rate`].
struct Pace {
    interval: Duration,
    /// How late a start may be and still keep the schedule (see [`Many::rate`]).
    slack: Duration,
    /// The earliest time of the next start; `None` before the first.
    next: Option<Instant>,
}

impl Pace {
    fn new(interval: Duration) -> Pace {
        Pace {
            interval,
            slack: (interval / 2).max(Duration::from_millis(1)),
            next: None,
        }
    }

    /// When the next start may be made, if not yet.
    fn not_before(&self, now: Instant) -> Option<Instant> {
        self.next.filter(|&next| next > now)
    }

    /// Records a start at `now`.
    fn took(&mut self, now: Instant) {
        let next = match self.next {
            // A little late: keep the schedule, so the rate holds.
            Some(next) if now.saturating_duration_since(next) < self.slack => next,
            // The first start, or after an idle spell: a new schedule, no burst to catch up.
            _ => now,
        };
        self.next = next.checked_add(self.interval);
    }
}

impl Gate {
    /// When the next start may be made, if not yet.
    fn not_before(&self, now: Instant) -> Option<Instant> {
        self.pace.as_ref().and_then(|p| p.not_before(now))
    }

    /// A waiting target whose host has room, counted as started.
    fn take_waiting(&mut self) -> Option<(usize, Target)> {
        while let Some(key) = self.ready.pop_front() {
            let Some(load) = self.hosts.get_mut(&key) else {
                continue;
            };
            if load.running >= self.per_host {
                continue;
            }
            let Some(next) = load.waiting.pop_front() else {
                continue;
            };
            load.running += 1;
            self.waiting -= 1;
            if load.running < self.per_host && !load.waiting.is_empty() {
                self.ready.push_front(key);
            }
            return Some(next);
        }
        None
    }

    /// Counts `target` as started if its host has room (and none of its targets wait before
    /// it), else keeps it waiting if there is room for that; hands it back if neither.
    fn admit(&mut self, index: usize, target: Target) -> Admit {
        let key = host_key(&target);
        let load = self.hosts.entry(key).or_default();
        if load.running < self.per_host && load.waiting.is_empty() {
            load.running += 1;
            return Admit::Start(index, target);
        }
        if self.waiting >= self.waiting_cap {
            // Made above for nothing if the host has no load: dropped again.
            if load.running == 0 && load.waiting.is_empty() {
                self.hosts.remove(&host_key(&target));
            }
            return Admit::Full(index, target);
        }
        load.waiting.push_back((index, target));
        self.waiting += 1;
        Admit::Waiting
    }

    /// A fetch of `key` finished: its room goes to a waiting target. Returns the workers to
    /// wake (outside the lock).
    fn finished(&mut self, key: &HostKey) -> Vec<Waker> {
        if let Some(load) = self.hosts.get_mut(key) {
            load.running = load.running.saturating_sub(1);
            if !load.waiting.is_empty() {
                self.ready.push_back(key.clone());
            } else if load.running == 0 {
                self.hosts.remove(key);
            }
        }
        std::mem::take(&mut self.sleepers)
    }

    /// Drops every waiting target (the stream was stopped).
    fn clear(&mut self) -> Vec<Waker> {
        for load in self.hosts.values_mut() {
            load.waiting.clear();
        }
        self.hosts.retain(|_, load| load.running > 0);
        self.ready.clear();
        self.waiting = 0;
        std::mem::take(&mut self.sleepers)
    }
}

/// What [`Gate::admit`] did with a target.
enum Admit {
    Start(usize, Target),
    Waiting,
    Full(usize, Target),
}

fn wake_all(wakers: Vec<Waker>) {
    for waker in wakers {
        waker.wake();
    }
}

impl Shared {
    fn wake_consumer(&self) {
        // Woken outside the lock: the waker may run arbitrary code.
        let waker = lock(&self.consumer).clone();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    fn finished_input(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
            || (self.input_done.load(Ordering::Acquire) && lock(&self.inbox).is_empty())
    }
}

struct Worker {
    thread: Option<JoinHandle<()>>,
    ready: Arc<ReadyQueue>,
}

/// Counts a worker as live until dropped, even by a panic, so the stream cannot wait forever.
struct LiveGuard(Arc<Shared>);

impl Drop for LiveGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::AcqRel);
        self.0.wake_consumer();
    }
}

/// Locks, ignoring poisoning: the data (targets, outcomes, wakers) stays valid whatever
/// panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl FetchMany {
    /// Starts nothing new: fetches in flight finish and are yielded, then the stream ends.
    /// Targets not started are dropped, never fetched.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::Release);
        lock(&self.shared.inbox).clear();
        if let Some(gate) = &self.shared.gate {
            let sleepers = lock(gate).clear();
            wake_all(sleepers);
        }
        self.wake_workers(false);
    }

    /// The concurrency actually used: the cap asked for, lowered to the number of targets (when
    /// known) and to what the open-file limit allows.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// The worker threads fetching.
    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    /// Wakes the workers: only those waiting for targets, or all.
    fn wake_workers(&self, hungry_only: bool) {
        for worker in &self.workers {
            if !hungry_only || worker.ready.hungry.swap(false, Ordering::SeqCst) {
                worker.ready.wake_driver();
            }
        }
    }

    /// Moves targets from the source into the inbox while it has room.
    fn top_up(&mut self, cx: &mut Context<'_>) {
        let Some(source) = self.source.as_mut() else {
            return;
        };
        if self.shared.stopped.load(Ordering::Acquire) {
            self.source = None;
            return;
        }
        let room = self.shared.inbox_cap - lock(&self.shared.inbox).len();
        let mut batch = Vec::new();
        let mut ended = false;
        while batch.len() < room {
            match source.as_mut().poll_next(cx) {
                Poll::Ready(Some(target)) => {
                    batch.push((self.next_index, target));
                    self.next_index += 1;
                }
                Poll::Ready(None) => {
                    ended = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        if !batch.is_empty() {
            lock(&self.shared.inbox).extend(batch);
            self.wake_workers(true);
        }
        if ended {
            self.source = None;
            self.shared.input_done.store(true, Ordering::Release);
            // Workers with nothing in flight must notice that they are done.
            self.wake_workers(false);
        }
    }
}

impl Drop for FetchMany {
    fn drop(&mut self) {
        self.shared.cancel.store(true, Ordering::Release);
        self.wake_workers(false);
        for worker in &mut self.workers {
            if let Some(thread) = worker.thread.take() {
                let _ = thread.join();
            }
        }
    }
}

impl Stream for FetchMany {
    type Item = Outcome;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Outcome>> {
        let this = &mut *self;
        {
            // Registered before looking, so an outcome handed over meanwhile wakes us.
            let mut consumer = lock(&this.shared.consumer);
            if !consumer.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *consumer = Some(cx.waker().clone());
            }
        }
        this.top_up(cx);
        if let Some(outcome) = this.local.pop_front() {
            return Poll::Ready(Some(outcome));
        }
        std::mem::swap(&mut this.local, &mut *lock(&this.shared.outbox));
        if let Some(outcome) = this.local.pop_front() {
            return Poll::Ready(Some(outcome));
        }
        if this.shared.live.load(Ordering::Acquire) == 0 {
            // The workers are gone: whatever they handed over is in the outbox by now.
            return Poll::Ready(lock(&this.shared.outbox).pop_front());
        }
        Poll::Pending
    }
}

/// A worker's slots, driven by its thread.
struct Shard {
    shared: Arc<Shared>,
    options: Arc<Options>,
    slots: Vec<Slot>,
    /// Empty slots.
    free: Vec<usize>,
    /// Slots with a fetch in them.
    active: usize,
    /// Slots whose fetch was woken and must be polled, and the worker's waker.
    ready: Arc<ReadyQueue>,
    /// Outcomes not handed over yet: a batch, or what came before the worker went idle.
    done: Vec<Outcome>,
    /// Set while outcomes wait for the worker's loop to go idle.
    idle: Option<Idle>,
    /// When the oldest outcome in `done` came.
    done_since: Option<Instant>,
    /// (deadline, slot, input index) in start order, hence deadline order.
    deadlines: VecDeque<(Instant, usize, usize)>,
    /// Set to the front deadline (or earlier: it is not moved when the front fetch finishes).
    timer: Timer,
    timer_armed: bool,
    /// Set to when the gate's schedule allows the next start.
    pace_timer: Timer,
    pace_at: Option<Instant>,
    /// The last fill could not start a target although slots were free and targets waited
    /// (the schedule, or hosts at their cap): waiting for the targets adds nothing.
    blocked: bool,
}

struct Slot {
    fetch: Option<FetchFuture>,
    /// The input index of the fetch in the slot.
    current: Option<usize>,
    /// Its host, when the gate counts fetches per host.
    host: Option<HostKey>,
    /// Set when the fetch's deadline has passed.
    expired: Arc<AtomicBool>,
    waker: Waker,
    wake: Arc<SlotWake>,
}

/// The indices of woken slots, the waker of the worker that drives them, and whether it waits
/// for targets.
#[derive(Default)]
struct ReadyQueue {
    indices: Mutex<Vec<usize>>,
    driver: Mutex<Option<Waker>>,
    hungry: AtomicBool,
}

impl ReadyQueue {
    fn wake_driver(&self) {
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

impl Shard {
    fn new(shared: Arc<Shared>, options: Arc<Options>, size: usize) -> Shard {
        let ready = Arc::new(ReadyQueue::default());
        let slots = (0..size)
            .map(|index| {
                let wake = Arc::new(SlotWake {
                    index,
                    queued: AtomicBool::new(false),
                    ready: ready.clone(),
                });
                Slot {
                    fetch: None,
                    current: None,
                    host: None,
                    expired: Arc::new(AtomicBool::new(false)),
                    waker: Waker::from(wake.clone()),
                    wake,
                }
            })
            .collect();
        Shard {
            shared,
            options,
            slots,
            // Popped from the end: slot 0 first.
            free: (0..size).rev().collect(),
            active: 0,
            ready,
            done: Vec::new(),
            idle: None,
            done_since: None,
            deadlines: VecDeque::new(),
            timer: Timer::never(),
            timer_armed: false,
            pace_timer: Timer::never(),
            pace_at: None,
            blocked: false,
        }
    }

    /// Starts fetches in the free slots, as many as the inbox has targets for (and the gate
    /// allows). Returns when the gate's schedule allows the next start, if it held one back.
    fn fill(&mut self) -> Option<Instant> {
        self.blocked = false;
        if self.free.is_empty() || self.shared.stopped.load(Ordering::Acquire) {
            return None;
        }
        if self.shared.gate.is_some() {
            return self.fill_gated();
        }
        let taken: Vec<(usize, Target)> = {
            let mut inbox = lock(&self.shared.inbox);
            let n = self.free.len().min(inbox.len());
            inbox.drain(..n).collect()
        };
        for (index, target) in taken {
            let Some(i) = self.free.pop() else { break };
            self.start(i, index, target);
        }
        None
    }

    /// [`Shard::fill`] through the gate: one target at a time, a waiting one whose host got
    /// room first, then the inbox's (those whose host is full wait in the gate).
    fn fill_gated(&mut self) -> Option<Instant> {
        let shared = self.shared.clone();
        let Some(gate) = &shared.gate else {
            return None;
        };
        let mut gate = lock(gate);
        let not_before = self.fill_through(&mut gate, &shared);
        // The last waiting target started: workers waiting to see the end must look again.
        let sleepers = if gate.waiting == 0 {
            std::mem::take(&mut gate.sleepers)
        } else {
            Vec::new()
        };
        drop(gate);
        wake_all(sleepers);
        not_before
    }

    fn fill_through(&mut self, gate: &mut Gate, shared: &Shared) -> Option<Instant> {
        let per_host = gate.per_host < usize::MAX;
        while !self.free.is_empty() {
            let now = Instant::now();
            if let Some(at) = gate.not_before(now) {
                self.blocked = gate.waiting > 0 || !lock(&shared.inbox).is_empty();
                return Some(at);
            }
            let next = match gate.take_waiting() {
                Some(next) => Some(next),
                None => loop {
                    let mut inbox = lock(&shared.inbox);
                    let Some((index, target)) = inbox.pop_front() else {
                        break None;
                    };
                    match gate.admit(index, target) {
                        Admit::Start(index, target) => break Some((index, target)),
                        Admit::Waiting => continue,
                        Admit::Full(index, target) => {
                            inbox.push_front((index, target));
                            // Woken when a host frees room.
                            self.blocked = true;
                            break None;
                        }
                    }
                },
            };
            let Some((index, target)) = next else {
                break;
            };
            if let Some(pace) = &mut gate.pace {
                pace.took(now);
            }
            let Some(i) = self.free.pop() else { break };
            self.slots[i].host = per_host.then(|| host_key(&target));
            self.start(i, index, target);
        }
        None
    }

    /// Keeps the pace timer set to `at` (when the schedule allows the next start); true if
    /// that time has come already.
    fn pace(&mut self, at: Option<Instant>, cx: &mut Context<'_>) -> bool {
        let Some(at) = at else {
            return false;
        };
        if self.pace_at != Some(at) {
            self.pace_timer.set_at(at);
            self.pace_at = Some(at);
        }
        if Pin::new(&mut self.pace_timer).poll(cx).is_ready() {
            self.pace_at = None;
            return true;
        }
        false
    }

    /// Whether targets wait in the gate: the run is not over while they do. Registers the
    /// worker to be woken when that changes.
    fn gate_holds_targets(&self, cx: &mut Context<'_>) -> bool {
        let Some(gate) = &self.shared.gate else {
            return false;
        };
        let mut gate = lock(gate);
        if gate.waiting == 0 {
            return false;
        }
        if !gate.sleepers.iter().any(|w| w.will_wake(cx.waker())) {
            gate.sleepers.push(cx.waker().clone());
        }
        true
    }

    /// Puts the fetch of `target` into the free slot `i` and queues it for polling.
    fn start(&mut self, i: usize, index: usize, target: Target) {
        self.active += 1;
        let options = self.options.clone();
        let started = Instant::now();
        // A timeout too large to add to the clock is no deadline at all.
        if let Some(at) = started.checked_add(options.timeout) {
            self.deadlines.push_back((at, i, index));
        }
        let slot = &mut self.slots[i];
        slot.expired.store(false, Ordering::Release);
        let mut deadline = Deadline::Flag(slot.expired.clone());
        slot.current = Some(index);
        slot.fetch = Some(Box::pin(async move {
            fetch_outcome(index, target, &options, started, &mut deadline).await
        }));
        // Queued for the poll loop this is called from, without waking the driver: a wake
        // here would make `block_on` poll the reactor once more for nothing before sleeping.
        slot.wake.queue();
    }

    /// Flags the fetches whose deadline has passed (queueing them to be polled), drops entries
    /// of finished fetches from the front, and keeps the timer set no later than the front
    /// deadline.
    fn expire(&mut self, cx: &mut Context<'_>) {
        loop {
            let now = Instant::now();
            while let Some(&(at, i, index)) = self.deadlines.front() {
                if self.slots[i].current != Some(index) {
                    self.deadlines.pop_front();
                    continue;
                }
                if at > now {
                    break;
                }
                self.deadlines.pop_front();
                let slot = &self.slots[i];
                slot.expired.store(true, Ordering::Release);
                slot.wake.queue();
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

    /// Hands the outcomes gathered to the consumer, with one wake-up.
    fn hand_over(&mut self) {
        self.idle = None;
        self.done_since = None;
        if self.done.is_empty() {
            return;
        }
        lock(&self.shared.outbox).extend(self.done.drain(..));
        self.shared.wake_consumer();
    }

    /// Hands over a full batch, or what there is once the worker has nothing else to do or the
    /// oldest has waited [`HANDOVER_WAIT`].
    fn hand_over_when_due(&mut self, cx: &mut Context<'_>) {
        if self.done.is_empty() {
            return;
        }
        let since = *self.done_since.get_or_insert_with(Instant::now);
        if self.done.len() < HANDOVER_BATCH && since.elapsed() < HANDOVER_WAIT {
            let idle = self.idle.get_or_insert_with(idle);
            if Pin::new(idle).poll(cx).is_pending() {
                return;
            }
        }
        self.hand_over();
    }

    /// Runs the woken fetches and starts new ones; ready once nothing is in flight and no
    /// target is left to start.
    fn poll_shard(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        {
            let mut driver = lock(&self.ready.driver);
            if !driver.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *driver = Some(cx.waker().clone());
            }
        }
        loop {
            let not_before = self.fill();
            if self.pace(not_before, cx) {
                continue;
            }
            if self.blocked && not_before.is_none() {
                // Blocked by hosts at their cap: woken when one frees room.
                self.gate_holds_targets(cx);
            }
            self.expire(cx);
            let ready = std::mem::take(&mut *lock(&self.ready.indices));
            if ready.is_empty() {
                self.hand_over_when_due(cx);
                if self.active == 0 && self.shared.finished_input() && !self.gate_holds_targets(cx)
                {
                    self.hand_over();
                    return Poll::Ready(());
                }
                if !self.free.is_empty()
                    && !self.blocked
                    && !self.shared.stopped.load(Ordering::Acquire)
                {
                    // Waiting for targets: the consumer wakes us when it adds some. Looked at
                    // again after saying so, in case they came in between.
                    self.ready.hungry.store(true, Ordering::SeqCst);
                    if !lock(&self.shared.inbox).is_empty() {
                        self.ready.hungry.store(false, Ordering::SeqCst);
                        continue;
                    }
                }
                return Poll::Pending;
            }
            for i in ready {
                let slot = &mut self.slots[i];
                // Cleared before polling, so a wake during the poll queues the slot again.
                slot.wake.queued.store(false, Ordering::Release);
                let Some(fetch) = slot.fetch.as_mut() else {
                    continue;
                };
                if let Poll::Ready(outcome) =
                    fetch.as_mut().poll(&mut Context::from_waker(&slot.waker))
                {
                    slot.fetch = None;
                    slot.current = None;
                    if let (Some(host), Some(gate)) = (slot.host.take(), &self.shared.gate) {
                        let sleepers = lock(gate).finished(&host);
                        wake_all(sleepers);
                    }
                    self.active -= 1;
                    self.free.push(i);
                    self.done.push(outcome);
                }
            }
        }
    }
}

/// A worker thread: drives its shard until it is done or the stream is dropped (then the shard
/// is dropped, closing its connections).
fn run_worker(mut shard: Shard, shared: Arc<Shared>) {
    let _live = LiveGuard(shared.clone());
    crate::rt::block_on(futures_lite::future::poll_fn(|cx| {
        if shared.cancel.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        let polled = shard.poll_shard(cx);
        // Looked at again now that the shard's waker is registered: a drop that set the flag
        // before the first registration found no waker to wake.
        if shared.cancel.load(Ordering::Acquire) {
            return Poll::Ready(());
        }
        polled
    }));
}

/// The threads worth using: one per core, and only as many as have at least
/// [`MIN_CONCURRENCY_PER_THREAD`] connections each.
fn default_threads(concurrency: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(concurrency / MIN_CONCURRENCY_PER_THREAD).max(1)
}
