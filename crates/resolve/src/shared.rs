//! The UDP sockets shared by the queries to one server: a query takes an ID no other query on
//! its socket holds, and the replies are handed to the query whose ID they carry, so a lookup
//! costs neither a socket of its own nor a registration with the reactor.
//!
//! No task reads the socket: one of the waiting queries is the reader, the only one that asks
//! the reactor for readiness; it reads every datagram there is and wakes the queries they are
//! for. When the reader's query ends (or is dropped), another waiting query takes over. A
//! socket is replaced after [`ROTATE`] queries, so that its source port does not stay the
//! same for the resolver's life; the old one closes with its last query.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use async_io::{Async, Timer};

/// How long the reader waits before reading again while replies keep coming.
const NAP: Duration = Duration::from_micros(500);

/// How many queries one socket carries before a new one takes its place.
pub(crate) const ROTATE: u32 = 1024;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The sockets to one server: the one new queries go out on, and how many it carried.
#[derive(Debug)]
pub(crate) struct Sockets {
    server: SocketAddr,
    current: Mutex<Option<(Arc<Shared>, u32)>>,
}

impl Sockets {
    pub(crate) fn new(server: SocketAddr) -> Sockets {
        Sockets {
            server,
            current: Mutex::new(None),
        }
    }

    /// A socket for `count` more queries, with an ID reserved on it for each.
    pub(crate) fn reserve(&self, count: usize) -> io::Result<Reservation> {
        let shared = {
            let mut current = lock(&self.current);
            match &mut *current {
                Some((shared, used)) if *used < ROTATE => {
                    *used += count as u32;
                    shared.clone()
                }
                _ => {
                    let shared = Arc::new(Shared {
                        server: self.server,
                        socket: crate::wire::connected(self.server)?,
                        table: Mutex::new(Table::default()),
                        nap: Mutex::new(None),
                    });
                    *current = Some((shared.clone(), count as u32));
                    shared
                }
            }
        };
        let ids = {
            let mut table = lock(&shared.table);
            (0..count)
                .map(|_| {
                    loop {
                        let id = fastrand::u16(..);
                        if let std::collections::hash_map::Entry::Vacant(slot) =
                            table.slots.entry(id)
                        {
                            slot.insert(Slot::default());
                            break id;
                        }
                    }
                })
                .collect()
        };
        Ok(Reservation { shared, ids })
    }
}

/// One connected socket and the queries waiting on it.
#[derive(Debug)]
pub(crate) struct Shared {
    server: SocketAddr,
    socket: Async<UdpSocket>,
    table: Mutex<Table>,
    /// The reader's nap between two reads while replies keep coming.
    nap: Mutex<Option<Timer>>,
}

#[derive(Debug, Default)]
struct Table {
    slots: HashMap<u16, Slot>,
    /// The ID of a query of the reader, the one query that waits on the socket's readiness.
    reader: Option<u16>,
}

/// What came for one ID, and the waker of its query.
#[derive(Debug, Default)]
struct Slot {
    replies: VecDeque<Vec<u8>>,
    error: Option<(io::ErrorKind, String)>,
    waker: Option<Waker>,
}

/// A lookup's IDs on a shared socket; dropping it frees them and, if its query was the
/// reader, wakes another to read.
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
                    if let Some(reply) = slot.replies.pop_front() {
                        return Poll::Ready(Ok(reply));
                    }
                    if let Some((kind, message)) = slot.error.take() {
                        return Poll::Ready(Err(io::Error::new(kind, message)));
                    }
                }
                // Checked and registered under one lock: a reply handed over after this wakes us.
                for id in &self.ids {
                    if let Some(slot) = table.slots.get_mut(id) {
                        slot.waker = Some(cx.waker().clone());
                    }
                }
                match table.reader {
                    Some(reader) if !self.ids.contains(&reader) => return Poll::Pending,
                    _ => table.reader = self.ids.first().copied(),
                }
            }
            {
                let mut nap = lock(&self.shared.nap);
                if let Some(timer) = nap.as_mut() {
                    if Pin::new(timer).poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    *nap = None;
                }
            }
            let (for_us, count) = self.shared.read(&self.ids);
            if count > 0 {
                // Replies are coming one after another: read again after a nap, many at a
                // time, rather than each on a readiness event of its own (two thread wake-ups
                // a reply); back to readiness once a read finds nothing.
                let mut nap = lock(&self.shared.nap);
                let timer = nap.insert(Timer::after(NAP));
                if for_us {
                    continue;
                }
                if Pin::new(timer).poll(cx).is_pending() {
                    return Poll::Pending;
                }
                *nap = None;
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
    /// `ours`, and how many datagrams came.
    fn read(&self, ours: &[u16]) -> (bool, usize) {
        let mut buf = [0u8; 4096];
        let mut came = Vec::new();
        let error = loop {
            match self.socket.get_ref().recv_from(&mut buf) {
                // The socket is connected; the source is checked all the same.
                Ok((len, from)) if len >= 2 && from == self.server => {
                    came.push(buf[..len].to_vec())
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break None,
                Err(e) => break Some(e),
            }
        };
        let count = came.len();
        if count == 0 && error.is_none() {
            return (false, 0);
        }
        let mut wake = Vec::new();
        let mut for_us = false;
        {
            let mut table = lock(&self.table);
            for datagram in came {
                let id = u16::from_be_bytes([datagram[0], datagram[1]]);
                if let Some(slot) = table.slots.get_mut(&id) {
                    slot.replies.push_back(datagram);
                    if ours.contains(&id) {
                        for_us = true;
                    } else {
                        wake.extend(slot.waker.take());
                    }
                }
            }
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
        (for_us, count)
    }
}
