//! Property tests of the order each kind gives: any sequence of `try_put` / `try_get` on a
//! queue behaves like a plain model of it (a deque, a stack, a min-heap), including when it is
//! full or empty; puts that had to wait come out in the order they were made; and items handed
//! to getters that are dropped before taking them keep their place.

mod common;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use common::poll_noop;
use proptest::prelude::*;
use tulip_queue::{Kind, Queue, TryGetError, TryPutError};

#[derive(Clone, Debug)]
enum Op {
    Put(u8),
    Get,
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![any::<u8>().prop_map(Op::Put), Just(Op::Get)],
        0..200,
    )
}

/// What the queue should do: an unbounded container of each kind plus the capacity check.
trait Model {
    fn push(&mut self, x: u8);
    fn pop(&mut self) -> Option<u8>;
    fn len(&self) -> usize;
}

impl Model for VecDeque<u8> {
    fn push(&mut self, x: u8) {
        self.push_back(x);
    }
    fn pop(&mut self) -> Option<u8> {
        self.pop_front()
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
}

impl Model for Vec<u8> {
    fn push(&mut self, x: u8) {
        Vec::push(self, x);
    }
    fn pop(&mut self) -> Option<u8> {
        Vec::pop(self)
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

impl Model for BinaryHeap<Reverse<u8>> {
    fn push(&mut self, x: u8) {
        BinaryHeap::push(self, Reverse(x));
    }
    fn pop(&mut self) -> Option<u8> {
        BinaryHeap::pop(self).map(|Reverse(x)| x)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
}

fn check_against<K: Kind<u8>>(q: Queue<u8, K>, mut model: impl Model, ops: &[Op]) {
    let cap = q.capacity();
    for op in ops {
        match *op {
            Op::Put(x) => {
                let expected = if model.len() < cap {
                    Ok(())
                } else {
                    Err(TryPutError::Full(x))
                };
                if expected.is_ok() {
                    model.push(x);
                }
                assert_eq!(q.try_put(x), expected);
            }
            Op::Get => {
                assert_eq!(q.try_get(), model.pop().ok_or(TryGetError::Empty));
            }
        }
        assert_eq!(q.len(), model.len());
        assert_eq!(q.is_full(), model.len() == cap);
    }
}

/// Puts `xs` with `put` futures polled once each in order (those that find the queue full wait
/// in line), then takes everything: returns the order items came out.
fn put_with_waiting<K: Kind<u8>>(q: &Queue<u8, K>, xs: &[u8]) -> Vec<u8> {
    let mut puts: Vec<_> = xs.iter().map(|&x| q.put(x)).collect();
    for put in puts.iter_mut() {
        let _ = poll_noop(put);
    }
    let mut out = Vec::new();
    while let Ok(x) = q.try_get() {
        out.push(x);
    }
    out
}

/// What to do to a queue with getters in line.
#[derive(Clone, Debug)]
enum GetterOp {
    /// Put the next number, if there is room.
    Put,
    /// A new `get` waits in line (or is handed an item at once).
    Wait,
    /// Drop the `i`-th live getter (modulo how many there are).
    Drop(usize),
}

fn getter_ops() -> impl Strategy<Value = Vec<GetterOp>> {
    prop::collection::vec(
        prop_oneof![
            Just(GetterOp::Put),
            Just(GetterOp::Wait),
            any::<usize>().prop_map(GetterOp::Drop),
        ],
        0..100,
    )
}

/// Puts 1, 2, 3, ... while getters wait in line (when the store is empty) and are dropped
/// (never taking their item), in the order `ops` says, then drops the rest and takes every
/// item: with nothing taken by a getter, the items must come out as if no getter had ever been
/// there.
fn given_back<K: Kind<u32>>(q: Queue<u32, K>, ops: &[GetterOp]) -> Vec<u32> {
    let mut getters = Vec::new();
    let mut next = 1;
    for op in ops {
        match *op {
            GetterOp::Put => {
                if q.try_put(next).is_ok() {
                    next += 1;
                }
            }
            GetterOp::Wait => {
                // Only when the getter would wait: every item is handed to a live getter (those
                // not waiting in line), none is in the store.
                let handed = getters.len() - q.getters_waiting();
                if q.len() == handed {
                    let mut get = q.get();
                    assert!(poll_noop(&mut get).is_pending());
                    getters.push(get);
                }
            }
            GetterOp::Drop(i) => {
                if !getters.is_empty() {
                    let i = i % getters.len();
                    drop(getters.remove(i));
                }
            }
        }
    }
    drop(getters);
    assert_eq!(q.len(), next as usize - 1);
    std::iter::from_fn(|| q.try_get().ok()).collect()
}

proptest! {
    #[test]
    fn fifo_gives_back_items_in_put_order(cap in 1usize..8, ops in getter_ops()) {
        let out = given_back(Queue::bounded(cap), &ops);
        prop_assert_eq!(out.clone(), (1..=out.len() as u32).collect::<Vec<_>>());
    }

    #[test]
    fn lifo_gives_back_items_in_reverse_put_order(cap in 1usize..8, ops in getter_ops()) {
        let out = given_back(Queue::lifo(cap), &ops);
        prop_assert_eq!(out.clone(), (1..=out.len() as u32).rev().collect::<Vec<_>>());
    }

    #[test]
    fn fifo_is_a_deque(cap in 1usize..8, ops in ops()) {
        check_against(Queue::bounded(cap), VecDeque::new(), &ops);
    }

    #[test]
    fn lifo_is_a_stack(cap in 1usize..8, ops in ops()) {
        check_against(Queue::lifo(cap), Vec::new(), &ops);
    }

    #[test]
    fn priority_is_a_min_heap(cap in 1usize..8, ops in ops()) {
        check_against(Queue::priority(cap), BinaryHeap::new(), &ops);
    }

    #[test]
    fn fifo_keeps_put_order_across_waiting(cap in 1usize..8, xs in prop::collection::vec(any::<u8>(), 0..50)) {
        let q = Queue::bounded(cap);
        prop_assert_eq!(put_with_waiting(&q, &xs), xs);
    }

    #[test]
    fn priority_admits_waiting_putters_in_order(cap in 1usize..8, xs in prop::collection::vec(any::<u8>(), 0..50)) {
        // The first `cap` items fill the heap; each item taken lets the next waiting putter's
        // item in, in the order the putters arrived.
        let mut heap = BinaryHeap::new();
        let mut waiting = xs.iter().copied();
        heap.extend(waiting.by_ref().take(cap).map(Reverse));
        let mut expected = Vec::new();
        while let Some(Reverse(x)) = heap.pop() {
            expected.push(x);
            heap.extend(waiting.next().map(Reverse));
        }
        prop_assert_eq!(put_with_waiting(&Queue::priority(cap), &xs), expected);
    }

    #[test]
    fn lifo_admits_waiting_putters_in_order(cap in 1usize..8, xs in prop::collection::vec(any::<u8>(), 0..50)) {
        let mut stack = Vec::new();
        let mut waiting = xs.iter().copied();
        stack.extend(waiting.by_ref().take(cap));
        let mut expected = Vec::new();
        while let Some(x) = stack.pop() {
            expected.push(x);
            stack.extend(waiting.next());
        }
        prop_assert_eq!(put_with_waiting(&Queue::lifo(cap), &xs), expected);
    }
}
