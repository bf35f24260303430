//! The callback event loop: asyncio's `add_reader` / `add_writer` / `call_soon` / `run` on one
//! thread, dispatching straight from the kernel's event list to the callbacks.
//!
//! The dispatch path is the hot path of every readiness-driven protocol, so it allocates
//! nothing and counts no references: watches live in a table indexed by fd number, a callback is
//! moved out of its slot while it runs (so it may borrow the loop mutably and add, replace or
//! remove watches, its own included) and moved back afterwards, and the event buffer is reused.
//! Timers ([`crate::timer`]) and the wake-up fd of [`LoopHandle`]s ([`crate::handle`]) stay off
//! that path: a turn without timers asks one emptiness question about them, and the wake-up fd
//! is recognised only where an event's key matches no watch.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::mem;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::WatchError;
use crate::handle::{LoopHandle, SendFn, Shared};
use crate::readiness::Readiness;
use crate::sys::{self, Events, Interest, Poller};
use crate::timer::{TimerHandle, Timers};

/// What [`EventLoop`] accepts as an fd: a bare [`RawFd`] number (as asyncio accepts an int), a
/// [`BorrowedFd`], or a reference to anything that has an fd (`&UnixStream`, `&Stdin`, ...).
///
/// The loop keeps only the number: it watches the fd, it does not own or close it.
pub trait Source {
    /// The fd number.
    fn raw_fd(&self) -> RawFd;
}

impl Source for RawFd {
    fn raw_fd(&self) -> RawFd {
        *self
    }
}

impl Source for BorrowedFd<'_> {
    fn raw_fd(&self) -> RawFd {
        self.as_raw_fd()
    }
}

impl<T: AsFd + ?Sized> Source for &T {
    fn raw_fd(&self) -> RawFd {
        self.as_fd().as_raw_fd()
    }
}

/// A readiness callback: it gets the loop (to add or remove watches, schedule callbacks or stop)
/// and what happened on the fd.
type ReadyFn = Box<dyn FnMut(&mut EventLoop, Readiness)>;

/// A callback scheduled with [`EventLoop::call_soon`].
type SoonFn = Box<dyn FnOnce(&mut EventLoop)>;

/// How many kernel events one turn of the loop takes at most; more wait for the next turn.
const EVENTS_PER_TURN: usize = 256;

/// One direction's callback.
enum Handler {
    /// Not watched.
    Empty,
    /// Watched, callback at rest.
    Set(ReadyFn),
    /// Watched, callback moved out because it is running right now.
    Running,
}

impl Handler {
    fn is_watched(&self) -> bool {
        !matches!(self, Handler::Empty)
    }
}

/// One direction's watch of an fd.
struct Side {
    handler: Handler,
    /// The turn of the loop in which this callback was set (added, replaced, or its fd
    /// registered afresh). Events collected in that same turn predate it, so they are not
    /// delivered to it: as in asyncio, a watch waits for the first poll made after it exists.
    added_in: u64,
}

impl Side {
    fn empty() -> Self {
        Side {
            handler: Handler::Empty,
            added_in: 0,
        }
    }

    /// Whether this side's callback is at rest and existed before the events of `turn`.
    #[inline]
    fn fires(&self, turn: u64) -> bool {
        matches!(self.handler, Handler::Set(_)) && self.added_in < turn
    }
}

/// The watches on one fd: the kernel sees one registration per fd, with both directions.
struct Slot {
    reader: Side,
    writer: Side,
}

impl Slot {
    fn interest(&self) -> Interest {
        Interest {
            read: self.reader.handler.is_watched(),
            write: self.writer.handler.is_watched(),
        }
    }

    fn side(&mut self, dir: Dir) -> &mut Side {
        match dir {
            Dir::Read => &mut self.reader,
            Dir::Write => &mut self.writer,
        }
    }

