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
//! - Every operation takes one short lock: when two or more threads use the queue at the same
//!   moment they take turns on it, and a lock-free channel such as async-channel is faster there
//!   (`cargo bench --bench queue` compares them).

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod error;
mod kind;
mod waiters;

pub use error::{GetError, PutError, TaskDoneError, TryGetError, TryPutError};
pub use kind::{Fifo, Kind, Lifo, Priority};

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use event_listener::{Event, EventListener};
use waiters::WaitList;

/// A bounded async queue; clone it to share it between tasks and threads.
///
/// `K` is the order: [`Fifo`] (the default, [`Queue::bounded`]), [`Lifo`] ([`Queue::lifo`]) or
/// [`Priority`] ([`Queue::priority`]).
pub struct Queue<T, K: Kind<T> = Fifo> {
    inner: Arc<Inner<T, K>>,
}

/// What the handles share.
///
/// Aligned to a cache line with the lock first, so that the lock word and the fields every
/// `put` and `get` writes share one line: under contention from two threads each operation then
/// moves one line between cores, not three or four.
#[repr(C, align(64))]
struct Inner<T, K: Kind<T>> {
    state: Mutex<State<T, K>>,
    capacity: usize,
    /// Notified when the count of unfinished items drops to zero.
    all_done: Event,
}

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
///
/// In this order (`repr(C)`): the fields that a `put` or `get` without waiting writes come
/// first, in the lock's cache line; the rest are only read then, so they stay cached on both
/// cores.
#[repr(C)]
struct State<T, K: Kind<T>> {
    items: K::Store,
    /// Items put and not yet marked done (asyncio's `_unfinished_tasks`).
    unfinished: usize,
    /// Items taken and not yet marked done: the limit of `task_done` calls.
    taken: usize,
    /// The largest length the queue reached.
    peak: usize,
    /// Items reserved for served getters that have not yet run to take them; never more than
    /// the items stored, and while getters wait in line, every stored item is reserved.
    reserved: usize,
    shutdown: Shutdown,
    getters: WaitList<GetSlot>,
    putters: WaitList<PutSlot<T>>,
    /// How many times `unfinished` reached zero: a joiner returns once it changed.
    zeros: u64,
}

/// Up to two tasks to wake once the lock is released (waking under the lock would make the
/// woken thread block on it at once).
///
/// They are woken when this is dropped, so that they are woken even if the operation panics
/// (in an item's `Ord`) after it served them: declare it before the lock guard, which is then
/// dropped first.
#[derive(Default)]
struct Wakeups(Option<Waker>, Option<Waker>);

// `#[inline]`: these are not generic, so without it they could not be inlined into the
// (generic, so monomorphized in the caller's crate) hot paths.
impl Wakeups {
    #[inline]
    fn add(&mut self, waker: Option<Waker>) {
        if self.0.is_none() {
            self.0 = waker;
        } else {
            // One operation frees at most one place and fills it: a putter and a getter.
            debug_assert!(self.1.is_none(), "a third wake-up from one operation");
            self.1 = waker;
        }
    }

    /// Wakes the tasks now (what dropping does; this names the moment).
    #[inline]
    fn wake(self) {}
}

impl Drop for Wakeups {
    #[inline]
    fn drop(&mut self) {
        if let Some(w) = self.0.take() {
            w.wake();
        }
        if let Some(w) = self.1.take() {
            w.wake();
        }
    }
}

impl<T, K: Kind<T>> State<T, K> {
    fn len(&self) -> usize {
        K::len(&self.items)
    }

    /// Stores an item that is already counted as unfinished, serving the first waiting getter:
    /// one item is reserved for it, so no newcomer can take it first.
    fn place(&mut self, item: T, wake: &mut Wakeups) {
        // Served before the item is stored: if the item's `Ord` panics while a priority queue
        // stores it, the heap still keeps it, and the reservation is backed by an item.
        if let Some(key) = self.getters.pop_front() {
            let (_, waker) = self.getters.serve(key, GetSlot::Served);
            self.reserved += 1;
            wake.add(waker);
        }
        K::push(&mut self.items, item);
    }

    /// Takes the next item for a getter; `reserved` already counts it out.
    fn take(&mut self, wake: &mut Wakeups) -> Option<T> {
        let item = K::pop(&mut self.items)?;
        self.taken += 1;
        self.admit_putter(wake);
        Some(item)
    }

