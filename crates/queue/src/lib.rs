//! A bounded multi-producer, multi-consumer queue for async tasks, with everything Python's
//! `asyncio.Queue` offers: `put` / `get` that wait, `try_put` / `try_get` that do not,
//! `task_done` / `join` to wait until every item is processed, graceful and immediate shutdown as
//! Python 3.13 defines them, and FIFO, LIFO and priority orders behind one API.
//!
//! It runs on any executor (it depends on no runtime) and across threads; a [`Queue`] is a cheap
//! handle (an `Arc`) that is cloned for each task. Waiting putters and getters are served in the
//! order they arrived, and every future is cancel-safe: a `get` dropped after it was served
//! passes its turn on to the next getter (the item stays in the queue), and a `put` dropped while
//! it waits never inserts its item.
//!
//! ```
//! use tulip_queue::Queue;
//!
//! # futures_lite::future::block_on(async {
//! let q = Queue::bounded(2);
//!
//! // A producer puts items and waits while the queue is full ...
//! let producer = {
//!     let q = q.clone();
//!     async move {
//!         for x in 1..=5 {
//!             q.put(x).await.unwrap();
//!         }
//!         // ... and says it is finished: getters drain what is left, then get an error.
//!         q.shutdown();
//!     }
//! };
//! // A consumer takes them until the queue is shut down and empty.
//! let consumer = async {
//!     let mut seen = Vec::new();
//!     while let Ok(x) = q.get().await {
//!         seen.push(x);
//!         q.task_done().unwrap();
//!     }
//!     seen
//! };
//! let ((), seen) = futures_lite::future::zip(producer, consumer).await;
//! assert_eq!(seen, [1, 2, 3, 4, 5]);
//! q.join().await; // every item was marked done
//! # });
//! ```
//!
//! The same API with another order:
//!
//! ```
//! use tulip_queue::{Queue, TryGetError};
//!
//! let q = Queue::priority(8);
//! for x in [3, 1, 2] {
//!     q.try_put(x).unwrap();
//! }
//! assert_eq!(q.try_get(), Ok(1));
//! let q = Queue::lifo(8);
//! for x in [3, 1, 2] {
//!     q.try_put(x).unwrap();
//! }
//! assert_eq!(q.try_get(), Ok(2));
//! q.shutdown_immediate();
//! assert_eq!(q.try_get(), Err(TryGetError::ShutDown));
//! ```
//!
//! The order holds for a getter that waited too: it takes the item that comes out next when it
//! runs, not the one whose arrival woke it.
//!
//! ```
//! use tulip_queue::Queue;
//!
//! # futures_lite::future::block_on(async {
//! let q = Queue::priority(2);
//! let (got, ()) = futures_lite::future::zip(q.get(), async {
//!     // The getter waits on the empty queue; both items arrive before it runs again.
//!     futures_lite::future::yield_now().await;
//!     q.try_put(5).unwrap();
//!     q.try_put(1).unwrap();
//! })
//! .await;
//! assert_eq!(got, Ok(1));
//! # });
//! ```
//!
//! # Differences from asyncio
//!
//! Everything else behaves as asyncio's queues do (a test runs the same operations on both and
//! compares); these differences are deliberate:
//!
//! - A served getter keeps its turn: a newcomer's `get` or `try_get` cannot take an item reserved
//!   for a getter woken before it (asyncio lets it, and sends the woken getter to the back).
//! - A woken putter's item enters the queue the moment a place frees, not when the putter runs:
//!   `len` counts it at once, and a shutdown or a dropped `put` right after does not undo it.
//! - [`Queue::task_done`] fails once every item *taken* was marked done (asyncio's fails only
//!   once it outnumbers the items put).
//! - A capacity is at least 1: there is no unbounded queue (asyncio's `maxsize=0`) and no
//!   rendezvous; for those, use async-channel.
//! - Cancelling is dropping the future, and it takes effect at once, not when the task next runs.
//!
//! # What it does not do
//!
//! - It does not close when handles are dropped: unlike a channel there is one kind of handle,
//!   so a getter waits until an item comes or [`Queue::shutdown`] is called. End consumers with
//!   `shutdown`, as Python 3.13 does.
//! - It has no blocking (thread-parking) `put` / `get`; drive the futures with an executor or
//!   `block_on`.
//! - `join` counts items, not the tasks processing them: an item taken but never marked done
//!   with [`Queue::task_done`] keeps `join` waiting, as in Python.
//! - It does not reorder equal items in a priority queue by arrival; put `(priority, seq, item)`.
//! - A FIFO queue allocates its whole capacity up front (as async-channel's bounded channel does),
//!   and holds at most 2^22 - 1 items. Its `put` and `get` take no lock while nobody waits in
//!   line: a ring whose head and tail words also carry who waits and how many items are reserved
//!   for served getters, so that a `put` touches the tail and one slot, a `get` the head and one
//!   slot. Waiting, serving a waiter (a `get` that frees a place for a waiting putter, a `put`
//!   that fills one for a waiting getter), shutting down, and a `join` beginning and ending its
//!   wait take a short lock; `task_done`, `join` and `len` read both ends. While a `join` waits,
//!   `put` and `task_done` take the lock too, so that its count of unfinished items is exact
//!   (no lock for them again once it returns). LIFO and priority queues keep their items behind a lock,
//!   taken by every operation.

