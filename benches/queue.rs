//! The prodcons workload side by side: tulip's queue, async-channel and flume (each bounded, on
//! one executor thread), then the `prodcons` release binary and Python's asyncio.Queue
//! (`benches/prodcons_asyncio.py`, skipped if `python3` is missing).
//!
//! ```text
//! cargo bench --bench queue
//! ```
//!
//! Each in-process contender runs the workload `ROUNDS` times; the best rate is reported, since
//! the machine is shared and slower runs measure the neighbours.

use std::process::Command;
use std::time::{Duration, Instant};

use smol::LocalExecutor;

const ITEMS: u64 = 1_000_000;
const PRODUCERS: u64 = 4;
const CONSUMERS: u64 = 4;
const CAPACITY: usize = 64;
const ROUNDS: usize = 5;

/// Spawns the producers (each sending its run of `1..=ITEMS` with `send`) and the consumers
/// (each receiving with `recv` until it fails) on one `LocalExecutor`; `finish` runs after
/// every producer finished (closing or shutting down the queue). Returns the elapsed time.
macro_rules! workload {
    ($make:expr, |$s:ident, $x:ident| $send:expr, |$r:ident| $recv:expr, |$f:ident| $finish:expr) => {{
        let ex = LocalExecutor::new();
        let start = Instant::now();
        let total = smol::block_on(ex.run(async {
            let (tx, rx) = $make;
            let per = ITEMS / PRODUCERS;
            let producers: Vec<_> = (0..PRODUCERS)
                .map(|p| {
                    let $s = tx.clone();
                    ex.spawn(async move {
                        for $x in p * per + 1..=(p + 1) * per {
                            $send.unwrap();
                        }
                    })
                })
                .collect();
            let consumers: Vec<_> = (0..CONSUMERS)
                .map(|_| {
                    let $r = rx.clone();
                    ex.spawn(async move {
                        let mut sum = 0u64;
                        while let Ok(x) = $recv {
                            sum += x;
                        }
                        sum
                    })
                })
                .collect();
            for p in producers {
                p.await;
            }
            let $f = (tx, rx);
            $finish;
            let mut total = 0;
            for c in consumers {
                total += c.await;
            }
            total
        }));
        // Every item arrived exactly once (the sum of 1..=ITEMS).
        assert_eq!(total, ITEMS * (ITEMS + 1) / 2);
        start.elapsed()
    }};
}

fn ours() -> Duration {
    workload!(
        {
            let q = queue::Queue::<u64>::bounded(CAPACITY);
            (q.clone(), q)
        },
        |q, x| q.put(x).await,
        |q| q.get().await,
        |f| f.0.shutdown()
    )
}

fn async_channel() -> Duration {
    workload!(
        async_channel::bounded::<u64>(CAPACITY),
        |s, x| s.send(x).await,
        |r| r.recv().await,
        |f| drop(f)
    )
}

fn flume() -> Duration {
    workload!(
        flume::bounded::<u64>(CAPACITY),
        |s, x| s.send_async(x).await,
        |r| r.recv_async().await,
        |f| drop(f)
    )
}

fn rate(d: Duration) -> f64 {
    ITEMS as f64 / d.as_secs_f64()
}

/// The best rate of `ROUNDS` runs.
fn best(run: fn() -> Duration) -> f64 {
    (0..ROUNDS).map(|_| rate(run())).fold(0.0, f64::max)
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

fn main() {
    println!(
        "{ITEMS} u64 items, {PRODUCERS} producers, {CONSUMERS} consumers, capacity {CAPACITY}, \
         one executor thread; best of {ROUNDS}"
    );
    let ours = best(ours);
    let peers = [
        ("async-channel", best(async_channel)),
        ("flume", best(flume)),
    ];
    println!("{:<28} {:>7.2}M items/s", "tulip queue", ours / 1e6);
    for (name, r) in peers {
        println!(
            "{name:<28} {:>7.2}M items/s   tulip queue is {:.2}x",
            r / 1e6,
            ours / r
        );
    }
    let binary = prodcons_binary();
    match binary {
        Some(r) => println!(
            "{:<28} {:>7.2}M items/s   vs async-channel {:.2}x, vs flume {:.2}x",
            "prodcons binary",
            r / 1e6,
            r / peers[0].1,
            r / peers[1].1
        ),
        None => println!("{:<28} (did not run)", "prodcons binary"),
    }
    match python() {
        Some(py) => {
            println!(
                "{:<28} {:>7.2}M items/s   tulip queue is {:.1}x, prodcons binary {}",
                "python asyncio.Queue",
                py / 1e6,
                ours / py,
                binary.map_or("-".into(), |b| format!("{:.1}x", b / py))
            );
        }
        None => println!(
            "{:<28} (skipped: python3 missing or failed)",
            "python asyncio.Queue"
        ),
    }
}
