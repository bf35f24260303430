//! The FIFO kind's store: a bounded lock-free ring (Vyukov's slots, as in concurrent-queue and so
//! async-channel) whose head and tail words also carry what the queue needs on its paths without
//! the lock, so that a `put` touches the tail word and one slot, and a `get` the head word and
//! one slot, as async-channel's do, and nothing else:
//!
//! - in the tail word: the ring is closed; putters wait in line (a newcomer's push goes to the
//!   lock instead); getters wait in line (likewise: the push and the serving of a getter are one
//!   locked step); joiners wait (likewise, so that the count of items pushed is stable under the
//!   lock while a `join` waits);
//! - in the head word: getters wait in line (a newcomer's pop goes to the lock instead); putters
//!   wait in line (a pop must take the lock afterwards to admit one); and the count of items
//!   reserved for served getters, which a newcomer's pop leaves alone: it takes the head item
//!   only if the one `reserved` places after it is stored.
//!
//! Flags and reservations are written only under the queue's lock. A push or pop moves its word
//! by a compare-and-swap of the whole word, so it succeeds only with the flags and reservations
//! it read: a change just before makes it fail and read again.
//!
//! A position is `lap * one_lap + index` (no division), in 40 bits that wrap; a slot's stamp
//! says which position may use it next, so that one pusher or popper at a time owns a slot.
//! That ownership is what makes the `unsafe` reads and writes of slot values sound. The items
//! ever pushed and popped (what `task_done` and `join` count) are the positions unwrapped: each
//! word has a counter of the half-periods it crossed, bumped by the push or pop that crossed.
#![allow(unsafe_code)]

use std::cell::UnsafeCell;
use std::hint;
use std::mem::MaybeUninit;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use crate::kind::{Flags, Popped, Pushed};

/// A wait for another thread's push or pop that is under way: a few spins, then the CPU is
/// yielded, so that a thread descheduled in the middle of its operation (more threads than
/// cores) gets to finish it instead of being spun against for a whole time slice.
struct Backoff(u32);

impl Backoff {
    /// Spins 1, 2, 4, ... 64 times before it starts yielding.
    const SPIN_STEPS: u32 = 6;

    #[inline]
    fn new() -> Backoff {
        Backoff(0)
    }

    #[inline]
    fn snooze(&mut self) {
        if self.0 <= Self::SPIN_STEPS {
            for _ in 0..1u32 << self.0 {
                hint::spin_loop();
            }
            self.0 += 1;
        } else {
            std::thread::yield_now();
        }
    }
}

/// Positions take the low 40 bits of `head` and `tail`.
const POS_BITS: u32 = 40;
const POS: u64 = (1 << POS_BITS) - 1;
/// Half the positions: a word's crossings of a multiple of it are counted.
const HALF: u64 = 1 << (POS_BITS - 1);
/// Tail: the ring is closed (pushes fail).
const CLOSED: u64 = 1 << 63;
/// Tail: putters wait in line; a newcomer's push is `Busy`.
const SLOW_PUT: u64 = 1 << 62;
// Tail: getters wait in line (`GETTERS`, which a push under the lock reports) and joiners wait
// (`JOINERS`): a newcomer's push is `Busy` for either.
use crate::kind::{GETTERS, JOINERS};
/// Head: getters wait in line; a newcomer's pop is `Busy`.
const SLOW_GET: u64 = 1 << 63;
/// Head: putters wait in line; a pop must take the lock after it.
const PUTTERS: u64 = 1 << 62;
/// Head: one reservation (bits 40 to 61 count them).
const ONE_RESERVED: u64 = 1 << POS_BITS;
const RESERVED: u64 = ((1 << 22) - 1) << POS_BITS;
/// The capacity's bound: every stored item may be reserved.
pub(crate) const MAX_CAP: usize = (1 << 22) - 1;

/// Two cache lines of their own (the next line is prefetched with one on x86).
#[repr(align(128))]
struct Line<T>(T);

struct Slot<T> {
    stamp: AtomicU64,
    value: UnsafeCell<MaybeUninit<T>>,
}

