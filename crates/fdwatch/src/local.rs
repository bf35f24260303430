//! Futures on an event loop of the calling thread's own: [`block_on`] runs a future on a reactor
//! that belongs to that thread alone, and the [`Async`] sockets and [`Timer`]s made while it runs
//! register with it.
//!
//! This is for programs that spread many sockets over several threads, each with its own share
//! (a fetcher with one loop per core, say). With async-io every thread shares one reactor: a
//! socket's event is often collected by another thread than the one that waits for it, and each
//! wait re-arms a one-shot registration. Here each thread waits on its own epoll instance, a
//! socket is registered once (edge-triggered, both directions) for as long as it lives, and an
//! event wakes the task on the thread that collected it without a syscall.
//!
//! Outside [`block_on`] (or where epoll is not available) [`Async`] and [`Timer`] fall back to
//! async-io's reactor, so code written against them runs under any executor. Which reactor an
//! [`Async`] uses is settled when it is made, and a [`Timer`]'s when it is first polled: poll
//! them on that thread, or at least while its loop still runs (they work from another thread,
//! the loop then wakes that thread's task).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::net::{TcpListener, TcpStream};
//! use std::time::Duration;
//! use tulip_fdwatch::local::{Async, Timer, block_on};
//!
//! let listener = TcpListener::bind("127.0.0.1:0")?;
//! let addr = listener.local_addr()?;
//! let server = std::thread::spawn(move || -> std::io::Result<()> {
//!     let (mut conn, _) = listener.accept()?;
//!     conn.write_all(b"hello")
//! });
//! let got = block_on(async {
//!     let stream = Async::new(TcpStream::connect(addr)?)?;
//!     Timer::after(Duration::from_millis(10)).await;
//!     let mut buf = [0; 5];
//!     let n = stream.read_with(|s| (&*s).read(&mut buf)).await?;
//!     std::io::Result::Ok(buf[..n].to_vec())
//! })?;
//! assert_eq!(got, b"hello");
//! server.join().unwrap()?;
//! # std::io::Result::Ok(())
//! ```

use std::fmt;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::{AsyncRead, AsyncWrite};

#[cfg(any(target_os = "linux", target_os = "android"))]
use reactor::{Reactor, Registration, TimerEntry};

/// Runs `future` to completion on the calling thread, on an event loop of its own: the
/// [`Async`] and [`Timer`] values made inside register with it. Wakes from other threads reach
/// it through an eventfd; a wake on the loop's own thread costs no syscall.
///
/// Where epoll is not available this is async-io's `block_on`.
pub fn block_on<T>(future: impl Future<Output = T>) -> T {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        match Reactor::new() {
            Ok(reactor) => reactor::run(reactor, future),
            // No epoll instance or eventfd to be had (out of descriptors): the shared reactor.
            Err(_) => async_io::block_on(future),
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        async_io::block_on(future)
    }
}

/// Whether the calling thread runs a loop of [`block_on`]'s, so that [`Async`] and [`Timer`]
/// made here use it.
pub fn in_local_loop() -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        reactor::current().is_some()
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        false
    }
}

/// An identifier of the loop the calling thread runs, if it runs one of [`block_on`]'s: unique
/// for the process's life, so that state kept for a loop (a socket registered with it, reused
/// by later tasks on the thread) can tell a loop that has ended from the one running now.
///
/// ```
/// use tulip_fdwatch::local;
///
/// assert_eq!(local::loop_id(), None);
/// let first = local::block_on(async { local::loop_id() });
/// let second = local::block_on(async { local::loop_id() });
/// assert!(first.is_some() && second.is_some());
/// assert_ne!(first, second);
/// ```
pub fn loop_id() -> Option<u64> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        reactor::current().map(|r| r.id())
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        None
    }
}

/// A future that completes once the current thread's loop has run out of other work: every
/// woken task polled, every event collected, so that the loop would wait for the kernel next.
/// Work that is cheaper in batches (handing results to another thread, flushing) can wait for
/// it rather than run after each small step. Outside a loop of [`block_on`]'s it is ready at
/// once.
#[derive(Debug)]
pub struct Idle {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    wait: Option<reactor::IdleWait>,
}

/// The next time the current thread's loop runs out of work (see [`Idle`]).
pub fn idle() -> Idle {
    Idle {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        wait: reactor::current().map(reactor::IdleWait::new),
    }
}

impl Future for Idle {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(wait) = &self.get_mut().wait {
            return wait.poll(cx);
        }
        let _ = cx;
        Poll::Ready(())
    }
}

