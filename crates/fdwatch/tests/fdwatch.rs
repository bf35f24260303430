//! fdwatch's behaviour through its public API: the callback loop's asyncio semantics (replace,
//! remove, call_soon, stop), what each readiness means on sockets, pipes and stdin, the errors
//! for fds that cannot be watched, and the `await` and stream forms; the loop's timers and its
//! thread-safe handle.

use std::cell::{Cell, RefCell};
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use futures_lite::{StreamExt, future};
use tulip_fdwatch::{EventLoop, LoopHandle, Readiness, Watch, WatchError};

/// Runs `test` on its own thread and fails if it does not finish in a minute, so that a watch
/// that never fires fails the test instead of hanging the suite.
fn bounded(test: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        test();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => handle.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The test panicked: re-raise its panic here.
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test did not finish within 60 s"),
    }
}

fn pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// A readiness log shared between callbacks and the test.
type Log = Rc<RefCell<Vec<String>>>;

fn log() -> Log {
    Rc::new(RefCell::new(Vec::new()))
}

// ---------------------------------------------------------------------------------------------
// The callback loop: asyncio's semantics.
// ---------------------------------------------------------------------------------------------

#[test]
fn seed_add_reader_call_soon_remove_reader() {
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
        // (level-triggered: the data is still unread), after this turn's call_soon callbacks.
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

// ---------------------------------------------------------------------------------------------
// What readiness says: data, end of file, error.
// ---------------------------------------------------------------------------------------------

/// Collects every readiness the reader of `fd` is told, reading what there is each time, until
/// the end of file (or an error) is reported; returns the readinesses and the bytes read.
fn read_to_end(mut reader: impl Read + AsFd + 'static) -> (Vec<Readiness>, Vec<u8>) {
    let fd = reader.as_fd().as_raw_fd();
    let seen = Rc::new(RefCell::new((Vec::new(), Vec::new())));
    let mut ev = EventLoop::new().unwrap();
    let out = Rc::clone(&seen);
    ev.add_reader(fd, move |ev, readiness| {
        let mut out = out.borrow_mut();
        out.0.push(readiness);
        if readiness == Readiness::Ready {
            let mut buf = [0; 2];
            match reader.read(&mut buf) {
                Ok(n) => out.1.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("read after Ready failed: {e}"),
            }
        } else {
            ev.remove_reader(fd);
        }
    })
    .unwrap();
    ev.run().unwrap();
    Rc::try_unwrap(seen).unwrap().into_inner()
}

#[test]
fn data_sent_before_a_hangup_is_ready_then_the_end_of_file() {
    bounded(|| {
        let (rsock, mut wsock) = pair();
        wsock.write_all(b"abcde").unwrap();
        drop(wsock);
        let (readiness, bytes) = read_to_end(rsock);
        assert_eq!(bytes, b"abcde");
        // Three reads of at most 2 bytes while data is left, then the end of file.
        assert_eq!(
            readiness,
            [
                Readiness::Ready,
                Readiness::Ready,
                Readiness::Ready,
                Readiness::Hangup
            ]
        );
    });
}

#[test]
fn shutdown_of_the_writing_half_is_the_end_of_file() {
    bounded(|| {
        let (rsock, wsock) = pair();
        wsock.shutdown(std::net::Shutdown::Write).unwrap();
        let (readiness, bytes) = read_to_end(rsock);
        assert!(bytes.is_empty());
        assert_eq!(readiness, [Readiness::Hangup]);
        drop(wsock);
    });
}

#[test]
fn a_reset_connection_is_an_error() {
    bounded(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        // Closing with a zero linger time sends RST instead of FIN.
        rustix::net::sockopt::set_socket_linger(&server, Some(Duration::ZERO)).unwrap();
        drop(server);
        client.set_nonblocking(true).unwrap();
        let (readiness, _) = read_to_end(client);
        assert_eq!(readiness, [Readiness::Error]);
    });
}

#[test]
fn a_pipe_reader_sees_data_then_the_end_of_file() {
    bounded(|| {
        let (reader, mut writer) = io::pipe().unwrap();
        writer.write_all(b"xyz").unwrap();
        drop(writer);
        let (readiness, bytes) = read_to_end(reader);
        assert_eq!(bytes, b"xyz");
        assert_eq!(readiness.last(), Some(&Readiness::Hangup));
        assert!(
            readiness[..readiness.len() - 1]
                .iter()
                .all(|r| *r == Readiness::Ready)
        );
    });
}

