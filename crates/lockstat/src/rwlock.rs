//! [`RwLock`]: `async_lock::RwLock` with contention recording, kept apart for readers and
//! writers.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::acquire::{Hold, HoldOn, Recorder, Wait, WaitOn};
use crate::recorder::Stats;
use crate::{Recording, Report};

/// An async reader-writer lock that records its contention: [`async_lock::RwLock`] plus two
/// recorders, one for readers (`read`) and one for writers (`write` and `upgradable_read`,
/// which exclude each other).
///
/// ```
/// # futures_lite::future::block_on(async {
/// let lock = tulip_lockstat::RwLock::new(5);
/// {
///     let (a, b) = (lock.read().await, lock.read().await);
///     assert_eq!(*a + *b, 10);
///     assert!(lock.try_write().is_none());
/// }
/// *lock.write().await += 1;
/// let report = lock.report();
/// assert_eq!((report.reads.acquisitions, report.writes.acquisitions), (2, 1));
/// # });
/// ```
pub struct RwLock<T: ?Sized> {
    reads: Stats<false>,
    writes: Stats<true>,
    /// In an `Arc` of its own for the owned guards of [`RwLock::read_arc`] and
    /// [`RwLock::write_arc`].
    inner: Arc<async_lock::RwLock<T>>,
}

/// What an [`RwLock`] recorded: readers and writers apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RwLockReport {
    /// `read` and `try_read`.
    pub reads: Report,
    /// `write`, `try_write`, `upgradable_read` and `try_upgradable_read`.
    pub writes: Report,
}

impl fmt::Display for RwLockReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Each report indented under its heading; no line break after the last line.
        for (i, (name, report)) in [("readers", &self.reads), ("writers", &self.writes)]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{name}:")?;
            for line in report.to_string().lines() {
                write!(f, "\n  {line}")?;
            }
        }
        Ok(())
    }
}

impl<T> RwLock<T> {
    /// A lock holding `value`, recording.
    pub fn new(value: T) -> RwLock<T> {
        RwLock::with_recording(value, Recording::Sampled)
    }

    /// A lock holding `value`, recording or not.
    pub fn with_recording(value: T, recording: Recording) -> RwLock<T> {
        RwLock {
            reads: Stats::new(recording),
            writes: Stats::new(recording),
            inner: Arc::new(async_lock::RwLock::new(value)),
        }
    }

    /// Consumes the lock and returns the value.
    pub fn into_inner(self) -> T {
        match Arc::try_unwrap(self.inner) {
            Ok(inner) => inner.into_inner(),
            // Owned guards and futures also hold an `Arc` of this lock, which cannot be owned
            // while they live.
            Err(_) => unreachable!("an owned guard outlived its lock"),
        }
    }

    /// Acquires a read lock through an `Arc`, for a guard that borrows nothing. Recorded like
    /// [`read`](RwLock::read).
    #[track_caller]
    #[inline]
    pub fn read_arc<'a>(self: &'a Arc<Self>) -> ReadArc<'a, T> {
        ReadArc {
            inner: self.inner.read_arc(),
            wait: WaitOn::new(ReadOwner(self.clone()), Location::caller()),
        }
    }

    /// Acquires a read lock through an `Arc`, blocking the thread while a writer holds or waits
    /// for the lock. Recorded like [`read`](RwLock::read).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn read_arc_blocking(self: &Arc<Self>) -> RwLockReadGuardArc<T> {
        futures_lite::future::block_on(self.read_arc())
    }

    /// Acquires a read lock through an `Arc` if possible right now.
    #[inline]
    pub fn try_read_arc(self: &Arc<Self>) -> Option<RwLockReadGuardArc<T>> {
        let inner = self.inner.try_read_arc()?;
        Some(RwLockReadGuardArc {
            hold: HoldOn::at_once(ReadOwner(self.clone())),
            inner,
        })
    }

    /// Acquires the write lock through an `Arc`, for a guard that borrows nothing. Recorded
    /// like [`write`](RwLock::write).
    #[track_caller]
    #[inline]
    pub fn write_arc<'a>(self: &'a Arc<Self>) -> WriteArc<'a, T> {
        WriteArc {
            inner: self.inner.write_arc(),
            wait: WaitOn::new(WriteOwner(self.clone()), Location::caller()),
        }
    }

    /// Acquires the write lock through an `Arc`, blocking the thread while others hold it.
    /// Recorded like [`write`](RwLock::write).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn write_arc_blocking(self: &Arc<Self>) -> RwLockWriteGuardArc<T> {
        futures_lite::future::block_on(self.write_arc())
    }

    /// Acquires the write lock through an `Arc` if possible right now.
    #[inline]
    pub fn try_write_arc(self: &Arc<Self>) -> Option<RwLockWriteGuardArc<T>> {
        let inner = self.inner.try_write_arc()?;
        Some(RwLockWriteGuardArc {
            hold: HoldOn::at_once(WriteOwner(self.clone())),
            inner,
        })
    }
}