// Only the FIFO ring's slots use `unsafe` (see `ring.rs`).
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod error;
mod kind;
mod ring;
mod waiters;

pub use error::{GetError, PutError, TaskDoneError, TryGetError, TryPutError};
use kind::Items;
pub use kind::{Fifo, Kind, Lifo, Priority};

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};
use std::sync::atomic::{AtomicU64, AtomicUsize};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use event_listener::{Event, EventListener};
use kind::{Flags, Popped, Pushed};
use waiters::WaitList;

/// A bounded async queue; clone it to share it between tasks and threads.
///
/// `K` is the order: [`Fifo`] (the default, [`Queue::bounded`]), [`Lifo`] ([`Queue::lifo`]) or
/// [`Priority`] ([`Queue::priority`]).
pub struct Queue<T, K: Kind<T> = Fifo> {
    inner: Arc<Inner<T, K>>,
}

/// Two cache lines of their own, so that what every operation reads is not written by others.
#[repr(align(128))]
struct Line<T>(T);

/// What the handles share.
///
/// A `put` or `get` that finds no one waiting in line goes straight to the store (lock-free for
/// FIFO), which also counts it: the store's pushes and pops are the items put and taken. The
/// store keeps the items reserved for served getters from newcomers. The lock guards the lines
/// of waiters, serving and shutdown, which it announces in the store's flags so that the paths
/// without it know when to take it.
struct Inner<T, K: Kind<T>> {
    store: Items<T>,
    /// The largest length reached, and the capacity: read by every `put` (until the queue was
    /// once full), written rarely.
    peak: Line<(AtomicUsize, usize)>,
    /// Items marked done (and discarded), with [`JOINED`] while joiners wait; and how many
    /// times `pushed - dones` was seen at zero while joiners waited (see [`Inner::begin_join`]).
    dones: Line<(AtomicU64, AtomicU64)>,
    state: Mutex<State<T>>,
    /// Notified when the count of unfinished items drops to zero.
    all_done: Event,
    /// The kind is only a choice of functions: it does not make the queue `!Send`.
    kind: PhantomData<fn() -> K>,
}

/// In `dones`: joiners wait, so a `task_done` takes the lock (its compare-and-swap expects the
/// bit clear; with it set, `dones` is above any count of items, so the fast path's test fails).
const JOINED: u64 = 1 << 63;

/// Whether and how the queue was shut down.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Shutdown {
    Open,
    Graceful,
    Immediate,
}

/// A getter's slot.
enum GetSlot {
    /// In line for an item.
    Waiting,
    /// One of the items in the queue is reserved for it: when it runs it takes the one that
    /// comes out next then, so the queue's order holds for getters that waited.
    Served,
    /// The queue was shut down with nothing for it.
    Failed,
}

/// A putter's slot: it holds the item while the putter waits, so that the item can be moved
/// into the queue the moment there is space, without waiting for the putter to run.
enum PutSlot<T> {
    Waiting(T),
    Done,
    /// The queue was shut down; the item goes back to the putter.
    Failed(T),
}

/// Everything behind the lock.
struct State<T> {
    shutdown: Shutdown,
    /// The flags last published in the store (only the lock holder writes them).
    flags: Flags,
    getters: WaitList<GetSlot>,
    putters: WaitList<PutSlot<T>>,
    /// `Join`s waiting. While there are any, they are announced in the store (a newcomer's push
    /// goes to the lock) and in `dones` ([`JOINED`]: a `task_done` goes to the lock), so that
    /// under the lock the counts of items pushed and done are both stable.
    joiners: usize,
}

/// Tasks to wake once the lock is released (waking under the lock would make the woken thread
/// block on it at once).
///
/// They are woken when this is dropped, so that they are woken even if the operation panics
/// (in an item's `Ord`) after it served them: declare it before the lock guard, which is then
/// dropped first.
#[derive(Default)]
struct Wakeups {
    first: Option<Waker>,
    /// More than one only when a shutdown fails a line or several putters fit at once.
    more: Vec<Waker>,
}

// `#[inline]`: these are not generic, so without it they could not be inlined into the
// (generic, so monomorphized in the caller's crate) hot paths.
impl Wakeups {
    #[inline]
    fn add(&mut self, waker: Option<Waker>) {
        if self.first.is_none() {
            self.first = waker;
        } else {
            self.more.extend(waker);
        }
    }

    /// Takes back the waker added last.
    #[inline]
    fn take_last(&mut self) -> Option<Waker> {
        self.more.pop().or_else(|| self.first.take())
    }
}