#[test]
fn a_child_process_output_pipe_is_watchable() {
    bounded(|| {
        let mut child = Command::new("sh")
            .args(["-c", "echo one; echo two"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (readiness, bytes) = read_to_end(stdout);
        assert_eq!(bytes, b"one\ntwo\n");
        assert_eq!(readiness.last(), Some(&Readiness::Hangup));
        assert!(child.wait().unwrap().success());
    });
}

/// The child half of `stdin_is_watchable`: watch fd 0, echo what arrives, stop at its end.
fn stdin_child() {
    let stdin = io::stdin();
    let fd = stdin.as_fd().as_raw_fd();
    assert_eq!(fd, 0);
    let (readiness, bytes) = read_to_end(File::from(stdin.as_fd().try_clone_to_owned().unwrap()));
    println!(
        "STDIN {:?} {}",
        readiness.last().unwrap(),
        String::from_utf8_lossy(&bytes)
    );
}

#[test]
fn stdin_is_watchable() {
    if std::env::var_os("FDWATCH_STDIN_CHILD").is_some() {
        return stdin_child();
    }
    // Run this very test again as a child whose stdin is a pipe we write to.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stdin_is_watchable",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FDWATCH_STDIN_CHILD", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"typed").unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("STDIN Hangup typed"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// Writability.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Fds that cannot be watched.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// The await and stream forms.
// ---------------------------------------------------------------------------------------------

#[test]
fn await_readable_tells_data_from_the_end_of_file() {
    bounded(|| {
        future::block_on(async {
            let (rsock, mut wsock) = pair();
            let watch = Watch::new(rsock).unwrap();
            wsock.write_all(b"abc").unwrap();
            assert_eq!(watch.readable().await.unwrap(), Readiness::Ready);
            let mut buf = [0; 16];
            assert_eq!(watch.get_ref().read(&mut buf).unwrap(), 3);
            drop(wsock);
            assert_eq!(watch.readable().await.unwrap(), Readiness::Hangup);
        });
    });
}

#[test]
fn await_readable_waits_for_data_written_later_by_a_smol_task() {
    bounded(|| {
        smol::block_on(async {
            let (rsock, wsock) = pair();
            // The writer is ordinary smol code on the same reactor: a timer, then async I/O.
            let writer = smol::spawn(async move {
                smol::Timer::after(Duration::from_millis(50)).await;
                let mut wsock = smol::Async::new(wsock).unwrap();
                smol::io::AsyncWriteExt::write_all(&mut wsock, b"late")
                    .await
                    .unwrap();
                wsock
            });
            let watch = Watch::new(rsock).unwrap();
            assert_eq!(watch.readable().await.unwrap(), Readiness::Ready);
            let mut buf = [0; 16];
            assert_eq!(watch.get_ref().read(&mut buf).unwrap(), 4);
            drop(writer.await);
            assert_eq!(watch.readable().await.unwrap(), Readiness::Hangup);
        });
    });
}

#[test]
fn await_writable_on_a_socket_and_a_pipe() {
    bounded(|| {
        future::block_on(async {
            let (a, b) = pair();
            let watch = Watch::new(a).unwrap();
            assert_eq!(watch.writable().await.unwrap(), Readiness::Ready);
            drop(b);
            assert_eq!(watch.writable().await.unwrap(), Readiness::Hangup);

            let (reader, writer) = io::pipe().unwrap();
            let watch = Watch::new(writer).unwrap();
            assert_eq!(watch.writable().await.unwrap(), Readiness::Ready);
            drop(reader);
            assert_eq!(watch.writable().await.unwrap(), Readiness::Error);
        });
    });
}

#[test]
fn stream_repeats_while_data_is_unread_then_ends_with_hangup() {
    bounded(|| {
        future::block_on(async {
            let (reader, mut writer) = io::pipe().unwrap();
            let watch = Watch::new(reader).unwrap();
            writer.write_all(b"hi").unwrap();
            // Level-triggered: unread data is reported again on every event.
            let first: Vec<_> = watch
                .readable_events()
                .take(3)
                .map(Result::unwrap)
                .collect()
                .await;
            assert_eq!(first, [Readiness::Ready; 3]);
            let mut buf = [0; 8];
            assert_eq!(watch.get_ref().read(&mut buf).unwrap(), 2);
            drop(writer);
            let mut events = watch.readable_events();
            assert_eq!(events.next().await.unwrap().unwrap(), Readiness::Hangup);
        });
    });
}

#[test]
fn watch_gives_the_io_object_back() {
    let (a, _b) = pair();
    let fd = a.as_raw_fd();
    let watch = Watch::new(a).unwrap();
    assert!(format!("{watch:?}").contains(&fd.to_string()));
    let a = watch.into_inner().unwrap();
    assert_eq!(a.as_raw_fd(), fd);
}

#[test]
fn watch_of_a_borrowed_stdin_like_pipe() {
    bounded(|| {
        future::block_on(async {
            let (reader, mut writer) = io::pipe().unwrap();
            // A borrowed fd: the watch does not own (or close) it.
            let watch = Watch::new(reader.as_fd()).unwrap();
            writer.write_all(b"line\n").unwrap();
            assert_eq!(watch.readable().await.unwrap(), Readiness::Ready);
            // Dropping the watch leaves the borrowed fd open and its data unread.
            drop(watch);
            let mut line = [0; 5];
            (&reader).read_exact(&mut line).unwrap();
            assert_eq!(&line, b"line\n");
            drop(writer);
        });
    });
}

#[test]
fn pingpong_completes_the_requested_rounds() {
    bounded(|| {
        // `run` fails if the loop ends before every round trip was made. One round trip takes
        // the path where the serving end only receives.
        for rounds in [0, 1, 2, 2_000] {
            tulip_fdwatch::pingpong::run(rounds).unwrap();
        }
    });
}

// ---------------------------------------------------------------------------------------------
// Timers: call_later / call_at / cancel.
// ---------------------------------------------------------------------------------------------

/// Records, in a timer callback, its name and whether it ran no earlier than its deadline.
fn record(log: &Log, name: &str, when: Instant) -> impl FnOnce(&mut EventLoop) + 'static {
    let log = Rc::clone(log);
    let name = name.to_string();
    move |_| {
        assert!(Instant::now() >= when, "timer {name} fired early");
        log.borrow_mut().push(name);
    }
}

#[test]
fn timers_run_by_deadline_then_in_scheduling_order_and_never_early() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        let base = Instant::now() + Duration::from_millis(30);
        let late = base + Duration::from_millis(20);
        ev.call_at(late, record(&log, "late", late));
        ev.call_at(base, record(&log, "base 1", base));
        ev.call_at(base, record(&log, "base 2", base));
        let t = ev.call_later(Duration::ZERO, |_| {});
        ev.call_at(t.when(), record(&log, "zero", t.when()));
        ev.call_at(base, record(&log, "base 3", base));
        // Sub-millisecond delays: the kernel's millisecond waits must not end them early.
        for micros in [1, 499, 500, 999, 1_000, 1_001, 1_500] {
            let h = ev.call_later(Duration::from_micros(micros), |_| {});
            ev.call_at(h.when(), record(&log, &format!("{micros}us"), h.when()));
        }
        // Nothing is watched: the timers alone keep `run` going until the last has run.
        ev.run().unwrap();
        assert!(Instant::now() >= late);
        let log = log.borrow();
        assert_eq!(log.len(), 12, "{log:?}");
        // The first timers: their deadline is zero and the sub-millisecond ones.
        assert_eq!(
            log[..8],
            [
                "zero", "1us", "499us", "500us", "999us", "1000us", "1001us", "1500us"
            ]
        );
        assert_eq!(log[8..], ["base 1", "base 2", "base 3", "late"]);
    });
}