impl<T: ?Sized> RwLock<T> {
    /// Acquires a read lock, waiting while a writer holds or waits for the lock.
    #[track_caller]
    #[inline]
    pub fn read(&self) -> Read<'_, T> {
        Read {
            inner: self.inner.read(),
            wait: Wait::new(&self.reads, Location::caller()),
        }
    }

    /// Acquires a read lock, blocking the thread while a writer holds or waits for the lock.
    /// Recorded like [`read`](RwLock::read).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn read_blocking(&self) -> RwLockReadGuard<'_, T> {
        futures_lite::future::block_on(self.read())
    }

    /// Acquires a read lock if possible right now.
    #[inline]
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        let inner = self.inner.try_read()?;
        Some(RwLockReadGuard {
            hold: Hold::at_once(&self.reads),
            inner,
        })
    }

    /// Acquires the write lock, waiting for the readers and the writer holding it.
    #[track_caller]
    #[inline]
    pub fn write(&self) -> Write<'_, T> {
        Write {
            inner: self.inner.write(),
            wait: Wait::new(&self.writes, Location::caller()),
        }
    }

    /// Acquires the write lock, blocking the thread while others hold it. Recorded like
    /// [`write`](RwLock::write).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn write_blocking(&self) -> RwLockWriteGuard<'_, T> {
        futures_lite::future::block_on(self.write())
    }

    /// Acquires the write lock if possible right now.
    #[inline]
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        let inner = self.inner.try_write()?;
        Some(RwLockWriteGuard {
            hold: Hold::at_once(&self.writes),
            inner,
        })
    }

    /// Acquires an upgradable read lock (shared with readers, exclusive against writers and
    /// other upgradable readers). Recorded with the writers.
    #[track_caller]
    #[inline]
    pub fn upgradable_read(&self) -> UpgradableRead<'_, T> {
        UpgradableRead {
            inner: self.inner.upgradable_read(),
            wait: Wait::new(&self.writes, Location::caller()),
        }
    }

    /// Acquires an upgradable read lock, blocking the thread while a writer or another
    /// upgradable reader holds it. Recorded with the writers.
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    #[track_caller]
    pub fn upgradable_read_blocking(&self) -> RwLockUpgradableReadGuard<'_, T> {
        futures_lite::future::block_on(self.upgradable_read())
    }

    /// Acquires an upgradable read lock if possible right now.
    #[inline]
    pub fn try_upgradable_read(&self) -> Option<RwLockUpgradableReadGuard<'_, T>> {
        let inner = self.inner.try_upgradable_read()?;
        Some(RwLockUpgradableReadGuard {
            hold: Hold::at_once(&self.writes),
            inner,
        })
    }

    /// A mutable reference to the value.
    pub fn get_mut(&mut self) -> &mut T {
        // Exclusive access to the lock means no owned guard exists (see `into_inner`).
        Arc::get_mut(&mut self.inner)
            .expect("an owned guard outlived its lock")
            .get_mut()
    }

    /// What was recorded so far, readers and writers apart.
    pub fn report(&self) -> RwLockReport {
        RwLockReport {
            reads: self.reads.report(),
            writes: self.writes.report(),
        }
    }

    /// Turns recording on or off from now on, for readers and writers.
    pub fn set_recording(&self, recording: Recording) {
        self.reads.set_recording(recording);
        self.writes.set_recording(recording);
    }

    /// How acquisitions are being recorded.
    pub fn recording(&self) -> Recording {
        self.reads.recording()
    }

    /// Forgets what was recorded (recording stays as it is). Waiters already in line keep
    /// their place: their waits count in the new report once they get the lock.
    pub fn reset_report(&self) {
        self.reads.reset();
        self.writes.reset();
    }
}

impl<T> From<T> for RwLock<T> {
    fn from(value: T) -> RwLock<T> {
        RwLock::new(value)
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RwLock")
            .field("inner", &&self.inner)
            .field("reads", &self.reads)
            .field("writes", &self.writes)
            .finish()
    }
}