/// An I/O handle (a socket, a pipe) registered with the current thread's loop, or async-io's
/// reactor outside one: the same methods as `async_io::Async`, so it is a drop-in for it.
pub struct Async<T: AsFd> {
    inner: Inner<T>,
}

enum Inner<T: AsFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Local(Registration<T>),
    Global(async_io::Async<T>),
}

impl<T: AsFd> fmt::Debug for Async<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reactor = match &self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Local(_) => "local",
            Inner::Global(_) => "async-io",
        };
        f.debug_struct("Async")
            .field("fd", &self.get_ref().as_fd().as_raw_fd())
            .field("reactor", &reactor)
            .finish()
    }
}

/// Whether a registration is taken out of the loop when dropped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ownership {
    /// The descriptor may be shared (a duplicate, stdin): deregister it explicitly.
    Shared,
    /// The only descriptor of its file: closing it deregisters it, no syscall needed.
    Exclusive,
}

impl<T: AsFd> Async<T> {
    /// Puts `io` in non-blocking mode and registers it.
    pub fn new(io: T) -> io::Result<Async<T>> {
        rustix::io::ioctl_fionbio(io.as_fd(), true)?;
        Async::register(io, Ownership::Shared)
    }

    /// Registers `io`, which must already be in non-blocking mode.
    pub fn new_nonblocking(io: T) -> io::Result<Async<T>> {
        Async::register(io, Ownership::Shared)
    }

    /// Registers `io`, already non-blocking, whose descriptor is the only one of its file (a
    /// socket just made, never duplicated): dropping it then costs no deregistration, since
    /// closing the last descriptor takes a file out of epoll. A duplicated descriptor breaks
    /// nothing but leaves the file registered, and its events ignored, until all are closed.
    pub fn new_exclusive(io: T) -> io::Result<Async<T>> {
        Async::register(io, Ownership::Exclusive)
    }

    fn register(io: T, ownership: Ownership) -> io::Result<Async<T>> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        if let Some(reactor) = reactor::current() {
            return Ok(Async {
                inner: Inner::Local(Registration::new(reactor, io, ownership)?),
            });
        }
        let _ = ownership;
        Ok(Async {
            inner: Inner::Global(async_io::Async::new_nonblocking(io)?),
        })
    }

    /// The I/O handle.
    pub fn get_ref(&self) -> &T {
        match &self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Local(r) => r.io(),
            Inner::Global(a) => a.get_ref(),
        }
    }

    /// Waits until the handle is readable (or at end of file, or an error is pending).
    pub async fn readable(&self) -> io::Result<()> {
        futures_lite::future::poll_fn(|cx| self.poll_readable(cx)).await
    }

    /// Waits until the handle is writable (or an error is pending).
    pub async fn writable(&self) -> io::Result<()> {
        futures_lite::future::poll_fn(|cx| self.poll_writable(cx)).await
    }

    /// Ready when the handle is readable. As with async-io, a caller that reads by itself
    /// until `WouldBlock` and asks again is answered only once the handle is readable again.
    pub fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Local(r) => r.poll_ready_told(reactor::READ, cx).map(Ok),
            Inner::Global(a) => a.poll_readable(cx),
        }
    }

    /// Ready when the handle is writable.
    pub fn poll_writable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Local(r) => r.poll_ready_told(reactor::WRITE, cx).map(Ok),
            Inner::Global(a) => a.poll_writable(cx),
        }
    }

    /// Runs the non-blocking read `op` until it does not fail with `WouldBlock`, waiting for
    /// readability between tries.
    pub async fn read_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        futures_lite::future::poll_fn(|cx| self.poll_op(READ_DIR, cx, &mut op)).await
    }

    /// Runs the non-blocking write `op` until it does not fail with `WouldBlock`, waiting for
    /// writability between tries.
    pub async fn write_with<R>(&self, op: impl FnMut(&T) -> io::Result<R>) -> io::Result<R> {
        let mut op = op;
        futures_lite::future::poll_fn(|cx| self.poll_op(WRITE_DIR, cx, &mut op)).await
    }

    /// One step of `read_with` / `write_with`: tries `op` while the direction is ready.
    fn poll_op<R>(
        &self,
        dir: usize,
        cx: &mut Context<'_>,
        op: &mut impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        match &self.inner {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Inner::Local(r) => loop {
                let tick = futures_lite::ready!(r.poll_ready(dir, cx));
                match op(r.io()) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => r.clear(dir, tick),
                    result => return Poll::Ready(result),
                }
            },
            Inner::Global(a) => loop {
                let ready = if dir == READ_DIR {
                    a.poll_readable(cx)
                } else {
                    a.poll_writable(cx)
                };
                if let Err(e) = futures_lite::ready!(ready) {
                    return Poll::Ready(Err(e));
                }
                match op(a.get_ref()) {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                    result => return Poll::Ready(result),
                }
            },
        }
    }
}