#[test]
fn timers_scheduled_by_callbacks_wait_for_a_later_turn() {
    bounded(|| {
        // A writer on an idle socket is ready on every turn: it numbers the turns.
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        let turn = Rc::new(Cell::new(0u32));
        let (counter, l) = (Rc::clone(&turn), Rc::clone(&log));
        let fd = a.as_raw_fd();
        ev.add_writer(fd, move |ev, _| {
            counter.set(counter.get() + 1);
            l.borrow_mut().push(format!("turn {}", counter.get()));
            if counter.get() == 3 {
                ev.remove_writer(fd);
            }
            if counter.get() == 1 {
                let l = Rc::clone(&l);
                ev.call_later(Duration::ZERO, move |_| {
                    l.borrow_mut().push("from writer".into())
                });
            }
        })
        .unwrap();
        let l = Rc::clone(&log);
        ev.call_soon(move |ev| {
            l.borrow_mut().push("soon 1".into());
            let l = Rc::clone(&l);
            ev.call_later(Duration::ZERO, move |_| {
                l.borrow_mut().push("from soon".into())
            });
        });
        let (l, t) = (Rc::clone(&log), Rc::clone(&turn));
        ev.call_later(Duration::ZERO, move |ev| {
            l.borrow_mut()
                .push(format!("first timer in turn {}", t.get()));
            let past = Instant::now() - Duration::from_secs(1);
            let (l2, l3, l4) = (Rc::clone(&l), Rc::clone(&l), Rc::clone(&l));
            ev.call_later(Duration::ZERO, move |_| l2.borrow_mut().push("now".into()));
            ev.call_at(past, move |_| l3.borrow_mut().push("past".into()));
            ev.call_soon(move |_| l4.borrow_mut().push("soon".into()));
        });
        ev.run().unwrap();
        let log = log.borrow();
        // Turn 1: the readiness callback, then `call_soon` callbacks, then timers. The first
        // timer runs in turn 1 (it was due when the loop started); the timers that turn 1's
        // callbacks schedule for "now" run in turn 2, after its `call_soon` callbacks, by
        // deadline ("past" first), then in the order they were scheduled.
        assert_eq!(
            *log,
            [
                "turn 1",
                "soon 1",
                "first timer in turn 1",
                "turn 2",
                "soon",
                "past",
                "from writer",
                "from soon",
                "now",
                "turn 3",
            ],
            "{log:?}"
        );
    });
}

