//! The order a queue hands items out in: [`Fifo`] (the default), [`Lifo`] and [`Priority`]
//! (lowest first), like asyncio's `Queue`, `LifoQueue` and `PriorityQueue`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use concurrent_queue::PushError;

use crate::ring::Ring;

/// The order of a [`Queue`](crate::Queue): [`Fifo`], [`Lifo`] or [`Priority`].
///
/// The trait is sealed: the queue does all the counting, waiting and shutting down, and its
/// guarantees rest on how these three store their items, so no other order can be added.
pub trait Kind<T>: sealed::Order<T> {}

pub(crate) mod sealed {
    use super::Items;
    use concurrent_queue::PushError;

    /// How a kind stores its items and which one comes out next. The store is shared by every
    /// handle and used without the queue's lock, so it does its own synchronization, and it
    /// counts the items reserved for served getters, which a newcomer's pop leaves alone.
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

        /// A newcomer's pop: the item that comes out next, if more are stored than reserved.
        fn pop(store: &Items<T>) -> Option<T>;

        /// A served getter's pop: the item that comes out next, using up a reservation.
        fn pop_reserved(store: &Items<T>) -> Option<T>;
    }
}

/// The items of a queue of any kind (one type for all, so that a queue is `Send` and `Sync`
/// exactly when its items are `Send`, whatever its kind).
pub struct Items<T>(Repr<T>);

enum Repr<T> {
    /// FIFO: a lock-free ring.
    Ring(Ring<T>),
    /// LIFO and priority: behind a short lock of their own.
    Deque(Locked<VecDeque<T>>),
    Heap(Locked<BinaryHeap<Reverse<T>>>),
}

struct Locked<S> {
    inner: Mutex<LockedItems<S>>,
    cap: usize,
}

struct LockedItems<S> {
    items: S,
    closed: bool,
    reserved: usize,
}

/// Preallocating a huge capacity would waste memory on queues that never fill up.
fn initial(cap: usize) -> usize {
    cap.min(1024)
}

impl<S> Locked<S> {
    fn new(items: S, cap: usize) -> Self {
        Locked {
            inner: Mutex::new(LockedItems {
                items,
                closed: false,
                reserved: 0,
            }),
            cap,
        }
    }

    fn lock(&self) -> MutexGuard<'_, LockedItems<S>> {
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
        if g.closed {
            Err(PushError::Closed(item))
        } else if len(&g.items) >= self.cap {
            Err(PushError::Full(item))
        } else {
            add(&mut g.items, item);
            Ok(())
        }
    }

    fn pop<T>(&self, len: fn(&S) -> usize, take: fn(&mut S) -> Option<T>) -> Option<T> {
        let mut g = self.lock();
        if len(&g.items) > g.reserved {
            take(&mut g.items)
        } else {
            None
        }
    }

    fn pop_reserved<T>(&self, take: fn(&mut S) -> Option<T>) -> Option<T> {
        let mut g = self.lock();
        g.reserved -= 1;
        take(&mut g.items)
    }

    fn reserve(&self, len: fn(&S) -> usize) -> bool {
        let mut g = self.lock();
        let spare = len(&g.items) > g.reserved;
        if spare {
            g.reserved += 1;
        }
        spare
    }
}

impl<T> Items<T> {
    /// How many items are stored (counting those being pushed).
    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Repr::Ring(r) => r.len(),
            Repr::Deque(l) => l.lock().items.len(),
            Repr::Heap(l) => l.lock().items.len(),
        }
    }

    /// Reserves an item for a served getter, if more are stored than reserved.
    pub(crate) fn reserve(&self) -> bool {
        match &self.0 {
            Repr::Ring(r) => r.reserve(),
            Repr::Deque(l) => l.reserve(VecDeque::len),
            Repr::Heap(l) => l.reserve(BinaryHeap::len),
        }
    }

    /// Gives a reservation up (its getter was dropped); the item stays.
    pub(crate) fn unreserve(&self) {
        match &self.0 {
            Repr::Ring(r) => r.unreserve(),
            Repr::Deque(l) => l.lock().reserved -= 1,
            Repr::Heap(l) => l.lock().reserved -= 1,
        }
    }

    /// Gives every reservation up.
    pub(crate) fn clear_reserved(&self) {
        match &self.0 {
            Repr::Ring(r) => r.clear_reserved(),
            Repr::Deque(l) => l.lock().reserved = 0,
            Repr::Heap(l) => l.lock().reserved = 0,
        }
    }

    /// Makes every later push fail; a push under way still lands, and pops see it.
    pub(crate) fn close(&self) {
        match &self.0 {
            Repr::Ring(r) => r.close(),
            Repr::Deque(l) => l.lock().closed = true,
            Repr::Heap(l) => l.lock().closed = true,
        }
    }
}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items").field("len", &self.len()).finish()
    }
}

/// First in, first out (asyncio's `Queue`). Its items are kept in a lock-free ring, allocated
/// for the whole capacity up front (which must be below 2^23).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fifo;

impl<T> Kind<T> for Fifo {}

impl<T> sealed::Order<T> for Fifo {
    type Store = Items<T>;
    const NAME: &'static str = "Fifo";
    // The ring moves its head and tail by `SeqCst` compare-and-swap.
    const SEQCST: bool = true;

    fn with_capacity(cap: usize) -> Items<T> {
        Items(Repr::Ring(Ring::new(cap)))
    }

    #[inline]
    fn push(store: &Items<T>, item: T) -> Result<(), PushError<T>> {
        match &store.0 {
            Repr::Ring(r) => r.push(item),
            _ => unreachable!("a FIFO queue keeps a ring"),
        }
    }

    #[inline]
    fn pop(store: &Items<T>) -> Option<T> {
        match &store.0 {
            Repr::Ring(r) => r.pop(),
            _ => unreachable!("a FIFO queue keeps a ring"),
        }
    }

    fn pop_reserved(store: &Items<T>) -> Option<T> {
        match &store.0 {
            Repr::Ring(r) => Some(r.pop_reserved()),
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
            Repr::Deque(l) => l.pop(VecDeque::len, VecDeque::pop_back),
            _ => unreachable!("a LIFO queue keeps a deque"),
        }
    }

    fn pop_reserved(store: &Items<T>) -> Option<T> {
        match &store.0 {
            Repr::Deque(l) => l.pop_reserved(VecDeque::pop_back),
            _ => unreachable!("a LIFO queue keeps a deque"),
        }
    }
}

/// Lowest first by `Ord` (asyncio's `PriorityQueue`). Among equal items the order is unspecified;
/// put `(priority, sequence number, item)` tuples to make it first-in, first-out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Priority;

impl<T: Ord> Kind<T> for Priority {}

fn heap_pop<T: Ord>(h: &mut BinaryHeap<Reverse<T>>) -> Option<T> {
    h.pop().map(|Reverse(x)| x)
}

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
            Repr::Heap(l) => l.pop(BinaryHeap::len, heap_pop),
            _ => unreachable!("a priority queue keeps a heap"),
        }
    }

    fn pop_reserved(store: &Items<T>) -> Option<T> {
        match &store.0 {
            Repr::Heap(l) => l.pop_reserved(heap_pop),
            _ => unreachable!("a priority queue keeps a heap"),
        }
    }
}
