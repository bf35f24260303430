//! Watch raw file descriptors for readiness: asyncio's `add_reader` / `add_writer`, in Rust.
//!
//! `fdwatch` tells you when a file descriptor — a socket, one end of a socketpair or a pipe,
//! stdin, a TCP stream — can be read or written, every time it can, for as long as the watch
//! stands. It comes in three shapes:
//!
//! - [`EventLoop`]: a small callback loop shaped like asyncio's ([`add_reader`],
//!   [`add_writer`], [`remove_reader`], [`remove_writer`], [`call_soon`], [`stop`], [`run`]),
//!   with timers ([`call_later`], [`call_at`], [`cancel`]) and a [`LoopHandle`] through which
//!   other threads schedule callbacks ([`call_soon_threadsafe`]) or stop it, waking it if it
//!   waits. It sits directly on the kernel's readiness API (level-triggered epoll on Linux),
//!   with no allocation and no reference counting on the dispatch path, so a callback-driven
//!   ping-pong over a socketpair runs as fast as a hand-written epoll loop.
//! - [`Watch`]: an `await`-able form for smol code, on smol's own reactor (async-io): await
//!   the next readiness with [`Watch::readable`] / [`Watch::writable`], or take a
//!   [`Stream`](futures_lite::Stream) of readiness events with [`Watch::readable_events`].
//!
//! - [`local`]: futures on an event loop of the calling thread's own ([`local::block_on`]), for
//!   programs that spread many sockets over threads: [`local::Async`] registers a socket once,
//!   edge-triggered, with the loop of the thread that made it, and [`local::Timer`] waits on the
//!   same loop, so a socket's events are handled where they are collected, with no wake-up across
//!   threads. Outside such a loop both fall back to async-io.
//!
//! The first two report a [`Readiness`] that says what happened: [`Readiness::Ready`] (data to read, or
//! room to write), [`Readiness::Hangup`] (end of file: the other side is gone and nothing is left
//! to read) or [`Readiness::Error`] (an error is pending on the descriptor).
//!
//! Asyncio's kinder semantics are kept: watching an fd again replaces the old watch instead of
//! failing, and removing a watch says whether there was one. An fd that is not open, or that
//! cannot be watched (a regular file), is refused with a [`WatchError`] when the watch is added,
//! never accepted as a watch that would silently never fire.
//!
//! # Example
//!
//! The callback form, as in the asyncio tutorial: watch one end of a socketpair, write to the
//! other end from a `call_soon` callback, read the message when the watch fires.
//!
//! ```
//! use tulip_fdwatch::{EventLoop, Readiness};
//! use std::io::{Read, Write};
//! use std::os::fd::AsRawFd;
//! use std::os::unix::net::UnixStream;
//!
//! let (rsock, mut wsock) = UnixStream::pair()?;
//! let rfd = rsock.as_raw_fd();
//! let mut ev = EventLoop::new()?;
//! // The callback owns the socket; the loop knows only its fd number.
//! ev.add_reader(rfd, move |ev, readiness| {
//!     assert_eq!(readiness, Readiness::Ready);
//!     let mut buf = [0; 100];
//!     let n = (&rsock).read(&mut buf).unwrap();
//!     println!("Received: {}", String::from_utf8_lossy(&buf[..n]));
//!     // We are done: stop watching and stop the loop.
//!     assert!(ev.remove_reader(rfd));
//!     ev.stop();
//! })?;
//! ev.call_soon(move |_| {
//!     wsock.write_all(b"abc").unwrap();
//! });
//! ev.run()?;
//! # std::io::Result::Ok(())
//! ```
//!
//! Timers and another thread: a timer cancels another before it is due, a worker thread hands
//! its result to the loop's thread. With no fd watched, `run` returns once no timer is pending
//! and no [`LoopHandle`] is left that could send more.
//!
//! ```
//! use tulip_fdwatch::EventLoop;
//! use std::time::Duration;
//!
//! let mut ev = EventLoop::new()?;
//! let never = ev.call_later(Duration::from_secs(3600), |_| unreachable!("cancelled"));
//! ev.call_later(Duration::from_millis(10), move |ev| {
//!     println!("10 ms later");
//!     assert!(ev.cancel(never));
//! });
//! let handle = ev.handle()?;
//! let worker = std::thread::spawn(move || {
//!     let answer = 6 * 7;
//!     handle
//!         .call_soon_threadsafe(move |_| println!("the worker says {answer}"))
//!         .unwrap();
//!     // The handle is dropped here: nothing more will come from this thread.
//! });
//! ev.run()?;
//! worker.join().unwrap();
//! # std::io::Result::Ok(())
//! ```
//!
//! The `await` form, in smol code:
//!
//! ```
//! use tulip_fdwatch::{Readiness, Watch};
//! use std::io::Write;
//! use std::os::unix::net::UnixStream;
//!
//! # futures_lite::future::block_on(async {
//! let (rsock, mut wsock) = UnixStream::pair()?;
//! let watch = Watch::new(rsock)?;
//! wsock.write_all(b"abc")?;
//! assert_eq!(watch.readable().await?, Readiness::Ready);
//! # std::io::Result::Ok(()) }).unwrap();
//! ```
//!
//! # Where the loop differs from asyncio
//!
//! The [`EventLoop`]'s turns follow asyncio's `BaseEventLoop._run_once` (its `run` after
//! [`stop`] does one turn, as `run_forever` after `stop` does): the callbacks queued before the
//! turn run first, then the readiness callbacks of the wait, then the timers that were due when
//! the wait ended; whatever these schedule, watches included, waits for the next turn. A test
//! runs scripts on both loops and compares what they do. These differences are deliberate:
//!
//! - [`run`] returns once nothing is left that could ever run (no watch, queued callback,
//!   pending timer or [`LoopHandle`]); asyncio's `run_forever` would wait forever then.
//! - Timers due at the same instant run in the order they were scheduled; asyncio leaves their
//!   order undefined (its heap compares deadlines only).
//! - A timer never fires before its deadline (the wait is rounded up to the millisecond);
//!   asyncio counts a timer due within the clock's resolution of its deadline.
//! - Readiness callbacks are told what happened (a [`Readiness`]); asyncio's get no argument.
//! - One turn takes at most 256 kernel events; more wait for the next turn, where asyncio
//!   takes one per watched fd.
//! - A panic in a callback propagates out of [`run`]; asyncio logs a callback's exception and
//!   goes on.
//! - [`cancel`] says whether the timer was still pending; asyncio's `TimerHandle.cancel()`
//!   returns `None`.
//! - A negative fd is refused as [`WatchError::BadFd`] and removing its watch returns `false`;
//!   asyncio raises `ValueError` for both.
//! - Watches of an fd closed without removing them first (which the contract below rules out)
//!   are checked with the kernel on every add: re-adding one under a number no longer open is
//!   refused ([`WatchError::BadFd`]) and drops the fd's watches, and under a number reused by
//!   another file it registers that file afresh, so it fires. asyncio asks the kernel only when
//!   the directions watched change: re-adding the same direction is accepted and never fires,
//!   adding the other raises (`EBADF`, or `FileNotFoundError` for a reused number). Removing
//!   such a watch returns `true` here; asyncio raises `EBADF` if the other direction of the fd
//!   is still watched.
//! - A run refused because the loop is already running (a callback called [`run`]) leaves the
//!   loop as it was; in CPython 3.13.0 the refused `run_forever` also clears a pending `stop()`,
//!   so that loop goes on (python/cpython#130145, since fixed).
//!
//! # What it does not do
//!
//! - The [`EventLoop`] is single-threaded: callbacks are `FnMut` without `Send`, and run on the
//!   thread that calls [`run`]. Other threads only send it `Send` callbacks through a
//!   [`LoopHandle`]. Run one loop per thread.
//! - Timers are one-shot and follow the monotonic clock ([`std::time::Instant`]); the wait for
//!   one is rounded up to the kernel's millisecond, so a timer never fires early and may fire
//!   up to a millisecond or so late (more if callbacks before it take long). There is no
//!   periodic timer: a callback that wants one schedules itself again.
//! - It watches descriptors, it does not own them: close an fd only after removing its watch.
//!   (The kernel forgets a watch whose file is closed, as it does for asyncio; `fdwatch` notices
//!   a recycled fd number when it is watched again, and then registers it afresh, where asyncio
//!   does not: see above.)
//! - Regular files and directories are always "ready", so the kernel refuses to watch them:
//!   that is [`WatchError::Unsupported`], as asyncio raises `PermissionError`.
//!
//! [`add_reader`]: EventLoop::add_reader
//! [`add_writer`]: EventLoop::add_writer
//! [`remove_reader`]: EventLoop::remove_reader
//! [`remove_writer`]: EventLoop::remove_writer
//! [`call_soon`]: EventLoop::call_soon
//! [`call_later`]: EventLoop::call_later
//! [`call_at`]: EventLoop::call_at
//! [`cancel`]: EventLoop::cancel
//! [`call_soon_threadsafe`]: LoopHandle::call_soon_threadsafe
//! [`stop`]: EventLoop::stop
//! [`run`]: EventLoop::run

#![cfg(unix)]
#![deny(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod error;
mod event_loop;
mod handle;
pub mod local;
mod readiness;
mod sys;
mod timer;
mod watch;

pub use error::WatchError;
pub use event_loop::{EventLoop, Source};
pub use handle::{LoopClosed, LoopHandle};
pub use readiness::Readiness;
pub use timer::TimerHandle;
pub use watch::{ReadinessStream, Watch};
