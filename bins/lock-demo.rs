//! lock-demo: the classic `asyncio.Lock` demo on lockstat's locks, and the contention report.
//!
//! With no arguments two tasks share one mutex: each says it waits, holds the lock for a second,
//! and releases it, and the report shows who waited and how long:
//!
//! ```text
//! cargo run --release --bin lock-demo
//! cargo run --release --bin lock-demo -- --tasks 100 --iterations 10000 --hold-ms 0 --quiet
//! cargo run --release --bin lock-demo -- --no-lock --tasks 3 --hold-ms 10
//! ```
//!
//! Everything runs on one thread (a `LocalExecutor`) and the holders sleep on a clock that
//! moves in steps (see `run_tasks`), so the printed order is the same on every run, however busy
//! the machine. Every holder awaits at least one yield point while holding, so the others
//! really contend.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use clap::{CommandFactory, Parser, ValueEnum, error::ErrorKind};
use futures_lite::future;
use smol::LocalExecutor;
use support::{plural, print};

/// Tasks sharing a lock: the classic asyncio.Lock demo, with a contention report.
#[derive(Parser, Debug)]
#[command(name = "lock-demo", version, allow_negative_numbers = true)]
#[command(after_help = "\
With --kind rwlock, tasks 1, 4, 7, ... take the write lock and the others the read lock.
With --no-lock, the tasks increment a shared counter across a yield point, first without the
lock (updates get lost), then with it.")]
struct Args {
    /// How many tasks share the lock.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=MAX_TASKS))]
    tasks: u32,

    /// How many times each task takes the lock.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    iterations: u32,

    /// How long each holder holds the lock, in milliseconds (0: across one yield point; at most
    /// a minute).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(..=60_000))]
    hold_ms: u64,

    /// Which lock the tasks share.
    #[arg(long, value_enum, default_value_t = Kind::Mutex)]
    kind: Kind,

    /// Permits of the semaphore (only with --kind semaphore) [default: 2].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    permits: Option<u32>,

    /// Print only the contention report.
    #[arg(long)]
    quiet: bool,

    /// Show the updates lost without the lock, then the same run with it.
    #[arg(long)]
    no_lock: bool,

    /// What the lock records: counts and sampled times, counts and every time, or nothing.
    #[arg(long, value_enum, default_value_t = Mode::Sampled)]
    recording: Mode,
}

/// `--recording`: lockstat's recording modes.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Exact counts; the first 256 acquisitions timed, then 1 in 8.
    Sampled,
    /// Exact counts and every acquisition timed.
    Every,
    /// Nothing recorded.
    Off,
}

/// The lock the tasks share.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// lockstat::Mutex.
    Mutex,
    /// lockstat::RwLock.
    Rwlock,
    /// lockstat::Semaphore.
    Semaphore,
}

/// One shared lock with the counter the tasks update under it.
#[allow(clippy::large_enum_variant, reason = "there is one, for the whole run")]
enum Shared {
    Mutex(lockstat::Mutex<u64>),
    RwLock(lockstat::RwLock<u64>),
    /// The semaphore guards no value itself, so the counter sits beside it.
    Semaphore(lockstat::Semaphore, Cell<u64>),
}

/// What the tasks share: the lock, the settings, and a watch on how many hold at once.
struct Demo {
    shared: Shared,
    tasks: u32,
    iterations: u32,
    hold: Duration,
    quiet: bool,
    permits: u32,
    /// The counter `--no-lock` updates without any lock.
    unlocked: Cell<u64>,
    holders: Cell<u32>,
    most_holders: Cell<u32>,
    /// The output buffer: lines are written to stdout in batches, not one syscall each.
    out: RefCell<String>,
    /// The holders' timers.
    clock: SteppedClock,
}