    /// One place in the queue came free: the first waiting putter's item takes it.
    fn admit_putter(&mut self, wake: &mut Wakeups) {
        if let Some(key) = self.putters.pop_front() {
            let (old, waker) = self.putters.serve(key, PutSlot::Done);
            let PutSlot::Waiting(item) = old else {
                unreachable!("putter in line is waiting")
            };
            self.unfinished += 1;
            wake.add(waker);
            self.place(item, wake);
        }
    }

    fn try_put(
        &mut self,
        item: T,
        capacity: usize,
        wake: &mut Wakeups,
    ) -> Result<(), TryPutError<T>> {
        if self.shutdown != Shutdown::Open {
            return Err(TryPutError::ShutDown(item));
        }
        // Putters in line come first even if a place seems free.
        if self.len() >= capacity || !self.putters.is_empty() {
            return Err(TryPutError::Full(item));
        }
        // Counted first: if the item's `Ord` panics while a priority queue places it, the
        // heap still keeps it, and it must be counted for `task_done` once it is taken.
        self.unfinished += 1;
        self.place(item, wake);
        self.peak = self.peak.max(self.len());
        Ok(())
    }

    fn try_get(&mut self, wake: &mut Wakeups) -> Result<T, TryGetError> {
        // Reserved items are not for newcomers.
        if self.len() > self.reserved
            && let Some(item) = self.take(wake)
        {
            return Ok(item);
        }
        if self.drained() {
            Err(TryGetError::ShutDown)
        } else {
            Err(TryGetError::Empty)
        }
    }

    /// Counts one unfinished item less; true if that was the last one.
    fn finish_one(&mut self) -> bool {
        self.unfinished -= 1;
        self.zero_if_done()
    }

    /// Counts a zero of `unfinished` for the joiners waiting; true if it is zero.
    fn zero_if_done(&mut self) -> bool {
        let zero = self.unfinished == 0;
        if zero {
            self.zeros = self.zeros.wrapping_add(1);
        }
        zero
    }

    /// Whether getters have nothing more to hope for: the queue is shut down and holds no item,
    /// not even one reserved for a getter that has not run yet. (Its reservation passes on if
    /// that getter is dropped, and then the getters still waiting must be there to take it.)
    fn drained(&self) -> bool {
        self.shutdown != Shutdown::Open && self.len() == 0
    }

    /// After a graceful shutdown, once the last item is gone: the getters still in line fail.
    fn fail_getters_if_drained(&mut self, wakers: &mut Vec<Waker>) {
        if !self.drained() {
            return;
        }
        while let Some(key) = self.getters.pop_front() {
            let (_, waker) = self.getters.serve(key, GetSlot::Failed);
            wakers.extend(waker);
        }
    }
}

impl<T> Queue<T, Fifo> {
    /// A first-in, first-out queue that holds at most `capacity` items.
    ///
    /// # Panics
    ///
    /// If `capacity` is zero.
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
    /// If `capacity` is zero.
    pub fn with_kind(capacity: usize) -> Self {
        assert!(capacity > 0, "queue capacity must be at least 1");
        let state = State {
            items: K::with_capacity(capacity),
            reserved: 0,
            getters: WaitList::new(),
            putters: WaitList::new(),
            unfinished: 0,
            taken: 0,
            zeros: 0,
            peak: 0,
            shutdown: Shutdown::Open,
        };
        Queue {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                capacity,
                all_done: Event::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T, K>> {
        // The only user code run under the lock is an item's `Ord` (in a priority queue). If it
        // panics, the item being stored stays in the heap (counted, and its putter, if one was
        // served, still woken), but an item being taken in that operation never reaches its
        // taker: it is lost, and `join` waits for it forever. The lists and the other counts
        // stay consistent, so the lock is taken over rather than passed on as a panic to every
        // other task.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
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
        let mut wake = Wakeups::default();
        let result = self.lock().try_put(item, self.inner.capacity, &mut wake);
        wake.wake();
        result
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
        let mut wake = Wakeups::default();
        let result = self.lock().try_get(&mut wake);
        wake.wake();
        result
    }

    /// Marks one taken item as processed, for [`join`](Queue::join).
    ///
    /// Fails if every item taken (by `get` or `try_get`) was already marked done.
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut st = self.lock();
        if st.taken == 0 {
            return Err(TaskDoneError);
        }
        st.taken -= 1;
        let all_done = st.finish_one();
        drop(st);
        if all_done {
            self.inner.all_done.notify(usize::MAX);
        }
        Ok(())
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
        }
    }