const READ_DIR: usize = 0;
const WRITE_DIR: usize = 1;

impl<T: AsFd> AsyncRead for Async<T>
where
    for<'a> &'a T: Read,
{
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_op(READ_DIR, cx, &mut |io: &T| {
            let mut io = io;
            io.read(buf)
        })
    }
}

impl<T: AsFd> AsyncWrite for Async<T>
where
    for<'a> &'a T: Write,
{
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_op(WRITE_DIR, cx, &mut |io: &T| {
            let mut io = io;
            io.write(buf)
        })
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_op(WRITE_DIR, cx, &mut |io: &T| {
            let mut io = io;
            io.write_vectored(bufs)
        })
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Sockets and pipes have no user-space buffer to flush.
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// A timer on the current thread's loop, or async-io's outside one (settled when first
/// polled): the same constructors and setters as `async_io::Timer`, resolving to the instant
/// it was set to.
pub struct Timer {
    when: Option<Instant>,
    backend: Backend,
}

enum Backend {
    /// Not polled yet: no reactor chosen.
    Unbound,
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Local(TimerEntry),
    Global(async_io::Timer),
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Timer").field("when", &self.when).finish()
    }
}

impl Timer {
    /// Fires at `at`.
    pub fn at(at: Instant) -> Timer {
        Timer {
            when: Some(at),
            backend: Backend::Unbound,
        }
    }

    /// Fires after `duration` (never, if that is past the end of the clock).
    pub fn after(duration: Duration) -> Timer {
        Timer {
            when: Instant::now().checked_add(duration),
            backend: Backend::Unbound,
        }
    }

    /// Never fires.
    pub fn never() -> Timer {
        Timer {
            when: None,
            backend: Backend::Unbound,
        }
    }

    /// Fires at `at` instead.
    pub fn set_at(&mut self, at: Instant) {
        self.when = Some(at);
        match &mut self.backend {
            Backend::Unbound => {}
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Local(entry) => entry.disarm(),
            Backend::Global(timer) => timer.set_at(at),
        }
    }

    /// Fires after `duration` from now instead.
    pub fn set_after(&mut self, duration: Duration) {
        match Instant::now().checked_add(duration) {
            Some(at) => self.set_at(at),
            None => {
                self.when = None;
                match &mut self.backend {
                    Backend::Unbound => {}
                    #[cfg(any(target_os = "linux", target_os = "android"))]
                    Backend::Local(entry) => entry.disarm(),
                    Backend::Global(_) => self.backend = Backend::Unbound,
                }
            }
        }
    }
}