fn main() {
    let args = Args::parse();
    let permits = match (args.kind, args.permits) {
        (Kind::Semaphore, permits) => permits.unwrap_or(2),
        (_, Some(_)) => Args::command()
            .error(
                ErrorKind::ArgumentConflict,
                "--permits only applies to --kind semaphore",
            )
            .exit(),
        (_, None) => 0,
    };
    let recording = match args.recording {
        Mode::Sampled => lockstat::Recording::Sampled,
        Mode::Every => lockstat::Recording::Every,
        Mode::Off => lockstat::Recording::Off,
    };
    let shared = || match args.kind {
        Kind::Mutex => Shared::Mutex(lockstat::Mutex::with_recording(0, recording)),
        Kind::Rwlock => Shared::RwLock(lockstat::RwLock::with_recording(0, recording)),
        Kind::Semaphore => {
            let semaphore = lockstat::Semaphore::with_recording(permits as usize, recording);
            Shared::Semaphore(semaphore, Cell::new(0))
        }
    };
    let demo = |shared| Demo {
        shared,
        tasks: args.tasks,
        iterations: args.iterations,
        hold: Duration::from_millis(args.hold_ms),
        quiet: args.quiet,
        permits,
        unlocked: Cell::new(0),
        holders: Cell::new(0),
        most_holders: Cell::new(0),
        out: Default::default(),
        clock: SteppedClock::default(),
    };
    if args.no_lock {
        lost_updates(&demo(shared()), args.kind, permits);
    } else {
        let demo = demo(shared());
        run_tasks(&demo, take_turns);
        demo.flush();
        report(&demo);
    }
}

impl Demo {
    /// Adds one line of a task's story (unless quiet). Inlined, so that a quiet run (the
    /// benchmark) pays one branch per line.
    #[inline]
    fn say(&self, task: u32, what: std::fmt::Arguments<'_>) {
        if !self.quiet {
            self.write_line(task, what);
        }
    }

    #[inline(never)]
    fn write_line(&self, task: u32, what: std::fmt::Arguments<'_>) {
        let mut out = self.out.borrow_mut();
        let _ = writeln!(out, "coro {task}: {what}");
        if out.len() > 1 << 16 {
            drop(out);
            self.flush();
        }
    }

    /// Writes the buffered lines to stdout.
    fn flush(&self) {
        let mut out = self.out.borrow_mut();
        print(&out);
        out.clear();
    }

    /// Holds whatever the caller holds for the configured time, with at least one yield point.
    async fn hold(&self) {
        if self.hold.is_zero() {
            future::yield_now().await;
        } else {
            self.clock.sleep(self.hold.as_millis() as u64).await;
        }
    }

    /// Marks the start and end of a hold, keeping the most holders seen at once.
    fn enter(&self) {
        self.holders.set(self.holders.get() + 1);
        self.most_holders
            .set(self.most_holders.get().max(self.holders.get()));
    }

    fn leave(&self) {
        self.holders.set(self.holders.get() - 1);
    }
}

/// Runs `body` as one task per `--tasks` on a single-threaded executor, tasks numbered from 1
/// and spawned in order, until all of them are done.
///
/// The executor is driven by hand: run every task that can run, and when none can, advance the
/// holders' clock to the next deadline (sleeping that long for real) and wake the sleepers due
/// then, in the order they went to sleep. Holders that started holding in the same step wake in
/// the same step however busy the machine is, so the printed order never depends on timing.
fn run_tasks<'a, F, Fut>(demo: &'a Demo, body: F)
where
    F: Fn(&'a Demo, u32) -> Fut,
    Fut: Future<Output = ()> + 'a,
{
    let ex = LocalExecutor::new();
    let tasks: Vec<_> = (1..=demo.tasks).map(|n| ex.spawn(body(demo, n))).collect();
    if demo.hold.is_zero() {
        // Holders only yield: nothing sleeps, and the executor's own loop is the fastest.
        future::block_on(ex.run(async {
            for task in tasks {
                task.await;
            }
        }));
        return;
    }
    loop {
        // Run what can run. async-lock's readers, woken while a writer holds the lock, wake
        // each other in turn until it leaves: that would never stop on a clock that only moves
        // when nothing runs, so a step also ends after a number of polls fixed by the number of
        // tasks (far more than a step needs; fixed, so the run stays deterministic).
        let max_polls = 1000 + 100 * demo.tasks;
        let mut polls = 0;
        while polls < max_polls && ex.try_tick() {
            polls += 1;
        }
        if tasks.iter().all(|t| t.is_finished()) {
            return;
        }
        let Some(step) = demo.clock.next_step() else {
            assert!(polls == max_polls, "no task can run and none sleeps");
            continue;
        };
        std::thread::sleep(Duration::from_millis(step));
        demo.clock.advance(step);
    }
}

/// The holders' timers: a clock in milliseconds that only moves when [`run_tasks`] advances
/// it, with the sleepers in deadline order, then in the order they went to sleep.
#[derive(Default)]
struct SteppedClock {
    now: Cell<u64>,
    next_id: Cell<u64>,
    sleepers: RefCell<BTreeMap<(u64, u64), Waker>>,
}

impl SteppedClock {
    /// Sleeps for `ms` milliseconds of this clock (at least one yield point).
    fn sleep(&self, ms: u64) -> Sleep<'_> {
        let id = self.next_id.get();
        self.next_id.set(id + 1);
        Sleep {
            clock: self,
            key: (self.now.get() + ms, id),
        }
    }

    /// How far the earliest sleeper's deadline is.
    fn next_step(&self) -> Option<u64> {
        let sleepers = self.sleepers.borrow();
        let (&(deadline, _), _) = sleepers.first_key_value()?;
        Some(deadline - self.now.get())
    }

    /// Moves the clock `step` ms ahead and wakes the sleepers due, in order.
    fn advance(&self, step: u64) {
        let now = self.now.get() + step;
        self.now.set(now);
        let mut sleepers = self.sleepers.borrow_mut();
        while let Some(entry) = sleepers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
    }
}

