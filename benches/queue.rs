//! The prodcons workload side by side: tulip's queue, async-channel and flume (each bounded, on
//! one executor thread, then on an executor shared by two threads), then the `prodcons` release
//! binary and Python's asyncio.Queue (`benches/prodcons_asyncio.py`, skipped if `python3` is
//! missing).
//!
//! ```text
//! cargo bench --bench queue
//! ```
//!
//! The in-process contenders run in interleaved rounds (one run of each per round, the order
//! rotated), so that a change in the machine's load hits them alike; the table gives each one's
//! median, lowest and highest rate, and the tulip queue's ratio to each as the median of the
//! rounds' ratios. Narrower runs:
//!
//! ```text
//! cargo bench --bench queue -- --rounds 31 --threads 2 --only tulip,async-channel --raw
//! ```

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::time::Instant;

use smol::{Executor, LocalExecutor, Task};

const ITEMS: u64 = 1_000_000;
const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;
const CAPACITY: usize = 64;
const ROUNDS: usize = 15;

type BoxFuture = Pin<Box<dyn Future<Output = u64> + Send>>;

/// What the workload needs of a bounded queue or channel: a sending and a receiving handle
/// (the same for our queue), so that a channel closes when every sender is gone.
trait Contender: 'static {
    type Tx: Clone + Send + 'static;
    type Rx: Clone + Send + 'static;
    fn new() -> (Self::Tx, Self::Rx);
    fn send(tx: &Self::Tx, x: u64) -> impl Future<Output = ()> + Send;
    /// `None` once closed (or shut down) and drained.
    fn recv(rx: &Self::Rx) -> impl Future<Output = Option<u64>> + Send;
    /// Called once every producer finished: lets the consumers stop after draining.
    fn finish(tx: Self::Tx, rx: Self::Rx);
}

struct Ours;

impl Contender for Ours {
    type Tx = queue::Queue<u64>;
    type Rx = queue::Queue<u64>;
    fn new() -> (Self::Tx, Self::Rx) {
        let q = queue::Queue::bounded(CAPACITY);
        (q.clone(), q)
    }
    async fn send(tx: &Self::Tx, x: u64) {
        tx.put(x).await.unwrap();
    }
    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.get().await.ok()
    }
    fn finish(tx: Self::Tx, _: Self::Rx) {
        tx.shutdown();
    }
}

struct AsyncChannel;

impl Contender for AsyncChannel {
    type Tx = async_channel::Sender<u64>;
    type Rx = async_channel::Receiver<u64>;
    fn new() -> (Self::Tx, Self::Rx) {
        async_channel::bounded(CAPACITY)
    }
    async fn send(tx: &Self::Tx, x: u64) {
        tx.send(x).await.unwrap();
    }
    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv().await.ok()
    }
    fn finish(_: Self::Tx, _: Self::Rx) {}
}

struct Flume;

impl Contender for Flume {
    type Tx = flume::Sender<u64>;
    type Rx = flume::Receiver<u64>;
    fn new() -> (Self::Tx, Self::Rx) {
        flume::bounded(CAPACITY)
    }
    async fn send(tx: &Self::Tx, x: u64) {
        tx.send_async(x).await.unwrap();
    }
    async fn recv(rx: &Self::Rx) -> Option<u64> {
        rx.recv_async().await.ok()
    }
    fn finish(_: Self::Tx, _: Self::Rx) {}
}

/// Producers send their runs of `1..=ITEMS`, consumers receive until the end; returns the sum
/// of what the consumers received.
async fn workload<C: Contender>(spawn: impl Fn(BoxFuture) -> Task<u64>) -> u64 {
    let (tx, rx) = C::new();
    let per = ITEMS / PRODUCERS;
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|p| {
            let tx = tx.clone();
            spawn(Box::pin(async move {
                for x in p * per + 1..=(p + 1) * per {
                    C::send(&tx, x).await;
                }
                0
            }))
        })
        .collect();
    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|_| {
            let rx = rx.clone();
            spawn(Box::pin(async move {
                let mut sum = 0;
                while let Some(x) = C::recv(&rx).await {
                    sum += x;
                }
                sum
            }))
        })
        .collect();
    for p in producers {
        p.await;
    }
    C::finish(tx, rx);
    let mut total = 0;
    for c in consumers {
        total += c.await;
    }
    total
}

/// What the threads of one run used, from `/proc/thread-self` (zero where it is missing).
#[derive(Clone, Copy, Default)]
struct Usage {
    /// Time on a CPU, ns.
    cpu: u64,
    /// Time runnable but waiting for a CPU (the machine's load, not the queue's doing), ns.
    wait: u64,
    /// Context switches, voluntary (the thread slept) and not.
    switches: u64,
}