impl Future for Timer {
    type Output = Instant;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Instant> {
        let this = &mut *self;
        let Some(when) = this.when else {
            return Poll::Pending;
        };
        if let Backend::Unbound = this.backend {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            if let Some(reactor) = reactor::current() {
                this.backend = Backend::Local(TimerEntry::new(reactor));
            }
            if let Backend::Unbound = this.backend {
                this.backend = Backend::Global(async_io::Timer::at(when));
            }
        }
        let fired = match &mut this.backend {
            Backend::Unbound => Poll::Pending,
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Backend::Local(entry) => entry.poll(when, cx),
            Backend::Global(timer) => Pin::new(timer).poll(cx),
        };
        if fired.is_ready() {
            // Fired once, as async-io's: pending again until set anew.
            this.when = None;
        }
        fired
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
mod reactor {
    //! The per-thread reactor: edge-triggered epoll, an eventfd for wakes from other threads,
    //! a slab of registrations and an ordered map of timers.

    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::future::Future;
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::pin::pin;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::{Arc, Mutex, MutexGuard};
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::ThreadId;
    use std::time::Instant;

    use rustix::buffer::spare_capacity;
    use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
    use rustix::event::{EventfdFlags, Timespec, eventfd};

    use super::Ownership;

    pub(super) const READ: usize = super::READ_DIR;
    pub(super) const WRITE: usize = super::WRITE_DIR;

    /// The key of the eventfd's events; registrations use slab keys below it.
    const NOTIFY_KEY: u64 = u64::MAX;

    /// Events taken per wait.
    const EVENTS: usize = 1024;

    /// The longest single wait for a timer.
    const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(3600);

    thread_local! {
        static CURRENT: RefCell<Option<Arc<Reactor>>> = const { RefCell::new(None) };
    }

    pub(super) fn current() -> Option<Arc<Reactor>> {
        CURRENT.with(|c| c.borrow().clone())
    }

    /// The identifier the next reactor gets.
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);

    pub(super) struct Reactor {
        id: u64,
        epoll: OwnedFd,
        notify: OwnedFd,
        thread: ThreadId,
        sources: Mutex<Slab>,
        timers: Mutex<BTreeMap<(Instant, u64), Waker>>,
        next_timer: AtomicU64,
        /// The future given to `block_on` was woken: poll it before waiting again.
        woken: AtomicBool,
        /// The loop waits (or is about to) in `epoll_wait`: a wake must write the eventfd.
        sleeping: AtomicBool,
        /// Tasks waiting for the loop to run out of work, and how many times it has.
        idle: Mutex<(u64, Vec<Waker>)>,
    }

    /// Registrations by key: the slot's index in the low 32 bits, its generation in the high,
    /// so that an event for a registration gone since is recognised and dropped.
    #[derive(Default)]
    struct Slab {
        entries: Vec<(u32, Option<Arc<Source>>)>,
        free: Vec<u32>,
    }

    /// What the loop knows of one registration, per direction.
    pub(super) struct Source {
        state: Mutex<SourceState>,
    }

    #[derive(Default)]
    struct SourceState {
        ready: [bool; 2],
        /// Counts the events per direction, so that clearing readiness after a `WouldBlock`
        /// cannot erase an event that came in between.
        ticks: [u64; 2],
        /// The event count when `readable()` / `writable()` last answered ready.
        told: [u64; 2],
        wakers: [Option<Waker>; 2],
    }

    fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
        m.lock().unwrap_or_else(|e| e.into_inner())
    }

    impl Reactor {
        pub(super) fn new() -> io::Result<Arc<Reactor>> {
            let epoll = epoll::create(CreateFlags::CLOEXEC)?;
            let notify = eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
            epoll::add(
                &epoll,
                &notify,
                EventData::new_u64(NOTIFY_KEY),
                EventFlags::IN | EventFlags::ET,
            )?;
            Ok(Arc::new(Reactor {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                epoll,
                notify,
                thread: std::thread::current().id(),
                sources: Mutex::new(Slab::default()),
                timers: Mutex::new(BTreeMap::new()),
                next_timer: AtomicU64::new(0),
                woken: AtomicBool::new(true),
                sleeping: AtomicBool::new(false),
                idle: Mutex::new((0, Vec::new())),
            }))
        }

        /// Interrupts the wait, if the loop waits.
        fn notify(&self) {
            if self.sleeping.swap(false, Ordering::SeqCst) {
                // Fails only when the counter would overflow, which needs no second wake.
                let _ = rustix::io::write(&self.notify, &1u64.to_ne_bytes());
            }
        }

        pub(super) fn id(&self) -> u64 {
            self.id
        }

        fn on_loop_thread(&self) -> bool {
            std::thread::current().id() == self.thread
        }

