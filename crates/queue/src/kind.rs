//! The order a queue hands items out in: [`Fifo`] (the default), [`Lifo`] and [`Priority`]
//! (lowest first), like asyncio's `Queue`, `LifoQueue` and `PriorityQueue`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// The order of a [`Queue`](crate::Queue): [`Fifo`], [`Lifo`] or [`Priority`].
///
/// The trait is sealed: the queue does all the counting, waiting and shutting down, and its
/// guarantees rest on how these three store their items, so no other order can be added.
pub trait Kind<T>: sealed::Order<T> {}

pub(crate) mod sealed {
    /// How a kind stores its items and which one comes out next.
    pub trait Order<T> {
        /// The container of the items in the queue.
        type Store;

        /// The kind's name, for `Debug`.
        const NAME: &'static str;

        /// An empty store for a queue of capacity `cap` (it may reserve less).
        fn with_capacity(cap: usize) -> Self::Store;

        /// Adds an item.
        fn push(store: &mut Self::Store, item: T);

        /// Removes the item that comes out next.
        fn pop(store: &mut Self::Store) -> Option<T>;

        /// How many items the store holds.
        fn len(store: &Self::Store) -> usize;
    }
}

/// Preallocating a huge capacity would waste memory on queues that never fill up.
fn initial(cap: usize) -> usize {
    cap.min(1024)
}

/// First in, first out (asyncio's `Queue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fifo;

impl<T> Kind<T> for Fifo {}

impl<T> sealed::Order<T> for Fifo {
    type Store = VecDeque<T>;
    const NAME: &'static str = "Fifo";

    fn with_capacity(cap: usize) -> Self::Store {
        VecDeque::with_capacity(initial(cap))
    }

    fn push(store: &mut Self::Store, item: T) {
        store.push_back(item);
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        store.pop_front()
    }

    fn len(store: &Self::Store) -> usize {
        store.len()
    }
}

/// Last in, first out (asyncio's `LifoQueue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifo;

impl<T> Kind<T> for Lifo {}

impl<T> sealed::Order<T> for Lifo {
    type Store = VecDeque<T>;
    const NAME: &'static str = "Lifo";

    fn with_capacity(cap: usize) -> Self::Store {
        VecDeque::with_capacity(initial(cap))
    }

    fn push(store: &mut Self::Store, item: T) {
        store.push_back(item);
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        store.pop_back()
    }

    fn len(store: &Self::Store) -> usize {
        store.len()
    }
}

/// Lowest first by `Ord` (asyncio's `PriorityQueue`). Among equal items the order is unspecified;
/// put `(priority, sequence number, item)` tuples to make it first-in, first-out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Priority;

impl<T: Ord> Kind<T> for Priority {}

impl<T: Ord> sealed::Order<T> for Priority {
    // `BinaryHeap` is a max-heap; `Reverse` makes the lowest item its top.
    type Store = BinaryHeap<Reverse<T>>;
    const NAME: &'static str = "Priority";

    fn with_capacity(cap: usize) -> Self::Store {
        BinaryHeap::with_capacity(initial(cap))
    }

    fn push(store: &mut Self::Store, item: T) {
        store.push(Reverse(item));
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        store.pop().map(|Reverse(item)| item)
    }

    fn len(store: &Self::Store) -> usize {
        store.len()
    }
}