impl Usage {
    fn now() -> Usage {
        let sched = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
        let mut f = sched.split(' ').map(|x| x.trim().parse().unwrap_or(0));
        let (cpu, wait) = (f.next().unwrap_or(0), f.next().unwrap_or(0));
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap_or_default();
        let switches = status
            .lines()
            .filter(|l| l.contains("ctxt_switches:"))
            .filter_map(|l| l.split(':').nth(1)?.trim().parse::<u64>().ok())
            .sum();
        Usage {
            cpu,
            wait,
            switches,
        }
    }

    /// What this thread used while `f` ran.
    fn of<R>(f: impl FnOnce() -> R) -> (R, Usage) {
        let start = Usage::now();
        let r = f();
        let end = Usage::now();
        let used = Usage {
            cpu: end.cpu - start.cpu,
            wait: end.wait - start.wait,
            switches: end.switches - start.switches,
        };
        (r, used)
    }

    fn add(self, o: Usage) -> Usage {
        Usage {
            cpu: self.cpu + o.cpu,
            wait: self.wait + o.wait,
            switches: self.switches + o.switches,
        }
    }
}

/// One run's figures.
#[derive(Clone, Copy)]
struct Run {
    /// Items per second of wall-clock time.
    rate: f64,
    used: Usage,
}

/// One run on `threads` executor threads (a `LocalExecutor` for one).
fn run<C: Contender>(threads: usize) -> Run {
    let start = Instant::now();
    let (total, used) = if threads == 1 {
        let ex = LocalExecutor::new();
        Usage::of(|| smol::block_on(ex.run(workload::<C>(|f| ex.spawn(f)))))
    } else {
        let ex = Executor::new();
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        std::thread::scope(|s| {
            let helpers: Vec<_> = (1..threads)
                .map(|_| s.spawn(|| Usage::of(|| smol::block_on(ex.run(stopped.recv()))).1))
                .collect();
            let (total, mut used) =
                Usage::of(|| smol::block_on(ex.run(workload::<C>(|f| ex.spawn(f)))));
            drop(stop);
            for h in helpers {
                used = used.add(h.join().unwrap());
            }
            (total, used)
        })
    };
    // Every item arrived exactly once (the sum of 1..=ITEMS).
    assert_eq!(total, ITEMS * (ITEMS + 1) / 2);
    Run {
        rate: ITEMS as f64 / start.elapsed().as_secs_f64(),
        used,
    }
}

/// The in-process contenders, by the names `--only` selects them with.
const NAMES: [&str; 3] = ["tulip", "async-channel", "flume"];