        /// One wait and what it found: registrations made ready, timers due. Wakes their
        /// tasks; `block` says whether to wait at all.
        fn turn(&self, events: &mut Vec<Event>, wakers: &mut Vec<Waker>, block: bool) {
            let timeout = if block {
                self.sleeping.store(true, Ordering::SeqCst);
                if self.woken.load(Ordering::SeqCst) {
                    Some(Timespec::default())
                } else {
                    lock(&self.timers).keys().next().map(|&(at, _)| {
                        // Capped, so that epoll_pwait takes it (past i32 milliseconds rustix
                        // turns to epoll_pwait2, which kernels before 5.11 lack): waking early
                        // only means another turn.
                        let d = at.saturating_duration_since(Instant::now()).min(MAX_WAIT);
                        Timespec {
                            tv_sec: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
                            tv_nsec: d.subsec_nanos().into(),
                        }
                    })
                }
            } else {
                Some(Timespec::default())
            };
            events.clear();
            // A signal ends the wait empty; anything else (EBADF, EFAULT) cannot happen with the
            // instance and buffer this owns.
            let _ = epoll::wait(&self.epoll, spare_capacity(events), timeout.as_ref());
            self.sleeping.store(false, Ordering::SeqCst);
            if !events.is_empty() {
                let slab = lock(&self.sources);
                for event in events.iter() {
                    let key = event.data.u64();
                    if key == NOTIFY_KEY {
                        let mut buf = [0u8; 8];
                        let _ = rustix::io::read(&self.notify, &mut buf);
                        continue;
                    }
                    let Some(source) = slab.get(key) else {
                        continue;
                    };
                    let flags = event.flags;
                    let problem = EventFlags::HUP | EventFlags::ERR;
                    let read = flags.intersects(EventFlags::IN | EventFlags::RDHUP | problem);
                    let write = flags.intersects(EventFlags::OUT | problem);
                    let mut state = lock(&source.state);
                    for (dir, hit) in [(READ, read), (WRITE, write)] {
                        if hit {
                            state.ready[dir] = true;
                            state.ticks[dir] += 1;
                            if let Some(w) = state.wakers[dir].take() {
                                wakers.push(w);
                            }
                        }
                    }
                }
            }
            {
                let mut timers = lock(&self.timers);
                if timers
                    .keys()
                    .next()
                    .is_some_and(|&(at, _)| at <= Instant::now())
                {
                    let now = Instant::now();
                    while let Some(entry) = timers.first_entry() {
                        if entry.key().0 > now {
                            break;
                        }
                        wakers.push(entry.remove());
                    }
                }
            }
            for w in wakers.drain(..) {
                w.wake();
            }
        }
    }

    impl Reactor {
        /// Wakes the tasks waiting for the loop to run out of work; false if there were none.
        fn went_idle(&self) -> bool {
            let waiting = {
                let mut idle = lock(&self.idle);
                if idle.1.is_empty() {
                    return false;
                }
                idle.0 += 1;
                std::mem::take(&mut idle.1)
            };
            for w in waiting {
                w.wake();
            }
            true
        }
    }

    /// [`super::Idle`] on a reactor: the count of idle spells it waits to see pass.
    #[derive(Debug)]
    pub(super) struct IdleWait {
        reactor: Arc<Reactor>,
        epoch: u64,
    }

