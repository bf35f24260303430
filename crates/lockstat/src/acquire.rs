//! The two pieces every wrapper is built from: [`Wait`], which watches an acquisition future
//! and tells the recorder whether it succeeded at once or waited, and [`Hold`], which lives in a
//! guard and records the hold time when the guard is dropped.

use std::mem;
use std::panic::Location;
use std::task::Poll;

use crate::Recording;
use crate::stats::{Arrival, HoldStart, Stats};

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

/// Follows one acquisition future of the lock `stats` belongs to.
#[derive(Debug)]
pub(crate) struct Wait<'a, const EXCLUSIVE: bool> {
    stats: &'a Stats<EXCLUSIVE>,
    site: &'static Location<'static>,
    state: State,
}

impl<'a, const EXCLUSIVE: bool> Wait<'a, EXCLUSIVE> {
    pub(crate) fn new(stats: &'a Stats<EXCLUSIVE>, site: &'static Location<'static>) -> Self {
        Wait {
            stats,
            site,
            state: State::Fresh,
        }
    }

    /// Takes the result of polling the inner future. A first poll that is ready is an
    /// acquisition without waiting (the inner future starts with a `try_lock`); a first poll
    /// that is pending makes this a waiter, which takes its ticket and arrival time now.
    #[inline]
    pub(crate) fn on_poll<G>(&mut self, polled: Poll<G>) -> Poll<(G, Hold<'a, EXCLUSIVE>)> {
        match polled {
            Poll::Ready(guard) => {
                let start = match mem::replace(&mut self.state, State::Done) {
                    State::Fresh => match self.stats.recording() {
                        Recording::Off => None,
                        mode => self.stats.acquired_at_once(mode),
                    },
                    State::Waiting(arrival) => self.stats.acquired_after_wait(arrival, self.site),
                    State::Untracked | State::Done => None,
                };
                Poll::Ready((
                    guard,
                    Hold {
                        stats: self.stats,
                        start,
                    },
                ))
            }
            Poll::Pending => {
                if let State::Fresh = self.state {
                    self.state = match self.stats.recording() {
                        Recording::Off => State::Untracked,
                        mode => State::Waiting(self.stats.arrived(mode)),
                    };
                }
                Poll::Pending
            }
        }
    }
}

impl<const EXCLUSIVE: bool> Drop for Wait<'_, EXCLUSIVE> {
    fn drop(&mut self) {
        // A waiter dropped before getting the lock leaves the line; without this the queue
        // length computed at later arrivals would count it forever.
        if let State::Waiting(_) = self.state {
            self.stats.abandoned();
        }
    }
}

/// Lives in a guard: records the hold time when dropped. Guards declare it before the inner
/// guard so that it is dropped first, while the lock is still held.
#[derive(Debug)]
pub(crate) struct Hold<'a, const EXCLUSIVE: bool> {
    stats: &'a Stats<EXCLUSIVE>,
    /// When the hold started, or `None` if it is not timed.
    start: Option<HoldStart>,
}

impl<'a, const EXCLUSIVE: bool> Hold<'a, EXCLUSIVE> {
    /// The hold of a successful `try_*` acquisition: it did not wait.
    #[inline]
    pub(crate) fn at_once(stats: &'a Stats<EXCLUSIVE>) -> Self {
        let start = match stats.recording() {
            Recording::Off => None,
            mode => stats.acquired_at_once(mode),
        };
        Hold { stats, start }
    }
}

impl<const EXCLUSIVE: bool> Drop for Hold<'_, EXCLUSIVE> {
    #[inline]
    fn drop(&mut self) {
        if let Some(start) = self.start {
            self.stats.released(start);
        }
    }
}
