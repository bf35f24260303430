//! The loop's timers: asyncio's `call_later` / `call_at` as a heap of deadlines.
//!
//! A timer is a deadline, a sequence number and a callback. The heap orders `(deadline, seq)`,
//! so timers due at the same instant run in the order they were scheduled; the callbacks live in
//! a map keyed by the sequence number, so cancelling is a map removal and the heap entry is left
//! behind, skipped when it surfaces (asyncio does the same, and also rebuilds the heap when most
//! of it is cancelled, as done here). Nothing here runs unless a timer was scheduled: the loop's
//! dispatch path only asks whether the map is empty.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::time::{Duration, Instant};

/// A timer callback; the same shape as a `call_soon` callback.
pub(crate) type TimerFn = Box<dyn FnOnce(&mut crate::EventLoop)>;

/// The longest single wait for the next deadline. A far deadline is reached by waiting again;
/// this keeps the timeout within what `epoll_wait` takes in milliseconds (an `i32`), so the
/// kernel is never asked for `epoll_pwait2`, which older kernels lack.
const MAX_WAIT: Duration = Duration::from_secs(3600);

/// The heap is rebuilt without its cancelled entries once it holds more than this many entries
/// and more than half of them are cancelled: cancelling stays O(1) and memory stays bounded.
const REBUILD_MIN: usize = 256;

/// A scheduled [`call_later`](crate::EventLoop::call_later) / [`call_at`](crate::EventLoop::call_at)
/// callback, to [`cancel`](crate::EventLoop::cancel) it.
///
/// It is a plain `Copy` token: keeping it does not keep the callback alive, and it can be moved
/// into other callbacks (a timer may cancel another). It belongs to the loop that made it;
/// another loop's [`cancel`](crate::EventLoop::cancel) ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimerHandle {
    loop_id: u64,
    seq: u64,
    when: Instant,
}

impl TimerHandle {
    /// When the timer is (or was) due, as asyncio's `TimerHandle.when()`.
    pub fn when(&self) -> Instant {
        self.when
    }
}

/// The timers of one loop.
pub(crate) struct Timers {
    /// The owning loop's identity, stamped into every handle.
    loop_id: u64,
    /// Deadlines, earliest first; entries whose callback is gone (cancelled) are skipped.
    heap: BinaryHeap<Reverse<(Instant, u64)>>,
    /// The callbacks of timers not yet run nor cancelled (including those already due this
    /// turn and waiting for their turn to run).
    live: HashMap<u64, TimerFn>,
    next_seq: u64,
}

impl Timers {
    pub(crate) fn new(loop_id: u64) -> Self {
        Timers {
            loop_id,
            heap: BinaryHeap::new(),
            live: HashMap::new(),
            next_seq: 0,
        }
    }

    /// How many timers are scheduled and neither run nor cancelled.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.live.len()
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.live.is_empty()
    }

    pub(crate) fn schedule(&mut self, when: Instant, callback: TimerFn) -> TimerHandle {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Reverse((when, seq)));
        self.live.insert(seq, callback);
        TimerHandle {
            loop_id: self.loop_id,
            seq,
            when,
        }
    }

    /// Cancels a timer; false if it already ran, was cancelled, or belongs to another loop.
    pub(crate) fn cancel(&mut self, handle: TimerHandle) -> bool {
        if handle.loop_id != self.loop_id {
            return false;
        }
        let Some(callback) = self.live.remove(&handle.seq) else {
            return false;
        };
        if self.heap.len() > REBUILD_MIN && self.heap.len() > 2 * self.live.len() {
            let live = &self.live;
            self.heap.retain(|Reverse((_, seq))| live.contains_key(seq));
        }
        // Dropped last: its destructor may touch anything (even a `LoopHandle`), not the heap.
        drop(callback);
        true
    }

    /// How long the loop may wait for the next live deadline from `now` (zero if one is due),
    /// or `None` if no timer is scheduled. Cancelled entries met on the way are discarded.
    pub(crate) fn timeout(&mut self, now: Instant) -> Option<Duration> {
        while let Some(&Reverse((when, seq))) = self.heap.peek() {
            if self.live.contains_key(&seq) {
                return Some(when.saturating_duration_since(now).min(MAX_WAIT));
            }
            self.heap.pop();
        }
        None
    }

    /// Appends to `due` the sequence numbers of the live timers due at `now`, earliest (and
    /// first scheduled) first, and takes them off the heap. Their callbacks stay in the map until
    /// they run, so a callback that runs before them in the same turn can still cancel them.
    pub(crate) fn collect_due(&mut self, now: Instant, due: &mut Vec<u64>) {
        while let Some(&Reverse((when, seq))) = self.heap.peek() {
            if when > now {
                break;
            }
            self.heap.pop();
            if self.live.contains_key(&seq) {
                due.push(seq);
            }
        }
    }

    /// Takes the callback of a due timer, unless it was cancelled meanwhile.
    #[inline]
    pub(crate) fn take(&mut self, seq: u64) -> Option<TimerFn> {
        self.live.remove(&seq)
    }
}
