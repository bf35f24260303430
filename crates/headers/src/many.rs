//! Fetching many heads at once: a fixed set of worker tasks (as many as the concurrency cap)
//! each take the next target, fetch it and send the tagged result down a channel, so results
//! come out as they complete and every completion costs O(1) whatever the number of targets.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_lite::Stream;
use smol::channel::{Receiver, Sender};

use crate::fd::fd_budget;
use crate::fetch::{FetchError, Options, Response, fetch_head};
use crate::target::Target;

/// One target's outcome, as [`FetchMany`] yields it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The target's position in the input (0-based).
    pub index: usize,
    /// The head, or why there is none.
    pub result: Result<Response, FetchError>,
    /// How long the fetch took, failed or not (for a success, the same as
    /// [`Response::elapsed`]).
    pub elapsed: Duration,
}

/// The stream returned by [`fetch_many`]: yields a [`Fetched`] as each fetch completes, and
/// ends when every target started has finished.
///
/// Dropping it cancels the fetches in flight. [`FetchMany::stop`] (or setting the flag given
/// to [`fetch_many_until`]) only stops new ones from starting: those in flight still finish
/// (each within its deadline) and are yielded, then the stream ends.
#[must_use = "streams do nothing unless polled"]
pub struct FetchMany {
    results: Pin<Box<Receiver<Fetched>>>,
    stop: Arc<AtomicBool>,
    concurrency: usize,
    // Held so that dropping the stream cancels the workers.
    _workers: Vec<smol::Task<()>>,
}

impl std::fmt::Debug for FetchMany {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchMany")
            .field("concurrency", &self.concurrency)
            .field("stopped", &self.stop.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl FetchMany {
    /// Starts nothing new: fetches in flight finish, then the stream ends.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// The stop flag, to hand to a signal handler (`signal_hook::flag::register`).
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// The concurrency actually used: the cap asked for, lowered to the number of targets (when
    /// known) and to what the open-file limit allows.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }
}

impl Stream for FetchMany {
    type Item = Fetched;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Fetched>> {
        self.results.as_mut().poll_next(cx)
    }
}

/// Fetches the heads of all `targets`, at most `concurrency` at a time, yielding each result
/// ([`Fetched`]: input index, result, elapsed) as it completes. See [`fetch_many_until`] to stop early.
///
/// The fetches run on smol's global executor (`SMOL_THREADS` threads, default one), so the
/// stream can be consumed from any executor or from `block_on`. The soft open-file limit is
/// raised first, and the concurrency lowered to what it allows (connections beyond it wait for
/// a free descriptor rather than fail).
///
/// ```
/// use futures_lite::StreamExt;
/// use headers::{fetch_many, Options, Target};
/// # futures_lite::future::block_on(async {
/// let ok = stub::Stub::start(stub::Behavior::Ok).unwrap();
/// let missing = stub::Stub::start(stub::Behavior::Status(404)).unwrap();
/// let targets: Vec<Target> = [ok.target(), missing.target(), ok.target()]
///     .iter()
///     .map(|t| t.parse().unwrap())
///     .collect();
/// let mut results: Vec<(usize, u16)> = fetch_many(targets, &Options::default(), 2)
///     .map(|f| (f.index, f.result.unwrap().head.status))
///     .collect()
///     .await;
/// results.sort();
/// assert_eq!(results, [(0, 200), (1, 404), (2, 200)]);
/// # });
/// ```
pub fn fetch_many<I>(targets: I, options: &Options, concurrency: usize) -> FetchMany
where
    I: IntoIterator<Item = Target>,
    I::IntoIter: Send + 'static,
{
    fetch_many_until(
        targets,
        options,
        concurrency,
        Arc::new(AtomicBool::new(false)),
    )
}

/// Like [`fetch_many`], but no new fetch starts once `stop` is set (e.g. by a Ctrl-C handler):
/// those in flight finish and are yielded, then the stream ends. Targets are taken from the
/// iterator one at a time as workers free up, so it may be lazy (lines of stdin, say).
pub fn fetch_many_until<I>(
    targets: I,
    options: &Options,
    concurrency: usize,
    stop: Arc<AtomicBool>,
) -> FetchMany
where
    I: IntoIterator<Item = Target>,
    I::IntoIter: Send + 'static,
{
    let targets = targets.into_iter();
    let mut n = concurrency.max(1);
    if let Some(upper) = targets.size_hint().1 {
        n = n.min(upper.max(1));
    }
    if let Some(budget) = fd_budget() {
        n = n.min(budget);
    }
    let shared = Arc::new(Shared {
        targets: Mutex::new(targets.enumerate()),
        options: options.clone(),
        stop: stop.clone(),
    });
    let (tx, results) = smol::channel::bounded(n);
    let workers = (0..n)
        .map(|_| smol::spawn(worker(shared.clone(), tx.clone())))
        .collect();
    FetchMany {
        results: Box::pin(results),
        stop,
        concurrency: n,
        _workers: workers,
    }
}

struct Shared<I> {
    targets: Mutex<std::iter::Enumerate<I>>,
    options: Options,
    stop: Arc<AtomicBool>,
}

async fn worker<I: Iterator<Item = Target>>(shared: Arc<Shared<I>>, results: Sender<Fetched>) {
    while !shared.stop.load(Ordering::Relaxed) {
        // A panicking iterator poisons the lock; the targets left are still worth fetching.
        let next = shared
            .targets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .next();
        let Some((index, target)) = next else { break };
        let started = Instant::now();
        let result = fetch_head(&target, &shared.options).await;
        let elapsed = match &result {
            Ok(response) => response.elapsed,
            Err(_) => started.elapsed(),
        };
        let fetched = Fetched {
            index,
            result,
            elapsed,
        };
        if results.send(fetched).await.is_err() {
            break; // The stream was dropped.
        }
    }
}
