//! Fetches N copies of one target at a concurrency C and prints the rate, the time taken and the
//! peak RSS: a quick way to see the library's speed without the CLI. With no target, it starts a
//! stub server that answers after 200 ms (the issue's "slow hosts" goal).
//!
//! ```text
//! cargo run --release -p headers --example many -- 1000 1000                 # stub, 200 ms
//! cargo run --release -p headers --example many -- 20000 256 127.0.0.1:8080  # e.g. nginx
//! ```

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use tulip_headers::{Many, Options, Target};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(1000, |a| a.parse().expect("N"));
    let concurrency: usize = args.next().map_or(1000, |a| a.parse().expect("C"));
    // Keep the stub alive for the run.
    let (_server, target) = match args.next() {
        Some(t) => (None, t),
        None => {
            let s = stub::Stub::start(stub::Behavior::Slow(Duration::from_millis(200))).unwrap();
            let t = s.target();
            (Some(s), t)
        }
    };
    let target: Target = target.parse().unwrap_or_else(|e| panic!("{e}"));
    let targets = vec![target; n];
    let start = Instant::now();
    let (ok, failed) = smol::block_on(async {
        let mut ok = 0;
        let mut failed = std::collections::BTreeMap::<String, usize>::new();
        let mut results = Many::new(&Options::default())
            .concurrency(concurrency)
            .fetch(targets);
        while let Some(f) = results.next().await {
            match f.result {
                Ok(_) => ok += 1,
                Err(e) => *failed.entry(e.to_string()).or_default() += 1,
            }
        }
        (ok, failed)
    });
    let took = start.elapsed();
    println!(
        "{n} targets, concurrency {concurrency}: {ok} ok, {failed:?} failed, {:.3} s, {:.0}/s, peak rss {:.1} MiB",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        peak_rss_kib() as f64 / 1024.0
    );
}

/// VmHWM from /proc/self/status (0 where unavailable).
fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
