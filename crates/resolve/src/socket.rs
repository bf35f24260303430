//! The UDP sockets lookups ask on: one per server for each thread's loop, shared by the lookups
//! that run there, each query with an ID no other query on the socket holds; the replies are
//! handed to the query whose ID they carry.
//!
//! A socket of a thread's own loop (fdwatch's `local::block_on`, as tulip-headers' workers run)
//! is registered once and read on that thread: a lookup costs no socket, no registration and no
//! wake-up of another thread. Outside such a loop the thread's socket is on async-io's reactor.
//!
//! No task reads a socket: one of the waiting queries is the reader, the only one that asks for
//! readiness; it reads every datagram there is and wakes the queries they are for. When the
//! reader's query ends (or is dropped), another waiting query takes over. A socket is replaced
//! after [`ROTATE`] queries, so that its source port does not stay the same for long; the old
//! one closes with its last query.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::io;
use std::mem::MaybeUninit;
use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use rustix::net::RecvFlags;

use crate::rt::{Async, loop_id};

/// The largest datagram read (a longer one is cut short, fails to parse and is ignored).
const DATAGRAM: usize = 4096;

/// How many queries one socket carries before a new one takes its place.
pub(crate) const ROTATE: u32 = 1024;

/// The receive buffer asked for a socket, in bytes: room for the replies of many lookups while
/// the thread that reads them is busy with other work (the kernel caps it at
/// net.core.rmem_max).
const RECV_BUFFER: usize = 1 << 20;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A thread's socket to one server: the loop it is registered with (`None`: async-io's), and
/// how many queries it carried.
struct Entry {
    server: SocketAddr,
    on_loop: Option<u64>,
    shared: Arc<Shared>,
    used: u32,
}

thread_local! {
    /// This thread's sockets, one per server (any resolver's: the IDs keep lookups apart).
    static SOCKETS: RefCell<Vec<Entry>> = const { RefCell::new(Vec::new()) };
}

/// A socket to `server` for `count` more queries, with an ID reserved on it for each.
pub(crate) fn reserve(server: SocketAddr, count: usize) -> io::Result<Reservation> {
    let on_loop = loop_id();
    let shared = SOCKETS.with(|sockets| -> io::Result<Arc<Shared>> {
        let mut sockets = sockets.borrow_mut();
        let entry = sockets.iter_mut().find(|e| e.server == server);
        match entry {
            Some(e) if e.on_loop == on_loop && e.used < ROTATE => {
                e.used += count as u32;
                Ok(e.shared.clone())
            }
            entry => {
                // A socket of a loop that has ended would never be read again: replaced, as
                // is one that carried its share.
                let fresh = Entry {
                    server,
                    on_loop,
                    shared: Arc::new(Shared {
                        server,
                        socket: connected(server)?,
                        table: Mutex::new(Table::default()),
                    }),
                    used: count as u32,
                };
                let shared = fresh.shared.clone();
                match entry {
                    Some(e) => *e = fresh,
                    None => sockets.push(fresh),
                }
                Ok(shared)
            }
        }
    })?;
    let ids = {
        let mut table = lock(&shared.table);
        (0..count)
            .map(|_| {
                loop {
                    let id = fastrand::u16(..);
                    if let std::collections::hash_map::Entry::Vacant(slot) = table.slots.entry(id) {
                        slot.insert(Slot::default());
                        break id;
                    }
                }
            })
            .collect()
    };
    Ok(Reservation { shared, ids })
}

/// One connected socket and the queries waiting on it.
#[derive(Debug)]
struct Shared {
    server: SocketAddr,
    socket: Async<UdpSocket>,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// The IDs are ours and random: a fast hash will do.
    slots: HashMap<u16, Slot, foldhash::fast::RandomState>,
    /// The ID of a query of the reader, the one query that waits on the socket's readiness.
    reader: Option<u16>,
}

/// What came for one ID, and the waker of its query.
#[derive(Debug, Default)]
struct Slot {
    /// The first reply not yet taken (nearly always the only one), then any others.
    reply: Option<Vec<u8>>,
    more: VecDeque<Vec<u8>>,
    error: Option<(io::ErrorKind, String)>,
    waker: Option<Waker>,
}

/// A lookup's IDs on a socket; dropping it frees them and, if its query was the reader, wakes
/// another to read.
#[derive(Debug)]
pub(crate) struct Reservation {
    shared: Arc<Shared>,
    ids: Vec<u16>,
}

impl Reservation {
    /// The IDs reserved, one per query asked for.
    pub(crate) fn ids(&self) -> &[u16] {
        &self.ids
    }

    /// Sends a datagram to the server.
    pub(crate) fn send(&self, bytes: &[u8]) -> io::Result<()> {
        self.shared.socket.get_ref().send(bytes).map(drop)
    }

