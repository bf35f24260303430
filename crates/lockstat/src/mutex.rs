//! [`Mutex`]: `async_lock::Mutex` with contention recording.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::acquire::{HoldOn, Recorder, WaitOn};
use crate::recorder::Stats;
use crate::{Recording, Report};

/// An async mutex that records its contention: [`async_lock::Mutex`] plus a recorder.
///
/// The API follows `async_lock::Mutex` (`lock`, `lock_blocking`, `try_lock`, `lock_arc`,
/// `lock_arc_blocking`, `try_lock_arc`, `get_mut`, `into_inner`, `From<T>`, the guards'
/// `source`; the crate doc lists what differs); the guards deref to the value.
/// [`report`](Mutex::report) says what was recorded.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let m = tulip_lockstat::Mutex::new(0);
/// *m.lock().await += 1;
/// assert_eq!(*m.lock().await, 1);
/// let report = m.report();
/// assert_eq!((report.acquisitions, report.contended), (2, 0));
/// # });
/// ```
pub struct Mutex<T: ?Sized> {
    stats: Stats<true>,
    /// In an `Arc` of its own so that owned guards ([`Mutex::lock_arc`]) can hold it: they need
    /// `async_lock`'s owned guard, which needs an `Arc` of `async_lock`'s mutex.
    inner: Arc<async_lock::Mutex<T>>,
}

impl<T> Mutex<T> {
    /// A mutex holding `value`, recording with [`Recording::Sampled`].
    pub fn new(value: T) -> Mutex<T> {
        Mutex::with_recording(value, Recording::Sampled)
    }

    /// A mutex holding `value`, recording or not; see [`set_recording`](Mutex::set_recording).
    pub fn with_recording(value: T, recording: Recording) -> Mutex<T> {
        Mutex {
            stats: Stats::new(recording),
            inner: Arc::new(async_lock::Mutex::new(value)),
        }
    }

    /// Consumes the mutex and returns the value.
    pub fn into_inner(self) -> T {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner.into_inner(),
            // Only owned guards and `lock_arc` futures share `inner`, and each of them also
            // holds an `Arc` of this mutex, which cannot be owned while they live.
            Err(_) => unreachable!("an owned guard outlived its mutex"),
        }
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Acquires the mutex, waiting if it is held.
    ///
    /// The call site is recorded (through `#[track_caller]`) so that the report can say who
    /// waited.
    #[track_caller]
    #[inline]
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            inner: self.inner.lock(),
            wait: WaitOn::new(self, Location::caller()),
        }
    }

    /// Acquires the mutex, blocking the thread while it is held. Recorded like
    /// [`lock`](Mutex::lock).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn lock_blocking(&self) -> MutexGuard<'_, T> {
        futures_lite::future::block_on(self.lock())
    }

    /// Acquires the mutex if it is free right now. A success counts as an acquisition that did
    /// not wait; a failure is not recorded.
    #[inline]
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        let inner = self.inner.try_lock()?;
        Some(MutexGuard {
            hold: HoldOn::at_once(self),
            inner,
        })
    }

    /// A mutable reference to the value; no locking is needed since the borrow is exclusive.
    pub fn get_mut(&mut self) -> &mut T {
        // Exclusive access to the mutex means no owned guard exists (see `into_inner`).
        Arc::get_mut(&mut self.inner)
            .expect("an owned guard outlived its mutex")
            .get_mut()
    }

    /// Acquires the mutex through an `Arc`, for a guard that borrows nothing (one that can be
    /// kept in a struct or moved into a `'static` task). Recorded like [`lock`](Mutex::lock).
    #[track_caller]
    #[inline]
    pub fn lock_arc(self: &Arc<Self>) -> LockArc<T> {
        LockArc {
            inner: self.inner.lock_arc(),
            wait: WaitOn::new(Owner(self.clone()), Location::caller()),
        }
    }

    /// Acquires the mutex through an `Arc`, blocking the thread while it is held. Recorded like
    /// [`lock`](Mutex::lock).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn lock_arc_blocking(self: &Arc<Self>) -> MutexGuardArc<T> {
        futures_lite::future::block_on(self.lock_arc())
    }

    /// Acquires the mutex through an `Arc` if it is free right now.
    #[inline]
    pub fn try_lock_arc(self: &Arc<Self>) -> Option<MutexGuardArc<T>> {
        let inner = self.inner.try_lock_arc()?;
        Some(MutexGuardArc {
            hold: HoldOn::at_once(Owner(self.clone())),
            inner,
        })
    }

    /// What was recorded so far.
    pub fn report(&self) -> Report {
        self.stats.report()
    }

    /// Changes what is recorded from now on. Acquisitions already under way (waiting, or
    /// holding) finish recording the way they started.
    pub fn set_recording(&self, recording: Recording) {
        self.stats.set_recording(recording)
    }

    /// How acquisitions are being recorded.
    pub fn recording(&self) -> Recording {
        self.stats.recording()
    }

    #[cfg(test)]
    pub(crate) fn stats_for_tests(&self) -> &Stats<true> {
        &self.stats
    }

    /// Forgets what was recorded (recording stays as it is). Waiters already in line keep
    /// their place: their waits count in the new report once they get the lock.
    pub fn reset_report(&self) {
        self.stats.reset()
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Mutex<T> {
        Mutex::new(value)
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Mutex")
            .field("inner", &&self.inner)
            .field("stats", &self.stats)
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`Mutex::lock`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Lock<'a, T: ?Sized> {
        #[pin]
        inner: async_lock::futures::Lock<'a, T>,
        wait: WaitOn<&'a Mutex<T>, true>,
    }
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = MutexGuard<'a, T>;

    // Always inlined, like async-lock's own `Lock::poll`: a call per poll costs more than the
    // recording does (see `WaitOn::on_poll`).
    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.wait
            .on_poll(this.inner.poll(cx))
            .map(|(inner, hold)| MutexGuard { hold, inner })
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lock { .. }")
    }
}

