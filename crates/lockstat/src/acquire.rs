//! The two pieces every wrapper is built from: [`Wait`], which watches an acquisition future
//! and tells the recorder whether it succeeded at once or waited, and [`Hold`], which lives in a
//! guard and records the hold time when the guard is dropped. Both reach the recorder through
//! a [`Recorder`]: a plain reference for borrowed guards, an `Arc` of the lock for owned ones.

use std::panic::Location;
use std::task::Poll;

use crate::recorder::{Arrival, HoldStart, Stats};

/// Where an acquisition stands.
#[derive(Debug)]
enum State {
    /// Not polled yet.
    Fresh,
    /// Waiting with recording off.
    Untracked,
    /// Waiting in line.
    Waiting(Arrival),
    /// Got the lock.
    Done,
}

/// A way to the recorder of a lock.
pub(crate) trait Recorder<const EXCLUSIVE: bool>: Clone {
    fn stats(&self) -> &Stats<EXCLUSIVE>;
}

impl<const EXCLUSIVE: bool> Recorder<EXCLUSIVE> for &Stats<EXCLUSIVE> {
    #[inline]
    fn stats(&self) -> &Stats<EXCLUSIVE> {
        self
    }
}

/// [`WaitOn`] for borrowed guards.
pub(crate) type Wait<'a, const EXCLUSIVE: bool> = WaitOn<&'a Stats<EXCLUSIVE>, EXCLUSIVE>;
/// [`HoldOn`] for borrowed guards.
pub(crate) type Hold<'a, const EXCLUSIVE: bool> = HoldOn<&'a Stats<EXCLUSIVE>, EXCLUSIVE>;

/// Follows one acquisition future of the lock `stats` leads to.
#[derive(Debug)]
pub(crate) struct WaitOn<S: Recorder<EXCLUSIVE>, const EXCLUSIVE: bool> {
    stats: S,
    site: &'static Location<'static>,
    state: State,
}

impl<S: Recorder<EXCLUSIVE>, const EXCLUSIVE: bool> WaitOn<S, EXCLUSIVE> {
    pub(crate) fn new(stats: S, site: &'static Location<'static>) -> Self {
        WaitOn {
            stats,
            site,
            state: State::Fresh,
        }
    }

    /// Takes the result of polling the inner future. A first poll that is ready is an
    /// acquisition without waiting (the inner future starts with a `try_lock`); a first poll
    /// that is pending makes this a waiter, which takes its ticket and arrival time now.
    ///
    /// Inlined into the caller's `poll`, which is inlined into the task like async-lock's own:
    /// an out-of-line `poll` costs a prologue and epilogue on every poll.
    #[inline(always)]
    pub(crate) fn on_poll<G>(&mut self, polled: Poll<G>) -> Poll<(G, HoldOn<S, EXCLUSIVE>)> {
        match polled {
            Poll::Ready(guard) => {
                // Matching on a copy and writing only `Done` back keeps the state from being
                // copied twice per acquisition, as `mem::replace` would.
                let start = match self.state {
                    State::Fresh => self.stats.stats().acquired_at_once(),
                    State::Waiting(arrival) => {
                        self.stats.stats().acquired_after_wait(arrival, self.site)
                    }
                    State::Untracked | State::Done => HoldStart::UNTIMED,
                };
                self.state = State::Done;
                Poll::Ready((
                    guard,
                    HoldOn {
                        stats: self.stats.clone(),
                        start,
                    },
                ))
            }
            Poll::Pending => {
                if let State::Fresh = self.state {
                    self.state = match self.stats.stats().arrived() {
                        Some(arrival) => State::Waiting(arrival),
                        None => State::Untracked,
                    };
                }
                Poll::Pending
            }
        }
    }
}

impl<S: Recorder<EXCLUSIVE>, const EXCLUSIVE: bool> Drop for WaitOn<S, EXCLUSIVE> {
    fn drop(&mut self) {
        // A waiter dropped before getting the lock leaves the line; without this the queue
        // length computed at later arrivals would count it forever.
        if let State::Waiting(_) = self.state {
            self.stats.stats().abandoned();
        }
    }
}

/// Lives in a guard: records the hold time when dropped. Guards declare it before the inner
/// guard so that it is dropped first, while the lock is still held.
#[derive(Debug)]
pub(crate) struct HoldOn<S: Recorder<EXCLUSIVE>, const EXCLUSIVE: bool> {
    stats: S,
    /// When the hold started, unless it is not timed.
    start: HoldStart,
}

impl<S: Recorder<EXCLUSIVE>, const EXCLUSIVE: bool> HoldOn<S, EXCLUSIVE> {
    /// The hold of a successful `try_*` acquisition: it did not wait.
    #[inline]
    pub(crate) fn at_once(stats: S) -> Self {
        let start = stats.stats().acquired_at_once();
        HoldOn { stats, start }
    }

    /// The way to the recorder, which for a mutex's guards is the mutex itself.
    pub(crate) fn recorder(&self) -> &S {
        &self.stats
    }
}

impl<S: Recorder<EXCLUSIVE>, const EXCLUSIVE: bool> Drop for HoldOn<S, EXCLUSIVE> {
    #[inline]
    fn drop(&mut self) {
        if self.start.is_timed() {
            self.stats.stats().released(self.start);
        }
    }
}