fn run_named(name: &str, threads: usize) -> Run {
    match name {
        "tulip" => run::<Ours>(threads),
        "async-channel" => run::<AsyncChannel>(threads),
        _ => run::<Flume>(threads),
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(0.0, f64::max)
}

/// Runs the selected contenders `rounds` times on `threads` threads, interleaved (one run of
/// each per round, the order rotated every round) so that a change in the machine's load hits
/// them alike; prints the table and returns each one's median rate.
fn table(threads: usize, a: &Args) -> Vec<(&'static str, f64)> {
    let names: Vec<&'static str> = NAMES
        .into_iter()
        .filter(|n| a.only.is_empty() || a.only.iter().any(|o| o == n))
        .collect();
    let mut runs = vec![Vec::new(); names.len()];
    for r in 0..a.rounds {
        for i in 0..names.len() {
            let k = (i + r) % names.len();
            runs[k].push(run_named(names[k], threads));
        }
    }
    let label = if threads == 1 {
        "1 thread".into()
    } else {
        format!("{threads} threads")
    };
    println!(
        "{label:<14} {:>8} {:>8} {:>8} {:>8} {:>9}   tulip/it: median of the rounds' ratios \
         (lowest, rounds below 1x)",
        "median", "min", "max", "cpu/item", "switches"
    );
    let ours = names.iter().position(|&n| n == "tulip");
    let rates: Vec<Vec<f64>> = runs
        .iter()
        .map(|rs| rs.iter().map(|r| r.rate).collect())
        .collect();
    for (k, name) in names.iter().enumerate() {
        let xs = &rates[k];
        let per_item = |f: fn(&Usage) -> u64| {
            median(
                &runs[k]
                    .iter()
                    .map(|r| f(&r.used) as f64 / ITEMS as f64)
                    .collect::<Vec<_>>(),
            )
        };
        let mut line = format!(
            "{name:<14} {:>7.2}M {:>7.2}M {:>7.2}M {:>6.0}ns {:>9.4}",
            median(xs) / 1e6,
            min(xs) / 1e6,
            max(xs) / 1e6,
            per_item(|u| u.cpu),
            per_item(|u| u.switches),
        );
        if let Some(o) = ours.filter(|&o| o != k) {
            let ratios: Vec<f64> = rates[o].iter().zip(xs).map(|(a, b)| a / b).collect();
            let below = ratios.iter().filter(|&&x| x < 1.0).count();
            line += &format!(
                "   {:.2}x ({:.2}x, {below}/{})",
                median(&ratios),
                min(&ratios),
                a.rounds
            );
        }
        println!("{line}");
        if a.raw {
            // Per round: M items/s, CPU ns per item, and the share of the run's thread time
            // spent runnable but waiting for a CPU (the machine's load).
            for r in &runs[k] {
                let u = r.used;
                println!(
                    "{:<14} {:>7.2}M {:>5.0}ns cpu, {:>3.0}% waiting for a cpu, {} switches",
                    "",
                    r.rate / 1e6,
                    u.cpu as f64 / ITEMS as f64,
                    100.0 * u.wait as f64 / (u.cpu + u.wait).max(1) as f64,
                    u.switches
                );
            }
        }
    }
    names
        .into_iter()
        .zip(rates.iter().map(|xs| median(xs)))
        .collect()
}

/// The last number before ` items/s` on a line of a command's output.
fn parse_rate(out: &str) -> Option<f64> {
    let line = out.lines().find(|l| l.ends_with(" items/s"))?;
    line.trim_end_matches(" items/s")
        .rsplit([' ', ','])
        .next()?
        .parse()
        .ok()
}

/// The median rate of `rounds` runs of the release binary.
fn prodcons_binary(rounds: usize) -> Option<f64> {
    let args = [
        "--items",
        "1000000",
        "--producers",
        "4",
        "--consumers",
        "4",
        "--capacity",
        "64",
        "--max-delay-ms",
        "0",
        "--quiet",
    ];
    let mut rates = Vec::new();
    for _ in 0..rounds {
        let out = Command::new(env!("CARGO_BIN_EXE_prodcons"))
            .args(args)
            .output()
            .ok()?;
        rates.push(parse_rate(&String::from_utf8_lossy(&out.stdout))?);
    }
    (!rates.is_empty()).then(|| median(&rates))
}

fn python() -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/prodcons_asyncio.py");
    let out = Command::new("python3").arg(script).output().ok()?;
    if !out.status.success() {
        return None;
    }
    parse_rate(&String::from_utf8_lossy(&out.stdout))
}

/// The command line: `--rounds N`, `--threads 1,2`, `--only tulip,async-channel` (in-process
/// contenders only: the binary and Python are then skipped), `--raw` (every round's rate).
struct Args {
    rounds: usize,
    threads: Vec<usize>,
    only: Vec<String>,
    raw: bool,
}

fn args() -> Args {
    let mut a = Args {
        rounds: ROUNDS,
        threads: vec![1, 2],
        only: Vec::new(),
        raw: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--rounds" => a.rounds = value().parse().expect("--rounds N"),
            "--threads" => {
                a.threads = value()
                    .split(',')
                    .map(|t| t.parse().expect("--threads 1,2"))
                    .collect()
            }
            "--only" => a.only = value().split(',').map(String::from).collect(),
            "--raw" => a.raw = true,
            // `cargo bench` passes it to every bench target.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn main() {
    let a = args();
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into());
    println!(
        "{ITEMS} u64 items, {PRODUCERS} producers, {CONSUMERS} consumers, capacity {CAPACITY}; \
         {} interleaved rounds; load average {load}",
        a.rounds
    );
    let mut one = Vec::new();
    for &t in &a.threads {
        let medians = table(t, &a);
        if t == 1 {
            one = medians;
        }
    }
    if !a.only.is_empty() || one.is_empty() {
        return;
    }
    let get = |n: &str| one.iter().find(|(m, _)| *m == n).map(|&(_, r)| r).unwrap();
    let (ours, ac, fl) = (get("tulip"), get("async-channel"), get("flume"));
    let binary = prodcons_binary(a.rounds);
    match binary {
        Some(r) => println!(
            "{:<16} {:>7.2}M median   vs async-channel {:.2}x, vs flume {:.2}x (1 thread medians)",
            "prodcons binary",
            r / 1e6,
            r / ac,
            r / fl
        ),
        None => println!("{:<16} (did not run)", "prodcons binary"),
    }
    match python() {
        Some(py) => println!(
            "{:<16} {:>7.2}M once     tulip queue is {:.1}x, prodcons binary {}",
            "python asyncio",
            py / 1e6,
            ours / py,
            binary.map_or("-".into(), |b| format!("{:.1}x", b / py))
        ),
        None => println!(
            "{:<16} (skipped: python3 missing or failed)",
            "python asyncio"
        ),
    }
}
