//! The targets of a run as a stream read while it fetches: the TARGET arguments first, then each
//! `-i` file (or stdin) a line at a time, on a thread of its own a bounded channel ahead, so
//! memory is bound by the concurrency and the reorder window, not by the length of the list.
//!
//! Each entry of the input (an argument, or a line that is neither blank nor a comment) has a
//! position, counted from 0 across all of them. A line that is no target does not stop the run:
//! it is handed to the printer as a [`BadLine`] at its position, and reading goes on (after a
//! line too long, or a read that failed, with the next file). `--resume` skips the positions its
//! checkpoint holds; `--order input` stops reading while the window from the earliest position
//! not yet printed is full.

use std::collections::{HashMap, VecDeque};
use std::io::{self, BufRead, BufReader, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};

use futures_lite::Stream;
use headers::{LineProblem, Partition, Target, TargetLines};

use crate::resume::Finished;

/// A line of a `-i` file that gave no target: reported as that line's own failure.
#[derive(Debug)]
pub struct BadLine {
    /// The line's position in the input.
    pub position: u64,
    /// The file's name as given (`stdin` for `-`).
    pub name: String,
    /// The line's number in its file, from 1.
    pub line: u64,
    /// What is wrong with it.
    pub problem: LineProblem,
}

impl BadLine {
    /// `FILE line N`, the host part of its failure line.
    pub fn place(&self) -> String {
        format!("{} line {}", self.name, self.line)
    }

    /// The failure's message: `bad target: ...`.
    pub fn message(&self) -> String {
        match &self.problem {
            LineProblem::Io(e) => format!("bad target: cannot read the rest of the file: {e}"),
            problem => format!("bad target: {problem}"),
        }
    }
}

/// How the progress of reading the input can be shown.
#[derive(Debug, Clone)]
pub enum Extent {
    /// Only arguments: this many targets.
    Count(usize),
    /// Regular files (and arguments): the bytes read so far, of this many in all.
    Bytes(Arc<AtomicU64>, u64),
    /// A stream of unknown length (stdin, a pipe): only a count and a rate.
    Unknown,
}

/// What the input side and the printer share (both on the thread that consumes the outcomes).
#[derive(Debug, Default)]
pub struct Feed {
    /// A bad line waiting for the printer: reading pauses until it is taken.
    bad: Option<BadLine>,
    /// The position of each target handed to the fetcher, by the fetcher's index, until its
    /// outcome is printed.
    positions: HashMap<usize, u64>,
    /// Targets handed to the fetcher.
    yielded: usize,
    /// Positions read and not skipped: targets handed over and bad lines.
    reported: u64,
    /// Positions skipped because `--resume` had them.
    skipped: u64,
    /// The earliest position not yet printed (input order): the reorder window starts there.
    next_print: u64,
    /// The whole input has been read.
    ended: bool,
}

/// The shared [`Feed`].
pub type SharedFeed = Arc<Mutex<Feed>>;

/// Locks, ignoring poisoning: a panic elsewhere leaves the counts valid.
pub fn lock(feed: &SharedFeed) -> MutexGuard<'_, Feed> {
    feed.lock().unwrap_or_else(|e| e.into_inner())
}

impl Feed {
    /// Whether a bad line waits for the printer.
    pub fn has_bad(&self) -> bool {
        self.bad.is_some()
    }

    /// Takes the bad line waiting, if any (reading goes on at the next poll).
    pub fn take_bad(&mut self) -> Option<BadLine> {
        self.bad.take()
    }

    /// The input position of the fetcher's target `index`, forgotten once asked for.
    pub fn position(&mut self, index: usize) -> u64 {
        // Every index comes from a target handed over here, so it is always present.
        self.positions.remove(&index).unwrap_or(index as u64)
    }

    /// Moves the start of the reorder window.
    pub fn set_next_print(&mut self, position: u64) {
        self.next_print = position;
    }

    /// Targets handed to the fetcher so far.
    pub fn yielded(&self) -> usize {
        self.yielded
    }

    /// Entries read and reported (targets and bad lines), and whether that is all of them.
    pub fn reported(&self) -> (u64, bool) {
        (self.reported, self.ended)
    }

    /// Entries skipped because the checkpoint had them.
    pub fn skipped(&self) -> u64 {
        self.skipped
    }
}

/// A file of targets being read.
struct File {
    name: String,
    lines: TargetLines<Counting>,
}

/// The input of a run, not yet read: parsed arguments and opened files.
pub struct Input {
    arguments: VecDeque<Target>,
    files: VecDeque<File>,
    extent: Extent,
    /// With `--shard`: only the targets of this shard are read in (positions count only them).
    partition: Option<Partition>,
}

