//! The lists of tasks waiting on a queue, in arrival order. Each waiter owns a slot (found again
//! by its key, without searching) that holds what the queue promised it: for a getter the item
//! handed to it, for a putter the item it waits to put. Slots are reused, so waiting allocates
//! only while the lists grow to their largest size.

use std::collections::VecDeque;
use std::task::Waker;

/// One waiter's slot: its waker and its state (`None` while the slot is free).
struct Slot<S> {
    waker: Option<Waker>,
    state: Option<S>,
}

/// The waiters of one side of the queue.
pub(crate) struct WaitList<S> {
    slots: Vec<Slot<S>>,
    free: Vec<usize>,
    /// Keys of the waiters not yet served, first arrived first.
    order: VecDeque<usize>,
}

impl<S> WaitList<S> {
    pub(crate) fn new() -> Self {
        WaitList {
            slots: Vec::new(),
            free: Vec::new(),
            order: VecDeque::new(),
        }
    }

    /// Whether nobody is waiting to be served.
    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// How many wait to be served.
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Adds a waiter at the back of the line and returns its key.
    pub(crate) fn push(&mut self, state: S, waker: Waker) -> usize {
        let slot = Slot {
            waker: Some(waker),
            state: Some(state),
        };
        let key = match self.free.pop() {
            Some(key) => {
                self.slots[key] = slot;
                key
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        };
        self.order.push_back(key);
        key
    }

    /// Puts a waiter that is out of the line back at its front, in a new state.
    pub(crate) fn push_front(&mut self, key: usize, state: S, waker: Option<Waker>) {
        self.slots[key] = Slot {
            waker,
            state: Some(state),
        };
        self.order.push_front(key);
    }

    /// Takes the first waiter out of the line; its slot stays its own until it [`free`]s it.
    ///
    /// [`free`]: WaitList::free
    pub(crate) fn pop_front(&mut self) -> Option<usize> {
        self.order.pop_front()
    }

    /// Takes a waiter out of the line wherever it stands (its future was dropped).
    pub(crate) fn unlink(&mut self, key: usize) {
        if let Some(i) = self.order.iter().position(|&k| k == key) {
            self.order.remove(i);
        }
    }

    /// The state of a waiter's slot.
    pub(crate) fn state(&self, key: usize) -> &S {
        self.slots[key]
            .state
            .as_ref()
            .expect("waiter slot is in use")
    }

    /// Sets a waiter's state and takes its waker, to wake it once the lock is released.
    pub(crate) fn serve(&mut self, key: usize, state: S) -> (S, Option<Waker>) {
        let slot = &mut self.slots[key];
        let old = slot.state.replace(state).expect("waiter slot is in use");
        (old, slot.waker.take())
    }

    /// Remembers the waker of the latest poll, cloning it only when it changed.
    pub(crate) fn set_waker(&mut self, key: usize, waker: &Waker) {
        let slot = &mut self.slots[key].waker;
        match slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    /// Frees a slot that is out of the line, returning its last state.
    pub(crate) fn free(&mut self, key: usize) -> S {
        let slot = &mut self.slots[key];
        slot.waker = None;
        let state = slot.state.take().expect("waiter slot is in use");
        self.free.push(key);
        state
    }

    /// The keys of every slot in use (in line or already served).
    pub(crate) fn keys_in_use(&self) -> Vec<usize> {
        (0..self.slots.len())
            .filter(|&k| self.slots[k].state.is_some())
            .collect()
    }
}