pub(crate) struct Ring<T> {
    /// The position of the next pop, the reservations, `SLOW_GET` and `PUTTERS`.
    head: Line<AtomicU64>,
    /// The position of the next push, `CLOSED`, `SLOW_PUT`, `GETTERS` and `JOINERS`.
    tail: Line<AtomicU64>,
    /// How many times the head and the tail crossed a multiple of `HALF` (rarely written).
    crossings: [AtomicU64; 2],
    slots: Box<[Slot<T>]>,
    cap: u64,
    /// A power of two above `cap`.
    one_lap: u64,
}

fn reserved(h: u64) -> u64 {
    (h & RESERVED) >> POS_BITS
}

impl<T> Ring<T> {
    /// # Panics
    ///
    /// If `cap` is more than [`MAX_CAP`] (its reservations would not fit beside the head).
    pub(crate) fn new(cap: usize) -> Self {
        assert!(cap <= MAX_CAP, "a FIFO queue holds at most {MAX_CAP} items");
        let cap = cap as u64;
        // Above `cap` even for 1, so that "pushed at `pos`" (`pos + 1`) and "free for the next
        // lap" (`pos + one_lap`) are different stamps.
        let one_lap = (cap + 1).next_power_of_two();
        Ring {
            head: Line(AtomicU64::new(0)),
            tail: Line(AtomicU64::new(0)),
            crossings: [AtomicU64::new(0), AtomicU64::new(0)],
            slots: (0..cap)
                .map(|i| Slot {
                    stamp: AtomicU64::new(i),
                    value: UnsafeCell::new(MaybeUninit::uninit()),
                })
                .collect(),
            cap,
            one_lap,
        }
    }

    #[inline]
    fn slot(&self, pos: u64) -> &Slot<T> {
        &self.slots[(pos & (self.one_lap - 1)) as usize]
    }

    /// The position after `pos`.
    #[inline]
    fn next(&self, pos: u64) -> u64 {
        if (pos & (self.one_lap - 1)) + 1 < self.cap {
            pos + 1
        } else {
            ((pos & !(self.one_lap - 1)) + self.one_lap) & POS
        }
    }

    /// The position `n` places after `pos` (`n` at most the capacity).
    fn advance(&self, pos: u64, n: u64) -> u64 {
        let index = pos & (self.one_lap - 1);
        let lap = pos & !(self.one_lap - 1);
        if index + n < self.cap {
            pos + n
        } else {
            (lap + self.one_lap + index + n - self.cap) & POS
        }
    }

    /// Counts a crossing of a multiple of `HALF` by the word `which` (0 head, 1 tail) moving to
    /// `pos`. Positions land on every multiple of `one_lap`, so on every multiple of `HALF`.
    #[inline]
    fn note_crossing(&self, which: usize, pos: u64) {
        if pos & (HALF - 1) == 0 {
            self.crossings[which].fetch_add(1, SeqCst);
        }
    }

    /// The items before position `pos` of word `which`, unwrapped with its crossings (read
    /// before `pos`). A crossing not counted yet shows in `pos`'s half; the counter lags at most
    /// one crossing (the next is 2^39 positions later).
    fn count(&self, crossings: u64, pos: u64) -> u64 {
        let half = pos / HALF;
        let c = if crossings % 2 == half {
            crossings
        } else {
            crossings + 1
        };
        let full = c * HALF + (pos & (HALF - 1));
        (full / self.one_lap) * self.cap + (full & (self.one_lap - 1))
    }