impl Drop for Wakeups {
    #[inline]
    fn drop(&mut self) {
        if let Some(w) = self.first.take() {
            w.wake();
        }
        if !self.more.is_empty() {
            self.more.drain(..).for_each(Waker::wake);
        }
    }
}

/// What a `put` that does not wait (or has not waited yet) came to.
enum PutOutcome<T> {
    Done,
    ShutDown(T),
    Full(T),
    /// In line under this key.
    Waiting(usize),
}

/// What a `get` that does not wait (or has not waited yet) came to.
enum GetOutcome<T> {
    Item(T),
    ShutDown,
    Empty,
    /// In line under this key.
    Waiting(usize),
}

/// Who is about to line up, announced before the last try (so that an operation without the
/// lock after it sees the flag, or this last try sees that operation).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Announce {
    Nobody,
    Putter,
    Getter,
}

impl<T, K: Kind<T>> Inner<T, K> {
    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // The only user code run under the lock is an item's `Ord` (in a priority queue). If it
        // panics, the item being stored stays in the heap (counted, and its putter, if one was
        // served, still woken), but an item being taken in that operation never reaches its
        // taker: it is lost, and `join` waits for it forever. The lists and the other counts
        // stay consistent, so the lock is taken over rather than passed on as a panic to every
        // other task.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn capacity(&self) -> usize {
        self.peak.0.1
    }

    fn len(&self) -> usize {
        self.store.len()
    }

    fn unfinished(&self) -> usize {
        // `dones` first: the pushes read after it are at least what they were then, so a zero
        // is real.
        let dones = self.dones.0.0.load(SeqCst) & !JOINED;
        self.store.pushed().saturating_sub(dones) as usize
    }

    /// Under the lock: whether no item is unfinished, exactly, while joiners wait (then every
    /// push and every `task_done` takes the lock, so neither count moves; without joiners the
    /// answer does not matter and is `false`).
    fn zero_while_joined(&self, st: &State<T>) -> bool {
        st.joiners > 0 && self.store.pushed() == self.dones.0.0.load(SeqCst) & !JOINED
    }

    /// Under the lock: counts a zero for the joiners waiting (woken with [`Inner::wake_joiners`]
    /// once the lock is released). Counted under the lock, so that a `Join` that reads the
    /// count under it sees every zero before it or none.
    fn count_zero(&self) {
        self.dones.0.1.fetch_add(1, SeqCst);
    }

    #[cold]
    fn wake_joiners(&self) {
        self.all_done.notify(usize::MAX);
    }

    /// A `Join` begins to wait. Under the lock, it announces itself in the store's tail (a
    /// read-modify-write of the word a push's compare-and-swap validates: no newcomer's push
    /// lands after it) and in `dones` (likewise for `task_done`), then reads both counts, which
    /// cannot move while it holds the lock: every later push and `task_done` takes the lock,
    /// and those before are in the counts. `None` if none is unfinished (it returns at once);
    /// else the count of zeros, which a `task_done` or `shutdown_immediate` under the lock
    /// raises when it makes `dones` equal `pushed`.
    #[cold]
    fn begin_join(&self) -> Option<u64> {
        let mut st = self.lock();
        st.joiners += 1;
        if st.joiners == 1 {
            self.publish(&mut st, Announce::Nobody);
            self.dones.0.0.fetch_or(JOINED, SeqCst);
        }
        if self.zero_while_joined(&st) {
            self.leave_join(&mut st);
            return None;
        }
        Some(self.dones.0.1.load(SeqCst))
    }

    /// Under the lock: a `Join` stops waiting (it returned or was dropped); the last one takes
    /// the announcements back, and puts and `task_done`s go without the lock again.
    fn leave_join(&self, st: &mut State<T>) {
        st.joiners -= 1;
        if st.joiners == 0 {
            self.publish(st, Announce::Nobody);
            self.dones.0.0.fetch_and(!JOINED, SeqCst);
        }
    }

    #[cold]
    fn end_join(&self) {
        let mut st = self.lock();
        self.leave_join(&mut st);
    }

    /// A `task_done` while joiners wait (or just stopped): the compare-and-swap under the lock,
    /// and the zero test, exact there while joiners wait.
    #[cold]
    #[inline(never)]
    fn task_done_locked(&self) -> Result<(), TaskDoneError> {
        let st = self.lock();
        let dones = &self.dones.0.0;
        let mut d = dones.load(SeqCst);
        // Without `JOINED` (the last joiner left), `task_done`s without the lock race this one.
        loop {
            if d & !JOINED >= self.store.popped() {
                return Err(TaskDoneError);
            }
            match dones.compare_exchange_weak(d, d + 1, SeqCst, SeqCst) {
                Ok(_) => break,
                Err(now) => d = now,
            }
        }
        let zero = self.zero_while_joined(&st);
        if zero {
            self.count_zero();
        }
        drop(st);
        if zero {
            self.wake_joiners();
        }
        Ok(())
    }

    #[inline]
    fn note_peak(&self) {
        let peak = &self.peak.0.0;
        if peak.load(Relaxed) < self.capacity() {
            self.raise_peak();
        }
    }

    #[cold]
    fn raise_peak(&self) {
        self.peak.0.0.fetch_max(self.len(), Relaxed);
    }

    /// Announces in the store's flags who waits in line (and who is about to).
    #[inline]
    fn publish(&self, st: &mut State<T>, announce: Announce) {
        let getters = !st.getters.is_empty() || announce == Announce::Getter;
        let putters = !st.putters.is_empty() || announce == Announce::Putter;
        let flags = Flags {
            putters,
            getters,
            joiners: st.joiners > 0,
        };
        // Most calls change nothing: the store is left alone then.
        if flags != st.flags {
            st.flags = flags;
            self.store.set_flags(flags);
        }
    }

    /// Brings the lines up to date with the store: admits waiting putters while there is room,
    /// serves waiting getters while unreserved items are stored, fails the getters of a queue
    /// shut down and drained, and announces the result.
    fn settle(&self, st: &mut State<T>, wake: &mut Wakeups) {
        // A full ring is seen before a putter is taken out of line (and put back).
        while !st.putters.is_empty() && !self.store.surely_full() {
            let Some(key) = st.putters.pop_front() else {
                break;
            };
            let (old, waker) = st.putters.serve(key, PutSlot::Done);
            let PutSlot::Waiting(item) = old else {
                unreachable!("putter in line is waiting")
            };
            // Woken even if the item's `Ord` panics while it is stored (it stays stored).
            wake.add(waker);
            match self.store.push(item, false) {
                Pushed::Ok { .. } => self.note_peak(),
                Pushed::Full(item) | Pushed::Closed(item) | Pushed::Busy(item) => {
                    let waker = wake.take_last();
                    st.putters.push_front(key, PutSlot::Waiting(item), waker);
                    break;
                }
            }
        }
        self.serve_getters(st, wake);
        if st.shutdown != Shutdown::Open && self.len() == 0 {
            while let Some(key) = st.getters.pop_front() {
                let (_, waker) = st.getters.serve(key, GetSlot::Failed);
                wake.add(waker);
            }
        }
        self.publish(st, Announce::Nobody);
    }

    /// Serves getters in line, first arrived first, while unreserved items are stored: the
    /// store reserves an item (beyond those reserved) for each, all in one step. (Getters in
    /// line were announced, as the store needs.)
    #[inline]
    fn serve_getters(&self, st: &mut State<T>, wake: &mut Wakeups) {
        if st.getters.is_empty() {
            return;
        }
        for _ in 0..self.store.reserve_up_to(st.getters.len()) {
            let key = st.getters.pop_front().expect("a getter in line");
            let (_, waker) = st.getters.serve(key, GetSlot::Served);
            wake.add(waker);
        }
    }

    /// `settle` where nothing was stored and no getter put back in line since the lock was
    /// taken: only waiting putters or a shutdown can leave it something to do. (Stored items
    /// beyond the reserved ones with getters in line exist only inside a locked step that
    /// stores one, which serves them before it ends: a newcomer's push is `Busy` while getters
    /// are announced. And the flags are current.)
    #[inline]
    fn settle_lines(&self, st: &mut State<T>, wake: &mut Wakeups) {
        if !st.putters.is_empty() || st.shutdown != Shutdown::Open {
            self.settle(st, wake);
        } else {
            debug_assert!(
                st.getters.is_empty() || self.store.spare() == 0,
                "an unreserved item with getters in line"
            );
        }
    }

    #[cold]
    fn settle_now(&self) {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        self.settle(&mut st, &mut wake);
    }

    /// A `put`: straight into the store if no putter waits and there is room; else, with a
    /// waker, in line.
    #[inline]
    fn put(&self, item: T, waker: Option<&Waker>) -> PutOutcome<T> {
        match self.store.push(item, true) {
            // The flags were in the word the push moved: no getter waited in line before it
            // (else `Busy`), and one lining up after it sees the item.
            Pushed::Ok { .. } => {
                self.note_peak();
                PutOutcome::Done
            }
            // Full, closed, putters or getters in line, or joiners waiting: the locked path
            // tells which (with getters in line it pushes and serves them under one lock).
            Pushed::Full(item) | Pushed::Closed(item) | Pushed::Busy(item) => {
                self.put_locked(item, waker)
            }
        }
    }

    #[cold]
    fn put_locked(&self, mut item: T, waker: Option<&Waker>) -> PutOutcome<T> {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        if st.shutdown != Shutdown::Open {
            return PutOutcome::ShutDown(item);
        }
        if st.putters.is_empty() {
            // A put sent here by joiners usually finds room: tried before announcing anything.
            let pushed = match self.store.push(item, false) {
                Pushed::Full(back) if waker.is_some() => {
                    // Announced before the last try: a get that makes room after it sees it.
                    self.publish(&mut st, Announce::Putter);
                    self.store.push(back, false)
                }
                pushed => pushed,
            };
            match pushed {
                Pushed::Ok { getters } => {
                    self.note_peak();
                    // Only the getters' line can need the lock holder now (no putter waits, the
                    // queue is open and holds an item): a full `settle` would find nothing else.
                    debug_assert_eq!(getters, !st.getters.is_empty(), "getters announced");
                    self.serve_getters(&mut st, &mut wake);
                    self.publish(&mut st, Announce::Nobody);
                    return PutOutcome::Done;
                }
                Pushed::Full(back) | Pushed::Closed(back) | Pushed::Busy(back) => item = back,
            }
        }
        let out = match waker {
            Some(w) => PutOutcome::Waiting(st.putters.push(PutSlot::Waiting(item), w.clone())),
            None => PutOutcome::Full(item),
        };
        self.publish(&mut st, Announce::Nobody);
        out
    }

    /// A `get` that has not waited: straight from the store if no getter waits in line and more
    /// items are stored than reserved; else, with a waker, in line.
    #[inline]
    fn get(&self, waker: Option<&Waker>) -> GetOutcome<T> {
        match self.store.pop() {
            Popped::Item { value, putters } => {
                // The flag was in the word the pop moved: a putter lining up before it is seen
                // here, one after it finds the room.
                if putters {
                    self.settle_now();
                }
                GetOutcome::Item(value)
            }
            Popped::Empty | Popped::Busy => self.get_locked(waker),
        }
    }

    #[cold]
    fn get_locked(&self, waker: Option<&Waker>) -> GetOutcome<T> {
        let mut wake = Wakeups::default();
        let mut st = self.lock();
        self.settle_lines(&mut st, &mut wake);
        if st.getters.is_empty() {
            if waker.is_some() {
                // Announced before the last try: a put after it sees it.
                self.publish(&mut st, Announce::Getter);
            }
            if let Some(item) = self.store.pop_spare() {
                self.settle(&mut st, &mut wake);
                return GetOutcome::Item(item);
            }
        }
        let out = if st.shutdown != Shutdown::Open && self.len() == 0 {
            GetOutcome::ShutDown
        } else {
            match waker {
                Some(w) => GetOutcome::Waiting(st.getters.push(GetSlot::Waiting, w.clone())),
                None => GetOutcome::Empty,
            }
        };
        self.publish(&mut st, Announce::Nobody);
        out
    }

    fn fail_putters(st: &mut State<T>, wake: &mut Wakeups) {
        while let Some(key) = st.putters.pop_front() {
            // Swap the item out through a placeholder, then hand it back in the failed state.
            let (old, waker) = st.putters.serve(key, PutSlot::Done);
            let PutSlot::Waiting(item) = old else {
                unreachable!("putter in line is waiting")
            };
            st.putters.serve(key, PutSlot::Failed(item));
            wake.add(waker);
        }
    }
}

