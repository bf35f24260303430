//! Everything fetch-headers prints, in one place: the `HOST header > LINE` blocks (with
//! a `HOST tls > VERSION, alpn PROTOCOL` line first for https, and one block per redirect hop
//! with -L, each under its own URL), the `HOST cert > ...` line of the server's certificate
//! (also when the fetch then failed), the `--json` lines, the `HOST error > MESSAGE` lines, the
//! summary with the median and 99th percentile of the time per target, and the order they come
//! out in.
//! Results go to stdout (batched: a host's block is one write, flushed whenever no other result
//! is ready); failures, the summary and the progress bar go to stderr.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{self, BufWriter, IsTerminal, StdoutLock, Write};
use std::time::Duration;

use headers::{Certificate, FetchError, Head, JsonOptions, JsonRecord, Outcome, Response};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use support::stdout_error;

use crate::cli::Order;

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

/// Prints outcomes as they arrive (or in input order) and counts them for the summary.
#[derive(Debug)]
pub struct Printer {
    format: Format,
    out: BufWriter<StdoutLock<'static>>,
    bar: Option<ProgressBar>,
    /// Finished outcomes waiting for an earlier one (input order only).
    waiting: BTreeMap<usize, Outcome>,
    next: usize,
    pub summary: Summary,
    block: String,
}

impl Printer {
    /// A printer for `total` targets; shows a progress bar if stderr is a terminal and there are
    /// many targets.
    pub fn new(format: Format, total: usize) -> Printer {
        let bar = (io::stderr().is_terminal() && total >= PROGRESS_FROM).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} {per_sec} eta {eta}")
                    .expect("a valid template"),
            );
            bar
        });
        Printer {
            format,
            out: BufWriter::with_capacity(64 * 1024, io::stdout().lock()),
            bar,
            waiting: BTreeMap::new(),
            next: 0,
            summary: Summary::new(total),
            block: String::new(),
        }
    }

    /// Takes one finished target: counts it and prints it now, or once all before it are
    /// printed (input order).
    pub fn push(&mut self, outcome: Outcome) -> io::Result<()> {
        self.summary.count(&outcome);
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        match self.format.order {
            Order::Completion => self.print(&outcome),
            Order::Input => {
                self.waiting.insert(outcome.index, outcome);
                while let Some(outcome) = self.waiting.remove(&self.next) {
                    self.next += 1;
                    self.print(&outcome)?;
                }
                Ok(())
            }
        }
    }

    /// Writes out what is buffered: called when no other result is ready, so output appears as
    /// hosts complete without a write per line when many complete at once.
    pub fn flush(&mut self) -> io::Result<()> {
        let flushed = match &self.bar {
            Some(bar) => bar.suspend(|| self.out.flush()),
            None => self.out.flush(),
        };
        flushed.map_err(stdout_error)
    }

    /// Prints what still waits for an unfinished earlier target (after an interrupt), flushes,
    /// removes the progress bar and prints the summary.
    pub fn finish(mut self, interrupted: bool) -> io::Result<Summary> {
        for (_, outcome) in std::mem::take(&mut self.waiting) {
            self.print(&outcome)?;
        }
        self.flush()?;
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let mut summary = std::mem::replace(&mut self.summary, Summary::new(0));
        // Like a failure's line, the summary is lost alone if stderr cannot take it.
        let _ = io::stderr()
            .lock()
            .write_all(summary.render(interrupted).as_bytes());
        Ok(summary)
    }

    fn print(&mut self, outcome: &Outcome) -> io::Result<()> {
        self.block.clear();
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
        let block = std::mem::take(&mut self.block);
        let mut result = self.write_out(block.as_bytes());
        if let Err(e) = &outcome.result {
            // Failures go to stderr at once: they are few, and the user wants to see them.
            let line = format!("{} error > {e}\n", outcome.final_target().input());
            result = result.and_then(|()| self.write_err(line.as_bytes()));
        }
        self.block = block;
        result
    }

    fn write_out(&mut self, bytes: &[u8]) -> io::Result<()> {
        let written = match &self.bar {
            // With a bar on the terminal, stdout may be that terminal too: write around it.
            Some(bar) => bar.suspend(|| {
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
            Some(bar) => bar.suspend(write),
            None => write(),
        };
        Ok(())
    }
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
    total: usize,
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
    fn new(total: usize) -> Summary {
        Summary {
            total,
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
    /// interrupted.
    fn render(&mut self, interrupted: bool) -> String {
        let mut s = String::new();
        if interrupted {
            let left = self.total - self.finished();
            let _ = writeln!(
                s,
                "interrupted: {left} of {} targets not finished",
                self.total
            );
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
