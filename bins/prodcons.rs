//! prodcons: the classic asyncio producer/consumer demo over tulip's bounded queue (crates/queue).
//!
//! Producers put items `1..=N` (printing `producing x/n`, sleeping a seeded random time before
//! each put), consumers take them (printing `consuming item x...`, then sleeping) until the queue
//! is shut down and drained. At the end every item must have been consumed exactly once.
//!
//! ```text
//! cargo run --bin prodcons
//! cargo run --release --bin prodcons -- --items 1000000 --producers 4 --consumers 4 \
//!     --capacity 64 --max-delay-ms 0 --quiet
//! ```

use std::cell::{Cell, RefCell};
use std::io::{self, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::{Duration, Instant};

use clap::builder::RangedU64ValueParser;
use clap::{Parser, ValueEnum};
use queue::{Fifo, Kind, Lifo, Priority, Queue, TryPutError};
use smol::{LocalExecutor, Timer};
use support::plural;

/// Producers and consumers over a bounded async queue (the asyncio.Queue demo).
#[derive(Parser, Debug)]
#[command(name = "prodcons", version, allow_negative_numbers = true)]
struct Args {
    /// Items to produce, numbered 1..=N.
    #[arg(long, default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u64).range(..=MAX_ITEMS))]
    items: u64,
    /// Producer tasks; the items are split between them in consecutive runs.
    #[arg(long, default_value_t = 1, value_name = "P", value_parser = task_count())]
    producers: usize,
    /// Consumer tasks.
    #[arg(long, default_value_t = 1, value_name = "C", value_parser = task_count())]
    consumers: usize,
    /// The most items the queue holds; producers wait while it is full.
    #[arg(long, default_value_t = 8, value_name = "K",
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    capacity: usize,
    /// Each producer sleeps up to this long before each put, each consumer after each get.
    #[arg(long, default_value_t = 150, value_name = "MS",
          value_parser = clap::value_parser!(u64).range(..=MAX_DELAY_MS))]
    max_delay_ms: u64,
    /// Seed of the random delays.
    #[arg(long, default_value_t = 0, value_name = "S")]
    seed: u64,
    /// The order the queue hands items out in.
    #[arg(long, value_enum, default_value_t = KindArg::Fifo)]
    kind: KindArg,
    /// Print only the summary.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum KindArg {
    /// First in, first out.
    Fifo,
    /// Last in, first out.
    Lifo,
    /// Lowest item first.
    Priority,
}

/// Bounded so that the exactly-once check (one bit per item) fits in memory.
const MAX_ITEMS: u64 = 1 << 32;

/// Each task is spawned up front (its handle kept in a list), so an absurd count would only
/// end in a failed allocation that aborts the process.
const MAX_TASKS: usize = 100_000;

/// `--producers` and `--consumers`: 1 to [`MAX_TASKS`].
fn task_count() -> RangedU64ValueParser<usize> {
    RangedU64ValueParser::new().range(1..=MAX_TASKS as u64)
}

/// A longer delay is no demo; a huge one would make the timer never fire and the run hang.
const MAX_DELAY_MS: u64 = 60_000;