impl<T> Queue<T, Fifo> {
    /// A first-in, first-out queue that holds at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero, or 2^22 or more.
    pub fn bounded(capacity: usize) -> Self {
        Self::with_kind(capacity)
    }
}

impl<T> Queue<T, Lifo> {
    /// A last-in, first-out queue that holds at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    pub fn lifo(capacity: usize) -> Self {
        Self::with_kind(capacity)
    }
}

impl<T: Ord> Queue<T, Priority> {
    /// A queue that hands out its lowest item first and holds at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
    pub fn priority(capacity: usize) -> Self {
        Self::with_kind(capacity)
    }
}

impl<T, K: Kind<T>> Queue<T, K> {
    /// A queue of kind `K` that holds at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero (or, for [`Fifo`], 2^22 or more).
    pub fn with_kind(capacity: usize) -> Self {
        assert!(capacity > 0, "queue capacity must be at least 1");
        let state = State {
            flags: Flags::default(),
            getters: WaitList::new(),
            putters: WaitList::new(),
            joiners: 0,
            shutdown: Shutdown::Open,
        };
        Queue {
            inner: Arc::new(Inner {
                store: K::with_capacity(capacity),
                peak: Line((AtomicUsize::new(0), capacity)),
                dones: Line((AtomicU64::new(0), AtomicU64::new(0))),
                state: Mutex::new(state),
                all_done: Event::new(),
                kind: PhantomData,
            }),
        }
    }

