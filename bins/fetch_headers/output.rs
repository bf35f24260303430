//! Everything fetch-headers prints, in one place: the `HOST header > LINE` blocks (with
//! a `HOST tls > VERSION, alpn PROTOCOL` line first for https, and one block per redirect hop
//! with -L, each under its own URL), the `HOST cert > ...` line of the server's certificate
//! (also when the fetch then failed), the `--json` lines, the `HOST error > MESSAGE` lines (and
//! `FILE line N error > bad target: ...` for a line that is no target), the summary (with the
//! median and 99th percentile of the time per target), the
//! progress display, and the order they come out in; with `--resume`, the checkpoint is told
//! what has been written out.
//! Results go to stdout (batched: a host's block is one write, flushed whenever no other result
//! is ready); failures, the summary and the progress bar go to stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use headers::{Certificate, FetchError, Head, JsonOptions, JsonRecord, Outcome, Response};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use support::stdout_error;

use crate::cli::Order;
use crate::input::{self, BadLine, Extent, SharedFeed};
use crate::resume::{Checkpoint, Finished};

/// From this many targets on, a terminal on stderr gets a progress bar.
const PROGRESS_FROM: usize = 100;

/// How results are printed.
#[derive(Debug, Clone, Copy)]
pub struct Format {
    /// `--json`: one object a line instead of `HOST header > LINE`.
    pub json: bool,
    /// `--interim`: print 1xx interim heads too.
    pub interim: bool,
    /// Completion or input order.
    pub order: Order,
    /// `-L`: redirects are followed (the JSON lines carry them).
    pub follow: bool,
}

/// A finished entry of the input: a target's outcome, or a line that was no target.
// Nearly every item is an outcome: boxing it to shrink the rare bad line would cost an
// allocation per result.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Item {
    /// A target was fetched (or failed) at this input position.
    Outcome(u64, Outcome),
    /// A line of a file was no target.
    Bad(BadLine),
}

impl Item {
    fn position(&self) -> u64 {
        match self {
            Item::Outcome(position, _) => *position,
            Item::Bad(bad) => bad.position,
        }
    }
}

/// Prints outcomes as they arrive (or in input order) and counts them for the summary.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    out: BufWriter<StdoutLock<'static>>,
    bar: Option<Bar>,
    /// Finished entries waiting for an earlier one (input order only).
    waiting: BTreeMap<u64, Item>,
    /// The next position to print in input order.
    next: u64,
    /// Positions a checkpoint had when the run started: never read, so never waited for.
    skip: Finished,
    /// Where the reorder window starts is published here for the input side.
    feed: SharedFeed,
    /// `--resume`: told each position once its result is written out.
    checkpoint: Option<Checkpoint>,
    /// Printed since stdout was last flushed.
    unflushed: Vec<u64>,
    pub summary: Summary,
    block: String,
}

/// The progress display.
#[derive(Debug)]
enum Bar {
    /// Finished targets against a known count, or a count and rate alone.
    Count(ProgressBar),
    /// The bytes of the input files read, against their size.
    Bytes(ProgressBar, Arc<AtomicU64>),
}

impl Printer {
    /// A printer for the input of `extent`; shows progress if stderr is a terminal (and, for a
    /// list of arguments, there are many).
    pub fn new(
        format: Format,
        extent: Extent,
        feed: SharedFeed,
        checkpoint: Option<Checkpoint>,
    ) -> Printer {
        let skip = checkpoint
            .as_ref()
            .map(|c| c.finished().clone())
            .unwrap_or_default();
        let bar = io::stderr()
            .is_terminal()
            .then(|| progress(extent))
            .flatten();
        let mut printer = Printer {
            format,
            out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            bar,
            waiting: BTreeMap::new(),
            next: 0,
            skip,
            feed,
            checkpoint,
            unflushed: Vec::new(),
            summary: Summary::new(),
            block: String::new(),
        };
        printer.advance();
        printer
    }

    /// Takes one finished entry: counts it and prints it now, or once all before it are
    /// printed (input order).
    pub fn push(&mut self, item: Item) -> io::Result<()> {
        match &item {
            Item::Outcome(_, outcome) => self.summary.count(outcome),
            Item::Bad(_) => *self.summary.errors.entry(BAD_TARGET).or_default() += 1,
        }
        match &self.bar {
            Some(Bar::Count(bar)) => bar.inc(1),
            Some(Bar::Bytes(bar, read)) => {
                bar.set_position(read.load(Ordering::Relaxed));
                bar.set_message(format!("{} done", self.summary.finished()));
            }
            None => {}
        }
        match self.format.order {
            Order::Completion => self.print(&item),
            Order::Input => {
                self.waiting.insert(item.position(), item);
                while let Some(item) = self.waiting.remove(&self.next) {
                    self.next += 1;
                    self.print(&item)?;
                    self.advance();
                }
                Ok(())
            }
        }
    }

