//! The fetch loop: hand the input to `headers::Many` as a stream read while it fetches, print
//! each outcome (and each line that was no target) as it arrives, and stop early on Ctrl-C or
//! SIGTERM. On a signal nothing new starts and the fetches in flight are dropped (a host that
//! never answers must not hold the exit for its whole deadline); what finished is printed, then
//! the summary.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use futures_lite::{Stream, future};
use headers::Many;
use signal_hook::consts::{SIGINT, SIGTERM};

use crate::input::{self, Input, SharedFeed};
use crate::output::{Format, Item, Printer, Summary};
use crate::resume::Checkpoint;

/// In input order, how many positions past the earliest one not yet printed may be read and
/// started, per slot of the concurrency: enough to keep the slots busy behind one slow target
/// for a while, and a bound on the outcomes held back.
const WINDOW_PER_SLOT: u64 = 4;

/// How often, at most, a run that never pauses between results flushes its output so the
/// `--resume` checkpoint moves on.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// How a run ended.
#[derive(Debug)]
pub struct Ended {
    /// The counts the summary printed.
    pub summary: Summary,
    /// Whether a signal cut the run short.
    pub interrupted: bool,
}

/// Why a run printed nothing at all.
#[derive(Debug)]
pub enum Failed {
    /// The input held no target (only blank lines and comments): a usage error.
    NoTargets,
    /// Output could not be written, or the fetching failed.
    Io(io::Error),
}

impl From<io::Error> for Failed {
    fn from(e: io::Error) -> Failed {
        Failed::Io(e)
    }
}

/// Fetches every target of `input` as `many` says (at most `concurrency` at once, pacing),
/// printing as results arrive; with a `checkpoint`, skipping what it holds and recording what
/// is written out.
pub fn run(
    input: Input,
    many: Many,
    concurrency: usize,
    format: Format,
    checkpoint: Option<Checkpoint>,
) -> Result<Ended, Failed> {
    let signal = Signal::register()
        .map_err(|e| io::Error::new(e.kind(), format!("cannot watch for Ctrl-C: {e}")))?;
    let feed = SharedFeed::default();
    let skip = checkpoint
        .as_ref()
        .map(|c| c.finished().clone())
        .unwrap_or_default();
    let window = match format.order {
        crate::cli::Order::Input => Some(WINDOW_PER_SLOT.saturating_mul(concurrency as u64)),
        crate::cli::Order::Completion => None,
    };
    let extent = input.extent();
    let resuming = checkpoint.is_some();
    let mut printer = Printer::new(format, extent, feed.clone(), checkpoint);
    let source = input.into_stream(feed.clone(), skip, window)?;
    // Each outcome carries its target: the input is read as slots free up, not kept.
    let mut results = many.fetch_stream(source);
    let mut outcomes = 0;
    let mut saved = Instant::now();
    // On a loop of its own: a wake from a worker is one eventfd write, and only while it sleeps.
    let interrupted = fdwatch::local::block_on(async {
        loop {
            if signal.received() {
                return Ok::<_, io::Error>(true);
            }
            // Everything read has its result: done, without relying on the stream to say so.
            {
                let feed = input::lock(&feed);
                if feed.reported().1 && feed.yielded() == outcomes && !feed.has_bad() {
                    return Ok(false);
                }
            }
            if resuming && saved.elapsed() >= CHECKPOINT_EVERY {
                printer.flush()?;
                saved = Instant::now();
            }
            // Take what is ready without waiting; only before waiting is output flushed, so a
            // burst of completions costs one write, and a lone one is shown at once.
            let next = match future::poll_once(next_item(&mut results, &feed)).await {
                Some(next) => next,
                None => {
                    printer.flush()?;
                    saved = Instant::now();
                    let signalled = async { signal.wait().await.map(|()| Wake::Signal) };
                    let result = async { Ok(Wake::Item(next_item(&mut results, &feed).await)) };
                    match future::or(signalled, result).await? {
                        Wake::Item(next) => next,
                        Wake::Signal => return Ok(true),
                    }
                }
            };
            let Some(item) = next else {
                let lost = input::lock(&feed).yielded() - outcomes;
                if lost == 0 {
                    return Ok(false);
                }
                // Only a panicking fetch thread ends the stream early: never exit 0 then.
                return Err(io::Error::other(format!(
                    "{lost} targets got no outcome: a fetch thread failed"
                )));
            };
            if let Item::Outcome(..) = item {
                outcomes += 1;
            }
            printer.push(item)?;
        }
    })?;
    // Dropping the stream cancels the fetches in flight (after a signal) before the summary.
    drop(results);
    let (reported, ended, skipped) = {
        let feed = input::lock(&feed);
        let (reported, ended) = feed.reported();
        (reported, ended, feed.skipped())
    };
    if ended && reported == 0 && skipped == 0 {
        return Err(Failed::NoTargets);
    }
    let summary = printer.finish(interrupted, ended.then_some(reported))?;
    Ok(Ended {
        summary,
        interrupted,
    })
}

/// The next finished entry: a bad line the input side is holding, or the next outcome (with
/// its input position); `None` when the stream of outcomes ended.
async fn next_item(results: &mut headers::FetchMany, feed: &SharedFeed) -> Option<Item> {
    future::poll_fn(|cx| {
        if let Some(bad) = input::lock(feed).take_bad() {
            return Poll::Ready(Some(Item::Bad(bad)));
        }
        // Polling the outcomes is what reads the input (a bad line stops that until taken).
        match Pin::new(&mut *results).poll_next(cx) {
            Poll::Ready(Some(outcome)) => {
                let position = input::lock(feed).position(outcome.index);
                Poll::Ready(Some(Item::Outcome(position, outcome)))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match input::lock(feed).take_bad() {
                Some(bad) => Poll::Ready(Some(Item::Bad(bad))),
                None => Poll::Pending,
            },
        }
    })
    .await
}

/// What ended a wait: the next entry (or the end of the stream), or a signal.
// Large, but it only lives on the stack for a moment; boxing would cost an allocation per result.
#[allow(clippy::large_enum_variant)]
enum Wake {
    Item(Option<Item>),
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
