//! socketpair-reader: asyncio's `add_reader` tutorial in Rust, over `fdwatch`'s event loop.
//!
//! A connected socketpair; the read end is watched; a write is scheduled on the other end; when
//! the watch fires, the message is read and printed as `Received: abc`, the watch is removed and
//! the program exits.
//!
//! ```text
//! cargo run --release --bin socketpair-reader
//! cargo run --release --bin socketpair-reader -- --message hello --count 3
//! cargo run --release --bin socketpair-reader -- --pingpong 200000
//! ```

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::rc::Rc;

use clap::Parser;
use clap::builder::TypedValueParser;
use fdwatch::{EventLoop, Readiness};
use support::{Utf8, stdout_error};

#[path = "socketpair_reader/pingpong.rs"]
mod pingpong;

/// Watch one end of a socketpair for readability and print what arrives (asyncio's add_reader
/// demo).
#[derive(Debug, Parser)]
#[command(
    name = "socketpair-reader",
    version,
    allow_negative_numbers = true,
    after_help = "\
With no options: create a connected socketpair, watch its read end, schedule a write of `abc` on
the other end, print `Received: abc` when the watch fires, stop watching and exit.

With --pingpong, each end of the socketpair is watched and answers every byte it reads, so each
round trip is two readiness callbacks; the line printed is `N round trips in Ts: R round trips/s`.

Examples:
  socketpair-reader
  socketpair-reader --message hello --count 3
  socketpair-reader --pingpong 200000"
)]
struct Args {
    /// Send TEXT instead of `abc` (printed as `Received: TEXT`).
    // Any text, `-x` included: without allow_hyphen_values a leading hyphen made it an unknown
    // option.
    #[arg(long, value_name = "TEXT", default_value = "abc", allow_hyphen_values = true,
          value_parser = Utf8.try_map(non_empty))]
    message: String,

    /// Send N messages, `TEXT 1` to `TEXT N`, each received and printed before the next is sent.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    count: Option<u64>,

    /// Benchmark: bounce one byte N times between the two ends; print round trips, time, rate.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..),
          conflicts_with_all = ["message", "count"])]
    pingpong: Option<u64>,
}

