//! The recorder every wrapper shares: what happens on arrival, acquisition, release and
//! cancellation, kept in counters and histograms that [`Stats::report`] turns into a
//! [`Report`]. What each step costs, and why times are sampled, is the crate doc's
//! "Recording, and what it costs".

use std::fmt;
use std::panic::Location;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering::Relaxed};

use crate::clock;
use crate::{Histogram, Report, SiteReport};

/// Adds to a counter: with a plain load and store when the caller holds the lock exclusively,
/// with an atomic increment otherwise.
#[inline]
fn bump<const EXCLUSIVE: bool>(counter: &AtomicU64, by: u64) {
    if EXCLUSIVE {
        counter.store(counter.load(Relaxed) + by, Relaxed);
    } else {
        counter.fetch_add(by, Relaxed);
    }
}

/// Raises a maximum.
#[inline]
fn raise<const EXCLUSIVE: bool>(max: &AtomicU64, value: u64) {
    if value > max.load(Relaxed) {
        if EXCLUSIVE {
            max.store(value, Relaxed);
        } else {
            max.fetch_max(value, Relaxed);
        }
    }
}

/// How much a lock records; see the crate documentation for what each costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Recording {
    /// Nothing is recorded; an acquisition costs one extra relaxed load.
    Off = 0,
    /// Every acquisition is counted; the first 256 are timed, then one in 8, picked
    /// pseudo-randomly, each standing for 8 in the times (the default).
    #[default]
    Sampled = 1,
    /// Every acquisition is counted and timed.
    Every = 2,
}

/// With [`Recording::Sampled`], acquisitions (and arrival tickets) below this are all timed.
pub const EXACT_FIRST: u64 = 256;
/// With [`Recording::Sampled`], one acquisition in this many is timed after the first
/// [`EXACT_FIRST`].
pub const ONE_IN: u64 = 8;

impl Recording {
    /// The mode stored as `u8` by [`Stats`]; only values written from a `Recording` are read
    /// back, so the last arm is `Every` itself, and the match compiles to a move.
    #[inline]
    fn from_u8(v: u8) -> Recording {
        match v {
            0 => Recording::Off,
            1 => Recording::Sampled,
            _ => Recording::Every,
        }
    }

    /// How much the event numbered `n` (a ticket or an acquisition number) weighs in the times:
    /// 0 if it is not timed. Only asked with recording on (`Off` was ruled out before), so that
    /// it is two compares on the hot path.
    #[inline]
    fn weight(self, n: u64) -> u64 {
        debug_assert!(self != Recording::Off);
        if self == Recording::Every || n < EXACT_FIRST {
            1
        } else if n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 61 == 0 {
            // The top bits of a Fibonacci hash: consecutive numbers spread evenly, so tasks
            // that take turns are sampled alike.
            ONE_IN
        } else {
            0
        }
    }
}

/// How many distinct call sites are told apart; waits from further sites are counted together.
const SITES: usize = 16;

/// The waits that started at one call site.
#[derive(Default)]
struct Site {
    at: OnceLock<&'static Location<'static>>,
    waits: AtomicU64,
    total: AtomicU64,
    max: AtomicU64,
}

/// The contention recorder of one lock (or one mode of a lock). `EXCLUSIVE` says that at most one
/// holder records at a time: updates made while holding then use plain loads and stores, since
/// the lock orders them; only the arrival ticket and cancellations, which happen outside the
/// lock, need atomic increments.
pub(crate) struct Stats<const EXCLUSIVE: bool> {
    /// A [`Recording`] as a number.
    mode: AtomicU8,
    acquisitions: AtomicU64,
    contended: AtomicU64,
    /// Arrival tickets: one per waiter, in the order the waiters arrived.
    next_ticket: AtomicU64,
    /// The highest ticket (or, for an acquisition that did not wait, the next ticket to be
    /// handed out) that has been granted the lock. A waiter whose ticket is below it was
    /// overtaken by a later arrival.
    max_granted: AtomicU64,
    overtakes: AtomicU64,
    /// Waiters that gave up (their future was dropped) before getting the lock.
    abandoned: AtomicU64,
    /// Waiters that left the line (served or gave up) before the last [`reset`](Stats::reset):
    /// tickets keep counting across a reset, so the queue length needs them too.
    left_before_reset: AtomicU64,
    longest_queue: AtomicU64,
    wait: Histogram,
    hold: Histogram,
    sites: [Site; SITES],
    /// Waits from call sites beyond the first `SITES`.
    other_sites: Site,
}

/// A waiter's place in line: its ticket, and when it arrived if its wait is timed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Arrival {
    ticket: u64,
    /// The recording mode when the waiter arrived: the hold is sampled under the same mode, so
    /// an acquisition under way finishes recording the way it started.
    mode: Recording,
    since: u64,
    /// How much the wait weighs in the times (0: not timed).
    weight: u64,
}

