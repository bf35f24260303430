//! The lock benchmark: one workload on every lock, side by side in one run.
//!
//! 100 tasks on one thread each take the lock 10,000 times and hold it across one yield point
//! (1,000,000 acquisitions, nearly all contended): lockstat's `Mutex` recording as by default
//! (counts exact, times sampled), timing every acquisition, and off,
//! a bare `async_lock::Mutex`, `tokio::sync::Mutex` on a current-thread runtime (for
//! reference), the `lock-demo` binary itself (`--tasks 100 --iterations 10000 --hold-ms 0
//! --quiet`, timed as a process), and Python's `asyncio.Lock` (benches/lock_asyncio.py, fewer
//! iterations; skipped without python3). The variants take turns for several rounds so that the
//! noise of a shared machine spreads over all of them; each is reported by its median round
//! (the ratios, which the goals are about) and its best.
//!
//! ```text
//! cargo bench --bench lock
//! ```

use std::process::Command;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future;
use lockstat::Recording;

const TASKS: u64 = 100;
const ITERATIONS: u64 = 10_000;
const ACQUISITIONS: u64 = TASKS * ITERATIONS;
/// Python does the same per task, fewer times (it is ~40x slower).
const PY_ITERATIONS: u64 = 2_000;
/// Odd, so that the median is one of the rounds; 15, because a 7-round median on a shared 2-core
/// machine still moves by about 6%, more than the 0.9x goal leaves room for.
const ROUNDS: usize = 15;

