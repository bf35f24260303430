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

fn main() {
    let rounds = env_number("PINGPONG_ROUNDS", 200_000);
    let repeats = env_number("PINGPONG_REPEATS", 5).max(1);
    println!("socketpair ping-pong: {rounds} round trips per run, {repeats} interleaved runs");

    let mut lib = Vec::new();
    let mut bin = Vec::new();
    let mut tokio = Vec::new();
    let mut python = Vec::new();
    for run in 1..=repeats {
        lib.push(rate(
            rounds,
            fdwatch::pingpong::run(rounds).expect("fdwatch ping-pong"),
        ));
        bin.push(binary(rounds).expect("socketpair-reader --pingpong"));
        tokio.push(rate(
            rounds,
            tokio_pingpong(rounds).expect("tokio ping-pong"),
        ));
        let py = python_asyncio(rounds);
        print!(
            "  run {run}: fdwatch {:.0}/s, socketpair-reader {:.0}/s, tokio {:.0}/s",
            lib[lib.len() - 1],
            bin[bin.len() - 1],
            tokio[tokio.len() - 1]
        );
        match py {
            Some(p) => {
                python.push(p);
                println!(", asyncio {p:.0}/s");
            }
            None => println!(),
        }
    }

    println!();
    println!("{:<42} {:>12} {:>12}", "round trips/s", "best", "median");
    let row = |name: &str, rates: &[f64]| {
        println!("{name:<42} {:>12.0} {:>12.0}", best(rates), median(rates));
    };
    row("fdwatch EventLoop (in-process)", &lib);
    row("socketpair-reader --pingpong (release)", &bin);
    row("tokio UnixStream, current-thread", &tokio);
    if python.is_empty() {
        println!("python3 asyncio add_reader: skipped (python3 not found)");
    } else {
        row("python3 asyncio add_reader", &python);
    }
    println!();
    println!(
        "socketpair-reader / tokio:   best {:.2}x, median {:.2}x (goal: >= 1x)",
        best(&bin) / best(&tokio),
        median(&bin) / median(&tokio)
    );
    if !python.is_empty() {
        println!(
            "socketpair-reader / asyncio: best {:.2}x, median {:.2}x (goal: >= 2x)",
            best(&bin) / best(&python),
            median(&bin) / median(&python)
        );
    }
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

/// Runs the release binary and reads the rate from its summary line.
fn binary(rounds: u64) -> io::Result<f64> {
    let out = Command::new(env!("CARGO_BIN_EXE_socketpair-reader"))
        .args(["--pingpong", &rounds.to_string()])
        .output()?;
    parse_rate(&out.stdout).ok_or_else(|| {
        io::Error::other(format!(
            "unexpected output: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

/// Runs the asyncio script; `None` if python3 is not installed.
fn python_asyncio(rounds: u64) -> Option<f64> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/socketpair_asyncio.py");
    match Command::new("python3")
        .arg(script)
        .arg(rounds.to_string())
        .output()
    {
        Ok(out) => Some(parse_rate(&out.stdout).unwrap_or_else(|| {
            panic!(
                "unexpected output from {script}: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => panic!("cannot run python3: {e}"),
    }
}

/// The rate in a line `N round trips in Xs: R round trips/s`.
fn parse_rate(stdout: &[u8]) -> Option<f64> {
    let text = String::from_utf8_lossy(stdout);
    let (_, tail) = text.trim().rsplit_once(": ")?;
    tail.strip_suffix(" round trips/s")?.parse().ok()
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