    impl std::fmt::Debug for Reactor {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Reactor").finish_non_exhaustive()
        }
    }

    impl IdleWait {
        pub(super) fn new(reactor: Arc<Reactor>) -> IdleWait {
            let epoch = lock(&reactor.idle).0;
            IdleWait { reactor, epoch }
        }

        pub(super) fn poll(&self, cx: &mut Context<'_>) -> Poll<()> {
            let mut idle = lock(&self.reactor.idle);
            if idle.0 != self.epoch {
                return Poll::Ready(());
            }
            if !idle.1.iter().any(|w| w.will_wake(cx.waker())) {
                idle.1.push(cx.waker().clone());
            }
            Poll::Pending
        }
    }

    impl Wake for Reactor {
        fn wake(self: Arc<Self>) {
            self.wake_by_ref();
        }

        fn wake_by_ref(self: &Arc<Self>) {
            self.woken.store(true, Ordering::SeqCst);
            self.notify();
        }
    }

    /// Runs `future` on `reactor`, which is this thread's current one meanwhile.
    pub(super) fn run<T>(reactor: Arc<Reactor>, future: impl Future<Output = T>) -> T {
        struct Restore(Option<Arc<Reactor>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                CURRENT.with(|c| *c.borrow_mut() = previous);
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.borrow_mut().replace(reactor.clone())));
        let waker = Waker::from(reactor.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let mut events = Vec::with_capacity(EVENTS);
        let mut wakers = Vec::new();
        loop {
            if reactor.woken.swap(false, Ordering::SeqCst) {
                if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
                    return value;
                }
                // Events that came meanwhile, without waiting: the future may have more to do.
                reactor.turn(&mut events, &mut wakers, false);
            } else if !reactor.went_idle() {
                reactor.turn(&mut events, &mut wakers, true);
            }
        }
    }

    impl Slab {
        fn get(&self, key: u64) -> Option<&Arc<Source>> {
            let (index, generation) = (key as u32, (key >> 32) as u32);
            match self.entries.get(index as usize) {
                Some((g, Some(source))) if *g == generation => Some(source),
                _ => None,
            }
        }

        fn insert(&mut self, source: Arc<Source>) -> u64 {
            let index = match self.free.pop() {
                Some(index) => index,
                None => {
                    self.entries.push((0, None));
                    (self.entries.len() - 1) as u32
                }
            };
            let entry = &mut self.entries[index as usize];
            entry.0 = entry.0.wrapping_add(1);
            entry.1 = Some(source);
            (u64::from(entry.0) << 32) | u64::from(index)
        }

        fn remove(&mut self, key: u64) {
            let index = key as u32;
            if let Some(entry) = self.entries.get_mut(index as usize)
                && entry.0 == (key >> 32) as u32
                && entry.1.take().is_some()
            {
                self.free.push(index);
            }
        }
    }

    /// An I/O handle registered with a reactor for as long as it lives.
    pub(super) struct Registration<T: AsFd> {
        io: Option<T>,
        reactor: Arc<Reactor>,
        source: Arc<Source>,
        key: u64,
        ownership: Ownership,
    }

    impl<T: AsFd> Registration<T> {
        pub(super) fn new(
            reactor: Arc<Reactor>,
            io: T,
            ownership: Ownership,
        ) -> io::Result<Registration<T>> {
            let source = Arc::new(Source {
                state: Mutex::new(SourceState {
                    // Writes are tried at once (a socket just connected takes them); reads wait
                    // for the first event, which registering reports if data is there already.
                    ready: [false, true],
                    ..SourceState::default()
                }),
            });
            let key = lock(&reactor.sources).insert(source.clone());
            let flags = EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
            if let Err(e) = epoll::add(&reactor.epoll, io.as_fd(), EventData::new_u64(key), flags) {
                lock(&reactor.sources).remove(key);
                return Err(e.into());
            }
            Ok(Registration {
                io: Some(io),
                reactor,
                source,
                key,
                ownership,
            })
        }

        pub(super) fn io(&self) -> &T {
            self.io
                .as_ref()
                .expect("the handle lives until the registration is dropped")
        }

        /// Ready with the direction's event count while it is ready; else keeps the waker.
        pub(super) fn poll_ready(&self, dir: usize, cx: &mut Context<'_>) -> Poll<u64> {
            let mut state = lock(&self.source.state);
            if state.ready[dir] {
                return Poll::Ready(state.ticks[dir]);
            }
            register(&mut state.wakers[dir], cx);
            Poll::Pending
        }

        /// Ready when the direction is, for callers that do their I/O themselves (not through
        /// `read_with`/`write_with`, which see `WouldBlock`): as async-io's `readable()` does,
        /// an answer already given is not given again unless the handle is still ready, which
        /// the kernel is asked (one `poll(2)`) only when no event came in between.
        pub(super) fn poll_ready_told(&self, dir: usize, cx: &mut Context<'_>) -> Poll<()> {
            let tick = {
                let mut state = lock(&self.source.state);
                if !state.ready[dir] {
                    register(&mut state.wakers[dir], cx);
                    return Poll::Pending;
                }
                if state.ticks[dir] != state.told[dir] {
                    state.told[dir] = state.ticks[dir];
                    return Poll::Ready(());
                }
                state.ticks[dir]
            };
            let interest = crate::sys::Interest {
                read: dir == READ,
                write: dir == WRITE,
            };
            // An fd the kernel cannot poll answers ready: the caller's own I/O reports why.
            let still = crate::sys::poll_now(self.io().as_fd(), interest).map_or(true, |b| {
                b.hangup
                    || b.error
                    || if dir == READ {
                        b.readable || b.read_hangup
                    } else {
                        b.writable
                    }
            });
            let mut state = lock(&self.source.state);
            if still || state.ticks[dir] != tick {
                state.told[dir] = state.ticks[dir];
                return Poll::Ready(());
            }
            state.ready[dir] = false;
            register(&mut state.wakers[dir], cx);
            Poll::Pending
        }

        /// An operation found the direction not ready after all (`WouldBlock`), unless an
        /// event came since `tick`.
        pub(super) fn clear(&self, dir: usize, tick: u64) {
            let mut state = lock(&self.source.state);
            if state.ticks[dir] == tick {
                state.ready[dir] = false;
            }
        }
    }

    impl<T: AsFd> Drop for Registration<T> {
        fn drop(&mut self) {
            lock(&self.reactor.sources).remove(self.key);
            if let Some(io) = self.io.take() {
                if self.ownership == Ownership::Shared {
                    let _ = epoll::delete(&self.reactor.epoll, io.as_fd());
                }
                drop(io);
            }
        }
    }

    /// Keeps `cx`'s waker in `slot` (cloned only if it is not the one there already).
    fn register(slot: &mut Option<Waker>, cx: &Context<'_>) {
        if !slot.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            *slot = Some(cx.waker().clone());
        }
    }

    /// A timer's place in a reactor's map, while armed.
    pub(super) struct TimerEntry {
        reactor: Arc<Reactor>,
        id: u64,
        armed: Option<Instant>,
    }

    impl TimerEntry {
        pub(super) fn new(reactor: Arc<Reactor>) -> TimerEntry {
            let id = reactor.next_timer.fetch_add(1, Ordering::Relaxed);
            TimerEntry {
                reactor,
                id,
                armed: None,
            }
        }

        pub(super) fn disarm(&mut self) {
            if let Some(at) = self.armed.take() {
                lock(&self.reactor.timers).remove(&(at, self.id));
            }
        }

        pub(super) fn poll(&mut self, when: Instant, cx: &mut Context<'_>) -> Poll<Instant> {
            if when <= Instant::now() {
                self.disarm();
                return Poll::Ready(when);
            }
            {
                let mut timers = lock(&self.reactor.timers);
                if let Some(at) = self.armed.filter(|&at| at != when) {
                    timers.remove(&(at, self.id));
                }
                let slot = timers
                    .entry((when, self.id))
                    .or_insert_with(|| cx.waker().clone());
                if !slot.will_wake(cx.waker()) {
                    *slot = cx.waker().clone();
                }
            }
            self.armed = Some(when);
            if !self.reactor.on_loop_thread() {
                // The loop may be waiting with a later deadline in mind.
                self.reactor.notify();
            }
            Poll::Pending
        }
    }

    impl Drop for TimerEntry {
        fn drop(&mut self) {
            self.disarm();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn sockets_and_timers_inside_block_on_use_the_local_loop() {
        block_on(async {
            assert!(in_local_loop());
            let socket = Async::new(UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
            assert!(format!("{socket:?}").contains("local"));
        });
        assert!(!in_local_loop());
        let socket = Async::new(UdpSocket::bind("127.0.0.1:0").unwrap()).unwrap();
        assert!(format!("{socket:?}").contains("async-io"));
    }

    #[test]
    fn a_read_waits_for_data_then_gets_it() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        let got = block_on(async {
            let a = Async::new(a).unwrap();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                b.send(b"ping").unwrap();
            });
            let mut buf = [0; 16];
            let n = a.read_with(|s| s.recv(&mut buf)).await.unwrap();
            sender.join().unwrap();
            buf[..n].to_vec()
        });
        assert_eq!(got, b"ping");
    }

    #[test]
    fn readable_after_reading_by_hand_waits_for_more_data() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        let (got, recvs) = block_on(async {
            let a = Async::new(a).unwrap();
            b.send(b"one").unwrap();
            b.send(b"two").unwrap();
            let sender = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                b.send(b"three").unwrap();
            });
            let (mut got, mut recvs) = (Vec::new(), 0);
            // async-io's pattern: wait, read by hand until WouldBlock, wait again.
            while got.len() < 3 {
                a.readable().await.unwrap();
                loop {
                    let mut buf = [0; 16];
                    recvs += 1;
                    match a.get_ref().recv(&mut buf) {
                        Ok(n) => got.push(buf[..n].to_vec()),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => panic!("{e}"),
                    }
                }
            }
            sender.join().unwrap();
            (got, recvs)
        });
        assert_eq!(got, [&b"one"[..], b"two", b"three"]);
        // One WouldBlock per wait, not a spin: two waits, five receives.
        assert_eq!(recvs, 5);
    }

    #[test]
    fn every_datagram_of_a_burst_is_read_though_events_are_edges() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").unwrap();
        b.connect(a.local_addr().unwrap()).unwrap();
        for i in 0..100u8 {
            b.send(&[i]).unwrap();
        }
        let got = block_on(async {
            let a = Async::new(a).unwrap();
            let mut got = Vec::new();
            while got.len() < 100 {
                let mut buf = [0; 1];
                a.read_with(|s| s.recv(&mut buf)).await.unwrap();
                got.push(buf[0]);
                // Another task's turn between reads: readiness must survive it.
                futures_lite::future::yield_now().await;
            }
            got
        });
        assert_eq!(got, (0..100).collect::<Vec<u8>>());
    }

    #[test]
    fn timers_fire_in_order_and_never_early() {
        let order = block_on(async {
            let start = Instant::now();
            let mut late = Timer::after(Duration::from_millis(40));
            let mut early = Timer::after(Duration::from_millis(10));
            let mut order = Vec::new();
            futures_lite::future::poll_fn(|cx| {
                if order.len() < 2 && Pin::new(&mut early).poll(cx).is_ready() && order.is_empty() {
                    order.push(("early", start.elapsed()));
                }
                if Pin::new(&mut late).poll(cx).is_ready() {
                    order.push(("late", start.elapsed()));
                    return Poll::Ready(());
                }
                Poll::Pending
            })
            .await;
            order
        });
        assert_eq!(order[0].0, "early");
        assert!(order[0].1 >= Duration::from_millis(10));
        assert_eq!(order[1].0, "late");
        assert!(order[1].1 >= Duration::from_millis(40));
    }

    #[test]
    fn a_fired_timer_stays_pending_until_set_again() {
        block_on(async {
            let mut timer = Timer::after(Duration::from_millis(5));
            (&mut timer).await;
            let again = futures_lite::future::poll_once(&mut timer).await;
            assert!(again.is_none(), "fired twice");
            timer.set_after(Duration::from_millis(5));
            timer.await;
        });
    }

    #[test]
    fn a_timer_a_year_away_does_not_make_the_loop_spin() {
        let polls = block_on(async {
            let mut far = Timer::after(Duration::from_secs(365 * 86_400));
            let mut near = Timer::after(Duration::from_millis(50));
            let mut polls = 0;
            futures_lite::future::poll_fn(|cx| {
                polls += 1;
                let _ = Pin::new(&mut far).poll(cx);
                Pin::new(&mut near).poll(cx).map(|_| ())
            })
            .await;
            polls
        });
        // Polled when made and when the near timer fires, not in a loop meanwhile.
        assert!(polls <= 3, "{polls} polls");
    }

    #[test]
    fn a_timer_moved_earlier_fires_at_the_new_time() {
        let elapsed = block_on(async {
            let start = Instant::now();
            let mut timer = Timer::after(Duration::from_secs(3600));
            futures_lite::future::poll_fn(|cx| {
                let _ = Pin::new(&mut timer).poll(cx);
                Poll::Ready(())
            })
            .await;
            timer.set_after(Duration::from_millis(20));
            timer.await;
            start.elapsed()
        });
        assert!(elapsed >= Duration::from_millis(20) && elapsed < Duration::from_secs(60));
    }

    #[test]
    fn a_wake_from_another_thread_ends_the_wait() {
        let flag = Arc::new(AtomicBool::new(false));
        let seen = flag.clone();
        block_on(futures_lite::future::poll_fn(move |cx| {
            if seen.load(Ordering::SeqCst) {
                return Poll::Ready(());
            }
            let (flag, waker) = (flag.clone(), cx.waker().clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                flag.store(true, Ordering::SeqCst);
                waker.wake();
            });
            Poll::Pending
        }));
    }

    #[test]
    fn idle_comes_after_the_other_work_of_the_turn() {
        let log = block_on(async {
            let log = std::cell::RefCell::new(Vec::new());
            let waiting = async {
                idle().await;
                log.borrow_mut().push("idle");
            };
            let busy = async {
                for _ in 0..3 {
                    log.borrow_mut().push("step");
                    futures_lite::future::yield_now().await;
                }
            };
            futures_lite::future::zip(waiting, busy).await;
            log.into_inner()
        });
        assert_eq!(log, ["step", "step", "step", "idle"]);
        // Outside a loop there is no idle spell to wait for.
        futures_lite::future::block_on(idle());
    }

    #[test]
    fn a_tcp_exchange_over_async_read_and_write() {
        use futures_lite::{AsyncReadExt, AsyncWriteExt};
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut buf = [0; 4];
            conn.read_exact(&mut buf).unwrap();
            conn.write_all(&buf).unwrap();
        });
        let echoed = block_on(async {
            let mut stream = Async::new(TcpStream::connect(addr).unwrap()).unwrap();
            stream.write_all(b"echo").await.unwrap();
            let mut buf = Vec::new();
            stream.read_to_end(&mut buf).await.unwrap();
            buf
        });
        server.join().unwrap();
        assert_eq!(echoed, b"echo");
    }

    #[test]
    fn a_dropped_registration_leaves_its_fd_number_free_to_register_again() {
        block_on(async {
            for _ in 0..3 {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                let dup = socket.try_clone().unwrap();
                // Shared: deregistered on drop, though `dup` keeps the file open.
                drop(Async::new(socket).unwrap());
                let again = Async::new(dup).unwrap();
                drop(again);
            }
        });
    }
}
