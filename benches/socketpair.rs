//! The socketpair ping-pong, side by side: fdwatch's event loop (in-process and as the
//! `socketpair-reader --pingpong` release binary), tokio's `UnixStream` on a current-thread
//! runtime, and Python asyncio's `add_reader` (benches/socketpair_asyncio.py).
//!
//! ```text
//! cargo bench --bench socketpair
//! PINGPONG_ROUNDS=200000 PINGPONG_REPEATS=5 cargo bench --bench socketpair
//! ```
//!
//! Each contender bounces one byte between the two ends of a socketpair N times, each end driven
//! by readiness. The runs are interleaved and repeated; the best and the median rate of each are
//! reported (the machine is shared: the best run is the least disturbed one), with the ratios.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

// The binary's workload, run here in-process too.
#[path = "../bins/socketpair_reader/pingpong.rs"]
mod pingpong;

fn main() {
    let rounds = env_number("PINGPONG_ROUNDS", 200_000);
    let repeats = env_number("PINGPONG_REPEATS", 5).max(1);
    println!("socketpair ping-pong: {rounds} round trips per run, {repeats} interleaved runs");

    let mut lib = Contender::new("fdwatch EventLoop (in-process)");
    let mut bin = Contender::new("socketpair-reader --pingpong (release)");
    let mut tokio = Contender::new("tokio UnixStream, current-thread");
    let mut python = Contender::new("python3 asyncio add_reader");
    let mut have_python = true;
    for run in 1..=repeats {
        let cpu = thread_cpu();
        let wall = pingpong::run(rounds).expect("fdwatch ping-pong");
        lib.record(rounds, wall, since(cpu));

        let wall = binary(rounds).expect("socketpair-reader --pingpong");
        bin.record(rounds, wall, None);

        let cpu = thread_cpu();
        let wall = tokio_pingpong(rounds).expect("tokio ping-pong");
        tokio.record(rounds, wall, since(cpu));

        match python_asyncio(rounds) {
            Some((wall, cpu)) => python.record(rounds, wall, cpu),
            None => have_python = false,
        }
        println!(
            "  run {run}: fdwatch {:.0}/s, socketpair-reader {:.0}/s, tokio {:.0}/s{}",
            lib.last(),
            bin.last(),
            tokio.last(),
            if have_python {
                format!(", asyncio {:.0}/s", python.last())
            } else {
                String::new()
            }
        );
    }

    println!();
    println!(
        "{:<40} {:>10} {:>10} {:>10} {:>10}",
        "round trips/s", "best", "median", "cpu best", "cpu median"
    );
    lib.print();
    bin.print();
    tokio.print();
    if have_python {
        python.print();
    } else {
        println!("python3 asyncio add_reader: skipped (python3 not found)");
    }
    println!();
    println!(
        "(best / median over the runs of wall-clock rates; cpu: round trips per second of CPU"
    );
    println!(
        " time the contender's thread ran, which time-slicing on a busy machine does not skew)"
    );
    println!();
    ratio("socketpair-reader / tokio  ", &bin.wall, &tokio.wall, "1x");
    ratio("fdwatch / tokio, cpu       ", &lib.cpu, &tokio.cpu, "1x");
    if have_python {
        ratio("socketpair-reader / asyncio", &bin.wall, &python.wall, "2x");
        ratio("fdwatch / asyncio, cpu     ", &lib.cpu, &python.cpu, "2x");
    }
}

/// One contender's rates over the runs: wall-clock, and per CPU second where measurable.
struct Contender {
    name: &'static str,
    wall: Vec<f64>,
    cpu: Vec<f64>,
}

impl Contender {
    fn new(name: &'static str) -> Self {
        Contender {
            name,
            wall: Vec::new(),
            cpu: Vec::new(),
        }
    }

    fn record(&mut self, rounds: u64, wall: Duration, cpu: Option<Duration>) {
        self.wall.push(rate(rounds, wall));
        if let Some(cpu) = cpu {
            self.cpu.push(rate(rounds, cpu));
        }
    }

