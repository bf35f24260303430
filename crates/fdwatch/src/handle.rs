//! The loop's one door to other threads: [`LoopHandle`], asyncio's `call_soon_threadsafe`.
//!
//! A handle shares with its loop an inbox of callbacks behind a mutex and a wake-up fd
//! ([`Waker`]) that the loop watches. A handle pushes a callback and makes the fd readable, which
//! ends the loop's wait; the loop empties the fd, takes the whole inbox and runs it as
//! `call_soon` callbacks. The fd is written only when the inbox goes from "seen" to "not seen"
//! (the `notified` flag), so a burst of calls costs one write and one wake-up, not one each.
//! The loop's own `call_soon` first takes the inbox when it holds calls (the `queued` flag), so
//! that, as in asyncio's single ready queue, a call sent before a `call_soon` runs before it.
//!
//! None of this exists until the first [`EventLoop::handle`](crate::EventLoop::handle): a loop
//! used from one thread has no wake-up fd registered and pays nothing for it.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::EventLoop;
use crate::sys::Waker;

/// A callback sent from another thread.
pub(crate) type SendFn = Box<dyn FnOnce(&mut EventLoop) + Send>;

/// What a loop and its handles share.
#[derive(Debug)]
pub(crate) struct Shared {
    inbox: Mutex<Inbox>,
    pub(crate) waker: Waker,
    /// How many `LoopHandle`s exist. While any does, `run` waits for what they may send.
    handles: AtomicUsize,
    /// The inbox holds calls: set with each call, cleared when the loop takes them, so that
    /// the loop's `call_soon` asks it without taking the lock.
    queued: AtomicBool,
}

struct Inbox {
    calls: Vec<SendFn>,
    /// The wake-up fd was written since the loop last took the inbox: the next caller need not.
    notified: bool,
    /// The loop is gone: calls are refused.
    closed: bool,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox")
            .field("calls", &self.calls.len())
            .field("notified", &self.notified)
            .field("closed", &self.closed)
            .finish()
    }
}

impl Shared {
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(Shared {
            inbox: Mutex::new(Inbox {
                calls: Vec::new(),
                notified: false,
                closed: false,
            }),
            waker: Waker::new()?,
            handles: AtomicUsize::new(0),
            queued: AtomicBool::new(false),
        })
    }

    /// The inbox, even if a thread panicked while holding it: the inbox is a list and two
    /// flags, each update of which is complete before anything that could panic, so it is
    /// never left inconsistent.
    fn lock(&self) -> MutexGuard<'_, Inbox> {
        self.inbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether any `LoopHandle` exists.
    pub(crate) fn has_handles(&self) -> bool {
        self.handles.load(Ordering::Acquire) > 0
    }

    /// Whether calls are waiting in the inbox (sent before this question, if from this thread).
    #[inline]
    pub(crate) fn has_calls(&self) -> bool {
        self.queued.load(Ordering::Acquire)
    }

    /// Queues `call`, waking the loop if it has not been woken since it last looked.
    fn send<F>(&self, call: F) -> Result<(), LoopClosed<F>>
    where
        F: FnOnce(&mut EventLoop) + Send + 'static,
    {
        let mut inbox = self.lock();
        if inbox.closed {
            return Err(LoopClosed(call));
        }
        inbox.calls.push(Box::new(call));
        self.queued.store(true, Ordering::Release);
        let wake = !std::mem::replace(&mut inbox.notified, true);
        drop(inbox);
        if wake {
            self.waker.wake();
        }
        Ok(())
    }

    /// Wakes the loop (if it is not already being woken) so that it looks at its state again.
    fn nudge(&self) {
        let mut inbox = self.lock();
        let wake = !inbox.closed && !std::mem::replace(&mut inbox.notified, true);
        drop(inbox);
        if wake {
            self.waker.wake();
        }
    }

    /// Called by the loop when the wake-up fd is readable: empties it and takes the calls.
    ///
    /// The fd is emptied before the inbox is taken and `notified` cleared under the same lock,
    /// so a call queued after the take sees `notified == false` and writes the fd again: no call
    /// is left in the inbox without the fd being readable.
    pub(crate) fn take(&self, into: &mut Vec<SendFn>) {
        self.waker.reset();
        let mut inbox = self.lock();
        inbox.notified = false;
        self.queued.store(false, Ordering::Relaxed);
        into.append(&mut inbox.calls);
    }

    /// Called when the loop is dropped: refuses further calls and hands back those not run.
    pub(crate) fn close(&self) -> Vec<SendFn> {
        let mut inbox = self.lock();
        inbox.closed = true;
        std::mem::take(&mut inbox.calls)
    }
}