/// The workload on any lock with an async `lock()` whose guard derefs to a `u64`: spawn the
/// tasks on a `LocalExecutor`, run them all, check the count.
macro_rules! smol_workload {
    ($lock:expr) => {{
        let ex = smol::LocalExecutor::new();
        let lock = Rc::new($lock);
        let start = Instant::now();
        future::block_on(ex.run(async {
            let tasks: Vec<_> = (0..TASKS)
                .map(|_| {
                    let lock = lock.clone();
                    ex.spawn(async move {
                        for _ in 0..ITERATIONS {
                            let mut n = lock.lock().await;
                            future::yield_now().await;
                            *n += 1;
                        }
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
        }));
        let elapsed = start.elapsed();
        assert_eq!(*future::block_on(lock.lock()), ACQUISITIONS);
        elapsed
    }};
}

fn lockstat_on() -> Duration {
    smol_workload!(lockstat::Mutex::new(0u64))
}

fn lockstat_every() -> Duration {
    smol_workload!(lockstat::Mutex::with_recording(0u64, Recording::Every))
}

fn lockstat_off() -> Duration {
    smol_workload!(lockstat::Mutex::with_recording(0u64, Recording::Off))
}

fn bare() -> Duration {
    smol_workload!(async_lock::Mutex::new(0u64))
}

fn tokio_mutex() -> Duration {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let lock = Arc::new(tokio::sync::Mutex::new(0u64));
    let start = Instant::now();
    rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|_| {
                let lock = lock.clone();
                tokio::spawn(async move {
                    for _ in 0..ITERATIONS {
                        let mut n = lock.lock().await;
                        tokio::task::yield_now().await;
                        *n += 1;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("task");
        }
    });
    let elapsed = start.elapsed();
    assert_eq!(*lock.try_lock().expect("free"), ACQUISITIONS);
    elapsed
}

/// The `lock-demo` release binary on the same workload, timed as a whole process (its start-up
/// and the clock calibration included).
fn lock_demo() -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_lock-demo"))
        .args(["--tasks", "100", "--iterations", "10000", "--hold-ms", "0"])
        .arg("--quiet")
        .output()
        .expect("run lock-demo");
    let elapsed = start.elapsed();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("acquisitions   {ACQUISITIONS}\n")),
        "lock-demo failed: {stdout}"
    );
    elapsed
}

/// Python's asyncio.Lock: the script times itself; `None` if python3 is not there.
fn asyncio() -> Option<(u64, Duration)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/lock_asyncio.py");
    let out = Command::new("python3")
        .args([script, &TASKS.to_string(), &PY_ITERATIONS.to_string()])
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    // `acquisitions N seconds S`
    let words: Vec<&str> = stdout.split_whitespace().collect();
    match words[..] {
        ["acquisitions", n, "seconds", s] if out.status.success() => {
            Some((n.parse().ok()?, Duration::from_secs_f64(s.parse().ok()?)))
        }
        _ => {
            eprintln!("lock_asyncio.py failed: {stdout}");
            None
        }
    }
}

/// A named workload run that returns how long it took.
type Variant = (&'static str, fn() -> Duration);

fn rate(acquisitions: u64, elapsed: Duration) -> f64 {
    acquisitions as f64 / elapsed.as_secs_f64()
}

fn main() {
    // `cargo bench` passes `--bench`. `LOCK_BENCH_ONLY=N` runs only variant N (0-5) once, for
    // profiling.
    let variants: [Variant; 6] = [
        ("lockstat::Mutex, recording (sampled)", lockstat_on),
        ("lockstat::Mutex, recording every", lockstat_every),
        ("lockstat::Mutex, recording off", lockstat_off),
        ("async_lock::Mutex (bare)", bare),
        ("tokio::sync::Mutex, current-thread", tokio_mutex),
        ("lock-demo --quiet (whole process)", lock_demo),
    ];
    if let Some(only) = std::env::var("LOCK_BENCH_ONLY")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        let (name, run): Variant = variants[only];
        println!("{name}: {:.0}k/s", rate(ACQUISITIONS, run()) / 1e3);
        return;
    }
    println!(
        "{TASKS} tasks x {ITERATIONS} acquisitions, each held across one yield point; \
         median (best) of {ROUNDS} interleaved rounds"
    );
    let mut rates: [Vec<f64>; 6] = Default::default();
    for _ in 0..ROUNDS {
        for (i, (_, run)) in variants.iter().enumerate() {
            rates[i].push(rate(ACQUISITIONS, run()));
        }
    }
    let median = rates.clone().map(|mut r| {
        r.sort_by(f64::total_cmp);
        r[r.len() / 2]
    });
    let best = rates.map(|r| r.into_iter().fold(f64::MIN, f64::max));
    let mut python = None;
    for _ in 0..2 {
        if let Some((n, elapsed)) = asyncio() {
            let r = rate(n, elapsed);
            python = Some(python.map_or(r, |p: f64| p.max(r)));
        }
    }

    let (bare_median, bare_best) = (median[3], best[3]);
    for (((name, _), m), b) in variants.iter().zip(median).zip(best) {
        println!(
            "  {name:<36} {:>8.0}k acquisitions/s  {:>5.2}x bare  (best {:>6.0}k/s, {:.2}x)",
            m / 1e3,
            m / bare_median,
            b / 1e3,
            b / bare_best
        );
    }
    match python {
        Some(p) => println!(
            "  {:<36} {:>8.0}k acquisitions/s  {:>5.2}x bare  ({TASKS} x {PY_ITERATIONS}, best of 2)",
            "python3 asyncio.Lock",
            p / 1e3,
            p / bare_median
        ),
        None => println!("  python3 asyncio.Lock: skipped (no python3)"),
    }
    println!(
        "lock-demo: {:.2}x bare async_lock (goal >= 0.9x){}",
        median[5] / bare_median,
        python.map_or(String::new(), |p| format!(
            ", {:.0}x asyncio.Lock (goal >= 20x)",
            median[5] / p
        ))
    );
    println!(
        "lockstat::Mutex in-process: {:.2}x bare sampled (default), {:.2}x timing every \
         acquisition, {:.2}x off",
        median[0] / bare_median,
        median[1] / bare_median,
        median[2] / bare_median
    );
}
