//! How many queries each server may still hold unread: a window per server on the datagrams
//! that can still sit in its receive buffer, so that a burst of lookups does not overflow it
//! (every datagram it drops costs its lookup a retransmission interval).
//!
//! A server reads its socket in order, so a reply to a query means that every query sent
//! before it has left the buffer too (read, or dropped): the window counts the queries sent
//! after the last one answered. A query nobody passes (a name that is never answered, a server
//! that is down) leaves the window after [`LINGER`], so unanswered names cannot hold it shut;
//! retransmissions go out without waiting for room and are not counted (see `wire::udp`).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use event_listener::{Event, EventListener, IntoNotification};

/// How long an unanswered query counts against the window at most: a server that has not read
/// a query by then is not draining a burst, and unanswered names must not hold the window.
pub(crate) const LINGER: Duration = Duration::from_millis(50);

/// The window of one server.
#[derive(Debug)]
pub(crate) struct Pipe {
    window: usize,
    state: Mutex<State>,
    room: Event,
}

#[derive(Debug, Default)]
struct State {
    /// The number the next query sent gets.
    next: u64,
    /// The highest number answered so far: the queries up to it have left the buffer.
    passed: u64,
    /// The queries counted against the window, oldest first, with the time each was sent.
    out: VecDeque<(u64, Instant)>,
}

impl State {
    /// Drops the queries that have left the buffer: passed by a reply, or lingering too long.
    fn trim(&mut self, now: Instant) -> usize {
        let before = self.out.len();
        while let Some(&(seq, sent)) = self.out.front() {
            if seq > self.passed && now < sent + LINGER {
                break;
            }
            self.out.pop_front();
        }
        before - self.out.len()
    }
}

impl Pipe {
    pub(crate) fn new(window: usize) -> Pipe {
        Pipe {
            window: window.max(1),
            state: Mutex::new(State {
                next: 1,
                ..State::default()
            }),
            room: Event::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Room for up to `want` queries sent now: the number of the first one and how many fit
    /// (at least one); or, when the window is full, a listener woken when a reply frees room
    /// and the time the oldest query stops counting.
    pub(crate) fn enter(&self, want: usize, now: Instant) -> Result<(u64, usize), Full> {
        let mut state = self.lock();
        state.trim(now);
        let room = self.window.saturating_sub(state.out.len()).min(want);
        if room == 0 {
            let oldest = state.out.front().map_or(now, |&(_, sent)| sent + LINGER);
            // Listening under the lock: a reply's notice cannot slip in between.
            return Err(Full {
                listener: self.room.listen(),
                until: oldest,
            });
        }
        let first = state.next;
        for seq in first..first + room as u64 {
            state.out.push_back((seq, now));
        }
        state.next += room as u64;
        Ok((first, room))
    }

    /// The number of the latest query let in: a copy sent again now counts as sent after it.
    pub(crate) fn latest(&self) -> u64 {
        self.lock().next - 1
    }

    /// A reply to query `seq`: it and every query sent before it are out of the buffer.
    pub(crate) fn answered(&self, seq: u64, now: Instant) {
        let freed = {
            let mut state = self.lock();
            state.passed = state.passed.max(seq);
            state.trim(now)
        };
        // Queries waiting for room listen under the lock taken above: none counted, none waits.
        if freed > 0 && self.room.total_listeners() > 0 {
            self.room.notify(freed.additional());
        }
    }
}

/// A full window: wait for `listener` (a reply freed room) or until `until` (the oldest query
/// stops counting), then ask again.
#[derive(Debug)]
pub(crate) struct Full {
    pub(crate) listener: EventListener,
    pub(crate) until: Instant,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_frees_the_queries_sent_before_it() {
        let pipe = Pipe::new(3);
        let now = Instant::now();
        assert_eq!(pipe.enter(2, now).unwrap(), (1, 2));
        assert_eq!(pipe.enter(5, now).unwrap(), (3, 1));
        assert!(pipe.enter(1, now).is_err());
        // Query 2 answered: 1 (never answered) has left the buffer too; 3 has not.
        pipe.answered(2, now);
        assert_eq!(pipe.enter(5, now).unwrap(), (4, 2));
        assert!(pipe.enter(1, now).is_err());
    }

    #[test]
    fn unanswered_queries_stop_counting_after_the_linger() {
        let pipe = Pipe::new(2);
        let now = Instant::now();
        assert_eq!(pipe.enter(2, now).unwrap(), (1, 2));
        let full = pipe.enter(1, now).unwrap_err();
        assert_eq!(full.until, now + LINGER);
        assert!(
            pipe.enter(1, now + LINGER - Duration::from_millis(1))
                .is_err()
        );
        assert_eq!(pipe.enter(3, now + LINGER).unwrap(), (3, 2));
    }

    #[test]
    fn a_late_reply_to_an_old_query_frees_nothing_new() {
        let pipe = Pipe::new(2);
        let now = Instant::now();
        pipe.enter(2, now).unwrap();
        pipe.answered(2, now);
        pipe.enter(2, now).unwrap();
        pipe.answered(1, now);
        assert!(pipe.enter(1, now).is_err());
    }
}