/// Defines an acquisition future wrapping one of async-lock's.
macro_rules! acquisition {
    ($(#[$doc:meta])* $name:ident, $inner:ident, $guard:ident, $exclusive:literal) => {
        pin_project_lite::pin_project! {
            $(#[$doc])*
            #[must_use = "futures do nothing unless you `.await` or poll them"]
            pub struct $name<'a, T: ?Sized> {
                #[pin]
                inner: async_lock::futures::$inner<'a, T>,
                wait: Wait<'a, $exclusive>,
            }
        }

        impl<'a, T: ?Sized> Future for $name<'a, T> {
            type Output = $guard<'a, T>;

            #[inline(always)]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let this = self.project();
                this.wait
                    .on_poll(this.inner.poll(cx))
                    .map(|(inner, hold)| $guard { hold, inner })
            }
        }

        impl<T: ?Sized> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), " { .. }"))
            }
        }
    };
}

acquisition!(
    /// The future returned by [`RwLock::read`].
    Read, Read, RwLockReadGuard, false
);
acquisition!(
    /// The future returned by [`RwLock::write`].
    Write, Write, RwLockWriteGuard, true
);
acquisition!(
    /// The future returned by [`RwLock::upgradable_read`].
    UpgradableRead, UpgradableRead, RwLockUpgradableReadGuard, true
);

/// A read guard; records the hold time when dropped.
#[clippy::has_significant_drop]
pub struct RwLockReadGuard<'a, T: ?Sized> {
    #[allow(dead_code, reason = "only its Drop reads it")]
    hold: Hold<'a, false>,
    inner: async_lock::RwLockReadGuard<'a, T>,
}

/// A write guard; records the hold time when dropped.
#[clippy::has_significant_drop]
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    #[allow(dead_code, reason = "only its Drop reads it")]
    hold: Hold<'a, true>,
    inner: async_lock::RwLockWriteGuard<'a, T>,
}

/// An upgradable read guard; records the hold time when dropped. Upgrading keeps the same hold
/// going in the write guard.
#[clippy::has_significant_drop]
pub struct RwLockUpgradableReadGuard<'a, T: ?Sized> {
    #[allow(dead_code, reason = "only its Drop reads it")]
    hold: Hold<'a, true>,
    inner: async_lock::RwLockUpgradableReadGuard<'a, T>,
}

impl<'a, T: ?Sized> RwLockUpgradableReadGuard<'a, T> {
    /// Upgrades to a write lock, waiting for the readers to leave. The hold that started with
    /// the upgradable read goes on in the write guard; the wait for readers is not recorded.
    pub fn upgrade(guard: Self) -> Upgrade<'a, T> {
        let RwLockUpgradableReadGuard { hold, inner } = guard;
        Upgrade {
            inner: async_lock::RwLockUpgradableReadGuard::upgrade(inner),
            hold: Some(hold),
        }
    }

    /// Upgrades to a write lock, blocking the thread while readers hold the lock. Recorded like
    /// [`upgrade`](RwLockUpgradableReadGuard::upgrade).
    ///
    /// Not for async code: blocking an executor's thread can deadlock it.
    pub fn upgrade_blocking(guard: Self) -> RwLockWriteGuard<'a, T> {
        futures_lite::future::block_on(Self::upgrade(guard))
    }

    /// Upgrades to a write lock if no reader holds the lock right now.
    pub fn try_upgrade(guard: Self) -> Result<RwLockWriteGuard<'a, T>, Self> {
        let RwLockUpgradableReadGuard { hold, inner } = guard;
        match async_lock::RwLockUpgradableReadGuard::try_upgrade(inner) {
            Ok(inner) => Ok(RwLockWriteGuard { hold, inner }),
            Err(inner) => Err(RwLockUpgradableReadGuard { hold, inner }),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future returned by [`RwLockUpgradableReadGuard::upgrade`].
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct Upgrade<'a, T: ?Sized> {
        #[pin]
        inner: async_lock::futures::Upgrade<'a, T>,
        hold: Option<Hold<'a, true>>,
    }
}

impl<'a, T: ?Sized> Future for Upgrade<'a, T> {
    type Output = RwLockWriteGuard<'a, T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.inner.poll(cx).map(|inner| RwLockWriteGuard {
            hold: this.hold.take().expect("Upgrade polled after completion"),
            inner,
        })
    }
}

impl<T: ?Sized> fmt::Debug for Upgrade<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Upgrade { .. }")
    }
}

