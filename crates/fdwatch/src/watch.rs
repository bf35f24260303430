//! The `await` form: readiness of one fd as futures and a stream, on smol's reactor.
//!
//! [`Watch`] registers the fd with async-io (the reactor smol runs), waits for the kernel's
//! event, then asks the kernel once more with a zero-timeout `poll(2)` what exactly is the case,
//! so that every answer is a current [`Readiness`] and a stale wake-up is never reported.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use async_io::Async;
use futures_lite::Stream;

use crate::error::WatchError;
use crate::readiness::Readiness;
use crate::sys::{self, Interest};

/// An fd watched for readiness by smol's reactor, to `await`.
///
/// `T` is anything that has an fd: an owned socket or pipe, `std::io::Stdin`, or a
/// `BorrowedFd`. The fd's blocking mode is left as it is (asyncio's `add_reader` does not change
/// it either); set it non-blocking yourself if you read in a loop until `WouldBlock`.
///
/// Readiness is level-triggered: if a readable fd is not read, the next
/// [`readable`](Self::readable) reports it again.
///
/// Only one task should wait for each direction at a time; two tasks waiting for the same
/// direction keep waking each other (the caveat of async-io's `Async`).
pub struct Watch<T: AsFd> {
    io: Async<T>,
}

impl<T: AsFd> fmt::Debug for Watch<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("fd", &self.io.get_ref().as_fd().as_raw_fd())
            .finish()
    }
}

impl<T: AsFd> Watch<T> {
    /// Starts watching `io`'s fd. Fails with [`WatchError::Unsupported`] for a regular file or
    /// directory and [`WatchError::BadFd`] for an fd that is not open.
    pub fn new(io: T) -> Result<Self, WatchError> {
        let fd = io.as_fd().as_raw_fd();
        match Async::new_nonblocking(io) {
            Ok(io) => Ok(Watch { io }),
            Err(e) => Err(WatchError::from_io(fd, e)),
        }
    }

    /// Waits until the fd is readable, and says how: data, end of file, or an error.
    pub async fn readable(&self) -> io::Result<Readiness> {
        std::future::poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the fd is writable, and says how: room to write, hang-up, or an error.
    pub async fn writable(&self) -> io::Result<Readiness> {
        std::future::poll_fn(|cx| self.poll_writable(cx)).await
    }

    /// Polls for readability: the building block of [`readable`](Self::readable).
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<Readiness>> {
        self.poll_dir(cx, READ)
    }

    /// Polls for writability: the building block of [`writable`](Self::writable).
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<Readiness>> {
        self.poll_dir(cx, WRITE)
    }

    /// A stream of readability events, one per turn of the reactor that finds the fd readable.
    /// It never ends: drop it to stop waiting, and drop the [`Watch`] (or take the I/O object back
    /// with [`into_inner`](Self::into_inner)) to stop watching.
    pub fn readable_events(&self) -> ReadinessStream<'_, T> {
        ReadinessStream {
            watch: self,
            dir: READ,
        }
    }

    /// A stream of writability events, like [`readable_events`](Self::readable_events).
    pub fn writable_events(&self) -> ReadinessStream<'_, T> {
        ReadinessStream {
            watch: self,
            dir: WRITE,
        }
    }

    /// The watched I/O object.
    pub fn get_ref(&self) -> &T {
        self.io.get_ref()
    }

    /// Stops watching and gives the I/O object back.
    pub fn into_inner(self) -> io::Result<T> {
        self.io.into_inner()
    }

    fn poll_dir(&self, cx: &mut Context<'_>, interest: Interest) -> Poll<io::Result<Readiness>> {
        loop {
            if interest.read {
                ready!(self.io.poll_readable(cx))?;
            } else {
                ready!(self.io.poll_writable(cx))?;
            }
            // The reactor said "something happened"; ask what is the case now. If nothing is
            // (the data was read meanwhile), go back to waiting: the next poll registers the
            // waker again and returns Pending.
            let fd = self.io.get_ref().as_fd();
            let bits = sys::poll_now(fd, interest)?;
            let readiness = if interest.read {
                bits.for_reader(|| rustix::io::ioctl_fionread(fd).ok())
            } else {
                bits.for_writer()
            };
            if let Some(readiness) = readiness {
                return Poll::Ready(Ok(readiness));
            }
        }
    }
}

const READ: Interest = Interest {
    read: true,
    write: false,
};
const WRITE: Interest = Interest {
    read: false,
    write: true,
};

/// A [`Stream`] of readiness events of one direction of a [`Watch`], from
/// [`Watch::readable_events`] or [`Watch::writable_events`].
#[must_use = "streams do nothing unless polled"]
pub struct ReadinessStream<'a, T: AsFd> {
    watch: &'a Watch<T>,
    dir: Interest,
}

impl<T: AsFd> fmt::Debug for ReadinessStream<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadinessStream")
            .field("watch", self.watch)
            .field("readable", &self.dir.read)
            .finish()
    }
}

impl<T: AsFd> Stream for ReadinessStream<'_, T> {
    type Item = io::Result<Readiness>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.watch.poll_dir(cx, self.dir).map(Some)
    }
}