    fn handler(&mut self, dir: Dir) -> &mut Handler {
        &mut self.side(dir).handler
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Read,
    Write,
}

/// The kernel event key of a registration: the fd number, which fits every backend's key.
fn key(fd: RawFd) -> u64 {
    u64::from(fd as u32)
}

/// The kernel event key of the wake-up fd of [`LoopHandle`]s: as an fd number it is -1, which
/// no watch has, so the dispatch path finds no slot for it and only then looks at it.
const WAKE_KEY: u64 = u32::MAX as u64;

/// Tells loops apart, so that a [`TimerHandle`] of one loop cancels nothing in another.
static NEXT_LOOP_ID: AtomicU64 = AtomicU64::new(0);

/// A single-threaded callback event loop for fd readiness, shaped like asyncio's.
///
/// Watch an fd with [`add_reader`](Self::add_reader) / [`add_writer`](Self::add_writer); the
/// callback runs every time the fd is ready (level-triggered) until the watch is removed with
/// [`remove_reader`](Self::remove_reader) / [`remove_writer`](Self::remove_writer). Callbacks
/// get `&mut EventLoop`, so they can change watches, [`call_soon`](Self::call_soon) more work,
/// or [`stop`](Self::stop) the loop. [`run`](Self::run) turns the loop.
///
/// Watching the same fd and direction again replaces the callback. One fd may have a reader
/// and a writer at the same time.
///
/// Timers: [`call_later`](Self::call_later) / [`call_at`](Self::call_at) run a callback once
/// at a deadline of the monotonic clock ([`Instant`]), and [`cancel`](Self::cancel) takes it
/// back. Other threads reach the loop through a [`LoopHandle`] (see [`handle`](Self::handle)).
///
/// The loop watches fd numbers; it does not own or close them. Remove a watch before closing
/// its fd. Its table of watches is indexed by fd number, so it grows to the highest fd watched
/// (a few dozen bytes per number): cheap for the small numbers a process normally has.
pub struct EventLoop {
    poller: Poller,
    timers: Timers,
    /// Timers due this turn, by sequence number; reused from turn to turn.
    due: Vec<u64>,
    /// What the loop shares with its `LoopHandle`s; `None` until the first `handle()`.
    shared: Option<Arc<Shared>>,
    /// Calls taken from the handles' inbox; reused, to take the inbox without allocating.
    inbox: Vec<SendFn>,
    /// Watches indexed by fd number: fds are small dense integers, so a table beats a hash map.
    slots: Vec<Option<Slot>>,
    /// The kernel event buffer, reused; `None` only while a turn has it out.
    events: Option<Events>,
    soon: VecDeque<SoonFn>,
    /// How many fds have at least one watch.
    watched: usize,
    /// Counts the loop's waits for events; see [`Side::added_in`].
    turn: u64,
    stopping: bool,
    running: bool,
}

impl fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventLoop")
            .field("watched_fds", &self.watched)
            .field("pending_callbacks", &self.soon.len())
            .field("pending_timers", &self.timers.len())
            // Whether a handle exists now (the wake-up fd outlives the handles that made it).
            .field(
                "has_handles",
                &self.shared.as_ref().is_some_and(|s| s.has_handles()),
            )
            .field("running", &self.running)
            .finish_non_exhaustive()
    }
}

impl EventLoop {
    /// Creates an event loop with nothing watched.
    pub fn new() -> io::Result<Self> {
        Ok(EventLoop {
            poller: Poller::new()?,
            timers: Timers::new(NEXT_LOOP_ID.fetch_add(1, Ordering::Relaxed)),
            due: Vec::new(),
            shared: None,
            inbox: Vec::new(),
            slots: Vec::new(),
            events: Some(Events::with_capacity(EVENTS_PER_TURN)),
            soon: VecDeque::new(),
            watched: 0,
            turn: 0,
            stopping: false,
            running: false,
        })
    }

    /// Calls `callback` every time `fd` is readable — data, end of file or an error, as the
    /// [`Readiness`] says — until the watch is removed.
    ///
    /// If `fd` already has a reader, its callback is replaced. An fd that is not open, or that
    /// cannot be watched (a regular file), is refused with a [`WatchError`].
    pub fn add_reader<F>(&mut self, fd: impl Source, callback: F) -> Result<(), WatchError>
    where
        F: FnMut(&mut EventLoop, Readiness) + 'static,
    {
        self.add(fd.raw_fd(), Dir::Read, Box::new(callback))
    }

    /// Calls `callback` every time `fd` is writable (or hung up, or has an error) until the
    /// watch is removed.
    ///
    /// If `fd` already has a writer, its callback is replaced. An fd that is not open, or that
    /// cannot be watched, is refused with a [`WatchError`].
    pub fn add_writer<F>(&mut self, fd: impl Source, callback: F) -> Result<(), WatchError>
    where
        F: FnMut(&mut EventLoop, Readiness) + 'static,
    {
        self.add(fd.raw_fd(), Dir::Write, Box::new(callback))
    }

