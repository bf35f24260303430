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
//! Where the cost goes: an acquisition that succeeds at once updates two counters; a waiter
//! takes its ticket with one atomic increment. Updates made while an exclusive lock is held use
//! plain stores, since the lock orders them; shared modes (readers, semaphore permits) use
//! atomic increments. The clock is the CPU's time-stamp counter through [`quanta`] (a few ns
//! per read, calibrated once per process, which takes a few milliseconds when the first
//! recording lock is built). Percentiles come from a log-linear [`Histogram`] of atomic
//! counters: no allocation per acquisition, no lock of its own.
//! Measured costs are in the repository's `benches/README.md` (`cargo bench --bench lock`).
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
//! - For readers of an [`RwLock`] and permits of a [`Semaphore`], several holders can hold at
//!   once, so "overtakes" only means a later arrival was served first, not that it was unfair.
//!
//! # What differs from `async_lock`
//!
//! The same names and signatures as `async_lock` 3, the guards' `source` and the `*_blocking`
//! variants included (these block on the async acquisition and are recorded like it), with
//! these exceptions:
//!
//! - **`new` is not a `const fn`**, so a lock cannot be built in a `static` initialiser: use
//!   `static M: LazyLock<Mutex<T>> = LazyLock::new(|| Mutex::new(..))`. Each lock keeps
//!   `async_lock`'s lock in an `Arc` of its own, because the owned guards (`lock_arc`,
//!   `read_arc`, `write_arc`, `acquire_arc`) are `async_lock`'s owned guards, which need that
//!   `Arc`; `Arc::new` is not `const`, and holding the lock inline instead would need a
//!   self-referential guard, which takes `unsafe` code (this crate has none).
//! - **No unsized values**: `Arc<Mutex<[u8; 3]>>` does not coerce to `Arc<Mutex<[u8]>>`, and
//!   `Mutex<dyn Trait>` cannot be made, since the value sits behind that inner `Arc`. Use
//!   `Mutex<Vec<u8>>`, `Mutex<Box<[u8]>>` or `Mutex<Box<dyn Trait>>`.
//! - **[`RwLock`] has no owned upgradable reads** (`upgradable_read_arc` and its `try_` and
//!   `_blocking` forms, `RwLockUpgradableReadGuardArc`, `UpgradeArc`) and no `downgrade` or
//!   `downgrade_to_upgradable` on its guards; owned guards need `T: Sized`.
//! - **The futures are this crate's types** ([`Lock`], [`Read`], [`Acquire`], ...), exported
//!   at the crate root rather than in a `futures` module; the guards' `source` returns this
//!   crate's lock.
//! - **`Debug` of a lock** shows the recorder's counts next to the inner lock.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod acquire;
mod clock;
mod histogram;
mod mutex;
mod recorder;
mod report;
mod rwlock;
mod semaphore;

pub use histogram::Histogram;
pub use mutex::{Lock, LockArc, Mutex, MutexGuard, MutexGuardArc};
pub use recorder::{EXACT_FIRST, ONE_IN, Recording};
pub use report::{Report, SiteReport};
pub use rwlock::{
    Read, ReadArc, RwLock, RwLockReadGuard, RwLockReadGuardArc, RwLockReport,
    RwLockUpgradableReadGuard, RwLockWriteGuard, RwLockWriteGuardArc, UpgradableRead, Upgrade,
    Write, WriteArc,
};
pub use semaphore::{Acquire, AcquireArc, Semaphore, SemaphoreGuard, SemaphoreGuardArc};

#[cfg(test)]
mod tests;
