//! A bounded lock-free ring for the FIFO kind that keeps the count of items reserved for served
//! getters in the same word as its head, so that a newcomer's pop checks the reservations with
//! the one compare-and-swap that moves the head. (A ring from a crate, such as concurrent-queue,
//! cannot: the check then costs a second shared word, which made the queue slower than
//! async-channel on two threads.)
//!
//! The slot protocol is Vyukov's bounded queue, as in concurrent-queue: a position is
//! `lap * one_lap + index`, and a slot's stamp says which position may use it next, so that
//! one pusher or popper at a time owns a slot. That ownership is what makes the `unsafe` reads
//! and writes of slot values sound; a mutex per slot instead (never contended, but two locked
//! instructions per access) kept the queue below async-channel on two threads.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::hint;
use std::mem::MaybeUninit;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};
use std::sync::atomic::{AtomicU64, fence};

use concurrent_queue::PushError;

/// Positions take the low 40 bits of `head` and `tail` (they wrap, at a whole lap).
const POS_BITS: u32 = 40;
const POS_MASK: u64 = (1 << POS_BITS) - 1;
/// In `tail`: the ring is closed.
const CLOSED: u64 = 1 << 63;
/// In `head`: one reservation (the high 24 bits count them).
const ONE_RESERVED: u64 = 1 << POS_BITS;

/// A cache line of its own.
#[repr(align(64))]
struct Line<T>(T);

