//! The `await` and stream forms on smol's reactor: `Watch::readable` / `writable` and the
//! readiness streams.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use futures_lite::{StreamExt, future};
use tulip_fdwatch::{Readiness, Watch};

use crate::support::{bounded, pair};

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
