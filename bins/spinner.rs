//! spinner: the classic asyncio spinner example on `fdwatch`'s event loop. A spinner turns while
//! a slow job runs on another thread, and stops when the job hands its answer back.
//!
//! The spinner is a timer that re-arms itself (`call_later`); the job reports through
//! `LoopHandle::call_soon_threadsafe`, which cancels the spinner's next frame, so the loop has
//! nothing left to run and `run` returns. Frames go to stderr, and only when it is a terminal.
//!
//! ```text
//! cargo run --bin spinner
//! cargo run --bin spinner -- --seconds 1.5 --interval-ms 50
//! ```

use std::cell::Cell;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::{Parser, ValueEnum};
use fdwatch::{EventLoop, TimerHandle};

/// Turn a spinner on stderr while a slow job runs on another thread; print its answer.
#[derive(Debug, Parser)]
#[command(
    name = "spinner",
    version,
    allow_negative_numbers = true,
    after_help = "\
The job sleeps for --seconds on a thread of its own, then hands its answer (42) to the event loop,
which stops the spinner and prints `Answer: 42` with how many frames were drawn. The spinner is a
timer that re-arms itself every --interval-ms.

Examples:
  spinner
  spinner --seconds 1.5 --interval-ms 50
  spinner --frames never"
)]
struct Args {
    /// How long the slow job takes, in seconds (0 to 3600).
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = seconds)]
    seconds: Duration,

    /// Time between two frames of the spinner, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=10_000))]
    interval_ms: u64,

    /// When to draw the frames on stderr: only on a terminal (auto), always, or never.
    #[arg(long, value_name = "WHEN", default_value = "auto")]
    frames: Frames,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Frames {
    Auto,
    Always,
    Never,
}

/// Parses the job's duration: a number of seconds from 0 to an hour.
fn seconds(s: &str) -> Result<Duration, String> {
    match s.parse::<f64>() {
        Ok(secs) if (0.0..=3600.0).contains(&secs) => Ok(Duration::from_secs_f64(secs)),
        _ => Err("must be a number of seconds from 0 to 3600".to_string()),
    }
}

/// The spinner's frames, as the example draws them.
const FRAMES: [char; 4] = ['|', '/', '-', '\\'];
const MESSAGE: &str = "thinking!";

fn main() -> ExitCode {
    let args = Args::parse();
    let draw = match args.frames {
        Frames::Auto => io::stderr().is_terminal(),
        Frames::Always => true,
        Frames::Never => false,
    };
    match supervise(&args, draw) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader of our output went away: nothing is left to tell anyone.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the job and the spinner on one event loop, then prints the answer.
fn supervise(args: &Args, draw: bool) -> io::Result<()> {
    let mut ev = EventLoop::new()?;
    let start = Instant::now();
    let frames = Rc::new(Cell::new(0u64));
    // The spinner's next frame, for the job's report to cancel; shared with that report, which
    // is sent from the job's thread (it runs on the loop's thread, as every callback does).
    let next: Arc<Mutex<Option<TimerHandle>>> = Arc::default();
    let answer: Arc<Mutex<Option<u64>>> = Arc::default();

    // Start the spinner: its first frame on the loop's first turn.
    let interval = Duration::from_millis(args.interval_ms);
    let (count, slot) = (Rc::clone(&frames), Arc::clone(&next));
    ev.call_soon(move |ev| spin(ev, interval, draw, count, slot));

    // Start the slow job on its own thread; it reports back through the loop's handle, which it
    // drops when done, so that nothing is left to keep the loop running.
    let handle = ev.handle()?;
    let (slot, result) = (Arc::clone(&next), Arc::clone(&answer));
    let duration = args.seconds;
    let job = std::thread::spawn(move || {
        let answer = slow_function(duration);
        let report = handle.call_soon_threadsafe(move |ev| {
            // Stop the spinner: cancel its next frame and erase the line.
            if let Some(timer) = slot.lock().unwrap().take() {
                ev.cancel(timer);
            }
            if draw {
                let blank = " ".repeat(MESSAGE.len() + 2);
                let _ = write!(io::stderr(), "\r{blank}\r");
            }
            *result.lock().unwrap() = Some(answer);
        });
        // Only fails if the loop is gone, and then nobody waits for the answer.
        drop(report);
    });

    ev.run()?;
    job.join()
        .map_err(|_| io::Error::other("the job's thread panicked"))?;
    let answer = answer
        .lock()
        .unwrap()
        .ok_or_else(|| io::Error::other("the job ended without an answer"))?;
    let secs = start.elapsed().as_secs_f64();
    let n = frames.get();
    let plural = if n == 1 { "frame" } else { "frames" };
    writeln!(
        io::stdout(),
        "Answer: {answer} (after {secs:.2}s, {n} {plural} of the spinner)"
    )
    .map_err(|e| io::Error::new(e.kind(), format!("cannot write to stdout: {e}")))
}

/// Draws one frame, then schedules the next.
fn spin(
    ev: &mut EventLoop,
    interval: Duration,
    draw: bool,
    frames: Rc<Cell<u64>>,
    next: Arc<Mutex<Option<TimerHandle>>>,
) {
    let n = frames.get();
    if draw {
        // A frame that cannot be drawn is only lost: the job goes on.
        let mut err = io::stderr();
        let _ = write!(err, "\r{} {MESSAGE}", FRAMES[(n % 4) as usize]);
        let _ = err.flush();
    }
    frames.set(n + 1);
    let slot = Arc::clone(&next);
    let timer = ev.call_later(interval, move |ev| spin(ev, interval, draw, frames, slot));
    *next.lock().unwrap() = Some(timer);
}

/// The slow job: pretends to wait for I/O, then answers.
fn slow_function(duration: Duration) -> u64 {
    std::thread::sleep(duration);
    42
}