#[test]
fn cancel_says_whether_the_timer_was_pending_and_drops_its_callback() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        // Cancelled before it is due: never runs, its captures are dropped at once.
        let captured = Rc::new(());
        let keep = Rc::clone(&captured);
        let l = Rc::clone(&log);
        let far = ev.call_later(Duration::from_secs(3600), move |_| {
            let _keep = keep;
            l.borrow_mut().push("far".into());
        });
        assert_eq!(Rc::strong_count(&captured), 2);
        assert!(ev.cancel(far));
        assert_eq!(Rc::strong_count(&captured), 1);
        assert!(!ev.cancel(far), "a second cancel is a no-op");
        // A delay beyond what `Instant` can hold is "a century", not a panic.
        let never = ev.call_later(Duration::MAX, |_| panic!("ran"));
        assert!(never.when() > Instant::now() + Duration::from_secs(3600 * 24 * 365));
        assert!(ev.cancel(never));

        // Due in the same turn: the first cancels the second, which then does not run; a timer
        // cancelling itself while it runs gets false.
        let when = Instant::now() + Duration::from_millis(10);
        let second = Rc::new(Cell::new(None));
        let (s, l) = (Rc::clone(&second), Rc::clone(&log));
        let first = ev.call_at(when, move |ev| {
            l.borrow_mut().push(format!(
                "first cancels second: {}",
                ev.cancel(s.get().unwrap())
            ));
        });
        let l = Rc::clone(&log);
        second.set(Some(
            ev.call_at(when, move |_| l.borrow_mut().push("second".into())),
        ));
        let own = Rc::new(Cell::new(None));
        let (o, l) = (Rc::clone(&own), Rc::clone(&log));
        own.set(Some(ev.call_at(when, move |ev| {
            l.borrow_mut()
                .push(format!("self cancel: {}", ev.cancel(o.get().unwrap())));
        })));

        // A handle of another loop cancels nothing here.
        let mut other = EventLoop::new().unwrap();
        let foreign = other.call_at(when, |_| {});
        assert!(!ev.cancel(foreign));
        assert!(other.cancel(foreign));

        // The 3600 s timer is cancelled, so it does not hold `run` for an hour.
        ev.run().unwrap();
        assert_eq!(
            *log.borrow(),
            ["first cancels second: true", "self cancel: false"]
        );
        assert!(!ev.cancel(first), "fired timers cannot be cancelled");
        assert!(!ev.cancel(second.get().unwrap()));
    });
}

#[test]
fn a_timer_cancelled_while_run_waits_for_it_lets_run_return() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let far = ev.call_later(Duration::from_secs(3600), |_| panic!("cancelled timer ran"));
        let ran = Rc::new(Cell::new(false));
        let r = Rc::clone(&ran);
        ev.call_later(Duration::from_millis(20), move |ev| {
            r.set(true);
            assert!(ev.cancel(far));
        });
        ev.run().unwrap();
        assert!(ran.get());
    });
}