/// Deref (and, for the write guard, DerefMut) and formatting for the guards.
macro_rules! guard_impls {
    ($guard:ident $(, $mut:ident)?) => {
        impl<T: ?Sized> Deref for $guard<'_, T> {
            type Target = T;

            fn deref(&self) -> &T {
                &self.inner
            }
        }

        $(
            impl<T: ?Sized> $mut for $guard<'_, T> {
                fn deref_mut(&mut self) -> &mut T {
                    &mut self.inner
                }
            }
        )?

        impl<T: ?Sized + fmt::Debug> fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + fmt::Display> fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

guard_impls!(RwLockReadGuard);
guard_impls!(RwLockWriteGuard, DerefMut);
guard_impls!(RwLockUpgradableReadGuard);

/// The way owned read guards reach the readers' recorder: an `Arc` of the lock.
struct ReadOwner<T>(Arc<RwLock<T>>);

/// The way owned write guards reach the writers' recorder: an `Arc` of the lock.
struct WriteOwner<T>(Arc<RwLock<T>>);

impl<T> Clone for ReadOwner<T> {
    fn clone(&self) -> Self {
        ReadOwner(self.0.clone())
    }
}

impl<T> Clone for WriteOwner<T> {
    fn clone(&self) -> Self {
        WriteOwner(self.0.clone())
    }
}

impl<T> Recorder<false> for ReadOwner<T> {
    #[inline]
    fn stats(&self) -> &Stats<false> {
        &self.0.reads
    }
}

impl<T> Recorder<true> for WriteOwner<T> {
    #[inline]
    fn stats(&self) -> &Stats<true> {
        &self.0.writes
    }
}

impl<T> fmt::Debug for ReadOwner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReadOwner { .. }")
    }
}

impl<T> fmt::Debug for WriteOwner<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WriteOwner { .. }")
    }
}

/// Defines an owned acquisition future wrapping one of async-lock's.
macro_rules! owned_acquisition {
    ($(#[$doc:meta])* $name:ident, $owner:ident, $guard:ident, $exclusive:literal) => {
        pin_project_lite::pin_project! {
            $(#[$doc])*
            #[must_use = "futures do nothing unless you `.await` or poll them"]
            pub struct $name<'a, T> {
                #[pin]
                inner: async_lock::futures::$name<'a, T>,
                wait: WaitOn<$owner<T>, $exclusive>,
            }
        }

        impl<T> Future for $name<'_, T> {
            type Output = $guard<T>;

            #[inline(always)]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
                let this = self.project();
                this.wait
                    .on_poll(this.inner.poll(cx))
                    .map(|(inner, hold)| $guard { hold, inner })
            }
        }

        impl<T> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), " { .. }"))
            }
        }
    };
}

owned_acquisition!(
    /// The future returned by [`RwLock::read_arc`].
    ReadArc, ReadOwner, RwLockReadGuardArc, false
);
owned_acquisition!(
    /// The future returned by [`RwLock::write_arc`].
    WriteArc, WriteOwner, RwLockWriteGuardArc, true
);

/// An owned read guard (from [`RwLock::read_arc`]); records the hold time when dropped.
#[clippy::has_significant_drop]
pub struct RwLockReadGuardArc<T> {
    #[allow(dead_code, reason = "only its Drop reads it")]
    hold: HoldOn<ReadOwner<T>, false>,
    inner: async_lock::RwLockReadGuardArc<T>,
}

/// An owned write guard (from [`RwLock::write_arc`]); records the hold time when dropped.
#[clippy::has_significant_drop]
pub struct RwLockWriteGuardArc<T> {
    #[allow(dead_code, reason = "only its Drop reads it")]
    hold: HoldOn<WriteOwner<T>, true>,
    inner: async_lock::RwLockWriteGuardArc<T>,
}

/// Deref (and, for the write guard, DerefMut) and formatting for the owned guards.
macro_rules! owned_guard_impls {
    ($guard:ident $(, $mut:ident)?) => {
        impl<T> Deref for $guard<T> {
            type Target = T;

            fn deref(&self) -> &T {
                &self.inner
            }
        }

        $(
            impl<T> $mut for $guard<T> {
                fn deref_mut(&mut self) -> &mut T {
                    &mut self.inner
                }
            }
        )?

        impl<T: fmt::Debug> fmt::Debug for $guard<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: fmt::Display> fmt::Display for $guard<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&**self, f)
            }
        }
    };
}

owned_guard_impls!(RwLockReadGuardArc);
owned_guard_impls!(RwLockWriteGuardArc, DerefMut);