/// The future of [`SteppedClock::sleep`].
struct Sleep<'a> {
    clock: &'a SteppedClock,
    key: (u64, u64),
}

impl Future for Sleep<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.clock.now.get() >= self.key.0 {
            return Poll::Ready(());
        }
        self.clock
            .sleepers
            .borrow_mut()
            .insert(self.key, cx.waker().clone());
        Poll::Pending
    }
}

/// One task of the demo: wait for the lock, hold it, release it; `--iterations` times.
/// The kind of lock is matched once, outside the loops, so the benchmark's loop (a quiet mutex)
/// is only the acquisition, the hold, and the increment.
async fn take_turns(demo: &Demo, n: u32) {
    match &demo.shared {
        Shared::Mutex(mutex) => {
            for _ in 0..demo.iterations {
                demo.say(n, format_args!("waiting for lock"));
                let mut value = mutex.lock().await;
                demo.enter();
                demo.say(n, format_args!("holding the lock"));
                demo.hold().await;
                *value += 1;
                demo.say(n, format_args!("releasing the lock"));
                demo.leave();
            }
        }
        Shared::RwLock(lock) if n % 3 == 1 => {
            for _ in 0..demo.iterations {
                demo.say(n, format_args!("waiting for the write lock"));
                let mut value = lock.write().await;
                demo.enter();
                demo.say(n, format_args!("holding the write lock"));
                demo.hold().await;
                *value += 1;
                demo.say(n, format_args!("releasing the write lock"));
                demo.leave();
            }
        }
        Shared::RwLock(lock) => {
            for _ in 0..demo.iterations {
                demo.say(n, format_args!("waiting for a read lock"));
                let value = lock.read().await;
                demo.enter();
                demo.say(n, format_args!("holding a read lock (value {})", *value));
                demo.hold().await;
                demo.say(n, format_args!("releasing the read lock"));
                demo.leave();
            }
        }
        Shared::Semaphore(semaphore, count) => {
            for _ in 0..demo.iterations {
                demo.say(n, format_args!("waiting for a permit"));
                let permit = semaphore.acquire().await;
                demo.enter();
                demo.say(n, format_args!("holding a permit"));
                demo.hold().await;
                count.set(count.get() + 1);
                demo.say(n, format_args!("releasing the permit"));
                demo.leave();
                drop(permit);
            }
        }
    }
}

/// Prints the most holders seen at once and the lock's contention report.
fn report(demo: &Demo) {
    print(&report_text(demo));
}

/// The text [`report`] prints.
fn report_text(demo: &Demo) -> String {
    let (name, limit, report) = match &demo.shared {
        Shared::Mutex(m) => ("mutex", "1".to_string(), m.report().to_string()),
        Shared::RwLock(l) => (
            "rwlock",
            "1 writer, or any number of readers".to_string(),
            l.report().to_string(),
        ),
        Shared::Semaphore(s, _) => (
            "semaphore",
            demo.permits.to_string(),
            s.report().to_string(),
        ),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: {} x {}, most holding at once: {} (allowed: {limit})",
        plural(demo.tasks, "task"),
        plural(demo.iterations, "iteration"),
        demo.most_holders.get()
    );
    let _ = writeln!(out, "{report}");
    out
}

