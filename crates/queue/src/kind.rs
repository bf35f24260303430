//! The order a queue hands items out in: [`Fifo`] (the default), [`Lifo`] and [`Priority`]
//! (lowest first), like asyncio's `Queue`, `LifoQueue` and `PriorityQueue`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Mutex, MutexGuard};

use crate::ring::Ring;

/// The order of a [`Queue`](crate::Queue): [`Fifo`], [`Lifo`] or [`Priority`].
///
/// The trait is sealed: the queue does all the counting, waiting and shutting down, and its
/// guarantees rest on how these three store their items, so no other order can be added.
pub trait Kind<T>: sealed::Order<T> {}

pub(crate) mod sealed {
    use super::Items;

    /// How a kind stores its items. The store is shared by every handle and used without the
    /// queue's lock, so it does its own synchronization; it counts the items reserved for served
    /// getters, which a newcomer's pop leaves alone, and it carries the flags that send puts and
    /// gets to the lock.
    pub trait Order<T> {
        /// The container of the items in the queue.
        type Store;

        /// The kind's name, for `Debug`.
        const NAME: &'static str;

        /// An empty store that holds at most `cap` items.
        fn with_capacity(cap: usize) -> Items<T>;
    }
}

/// What the queue's lock holder announces to the paths without it.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
pub(crate) struct Flags {
    /// Putters wait in line: a newcomer's push is `Busy`, and a pop must admit one.
    pub(crate) putters: bool,
    /// Getters wait in line: a newcomer's pop or push is `Busy` (a push serves them under the
    /// lock).
    pub(crate) getters: bool,
    /// Joiners wait: a newcomer's push is `Busy` (it goes to the lock), so that under the lock
    /// the count of items pushed is stable and `join`'s zero test exact (see `Inner::begin_join`).
    pub(crate) joiners: bool,
}

/// Getters wait in line (the ring's tail bit).
pub(crate) const GETTERS: u64 = 1 << 61;
/// Joiners wait (the ring's tail bit).
pub(crate) const JOINERS: u64 = 1 << 60;

/// What came of a push.
pub(crate) enum Pushed<T> {
    /// Stored; `getters`: getters wait in line, to be served under the lock (a newcomer's push
    /// is `Busy` then, so only pushes under the lock see it).
    Ok {
        getters: bool,
    },
    Full(T),
    Closed(T),
    /// Putters or getters wait in line, or joiners wait: a newcomer takes the lock.
    Busy(T),
}

/// What came of a newcomer's pop without the lock.
pub(crate) enum Popped<T> {
    /// Taken; `putters`: putters wait in line, to be admitted under the lock.
    Item { value: T, putters: bool },
    /// Nothing stored.
    Empty,
    /// Getters wait in line: a newcomer takes the lock.
    Busy,
}

/// The items of a queue of any kind (one type for all, so that a queue is `Send` and `Sync`
/// exactly when its items are `Send`, whatever its kind).
pub struct Items<T>(Repr<T>);

// The ring's head and tail have cache lines of their own, so it is large; the store sits once in
// the queue's `Arc`, and boxing the ring would add a pointer to follow on every `put` and `get`.
#[allow(clippy::large_enum_variant)]
enum Repr<T> {
    /// FIFO: a lock-free ring.
    Ring(Ring<T>),
    /// LIFO and priority: behind a short lock of their own.
    Deque(Locked<VecDeque<T>, T>),
    Heap(Locked<BinaryHeap<Reverse<T>>, T>),
}

/// A store behind a lock, with the functions of its order.
struct Locked<S, T> {
    inner: Mutex<LockedItems<S>>,
    /// Items ever pushed: raised under the lock, read without it.
    pushed: AtomicU64,
    cap: usize,
    len: fn(&S) -> usize,
    add: fn(&mut S, T),
    take: fn(&mut S) -> Option<T>,
}

struct LockedItems<S> {
    items: S,
    closed: bool,
    reserved: usize,
    flags: Flags,
    popped: u64,
}

/// Preallocating a huge capacity would waste memory on queues that never fill up.
fn initial(cap: usize) -> usize {
    cap.min(1024)
}

