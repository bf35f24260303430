//! Timestamps cheap enough to take on every contended acquisition.
//!
//! A contended acquisition takes three timestamps (arrival, acquisition, release), and
//! `std::time::Instant::now` (a vDSO call with a serialising counter read) would cost more than
//! the lock itself. [`quanta`] reads the CPU's time-stamp counter directly and calibrates it once
//! against the monotonic clock, so stored values are raw ticks and are turned into durations only
//! when a report is built.

use std::sync::OnceLock;
use std::time::Duration;

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// The process-wide clock. The first call calibrates the counter (a few milliseconds at most),
/// so locks call it when they are built with recording on, not on their first acquisition.
pub(crate) fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new)
}

/// The current time in raw ticks (not nanoseconds; see [`to_duration`]).
#[inline]
pub(crate) fn now() -> u64 {
    clock().raw()
}

/// Turns a number of raw ticks into a duration.
pub(crate) fn to_duration(ticks: u64) -> Duration {
    clock().delta(0, ticks)
}