struct Slot<T> {
    stamp: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T> {
    /// The position of the next pop, and the reservations above it.
    head: Line<AtomicU64>,
    /// The position of the next push, and `CLOSED`.
    tail: Line<AtomicU64>,
    slots: Box<[Slot<T>]>,
    cap: u64,
    one_lap: u64,
}

impl<T> Ring<T> {
    /// # Panics
    ///
    /// If `cap` is 2^23 or more (its reservations would not fit beside the head).
    pub(crate) fn new(cap: usize) -> Self {
        assert!(cap < 1 << 23, "a FIFO queue holds fewer than 2^23 items");
        let one_lap = (cap as u64 + 1).next_power_of_two();
        Ring {
            head: Line(AtomicU64::new(0)),
            tail: Line(AtomicU64::new(0)),
            slots: (0..cap as u64)
                .map(|i| Slot {
                    stamp: AtomicU64::new(i),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
            cap: cap as u64,
            one_lap,
        }
    }

    fn slot(&self, pos: u64) -> &Slot<T> {
        &self.slots[(pos & (self.one_lap - 1)) as usize]
    }

    /// The position `n` places after `pos` (`n` at most the capacity).
    fn advance(&self, pos: u64, n: u64) -> u64 {
        let index = pos & (self.one_lap - 1);
        let lap = pos & !(self.one_lap - 1);
        if index + n < self.cap {
            pos + n
        } else {
            (lap + self.one_lap + index + n - self.cap) & POS_MASK
        }
    }

    pub(crate) fn push(&self, value: T) -> Result<(), PushError<T>> {
        let mut tail = self.tail.0.load(Relaxed);
        loop {
            if tail & CLOSED != 0 {
                return Err(PushError::Closed(value));
            }
            let slot = self.slot(tail);
            let stamp = slot.stamp.load(Acquire);
            if stamp == tail {
                let next = self.advance(tail, 1);
                match self
                    .tail
                    .0
                    .compare_exchange_weak(tail, next, SeqCst, Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: the tail CAS made this push the owner of position `tail`, and
                        // its stamp (`tail`) says the value of the lap before was taken: no one
                        // reads or writes the slot until the stamp below hands it to a pop.
                        unsafe { (*slot.value.get()).write(value) };
                        slot.stamp.store(tail + 1, Release);
                        return Ok(());
                    }
                    Err(t) => tail = t,
                }
            } else if (stamp + self.one_lap) & POS_MASK == tail + 1 {
                // The slot still holds the item of the lap before: full, unless a pop is
                // under way.
                fence(SeqCst);
                let head = self.head.0.load(Relaxed) & POS_MASK;
                if (head + self.one_lap) & POS_MASK == tail {
                    return Err(PushError::Full(value));
                }
                hint::spin_loop();
                tail = self.tail.0.load(Relaxed);
            } else {
                hint::spin_loop();
                tail = self.tail.0.load(Relaxed);
            }
        }
    }

    /// Takes the value at `pos`, whose pop this caller owns, once its push has landed.
    fn take_at(&self, pos: u64) -> T {
        let slot = self.slot(pos);
        while slot.stamp.load(Acquire) != pos + 1 {
            hint::spin_loop();
        }
        // SAFETY: the head CAS made this pop the owner of position `pos`, and the stamp
        // (`pos + 1`, read with `Acquire`) says its push wrote the value: no one else touches
        // the slot until the stamp below hands it to the push of the next lap.
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        slot.stamp.store((pos + self.one_lap) & POS_MASK, Release);
        value
    }

    /// Whether the item at `pos` (at or after the head) is stored; waits out a push that claimed
    /// it. False if no push has claimed it, or if the head has moved past it meanwhile.
    fn stored(&self, pos: u64) -> bool {
        let slot = self.slot(pos);
        loop {
            let stamp = slot.stamp.load(Acquire);
            if stamp == pos + 1 {
                return true;
            }
            // Pairs with the fence of a pusher looking for getters in line: it finds them, or
            // this finds its claim.
            fence(SeqCst);
            if self.tail.0.load(Relaxed) & POS_MASK == pos || stamp != pos {
                return false;
            }
            // Claimed by a push that has not written it yet.
            hint::spin_loop();
        }
    }

    /// A newcomer's pop: the head item, if more items are stored than are reserved.
    pub(crate) fn pop(&self) -> Option<T> {
        let mut h = self.head.0.load(SeqCst);
        loop {
            let head = h & POS_MASK;
            let reserved = h >> POS_BITS;
            if reserved >= self.cap || !self.stored(self.advance(head, reserved)) {
                // Nothing beyond the reservations; unless the head moved meanwhile.
                let now = self.head.0.load(SeqCst);
                if now == h {
                    return None;
                }
                h = now;
                continue;
            }
            let next = self.advance(head, 1) | (h & !POS_MASK);
            match self.head.0.compare_exchange_weak(h, next, SeqCst, Relaxed) {
                Ok(_) => return Some(self.take_at(head)),
                Err(now) => h = now,
            }
        }
    }

    /// A served getter's pop: the head item, using up one reservation.
    pub(crate) fn pop_reserved(&self) -> T {
        let mut h = self.head.0.load(SeqCst);
        loop {
            debug_assert!(h >> POS_BITS > 0, "a reservation to use");
            let head = h & POS_MASK;
            let next = self.advance(head, 1) | ((h & !POS_MASK) - ONE_RESERVED);
            match self.head.0.compare_exchange_weak(h, next, SeqCst, Relaxed) {
                Ok(_) => return self.take_at(head),
                Err(now) => h = now,
            }
        }
    }

    /// Reserves the first item beyond the reservations, if it is stored.
    pub(crate) fn reserve(&self) -> bool {
        let mut h = self.head.0.load(SeqCst);
        loop {
            let reserved = h >> POS_BITS;
            if reserved >= self.cap || !self.stored(self.advance(h & POS_MASK, reserved)) {
                let now = self.head.0.load(SeqCst);
                if now == h {
                    return false;
                }
                h = now;
                continue;
            }
            match self
                .head
                .0
                .compare_exchange_weak(h, h + ONE_RESERVED, SeqCst, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => h = now,
            }
        }
    }

    /// Gives one reservation up (its getter was dropped); the item stays.
    pub(crate) fn unreserve(&self) {
        self.head.0.fetch_sub(ONE_RESERVED, SeqCst);
    }

    /// Gives every reservation up.
    pub(crate) fn clear_reserved(&self) {
        self.head.0.fetch_and(POS_MASK, SeqCst);
    }

    /// How many items are stored (counting those being pushed).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.load(SeqCst);
            let head = self.head.0.load(SeqCst);
            if self.tail.0.load(SeqCst) == tail {
                let (tail, head) = (tail & POS_MASK, head & POS_MASK);
                let hix = head & (self.one_lap - 1);
                let tix = tail & (self.one_lap - 1);
                return if hix < tix {
                    (tix - hix) as usize
                } else if hix > tix {
                    (self.cap - hix + tix) as usize
                } else if tail == head {
                    0
                } else {
                    self.cap as usize
                };
            }
        }
    }

    /// Makes later pushes fail; a push that claimed its place before still lands.
    pub(crate) fn close(&self) {
        self.tail.0.fetch_or(CLOSED, SeqCst);
    }
}

// SAFETY: values move between threads through the ring (hence `T: Send`), and every access to a
// slot's value is owned by one thread at a time through the stamps, as argued at each access.
unsafe impl<T: Send> Sync for Ring<T> {}

impl<T> Drop for Ring<T> {
    fn drop(&mut self) {
        // With `&mut self` no push or pop is under way: the positions from head to tail hold
        // written values.
        let tail = *self.tail.0.get_mut() & POS_MASK;
        let mut pos = *self.head.0.get_mut() & POS_MASK;
        while pos != tail {
            let slot = &mut self.slots[(pos & (self.one_lap - 1)) as usize];
            // SAFETY: the value at a position between head and tail was written and not taken.
            unsafe { slot.value.get_mut().assume_init_drop() };
            pos = self.advance(pos, 1);
        }
    }
}