    /// The next datagram that came for one of our IDs (its check against the question is the
    /// caller's), or the socket's error.
    pub(crate) fn poll_reply(&self, cx: &mut Context<'_>) -> Poll<io::Result<Vec<u8>>> {
        loop {
            {
                let mut table = lock(&self.shared.table);
                for id in &self.ids {
                    let Some(slot) = table.slots.get_mut(id) else {
                        continue;
                    };
                    if let Some(reply) = slot.reply.take() {
                        slot.reply = slot.more.pop_front();
                        return Poll::Ready(Ok(reply));
                    }
                    if let Some((kind, message)) = slot.error.take() {
                        return Poll::Ready(Err(io::Error::new(kind, message)));
                    }
                }
                // Checked and registered under one lock: a reply handed over after this wakes us.
                for id in &self.ids {
                    if let Some(slot) = table.slots.get_mut(id) {
                        match &mut slot.waker {
                            Some(w) => w.clone_from(cx.waker()),
                            None => slot.waker = Some(cx.waker().clone()),
                        }
                    }
                }
                match table.reader {
                    Some(reader) if !self.ids.contains(&reader) => return Poll::Pending,
                    _ => table.reader = self.ids.first().copied(),
                }
            }
            if self.shared.read(&self.ids) {
                continue;
            }
            match self.shared.socket.poll_readable(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Stops waiting for a while (a TCP retry): if our query was the reader, another takes over.
    pub(crate) fn pause(&self) {
        let mut table = lock(&self.shared.table);
        for id in &self.ids {
            if let Some(slot) = table.slots.get_mut(id) {
                slot.waker = None;
            }
        }
        hand_over(&mut table, &self.ids);
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let mut table = lock(&self.shared.table);
        for id in &self.ids {
            table.slots.remove(id);
        }
        hand_over(&mut table, &self.ids);
    }
}

/// If the reader was one of `ids`, wakes another waiting query to read in its place.
fn hand_over(table: &mut Table, ids: &[u16]) {
    if !table.reader.is_some_and(|r| ids.contains(&r)) {
        return;
    }
    table.reader = None;
    let next = table
        .slots
        .iter_mut()
        .find(|(id, slot)| !ids.contains(id) && slot.waker.is_some());
    if let Some(waker) = next.and_then(|(_, slot)| slot.waker.take()) {
        waker.wake();
    }
}

impl Shared {
    /// Reads every datagram there is and hands each to the query of its ID (one for no query
    /// is dropped); an error of the socket goes to every query. Whether anything came for
    /// `ours`.
    fn read(&self, ours: &[u16]) -> bool {
        // Uninitialised room on the stack: neither zeroed nor allocated for every read (an
        // allocation this large is beyond malloc's per-thread cache).
        let mut buf = [const { MaybeUninit::<u8>::uninit() }; DATAGRAM];
        let mut wake = Vec::new();
        let mut for_us = false;
        {
            // Read under the table's lock, each datagram put in its slot as it comes: the
            // socket is its thread's, so another thread wants the lock only when a lookup moved
            // to it (an executor of several threads), and then waits for a burst of reads.
            let mut table = lock(&self.table);
            let fd = self.socket.get_ref();
            let error = loop {
                let (datagram, from) =
                    match rustix::net::recvfrom(fd, &mut buf[..], RecvFlags::empty()) {
                        Ok(((datagram, _), _, from)) => (datagram, from),
                        Err(e) if e == rustix::io::Errno::AGAIN => break None,
                        Err(e) => break Some(io::Error::from(e)),
                    };
                // The socket is connected; the source is checked all the same.
                let from = from.and_then(|a| SocketAddr::try_from(a).ok());
                if datagram.len() < 2 || from != Some(self.server) {
                    continue;
                }
                let id = u16::from_be_bytes([datagram[0], datagram[1]]);
                if let Some(slot) = table.slots.get_mut(&id) {
                    let datagram = datagram.to_vec();
                    match slot.reply {
                        None => slot.reply = Some(datagram),
                        Some(_) => slot.more.push_back(datagram),
                    }
                    if ours.contains(&id) {
                        for_us = true;
                    } else {
                        wake.extend(slot.waker.take());
                    }
                }
            };
            if let Some(e) = &error {
                for (id, slot) in table.slots.iter_mut() {
                    slot.error = Some((e.kind(), e.to_string()));
                    if ours.contains(id) {
                        for_us = true;
                    } else {
                        wake.extend(slot.waker.take());
                    }
                }
            }
        }
        wake.into_iter().for_each(Waker::wake);
        for_us
    }
}

/// A fresh UDP socket connected to `server`, so the kernel drops datagrams from other
/// addresses and reports an ICMP "port unreachable" as an error at once (the source is
/// checked all the same). Connecting an unbound socket binds it to a fresh random port.
#[cfg(unix)]
fn connected(server: SocketAddr) -> io::Result<Async<UdpSocket>> {
    use rustix::net::{AddressFamily, SocketFlags, SocketType};
    let family = match server {
        SocketAddr::V4(_) => AddressFamily::INET,
        SocketAddr::V6(_) => AddressFamily::INET6,
    };
    // Created non-blocking and connected without a bind: three system calls fewer per socket
    // than std's bind and a switch to non-blocking.
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rustix::net::socket_with(family, SocketType::DGRAM, flags, None)?;
    rustix::net::connect(&fd, &server)?;
    rustix::net::sockopt::set_socket_recv_buffer_size(&fd, RECV_BUFFER)?;
    // Never duplicated: closing it takes it out of the loop without a system call.
    Async::new_exclusive(UdpSocket::from(fd))
}

#[cfg(not(unix))]
fn connected(server: SocketAddr) -> io::Result<Async<UdpSocket>> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    let any: std::net::IpAddr = match server {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((any, 0))?;
    socket.connect(server)?;
    Async::new(socket)
}
