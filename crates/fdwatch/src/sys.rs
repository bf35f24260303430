//! The thin layer over the kernel: epoll for the callback loop, `poll(2)` and `FIONREAD` to
//! classify an event, and the one place where a caller's raw fd number is borrowed.
//!
//! On Linux and Android the loop uses level-triggered epoll directly through rustix: one
//! `epoll_wait` per turn and nothing else, where the portable `polling` crate would re-arm its
//! notifier and timer with extra syscalls on every wait. Elsewhere it uses `polling` in level
//! mode, which is correct everywhere and merely slower.

use std::io;
use std::os::fd::{BorrowedFd, RawFd};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::readiness::Bits;

/// Which directions a registration asks the kernel about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Interest {
    pub read: bool,
    pub write: bool,
}

/// Runs `f` with the caller's fd number borrowed for the duration of one or two syscalls.
///
/// Negative numbers are refused with `EBADF` before anything else happens.
///
/// `f` must only hand the fd to syscalls that look at it (`epoll_ctl`, `poll`, the `FIONREAD`
/// ioctl): never read, write, close or otherwise change the file, since the number may not be
/// the file the caller meant (see below).
#[allow(unsafe_code)]
pub(crate) fn with_fd<R>(
    fd: RawFd,
    f: impl FnOnce(BorrowedFd<'_>) -> io::Result<R>,
) -> io::Result<R> {
    if fd < 0 {
        return Err(io::Error::from(rustix::io::Errno::BADF));
    }
    // SAFETY: `borrow_raw` asks for a number other than -1 (a `BorrowedFd` cannot hold it: that
    // would be an invalid value, true undefined behaviour) that stays open while borrowed. The
    // first is checked above. The second cannot be promised for a number a caller passed in
    // (asyncio's contract: the loop watches numbers it does not own), so this relies instead on
    // what the borrow is used for: it lives only inside `f`, which passes it by value to
    // syscalls that only inspect the fd (the contract above). No memory is read or written
    // through the fd, so a number that is not open only makes the kernel answer `EBADF`
    // (`WatchError::BadFd`), and a number that was closed and reused by another file (even
    // one owned elsewhere in the process) at worst registers or inspects that file: a wrong
    // watch, which the caller's contract (remove a watch before closing its fd) rules out,
    // never memory unsafety. The same reasoning makes mio's `SourceFd` safe.
    let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
    f(borrowed)
}

/// How many bytes can be read from `fd` without blocking, if the fd type can say.
pub(crate) fn pending_bytes(fd: RawFd) -> Option<u64> {
    with_fd(fd, |fd| Ok(rustix::io::ioctl_fionread(fd)?)).ok()
}

/// Asks the kernel, without waiting, what readiness `fd` has now.
pub(crate) fn poll_now(fd: BorrowedFd<'_>, interest: Interest) -> io::Result<Bits> {
    let mut flags = PollFlags::empty();
    if interest.read {
        flags |= PollFlags::IN;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            flags |= PollFlags::RDHUP;
        }
    }
    if interest.write {
        flags |= PollFlags::OUT;
    }
    let mut fds = [PollFd::new(&fd, flags)];
    let zero = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        match rustix::event::poll(&mut fds, Some(&zero)) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let revents = fds[0].revents();
    if revents.contains(PollFlags::NVAL) {
        return Err(io::Error::from(rustix::io::Errno::BADF));
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let read_hangup = revents.contains(PollFlags::RDHUP);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let read_hangup = false;
    Ok(Bits {
        readable: revents.contains(PollFlags::IN),
        writable: revents.contains(PollFlags::OUT),
        read_hangup,
        hangup: revents.contains(PollFlags::HUP),
        error: revents.contains(PollFlags::ERR),
    })
}

#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use epoll::{Events, Poller};

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use portable::{Events, Poller};

#[cfg(any(target_os = "linux", target_os = "android"))]
mod epoll {
    //! Level-triggered epoll through rustix.

    use super::{Interest, with_fd};
    use crate::readiness::Bits;
    use rustix::buffer::spare_capacity;
    use rustix::event::Timespec;
    use rustix::event::epoll::{self, CreateFlags, Event, EventData, EventFlags};
    use std::io;
    use std::os::fd::{OwnedFd, RawFd};
    use std::time::Duration;

    /// One epoll instance.
    #[derive(Debug)]
    pub(crate) struct Poller {
        epoll: OwnedFd,
    }

    /// The buffer `epoll_wait` fills, reused on every turn of the loop.
    pub(crate) struct Events {
        list: Vec<Event>,
    }

    impl std::fmt::Debug for Events {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Events")
                .field("len", &self.list.len())
                .finish()
        }
    }

    impl Events {
        pub fn with_capacity(cap: usize) -> Self {
            Events {
                list: Vec::with_capacity(cap),
            }
        }

        pub fn len(&self) -> usize {
            self.list.len()
        }

        /// The key and bits of the `i`-th event.
        #[inline]
        pub fn get(&self, i: usize) -> (u64, Bits) {
            let ev = self.list[i];
            let flags = ev.flags;
            let bits = Bits {
                readable: flags.contains(EventFlags::IN),
                writable: flags.contains(EventFlags::OUT),
                read_hangup: flags.contains(EventFlags::RDHUP),
                hangup: flags.contains(EventFlags::HUP),
                error: flags.contains(EventFlags::ERR),
            };
            (ev.data.u64(), bits)
        }
    }

    fn flags(interest: Interest) -> EventFlags {
        // Level-triggered (no EPOLLET): an fd that stays ready is reported on every turn, which
        // is asyncio's contract and needs no re-arming syscall.
        let mut flags = EventFlags::empty();
        if interest.read {
            flags |= EventFlags::IN | EventFlags::RDHUP;
        }
        if interest.write {
            flags |= EventFlags::OUT;
        }
        flags
    }

    impl Poller {
        pub fn new() -> io::Result<Self> {
            Ok(Poller {
                epoll: epoll::create(CreateFlags::CLOEXEC)?,
            })
        }

        pub fn add(&self, fd: RawFd, key: u64, interest: Interest) -> io::Result<()> {
            with_fd(fd, |fd| {
                Ok(epoll::add(
                    &self.epoll,
                    fd,
                    EventData::new_u64(key),
                    flags(interest),
                )?)
            })
        }

        pub fn modify(&self, fd: RawFd, key: u64, interest: Interest) -> io::Result<()> {
            with_fd(fd, |fd| {
                Ok(epoll::modify(
                    &self.epoll,
                    fd,
                    EventData::new_u64(key),
                    flags(interest),
                )?)
            })
        }

        pub fn delete(&self, fd: RawFd) -> io::Result<()> {
            with_fd(fd, |fd| Ok(epoll::delete(&self.epoll, fd)?))
        }

        /// Waits for events, at most `timeout` (`None`: until there are some; zero: only
        /// collects those already there). A signal may end the wait early with no events.
        ///
        /// rustix hands the timeout to `epoll_wait` in milliseconds rounded up, so a wait for
        /// a deadline never ends before it (unless a signal ends it).
        pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            let timeout = timeout.map(|t| Timespec {
                // The loop caps its waits at an hour, so the seconds always fit.
                tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: t.subsec_nanos().into(),
            });
            events.list.clear();
            match epoll::wait(
                &self.epoll,
                spare_capacity(&mut events.list),
                timeout.as_ref(),
            ) {
                Ok(_) => Ok(()),
                // A signal handler ran (or the process was stopped and continued); nothing
                // happened to the watches. Not retried here with the same timeout: that would
                // push the next timer back by the whole wait at every signal (and starve it
                // under periodic signals). The loop's turn ends empty and the next one waits
                // for what is left of the time.
                Err(rustix::io::Errno::INTR) => {
                    events.list.clear();
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        }

        /// Whether `err` from `modify` means the kernel no longer has the fd registered.
        pub fn is_not_registered(err: &io::Error) -> bool {
            err.raw_os_error() == Some(rustix::io::Errno::NOENT.raw_os_error())
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod portable {
    //! Level-triggered `polling` (kqueue, event ports, ...) where epoll is not available.

    use super::Interest;
    use crate::readiness::Bits;
    use polling::{Event, PollMode};
    use std::io;
    use std::os::fd::RawFd;
    use std::time::Duration;

    /// One `polling::Poller`.
    #[derive(Debug)]
    pub(crate) struct Poller {
        poller: polling::Poller,
    }

    /// The buffer `wait` fills, reused on every turn of the loop.
    #[derive(Debug)]
    pub(crate) struct Events {
        events: polling::Events,
        list: Vec<(u64, Bits)>,
    }

    impl Events {
        pub fn with_capacity(cap: usize) -> Self {
            Events {
                events: polling::Events::with_capacity(
                    std::num::NonZeroUsize::new(cap.max(1)).unwrap(),
                ),
                list: Vec::with_capacity(cap),
            }
        }

        pub fn len(&self) -> usize {
            self.list.len()
        }

        #[inline]
        pub fn get(&self, i: usize) -> (u64, Bits) {
            self.list[i]
        }
    }

    fn event(key: u64, interest: Interest) -> Event {
        let key = key as usize;
        match (interest.read, interest.write) {
            (true, true) => Event::all(key),
            (true, false) => Event::readable(key),
            (false, true) => Event::writable(key),
            (false, false) => Event::none(key),
        }
    }

    impl Poller {
        pub fn new() -> io::Result<Self> {
            Ok(Poller {
                poller: polling::Poller::new()?,
            })
        }

        #[allow(unsafe_code)]
        pub fn add(&self, fd: RawFd, key: u64, interest: Interest) -> io::Result<()> {
            if fd < 0 {
                return Err(io::Error::from(rustix::io::Errno::BADF));
            }
            // SAFETY: polling asks that the fd be deleted before it is closed. The event loop
            // deletes it in `remove_*`; a caller that closes a watched fd breaks only the
            // watch (as with asyncio), never memory, since the poller holds no pointer to it.
            unsafe {
                self.poller
                    .add_with_mode(fd, event(key, interest), PollMode::Level)
            }
        }

        pub fn modify(&self, fd: RawFd, key: u64, interest: Interest) -> io::Result<()> {
            super::with_fd(fd, |fd| {
                self.poller
                    .modify_with_mode(fd, event(key, interest), PollMode::Level)
            })
        }

        pub fn delete(&self, fd: RawFd) -> io::Result<()> {
            super::with_fd(fd, |fd| self.poller.delete(fd))
        }

        pub fn wait(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
            events.events.clear();
            events.list.clear();
            self.poller.wait(&mut events.events, timeout)?;
            for ev in events.events.iter() {
                // Widened back losslessly: keys are fd numbers or `WAKE_KEY`, all within u32.
                let key = ev.key as u64;
                let mut bits = Bits {
                    readable: ev.readable,
                    writable: ev.writable,
                    read_hangup: false,
                    hangup: ev.is_interrupt(),
                    error: ev.is_err().unwrap_or(false),
                };
                // `polling` does not say whether the peer hung up; without that, a reader at the
                // end of file would be told `Ready` forever. Ask poll(2), at the price of one
                // syscall per readable event on these platforms.
                let read = Interest {
                    read: true,
                    write: false,
                };
                if bits.readable
                    && let Ok(now) =
                        super::with_fd(key as u32 as RawFd, |fd| super::poll_now(fd, read))
                {
                    bits.read_hangup |= now.read_hangup;
                    bits.hangup |= now.hangup;
                    bits.error |= now.error;
                }
                events.list.push((key, bits));
            }
            Ok(())
        }

        pub fn is_not_registered(err: &io::Error) -> bool {
            err.kind() == io::ErrorKind::NotFound
        }
    }
}

/// The wake-up fd of a loop that has a [`LoopHandle`](crate::LoopHandle): another thread makes
/// it readable to interrupt the loop's wait, the loop drains it. An eventfd (one fd, one counter)
/// on Linux and Android, a non-blocking pipe elsewhere.
#[derive(Debug)]
pub(crate) struct Waker {
    /// What the loop watches (the eventfd, or the pipe's read end).
    read: std::os::fd::OwnedFd,
    /// The pipe's write end; the eventfd is written through `read` itself.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    write: std::os::fd::OwnedFd,
}

impl Waker {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn new() -> io::Result<Self> {
        use rustix::event::{EventfdFlags, eventfd};
        Ok(Waker {
            read: eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?,
        })
    }

    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub(crate) fn new() -> io::Result<Self> {
        use rustix::fs::{OFlags, fcntl_getfl, fcntl_setfl};
        use rustix::io::{FdFlags, fcntl_setfd};
        // `pipe2` is missing on some of these platforms: set the flags one by one.
        let (read, write) = rustix::pipe::pipe()?;
        for fd in [&read, &write] {
            fcntl_setfd(fd, FdFlags::CLOEXEC)?;
            fcntl_setfl(fd, fcntl_getfl(fd)? | OFlags::NONBLOCK)?;
        }
        Ok(Waker { read, write })
    }

    /// The fd number the loop watches for readability.
    pub(crate) fn fd(&self) -> RawFd {
        use std::os::fd::AsRawFd;
        self.read.as_raw_fd()
    }

    /// Makes the fd readable. Errors are ignored: a full pipe or a saturated eventfd counter is
    /// still readable, which is all a wake-up needs.
    pub(crate) fn wake(&self) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = rustix::io::write(&self.read, &1u64.to_ne_bytes());
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let _ = rustix::io::write(&self.write, &[1]);
    }

    /// Makes the fd unreadable again (reads everything there is; it is non-blocking).
    pub(crate) fn reset(&self) {
        let mut buf = [0u8; 64];
        loop {
            match rustix::io::read(&self.read, &mut buf) {
                // An eventfd is emptied by one 8-byte read; a pipe may hold more than `buf`.
                Ok(n) if n == buf.len() => continue,
                Err(rustix::io::Errno::INTR) => continue,
                _ => return,
            }
        }
    }
}
