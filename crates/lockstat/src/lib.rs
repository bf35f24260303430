//! Async locks that make their contention visible: [`Mutex`], [`RwLock`] and [`Semaphore`]
//! wrap the ones of [`async_lock`] with the same API and record who waited and how long, the
//! order waiters arrived in against the order they got the lock (overtakes), how long the lock
//! was held, and the longest queue. [`Mutex::report`] returns a [`Report`]: a plain struct for
//! programs whose `Display` is a readable summary.
//!
//! ```
//! use std::rc::Rc;
//!
//! # futures_lite::future::block_on(async {
//! let ex = smol::LocalExecutor::new();
//! let counter = Rc::new(tulip_lockstat::Mutex::new(0));
//! let tasks: Vec<_> = (0..3)
//!     .map(|_| {
//!         let counter = counter.clone();
//!         ex.spawn(async move {
//!             let mut n = counter.lock().await;
//!             // Hold the lock across a yield point, so the other tasks queue up.
//!             futures_lite::future::yield_now().await;
//!             *n += 1;
//!         })
//!     })
//!     .collect();
//! ex.run(async {
//!     for t in tasks {
//!         t.await;
//!     }
//! })
//! .await;
//!
//! let report = counter.report();
//! assert_eq!(report.acquisitions, 3);
//! assert_eq!(report.contended, 2); // the first task got it at once, the others waited
//! assert_eq!(report.longest_queue, 2);
//! assert_eq!(report.overtakes, 0); // async-lock handed it over in arrival order
//! println!("{report}");
//! # });
//! ```
//!
//! # What is recorded
//!
//! - **Acquisitions and contended acquisitions.** An acquisition is contended when its first
//!   attempt fails and the task has to wait.
//! - **Waits** (p50, p99, max, total) of contended acquisitions, from the failed first attempt
//!   to getting the lock.
//! - **Who waited**: each contended acquisition is attributed to its call site (`file:line:col`
//!   of the `lock()`/`read()`/`write()`/`acquire()` call, captured with `#[track_caller]`), with
//!   the number of waits, their total and their maximum. Call sites name the code that queues
//!   without asking the caller to label anything; the first 16 sites are told apart.
//! - **Overtakes**: each waiter takes a ticket when it starts waiting. A waiter that gets the
//!   lock while a later ticket has already been served was overtaken; so was every waiter still
//!   queued when a task takes the lock without waiting (barging in).
//! - **Hold times** (p50, max, total), from acquisition to guard drop.
//! - **Longest queue**: the most tasks waiting at once.
//!
//! # Recording, and what it costs
//!
//! [`Recording::Sampled`] (the default of `new`) counts every acquisition exactly (acquisitions,
//! contended, overtakes, queue, waits per call site) and times the first [`EXACT_FIRST`] (256)
//! acquisitions, then one in [`ONE_IN`] (8), picked by a hash of the arrival ticket (waits) or
//! acquisition number (holds); each sample stands for 8 in the percentiles and totals, and the
//! report says when its times are sampled. Timing costs a clock read per event (arrival,
//! acquisition, release): on a lock handed over a few million times a second, reading the clock
//! three times per acquisition costs more than the rest of the recording together.
//! [`Recording::Every`] times every acquisition; [`Recording::Off`] records nothing. Choose with
//! [`Mutex::with_recording`] or switch at run time with [`Mutex::set_recording`] (likewise for
//! the other locks).
//!
//! On the lock benchmark (100 tasks on one thread, 1,000,000 acquisitions held across a yield
//! point, nearly all contended, so each acquisition costs only ~200 ns; `cargo bench --bench
//! lock`), a bare `async_lock::Mutex` acquisition runs about 2,100 instructions; lockstat adds
//! 40 with recording off, 176 sampled and 273 timing every acquisition (counted with callgrind,
//! which repeats exactly). In time (medians of 7 interleaved rounds, six runs on a shared 2-core
//! machine): off 0.89-1.03x a bare mutex, sampled 0.74-0.90x, timing every acquisition
//! 0.79-0.85x. Timing everything is not the default because of the clock: three reads of the
//! time-stamp counter per acquisition at ~10 ns each (measured on the benchmark's machine) are
//! a tenth of an acquisition by themselves. When the lock guards real work the share is smaller.
//!
//! Where the cost goes: an acquisition that succeeds at once updates two counters; a waiter
//! takes its ticket with one atomic increment. Updates made while an exclusive lock is held use
//! plain stores, since the lock orders them; shared modes (readers, semaphore permits) use
//! atomic increments. The clock is the CPU's time-stamp counter through [`quanta`] (a few ns
//! per read, calibrated once per process, which takes a few milliseconds when the first
//! recording lock is built). Percentiles come from a log-linear [`Histogram`] of atomic
//! counters: no allocation per acquisition, no lock of its own.
//!
//! # When not to use it
//!
//! - In the hottest locks of production code, the few ns per acquisition may still matter:
//!   build the lock with [`Recording::Off`] and switch recording on when investigating.
//! - Sampled times (after the first 256 acquisitions) are estimates: a rare long wait can be
//!   missed by the maximum. Use [`Recording::Every`] when the exact worst case matters.
//! - It measures one lock at a time. It does not find deadlocks, lock-order inversions, or
//!   waits on anything that is not one of these locks (channels, I/O).
//! - Counts across threads are exact, but the queue length is computed from two counters read
//!   at different moments, so with many threads contending it can be off by a few.
//! - There are owned guards (`lock_arc`, `read_arc`, `write_arc`, `acquire_arc`) but no owned
//!   upgradable reads and no blocking variants (`lock_blocking`): use `async_lock` directly
//!   where you need those.
//! - For readers of an [`RwLock`] and permits of a [`Semaphore`], several holders can hold at
//!   once, so "overtakes" only means a later arrival was served first, not that it was unfair.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod acquire;
mod clock;
mod histogram;
mod mutex;
mod rwlock;
mod semaphore;
mod stats;

pub use histogram::Histogram;
pub use mutex::{Lock, LockArc, Mutex, MutexGuard, MutexGuardArc};
pub use rwlock::{
    Read, ReadArc, RwLock, RwLockReadGuard, RwLockReadGuardArc, RwLockReport,
    RwLockUpgradableReadGuard, RwLockWriteGuard, RwLockWriteGuardArc, UpgradableRead, Upgrade,
    Write, WriteArc,
};
pub use semaphore::{Acquire, AcquireArc, Semaphore, SemaphoreGuard, SemaphoreGuardArc};
pub use stats::{EXACT_FIRST, ONE_IN, Recording, Report, SiteReport};

#[cfg(test)]
mod tests;
