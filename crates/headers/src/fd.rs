//! File descriptors: raising the soft open-file limit, knowing how many connections can be open
//! at once, and connecting without failing when the process is out of descriptors (the attempt
//! waits until one of our connections closes, or a short while, and tries again).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::sync::Once;
use std::time::Duration;

use crate::rt::{Async, Timer};
use event_listener::Event;
use futures_lite::future;

/// Notified whenever one of our connections closes: a descriptor is free again.
static FD_FREED: Event = Event::new();

/// A connection that tells descriptor waiters when it closes.
#[derive(Debug)]
pub(crate) struct Conn {
    /// Declared first so it is closed before waiters are told.
    pub(crate) stream: Async<TcpStream>,
    #[cfg_attr(not(feature = "tls"), allow(dead_code))]
    pub(crate) freed: Freed,
}

/// Tells descriptor waiters when dropped: keep it next to (and after) the socket it stands for.
#[derive(Debug)]
pub(crate) struct Freed;

impl Drop for Freed {
    fn drop(&mut self) {
        // Cheap when nobody waits: one atomic load.
        FD_FREED.notify(1);
    }
}

/// Whether an error means the process (EMFILE) or the system (ENFILE) is out of descriptors.
fn out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            rustix::io::Errno::from_io_error(e),
            Some(rustix::io::Errno::MFILE | rustix::io::Errno::NFILE)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Starts connecting to `addr` and returns at once, the connection possibly still in
/// progress: the caller's first write waits for it (and reports its failure), which saves a
/// trip through the reactor when the connection completes at once, as on loopback. When out
/// of descriptors, waits for one to free and tries again.
pub(crate) async fn connect(addr: SocketAddr) -> io::Result<Conn> {
    loop {
        match start_connect(addr) {
            Ok(stream) => {
                return Ok(Conn {
                    stream,
                    freed: Freed,
                });
            }
            Err(e) if out_of_descriptors(&e) => {
                // A descriptor may also be freed by code that does not tell us: poll as well.
                let freed = FD_FREED.listen();
                future::or(freed, async {
                    Timer::after(Duration::from_millis(20)).await;
                })
                .await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// A non-blocking socket with `connect` issued (in progress or done), registered with the
/// reactor.
#[cfg(unix)]
fn start_connect(addr: SocketAddr) -> io::Result<Async<TcpStream>> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType, socket_with};
    let family = match addr {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = socket_with(family, SocketType::STREAM, flags, None)?;
    // No Nagle: a TLS client's second flight (Finished, then the request) would otherwise wait
    // for the ACK of the first, which the server delays by up to 40 ms.
    rustix::net::sockopt::set_tcp_nodelay(&fd, true)?;
    match rustix::net::connect(&fd, &addr) {
        Ok(()) | Err(rustix::io::Errno::INPROGRESS) => {}
        Err(e) => return Err(e.into()),
    }
    // Exclusive: the socket was just made here, so closing it also takes it out of the loop.
    Async::new_exclusive(TcpStream::from(fd))
}

/// Elsewhere, async-io's connect (which waits for the connection).
#[cfg(not(unix))]
fn start_connect(addr: SocketAddr) -> io::Result<Async<TcpStream>> {
    let stream = future::block_on(Async::<TcpStream>::connect(addr))?;
    stream.get_ref().set_nodelay(true)?;
    Ok(stream)
}

/// Raises the soft open-file limit (RLIMIT_NOFILE) to the hard limit, once per process, and
/// returns the soft limit now in force (`None` where there is no such limit or it is unknown).
///
/// Nothing in this crate calls it: the limit is the process's (children inherit it), so raising
/// it is the program's choice. [`Many`](crate::Many) keeps its concurrency under whatever limit
/// is in force ([`fd_budget`]).
pub fn raise_fd_limit() -> Option<u64> {
    static RAISE: Once = Once::new();
    #[cfg(unix)]
    {
        use rustix::process::{Resource, getrlimit, setrlimit};
        RAISE.call_once(|| {
            let limit = getrlimit(Resource::Nofile);
            // An unlimited hard limit still cannot be the soft limit on every system; 1 Mi is
            // Linux's default ceiling (fs.nr_open).
            let hard = limit.maximum.unwrap_or(1 << 20);
            if limit.current.is_some_and(|soft| soft < hard) {
                let mut raised = limit;
                raised.current = Some(hard);
                // Not allowed (or above fs.nr_open): keep the old limit, waiting covers it.
                let _ = setrlimit(Resource::Nofile, raised);
            }
        });
        getrlimit(Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        RAISE.call_once(|| {});
        None
    }
}

/// How many more connections fit under the soft open-file limit right now: the limit, less the
/// descriptors open, less a margin for everything else the process opens (`None`: no limit, or
/// it is unknown). Changes nothing.
pub fn fd_budget() -> Option<usize> {
    let soft = soft_fd_limit()?;
    let open = std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0) as u64;
    // Room for the resolver, the executor and whatever the caller opens meanwhile.
    const MARGIN: u64 = 32;
    Some(soft.saturating_sub(open + MARGIN).max(1) as usize)
}

/// The soft open-file limit in force.
fn soft_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rustix::process::getrlimit(rustix::process::Resource::Nofile).current
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_send_without_nagle_delay() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let conn = future::block_on(connect(addr)).unwrap();
        let (_accepted, _) = listener.accept().unwrap();
        assert!(conn.stream.get_ref().nodelay().unwrap());
    }
}
