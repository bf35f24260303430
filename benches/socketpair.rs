//! The socketpair ping-pong, side by side: fdwatch's event loop (in-process and as the
//! `socketpair-reader --pingpong` release binary), tokio's `UnixStream` on a current-thread
//! runtime, and Python asyncio's `add_reader` (benches/socketpair_asyncio.py).
//!
//! ```text
//! cargo bench --bench socketpair
//! PINGPONG_ROUNDS=200000 PINGPONG_REPEATS=3 cargo bench --bench socketpair
//! ```
//!
//! Each contender bounces one byte between the two ends of a socketpair N times, each end driven
//! by readiness. The runs are interleaved and repeated; the best rate of each is reported (the
//! machine is shared, so the best run is the one least disturbed), with the ratios.

use std::io;
use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let rounds = env_number("PINGPONG_ROUNDS", 200_000);
    let repeats = env_number("PINGPONG_REPEATS", 3).max(1);
    println!("socketpair ping-pong: {rounds} round trips, best of {repeats} runs each");

    let mut best = Best::default();
    for run in 1..=repeats {
        let lib = rate(
            rounds,
            fdwatch::pingpong::run(rounds).expect("fdwatch ping-pong"),
        );
        let bin = binary(rounds).expect("socketpair-reader --pingpong");
        let tokio = rate(rounds, tokio_pingpong(rounds).expect("tokio ping-pong"));
        let python = python(rounds);
        print!("  run {run}: fdwatch {lib:.0}/s, socketpair-reader {bin:.0}/s, tokio {tokio:.0}/s");
        match python {
            Some(p) => println!(", asyncio {p:.0}/s"),
            None => println!(),
        }
        best.lib = best.lib.max(lib);
        best.bin = best.bin.max(bin);
        best.tokio = best.tokio.max(tokio);
        best.python = python.map(|p| best.python.unwrap_or(0.0).max(p));
    }

    println!();
    println!("{:<44} {:>12}", "contender", "round trips/s");
    println!(
        "{:<44} {:>12.0}",
        "fdwatch EventLoop (in-process)", best.lib
    );
    println!(
        "{:<44} {:>12.0}",
        "socketpair-reader --pingpong (release)", best.bin
    );
    println!(
        "{:<44} {:>12.0}",
        "tokio UnixStream, current-thread", best.tokio
    );
    match best.python {
        Some(p) => println!("{:<44} {:>12.0}", "python3 asyncio add_reader", p),
        None => println!("python3 asyncio add_reader: skipped (python3 not found)"),
    }
    println!();
    println!(
        "socketpair-reader / tokio:   {:.2}x (goal: >= 1.0x)",
        best.bin / best.tokio
    );
    if let Some(p) = best.python {
        println!(
            "socketpair-reader / asyncio: {:.2}x (goal: >= 2.0x)",
            best.bin / p
        );
    }
}

#[derive(Default)]
struct Best {
    lib: f64,
    bin: f64,
    tokio: f64,
    python: Option<f64>,
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
fn python(rounds: u64) -> Option<f64> {
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
