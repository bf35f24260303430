//! [`Report`]: what a lock recorded, as plain data, and its readable text.

use std::fmt;
use std::time::Duration;

use crate::{EXACT_FIRST, ONE_IN, Recording};

/// What a lock recorded, as plain data for programs; its [`Display`](fmt::Display) is the
/// readable text.
///
/// Acquisitions are counted when the lock is obtained, hold times when it is released, so a
/// report taken while a guard is alive counts that acquisition but not its hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Report {
    /// How the lock was recording when the report was taken.
    pub recording: Recording,
    /// Whether the times are estimates from samples ([`Recording::Sampled`] after the first
    /// [`EXACT_FIRST`] acquisitions): percentiles and totals then weigh each sample
    /// [`ONE_IN`] times, and maxima are the largest sampled. Counts are always exact.
    pub sampled: bool,
    /// Successful acquisitions (including `try_*` successes).
    pub acquisitions: u64,
    /// Acquisitions whose first attempt failed, so the caller waited.
    pub contended: u64,
    /// Median wait of the contended acquisitions (zero if none was timed).
    pub wait_p50: Duration,
    /// 99th percentile wait of the contended acquisitions.
    pub wait_p99: Duration,
    /// Longest wait.
    pub wait_max: Duration,
    /// All waits added up: the time tasks spent queued on this lock.
    pub wait_total: Duration,
    /// Median hold time.
    pub hold_p50: Duration,
    /// Longest hold time.
    pub hold_max: Duration,
    /// All hold times added up.
    pub hold_total: Duration,
    /// Waiters that got the lock after someone who arrived later than they did (a task that
    /// took the lock without waiting while others were queued counts as overtaking them all).
    pub overtakes: u64,
    /// Waiters that gave up (their future was dropped) before getting the lock.
    pub abandoned: u64,
    /// The most waiters queued at once (not counting the holder).
    pub longest_queue: u64,
    /// Who waited: the call sites of the contended acquisitions, longest total wait first.
    pub sites: Vec<SiteReport>,
}

/// The waits that started at one call site of `lock`, `read`, `write`, `acquire`, ...
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteReport {
    /// `file:line:column` of the call, or `None` for the sites beyond the first 16, which are
    /// counted together.
    pub location: Option<String>,
    /// Contended acquisitions from this site.
    pub waits: u64,
    /// Their waits added up.
    pub total_wait: Duration,
    /// The longest of them.
    pub max_wait: Duration,
}

impl Report {
    /// The share of acquisitions that had to wait, from 0.0 to 1.0.
    pub fn contention(&self) -> f64 {
        if self.acquisitions == 0 {
            0.0
        } else {
            self.contended as f64 / self.acquisitions as f64
        }
    }
}

/// A duration in the unit that keeps 3 significant digits: `840ns`, `12.5µs`, `3.20ms`, `1.00s`.
pub(crate) struct Human(pub(crate) Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0.as_nanos() as f64;
        let (value, unit) = if ns < 1e3 {
            return write!(f, "{ns}ns");
        } else if ns < 1e6 {
            (ns / 1e3, "µs")
        } else if ns < 1e9 {
            (ns / 1e6, "ms")
        } else {
            (ns / 1e9, "s")
        };
        let decimals = if value < 10.0 {
            2
        } else if value < 100.0 {
            1
        } else {
            0
        };
        write!(f, "{value:.decimals$}{unit}")
    }
}

impl fmt::Display for Report {
    /// One line per item, with no line break after the last, so that `println!("{report}")`
    /// prints no blank line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.recording == Recording::Off && self.acquisitions == 0 {
            return f.write_str("recording is off: nothing recorded");
        }
        write!(f, "acquisitions   {}", self.acquisitions)?;
        write!(
            f,
            "\ncontended      {} ({:.1}%)",
            self.contended,
            self.contention() * 100.0
        )?;
        write!(
            f,
            "\nwait           p50 {}  p99 {}  max {}  total {}",
            Human(self.wait_p50),
            Human(self.wait_p99),
            Human(self.wait_max),
            Human(self.wait_total)
        )?;
        write!(
            f,
            "\nhold           p50 {}  max {}  total {}",
            Human(self.hold_p50),
            Human(self.hold_max),
            Human(self.hold_total)
        )?;
        write!(f, "\novertakes      {}", self.overtakes)?;
        if self.abandoned > 0 {
            write!(f, "\nabandoned      {}", self.abandoned)?;
        }
        write!(f, "\nlongest queue  {}", self.longest_queue)?;
        if !self.sites.is_empty() {
            f.write_str("\nwaits by call site:")?;
            for site in &self.sites {
                write!(
                    f,
                    "\n  {}  {} wait{}, total {}, max {}",
                    site.location.as_deref().unwrap_or("(other sites)"),
                    site.waits,
                    if site.waits == 1 { "" } else { "s" },
                    Human(site.total_wait),
                    Human(site.max_wait)
                )?;
            }
        }
        if self.sampled {
            write!(
                f,
                "\n(times sampled: the first {EXACT_FIRST} acquisitions, then 1 in {ONE_IN}; \
                 counts exact)"
            )?;
        }
        if self.recording == Recording::Off {
            f.write_str("\n(recording is off now)")?;
        }
        Ok(())
    }
}