#[test]
fn many_cancelled_timers_do_not_outlive_their_cancel() {
    bounded(|| {
        // Enough cancellations to make the heap rebuild itself; the survivors still run in
        // order.
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        let start = Instant::now();
        let mut keep = Vec::new();
        for i in 0..2_000u32 {
            let when = start + Duration::from_micros(u64::from(i % 50) * 100);
            let h = ev.call_at(when, record(&log, &format!("{:02}-{i:04}", i % 50), when));
            if i % 10 != 0 {
                keep.push(h);
            }
        }
        for h in &keep {
            assert!(ev.cancel(*h));
        }
        ev.run().unwrap();
        let log = log.borrow();
        assert_eq!(log.len(), 200);
        let mut sorted = log.clone();
        sorted.sort();
        assert_eq!(*log, sorted, "deadline order, then scheduling order");
    });
}

#[test]
fn a_timer_ends_the_wait_for_a_silent_fd() {
    bounded(|| {
        // The reader never becomes ready: only the timer's deadline can end the wait.
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(&a, |_, r| panic!("silent fd ready: {r:?}"))
            .unwrap();
        let start = Instant::now();
        ev.call_later(Duration::from_millis(30), |ev| ev.stop());
        ev.run().unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(ev.is_watched(&a), (true, false));
    });
}

/// The child half of `a_timer_is_not_pushed_back_by_stops_and_continues`: one timer, nothing
/// else; says when it fired.
fn interrupted_timer_child() {
    let mut ev = EventLoop::new().unwrap();
    let start = Instant::now();
    ev.call_later(Duration::from_millis(300), move |_| {
        println!("FIRED after {:?}", start.elapsed());
    });
    ev.run().unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn a_timer_is_not_pushed_back_by_stops_and_continues() {
    use rustix::process::{Pid, Signal, kill_process};
    if std::env::var_os("FDWATCH_TIMER_CHILD").is_some() {
        return interrupted_timer_child();
    }
    // A stop and continue (as a signal with a handler would) makes the loop's wait fail with
    // EINTR. If the wait were simply restarted with the timeout computed before it, a timer
    // would be pushed back by every interruption: interrupted every 20 ms, a 300 ms timer
    // would never fire.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_timer_is_not_pushed_back_by_stops_and_continues",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FDWATCH_TIMER_CHILD", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    let start = Instant::now();
    let mut exited = false;
    while start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        let _ = kill_process(pid, Signal::STOP);
        std::thread::sleep(Duration::from_millis(1));
        let _ = kill_process(pid, Signal::CONT);
    }
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        exited,
        "the timer never fired while the loop was interrupted: {stdout}"
    );
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("FIRED after"), "{stdout}");
}

// ---------------------------------------------------------------------------------------------
// LoopHandle: call_soon_threadsafe and stop from other threads.
// ---------------------------------------------------------------------------------------------

#[test]
fn loop_handle_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<LoopHandle>();
}

#[test]
fn stop_from_another_thread_wakes_a_blocked_run() {
    bounded(|| {
        // A watch that never fires and no timer: `run` blocks in the kernel until woken.
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(&a, |_, r| panic!("silent fd ready: {r:?}"))
            .unwrap();
        let handle = ev.handle().unwrap();
        let stopped = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stopped);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s.store(true, Ordering::SeqCst);
            assert!(handle.stop());
            handle
        });
        ev.run().unwrap();
        assert!(stopped.load(Ordering::SeqCst), "run returned before stop");
        let handle = thread.join().unwrap();
        // The loop still stands, so does the handle; a stop before `run` makes it do one turn.
        assert!(!handle.is_closed());
        assert!(handle.stop());
        ev.run().unwrap();
    });
}