    /// Moves the next position to print past those the checkpoint had, and tells the input
    /// side where the reorder window now starts.
    fn advance(&mut self) {
        while self.skip.contains(self.next) {
            self.next += 1;
        }
        input::lock(&self.feed).set_next_print(self.next);
    }

    /// Writes out what is buffered: called when no other result is ready, so output appears as
    /// hosts complete without a write per line when many complete at once. With `--resume`,
    /// the checkpoint is written after.
    pub fn flush(&mut self) -> io::Result<()> {
        let flushed = match &self.bar {
            Some(bar) => bar.bar().suspend(|| self.out.flush()),
            None => self.out.flush(),
        };
        flushed.map_err(stdout_error)?;
        self.flushed()
    }

    /// Everything printed so far is written out: record it in the checkpoint, and save that.
    fn flushed(&mut self) -> io::Result<()> {
        let Some(checkpoint) = &mut self.checkpoint else {
            return Ok(());
        };
        for position in self.unflushed.drain(..) {
            checkpoint.finish(position);
        }
        checkpoint.save()
    }

    /// Prints what still waits for an unfinished earlier target (after an interrupt), flushes,
    /// removes the progress bar and prints the summary, which counts `total` targets when the
    /// whole input was read. The checkpoint is removed when nothing is left to fetch.
    pub fn finish(mut self, interrupted: bool, total: Option<u64>) -> io::Result<Summary> {
        for (_, item) in std::mem::take(&mut self.waiting) {
            self.print(&item)?;
        }
        self.flush()?;
        if let Some(bar) = self.bar.take() {
            bar.bar().finish_and_clear();
        }
        if !interrupted && let Some(checkpoint) = self.checkpoint.take() {
            checkpoint.remove()?;
        }
        let mut summary = std::mem::replace(&mut self.summary, Summary::new());
        // Like a failure's line, the summary is lost alone if stderr cannot take it.
        let _ = io::stderr()
            .lock()
            .write_all(summary.render(interrupted, total).as_bytes());
        Ok(summary)
    }

    fn print(&mut self, item: &Item) -> io::Result<()> {
        self.block.clear();
        let failure = match item {
            Item::Outcome(_, outcome) => {
                self.render(outcome);
                let failed = outcome.result.as_ref().err();
                failed.map(|e| format!("{} error > {e}\n", outcome.final_target().input()))
            }
            Item::Bad(bad) => {
                if self.format.json {
                    render_bad_json(&mut self.block, bad);
                }
                Some(format!("{} error > {}\n", bad.place(), bad.message()))
            }
        };
        let block = std::mem::take(&mut self.block);
        let mut result = self.write_out(block.as_bytes());
        if let Some(line) = failure {
            // Failures go to stderr at once: they are few, and the user wants to see them.
            result = result.and_then(|()| self.write_err(line.as_bytes()));
        }
        self.block = block;
        if self.checkpoint.is_some() {
            self.unflushed.push(item.position());
        }
        result
    }

    fn render(&mut self, outcome: &Outcome) {
        if self.format.json {
            let following = self.format.follow;
            render_json(&mut self.block, outcome, self.format.interim, following);
        } else {
            for hop in &outcome.redirects {
                let host = hop.target.input();
                render_text(
                    &mut self.block,
                    host,
                    &hop.response,
                    None,
                    self.format.interim,
                );
            }
            let host = outcome.final_target().input();
            match &outcome.result {
                Ok(response) => {
                    let cert = outcome.cert.as_ref();
                    render_text(&mut self.block, host, response, cert, self.format.interim);
                }
                // What the server showed before the failure: an expired certificate's dates.
                Err(_) => {
                    if let Some(cert) = &outcome.cert {
                        render_cert(&mut self.block, host, cert);
                    }
                }
            }
        }
    }

    fn write_out(&mut self, bytes: &[u8]) -> io::Result<()> {
        let written = match &self.bar {
            // With a bar on the terminal, stdout may be that terminal too: write around it.
            Some(bar) => bar.bar().suspend(|| {
                self.out.write_all(bytes)?;
                self.out.flush()
            }),
            None => self.out.write_all(bytes),
        };
        written.map_err(stdout_error)
    }