    /// Pushes at the tail. A `newcomer` (a push without the lock) gives up if putters or getters
    /// wait in line or joiners wait; under the lock it does not look. (The compare-and-swap
    /// validates the flags it read: once the lock holder set one, no newcomer's push lands.)
    #[inline(always)]
    pub(crate) fn push(&self, value: T, newcomer: bool) -> Pushed<T> {
        let mut t = self.tail.0.load(Relaxed);
        let mut backoff = Backoff::new();
        loop {
            if t & CLOSED != 0 {
                return Pushed::Closed(value);
            }
            if newcomer && t & (SLOW_PUT | GETTERS | JOINERS) != 0 {
                return Pushed::Busy(value);
            }
            let pos = t & POS;
            let slot = self.slot(pos);
            let stamp = slot.stamp.load(Acquire);
            if stamp == pos {
                let next = self.next(pos);
                match self
                    .tail
                    .0
                    .compare_exchange_weak(t, (t & !POS) | next, SeqCst, Relaxed)
                {
                    Ok(_) => {
                        // SAFETY: the tail CAS made this push the owner of position `pos`, and
                        // its stamp (`pos`) says the value of the lap before was taken: no one
                        // reads or writes the slot until the stamp below hands it to a pop.
                        unsafe { (*slot.value.get()).write(value) };
                        slot.stamp.store(pos + 1, Release);
                        self.note_crossing(1, next);
                        return Pushed::Ok {
                            getters: t & GETTERS != 0,
                        };
                    }
                    Err(now) => t = now,
                }
            } else if (stamp + self.one_lap) & POS == pos + 1 {
                // The slot still holds the item of the lap before: full, unless a pop of it is
                // under way. (No fence: a push that finds the ring full takes the lock, which
                // looks again after announcing the putter in the head word, whose pops then
                // see it.)
                let head = self.head.0.load(SeqCst) & POS;
                if (head + self.one_lap) & POS == pos {
                    return Pushed::Full(value);
                }
                backoff.snooze();
                t = self.tail.0.load(Relaxed);
            } else {
                // Another push took the position first.
                backoff.snooze();
                t = self.tail.0.load(Relaxed);
            }
        }
    }

    /// Under the queue's lock, with putters in line (so no newcomer pushes): whether a push
    /// would find the ring full now, decided as `push` decides it (a pop under way, which would
    /// make `push` wait for it, counts as room). A pop after this sees the putters' flag and
    /// admits one itself.
    pub(crate) fn full(&self) -> bool {
        let t = self.tail.0.load(SeqCst);
        let pos = t & POS;
        let stamp = self.slot(pos).stamp.load(Acquire);
        (stamp + self.one_lap) & POS == pos + 1
            && ((self.head.0.load(SeqCst) & POS) + self.one_lap) & POS == pos
    }

    /// A newcomer's pop without the lock: the head item if more items are stored than
    /// reserved; `Busy` if getters wait in line; else `Empty`.
    #[inline]
    pub(crate) fn pop(&self) -> Popped<T> {
        let mut h = self.head.0.load(Relaxed);
        let mut backoff = Backoff::new();
        loop {
            if h & SLOW_GET != 0 {
                return Popped::Busy;
            }
            let pos = h & POS;
            let slot = self.slot(pos);
            let ready = if h & RESERVED == 0 {
                let stamp = slot.stamp.load(Acquire);
                if stamp == pos {
                    // Empty, unless a push of it is under way. (No fence: `Empty` sends the
                    // get to the lock, which looks again after announcing the getter.)
                    if self.tail.0.load(SeqCst) & POS == pos {
                        return Popped::Empty;
                    }
                }
                stamp == pos + 1
            } else {
                // Only an item beyond the reserved ones is a newcomer's (taken from the head:
                // the served getters take what comes out next when they run).
                let beyond = self.advance(pos, reserved(h));
                let stamp = self.slot(beyond).stamp.load(Acquire);
                if stamp != beyond + 1 {
                    // Not stored (yet): the locked path decides.
                    let now = self.head.0.load(Relaxed);
                    if now == h {
                        return Popped::Empty;
                    }
                    h = now;
                    continue;
                }
                true
            };
            if ready {
                let next = self.next(pos);
                match self
                    .head
                    .0
                    .compare_exchange_weak(h, (h & !POS) | next, SeqCst, Relaxed)
                {
                    Ok(_) => {
                        self.note_crossing(0, next);
                        return Popped::Item {
                            value: self.take(slot, pos),
                            putters: h & PUTTERS != 0,
                        };
                    }
                    Err(now) => h = now,
                }
            } else {
                // Another pop took the position first, or a push of it is under way.
                backoff.snooze();
                h = self.head.0.load(Relaxed);
            }
        }
    }

