//! The order a queue hands items out in: [`Fifo`] (the default), [`Lifo`] and [`Priority`]
//! (lowest first), like asyncio's `Queue`, `LifoQueue` and `PriorityQueue`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use concurrent_queue::{ConcurrentQueue, PushError};

/// The order of a [`Queue`](crate::Queue): [`Fifo`], [`Lifo`] or [`Priority`].
///
/// The trait is sealed: the queue does all the counting, waiting and shutting down, and its
/// guarantees rest on how these three store their items, so no other order can be added.
pub trait Kind<T>: sealed::Order<T> {}

pub(crate) mod sealed {
    use super::Items;
    use concurrent_queue::PushError;

    /// How a kind stores its items and which one comes out next. The store is shared by every
    /// handle and used without the queue's lock, so it does its own synchronization.
    pub trait Order<T> {
        /// The container of the items in the queue.
        type Store;

        /// The kind's name, for `Debug`.
        const NAME: &'static str;

        /// Whether `push` and `pop` change the store with a `SeqCst` atomic operation (which then
        /// orders them before a later `SeqCst` load, as a fence would).
        const SEQCST: bool;

        /// An empty store that holds at most `cap` items.
        fn with_capacity(cap: usize) -> Items<T>;

        /// Adds an item, unless the store is full or closed.
        fn push(store: &Items<T>, item: T) -> Result<(), PushError<T>>;

        /// Removes the item that comes out next (also once closed).
        fn pop(store: &Items<T>) -> Option<T>;
    }
}

/// The items of a queue of any kind (one type for all, so that a queue is `Send` and `Sync`
/// exactly when its items are `Send`, whatever its kind).
pub struct Items<T>(Repr<T>);

enum Repr<T> {
    /// FIFO: a lock-free ring (`concurrent-queue`'s bounded queue, allocated up front).
    Ring(ConcurrentQueue<T>),
    /// LIFO and priority: behind a short lock of their own.
    Deque(Locked<VecDeque<T>>),
    Heap(Locked<BinaryHeap<Reverse<T>>>),
}

struct Locked<S> {
    inner: Mutex<(S, bool)>,
    cap: usize,
}

/// Preallocating a huge capacity would waste memory on queues that never fill up.
fn initial(cap: usize) -> usize {
    cap.min(1024)
}

impl<S> Locked<S> {
    fn new(store: S, cap: usize) -> Self {
        Locked {
            inner: Mutex::new((store, false)),
            cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, (S, bool)> {
        // Only an item's `Ord` runs under it, and a panic there leaves the heap consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push<T>(
        &self,
        item: T,
        len: fn(&S) -> usize,
        add: fn(&mut S, T),
    ) -> Result<(), PushError<T>> {
        let mut g = self.lock();
        if g.1 {
            Err(PushError::Closed(item))
        } else if len(&g.0) >= self.cap {
            Err(PushError::Full(item))
        } else {
            add(&mut g.0, item);
            Ok(())
        }
    }
}

impl<T> Items<T> {
    /// How many items are stored (counting those being pushed).
    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Repr::Ring(q) => q.len(),
            Repr::Deque(l) => l.lock().0.len(),
            Repr::Heap(l) => l.lock().0.len(),
        }
    }

    /// Makes every later push fail; a push under way still lands, and pops see it.
    pub(crate) fn close(&self) {
        match &self.0 {
            Repr::Ring(q) => {
                q.close();
            }
            Repr::Deque(l) => l.lock().1 = true,
            Repr::Heap(l) => l.lock().1 = true,
        }
    }
}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items").field("len", &self.len()).finish()
    }
}

/// First in, first out (asyncio's `Queue`). Its items are kept in a lock-free ring
/// (`concurrent-queue`'s bounded queue), allocated for the whole capacity up front.
#[derive(Clone, Copy, Debug, Default)]
pub struct Fifo;

impl<T> Kind<T> for Fifo {}

impl<T> sealed::Order<T> for Fifo {
    type Store = Items<T>;
    const NAME: &'static str = "Fifo";
    // concurrent-queue 2.5 moves head and tail (or its single slot's state) by `SeqCst` CAS.
    const SEQCST: bool = true;

    fn with_capacity(cap: usize) -> Items<T> {
        Items(Repr::Ring(ConcurrentQueue::bounded(cap)))
    }

    #[inline]
    fn push(store: &Items<T>, item: T) -> Result<(), PushError<T>> {
        match &store.0 {
            Repr::Ring(q) => q.push(item),
            _ => unreachable!("a FIFO queue keeps a ring"),
        }
    }

    #[inline]
    fn pop(store: &Items<T>) -> Option<T> {
        match &store.0 {
            Repr::Ring(q) => q.pop().ok(),
            _ => unreachable!("a FIFO queue keeps a ring"),
        }
    }
}

/// Last in, first out (asyncio's `LifoQueue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifo;

impl<T> Kind<T> for Lifo {}

impl<T> sealed::Order<T> for Lifo {
    type Store = Items<T>;
    const NAME: &'static str = "Lifo";
    const SEQCST: bool = false;

    fn with_capacity(cap: usize) -> Items<T> {
        Items(Repr::Deque(Locked::new(
            VecDeque::with_capacity(initial(cap)),
            cap,
        )))
    }

    fn push(store: &Items<T>, item: T) -> Result<(), PushError<T>> {
        match &store.0 {
            Repr::Deque(l) => l.push(item, VecDeque::len, VecDeque::push_back),
            _ => unreachable!("a LIFO queue keeps a deque"),
        }
    }

    fn pop(store: &Items<T>) -> Option<T> {
        match &store.0 {
            Repr::Deque(l) => l.lock().0.pop_back(),
            _ => unreachable!("a LIFO queue keeps a deque"),
        }
    }
}

/// Lowest first by `Ord` (asyncio's `PriorityQueue`). Among equal items the order is unspecified;
/// put `(priority, sequence number, item)` tuples to make it first-in, first-out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Priority;

impl<T: Ord> Kind<T> for Priority {}

impl<T: Ord> sealed::Order<T> for Priority {
    type Store = Items<T>;
    const NAME: &'static str = "Priority";
    const SEQCST: bool = false;

    fn with_capacity(cap: usize) -> Items<T> {
        // `BinaryHeap` is a max-heap; `Reverse` makes the lowest item its top.
        Items(Repr::Heap(Locked::new(
            BinaryHeap::with_capacity(initial(cap)),
            cap,
        )))
    }

    fn push(store: &Items<T>, item: T) -> Result<(), PushError<T>> {
        match &store.0 {
            Repr::Heap(l) => l.push(item, BinaryHeap::len, |h, x| h.push(Reverse(x))),
            _ => unreachable!("a priority queue keeps a heap"),
        }
    }

    fn pop(store: &Items<T>) -> Option<T> {
        match &store.0 {
            Repr::Heap(l) => l.lock().0.pop().map(|Reverse(x)| x),
            _ => unreachable!("a priority queue keeps a heap"),
        }
    }
}
