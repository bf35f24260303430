//! The order a queue hands items out in: [`Fifo`] (the default), [`Lifo`] and [`Priority`]
//! (lowest first), each a storage behind the [`Kind`] trait, like asyncio's `Queue`,
//! `LifoQueue` and `PriorityQueue`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

/// How a queue stores its items and which one comes out next.
///
/// The queue does all the counting, waiting and shutting down; a kind only orders the items.
/// The three kinds here cover asyncio's queues; a new order is a new implementation.
pub trait Kind<T> {
    /// The container of the items waiting in the queue.
    type Store;

    /// An empty store for a queue of capacity `cap` (it may reserve less).
    fn with_capacity(cap: usize) -> Self::Store;

    /// Adds an item.
    fn push(store: &mut Self::Store, item: T);

    /// Removes the item that comes out next.
    fn pop(store: &mut Self::Store) -> Option<T>;

    /// Takes back an item that was handed to a getter which was dropped before it took it.
    /// The item was put while the store was empty, so it is older than every stored item:
    /// store it where its age puts it.
    fn push_returned(store: &mut Self::Store, item: T);

    /// How many items the store holds.
    fn len(store: &Self::Store) -> usize;
}

/// Preallocating a huge capacity would waste memory on queues that never fill up.
fn initial(cap: usize) -> usize {
    cap.min(1024)
}

/// First in, first out (asyncio's `Queue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fifo;

impl<T> Kind<T> for Fifo {
    type Store = VecDeque<T>;

    fn with_capacity(cap: usize) -> Self::Store {
        VecDeque::with_capacity(initial(cap))
    }

    fn push(store: &mut Self::Store, item: T) {
        store.push_back(item);
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        store.pop_front()
    }

    fn push_returned(store: &mut Self::Store, item: T) {
        store.push_front(item);
    }

    fn len(store: &Self::Store) -> usize {
        store.len()
    }
}

/// Last in, first out (asyncio's `LifoQueue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifo;

impl<T> Kind<T> for Lifo {
    type Store = Vec<T>;

    fn with_capacity(cap: usize) -> Self::Store {
        Vec::with_capacity(initial(cap))
    }

    fn push(store: &mut Self::Store, item: T) {
        store.push(item);
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        store.pop()
    }

    fn push_returned(store: &mut Self::Store, item: T) {
        // The oldest item comes out last.
        store.insert(0, item);
    }

    fn len(store: &Self::Store) -> usize {
        store.len()
    }
}

/// Lowest first by `Ord` (asyncio's `PriorityQueue`). Among equal items the order is unspecified;
/// put `(priority, sequence number, item)` tuples to make it first-in, first-out.
#[derive(Clone, Copy, Debug, Default)]
pub struct Priority;

impl<T: Ord> Kind<T> for Priority {
    // `BinaryHeap` is a max-heap; `Reverse` makes the lowest item its top.
    type Store = BinaryHeap<Reverse<T>>;

    fn with_capacity(cap: usize) -> Self::Store {
        BinaryHeap::with_capacity(initial(cap))
    }

    fn push(store: &mut Self::Store, item: T) {
        store.push(Reverse(item));
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        store.pop().map(|Reverse(item)| item)
    }

    fn push_returned(store: &mut Self::Store, item: T) {
        store.push(Reverse(item));
    }

    fn len(store: &Self::Store) -> usize {
        store.len()
    }
}