#[test]
fn call_soon_threadsafe_from_many_threads_runs_each_call_once() {
    bounded(|| {
        const THREADS: usize = 8;
        const CALLS: usize = 2_000;
        let mut ev = EventLoop::new().unwrap();
        // What ran, per thread, in the order it ran.
        let ran: Arc<Mutex<Vec<Vec<usize>>>> = Arc::new(Mutex::new(vec![Vec::new(); THREADS]));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let handle = ev.handle().unwrap();
                let ran = Arc::clone(&ran);
                std::thread::spawn(move || {
                    for i in 0..CALLS {
                        let ran = Arc::clone(&ran);
                        handle
                            .call_soon_threadsafe(move |_| ran.lock().unwrap()[t].push(i))
                            .unwrap();
                        if i % 500 == 0 {
                            std::thread::yield_now();
                        }
                    }
                    // Dropping the last handle is what lets `run` return.
                })
            })
            .collect();
        // Nothing is watched or scheduled: the handles alone keep the loop running, until
        // every thread has dropped its handle and every call has run.
        ev.run().unwrap();
        for thread in threads {
            thread.join().unwrap();
        }
        let ran = ran.lock().unwrap();
        for (t, calls) in ran.iter().enumerate() {
            assert_eq!(*calls, (0..CALLS).collect::<Vec<_>>(), "thread {t}");
        }
    });
}

#[test]
fn a_handle_made_inside_a_running_loop_wakes_it() {
    bounded(|| {
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(&a, |_, r| panic!("silent fd ready: {r:?}"))
            .unwrap();
        let got = Rc::new(Cell::new(0));
        let g = Rc::clone(&got);
        ev.call_soon(move |ev| {
            let handle = ev.handle().unwrap();
            std::thread::spawn(move || {
                handle
                    .call_soon_threadsafe(|ev| {
                        ev.call_soon(|ev| ev.stop());
                    })
                    .unwrap();
            });
            g.set(1);
        });
        ev.run().unwrap();
        assert_eq!(got.get(), 1);
    });
}

#[test]
fn handles_outliving_the_loop_are_refused_without_panicking() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let handle = ev.handle().unwrap();
        // Pending work that owns things, handles included: all of it is dropped with the loop.
        let owned = Arc::new(());
        let o = Arc::clone(&owned);
        let h = handle.clone();
        ev.call_later(Duration::from_secs(3600), move |_| drop((o, h)));
        let o = Arc::clone(&owned);
        let h = handle.clone();
        handle.call_soon_threadsafe(move |_| drop((o, h))).unwrap();
        let o = Arc::clone(&owned);
        ev.call_soon(move |_| drop(o));
        assert_eq!(Arc::strong_count(&owned), 4);
        drop(ev);
        assert_eq!(
            Arc::strong_count(&owned),
            1,
            "pending callbacks dropped with the loop"
        );

        assert!(handle.is_closed());
        assert!(!handle.stop());
        let refused = handle.call_soon_threadsafe(|_| unreachable!());
        let err = refused.unwrap_err();
        assert_eq!(err.to_string(), "event loop is closed");
        let _callback = err.into_inner();
        // From other threads too, and clones of the handle.
        let clone = handle.clone();
        std::thread::spawn(move || {
            assert!(!clone.stop());
            assert!(clone.call_soon_threadsafe(|_| {}).is_err());
        })
        .join()
        .unwrap();
    });
}

#[test]
fn calls_sent_before_run_run_on_its_first_turn() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let handle = ev.handle().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let r = Arc::clone(&ran);
        std::thread::spawn(move || {
            handle
                .call_soon_threadsafe(move |_| r.store(true, Ordering::SeqCst))
                .unwrap();
        })
        .join()
        .unwrap();
        // The handle is gone: `run` runs the call and, with nothing left, returns.
        ev.run().unwrap();
        assert!(ran.load(Ordering::SeqCst));
    });
}

#[test]
fn a_panicking_call_leaves_the_handles_usable() {
    bounded(|| {
        // Calls run with the inbox unlocked: a panicking one poisons nothing, and the handles
        // (on this thread and others) still send, see the loop as open, then as closed.
        let mut ev = EventLoop::new().unwrap();
        let handle = ev.handle().unwrap();
        handle
            .call_soon_threadsafe(|_| panic!("call panics"))
            .unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.run()));
        assert!(panicked.is_err());
        assert!(!handle.is_closed());
        let clone = handle.clone();
        std::thread::spawn(move || clone.call_soon_threadsafe(|_| {}).unwrap())
            .join()
            .unwrap();
        assert!(handle.stop());
        drop(ev);
        assert!(handle.is_closed());
        assert!(!handle.stop());
    });
}

