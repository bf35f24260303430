//! The fetch loop: hand the targets to `headers::Many`, print each outcome as it arrives,
//! and stop early on Ctrl-C or SIGTERM. On a signal nothing new starts and the fetches in flight
//! are dropped (a host that never answers must not hold the exit for its whole deadline); what
//! finished is printed, then the summary.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_lite::{StreamExt, future};
use headers::{Many, Outcome, Target};
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::output::{Format, Printer, Summary};

/// How a run ended.
#[derive(Debug)]
pub struct Ended {
    /// The counts the summary printed.
    pub summary: Summary,
    /// Whether a signal cut the run short.
    pub interrupted: bool,
}

/// Fetches every target as `many` says (concurrency, pacing), printing as results arrive.
pub fn run(targets: Vec<Target>, many: Many, format: Format) -> io::Result<Ended> {
    let signal = Signal::register()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot watch for Ctrl-C: {e}")))?;
    let total = targets.len();
    let mut printer = Printer::new(format, total);
    // Each outcome carries its target: the list is handed over, not kept.
    let mut results = many.fetch(targets);
    let interrupted = smol::block_on(async {
        loop {
            if signal.received() {
                return Ok::<_, io::Error>(true);
            }
            // Every target has its outcome: done, without relying on the stream to say so.
            if printer.summary.finished() == total {
                return Ok(false);
            }
            // Take what is ready without waiting; only before waiting is output flushed, so a
            // burst of completions costs one write, and a lone one is shown at once.
            let next = match future::poll_once(results.next()).await {
                Some(next) => next,
                None => {
                    printer.flush()?;
                    let signalled = async { signal.wait().await.map(|()| Wake::Signal) };
                    let result = async { Ok(Wake::Result(results.next().await)) };
                    match future::or(signalled, result).await? {
                        Wake::Result(next) => next,
                        Wake::Signal => return Ok(true),
                    }
                }
            };
            let Some(outcome) = next else {
                // Only a panicking fetch thread ends the stream early: never exit 0 then.
                let lost = total - printer.summary.finished();
                return Err(io::Error::other(format!(
                    "{lost} targets got no outcome: a fetch thread failed"
                )));
            };
            printer.push(outcome)?;
        }
    })?;
    // Dropping the stream cancels the fetches in flight (after a signal) before the summary.
    drop(results);
    let summary = printer.finish(interrupted)?;
    Ok(Ended {
        summary,
        interrupted,
    })
}

/// What ended a wait: the next result (or the end of the stream), or a signal.
// Large, but it only lives on the stack for a moment; boxing would cost an allocation per result.
#[allow(clippy::large_enum_variant)]
enum Wake {
    Result(Option<Outcome>),
    Signal,
}

/// SIGINT and SIGTERM, as a flag plus a socket that becomes readable when one arrives.
struct Signal {
    flag: Arc<AtomicBool>,
    wake: async_io::Async<UnixStream>,
}

impl Signal {
    fn register() -> io::Result<Signal> {
        let flag = Arc::new(AtomicBool::new(false));
        let (read, write) = UnixStream::pair()?;
        for signal in [SIGINT, SIGTERM] {
            signal_hook::flag::register(signal, flag.clone())?;
            signal_hook::low_level::pipe::register(signal, write.try_clone()?)?;
        }
        Ok(Signal {
            flag,
            wake: async_io::Async::new(read)?,
        })
    }

    fn received(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Waits until a signal has arrived.
    async fn wait(&self) -> io::Result<()> {
        while !self.received() {
            self.wake.readable().await?;
            // Drain the wake-up bytes; the flag says whether a signal really came.
            let mut buf = [0u8; 64];
            match self.wake.get_ref().read(&mut buf) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
