//! [`RwLock`]: `async_lock::RwLock` with contention recording, kept apart for readers and
//! writers.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::acquire::{Hold, Wait};
use crate::stats::Stats;
use crate::{Recording, Report};

/// An async reader-writer lock that records its contention: [`async_lock::RwLock`] plus two
/// recorders, one for readers (`read`) and one for writers (`write` and `upgradable_read`,
/// which exclude each other).
///
/// ```
/// # futures_lite::future::block_on(async {
/// let lock = lockstat::RwLock::new(5);
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
    inner: async_lock::RwLock<T>,
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
        for (name, report) in [("readers", &self.reads), ("writers", &self.writes)] {
            writeln!(f, "{name}:")?;
            for line in report.to_string().lines() {
                writeln!(f, "  {line}")?;
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
            inner: async_lock::RwLock::new(value),
        }
    }

    /// Consumes the lock and returns the value.
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
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
        self.inner.get_mut()
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

    /// Forgets what was recorded.
    pub fn reset_report(&self) {
        self.reads.reset();
        self.writes.reset();
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

            #[inline]
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