/// Parses a message: an empty one would never make the read end readable.
fn non_empty(s: String) -> Result<String, String> {
    if s.is_empty() {
        Err("the message must not be empty (nothing would ever arrive)".to_string())
    } else {
        Ok(s)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.pingpong {
        Some(rounds) => pingpong(rounds),
        None => exchange(Messages {
            text: args.message,
            count: args.count,
            sent: 0,
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => ExitCode::from(support::exit_status(&e)),
    }
}

/// Runs the ping-pong benchmark and prints its summary line.
fn pingpong(rounds: u64) -> io::Result<()> {
    let elapsed = pingpong::run(rounds)?;
    let secs = elapsed.as_secs_f64();
    writeln!(
        io::stdout(),
        "{} in {secs:.3}s: {:.0} round trips/s",
        support::plural(rounds, "round trip"),
        rounds as f64 / secs.max(1e-9)
    )
    .map_err(stdout_error)
}

/// The messages to send, made one at a time (a large `--count` must not fill the memory).
struct Messages {
    text: String,
    /// `None`: the one message is `text`; `Some(n)`: `text 1` to `text n`.
    count: Option<u64>,
    sent: u64,
}

impl Iterator for Messages {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let message = match self.count {
            None if self.sent == 0 => self.text.clone(),
            Some(n) if self.sent < n => format!("{} {}", self.text, self.sent + 1),
            _ => return None,
        };
        self.sent += 1;
        Some(message)
    }
}

/// What the reader callback shares with `main`: the messages still to send and the one
/// expected now, and the first failure.
struct Exchange {
    wsock: Rc<UnixStream>,
    messages: Messages,
    expected: Option<String>,
    received: Vec<u8>,
    failure: Option<io::Error>,
}

/// Sends each message in turn over a socketpair and prints it as the watched end receives it.
fn exchange(messages: Messages) -> io::Result<()> {
    // Create a pair of connected sockets.
    let (rsock, wsock) = UnixStream::pair()?;
    rsock.set_nonblocking(true)?;
    wsock.set_nonblocking(true)?;
    let state = Rc::new(RefCell::new(Exchange {
        wsock: Rc::new(wsock),
        messages,
        expected: None,
        received: Vec::new(),
        failure: None,
    }));
    let mut ev = EventLoop::new()?;

    // Watch the read end: read until the expected message is whole, print it, send the next.
    let shared = Rc::clone(&state);
    // The callback owns the read end; the loop knows only its fd number.
    let rfd = rsock.as_raw_fd();
    ev.add_reader(rfd, move |ev, readiness| {
        let mut st = shared.borrow_mut();
        let received = receive(&rsock, readiness, &mut st).and_then(|m| {
            m.map(|m| writeln!(io::stdout(), "Received: {m}").map_err(stdout_error))
                .transpose()
        });
        match received {
            Ok(Some(())) => {
                if !schedule_next(ev, &mut st) {
                    // We are done: unregister the fd and stop the loop.
                    ev.remove_reader(rfd);
                    ev.stop();
                }
            }
            Ok(None) => {}
            Err(e) => {
                st.failure = Some(e);
                ev.remove_reader(rfd);
                ev.stop();
            }
        }
    })?;

    // Simulate the reception of data from the network: schedule the first write.
    schedule_next(&mut ev, &mut state.borrow_mut());

    ev.run()?;
    let mut st = state.borrow_mut();
    match st.failure.take() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Reads what is there; returns the message once all its bytes have arrived.
fn receive(
    mut rsock: &UnixStream,
    readiness: Readiness,
    st: &mut Exchange,
) -> io::Result<Option<String>> {
    if readiness != Readiness::Ready {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the socketpair's writing end went away ({readiness:?})"),
        ));
    }
    let mut buf = [0u8; 16 * 1024];
    match rsock.read(&mut buf) {
        Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
        Ok(n) => st.received.extend_from_slice(&buf[..n]),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
        Err(e) => return Err(e),
    }
    let expected = st.expected.as_deref().unwrap_or_default();
    if st.received.len() < expected.len() {
        return Ok(None);
    }
    if st.received != expected.as_bytes() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "received bytes that were never sent",
        ));
    }
    st.received.clear();
    Ok(st.expected.take())
}

/// Schedules the next message's write with `call_soon`; `false` if none is left.
fn schedule_next(ev: &mut EventLoop, st: &mut Exchange) -> bool {
    let Some(message) = st.messages.next() else {
        return false;
    };
    st.expected = Some(message.clone());
    let wsock = Rc::clone(&st.wsock);
    ev.call_soon(move |ev| {
        // Watching our own open socket cannot fail short of the system running out of memory;
        // if it does, say so rather than wait for a message that will never be written.
        if let Err(e) = send(ev, wsock, message.into_bytes()) {
            let _ = writeln!(io::stderr(), "error: {e}");
            std::process::exit(1);
        }
    });
    true
}

/// Writes `bytes` to `wsock` as it becomes writable (a long message may not fit the socket
/// buffer at once), then stops watching it.
fn send(ev: &mut EventLoop, wsock: Rc<UnixStream>, bytes: Vec<u8>) -> io::Result<()> {
    let mut written = 0;
    let watched = Rc::clone(&wsock);
    ev.add_writer(&*watched, move |ev, readiness| {
        let result = match readiness {
            Readiness::Ready => (&*wsock).write(&bytes[written..]),
            other => Err(io::Error::other(format!(
                "the socket is not writable ({other:?})"
            ))),
        };
        let done = match result {
            Ok(n) => {
                written += n;
                written == bytes.len()
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) => {
                // Say why, and end the stream: the reader then sees the missing bytes as an
                // end of file, reports it and stops the loop (the message would never come).
                let _ = writeln!(io::stderr(), "error: writing the message: {e}");
                let _ = wsock.shutdown(std::net::Shutdown::Write);
                true
            }
        };
        if done {
            ev.remove_writer(&*wsock);
        }
    })?;
    Ok(())
}