    /// Puts an item, waiting while the queue is full; fails only if the queue is shut down,
    /// handing the item back.
    ///
    /// Putters that wait are served in the order they called `put`. Dropping the future while it
    /// waits takes the item out of line: it is dropped and never put. A putter is served by
    /// moving its item into the queue at the moment a place frees, so a future dropped after it
    /// was woken (and before it returned `Ok`) has already put its item.
    pub fn put(&self, item: T) -> Put<'_, T, K> {
        Put {
            queue: self,
            item: Some(item),
            key: None,
        }
    }

    /// Puts an item if there is room now (and no putter waiting before it).
    pub fn try_put(&self, item: T) -> Result<(), TryPutError<T>> {
        match self.inner.put(item, None) {
            PutOutcome::Done => Ok(()),
            PutOutcome::ShutDown(item) => Err(TryPutError::ShutDown(item)),
            PutOutcome::Full(item) => Err(TryPutError::Full(item)),
            PutOutcome::Waiting(_) => unreachable!("a put without a waker waits"),
        }
    }

    /// Takes the next item, waiting while the queue is empty; fails once the queue is shut down
    /// and nothing is left in it.
    ///
    /// Getters that wait are served in the order they called `get`; a served getter takes the
    /// item that comes out next when it runs (the lowest one in a priority queue, the newest in a
    /// LIFO queue). If the future is dropped after it was served, its turn goes to the next
    /// getter in line: no item is lost.
    pub fn get(&self) -> Get<'_, T, K> {
        Get {
            queue: self,
            key: None,
        }
    }

    /// Takes the next item if there is one now.
    pub fn try_get(&self) -> Result<T, TryGetError> {
        match self.inner.get(None) {
            GetOutcome::Item(item) => Ok(item),
            GetOutcome::ShutDown => Err(TryGetError::ShutDown),
            GetOutcome::Empty => Err(TryGetError::Empty),
            GetOutcome::Waiting(_) => unreachable!("a get without a waker waits"),
        }
    }

    /// Marks one taken item as processed, for [`join`](Queue::join).
    ///
    /// Fails if every item taken (by `get` or `try_get`) was already marked done.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let inner = &*self.inner;
        let dones = &inner.dones.0.0;
        let mut d = dones.load(SeqCst);
        loop {
            if d >= inner.store.popped() {
                // With joiners waiting, `JOINED` puts `d` above any count: the lock decides.
                if d & JOINED != 0 {
                    return inner.task_done_locked();
                }
                return Err(TaskDoneError);
            }
            // Expects `JOINED` clear: a joiner announced since makes it fail and look again.
            match dones.compare_exchange_weak(d, d + 1, SeqCst, SeqCst) {
                Ok(_) => return Ok(()),
                Err(now) => d = now,
            }
        }
    }

    /// Waits until every item put was taken and marked done with [`task_done`](Queue::task_done)
    /// (items discarded by [`shutdown_immediate`](Queue::shutdown_immediate) count as done).
    ///
    /// It returns at once if no item is unfinished when it is first polled; otherwise once the
    /// count of unfinished items reached zero after that, even if items were put again before
    /// the joiner ran (as asyncio's `join` does), so that a busy queue cannot starve it.
    pub fn join(&self) -> Join<'_, T, K> {
        Join {
            queue: self,
            zeros: None,
            listener: None,
            done: false,
        }
    }

    /// How many items are put and not yet marked done.
    pub fn unfinished(&self) -> usize {
        self.inner.unfinished()
    }

    /// Shuts the queue down gracefully (Python 3.13's `shutdown()`): puts fail from now on,
    /// putters waiting fail with their items, getters take what is left and then fail, and
    /// `join` returns once those items are marked done.
    ///
    /// "What is left" includes items reserved for getters that have not run yet: until they are
    /// taken, other getters keep waiting (and [`try_get`](Queue::try_get) says `Empty`), so that
    /// the reservation of a dropped getter still finds a taker.
    pub fn shutdown(&self) {
        let inner = &*self.inner;
        let mut wake = Wakeups::default();
        let mut st = inner.lock();
        if st.shutdown == Shutdown::Open {
            st.shutdown = Shutdown::Graceful;
        }
        // A put that claimed its place before this still lands, and the store counts it.
        inner.store.close();
        Inner::<T, K>::fail_putters(&mut st, &mut wake);
        inner.settle(&mut st, &mut wake);
    }

    /// Shuts the queue down at once (Python 3.13's `shutdown(immediate=True)`): the items left
    /// (including those reserved for getters that have not run yet) are discarded and counted as
    /// done, puts and gets fail from now on, and `join` returns unless taken items still wait
    /// for their `task_done`.
    pub fn shutdown_immediate(&self) {
        let inner = &*self.inner;
        let mut discarded = Vec::new();
        let mut wake = Wakeups::default();
        let mut st = inner.lock();
        st.shutdown = Shutdown::Immediate;
        inner.store.close();
        Inner::<T, K>::fail_putters(&mut st, &mut wake);
        // Every getter, in line or served, fails.
        for key in st.getters.keys_in_use() {
            match st.getters.state(key) {
                GetSlot::Failed => continue,
                GetSlot::Waiting => st.getters.unlink(key),
                GetSlot::Served => {}
            }
            let (_, waker) = st.getters.serve(key, GetSlot::Failed);
            wake.add(waker);
        }
        inner.store.clear_reserved();
        // Also waits out a put that claimed its place before the store was closed.
        while let Some(item) = inner.store.pop_spare() {
            discarded.push(item);
        }
        // Taken (the store counted them) and done at once.
        inner.dones.0.0.fetch_add(discarded.len() as u64, SeqCst);
        inner.publish(&mut st, Announce::Nobody);
        let zero = inner.zero_while_joined(&st);
        if zero {
            inner.count_zero();
        }
        drop(st);
        if zero {
            inner.wake_joiners();
        }
        // Items are dropped without the lock: their `Drop` may use the queue.
        drop(discarded);
        drop(wake);
    }

    /// Whether [`shutdown`](Queue::shutdown) or [`shutdown_immediate`](Queue::shutdown_immediate)
    /// was called.
    pub fn is_shutdown(&self) -> bool {
        self.inner.lock().shutdown != Shutdown::Open
    }

    /// How many items the queue holds (counting those reserved for getters that have not yet run).
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    /// Whether the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds `capacity` items.
    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity()
    }

    /// The most items the queue holds.
    pub fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    /// The largest length the queue reached since it was created.
    pub fn peak_len(&self) -> usize {
        self.inner.peak.0.0.load(SeqCst)
    }

    /// How many `put`s are waiting for room.
    pub fn putters_waiting(&self) -> usize {
        self.inner.lock().putters.len()
    }

    /// How many `get`s are waiting for an item.
    pub fn getters_waiting(&self) -> usize {
        self.inner.lock().getters.len()
    }
}