    /// Takes the value at `pos`, whose pop this caller owns, once its push has written it.
    #[inline]
    fn take(&self, slot: &Slot<T>, pos: u64) -> T {
        let mut backoff = Backoff::new();
        while slot.stamp.load(Acquire) != pos + 1 {
            backoff.snooze();
        }
        // SAFETY: the head CAS made this pop the owner of position `pos`, and the stamp
        // (`pos + 1`, read with `Acquire`) says its push wrote the value: no one else touches
        // the slot until the stamp below hands it to the push of the next lap.
        let value = unsafe { (*slot.value.get()).assume_init_read() };
        slot.stamp.store((pos + self.one_lap) & POS, Release);
        value
    }

    /// Whether a push has claimed position `pos`, at or after the head `head` (its value may
    /// still be on its way).
    fn claimed(&self, head: u64, pos: u64) -> bool {
        // No fence: a getter announced itself by a read-modify-write of the tail word before
        // this load of it, and a push moves that word by a compare-and-swap, so either the push
        // comes first in the word's order and this sees its claim, or the push sees the flag.
        let tail = self.tail.0.load(SeqCst) & POS;
        // Distances from the head, which wrap with the positions.
        tail.wrapping_sub(head) & POS > pos.wrapping_sub(head) & POS
    }

    /// Under the queue's lock: the head item if more items are stored (or being pushed) than
    /// reserved, whatever the flags say.
    pub(crate) fn pop_spare(&self) -> Option<T> {
        let mut h = self.head.0.load(SeqCst);
        loop {
            let pos = h & POS;
            if !self.claimed(pos, self.advance(pos, reserved(h))) {
                return None;
            }
            let next = self.next(pos);
            match self
                .head
                .0
                .compare_exchange(h, (h & !POS) | next, SeqCst, SeqCst)
            {
                Ok(_) => {
                    self.note_crossing(0, next);
                    return Some(self.take(self.slot(pos), pos));
                }
                Err(now) => h = now,
            }
        }
    }

    /// Under the queue's lock, for a served getter: the head item, using up a reservation.
    pub(crate) fn pop_reserved(&self) -> T {
        let mut h = self.head.0.load(SeqCst);
        loop {
            debug_assert!(reserved(h) > 0, "a reservation to use");
            let pos = h & POS;
            let next = self.next(pos);
            match self.head.0.compare_exchange(
                h,
                ((h & !POS) - ONE_RESERVED) | next,
                SeqCst,
                SeqCst,
            ) {
                Ok(_) => {
                    self.note_crossing(0, next);
                    return self.take(self.slot(pos), pos);
                }
                Err(now) => h = now,
            }
        }
    }

    /// Under the queue's lock: reserves up to `n` of the items beyond the reservations that
    /// pushes claimed, in one compare-and-swap; returns how many.
    pub(crate) fn reserve_up_to(&self, n: usize) -> usize {
        let mut h = self.head.0.load(SeqCst);
        loop {
            // No fence: as in `claimed` (the tail is read after the getters' announcement).
            let tail = self.tail.0.load(SeqCst) & POS;
            let spare = self.between(h & POS, tail) - reserved(h);
            let k = spare.min(n as u64);
            if k == 0 {
                return 0;
            }
            match self
                .head
                .0
                .compare_exchange(h, h + k * ONE_RESERVED, SeqCst, SeqCst)
            {
                Ok(_) => return k as usize,
                Err(now) => h = now,
            }
        }
    }

    /// How many items pushes claimed beyond the reserved ones.
    pub(crate) fn spare(&self) -> usize {
        let h = self.head.0.load(SeqCst);
        let tail = self.tail.0.load(SeqCst) & POS;
        (self.between(h & POS, tail) - reserved(h)) as usize
    }

    /// Under the queue's lock: reserves the first item beyond the reservations, if a push
    /// claimed it.
    #[cfg(test)]
    fn reserve(&self) -> bool {
        self.reserve_up_to(1) == 1
    }

