//! Fds that cannot be watched: negative, not open, regular files, and fd numbers closed and
//! reused behind the loop's back.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::rc::Rc;

use tulip_fdwatch::{EventLoop, Watch, WatchError};

use crate::support::{bounded, log, pair};

#[test]
fn negative_fd_is_a_bad_fd() {
    let mut ev = EventLoop::new().unwrap();
    let err = ev.add_reader(-1, |_, _| {}).unwrap_err();
    assert!(matches!(err, WatchError::BadFd(-1)), "{err:?}");
    assert_eq!(err.to_string(), "fd -1 is not an open file descriptor");
}

#[test]
fn fd_that_is_not_open_is_a_bad_fd() {
    // Far above any descriptor this process opens, so no other test can have it open.
    let fd: RawFd = 1_000_000;
    let mut ev = EventLoop::new().unwrap();
    let err = ev.add_reader(fd, |_, _| {}).unwrap_err();
    assert!(matches!(err, WatchError::BadFd(1_000_000)), "{err:?}");
    let err = ev.add_writer(fd, |_, _| {}).unwrap_err();
    assert_eq!(err.fd(), fd);
    // Refused watches leave nothing behind: the loop has nothing to wait for.
    assert_eq!(ev.is_watched(fd), (false, false));
    assert!(!ev.remove_reader(fd));
    ev.run().unwrap();
    let io_err: io::Error = err.into();
    assert_eq!(io_err.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn regular_file_is_unsupported() {
    let file = File::open(env!("CARGO_MANIFEST_PATH")).unwrap();
    let mut ev = EventLoop::new().unwrap();
    let err = ev.add_reader(&file, |_, _| {}).unwrap_err();
    assert!(matches!(err, WatchError::Unsupported(_)), "{err:?}");
    assert!(err.to_string().contains("cannot be watched"), "{err}");
    let err = Watch::new(file).unwrap_err();
    assert!(matches!(err, WatchError::Unsupported(_)), "{err:?}");
}

#[test]
fn a_closed_and_reused_fd_number_is_registered_afresh() {
    bounded(|| {
        let (old, _old_peer) = pair();
        let fd = old.as_raw_fd();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(fd, |_, _| panic!("the old socket's callback must not run"))
            .unwrap();
        // Put another socket under the same number: the old file is closed, and the kernel
        // forgets its registration. A watch kept only in the loop's table would never fire.
        let (new, mut new_peer) = pair();
        let mut number: OwnedFd = old.into();
        rustix::io::dup2(&new, &mut number).unwrap();
        assert_eq!(number.as_raw_fd(), fd);
        let got = log();
        let seen = Rc::clone(&got);
        ev.add_reader(fd, move |ev, readiness| {
            seen.borrow_mut().push(format!("{readiness:?}"));
            ev.remove_reader(fd);
        })
        .unwrap();
        new_peer.write_all(b"x").unwrap();
        ev.run().unwrap();
        assert_eq!(*got.borrow(), ["Ready"]);
        drop((new, number));
    });
}

#[test]
fn a_reused_fd_number_that_cannot_be_watched_leaves_no_watch_behind() {
    bounded(|| {
        let (old, _old_peer) = pair();
        let fd = old.as_raw_fd();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(fd, |_, _| panic!("the old socket's callback must not run"))
            .unwrap();
        // A regular file under the same number: the kernel forgot the socket's registration
        // and refuses the file.
        let file = File::open(env!("CARGO_MANIFEST_PATH")).unwrap();
        let mut number: OwnedFd = old.into();
        rustix::io::dup2(&file, &mut number).unwrap();
        let err = ev.add_writer(fd, |_, _| {}).unwrap_err();
        assert!(matches!(err, WatchError::Unsupported(_)), "{err:?}");
        // Neither the new watch nor the old one stands: none could ever fire, so `run` has
        // nothing to wait for and returns.
        assert_eq!(ev.is_watched(fd), (false, false));
        ev.run().unwrap();
        drop((file, number));
    });
}