    fn last(&self) -> f64 {
        self.wall.last().copied().unwrap_or(0.0)
    }

    fn print(&self) {
        let cpu = |f: fn(&[f64]) -> f64| {
            if self.cpu.is_empty() {
                "-".to_string()
            } else {
                format!("{:.0}", f(&self.cpu))
            }
        };
        println!(
            "{:<40} {:>10.0} {:>10.0} {:>10} {:>10}",
            self.name,
            best(&self.wall),
            median(&self.wall),
            cpu(best),
            cpu(median)
        );
    }
}

fn ratio(label: &str, ours: &[f64], theirs: &[f64], goal: &str) {
    if ours.is_empty() || theirs.is_empty() {
        return;
    }
    println!(
        "{label}: best {:.2}x, median {:.2}x (goal: >= {goal})",
        best(ours) / best(theirs),
        median(ours) / median(theirs)
    );
}

/// CPU time this thread has run, from the scheduler's accounting (Linux); `None` elsewhere.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

fn since(start: Option<Duration>) -> Option<Duration> {
    Some(thread_cpu()? - start?)
}

fn best(rates: &[f64]) -> f64 {
    rates.iter().copied().fold(0.0, f64::max)
}

fn median(rates: &[f64]) -> f64 {
    let mut sorted = rates.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 1 {
        sorted[mid]
    } else {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

fn rate(rounds: u64, elapsed: Duration) -> f64 {
    rounds as f64 / elapsed.as_secs_f64().max(1e-9)
}

/// Runs the release binary and reads the elapsed time from its summary line.
fn binary(rounds: u64) -> io::Result<Duration> {
    let out = Command::new(env!("CARGO_BIN_EXE_socketpair-reader"))
        .args(["--pingpong", &rounds.to_string()])
        .output()?;
    parse_elapsed(&out.stdout).ok_or_else(|| {
        io::Error::other(format!(
            "unexpected output: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// Runs the asyncio script: its wall time and the CPU time it reports; `None` if python3 is not
/// installed.
fn python_asyncio(rounds: u64) -> Option<(Duration, Option<Duration>)> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/socketpair_asyncio.py");
    let out = match Command::new("python3")
        .arg(script)
        .arg(rounds.to_string())
        .output()
    {
        Ok(out) => out,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => panic!("cannot run python3: {e}"),
    };
    let wall = parse_elapsed(&out.stdout).unwrap_or_else(|| {
        panic!(
            "unexpected output from {script}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let cpu = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("cpu ")?.strip_suffix('s')?.parse().ok())
        .map(Duration::from_secs_f64);
    Some((wall, cpu))
}

/// The elapsed time in a line `N round trips in Xs: R round trips/s`.
fn parse_elapsed(stdout: &[u8]) -> Option<Duration> {
    let text = String::from_utf8_lossy(stdout);
    let line = text.lines().find(|l| l.ends_with(" round trips/s"))?;
    let (_, tail) = line.split_once(" round trips in ")?;
    let (secs, _) = tail.split_once("s: ")?;
    Some(Duration::from_secs_f64(secs.parse().ok()?))
}

/// The same ping-pong with tokio: an echo task on one end, the serving loop on the other.
fn tokio_pingpong(rounds: u64) -> io::Result<Duration> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    rt.block_on(async {
        let (mut ping, mut pong) = tokio::net::UnixStream::pair()?;
        let echo = tokio::spawn(async move {
            let mut buf = [0u8; 16];
            loop {
                let n = pong.read(&mut buf).await?;
                if n == 0 {
                    return io::Result::Ok(());
                }
                pong.write_all(&buf[..n]).await?;
            }
        });
        let mut buf = [0u8; 16];
        let start = Instant::now();
        for _ in 0..rounds {
            ping.write_all(b"!").await?;
            if ping.read(&mut buf).await? == 0 {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        let elapsed = start.elapsed();
        drop(ping);
        echo.await.map_err(io::Error::other)??;
        Ok(elapsed)
    })
}