    /// How many positions from `head` to `tail` (at or after it), counted in items.
    #[inline]
    fn between(&self, head: u64, tail: u64) -> u64 {
        let hix = head & (self.one_lap - 1);
        let tix = tail & (self.one_lap - 1);
        if hix < tix {
            tix - hix
        } else if hix > tix {
            self.cap - hix + tix
        } else if tail == head {
            0
        } else {
            self.cap
        }
    }

    /// How many items are reserved.
    #[cfg(test)]
    fn reserved(&self) -> u64 {
        reserved(self.head.0.load(SeqCst))
    }

    /// Under the queue's lock: gives one reservation up (its getter was dropped).
    pub(crate) fn unreserve(&self) {
        self.head.0.fetch_sub(ONE_RESERVED, SeqCst);
    }

    /// Under the queue's lock: gives every reservation up.
    pub(crate) fn clear_reserved(&self) {
        self.head.0.fetch_and(!RESERVED, SeqCst);
    }

    /// Under the queue's lock: writes the flags that changed. A flag is set before the last try
    /// of the operation it announces, and cleared once nothing needs it.
    pub(crate) fn set_flags(&self, f: Flags) {
        let mut head = 0;
        if f.getters {
            head |= SLOW_GET;
        }
        if f.putters {
            head |= PUTTERS;
        }
        let mut tail = 0;
        if f.putters {
            tail |= SLOW_PUT;
        }
        if f.getters {
            tail |= GETTERS;
        }
        if f.joiners {
            tail |= JOINERS;
        }
        Self::set_bits(&self.head.0, SLOW_GET | PUTTERS, head);
        Self::set_bits(&self.tail.0, SLOW_PUT | GETTERS | JOINERS, tail);
    }

    fn set_bits(word: &AtomicU64, mask: u64, bits: u64) {
        // Only the lock holder changes the flags, so the load tells them exactly, and one
        // read-modify-write flips those that change (the others' bits, the position's and the
        // reservations', are left as they are).
        let change = (word.load(Relaxed) & mask) ^ bits;
        if change != 0 {
            word.fetch_xor(change, SeqCst);
        }
    }

    /// Items ever pushed (counting a push under way).
    pub(crate) fn pushed(&self) -> u64 {
        let c = self.crossings[1].load(SeqCst);
        self.count(c, self.tail.0.load(SeqCst) & POS)
    }

    /// Items ever popped (counting a pop under way).
    pub(crate) fn popped(&self) -> u64 {
        let c = self.crossings[0].load(SeqCst);
        self.count(c, self.head.0.load(SeqCst) & POS)
    }