/// Each task is a spawned future, so `--tasks` is kept to what fits in memory.
const MAX_TASKS: i64 = 1_000_000;

/// `--no-lock`: the tasks increment a counter across a yield point without the lock, then with
/// it, and the lost updates are counted.
fn lost_updates(demo: &Demo, kind: Kind, permits: u32) {
    let expected = u64::from(demo.tasks) * u64::from(demo.iterations);

    // Without the lock.
    if !demo.quiet {
        print("without a lock:\n");
    }
    run_tasks(demo, unlocked_increment);
    demo.flush();
    let without = demo.unlocked.get();

    // With the lock: the same read, yield, write, inside the critical section.
    if !demo.quiet {
        print(&format!("with the {}:\n", lock_name(kind, permits)));
    }
    run_tasks(demo, locked_increment);
    demo.flush();
    // The report first, so that reading the result is not counted as an acquisition.
    let report = report_text(demo);
    let with = match &demo.shared {
        Shared::Mutex(m) => *future::block_on(m.lock()),
        Shared::RwLock(l) => *future::block_on(l.read()),
        Shared::Semaphore(_, count) => count.get(),
    };

    print(&format!(
        "without a lock: {}\nwith the {}: {}\n{report}",
        tally(expected, without),
        lock_name(kind, permits),
        tally(expected, with)
    ));
}

/// One task of the `--no-lock` run's first half: every task reads, yields, and writes back what
/// it read plus one, so tasks that read the same value overwrite each other's increments.
async fn unlocked_increment(demo: &Demo, n: u32) {
    for _ in 0..demo.iterations {
        let seen = demo.unlocked.get();
        demo.say(n, format_args!("read counter {seen}"));
        demo.hold().await;
        demo.unlocked.set(seen + 1);
        demo.say(n, format_args!("wrote counter {}", seen + 1));
    }
}

/// One task of the `--no-lock` run's second half: increment across a yield point, holding the
/// lock (the write lock of an rwlock, a permit of a semaphore).
async fn locked_increment(demo: &Demo, n: u32) {
    for _ in 0..demo.iterations {
        // Each arm reads, holds across the yield, and writes back, like the unlocked run.
        let step = |seen: u64| {
            demo.say(n, format_args!("read counter {seen}"));
            seen
        };
        match &demo.shared {
            Shared::Mutex(m) => {
                let mut value = m.lock().await;
                demo.enter();
                let seen = step(*value);
                demo.hold().await;
                *value = seen + 1;
                demo.say(n, format_args!("wrote counter {}", seen + 1));
                demo.leave();
            }
            Shared::RwLock(l) => {
                let mut value = l.write().await;
                demo.enter();
                let seen = step(*value);
                demo.hold().await;
                *value = seen + 1;
                demo.say(n, format_args!("wrote counter {}", seen + 1));
                demo.leave();
            }
            Shared::Semaphore(s, count) => {
                let _permit = s.acquire().await;
                demo.enter();
                let seen = step(count.get());
                demo.hold().await;
                count.set(seen + 1);
                demo.say(n, format_args!("wrote counter {}", seen + 1));
                demo.leave();
            }
        }
    }
}

fn lock_name(kind: Kind, permits: u32) -> String {
    match kind {
        Kind::Mutex => "mutex".into(),
        Kind::Rwlock => "rwlock's write lock".into(),
        Kind::Semaphore if permits == 1 => "semaphore (1 permit)".into(),
        Kind::Semaphore => format!("semaphore ({permits} permits)"),
    }
}

/// `expected 6, got 2 (4 updates lost)`.
fn tally(expected: u64, got: u64) -> String {
    let lost = expected.saturating_sub(got);
    let lost = match lost {
        0 => "none lost".to_string(),
        1 => "1 update lost".to_string(),
        n => format!("{n} updates lost"),
    };
    format!("expected {expected}, got {got} ({lost})")
}