    /// Writes a failure's line to stderr. Only a failure of stdout ends the run: a stderr that
    /// cannot be written (a full disk, a closed `2>` pipe) loses its own lines, never a head.
    fn write_err(&mut self, bytes: &[u8]) -> io::Result<()> {
        // Results written before this failure come out first, so the two streams interleave in
        // the order things happened when both go to one terminal.
        self.flush()?;
        let write = || io::stderr().lock().write_all(bytes);
        let _ = match &self.bar {
            Some(bar) => bar.bar().suspend(write),
            None => write(),
        };
        Ok(())
    }
}

impl Bar {
    fn bar(&self) -> &ProgressBar {
        match self {
            Bar::Count(bar) | Bar::Bytes(bar, _) => bar,
        }
    }
}

/// The progress display for an input of `extent`: finished against the count for arguments
/// (from [`PROGRESS_FROM`] on), bytes read against the size for files (an ETA without reading
/// the files twice), a count and a rate for stdin.
fn progress(extent: Extent) -> Option<Bar> {
    let style = |template| ProgressStyle::with_template(template).expect("a valid template");
    let target = ProgressDrawTarget::stderr();
    match extent {
        Extent::Count(total) if total >= PROGRESS_FROM => {
            let bar = ProgressBar::with_draw_target(Some(total as u64), target);
            bar.set_style(style("{bar:40} {pos}/{len} {per_sec} eta {eta}"));
            Some(Bar::Count(bar))
        }
        Extent::Count(_) => None,
        Extent::Bytes(read, total) => {
            let bar = ProgressBar::with_draw_target(Some(total), target);
            bar.set_style(style(
                "{bar:40} {bytes}/{total_bytes} read, {msg}, eta {eta}",
            ));
            Some(Bar::Bytes(bar, read))
        }
        Extent::Unknown => {
            let bar = ProgressBar::with_draw_target(None, target);
            bar.set_style(style("{spinner} {pos} done, {per_sec}"));
            Some(Bar::Count(bar))
        }
    }
}

/// The kind a line that is no target is counted under, in the summary and the JSON.
pub const BAD_TARGET: &str = "bad-target";

/// The `--json` line of a line that is no target: no target fields, where it is, the error.
fn render_bad_json(block: &mut String, bad: &BadLine) {
    #[derive(serde::Serialize)]
    struct Record<'a> {
        target: Option<&'a str>,
        input: &'a str,
        line: u64,
        status: Option<u16>,
        error: Error,
    }
    #[derive(serde::Serialize)]
    struct Error {
        kind: &'static str,
        message: String,
    }
    let record = Record {
        target: None,
        input: &bad.name,
        line: bad.line,
        status: None,
        error: Error {
            kind: BAD_TARGET,
            message: bad.message(),
        },
    };
    let json = serde_json::to_string(&record).expect("plain data serializes");
    block.push_str(&json);
    block.push('\n');
}

/// The classic format: `HOST header > LINE` for each line of the head, as received; for https,
/// first `HOST tls > TLSv1.3, alpn http/1.1` (`alpn none` when the server chose none), then the
/// certificate's line if there is one.
fn render_text(
    block: &mut String,
    host: &str,
    response: &Response,
    cert: Option<&Certificate>,
    interim: bool,
) {
    if let Some(tls) = &response.tls {
        let alpn = tls.alpn.unwrap_or("none");
        let _ = writeln!(block, "{host} tls > {}, alpn {alpn}", tls.version);
    }
    if let Some(cert) = cert {
        render_cert(block, host, cert);
    }
    let heads: &[Head] = if interim { &response.interim } else { &[] };
    for head in heads.iter().chain([&response.head]) {
        for line in &head.lines {
            let _ = writeln!(block, "{host} header > {line}");
        }
    }
}

/// `HOST cert > subject=CN=example.com; issuer=CN=R11, O=Let's Encrypt; names=example.com,
/// www.example.com; valid=2026-01-01T00:00:00Z..2026-04-01T00:00:00Z (30 days left);
/// sha256=HEX; chain=2`: fields split by `; ` (a name holds `, `), the server's text escaped.
fn render_cert(block: &mut String, host: &str, cert: &Certificate) {
    let text = |s: &str| support::escape_bytes(s.as_bytes());
    let names: Vec<String> = cert.sans.iter().map(|n| text(n)).collect();
    let _ = writeln!(
        block,
        "{host} cert > subject={}; issuer={}; names={}; valid={}..{} ({}); sha256={}; chain={}",
        text(&cert.subject),
        text(&cert.issuer),
        names.join(","),
        Certificate::rfc3339(cert.not_before),
        Certificate::rfc3339(cert.not_after),
        cert.time_left(),
        cert.sha256_hex(),
        cert.chain_len,
    );
}