    /// How many items are stored (counting those being pushed, not those being popped).
    pub(crate) fn len(&self) -> usize {
        loop {
            let tail = self.tail.0.load(SeqCst) & POS;
            let head = self.head.0.load(SeqCst) & POS;
            if self.tail.0.load(SeqCst) & POS == tail {
                return self.between(head, tail) as usize;
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
        let tail = *self.tail.0.get_mut() & POS;
        let mut pos = *self.head.0.get_mut() & POS;
        while pos != tail {
            let slot = &mut self.slots[(pos & (self.one_lap - 1)) as usize];
            // SAFETY: the value at a position between head and tail was written and not taken.
            unsafe { slot.value.get_mut().assume_init_drop() };
            pos = self.next(pos);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::thread;

    /// Two pushers and two poppers through a small ring without the queue around it: every
    /// value comes out once, each pusher's in its order (small enough for Miri).
    #[test]
    fn threads_push_and_pop_every_value_once() {
        const PER: u64 = if cfg!(miri) { 60 } else { 20_000 };
        for cap in [1, 2, 3] {
            let ring = Arc::new(Ring::<Box<u64>>::new(cap));
            let pushers: Vec<_> = (0..2u64)
                .map(|p| {
                    let ring = ring.clone();
                    thread::spawn(move || {
                        for i in 0..PER {
                            let mut v = Box::new(p * PER + i);
                            loop {
                                match ring.push(v, true) {
                                    Pushed::Ok { .. } => break,
                                    Pushed::Full(back) => v = back,
                                    _ => unreachable!("no flags, not closed"),
                                }
                                thread::yield_now();
                            }
                        }
                    })
                })
                .collect();
            let poppers: Vec<_> = (0..2)
                .map(|_| {
                    let ring = ring.clone();
                    thread::spawn(move || {
                        let mut got = Vec::new();
                        while (got.len() as u64) < PER {
                            match ring.pop() {
                                Popped::Item { value, .. } => got.push(*value),
                                Popped::Empty => thread::yield_now(),
                                Popped::Busy => unreachable!("no flags"),
                            }
                        }
                        got
                    })
                })
                .collect();
            pushers.into_iter().for_each(|t| t.join().unwrap());
            let mut all = Vec::new();
            for t in poppers {
                let got = t.join().unwrap();
                for p in 0..2 {
                    let mine: Vec<_> = got.iter().filter(|&&v| v / PER == p).collect();
                    assert!(mine.windows(2).all(|w| w[0] < w[1]), "a pusher's order");
                }
                all.extend(got);
            }
            all.sort_unstable();
            assert_eq!(all, (0..2 * PER).collect::<Vec<_>>());
            assert_eq!(
                (ring.pushed(), ring.popped(), ring.len()),
                (2 * PER, 2 * PER, 0)
            );
        }
    }

    /// A ring whose head and tail start at lap-aligned position `start` (as if `start`
    /// positions had gone by), with the crossings counted so far.
    fn ring_at<T>(cap: usize, start: u64) -> Ring<T> {
        let ring = Ring::<T>::new(cap);
        assert_eq!(start & (ring.one_lap - 1), 0, "lap-aligned");
        for (i, slot) in ring.slots.iter().enumerate() {
            slot.stamp.store(start + i as u64, SeqCst);
        }
        ring.head.0.store(start, SeqCst);
        ring.tail.0.store(start, SeqCst);
        let c = start / HALF;
        ring.crossings[0].store(c, SeqCst);
        ring.crossings[1].store(c, SeqCst);
        ring
    }

    /// across the 40-bit wrap and the half-period crossing, on one thread: FIFO order,
    /// len, pushed - popped, reservations, and values left dropped with the ring.
    #[test]
    fn wrap_and_crossing_one_thread() {
        for cap in [1usize, 2, 3, 5, 8] {
            let one_lap = (cap as u64 + 1).next_power_of_two();
            for start in [POS + 1 - 4 * one_lap, HALF - 4 * one_lap] {
                let ring = ring_at::<Box<u64>>(cap, start);
                let (p0, q0) = (ring.pushed(), ring.popped());
                assert_eq!(p0, q0);
                let mut next_in = 0u64;
                let mut next_out = 0u64;
                // Fill, drain halfway, etc., crossing the wrap several times.
                for round in 0..(12 * cap as u64 + 7) {
                    let want = (round % 3) as usize % (cap + 1);
                    for _ in 0..(cap - ring.len()).min(want + 1) {
                        match ring.push(Box::new(next_in), true) {
                            Pushed::Ok { .. } => next_in += 1,
                            _ => panic!("room, cap {cap}, start {start:#x}"),
                        }
                    }
                    if ring.len() == cap {
                        assert!(matches!(ring.push(Box::new(999), true), Pushed::Full(_)));
                    }
                    assert_eq!(ring.len() as u64, next_in - next_out, "len cap {cap}");
                    assert_eq!(
                        ring.pushed() - p0,
                        next_in,
                        "pushed cap {cap} start {start:#x}"
                    );
                    assert_eq!(ring.popped() - q0, next_out, "popped cap {cap}");
                    // Reserve one if any, pop the spare, use the reservation.
                    if ring.len() >= 2 {
                        assert!(ring.reserve());
                        assert_eq!(*ring.pop_spare().unwrap(), next_out);
                        next_out += 1;
                        assert_eq!(*ring.pop_reserved(), next_out);
                        next_out += 1;
                    }
                    let take = (round % 2) as usize + 1;
                    for _ in 0..take {
                        match ring.pop() {
                            Popped::Item { value, .. } => {
                                assert_eq!(*value, next_out, "FIFO cap {cap} start {start:#x}");
                                next_out += 1;
                            }
                            Popped::Empty => assert_eq!(next_in, next_out),
                            Popped::Busy => unreachable!(),
                        }
                    }
                    assert_eq!(ring.len() as u64, next_in - next_out);
                    assert_eq!(ring.pushed() - p0, next_in);
                    assert_eq!(ring.popped() - q0, next_out);
                }
                // Some left for Drop to free (Miri checks the leak).
                let _ = ring.push(Box::new(next_in), true);
            }
        }
    }

    /// two pushers and two poppers across the wrap (and the crossing) of positions.
    #[test]
    fn wrap_threads() {
        const PER: u64 = if cfg!(miri) { 40 } else { 20_000 };
        for cap in [1usize, 2, 3] {
            let one_lap = (cap as u64 + 1).next_power_of_two();
            for start in [POS + 1 - 8 * one_lap, HALF - 8 * one_lap] {
                let ring = Arc::new(ring_at::<Box<u64>>(cap, start));
                let (p0, q0) = (ring.pushed(), ring.popped());
                let pushers: Vec<_> = (0..2u64)
                    .map(|p| {
                        let ring = ring.clone();
                        thread::spawn(move || {
                            for i in 0..PER {
                                let mut v = Box::new(p * PER + i);
                                loop {
                                    match ring.push(v, true) {
                                        Pushed::Ok { .. } => break,
                                        Pushed::Full(back) => v = back,
                                        _ => unreachable!(),
                                    }
                                    thread::yield_now();
                                }
                            }
                        })
                    })
                    .collect();
                let poppers: Vec<_> = (0..2)
                    .map(|_| {
                        let ring = ring.clone();
                        thread::spawn(move || {
                            let mut got = Vec::new();
                            while (got.len() as u64) < PER {
                                match ring.pop() {
                                    Popped::Item { value, .. } => got.push(*value),
                                    Popped::Empty => thread::yield_now(),
                                    Popped::Busy => unreachable!(),
                                }
                            }
                            got
                        })
                    })
                    .collect();
                pushers.into_iter().for_each(|t| t.join().unwrap());
                let mut all = Vec::new();
                for t in poppers {
                    all.extend(t.join().unwrap());
                }
                all.sort_unstable();
                assert_eq!(all, (0..2 * PER).collect::<Vec<_>>());
                assert_eq!(
                    (ring.pushed() - p0, ring.popped() - q0, ring.len()),
                    (2 * PER, 2 * PER, 0)
                );
            }
        }
    }

    /// the largest capacity, full and every item reserved: the reservations do not
    /// spill into the flags, and a newcomer finds nothing spare.
    #[test]
    #[cfg_attr(miri, ignore)]
    fn max_capacity_all_reserved() {
        let ring = Ring::<u32>::new(MAX_CAP);
        for v in 0..MAX_CAP as u32 {
            assert!(matches!(ring.push(v, true), Pushed::Ok { getters: false }));
        }
        assert!(matches!(ring.push(0, true), Pushed::Full(_)));
        assert_eq!(ring.len(), MAX_CAP);
        for _ in 0..MAX_CAP {
            assert!(ring.reserve());
        }
        assert!(!ring.reserve());
        assert_eq!(ring.reserved(), MAX_CAP as u64);
        let h = ring.head.0.load(SeqCst);
        assert_eq!(
            h & (SLOW_GET | PUTTERS),
            0,
            "reservations spilled into the flags"
        );
        assert!(matches!(ring.pop(), Popped::Empty));
        assert_eq!(ring.pop_spare(), None);
        ring.set_flags(Flags {
            putters: true,
            getters: false,
            joiners: false,
        });
        assert_eq!(ring.reserved(), MAX_CAP as u64);
        assert_eq!(ring.pop_reserved(), 0);
        assert!(matches!(ring.push(7, false), Pushed::Ok { .. }));
        assert!(ring.head.0.load(SeqCst) & PUTTERS != 0);
        assert_eq!(ring.reserved(), MAX_CAP as u64 - 1);
        // One spare now (the new item beyond the reserved ones): a newcomer takes the head.
        ring.set_flags(Flags::default());
        match ring.pop() {
            Popped::Item { value, .. } => assert_eq!(value, 1),
            _ => panic!("an item"),
        }
        ring.clear_reserved();
        assert_eq!(
            (ring.pushed(), ring.popped(), ring.len()),
            (MAX_CAP as u64 + 1, 2, MAX_CAP - 1)
        );
    }

    /// With joiners announced, a newcomer's push is `Busy` (it goes to the lock) and a push
    /// under the lock lands, across the half-period crossing and the wrap of positions; a
    /// newcomer that read the tail before the flag was set fails its compare-and-swap and
    /// reads again. Without joiners, newcomers push again.
    #[test]
    fn joiners_send_newcomers_to_the_lock() {
        let joiners = Flags {
            joiners: true,
            ..Flags::default()
        };
        for cap in [1usize, 3, 4] {
            let one_lap = (cap as u64 + 1).next_power_of_two();
            for start in [0, POS + 1 - 4 * one_lap, HALF - 4 * one_lap] {
                let ring = ring_at::<u64>(cap, start);
                let p0 = ring.pushed();
                ring.set_flags(joiners);
                for i in 0..(10 * cap as u64) {
                    assert!(matches!(ring.push(i, true), Pushed::Busy(v) if v == i));
                    assert!(matches!(ring.push(i, false), Pushed::Ok { getters: false }));
                    assert_eq!(ring.pushed(), p0 + i + 1, "cap {cap}");
                    match ring.pop() {
                        Popped::Item { value, .. } => assert_eq!(value, i),
                        _ => panic!("an item"),
                    }
                }
                ring.set_flags(Flags::default());
                assert!(matches!(ring.push(0, true), Pushed::Ok { getters: false }));
            }
        }
    }

    /// Values left in the ring are dropped with it; reservations and flags work on one thread.
    #[test]
    fn reservations_flags_and_drop() {
        let ring = Ring::<Box<u64>>::new(3);
        for v in 0..3 {
            assert!(matches!(
                ring.push(Box::new(v), true),
                Pushed::Ok { getters: false }
            ));
        }
        assert!(matches!(ring.push(Box::new(9), true), Pushed::Full(_)));
        ring.set_flags(Flags {
            putters: true,
            getters: true,
            joiners: false,
        });
        assert!(matches!(ring.pop(), Popped::Busy));
        assert!(matches!(ring.push(Box::new(9), true), Pushed::Busy(_)));
        assert!(ring.reserve() && ring.reserve());
        assert_eq!(ring.pop_spare().as_deref(), Some(&0));
        // Two reserved, two stored: none spare.
        assert!(!ring.reserve());
        assert_eq!(ring.pop_spare(), None);
        assert_eq!(*ring.pop_reserved(), 1);
        assert!(matches!(
            ring.push(Box::new(3), false),
            Pushed::Ok { getters: true }
        ));
        assert!(matches!(ring.push(Box::new(4), false), Pushed::Ok { .. }));
        ring.set_flags(Flags::default());
        assert_eq!(ring.reserved(), 1);
        // Stored 2, 3, 4 with one reserved: a newcomer takes the head.
        match ring.pop() {
            Popped::Item { value, putters } => assert_eq!((*value, putters), (2, false)),
            _ => panic!("an item"),
        }
        ring.unreserve();
        ring.reserve();
        ring.reserve();
        assert!(matches!(ring.pop(), Popped::Empty));
        ring.clear_reserved();
        assert_eq!(ring.reserved(), 0);
        assert_eq!((ring.len(), ring.pushed(), ring.popped()), (2, 5, 3));
        // Positions unwrapped: one crossing counted and the position in the upper half; or in the
        // lower half, after a wrap not counted yet.
        assert_eq!(ring.count(1, HALF + 2), HALF / 4 * 3 + 2);
        assert_eq!(ring.count(1, 2), 2 * HALF / 4 * 3 + 2);
        assert_eq!(ring.count(2, 2), 2 * HALF / 4 * 3 + 2);
        ring.close();
        assert!(matches!(ring.push(Box::new(5), false), Pushed::Closed(_)));
        // 3 and 4 are dropped with the ring (Miri reports a leak otherwise).
    }
}
