//! The prodcons workload side by side: tulip's queue, async-channel and flume (each bounded, on
//! one executor thread, then on an executor shared by two threads), then the `prodcons` release
//! binary and Python's asyncio.Queue (`benches/prodcons_asyncio.py`, skipped if `python3` is
//! missing).
//!
//! ```text
//! cargo bench --bench queue
//! ```
//!
//! Each in-process contender runs the workload `ROUNDS` times; the best rate is reported, since
//! the machine is shared and slower runs measure the neighbours.

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::time::Instant;

use smol::{Executor, LocalExecutor, Task};

const ITEMS: u64 = 1_000_000;
const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;
const CAPACITY: usize = 64;
const ROUNDS: usize = 5;

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

/// Items per second of one run on `threads` executor threads (a `LocalExecutor` for one).
fn run<C: Contender>(threads: usize) -> f64 {
    let start = Instant::now();
    let total = if threads == 1 {
        let ex = LocalExecutor::new();
        smol::block_on(ex.run(workload::<C>(|f| ex.spawn(f))))
    } else {
        let ex = Executor::new();
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        std::thread::scope(|s| {
            for _ in 1..threads {
                s.spawn(|| smol::block_on(ex.run(stopped.recv())));
            }
            let total = smol::block_on(ex.run(workload::<C>(|f| ex.spawn(f))));
            drop(stop);
            total
        })
    };
    // Every item arrived exactly once (the sum of 1..=ITEMS).
    assert_eq!(total, ITEMS * (ITEMS + 1) / 2);
    ITEMS as f64 / start.elapsed().as_secs_f64()
}

/// The best rate of `ROUNDS` runs.
fn best<C: Contender>(threads: usize) -> f64 {
    (0..ROUNDS).map(|_| run::<C>(threads)).fold(0.0, f64::max)
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

fn prodcons_binary() -> Option<f64> {
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
    for _ in 0..ROUNDS {
        let out = Command::new(env!("CARGO_BIN_EXE_prodcons"))
            .args(args)
            .output()
            .ok()?;
        rates.push(parse_rate(&String::from_utf8_lossy(&out.stdout))?);
    }
    rates.into_iter().reduce(f64::max)
}

fn python() -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/prodcons_asyncio.py");
    let out = Command::new("python3").arg(script).output().ok()?;
    if !out.status.success() {
        return None;
    }
    parse_rate(&String::from_utf8_lossy(&out.stdout))
}

/// Prints one executor setting's table; returns (ours, async-channel, flume).
fn table(threads: usize) -> (f64, f64, f64) {
    let ours = best::<Ours>(threads);
    let (ac, fl) = (best::<AsyncChannel>(threads), best::<Flume>(threads));
    let label = if threads == 1 {
        "1 thread".into()
    } else {
        format!("{threads} threads")
    };
    println!(
        "{:<34} {:>7.2}M items/s",
        format!("tulip queue, {label}"),
        ours / 1e6
    );
    for (name, r) in [("async-channel", ac), ("flume", fl)] {
        println!(
            "{:<34} {:>7.2}M items/s   tulip queue is {:.2}x",
            format!("{name}, {label}"),
            r / 1e6,
            ours / r
        );
    }
    (ours, ac, fl)
}

fn main() {
    println!(
        "{ITEMS} u64 items, {PRODUCERS} producers, {CONSUMERS} consumers, capacity {CAPACITY}; \
         best of {ROUNDS}"
    );
    let (ours, ac, fl) = table(1);
    table(2);
    let binary = prodcons_binary();
    match binary {
        Some(r) => println!(
            "{:<34} {:>7.2}M items/s   vs async-channel {:.2}x, vs flume {:.2}x (1 thread)",
            "prodcons binary",
            r / 1e6,
            r / ac,
            r / fl
        ),
        None => println!("{:<34} (did not run)", "prodcons binary"),
    }
    match python() {
        Some(py) => println!(
            "{:<34} {:>7.2}M items/s   tulip queue is {:.1}x, prodcons binary {}",
            "python asyncio.Queue",
            py / 1e6,
            ours / py,
            binary.map_or("-".into(), |b| format!("{:.1}x", b / py))
        ),
        None => println!(
            "{:<34} (skipped: python3 missing or failed)",
            "python asyncio.Queue"
        ),
    }
}