impl std::fmt::Debug for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Input")
            .field("arguments", &self.arguments.len())
            .field("files", &self.files.len())
            .field("extent", &self.extent)
            .finish()
    }
}

impl Input {
    /// Only these targets.
    pub fn from_targets(targets: Vec<Target>) -> Input {
        Input {
            extent: Extent::Count(targets.len()),
            arguments: targets.into(),
            files: VecDeque::new(),
            partition: None,
        }
    }

    /// Keeps only the targets of `part`'s shard, from the arguments now and from the files as
    /// they are read. (The bad lines of a file are everyone's: each shard reports them.)
    pub fn shard(&mut self, part: Partition) {
        self.arguments.retain(|t| part.keeps(t));
        if let Extent::Count(n) = &mut self.extent {
            *n = self.arguments.len();
        }
        self.partition = Some(part);
    }

    /// Adds a file of targets to read after what is there: `name` as messages show it, `size`
    /// its length if it is a regular file.
    pub fn add_file(&mut self, name: String, reader: Reader, size: Option<u64>) {
        let bytes = match (&self.extent, size) {
            (Extent::Count(_), Some(size)) => {
                let bytes = Arc::new(AtomicU64::new(0));
                self.extent = Extent::Bytes(bytes.clone(), size);
                bytes
            }
            (Extent::Bytes(bytes, total), Some(size)) => {
                let bytes = bytes.clone();
                self.extent = Extent::Bytes(bytes.clone(), total + size);
                bytes
            }
            _ => {
                self.extent = Extent::Unknown;
                Arc::new(AtomicU64::new(0))
            }
        };
        let counting = Counting {
            inner: reader,
            bytes,
        };
        self.files.push_back(File {
            name,
            lines: TargetLines::new(counting),
        });
    }

    /// How far reading has come, for the progress display.
    pub fn extent(&self) -> Extent {
        self.extent.clone()
    }

    /// The stream of targets to fetch. Positions in `skip` are read and dropped; with a
    /// `window`, no position at or beyond the earliest unprinted one plus `window` is read.
    /// The files are read on a thread of their own, a bounded channel ahead: a read that blocks
    /// (stdin waiting for its next line) holds up neither the results nor Ctrl-C.
    pub fn into_stream(
        self,
        feed: SharedFeed,
        skip: Finished,
        window: Option<u64>,
    ) -> io::Result<Source> {
        let mut lines = None;
        if !self.files.is_empty() {
            let (send, receive) = smol::channel::bounded(READ_AHEAD / CHUNK);
            let (files, partition) = (self.files, self.partition);
            std::thread::Builder::new()
                .name("read-targets".into())
                .spawn(move || read_files(files, partition, send))
                .map_err(|e| io::Error::new(e.kind(), format!("cannot start reading: {e}")))?;
            lines = Some(Box::pin(receive));
        }
        Ok(Source {
            arguments: self.arguments,
            lines,
            chunk: VecDeque::new(),
            feed,
            skip,
            window,
            position: 0,
        })
    }
}

/// Entries read ahead of the fetching from the files: enough that the fetcher never waits for
/// a line it could have had, few enough to keep memory bound by the concurrency.
const READ_AHEAD: usize = 1024;

/// Entries sent to the fetcher at most at once: one wake-up of either thread per chunk rather
/// than per line.
const CHUNK: usize = 256;

/// An entry of a file: a target, or a bad line (its file and line number, what is wrong).
type Entry = Result<Target, (String, u64, LineProblem)>;

/// Reads the files in order into `send` (only `partition`'s targets, if given), until they end
/// or the receiver is gone.
fn read_files(
    files: VecDeque<File>,
    partition: Option<Partition>,
    send: smol::channel::Sender<Vec<Entry>>,
) {
    let mut chunk = Vec::with_capacity(CHUNK);
    for file in files {
        let File { name, mut lines } = file;
        // After a line too long or a failed read the file ends there.
        while let Some(line) = lines.next() {
            if let (Ok(target), Some(part)) = (&line, &partition)
                && !part.keeps(target)
            {
                continue;
            }
            chunk.push(line.map_err(|e| (name.clone(), e.line(), e.problem().clone())));
            // A full chunk goes, and so does a partial one before a read that may block (a
            // slow stdin's line must not wait for the next one to be written).
            let next_buffered = lines.get_ref().inner.buffer().contains(&b'\n');
            if (chunk.len() >= CHUNK || !next_buffered)
                && send
                    .send_blocking(std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK)))
                    .is_err()
            {
                return;
            }
        }
    }
    if !chunk.is_empty() {
        let _ = send.send_blocking(chunk);
    }
}

