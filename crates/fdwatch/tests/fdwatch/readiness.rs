//! What each readiness means on sockets, pipes, a child's output and stdin: data, end of file,
//! error.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::Duration;

use tulip_fdwatch::{EventLoop, Readiness};

use crate::support::{bounded, pair};

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
            "readiness::stdin_is_watchable",
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