/// A guard that releases the mutex (and records the hold time) when dropped.
#[clippy::has_significant_drop]
pub struct MutexGuard<'a, T: ?Sized> {
    // Declared first so that it is dropped first, while the mutex is still held.
    hold: HoldOn<&'a Mutex<T>, true>,
    inner: async_lock::MutexGuard<'a, T>,
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds.
    pub fn source(guard: &MutexGuard<'a, T>) -> &'a Mutex<T> {
        guard.hold.recorder()
    }
}

/// Borrowed guards reach the recorder through the mutex they borrow, which is also their
/// [`source`](MutexGuard::source).
impl<T: ?Sized> Recorder<true> for &Mutex<T> {
    #[inline]
    fn stats(&self) -> &Stats<true> {
        &self.stats
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}

/// The way owned guards reach the recorder: an `Arc` of the mutex.
struct Owner<T: ?Sized>(Arc<Mutex<T>>);

impl<T: ?Sized> Clone for Owner<T> {
    fn clone(&self) -> Self {
        Owner(self.0.clone())
    }
}

impl<T: ?Sized> Recorder<true> for Owner<T> {
    #[inline]
    fn stats(&self) -> &Stats<true> {
        &self.0.stats
    }
}

impl<T: ?Sized> fmt::Debug for Owner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Owner { .. }")
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`Mutex::lock_arc`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct LockArc<T: ?Sized> {
        #[pin]
        inner: async_lock::futures::LockArc<T>,
        wait: WaitOn<Owner<T>, true>,
    }
}

impl<T: ?Sized> Future for LockArc<T> {
    type Output = MutexGuardArc<T>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.wait
            .on_poll(this.inner.poll(cx))
            .map(|(inner, hold)| MutexGuardArc { hold, inner })
    }
}

impl<T: ?Sized> fmt::Debug for LockArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockArc { .. }")
    }
}

/// An owned guard (from [`Mutex::lock_arc`]): releases the mutex and records the hold time
/// when dropped.
#[clippy::has_significant_drop]
pub struct MutexGuardArc<T: ?Sized> {
    // Declared first so that it is dropped first, while the mutex is still held.
    hold: HoldOn<Owner<T>, true>,
    inner: async_lock::MutexGuardArc<T>,
}

impl<T: ?Sized> MutexGuardArc<T> {
    /// The mutex this guard holds.
    pub fn source(guard: &MutexGuardArc<T>) -> &Arc<Mutex<T>> {
        &guard.hold.recorder().0
    }
}

impl<T: ?Sized> Deref for MutexGuardArc<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for MutexGuardArc<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuardArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for MutexGuardArc<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&**self, f)
    }
}