/// The stream of targets [`Input::into_stream`] returns, for `Many::fetch_stream`. It is
/// polled on the consuming thread; it answers `Pending` while the reader thread has no line
/// ready (it wakes the consumer when it has), and, without a wake-up (the consumer polls again
/// after each result it prints), while a bad line waits for the printer or the reorder window
/// is full.
pub struct Source {
    arguments: VecDeque<Target>,
    /// The entries of the files, read on their own thread, in chunks.
    lines: Option<Pin<Box<smol::channel::Receiver<Vec<Entry>>>>>,
    /// The rest of the chunk received last.
    chunk: VecDeque<Entry>,
    feed: SharedFeed,
    skip: Finished,
    window: Option<u64>,
    /// The position the next entry read gets.
    position: u64,
}

impl Stream for Source {
    type Item = Target;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Target>> {
        let this = &mut *self;
        let mut feed = lock(&this.feed);
        loop {
            if feed.bad.is_some() || feed.ended {
                return if feed.ended {
                    Poll::Ready(None)
                } else {
                    Poll::Pending
                };
            }
            let position = this.position;
            let skipped = this.skip.contains(position);
            if let Some(window) = this.window
                && !skipped
                && position >= feed.next_print.saturating_add(window)
            {
                return Poll::Pending;
            }
            let entry = match this.arguments.pop_front() {
                Some(target) => Ok(target),
                None => match this.chunk.pop_front() {
                    Some(entry) => entry,
                    None => {
                        let Some(lines) = this.lines.as_mut() else {
                            feed.ended = true;
                            return Poll::Ready(None);
                        };
                        // The reader thread wakes the consumer when it sends the next chunk.
                        match lines.as_mut().poll_next(cx) {
                            Poll::Ready(Some(chunk)) => {
                                this.chunk = chunk.into();
                                continue;
                            }
                            Poll::Ready(None) => {
                                this.lines = None;
                                feed.ended = true;
                                return Poll::Ready(None);
                            }
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                },
            };
            this.position += 1;
            if skipped {
                feed.skipped += 1;
                continue;
            }
            feed.reported += 1;
            // Known as soon as the last argument is out, so an interrupt can say "N of M".
            feed.ended = this.arguments.is_empty() && this.lines.is_none();
            match entry {
                Ok(target) => {
                    let index = feed.yielded;
                    feed.positions.insert(index, position);
                    feed.yielded += 1;
                    return Poll::Ready(Some(target));
                }
                Err((name, line, problem)) => {
                    feed.bad = Some(BadLine {
                        position,
                        name,
                        line,
                        problem,
                    });
                    // Pending, not the end, even if it was the last line: the consumer
                    // takes the bad line, then the next poll ends the stream.
                    feed.ended = false;
                    return Poll::Pending;
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        // Only arguments left: exactly these (Many lowers its concurrency to the count).
        if self.lines.is_none() {
            (0, Some(self.arguments.len()))
        } else {
            (0, None)
        }
    }
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("arguments", &self.arguments.len())
            .field("reading", &self.lines.is_some())
            .field("position", &self.position)
            .field("window", &self.window)
            .finish_non_exhaustive()
    }
}

/// A reader that counts the bytes taken from it, for a progress display by bytes.
struct Counting {
    inner: Reader,
    bytes: Arc<AtomicU64>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

impl BufRead for Counting {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// An opened input: its name as messages show it, the reader, its size if a regular file.
pub type Opened = (String, Reader, Option<u64>);

/// A buffered input: its buffer can be looked at, to tell whether the next line needs a read.
pub type Reader = BufReader<Box<dyn Read + Send>>;

/// Opens `path` (`-` for stdin) for reading targets; `(name, reader, size)`. A file that cannot
/// be opened, or whose first read fails (a directory), is an error: it is known before any
/// fetch. Stdin is not read ahead: its first line may come late.
pub fn open(path: &std::path::Path) -> Result<Opened, (String, io::Error)> {
    if path.as_os_str() == "-" {
        let stdin: Box<dyn Read + Send> = Box::new(io::stdin());
        return Ok((
            "stdin".to_owned(),
            BufReader::with_capacity(64 * 1024, stdin),
            None,
        ));
    }
    let name = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) => return Err((name, e)),
    };
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let file: Box<dyn Read + Send> = Box::new(file);
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    if let Err(e) = reader.fill_buf() {
        return Err((name, e));
    }
    Ok((name, reader, size))
}
