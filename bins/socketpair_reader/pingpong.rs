//! A readiness-driven ping-pong over a socketpair: the workload of `socketpair-reader --pingpong`,
//! which `benches/socketpair.rs` also runs in-process (it includes this file by path).
//!
//! Both ends are watched by one [`EventLoop`]; each reader callback answers the byte it reads, so
//! every round trip is two readiness events, two reads and two writes.

use std::cell::Cell;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use fdwatch::{EventLoop, Readiness};

/// Bounces one byte between the two ends of a socketpair `rounds` times, each end driven by its
/// reader callback, and returns how long it took. Fails if either end fails, or if the loop
/// ends before every round trip was made.
pub(crate) fn run(rounds: u64) -> io::Result<Duration> {
    let (ping, pong) = UnixStream::pair()?;
    ping.set_nonblocking(true)?;
    pong.set_nonblocking(true)?;
    let mut ev = EventLoop::new()?;
    // The first failure of either side; shared once at setup, never touched per event.
    let failure: Rc<Cell<Option<io::Error>>> = Rc::new(Cell::new(None));

    // The answering end: read the ball, send it back.
    let fail = Rc::clone(&failure);
    let mut pong_io = pong;
    ev.add_reader(pong_io.as_raw_fd(), move |ev, readiness| {
        if let Err(e) = bounce(&mut pong_io, readiness) {
            fail.set(Some(e));
            ev.stop();
        }
    })?;

    // The serving end: count the return, serve again until done.
    let fail = Rc::clone(&failure);
    let mut ping_io = ping.try_clone()?;
    // Round trips still to make; read back once the loop is done, to check they all were.
    let left = Rc::new(Cell::new(rounds));
    let left_in_callback = Rc::clone(&left);
    ev.add_reader(ping.as_raw_fd(), move |ev, readiness| {
        let left = &left_in_callback;
        let served = if left.get() == 1 {
            receive(&mut ping_io, readiness)
        } else {
            bounce(&mut ping_io, readiness)
        };
        match served {
            Ok(true) => {
                left.set(left.get() - 1);
                if left.get() == 0 {
                    ev.stop();
                }
            }
            Ok(false) => {}
            Err(e) => {
                fail.set(Some(e));
                ev.stop();
            }
        }
    })?;

    let start = Instant::now();
    if rounds > 0 {
        // Serve the first ball.
        (&ping).write_all(b"!")?;
        ev.run()?;
    }
    let elapsed = start.elapsed();
    if let Some(e) = failure.take() {
        return Err(e);
    }
    if left.get() != 0 {
        return Err(io::Error::other(format!(
            "the loop ended after {} of {rounds} round trips",
            rounds - left.get()
        )));
    }
    Ok(elapsed)
}

/// Reads the ball; `Ok(false)` if it was not there after all.
fn receive(io: &mut UnixStream, readiness: Readiness) -> io::Result<bool> {
    if readiness != Readiness::Ready {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the other end went away ({readiness:?})"),
        ));
    }
    let mut buf = [0u8; 16];
    match io.read(&mut buf) {
        Ok(0) => Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(false),
        Err(e) => Err(e),
    }
}

/// Reads the ball and sends it back.
fn bounce(io: &mut UnixStream, readiness: Readiness) -> io::Result<bool> {
    let got = receive(io, readiness)?;
    if got {
        io.write_all(b"!")?;
    }
    Ok(got)
}

#[cfg(test)]
mod tests {
    #[test]
    fn completes_the_requested_rounds() {
        // `run` fails if the loop ends before every round trip was made. One round trip takes
        // the path where the serving end only receives.
        for rounds in [0, 1, 2, 2_000] {
            super::run(rounds).unwrap();
        }
    }
}