/// A hold: when it started and how much it weighs in the times (0: not timed). No `Option`,
/// so that a guard stays two words and a check is one compare.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HoldStart {
    start: u64,
    weight: u64,
}

impl HoldStart {
    /// A hold that is not timed.
    pub(crate) const UNTIMED: HoldStart = HoldStart {
        start: 0,
        weight: 0,
    };

    #[inline(always)]
    pub(crate) fn is_timed(self) -> bool {
        self.weight != 0
    }
}

impl<const EXCLUSIVE: bool> Stats<EXCLUSIVE> {
    pub(crate) fn new(recording: Recording) -> Self {
        if recording != Recording::Off {
            // Calibrate the clock now rather than inside the first acquisition.
            clock::clock();
        }
        Stats {
            mode: AtomicU8::new(recording as u8),
            acquisitions: AtomicU64::new(0),
            contended: AtomicU64::new(0),
            next_ticket: AtomicU64::new(0),
            max_granted: AtomicU64::new(0),
            overtakes: AtomicU64::new(0),
            abandoned: AtomicU64::new(0),
            left_before_reset: AtomicU64::new(0),
            longest_queue: AtomicU64::new(0),
            wait: Histogram::new(),
            hold: Histogram::new(),
            sites: Default::default(),
            other_sites: Site::default(),
        }
    }

    #[inline]
    pub(crate) fn recording(&self) -> Recording {
        Recording::from_u8(self.mode.load(Relaxed))
    }

    pub(crate) fn set_recording(&self, recording: Recording) {
        if recording != Recording::Off {
            clock::clock();
        }
        self.mode.store(recording as u8, Relaxed);
    }

    /// Counts an acquisition; returns its number, from 0.
    #[inline]
    fn count_acquisition(&self) -> u64 {
        if EXCLUSIVE {
            let n = self.acquisitions.load(Relaxed);
            self.acquisitions.store(n + 1, Relaxed);
            n
        } else {
            self.acquisitions.fetch_add(1, Relaxed)
        }
    }

    /// Starts timing a hold if acquisition `n` is to be timed; `now` is a clock read already
    /// made at this instant, if any.
    #[inline]
    fn hold_start(&self, mode: Recording, n: u64, now: Option<u64>) -> HoldStart {
        match mode.weight(n) {
            0 => HoldStart::UNTIMED,
            weight => HoldStart {
                start: now.unwrap_or_else(clock::now),
                weight,
            },
        }
    }

    /// An acquisition that did not wait; called while holding. Returns the hold's start if it
    /// is timed.
    #[inline]
    pub(crate) fn acquired_at_once(&self) -> HoldStart {
        match self.recording() {
            Recording::Off => HoldStart::UNTIMED,
            mode => self.record_at_once(mode),
        }
    }

    /// [`acquired_at_once`](Stats::acquired_at_once) with recording on.
    #[inline]
    fn record_at_once(&self, mode: Recording) -> HoldStart {
        let n = self.count_acquisition();
        // Anyone still waiting has just been overtaken: raise the mark past every ticket handed
        // out so far. When nobody waits this changes nothing, since every lower ticket was
        // already granted.
        raise::<EXCLUSIVE>(&self.max_granted, self.next_ticket.load(Relaxed));
        self.hold_start(mode, n, None)
    }

    /// A waiter arrives: the first attempt failed and it is about to sleep. Returns its place
    /// in line, or `None` with recording off.
    #[inline]
    pub(crate) fn arrived(&self) -> Option<Arrival> {
        match self.recording() {
            Recording::Off => None,
            mode => Some(self.record_arrival(mode)),
        }
    }

    /// [`arrived`](Stats::arrived) with recording on.
    #[inline]
    fn record_arrival(&self, mode: Recording) -> Arrival {
        let ticket = self.next_ticket.fetch_add(1, Relaxed);
        // Waiters in line, this one included: arrivals minus those that got the lock or left.
        // Exact on one thread; across threads the two loads may be slightly stale.
        let gone = self.left_before_reset.load(Relaxed)
            + self.contended.load(Relaxed)
            + self.abandoned.load(Relaxed);
        let queue = (ticket + 1).saturating_sub(gone);
        if queue > self.longest_queue.load(Relaxed) {
            self.longest_queue.fetch_max(queue, Relaxed);
        }
        let weight = mode.weight(ticket);
        Arrival {
            ticket,
            mode,
            since: if weight > 0 { clock::now() } else { 0 },
            weight,
        }
    }