    /// How many items are put and not yet marked done.
    pub fn unfinished(&self) -> usize {
        self.lock().unfinished
    }

    /// Shuts the queue down gracefully (Python 3.13's `shutdown()`): puts fail from now on,
    /// putters waiting fail with their items, getters take what is left and then fail, and
    /// `join` returns once those items are marked done.
    ///
    /// "What is left" includes items reserved for getters that have not run yet: until they are
    /// taken, other getters keep waiting (and [`try_get`](Queue::try_get) says `Empty`), so that
    /// the reservation of a dropped getter still finds a taker.
    pub fn shutdown(&self) {
        let mut wakers = Vec::new();
        let mut st = self.lock();
        if st.shutdown == Shutdown::Open {
            st.shutdown = Shutdown::Graceful;
        }
        Self::fail_putters(&mut st, &mut wakers);
        // Getters wait in line only while every stored item is reserved. They fail now unless
        // such items are left: a served getter may be dropped and pass its reservation on to the
        // next getter in line (the last item taken fails the rest).
        st.fail_getters_if_drained(&mut wakers);
        drop(st);
        wakers.into_iter().for_each(Waker::wake);
    }

    /// Shuts the queue down at once (Python 3.13's `shutdown(immediate=True)`): the items left
    /// (including those reserved for getters that have not run yet) are discarded and counted as
    /// done, puts and gets fail from now on, and `join` returns unless taken items still wait
    /// for their `task_done`.
    pub fn shutdown_immediate(&self) {
        let mut wakers = Vec::new();
        let mut discarded = Vec::new();
        let mut st = self.lock();
        st.shutdown = Shutdown::Immediate;
        Self::fail_putters(&mut st, &mut wakers);
        // Every getter, in line or served, fails.
        for key in st.getters.keys_in_use() {
            match st.getters.state(key) {
                GetSlot::Failed => continue,
                GetSlot::Waiting => st.getters.unlink(key),
                GetSlot::Served => {}
            }
            let (_, waker) = st.getters.serve(key, GetSlot::Failed);
            wakers.extend(waker);
        }
        st.reserved = 0;
        while let Some(item) = K::pop(&mut st.items) {
            discarded.push(item);
        }
        st.unfinished -= discarded.len();
        let all_done = st.zero_if_done();
        drop(st);
        // Items are dropped without the lock: their `Drop` may use the queue.
        drop(discarded);
        wakers.into_iter().for_each(Waker::wake);
        if all_done {
            self.inner.all_done.notify(usize::MAX);
        }
    }

    fn fail_putters(st: &mut State<T, K>, wakers: &mut Vec<Waker>) {
        while let Some(key) = st.putters.pop_front() {
            // Swap the item out through a placeholder, then hand it back in the failed state.
            let (old, waker) = st.putters.serve(key, PutSlot::Done);
            let PutSlot::Waiting(item) = old else {
                unreachable!("putter in line is waiting")
            };
            st.putters.serve(key, PutSlot::Failed(item));
            wakers.extend(waker);
        }
    }

    /// Whether [`shutdown`](Queue::shutdown) or [`shutdown_immediate`](Queue::shutdown_immediate)
    /// was called.
    pub fn is_shutdown(&self) -> bool {
        self.lock().shutdown != Shutdown::Open
    }

    /// How many items the queue holds (counting those reserved for getters that have not yet run).
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the queue holds no item.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the queue holds `capacity` items.
    pub fn is_full(&self) -> bool {
        self.len() >= self.inner.capacity
    }

    /// The most items the queue holds.
    pub fn capacity(&self) -> usize {
        self.inner.capacity
    }

    /// The largest length the queue reached since it was created.
    pub fn peak_len(&self) -> usize {
        self.lock().peak
    }

    /// How many `put`s are waiting for room.
    pub fn putters_waiting(&self) -> usize {
        self.lock().putters.len()
    }

    /// How many `get`s are waiting for an item.
    pub fn getters_waiting(&self) -> usize {
        self.lock().getters.len()
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
        let st = self.lock();
        f.debug_struct("Queue")
            .field("kind", &format_args!("{}", K::NAME))
            .field("len", &st.len())
            .field("capacity", &self.inner.capacity)
            .field("unfinished", &st.unfinished)
            .field("shutdown", &st.shutdown)
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
        let mut wake = Wakeups::default();
        let mut st = this.queue.lock();
        let out = match this.key {
            None => {
                let item = this.item.take().expect("`Put` polled after it completed");
                match st.try_put(item, this.queue.inner.capacity, &mut wake) {
                    Ok(()) => Poll::Ready(Ok(())),
                    Err(TryPutError::ShutDown(item)) => Poll::Ready(Err(PutError(item))),
                    Err(TryPutError::Full(item)) => {
                        this.key =
                            Some(st.putters.push(PutSlot::Waiting(item), cx.waker().clone()));
                        Poll::Pending
                    }
                }
            }
            Some(key) => match st.putters.state(key) {
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
            },
        };
        drop(st);
        wake.wake();
        out
    }
}