impl<T, K: Kind<T>> Clone for Queue<T, K> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
        }
    }
}

impl<T, K: Kind<T>> fmt::Debug for Queue<T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shutdown = self.inner.lock().shutdown;
        f.debug_struct("Queue")
            .field("kind", &format_args!("{}", K::NAME))
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("unfinished", &self.unfinished())
            .field("shutdown", &shutdown)
            .finish_non_exhaustive()
    }
}

/// The future of [`Queue::put`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Put<'a, T, K: Kind<T> = Fifo> {
    queue: &'a Queue<T, K>,
    /// The item until it is put or moved into the putter's slot.
    item: Option<T>,
    /// The slot while in line.
    key: Option<usize>,
}

// The item is never pinned: it is only moved in and out.
impl<T, K: Kind<T>> Unpin for Put<'_, T, K> {}

impl<T, K: Kind<T>> Future for Put<'_, T, K> {
    type Output = Result<(), PutError<T>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let inner = &*this.queue.inner;
        let Some(key) = this.key else {
            let item = this.item.take().expect("`Put` polled after it completed");
            return match inner.put(item, Some(cx.waker())) {
                PutOutcome::Done => Poll::Ready(Ok(())),
                PutOutcome::ShutDown(item) | PutOutcome::Full(item) => {
                    Poll::Ready(Err(PutError(item)))
                }
                PutOutcome::Waiting(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
            };
        };
        this.poll_in_line(key, cx)
    }
}

