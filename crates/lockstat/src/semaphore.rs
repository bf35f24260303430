//! [`Semaphore`]: `async_lock::Semaphore` with contention recording.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::acquire::{Hold, HoldOn, Recorder, Wait, WaitOn};
use crate::recorder::Stats;
use crate::{Recording, Report};

/// A counter of permits that records its contention: [`async_lock::Semaphore`] plus a
/// recorder. A "hold" is the time a permit is held; a "waiter" is an `acquire` that found no
/// permit free.
///
/// ```
/// # futures_lite::future::block_on(async {
/// let s = tulip_lockstat::Semaphore::new(2);
/// let a = s.acquire().await;
/// let b = s.acquire().await;
/// assert!(s.try_acquire().is_none());
/// drop((a, b));
/// assert_eq!(s.report().acquisitions, 2);
/// # });
/// ```
pub struct Semaphore {
    stats: Stats<false>,
    /// In an `Arc` of its own for the owned guards of [`Semaphore::acquire_arc`].
    inner: Arc<async_lock::Semaphore>,
}

impl Semaphore {
    /// A semaphore with `permits` permits, recording.
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::with_recording(permits, Recording::Sampled)
    }

    /// A semaphore with `permits` permits, recording or not.
    pub fn with_recording(permits: usize, recording: Recording) -> Semaphore {
        Semaphore {
            stats: Stats::new(recording),
            inner: Arc::new(async_lock::Semaphore::new(permits)),
        }
    }

    /// Waits for a permit. The call site is recorded for the report.
    #[track_caller]
    #[inline]
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            inner: self.inner.acquire(),
            wait: Wait::new(&self.stats, Location::caller()),
        }
    }

    /// Waits for a permit, blocking the thread. Recorded like [`acquire`](Semaphore::acquire).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn acquire_blocking(&self) -> SemaphoreGuard<'_> {
        futures_lite::future::block_on(self.acquire())
    }

    /// Takes a permit if one is free right now.
    #[inline]
    pub fn try_acquire(&self) -> Option<SemaphoreGuard<'_>> {
        let inner = self.inner.try_acquire()?;
        Some(SemaphoreGuard {
            hold: Hold::at_once(&self.stats),
            inner,
        })
    }

    /// Waits for a permit through an `Arc`, for a guard that borrows nothing. Recorded like
    /// [`acquire`](Semaphore::acquire).
    #[track_caller]
    #[inline]
    pub fn acquire_arc(self: &Arc<Self>) -> AcquireArc {
        AcquireArc {
            inner: self.inner.acquire_arc(),
            wait: WaitOn::new(Owner(self.clone()), Location::caller()),
        }
    }

    /// Waits for a permit through an `Arc`, blocking the thread. Recorded like
    /// [`acquire`](Semaphore::acquire).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn acquire_arc_blocking(self: &Arc<Self>) -> SemaphoreGuardArc {
        futures_lite::future::block_on(self.acquire_arc())
    }

    /// Takes a permit through an `Arc` if one is free right now.
    #[inline]
    pub fn try_acquire_arc(self: &Arc<Self>) -> Option<SemaphoreGuardArc> {
        let inner = self.inner.try_acquire_arc()?;
        Some(SemaphoreGuardArc {
            hold: HoldOn::at_once(Owner(self.clone())),
            inner,
        })
    }

    /// Adds `n` permits.
    pub fn add_permits(&self, n: usize) {
        self.inner.add_permits(n)
    }

    /// How many permits are free right now.
    pub fn available_permits(&self) -> usize {
        self.inner.available_permits()
    }

    /// What was recorded so far.
    pub fn report(&self) -> Report {
        self.stats.report()
    }

    /// Turns recording on or off from now on.
    pub fn set_recording(&self, recording: Recording) {
        self.stats.set_recording(recording)
    }

    /// How acquisitions are being recorded.
    pub fn recording(&self) -> Recording {
        self.stats.recording()
    }

    /// Forgets what was recorded (recording stays as it is). Waiters already in line keep
    /// their place: their waits count in the new report once they get the lock.
    pub fn reset_report(&self) {
        self.stats.reset()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("inner", &self.inner)
            .field("stats", &self.stats)
            .finish()
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`Semaphore::acquire`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Acquire<'a> {
        #[pin]
        inner: async_lock::futures::Acquire<'a>,
        wait: Wait<'a, false>,
    }
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphoreGuard<'a>;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.wait
            .on_poll(this.inner.poll(cx))
            .map(|(inner, hold)| SemaphoreGuard { hold, inner })
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Acquire { .. }")
    }
}

/// A permit: given back (and its hold time recorded) when dropped.
#[clippy::has_significant_drop]
#[derive(Debug)]
pub struct SemaphoreGuard<'a> {
    // Declared first so that it is dropped while the permit is still held.
    #[allow(dead_code, reason = "only its Drop reads it")]
    hold: Hold<'a, false>,
    inner: async_lock::SemaphoreGuard<'a>,
}

impl SemaphoreGuard<'_> {
    /// Drops the guard without giving the permit back; the hold ends now.
    pub fn forget(self) {
        let SemaphoreGuard { hold, inner } = self;
        drop(hold);
        inner.forget();
    }
}

/// The way owned guards reach the recorder: an `Arc` of the semaphore.
#[derive(Clone)]
struct Owner(Arc<Semaphore>);

impl Recorder<false> for Owner {
    #[inline]
    fn stats(&self) -> &Stats<false> {
        &self.0.stats
    }
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Owner { .. }")
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`Semaphore::acquire_arc`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AcquireArc {
        #[pin]
        inner: async_lock::futures::AcquireArc,
        wait: WaitOn<Owner, false>,
    }
}

impl Future for AcquireArc {
    type Output = SemaphoreGuardArc;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.wait
            .on_poll(this.inner.poll(cx))
            .map(|(inner, hold)| SemaphoreGuardArc { hold, inner })
    }
}

impl fmt::Debug for AcquireArc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AcquireArc { .. }")
    }
}

/// An owned permit (from [`Semaphore::acquire_arc`]): given back, and its hold time recorded,
/// when dropped.
#[clippy::has_significant_drop]
#[derive(Debug)]
pub struct SemaphoreGuardArc {
    // Declared first so that it is dropped while the permit is still held.
    hold: HoldOn<Owner, false>,
    inner: async_lock::SemaphoreGuardArc,
}

impl SemaphoreGuardArc {
    /// Drops the guard without giving the permit back; the hold ends now.
    pub fn forget(self) {
        let SemaphoreGuardArc { hold, inner } = self;
        drop(hold);
        inner.forget();
    }
}
