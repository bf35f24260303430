//! Writability: a writer on a full buffer, after a hang-up, on a pipe whose reader is gone, and
//! beside a reader on the same fd.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use tulip_fdwatch::EventLoop;

use crate::support::{bounded, log, pair};

/// Writes until the socket buffer is full.
fn fill(mut sock: &UnixStream) -> usize {
    let chunk = [0u8; 4096];
    let mut total = 0;
    loop {
        match sock.write(&chunk) {
            Ok(n) => total += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return total,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn writer_fires_once_the_peer_drains_a_full_buffer() {
    bounded(|| {
        let (wsock, rsock) = pair();
        // Kept open to the end (the drain callback only borrows it): a closed peer would be a
        // hang-up, not room to write.
        let rsock = Rc::new(rsock);
        let filled = fill(&wsock);
        assert!(filled > 0);
        let drained = Rc::new(Cell::new(false));
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        let (seen, was_drained) = (Rc::clone(&got), Rc::clone(&drained));
        let wfd = wsock.as_raw_fd();
        ev.add_writer(wfd, move |ev, readiness| {
            seen.borrow_mut()
                .push(format!("{readiness:?} drained={}", was_drained.get()));
            (&wsock).write_all(b"more").unwrap();
            ev.remove_writer(wfd);
        })
        .unwrap();
        // The buffer is full: the writer cannot fire until this callback empties it.
        let (flag, peer) = (Rc::clone(&drained), Rc::clone(&rsock));
        ev.call_soon(move |_| {
            let mut buf = vec![0; filled];
            (&*peer).read_exact(&mut buf).unwrap();
            flag.set(true);
        });
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["Ready drained=true"]);
    });
}

#[test]
fn writer_sees_the_hangup_of_a_closed_peer() {
    bounded(|| {
        let (wsock, rsock) = pair();
        drop(rsock);
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        let seen = Rc::clone(&got);
        let wfd = wsock.as_raw_fd();
        ev.add_writer(wfd, move |ev, readiness| {
            seen.borrow_mut().push(format!("{readiness:?}"));
            ev.remove_writer(wfd);
        })
        .unwrap();
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["Hangup"]);
        drop(wsock);
    });
}

#[test]
fn pipe_writer_sees_an_error_once_the_reader_is_gone() {
    bounded(|| {
        let (reader, writer) = io::pipe().unwrap();
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        let seen = Rc::clone(&got);
        let wfd = writer.as_raw_fd();
        ev.add_writer(wfd, move |ev, readiness| {
            seen.borrow_mut().push(format!("{readiness:?}"));
            ev.remove_writer(wfd);
        })
        .unwrap();
        drop(reader);
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["Error"]);
        drop(writer);
    });
}

#[test]
fn one_fd_with_a_reader_and_a_writer() {
    bounded(|| {
        let (a, mut b) = pair();
        b.write_all(b"x").unwrap();
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        let fd = a.as_raw_fd();
        for name in ["reader", "writer"] {
            let seen = Rc::clone(&got);
            let callback = move |ev: &mut EventLoop, readiness| {
                seen.borrow_mut().push(format!("{name} {readiness:?}"));
                if name == "reader" {
                    ev.remove_reader(fd);
                } else {
                    ev.remove_writer(fd);
                }
            };
            if name == "reader" {
                ev.add_reader(fd, callback).unwrap();
            } else {
                ev.add_writer(fd, callback).unwrap();
            }
        }
        ev.run().unwrap();
        let mut got = got.borrow().clone();
        got.sort();
        assert_eq!(got, ["reader Ready", "writer Ready"]);
        drop(a);
    });
}