impl<T, K: Kind<T>> Put<'_, T, K> {
    /// A poll after the putter lined up (out of line, so that the first poll stays small).
    #[inline(never)]
    fn poll_in_line(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<Result<(), PutError<T>>> {
        let this = self;
        let inner = &*this.queue.inner;
        let mut st = inner.lock();
        match st.putters.state(key) {
            PutSlot::Waiting(_) => {
                st.putters.set_waker(key, cx.waker());
                Poll::Pending
            }
            PutSlot::Done | PutSlot::Failed(_) => {
                this.key = None;
                match st.putters.free(key) {
                    PutSlot::Failed(item) => Poll::Ready(Err(PutError(item))),
                    _ => Poll::Ready(Ok(())),
                }
            }
        }
    }
}

impl<T, K: Kind<T>> Drop for Put<'_, T, K> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.leave(key);
        }
    }
}

impl<T, K: Kind<T>> Put<'_, T, K> {
    /// Dropped while in line or served (out of line: a `put` that did not wait drops nothing).
    #[cold]
    #[inline(never)]
    fn leave(&mut self, key: usize) {
        let inner = &*self.queue.inner;
        let mut wake = Wakeups::default();
        let mut st = inner.lock();
        // Still in line: leave it, and take the item along (it is dropped, never put).
        // Already served: the item is in the queue; nothing is owed to anyone.
        let waiting = matches!(st.putters.state(key), PutSlot::Waiting(_));
        if waiting {
            st.putters.unlink(key);
        }
        let slot = st.putters.free(key);
        if waiting {
            inner.settle(&mut st, &mut wake);
        }
        drop(st);
        drop(slot);
    }
}

impl<T, K: Kind<T>> fmt::Debug for Put<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`Queue::get`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Get<'a, T, K: Kind<T> = Fifo> {
    queue: &'a Queue<T, K>,
    /// The slot while in line or holding an item handed to it.
    key: Option<usize>,
}

impl<T, K: Kind<T>> Unpin for Get<'_, T, K> {}

impl<T, K: Kind<T>> Future for Get<'_, T, K> {
    type Output = Result<T, GetError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let inner = &*this.queue.inner;
        let Some(key) = this.key else {
            return match inner.get(Some(cx.waker())) {
                GetOutcome::Item(item) => Poll::Ready(Ok(item)),
                GetOutcome::ShutDown | GetOutcome::Empty => Poll::Ready(Err(GetError)),
                GetOutcome::Waiting(key) => {
                    this.key = Some(key);
                    Poll::Pending
                }
            };
        };
        this.poll_in_line(key, cx)
    }
}