impl<T, K: Kind<T>> Drop for Put<'_, T, K> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut st = self.queue.lock();
            // Still in line: leave it, and take the item along (it is dropped, never put).
            // Already served: the item is in the queue; nothing is owed to anyone.
            if matches!(st.putters.state(key), PutSlot::Waiting(_)) {
                st.putters.unlink(key);
            }
            let slot = st.putters.free(key);
            drop(st);
            drop(slot);
        }
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
        let mut wake = Wakeups::default();
        // Getters failed by this one taking the last item after a graceful shutdown.
        let mut failed = Vec::new();
        let mut st = this.queue.lock();
        let out = match this.key {
            None => match st.try_get(&mut wake) {
                Ok(item) => Poll::Ready(Ok(item)),
                Err(TryGetError::ShutDown) => Poll::Ready(Err(GetError)),
                Err(TryGetError::Empty) => {
                    this.key = Some(st.getters.push(GetSlot::Waiting, cx.waker().clone()));
                    Poll::Pending
                }
            },
            Some(key) => match st.getters.state(key) {
                GetSlot::Waiting => {
                    st.getters.set_waker(key, cx.waker());
                    Poll::Pending
                }
                GetSlot::Served => {
                    // Out of line before the item is taken: if the item's `Ord` panics while
                    // it is taken, the item is lost but the counts stay consistent.
                    this.key = None;
                    st.getters.free(key);
                    st.reserved -= 1;
                    // The best item now, not the one whose arrival served this getter.
                    let item = st.take(&mut wake).expect("a reserved item is stored");
                    // Shut down gracefully and that was the last item: the getters that waited
                    // in case a reservation passed on to them fail now.
                    if st.shutdown != Shutdown::Open {
                        st.fail_getters_if_drained(&mut failed);
                    }
                    Poll::Ready(Ok(item))
                }
                GetSlot::Failed => {
                    this.key = None;
                    st.getters.free(key);
                    Poll::Ready(Err(GetError))
                }
            },
        };
        drop(st);
        wake.wake();
        if !failed.is_empty() {
            failed.into_iter().for_each(Waker::wake);
        }
        out
    }
}

impl<T, K: Kind<T>> Drop for Get<'_, T, K> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            let mut wake = Wakeups::default();
            let mut st = self.queue.lock();
            if matches!(st.getters.state(key), GetSlot::Waiting) {
                st.getters.unlink(key);
            }
            // A reservation passes to the next getter in line (who is woken in its place) or
            // lapses; the item stays in the queue either way.
            if let GetSlot::Served = st.getters.free(key) {
                match st.getters.pop_front() {
                    Some(next) => {
                        let (_, waker) = st.getters.serve(next, GetSlot::Served);
                        wake.add(waker);
                    }
                    None => st.reserved -= 1,
                }
            }
            drop(st);
            wake.wake();
        }
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
    /// The queue's count of zeros when this began to wait.
    zeros: Option<u64>,
    listener: Option<EventListener>,
}

impl<T, K: Kind<T>> Future for Join<'_, T, K> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let queue = self.queue;
        loop {
            {
                let st = queue.lock();
                match self.zeros {
                    None if st.unfinished == 0 => return Poll::Ready(()),
                    None => self.zeros = Some(st.zeros),
                    // The count reached zero since: done, whatever it is now.
                    Some(zeros) if zeros != st.zeros => {
                        drop(st);
                        self.listener = None;
                        return Poll::Ready(());
                    }
                    Some(_) => {}
                }
            }
            match self.listener.as_mut() {
                // Listen, then look again: a notification between the first look and the
                // listening would otherwise be missed.
                None => self.listener = Some(queue.inner.all_done.listen()),
                Some(listener) => {
                    std::task::ready!(Pin::new(listener).poll(cx));
                    self.listener = None;
                }
            }
        }
    }
}

impl<T, K: Kind<T>> fmt::Debug for Join<'_, T, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join").finish_non_exhaustive()
    }
}