/// What a run did.
struct Summary {
    produced: u64,
    consumed: u64,
    duplicates: u64,
    missing: u64,
    deepest: usize,
    full_waits: u64,
    elapsed: Duration,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let Some(seen) = Bitset::new(args.items) else {
        let _ = writeln!(
            io::stderr(),
            "error: not enough memory to check that {} items are each consumed once",
            args.items
        );
        return ExitCode::FAILURE;
    };
    let summary = match args.kind {
        KindArg::Fifo => run(&args, Queue::<u64, Fifo>::with_kind(args.capacity), seen),
        KindArg::Lifo => run(&args, Queue::<u64, Lifo>::with_kind(args.capacity), seen),
        KindArg::Priority => run(
            &args,
            Queue::<u64, Priority>::with_kind(args.capacity),
            seen,
        ),
    };
    if let Err(e) = print_summary(&args, &summary) {
        return ExitCode::from(support::exit_status(&support::stdout_error(e)));
    }
    if summary.duplicates > 0 || summary.missing > 0 {
        let _ = writeln!(
            io::stderr(),
            "error: {} items consumed more than once, {} never consumed",
            summary.duplicates,
            summary.missing
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// Runs the producers and consumers on one executor thread, so that with zero delays the
/// interleaving (and so the output) is the same on every run.
fn run<K: Kind<u64> + 'static>(args: &Args, queue: Queue<u64, K>, seen: Bitset) -> Summary {
    let ex = LocalExecutor::new();
    let quiet = args.quiet;
    let many = args.producers > 1 || args.consumers > 1;
    let mut rng = fastrand::Rng::with_seed(args.seed);
    let seen = Rc::new(RefCell::new(seen));
    let full_waits = Rc::new(Cell::new(0u64));
    let start = Instant::now();
    smol::block_on(ex.run(async {
        // Split 1..=items into consecutive runs, one per producer.
        let per = args.items / args.producers as u64;
        let extra = args.items % args.producers as u64;
        let mut next = 1;
        let producers: Vec<_> = (0..args.producers as u64)
            .map(|p| {
                let count = per + u64::from(p < extra);
                let items = next..next + count;
                next += count;
                let role = Role {
                    name: "producer",
                    index: p + 1,
                    many,
                    quiet,
                };
                let delays = Delays::new(rng.fork(), args.max_delay_ms);
                ex.spawn(produce(
                    queue.clone(),
                    items,
                    args.items,
                    role,
                    delays,
                    full_waits.clone(),
                ))
            })
            .collect();
        let consumers: Vec<_> = (0..args.consumers as u64)
            .map(|c| {
                let role = Role {
                    name: "consumer",
                    index: c + 1,
                    many,
                    quiet,
                };
                let delays = Delays::new(rng.fork(), args.max_delay_ms);
                ex.spawn(consume(queue.clone(), role, delays, seen.clone()))
            })
            .collect();
        let mut produced = 0;
        for p in producers {
            produced += p.await;
        }
        // Every item is in: consumers drain the rest, then their `get` fails and they stop.
        queue.shutdown();
        let mut consumed = 0;
        for c in consumers {
            consumed += c.await;
        }
        let seen = seen.borrow();
        Summary {
            produced,
            consumed,
            duplicates: seen.duplicates,
            missing: args.items - seen.distinct,
            deepest: queue.peak_len(),
            full_waits: full_waits.get(),
            elapsed: start.elapsed(),
        }
    }))
}

/// Who prints a line.
#[derive(Clone, Copy)]
struct Role {
    name: &'static str,
    index: u64,
    many: bool,
    quiet: bool,
}

impl Role {
    fn say(&self, line: std::fmt::Arguments<'_>) {
        if self.quiet {
            return;
        }
        // The classic demo's lines as they are with one producer and one consumer; with more, who says it.
        let written = if self.many {
            writeln!(io::stdout(), "{} {}: {line}", self.name, self.index)
        } else {
            writeln!(io::stdout(), "{line}")
        };
        // No one can see the rest of the run: end it here, from inside the task.
        if let Err(e) = written {
            std::process::exit(support::exit_status(&support::stdout_error(e)).into());
        }
    }
}

/// A task's seeded random delays.
struct Delays {
    rng: fastrand::Rng,
    max_ms: u64,
}

impl Delays {
    fn new(rng: fastrand::Rng, max_ms: u64) -> Self {
        Delays { rng, max_ms }
    }

    /// Simulates I/O: a timer of up to `max_ms`, or none when that is zero (so that a run
    /// without delays measures the queue, not the timers).
    fn sleep(&mut self) -> Option<Timer> {
        (self.max_ms > 0)
            .then(|| Timer::after(Duration::from_millis(self.rng.u64(0..=self.max_ms))))
    }
}

/// Puts `items`, counting the times the queue was full; returns how many were put.
async fn produce<K: Kind<u64>>(
    queue: Queue<u64, K>,
    items: std::ops::Range<u64>,
    total: u64,
    role: Role,
    mut delays: Delays,
    full_waits: Rc<Cell<u64>>,
) -> u64 {
    let mut produced = 0;
    for x in items {
        role.say(format_args!("producing {x}/{total}"));
        if let Some(timer) = delays.sleep() {
            timer.await;
        }
        // Try first so that a wait on a full queue can be counted.
        let put = match queue.try_put(x) {
            Ok(()) => Ok(()),
            Err(TryPutError::Full(x)) => {
                full_waits.set(full_waits.get() + 1);
                queue.put(x).await.map_err(|e| e.into_inner())
            }
            Err(TryPutError::ShutDown(x)) => Err(x),
        };
        match put {
            Ok(()) => produced += 1,
            // Only `main` shuts the queue down, after every producer finished.
            Err(x) => unreachable!("queue shut down while producing item {x}"),
        }
    }
    produced
}

/// Takes items until the queue is shut down and drained; returns how many it took.
async fn consume<K: Kind<u64>>(
    queue: Queue<u64, K>,
    role: Role,
    mut delays: Delays,
    seen: Rc<RefCell<Bitset>>,
) -> u64 {
    let mut consumed = 0;
    while let Ok(x) = queue.get().await {
        seen.borrow_mut().mark(x);
        consumed += 1;
        role.say(format_args!("consuming item {x}..."));
        if let Some(timer) = delays.sleep() {
            timer.await;
        }
    }
    consumed
}

/// Which items were consumed, one bit each, counting those seen twice.
struct Bitset {
    bits: Vec<u64>,
    distinct: u64,
    duplicates: u64,
}

impl Bitset {
    /// `None` if the memory for `items` bits cannot be had (up to 512 MiB for the most
    /// items allowed): a clear error rather than an aborted process.
    fn new(items: u64) -> Option<Self> {
        let words = usize::try_from(items.div_ceil(64)).ok()?;
        let mut bits = Vec::new();
        bits.try_reserve_exact(words).ok()?;
        bits.resize(words, 0);
        Some(Bitset {
            bits,
            distinct: 0,
            duplicates: 0,
        })
    }

    fn mark(&mut self, x: u64) {
        let i = x - 1;
        let (word, bit) = ((i / 64) as usize, 1u64 << (i % 64));
        if self.bits[word] & bit != 0 {
            self.duplicates += 1;
        } else {
            self.bits[word] |= bit;
            self.distinct += 1;
        }
    }
}

fn print_summary(args: &Args, s: &Summary) -> io::Result<()> {
    let secs = s.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        (s.consumed as f64 / secs) as u64
    } else {
        0
    };
    let kind = match args.kind {
        KindArg::Fifo => "fifo",
        KindArg::Lifo => "lifo",
        KindArg::Priority => "priority",
    };
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{kind} queue of capacity {}, {}, {}",
        args.capacity,
        plural(args.producers as u64, "producer"),
        plural(args.consumers as u64, "consumer")
    )?;
    writeln!(
        out,
        "produced {} items, consumed {}",
        s.produced, s.consumed
    )?;
    writeln!(out, "deepest queue: {} items", s.deepest)?;
    writeln!(
        out,
        "producers waited on a full queue: {}",
        plural(s.full_waits, "time")
    )?;
    writeln!(out, "elapsed: {:.3}ms, {rate} items/s", secs * 1000.0)?;
    out.flush()
}