impl<S, T> Locked<S, T> {
    fn lock(&self) -> MutexGuard<'_, LockedItems<S>> {
        // Only an item's `Ord` runs under it, and a panic there leaves the heap consistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, item: T, newcomer: bool) -> Pushed<T> {
        let mut g = self.lock();
        if g.closed {
            Pushed::Closed(item)
        } else if newcomer && (g.flags.putters || g.flags.getters || g.flags.joiners) {
            Pushed::Busy(item)
        } else if (self.len)(&g.items) >= self.cap {
            Pushed::Full(item)
        } else {
            // Counted first: if the item's `Ord` panics, the heap still keeps it.
            self.pushed.fetch_add(1, SeqCst);
            let getters = g.flags.getters;
            (self.add)(&mut g.items, item);
            Pushed::Ok { getters }
        }
    }

    fn pop(&self) -> Popped<T> {
        let mut g = self.lock();
        if g.flags.getters {
            return Popped::Busy;
        }
        match self.pop_spare_locked(&mut g) {
            Some(value) => Popped::Item {
                value,
                putters: g.flags.putters,
            },
            None => Popped::Empty,
        }
    }

    fn pop_spare_locked(&self, g: &mut LockedItems<S>) -> Option<T> {
        if (self.len)(&g.items) > g.reserved {
            let item = (self.take)(&mut g.items);
            g.popped += item.is_some() as u64;
            item
        } else {
            None
        }
    }

    fn pop_reserved(&self) -> Option<T> {
        let mut g = self.lock();
        g.reserved -= 1;
        let item = (self.take)(&mut g.items);
        g.popped += item.is_some() as u64;
        item
    }

    fn reserve_up_to(&self, n: usize) -> usize {
        let mut g = self.lock();
        let k = (self.len)(&g.items).saturating_sub(g.reserved).min(n);
        g.reserved += k;
        k
    }
}

impl<T> Items<T> {
    /// Adds an item. A `newcomer` (a put without the queue's lock) gives up if putters wait.
    #[inline(always)]
    pub(crate) fn push(&self, item: T, newcomer: bool) -> Pushed<T> {
        match &self.0 {
            Repr::Ring(r) => r.push(item, newcomer),
            Repr::Deque(l) => l.push(item, newcomer),
            Repr::Heap(l) => l.push(item, newcomer),
        }
    }

    /// A newcomer's pop without the queue's lock.
    #[inline]
    pub(crate) fn pop(&self) -> Popped<T> {
        match &self.0 {
            Repr::Ring(r) => r.pop(),
            Repr::Deque(l) => l.pop(),
            Repr::Heap(l) => l.pop(),
        }
    }

    /// Under the queue's lock: the item that comes out next, if more are stored than reserved.
    pub(crate) fn pop_spare(&self) -> Option<T> {
        match &self.0 {
            Repr::Ring(r) => r.pop_spare(),
            Repr::Deque(l) => l.pop_spare_locked(&mut l.lock()),
            Repr::Heap(l) => l.pop_spare_locked(&mut l.lock()),
        }
    }

    /// Under the queue's lock, for a served getter: the item that comes out next, using up a
    /// reservation.
    pub(crate) fn pop_reserved(&self) -> Option<T> {
        match &self.0 {
            Repr::Ring(r) => Some(r.pop_reserved()),
            Repr::Deque(l) => l.pop_reserved(),
            Repr::Heap(l) => l.pop_reserved(),
        }
    }

    /// Under the queue's lock, with getters in line (announced): reserves items for up to `n`
    /// served getters, as many as are stored beyond the reserved ones; returns how many.
    pub(crate) fn reserve_up_to(&self, n: usize) -> usize {
        match &self.0 {
            Repr::Ring(r) => r.reserve_up_to(n),
            Repr::Deque(l) => l.reserve_up_to(n),
            Repr::Heap(l) => l.reserve_up_to(n),
        }
    }

    /// How many items are stored beyond the reserved ones (for a debug check under the lock).
    pub(crate) fn spare(&self) -> usize {
        match &self.0 {
            Repr::Ring(r) => r.spare(),
            Repr::Deque(l) => {
                let g = l.lock();
                g.items.len() - g.reserved
            }
            Repr::Heap(l) => {
                let g = l.lock();
                g.items.len() - g.reserved
            }
        }
    }