    /// Stops watching `fd` for readability. Returns whether it was watched.
    pub fn remove_reader(&mut self, fd: impl Source) -> bool {
        self.remove(fd.raw_fd(), Dir::Read)
    }

    /// Stops watching `fd` for writability. Returns whether it was watched.
    pub fn remove_writer(&mut self, fd: impl Source) -> bool {
        self.remove(fd.raw_fd(), Dir::Write)
    }

    /// Schedules `callback` to run on the next turn of the loop, before the readiness callbacks
    /// of that turn, in the order of the `call_soon` calls (and of the
    /// [`call_soon_threadsafe`](LoopHandle::call_soon_threadsafe) calls made before them, as in
    /// asyncio's one ready queue). Called from a callback, that is the turn after the current one.
    pub fn call_soon<F>(&mut self, callback: F)
    where
        F: FnOnce(&mut EventLoop) + 'static,
    {
        if let Some(shared) = &self.shared
            && shared.has_calls()
        {
            // Calls a handle sent before this one go ahead of it, as in asyncio.
            let shared = Arc::clone(shared);
            self.take_inbox(&shared);
        }
        self.soon.push_back(Box::new(callback));
    }

    /// Schedules `callback` to run once, `delay` from now; returns a handle to
    /// [`cancel`](Self::cancel) it.
    ///
    /// The callback runs on the first turn of the loop that begins at or after the deadline:
    /// never early, and late by as much as the callbacks before it take (and the kernel's
    /// timer slack, about a millisecond; waits are rounded up to whole milliseconds). Timers due
    /// at the same instant run in the order they were scheduled. A zero delay behaves as
    /// [`call_soon`](Self::call_soon) but runs after the `call_soon` and readiness callbacks of
    /// that turn, never in the turn that scheduled it. A delay too far away to represent is
    /// treated as a century.
    pub fn call_later<F>(&mut self, delay: Duration, callback: F) -> TimerHandle
    where
        F: FnOnce(&mut EventLoop) + 'static,
    {
        let now = Instant::now();
        let when = now
            .checked_add(delay)
            .or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 24 * 3600)))
            .unwrap_or(now);
        self.call_at(when, callback)
    }

    /// Schedules `callback` to run once at `when` (or on the next turn, if `when` has passed);
    /// returns a handle to [`cancel`](Self::cancel) it. See [`call_later`](Self::call_later).
    pub fn call_at<F>(&mut self, when: Instant, callback: F) -> TimerHandle
    where
        F: FnOnce(&mut EventLoop) + 'static,
    {
        self.timers.schedule(when, Box::new(callback))
    }

    /// Cancels a timer of [`call_later`](Self::call_later) / [`call_at`](Self::call_at): its
    /// callback will not run, and is dropped now. Returns whether it was pending: `false` if it
    /// has already run (or is running), was already cancelled, or belongs to another loop.
    /// (asyncio's `TimerHandle.cancel()` returns nothing.)
    ///
    /// A timer due in the current turn can still be cancelled by a callback that runs before it.
    pub fn cancel(&mut self, timer: TimerHandle) -> bool {
        self.timers.cancel(timer)
    }

    /// The clock of [`call_at`](Self::call_at) (asyncio's `loop.time()`): [`Instant::now`].
    pub fn now(&self) -> Instant {
        Instant::now()
    }

    /// A handle for other threads: [`LoopHandle::call_soon_threadsafe`] and
    /// [`LoopHandle::stop`], which wake the loop if it is blocked in [`run`](Self::run).
    ///
    /// The first call creates the loop's wake-up fd (an eventfd on Linux) and registers it;
    /// a loop that never makes a handle has neither. Fails only if that fd cannot be made or
    /// registered. While a handle exists, `run` waits for it rather than returning when idle.
    pub fn handle(&mut self) -> io::Result<LoopHandle> {
        let shared = match &self.shared {
            Some(shared) => Arc::clone(shared),
            None => {
                let shared = Arc::new(Shared::new()?);
                let read = Interest {
                    read: true,
                    write: false,
                };
                let fd = shared.waker.fd();
                self.poller.add(fd, WAKE_KEY, read)?;
                // A watch still standing under this number is stale: its fd was closed without
                // removing the watch (or the number would not be free), and the kernel forgot
                // it. Left in the table, a `remove_*` or `add_*` of that number would unregister
                // or take over the wake-up fd's registration, and handles could no longer wake
                // the loop.
                self.drop_slot(fd);
                self.shared = Some(Arc::clone(&shared));
                shared
            }
        };
        Ok(LoopHandle::new(shared))
    }

    /// Makes [`run`](Self::run) return once the current turn has run all its callbacks (queued,
    /// readiness and timers; those they schedule wait for the next `run`). Called before `run`,
    /// the next `run` does one turn and returns, as asyncio's `run_forever` after `stop`.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// Whether `fd` has a reader (the first flag) and a writer (the second).
    pub fn is_watched(&self, fd: impl Source) -> (bool, bool) {
        match self.slot(fd.raw_fd()) {
            Some(slot) => (
                slot.reader.handler.is_watched(),
                slot.writer.handler.is_watched(),
            ),
            None => (false, false),
        }
    }

    /// Runs the loop until [`stop`](Self::stop) is called, or until nothing is left that could
    /// ever run: no watch, no scheduled callback, no pending timer and no [`LoopHandle`]
    /// (asyncio would wait forever then). Pending timers alone keep it running: it sleeps until
    /// the next one is due.
    ///
    /// Each turn is asyncio's `_run_once`: it waits for readiness (not at all if callbacks are
    /// queued; at most until the next timer is due), takes the timers due at the end of the
    /// wait, then runs the [`call_soon`](Self::call_soon) callbacks queued before the turn
    /// (those sent by handles included), then the readiness callbacks of that wait, then the
    /// due timers. Callbacks and timers that these schedule wait for the next turn, so a
    /// callback rescheduling itself cannot starve the watches; a watch added or replaced during
    /// the turn waits for the next wait's events. A watch removed or a timer cancelled by an
    /// earlier callback of the turn does not run. Fails if the loop is already running (a
    /// callback called `run`) or if waiting for events fails.
    ///
    /// A panic in a callback propagates out of `run`; drop the loop afterwards, as the panicking
    /// watch (or the timers due in the same turn) is left half-dispatched: a later `run` on it
    /// fails as if it were still running, rather than wait for timers that can no longer fire.
    pub fn run(&mut self) -> io::Result<()> {
        if self.running {
            return Err(io::Error::other("event loop is already running"));
        }
        self.running = true;
        let result = self.turns();
        self.running = false;
        self.stopping = false;
        result
    }

    /// asyncio's `_run_once`, turn after turn: wait for events; take the timers due now; run
    /// the callbacks queued before this point, then the readiness callbacks, then the due
    /// timers. Whatever these schedule waits for the next turn, so a callback rescheduling
    /// itself cannot starve the watches.
    fn turns(&mut self) -> io::Result<()> {
        loop {
            if self.watched == 0 && self.soon.is_empty() && !self.stopping && self.idle() {
                return Ok(());
            }
            let timeout = if !self.soon.is_empty() || self.stopping {
                Some(Duration::ZERO)
            } else if self.timers.is_empty() {
                None
            } else {
                self.timers.timeout(Instant::now())
            };
            // The buffer is moved out so that callbacks can borrow the loop; it goes back with
            // its capacity. (It is missing only if a callback panicked during an earlier turn.)
            let mut events = self
                .events
                .take()
                .unwrap_or_else(|| Events::with_capacity(EVENTS_PER_TURN));
            self.turn += 1;
            if let Err(e) = self.poller.wait(&mut events, timeout) {
                self.events = Some(events);
                return Err(e);
            }
            if !self.timers.is_empty() {
                // The timers due now, taken before any callback of this turn runs, so that a
                // timer one of them schedules for "now" waits for the next turn.
                self.timers.collect_due(Instant::now(), &mut self.due);
            }
            if let Some(shared) = &self.shared
                && (shared.has_calls() || (0..events.len()).any(|i| events.get(i).0 == WAKE_KEY))
            {
                // Calls sent by handles so far join the queue, ahead of this turn's readiness
                // callbacks, as asyncio's `call_soon_threadsafe` appends to its ready queue.
                let shared = Arc::clone(shared);
                self.take_inbox(&shared);
            }
            for _ in 0..self.soon.len() {
                if let Some(callback) = self.soon.pop_front() {
                    callback(self);
                }
            }
            self.dispatch_events(&events);
            self.events = Some(events);
            if !self.due.is_empty() {
                self.run_due();
            }
            if self.stopping {
                return Ok(());
            }
        }
    }

    /// Whether nothing but watches and `call_soon` callbacks could make anything run: no
    /// pending timer, and no handle that could still send a call (calls already sent are moved
    /// to the `call_soon` queue first, so none is left behind).
    #[cold]
    fn idle(&mut self) -> bool {
        if !self.timers.is_empty() {
            return false;
        }
        let Some(shared) = &self.shared else {
            return true;
        };
        if shared.has_handles() {
            // The wake-up fd will end the wait when a handle sends something (or the last
            // handle goes away).
            return false;
        }
        // No handle is left to send more, but the last ones may have sent calls just before
        // going away: those run before `run` returns.
        let shared = Arc::clone(shared);
        self.take_inbox(&shared);
        self.soon.is_empty()
    }

    /// Moves the calls sent by handles to the `call_soon` queue.
    fn take_inbox(&mut self, shared: &Shared) {
        shared.take(&mut self.inbox);
        self.soon
            .extend(self.inbox.drain(..).map(|call| -> SoonFn { call }));
    }

    /// Runs the timers collected as due this turn, in deadline then scheduling order, skipping
    /// those a callback of this turn cancelled.
    fn run_due(&mut self) {
        // Moved out so that callbacks can borrow the loop; put back with its capacity.
        let mut due = mem::take(&mut self.due);
        for &seq in &due {
            if let Some(callback) = self.timers.take(seq) {
                callback(self);
            }
        }
        due.clear();
        self.due = due;
    }

    /// Runs the readiness callbacks of this turn's kernel events, skipping the watches removed
    /// since the wait and those set after it.
    fn dispatch_events(&mut self, events: &Events) {
        let turn = self.turn;
        for i in 0..events.len() {
            let (key, bits) = events.get(i);
            let fd = key as u32 as RawFd;
            // No slot: removed by an earlier callback of this turn, or the handles' wake-up fd.
            let Some(slot) = self.slot_mut(fd) else {
                continue;
            };
            let wants_write = slot.writer.fires(turn);
            if slot.reader.fires(turn)
                && let Some(r) = bits.for_reader(|| sys::pending_bytes(fd))
            {
                self.dispatch(fd, Dir::Read, r);
            }
            if wants_write && let Some(r) = bits.for_writer() {
                self.dispatch(fd, Dir::Write, r);
            }
        }
    }

    /// Runs one direction's callback of `fd`, if its watch still stands and predates this
    /// turn's events.
    #[inline]
    fn dispatch(&mut self, fd: RawFd, dir: Dir, readiness: Readiness) {
        let turn = self.turn;
        let Some(slot) = self.slot_mut(fd) else {
            return;
        };
        let side = slot.side(dir);
        if !side.fires(turn) {
            return;
        }
        let Handler::Set(mut callback) = mem::replace(&mut side.handler, Handler::Running) else {
            unreachable!("checked just above");
        };
        callback(self, readiness);
        // Put the callback back unless it removed or replaced its own watch while it ran.
        if let Some(slot) = self.slot_mut(fd) {
            let handler = slot.handler(dir);
            if matches!(handler, Handler::Running) {
                *handler = Handler::Set(callback);
            }
        }
    }

    fn slot(&self, fd: RawFd) -> Option<&Slot> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get(i))
            .and_then(Option::as_ref)
    }

    fn slot_mut(&mut self, fd: RawFd) -> Option<&mut Slot> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.slots.get_mut(i))
            .and_then(Option::as_mut)
    }

    fn add(&mut self, fd: RawFd, dir: Dir, callback: ReadyFn) -> Result<(), WatchError> {
        let Ok(index) = usize::try_from(fd) else {
            return Err(WatchError::BadFd(fd));
        };
        let turn = self.turn;
        if let Some(slot) = self.slot_mut(fd) {
            // Already registered: replace the callback. The kernel is asked anyway, because the
            // fd may have been closed (the kernel then forgot it) and its number reused: a watch
            // kept only in our table would never fire.
            let new = Side {
                handler: Handler::Set(callback),
                added_in: turn,
            };
            let old = mem::replace(slot.side(dir), new);
            let interest = slot.interest();
            match self.poller.modify(fd, key(fd), interest) {
                Ok(()) => Ok(()),
                Err(e) if Poller::is_not_registered(&e) => {
                    // A new file under the old number: register it afresh, callbacks kept.
                    if let Some(slot) = self.slot_mut(fd) {
                        slot.reader.added_in = turn;
                        slot.writer.added_in = turn;
                    }
                    self.poller.add(fd, key(fd), interest).map_err(|e| {
                        // The kernel has nothing under this number now: no watch stands.
                        self.drop_slot(fd);
                        WatchError::from_io(fd, e)
                    })
                }
                Err(e) => {
                    if let Some(slot) = self.slot_mut(fd) {
                        *slot.side(dir) = old;
                    }
                    Err(self.forget(fd, e))
                }
            }
        } else {
            let mut slot = Slot {
                reader: Side::empty(),
                writer: Side::empty(),
            };
            *slot.side(dir) = Side {
                handler: Handler::Set(callback),
                added_in: turn,
            };
            self.poller
                .add(fd, key(fd), slot.interest())
                .map_err(|e| WatchError::from_io(fd, e))?;
            if self.slots.len() <= index {
                self.slots.resize_with(index + 1, || None);
            }
            self.slots[index] = Some(slot);
            self.watched += 1;
            Ok(())
        }
    }

    /// Turns the kernel's refusal to change the registration of `fd` into the error for the
    /// caller. If the number no longer names the file that was registered (it was closed behind
    /// our back, and maybe reused by a file that cannot be watched), the kernel has forgotten
    /// the watches, so they are dropped here too rather than kept as watches that never fire.
    /// (Any other error, such as running out of memory, leaves the old registration standing.)
    fn forget(&mut self, fd: RawFd, err: io::Error) -> WatchError {
        let err = WatchError::from_io(fd, err);
        if let WatchError::BadFd(_) | WatchError::Unsupported(_) = err {
            self.drop_slot(fd);
        }
        err
    }

    /// Drops every watch of `fd` from the table (not from the kernel).
    fn drop_slot(&mut self, fd: RawFd) {
        if let Some(slot) = usize::try_from(fd).ok().and_then(|i| self.slots.get_mut(i))
            && slot.take().is_some()
        {
            self.watched -= 1;
        }
    }

    fn remove(&mut self, fd: RawFd, dir: Dir) -> bool {
        let Some(slot) = self.slot_mut(fd) else {
            return false;
        };
        let handler = slot.handler(dir);
        if !handler.is_watched() {
            return false;
        }
        // A running callback is dropped by `dispatch` when it returns; a resting one here.
        *handler = Handler::Empty;
        let interest = slot.interest();
        // The kernel's answer is ignored: if the fd was closed first, the kernel has already
        // forgotten it, and the watch is gone either way.
        if interest.read || interest.write {
            let _ = self.poller.modify(fd, key(fd), interest);
        } else {
            let _ = self.poller.delete(fd);
            self.slots[fd as usize] = None;
            self.watched -= 1;
        }
        true
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Handles outlive the loop: refuse their calls from now on. The calls not run are
        // dropped after the inbox is unlocked, as their destructors may use a handle.
        if let Some(shared) = &self.shared {
            drop(shared.close());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    #[test]
    fn a_stale_watch_under_the_wake_up_fd_number_is_forgotten() {
        // A watched fd closed without removing its watch (breaking the contract) leaves a
        // stale watch; its number is then free, and the wake-up fd of the first handle may get
        // it. The stale watch must not stand for the wake-up fd: removing or replacing it would
        // unregister or take over the loop's wake-up, and `run` would wait forever.
        for _ in 0..50 {
            let mut ev = EventLoop::new().unwrap();
            let (a, _b) = UnixStream::pair().unwrap();
            let fd = a.as_raw_fd();
            ev.add_reader(fd, |_, r| panic!("stale watch ran: {r:?}"))
                .unwrap();
            drop(a);
            let handle = ev.handle().unwrap();
            if ev.shared.as_ref().map(|s| s.waker.fd()) != Some(fd) {
                // Another thread of the test run took the number first; try again.
                continue;
            }
            assert_eq!(ev.is_watched(fd), (false, false));
            assert!(!ev.remove_reader(fd));
            assert!(ev.add_reader(fd, |_, _| {}).is_err(), "the loop's own fd");
            let thread = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                assert!(handle.call_soon_threadsafe(|ev| ev.stop()).is_ok());
            });
            ev.run().unwrap();
            thread.join().unwrap();
            return;
        }
        panic!("the wake-up fd never got the closed fd's number");
    }
}