#[test]
fn debug_says_whether_a_handle_exists_now() {
    let mut ev = EventLoop::new().unwrap();
    assert!(format!("{ev:?}").contains("has_handles: false"), "{ev:?}");
    let handle = ev.handle().unwrap();
    assert!(format!("{ev:?}").contains("has_handles: true"), "{ev:?}");
    drop(handle);
    // The wake-up fd stays, but no handle is left to keep `run` waiting.
    assert!(format!("{ev:?}").contains("has_handles: false"), "{ev:?}");
}

#[test]
fn timers_mixed_with_cancels_from_outside_and_inside_run_in_model_order() {
    bounded(|| {
        // A pseudo-random mix (fixed seed) of deadlines in the past and the near future, some
        // equal, cancelled before `run` or by earlier timers (enough to rebuild the heap several
        // times): the survivors run once each, in (deadline, scheduling) order, never early,
        // and `cancel` answers as a model of the pending set says.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut ev = EventLoop::new().unwrap();
        let base = Instant::now();
        let ran: Rc<RefCell<Vec<usize>>> = Rc::default();
        let mut timers = Vec::new();
        let mut whens = Vec::new();
        // Which timer each one cancels when it runs (if any).
        let victims: Rc<RefCell<Vec<Option<usize>>>> = Rc::default();
        let handles: Rc<RefCell<Vec<tulip_fdwatch::TimerHandle>>> = Rc::default();
        let cancelled_inside: Rc<RefCell<Vec<(usize, bool)>>> = Rc::default();
        const N: usize = 3_000;
        for i in 0..N {
            // Deadlines from 2 ms in the past to 8 ms ahead, on a 0.5 ms grid: many are equal.
            let when = base - Duration::from_millis(2) + Duration::from_micros(500 * next(20));
            let (ran, victims_of, handles, inside) = (
                Rc::clone(&ran),
                Rc::clone(&victims),
                Rc::clone(&handles),
                Rc::clone(&cancelled_inside),
            );
            let h = ev.call_at(when, move |ev| {
                assert!(Instant::now() >= when, "timer {i} fired early");
                ran.borrow_mut().push(i);
                if let Some(v) = victims_of.borrow()[i] {
                    let h = handles.borrow()[v];
                    inside.borrow_mut().push((v, ev.cancel(h)));
                }
            });
            timers.push(h);
            whens.push(when);
            victims
                .borrow_mut()
                .push((next(4) == 0).then(|| next(N as u64) as usize));
        }
        *handles.borrow_mut() = timers.clone();
        let mut cancelled = vec![false; N];
        for (i, h) in timers.iter().enumerate() {
            if next(3) != 0 {
                assert!(ev.cancel(*h));
                assert!(!ev.cancel(*h), "cancelled twice");
                cancelled[i] = true;
            }
        }
        ev.run().unwrap();

        // The model: walk the timers in (deadline, scheduling) order; each survivor runs,
        // then cancels its victim if that one has not run nor been cancelled.
        let mut order: Vec<usize> = (0..N).collect();
        order.sort_by_key(|&i| (whens[i], i));
        let mut done = cancelled.clone();
        let mut expect_ran = Vec::new();
        let mut expect_inside = Vec::new();
        for i in order {
            if done[i] {
                continue;
            }
            done[i] = true;
            expect_ran.push(i);
            if let Some(v) = victims.borrow()[i] {
                expect_inside.push((v, !done[v]));
                done[v] = true;
            }
        }
        assert_eq!(*ran.borrow(), expect_ran);
        assert_eq!(*cancelled_inside.borrow(), expect_inside);
        for h in timers {
            assert!(!ev.cancel(h), "every timer ran or was cancelled");
        }
    });
}

#[test]
fn run_after_a_callback_panicked_out_of_it_fails_instead_of_waiting() {
    bounded(|| {
        // The other timer due in the panicking turn can no longer run: a `run` that waited for
        // it would wait forever. It fails at once, and dropping the loop frees everything.
        let mut ev = EventLoop::new().unwrap();
        let owned = Arc::new(());
        let o = Arc::clone(&owned);
        ev.call_later(Duration::ZERO, |_| panic!("timer panics"));
        ev.call_later(Duration::ZERO, move |_| drop(o));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.run()));
        assert!(panicked.is_err());
        let err = ev.run().unwrap_err();
        assert!(err.to_string().contains("already running"), "{err}");
        drop(ev);
        assert_eq!(Arc::strong_count(&owned), 1);
    });
}