    /// Under the queue's lock: gives a reservation up (its getter was dropped); the item stays.
    pub(crate) fn unreserve(&self) {
        match &self.0 {
            Repr::Ring(r) => r.unreserve(),
            Repr::Deque(l) => l.lock().reserved -= 1,
            Repr::Heap(l) => l.lock().reserved -= 1,
        }
    }

    /// Under the queue's lock: gives every reservation up.
    pub(crate) fn clear_reserved(&self) {
        match &self.0 {
            Repr::Ring(r) => r.clear_reserved(),
            Repr::Deque(l) => l.lock().reserved = 0,
            Repr::Heap(l) => l.lock().reserved = 0,
        }
    }

    /// Under the queue's lock, with putters in line: whether a push would surely find no room
    /// (FIFO only; the locked kinds say `false` and let the push tell).
    #[inline]
    pub(crate) fn surely_full(&self) -> bool {
        match &self.0 {
            Repr::Ring(r) => r.full(),
            Repr::Deque(_) | Repr::Heap(_) => false,
        }
    }

    /// Under the queue's lock: announces who waits.
    pub(crate) fn set_flags(&self, f: Flags) {
        match &self.0 {
            Repr::Ring(r) => r.set_flags(f),
            Repr::Deque(l) => l.lock().flags = f,
            Repr::Heap(l) => l.lock().flags = f,
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

    /// How many items are stored (counting those being pushed).
    pub(crate) fn len(&self) -> usize {
        match &self.0 {
            Repr::Ring(r) => r.len(),
            Repr::Deque(l) => l.lock().items.len(),
            Repr::Heap(l) => l.lock().items.len(),
        }
    }

    /// Items ever pushed (counting a push under way).
    pub(crate) fn pushed(&self) -> u64 {
        match &self.0 {
            Repr::Ring(r) => r.pushed(),
            Repr::Deque(l) => l.pushed.load(SeqCst),
            Repr::Heap(l) => l.pushed.load(SeqCst),
        }
    }

    /// Items ever popped.
    pub(crate) fn popped(&self) -> u64 {
        match &self.0 {
            Repr::Ring(r) => r.popped(),
            Repr::Deque(l) => l.lock().popped,
            Repr::Heap(l) => l.lock().popped,
        }
    }
}

impl<T> fmt::Debug for Items<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Items").field("len", &self.len()).finish()
    }
}

fn locked<S, T>(
    items: S,
    cap: usize,
    len: fn(&S) -> usize,
    add: fn(&mut S, T),
    take: fn(&mut S) -> Option<T>,
) -> Locked<S, T> {
    Locked {
        inner: Mutex::new(LockedItems {
            items,
            closed: false,
            reserved: 0,
            flags: Flags::default(),
            popped: 0,
        }),
        pushed: AtomicU64::new(0),
        cap,
        len,
        add,
        take,
    }
}

/// First in, first out (asyncio's `Queue`). Its items are kept in a lock-free ring, allocated
/// for the whole capacity up front (at most 2^22 - 1).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fifo;

impl<T> Kind<T> for Fifo {}

impl<T> sealed::Order<T> for Fifo {
    type Store = Items<T>;
    const NAME: &'static str = "Fifo";

    fn with_capacity(cap: usize) -> Items<T> {
        Items(Repr::Ring(Ring::new(cap)))
    }
}

/// Last in, first out (asyncio's `LifoQueue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifo;

impl<T> Kind<T> for Lifo {}

impl<T> sealed::Order<T> for Lifo {
    type Store = Items<T>;
    const NAME: &'static str = "Lifo";

    fn with_capacity(cap: usize) -> Items<T> {
        Items(Repr::Deque(locked(
            VecDeque::with_capacity(initial(cap)),
            cap,
            VecDeque::len,
            VecDeque::push_back,
            VecDeque::pop_back,
        )))
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

    fn with_capacity(cap: usize) -> Items<T> {
        // `BinaryHeap` is a max-heap; `Reverse` makes the lowest item its top.
        Items(Repr::Heap(locked(
            BinaryHeap::with_capacity(initial(cap)),
            cap,
            BinaryHeap::len,
            |h, x| h.push(Reverse(x)),
            |h| h.pop().map(|Reverse(x)| x),
        )))
    }
}