/// A handle to an [`EventLoop`] for other threads: asyncio's `call_soon_threadsafe` and a
/// `stop` that wakes a loop blocked in [`run`](EventLoop::run).
///
/// Made by [`EventLoop::handle`]; `Send`, `Sync` and cheap to clone. Callbacks sent through it
/// run on the loop's thread, on the loop's next turn, in the order they were sent (from one
/// thread; calls racing from several threads are ordered by who got the inbox's lock first),
/// each exactly once — unless the loop is dropped before it runs them: then they are dropped.
/// Once the loop is gone, calls are refused: [`call_soon_threadsafe`](Self::call_soon_threadsafe)
/// returns [`LoopClosed`] with the callback and [`stop`](Self::stop) returns `false`.
///
/// While a handle exists, [`run`](EventLoop::run) does not return just because nothing is
/// watched or scheduled (a handle may still send work): it waits until the work arrives, the
/// loop is stopped, or the last handle is dropped.
pub struct LoopHandle {
    shared: Arc<Shared>,
}

impl LoopHandle {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        shared.handles.fetch_add(1, Ordering::AcqRel);
        LoopHandle { shared }
    }

    /// Schedules `callback` to run on the loop's thread, as [`EventLoop::call_soon`] does,
    /// and wakes the loop if it is waiting.
    ///
    /// Fails, handing the callback back, if the loop has been dropped.
    pub fn call_soon_threadsafe<F>(&self, callback: F) -> Result<(), LoopClosed<F>>
    where
        F: FnOnce(&mut EventLoop) + Send + 'static,
    {
        self.shared.send(callback)
    }

    /// Stops the loop from any thread, as asyncio's `call_soon_threadsafe(loop.stop)`: it sends
    /// a callback that calls [`EventLoop::stop`], so a loop blocked in [`run`](EventLoop::run)
    /// wakes up, finishes that turn and returns; a loop not running returns from its next `run`
    /// after one turn. Sent by a callback of the loop itself, it stops the loop after the next
    /// turn, not the current one (that is [`EventLoop::stop`]). Returns `false` if the loop has
    /// been dropped.
    pub fn stop(&self) -> bool {
        self.shared.send(|ev: &mut EventLoop| ev.stop()).is_ok()
    }

    /// Whether the loop has been dropped (then every call is refused).
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed
    }
}

impl Clone for LoopHandle {
    fn clone(&self) -> Self {
        LoopHandle::new(Arc::clone(&self.shared))
    }
}

impl Drop for LoopHandle {
    fn drop(&mut self) {
        // The last handle gone may be all that kept `run` waiting: wake it to look again.
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.shared.nudge();
        }
    }
}

impl fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoopHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// The loop a [`LoopHandle`] points to has been dropped; holds the callback that was refused.
pub struct LoopClosed<T>(pub T);

impl<T> LoopClosed<T> {
    /// The callback that was refused.
    pub fn into_inner(self) -> T {
        self.0
    }
}

// By hand: callbacks are closures, which are not `Debug`.
impl<T> fmt::Debug for LoopClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LoopClosed(..)")
    }
}

impl<T> fmt::Display for LoopClosed<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event loop is closed")
    }
}

impl<T> std::error::Error for LoopClosed<T> {}