    /// A waiter got the lock; called while holding. Returns the hold's start if it is timed.
    #[inline]
    pub(crate) fn acquired_after_wait(
        &self,
        arrival: Arrival,
        site: &'static Location<'static>,
    ) -> HoldStart {
        let n = self.count_acquisition();
        bump::<EXCLUSIVE>(&self.contended, 1);
        // A later arrival got the lock before this waiter.
        if self.max_granted.load(Relaxed) > arrival.ticket {
            bump::<EXCLUSIVE>(&self.overtakes, 1);
        }
        raise::<EXCLUSIVE>(&self.max_granted, arrival.ticket);
        let site = self.site(site);
        bump::<EXCLUSIVE>(&site.waits, 1);
        let mut now = None;
        if arrival.weight > 0 {
            let t = clock::now();
            now = Some(t);
            let waited = t.saturating_sub(arrival.since);
            if EXCLUSIVE {
                self.wait.record_exclusive(waited, arrival.weight);
            } else {
                self.wait.record_weighted(waited, arrival.weight);
            }
            bump::<EXCLUSIVE>(&site.total, waited * arrival.weight);
            raise::<EXCLUSIVE>(&site.max, waited);
        }
        // Holds are sampled by acquisition number, whether or not the wait was timed.
        self.hold_start(arrival.mode, n, now)
    }

    /// A waiter gave up before getting the lock.
    #[cold]
    pub(crate) fn abandoned(&self) {
        self.abandoned.fetch_add(1, Relaxed);
    }

    /// A timed hold ends; called while still holding.
    #[inline(never)]
    pub(crate) fn released(&self, hold: HoldStart) {
        let held = clock::now().saturating_sub(hold.start);
        if EXCLUSIVE {
            self.hold.record_exclusive(held, hold.weight);
        } else {
            self.hold.record_weighted(held, hold.weight);
        }
    }

    /// The slot of a call site: found by hashing its line and column, then probing.
    #[inline]
    fn site(&self, at: &'static Location<'static>) -> &Site {
        let start = (at.line() as usize)
            .wrapping_mul(31)
            .wrapping_add(at.column() as usize);
        for i in 0..SITES {
            let site = &self.sites[(start + i) % SITES];
            let here = match site.at.get() {
                Some(here) => *here,
                None => *site.at.get_or_init(|| at),
            };
            // The same call site is usually the same static; compare the text only if not.
            if std::ptr::eq(here, at) || *here == *at {
                return site;
            }
        }
        &self.other_sites
    }

    /// How many holds the hold histogram stands for.
    #[cfg(test)]
    pub(crate) fn hold_count(&self) -> u64 {
        self.hold.count()
    }

    pub(crate) fn reset(&self) {
        // Tickets keep counting so that waiters already in line keep their place: the count of
        // those that left moves to `left_before_reset`, and `max_granted` stays (re-basing it
        // to the next ticket counted every waiter in line at the reset as overtaken).
        let left = self.contended.load(Relaxed) + self.abandoned.load(Relaxed);
        self.left_before_reset.fetch_add(left, Relaxed);
        for counter in [
            &self.acquisitions,
            &self.contended,
            &self.overtakes,
            &self.abandoned,
            &self.longest_queue,
        ] {
            counter.store(0, Relaxed);
        }
        self.wait.reset();
        self.hold.reset();
        for site in self.sites.iter().chain([&self.other_sites]) {
            site.waits.store(0, Relaxed);
            site.total.store(0, Relaxed);
            site.max.store(0, Relaxed);
        }
    }

    pub(crate) fn report(&self) -> Report {
        let d = clock::to_duration;
        let mut sites: Vec<SiteReport> = self
            .sites
            .iter()
            .filter_map(|s| Some((Some(s.at.get()?.to_string()), s)))
            .chain([(None, &self.other_sites)])
            .filter(|(_, s)| s.waits.load(Relaxed) > 0)
            .map(|(location, s)| SiteReport {
                location,
                waits: s.waits.load(Relaxed),
                total_wait: d(s.total.load(Relaxed)),
                max_wait: d(s.max.load(Relaxed)),
            })
            .collect();
        sites.sort_by(|a, b| {
            b.total_wait
                .cmp(&a.total_wait)
                .then(a.location.cmp(&b.location))
        });
        Report {
            recording: self.recording(),
            sampled: self.recording() == Recording::Sampled
                && self
                    .acquisitions
                    .load(Relaxed)
                    .max(self.next_ticket.load(Relaxed))
                    > EXACT_FIRST,
            acquisitions: self.acquisitions.load(Relaxed),
            contended: self.contended.load(Relaxed),
            wait_p50: d(self.wait.percentile(0.5)),
            wait_p99: d(self.wait.percentile(0.99)),
            wait_max: d(self.wait.max()),
            wait_total: d(self.wait.sum()),
            hold_p50: d(self.hold.percentile(0.5)),
            hold_max: d(self.hold.max()),
            hold_total: d(self.hold.sum()),
            overtakes: self.overtakes.load(Relaxed),
            abandoned: self.abandoned.load(Relaxed),
            longest_queue: self.longest_queue.load(Relaxed),
            sites,
        }
    }
}

impl<const EXCLUSIVE: bool> fmt::Debug for Stats<EXCLUSIVE> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stats")
            .field("recording", &self.recording())
            .field("acquisitions", &self.acquisitions.load(Relaxed))
            .field("contended", &self.contended.load(Relaxed))
            .finish_non_exhaustive()
    }
}