fn render_json(block: &mut String, outcome: &Outcome, interim: bool, following: bool) {
    let record = JsonRecord::new(
        outcome,
        JsonOptions {
            interim,
            redirects: following,
        },
    );
    let json = serde_json::to_string(&record).expect("plain data serializes");
    block.push_str(&json);
    block.push('\n');
}

/// The counts the summary line reports.
#[derive(Debug)]
pub struct Summary {
    /// Heads with a 1xx, 2xx or 3xx status.
    pub ok: usize,
    /// Heads with a 4xx status.
    pub client_errors: usize,
    /// Heads with a 5xx status (or anything above).
    pub server_errors: usize,
    /// Failures by kind, in a stable order.
    pub errors: BTreeMap<&'static str, usize>,
    /// Each finished target's total time, for the percentiles.
    totals: Vec<Duration>,
    started: std::time::Instant,
}

impl Summary {
    fn new() -> Summary {
        Summary {
            ok: 0,
            client_errors: 0,
            server_errors: 0,
            errors: BTreeMap::new(),
            totals: Vec::new(),
            started: std::time::Instant::now(),
        }
    }

    fn count(&mut self, outcome: &Outcome) {
        self.totals.push(outcome.elapsed);
        let result: &Result<Response, FetchError> = &outcome.result;
        match result {
            Ok(r) if r.head.status < 400 => self.ok += 1,
            Ok(r) if r.head.status < 500 => self.client_errors += 1,
            Ok(_) => self.server_errors += 1,
            Err(e) => *self.errors.entry(e.kind()).or_default() += 1,
        }
    }

    /// Targets that failed (no head).
    pub fn failed(&self) -> usize {
        self.errors.values().sum()
    }

    /// Targets with an outcome, fetched or failed.
    pub fn finished(&self) -> usize {
        self.ok + self.client_errors + self.server_errors + self.failed()
    }

    /// The nearest-rank `p`th percentile of the targets' total times (`p` in 1..=100).
    fn percentile(sorted: &[Duration], p: usize) -> Option<Duration> {
        let rank = (sorted.len() * p).div_ceil(100);
        sorted.get(rank.max(1) - 1).copied()
    }

    /// `5 targets: 3 ok, 1 HTTP 4xx, 1 HTTP 5xx, 2 errors (1 refused, 1 timeout) in 1.20s
    /// (per target: p50 10.20ms, p99 1.01s)`, preceded by a line saying how many were left when
    /// interrupted (of the `total`, when the whole input had been read).
    fn render(&mut self, interrupted: bool, total: Option<u64>) -> String {
        let mut s = String::new();
        if interrupted {
            let _ = match total {
                Some(total) => {
                    let left = total.saturating_sub(self.finished() as u64);
                    writeln!(s, "interrupted: {left} of {total} targets not finished")
                }
                None => writeln!(s, "interrupted: the rest of the input not read"),
            };
        }
        let plural = |n: usize, word: &str| support::plural(n as u64, word);
        let _ = write!(s, "{}: {} ok", plural(self.finished(), "target"), self.ok);
        if self.client_errors > 0 {
            let _ = write!(s, ", {} HTTP 4xx", self.client_errors);
        }
        if self.server_errors > 0 {
            let _ = write!(s, ", {} HTTP 5xx", self.server_errors);
        }
        if self.failed() > 0 {
            let kinds: Vec<String> = self
                .errors
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            let _ = write!(
                s,
                ", {} ({})",
                plural(self.failed(), "error"),
                kinds.join(", ")
            );
        }
        let _ = write!(s, " in {:.2?}", self.started.elapsed());
        self.totals.sort_unstable();
        let p50 = Summary::percentile(&self.totals, 50);
        if let (Some(p50), Some(p99)) = (p50, Summary::percentile(&self.totals, 99)) {
            let _ = write!(s, " (per target: p50 {p50:.2?}, p99 {p99:.2?})");
        }
        s.push('\n');
        s
    }
}
