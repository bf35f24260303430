//! The callback loop's asyncio semantics: replacing and removing watches, `call_soon`, `stop`,
//! `run` inside a callback.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use tulip_fdwatch::EventLoop;

use crate::support::{bounded, log, pair};

#[test]
fn the_tutorial_add_reader_call_soon_remove_reader() {
    bounded(|| {
        let (rsock, mut wsock) = pair();
        let rfd = rsock.as_raw_fd();
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        let seen = Rc::clone(&got);
        ev.add_reader(rfd, move |ev, readiness| {
            let mut buf = [0; 100];
            let n = (&rsock).read(&mut buf).unwrap();
            seen.borrow_mut().push(format!(
                "{readiness:?} {}",
                String::from_utf8_lossy(&buf[..n])
            ));
            assert!(ev.remove_reader(rfd));
            ev.stop();
        })
        .unwrap();
        ev.call_soon(move |_| wsock.write_all(b"abc").unwrap());
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["Ready abc"]);
        assert_eq!(ev.is_watched(rfd), (false, false));
    });
}

#[test]
fn watching_again_replaces_the_callback() {
    bounded(|| {
        let (rsock, mut wsock) = pair();
        let rfd = rsock.as_raw_fd();
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        let first = Rc::clone(&got);
        ev.add_reader(rfd, move |ev, _| {
            first.borrow_mut().push("first".into());
            ev.stop();
        })
        .unwrap();
        let second = Rc::clone(&got);
        ev.add_reader(rfd, move |ev, _| {
            let mut buf = [0; 16];
            let _ = (&rsock).read(&mut buf);
            second.borrow_mut().push("second".into());
            ev.remove_reader(rfd);
            ev.stop();
        })
        .unwrap();
        wsock.write_all(b"x").unwrap();
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["second"]);
    });
}

#[test]
fn a_callback_can_replace_itself() {
    bounded(|| {
        let (rsock, mut wsock) = pair();
        let rfd = rsock.as_raw_fd();
        let rsock = Rc::new(rsock);
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        let (seen, sock) = (Rc::clone(&got), Rc::clone(&rsock));
        ev.add_reader(rfd, move |ev, _| {
            seen.borrow_mut().push("old".into());
            let (seen, sock) = (Rc::clone(&seen), Rc::clone(&sock));
            ev.add_reader(rfd, move |ev, _| {
                let mut buf = [0; 16];
                let _ = (&*sock).read(&mut buf);
                seen.borrow_mut().push("new".into());
                ev.remove_reader(rfd);
            })
            .unwrap();
        })
        .unwrap();
        // Unread data keeps the fd readable (level-triggered), so the replacement fires on the
        // next turn; it then reads, removes itself, and the loop ends with nothing left.
        wsock.write_all(b"x").unwrap();
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["old", "new"]);
    });
}

#[test]
fn remove_says_whether_anything_was_watched() {
    let (a, _b) = pair();
    let mut ev = EventLoop::new().unwrap();
    assert!(!ev.remove_reader(&a));
    assert!(!ev.remove_writer(&a));
    ev.add_reader(&a, |_, _| {}).unwrap();
    ev.add_writer(&a, |_, _| {}).unwrap();
    assert_eq!(ev.is_watched(&a), (true, true));
    assert!(ev.remove_writer(&a));
    assert!(!ev.remove_writer(&a));
    assert_eq!(ev.is_watched(&a), (true, false));
    assert!(ev.remove_reader(&a));
    assert!(!ev.remove_reader(&a));
    assert_eq!(ev.is_watched(&a), (false, false));
    // Nothing watched and nothing scheduled: run returns at once instead of waiting forever.
    ev.run().unwrap();
}

#[test]
fn removed_watch_gets_no_event_already_collected() {
    bounded(|| {
        // Both fds are readable before the loop turns, so one epoll_wait returns both; whichever
        // callback runs first removes the other, which must then not run.
        let (a, mut a_peer) = pair();
        let (b, mut b_peer) = pair();
        a_peer.write_all(b"x").unwrap();
        b_peer.write_all(b"x").unwrap();
        let (afd, bfd) = (a.as_raw_fd(), b.as_raw_fd());
        let calls = Rc::new(Cell::new(0));
        let mut ev = EventLoop::new().unwrap();
        for (me, other) in [(afd, bfd), (bfd, afd)] {
            let calls = Rc::clone(&calls);
            ev.add_reader(me, move |ev, _| {
                calls.set(calls.get() + 1);
                assert!(ev.remove_reader(other));
                assert!(ev.remove_reader(me));
            })
            .unwrap();
        }
        ev.run().unwrap();
        assert_eq!(calls.get(), 1);
        drop((a, b));
    });
}

#[test]
fn a_watch_added_again_during_a_batch_waits_for_the_next_turn() {
    bounded(|| {
        // Both fds are readable, so one turn collects both events. Whichever callback runs first
        // removes the other watch and adds a new one for the same fd: the event collected for
        // the removed watch must not reach the new one; the new one fires on the next turn
        // (level-triggered: the data is still unread), after the callback queued with it.
        let (a, mut a_peer) = pair();
        let (b, mut b_peer) = pair();
        a_peer.write_all(b"x").unwrap();
        b_peer.write_all(b"x").unwrap();
        let (afd, bfd) = (a.as_raw_fd(), b.as_raw_fd());
        let got = log();
        let mut ev = EventLoop::new().unwrap();
        for (me, other) in [(afd, bfd), (bfd, afd)] {
            let got = Rc::clone(&got);
            ev.add_reader(me, move |ev, _| {
                got.borrow_mut().push("first".into());
                assert!(ev.remove_reader(me));
                assert!(ev.remove_reader(other));
                let seen = Rc::clone(&got);
                ev.add_reader(other, move |ev, _| {
                    seen.borrow_mut().push("new".into());
                    ev.remove_reader(other);
                })
                .unwrap();
                let seen = Rc::clone(&got);
                ev.call_soon(move |_| seen.borrow_mut().push("end of turn".into()));
            })
            .unwrap();
        }
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["first", "end of turn", "new"]);
        drop((a, b));
    });
}

#[test]
fn call_soon_runs_in_order_and_stop_ends_the_batch() {
    let got = log();
    let mut ev = EventLoop::new().unwrap();
    for i in 1..=3 {
        let got = Rc::clone(&got);
        ev.call_soon(move |ev| {
            got.borrow_mut().push(format!("soon {i}"));
            if i == 2 {
                ev.stop();
                // Scheduled after stop: runs on the next `run`, not in this one.
                let got = Rc::clone(&got);
                ev.call_soon(move |_| got.borrow_mut().push("later".into()));
            }
        });
    }
    ev.run().unwrap();
    assert_eq!(*got.borrow(), ["soon 1", "soon 2", "soon 3"]);
    ev.run().unwrap();
    assert_eq!(*got.borrow(), ["soon 1", "soon 2", "soon 3", "later"]);
}

#[test]
fn run_inside_a_callback_is_an_error() {
    let result = Rc::new(RefCell::new(None));
    let mut ev = EventLoop::new().unwrap();
    let out = Rc::clone(&result);
    ev.call_soon(move |ev| *out.borrow_mut() = Some(ev.run().map_err(|e| e.to_string())));
    ev.run().unwrap();
    assert_eq!(
        *result.borrow(),
        Some(Err("event loop is already running".to_string()))
    );
}