impl<T, K: Kind<T>> Get<'_, T, K> {
    /// A poll after the getter lined up (out of line, so that the first poll stays small).
    #[inline(never)]
    fn poll_in_line(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<Result<T, GetError>> {
        let this = self;
        let inner = &*this.queue.inner;
        let mut wake = Wakeups::default();
        let mut st = inner.lock();
        match st.getters.state(key) {
            GetSlot::Waiting => {
                st.getters.set_waker(key, cx.waker());
                Poll::Pending
            }
            GetSlot::Served => {
                // The best item now, not the one whose arrival served this getter.
                if let Some(item) = inner.store.pop_reserved() {
                    this.key = None;
                    st.getters.free(key);
                    // Room for a putter; or the last item after a shutdown fails the line.
                    inner.settle_lines(&mut st, &mut wake);
                    return Poll::Ready(Ok(item));
                }
                if st.shutdown != Shutdown::Open && inner.len() == 0 {
                    this.key = None;
                    st.getters.free(key);
                    inner.settle(&mut st, &mut wake);
                    return Poll::Ready(Err(GetError));
                }
                // Not expected (the store keeps reserved items from newcomers); if it happens,
                // first in line again rather than lose the turn.
                st.getters
                    .push_front(key, GetSlot::Waiting, Some(cx.waker().clone()));
                inner.settle(&mut st, &mut wake);
                Poll::Pending
            }
            GetSlot::Failed => {
                this.key = None;
                st.getters.free(key);
                Poll::Ready(Err(GetError))
            }
        }
    }
}

impl<T, K: Kind<T>> Drop for Get<'_, T, K> {
    #[inline]
    fn drop(&mut self) {
        if let Some(key) = self.key {
            self.leave(key);
        }
    }
}

impl<T, K: Kind<T>> Get<'_, T, K> {
    /// Dropped while in line or served (out of line: a `get` that did not wait drops nothing).
    #[cold]
    #[inline(never)]
    fn leave(&mut self, key: usize) {
        let inner = &*self.queue.inner;
        let mut wake = Wakeups::default();
        let mut st = inner.lock();
        if matches!(st.getters.state(key), GetSlot::Waiting) {
            st.getters.unlink(key);
        }
        // A reservation passes to the next getter in line (who is woken in its place) or
        // lapses; the item stays in the queue either way.
        if let GetSlot::Served = st.getters.free(key) {
            inner.store.unreserve();
        }
        inner.settle(&mut st, &mut wake);
    }
}

impl<T, K: Kind<T>> fmt::Debug for Get<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("waiting", &self.key.is_some())
            .finish_non_exhaustive()
    }
}

/// The future of [`Queue::join`].
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Join<'a, T, K: Kind<T> = Fifo> {
    queue: &'a Queue<T, K>,
    /// The queue's count of zeros when this began to wait (and while it waits, it is counted
    /// in the queue's joiners).
    zeros: Option<u64>,
    listener: Option<EventListener>,
    /// Returned: polled again, it is ready at once.
    done: bool,
}

impl<T, K: Kind<T>> Join<'_, T, K> {
    /// Done: no longer counted among the joiners.
    fn finish(&mut self) -> Poll<()> {
        self.listener = None;
        self.done = true;
        if self.zeros.take().is_some() {
            self.queue.inner.end_join();
        }
        Poll::Ready(())
    }
}

impl<T, K: Kind<T>> Future for Join<'_, T, K> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let inner = &*this.queue.inner;
        if this.done {
            return Poll::Ready(());
        }
        if this.zeros.is_none() {
            if inner.unfinished() == 0 {
                this.done = true;
                return Poll::Ready(());
            }
            // Announced, and the count looked at exactly, under the lock (see `begin_join`);
            // the loop then listens before it looks at the count of zeros again.
            match inner.begin_join() {
                None => {
                    this.done = true;
                    return Poll::Ready(());
                }
                Some(zeros) => this.zeros = Some(zeros),
            }
        }
        loop {
            let zeros = inner.dones.0.1.load(SeqCst);
            // The count reached zero since: done, whatever it is now.
            if this.zeros != Some(zeros) {
                return this.finish();
            }
            match this.listener.as_mut() {
                // Listen, then look again: a notification between the look and the listening
                // would otherwise be missed.
                None => this.listener = Some(inner.all_done.listen()),
                Some(listener) => {
                    std::task::ready!(Pin::new(listener).poll(cx));
                    this.listener = None;
                }
            }
        }
    }
}

impl<T, K: Kind<T>> Drop for Join<'_, T, K> {
    fn drop(&mut self) {
        if self.zeros.is_some() {
            self.queue.inner.end_join();
        }
    }
}

impl<T, K: Kind<T>> fmt::Debug for Join<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}
