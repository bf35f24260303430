//! The order a queue hands items out in: [`Fifo`] (the default), [`Lifo`] and [`Priority`]
//! (lowest first), each a storage behind the [`Kind`] trait, like asyncio's `Queue`,
//! `LifoQueue` and `PriorityQueue`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;

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
    ///
    /// The item was put while the store was empty, so it is older than every item put into the
    /// store since; among items given back, a smaller `age` was handed out (and so put) earlier.
    /// Store it where its age puts it.
    fn push_returned(store: &mut Self::Store, item: T, age: u64);

    /// How many items the store holds.
    fn len(store: &Self::Store) -> usize;
}

/// Preallocating a huge capacity would waste memory on queues that never fill up.
fn initial(cap: usize) -> usize {
    cap.min(1024)
}

/// The store of [`Fifo`] and [`Lifo`]: the items in the order they were put, oldest at the
/// front.
///
/// Items given back by dropped getters are older than every other item, so they sit at the
/// front, in the order of their ages (which this store remembers while they are there).
pub struct Deque<T> {
    items: VecDeque<T>,
    /// The ages of the given-back items, which are `items[..returned.len()]`, oldest first.
    returned: VecDeque<u64>,
}

impl<T> Deque<T> {
    fn with_capacity(cap: usize) -> Self {
        Deque {
            items: VecDeque::with_capacity(initial(cap)),
            returned: VecDeque::new(),
        }
    }

    fn push_returned(&mut self, item: T, age: u64) {
        let at = self.returned.partition_point(|&a| a < age);
        self.returned.insert(at, age);
        self.items.insert(at, item);
    }
}

impl<T> fmt::Debug for Deque<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Deque")
            .field("len", &self.items.len())
            .field("returned", &self.returned.len())
            .finish()
    }
}

/// First in, first out (asyncio's `Queue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Fifo;

impl<T> Kind<T> for Fifo {
    type Store = Deque<T>;

    fn with_capacity(cap: usize) -> Self::Store {
        Deque::with_capacity(cap)
    }

    fn push(store: &mut Self::Store, item: T) {
        store.items.push_back(item);
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        let item = store.items.pop_front();
        // The front item was a given-back one if any is left.
        store.returned.pop_front();
        item
    }

    fn push_returned(store: &mut Self::Store, item: T, age: u64) {
        store.push_returned(item, age);
    }

    fn len(store: &Self::Store) -> usize {
        store.items.len()
    }
}

/// Last in, first out (asyncio's `LifoQueue`).
#[derive(Clone, Copy, Debug, Default)]
pub struct Lifo;

impl<T> Kind<T> for Lifo {
    type Store = Deque<T>;

    fn with_capacity(cap: usize) -> Self::Store {
        Deque::with_capacity(cap)
    }

    fn push(store: &mut Self::Store, item: T) {
        store.items.push_back(item);
    }

    fn pop(store: &mut Self::Store) -> Option<T> {
        // The back item is a given-back one only once nothing else is left.
        if store.items.len() == store.returned.len() {
            store.returned.pop_back();
        }
        store.items.pop_back()
    }

    fn push_returned(store: &mut Self::Store, item: T, age: u64) {
        store.push_returned(item, age);
    }

    fn len(store: &Self::Store) -> usize {
        store.items.len()
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

    fn push_returned(store: &mut Self::Store, item: T, _age: u64) {
        store.push(Reverse(item));
    }

    fn len(store: &Self::Store) -> usize {
        store.len()
    }
}
