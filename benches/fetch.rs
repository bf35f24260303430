//! fetch-headers against its peers, side by side in one run, on loopback only.
//!
//! ```sh
//! cargo bench --bench fetch                 # all three parts, 3 rounds each
//! cargo bench --bench fetch -- nginx        # only (a); also: slow, tls, --runs 5, --targets 20000
//! cargo bench --bench fetch -- memory       # (d), only when asked: --memory-targets 2000000
//! ```
//!
//! (a) A real nginx on 127.0.0.1 (configured at run time in a temporary directory, on a free port,
//! one worker, serving a small static page) is fetched 20,000 times at concurrency 256, a new
//! connection each, by our release binary, by `wrk -c 256 -H 'Connection: close'`, by
//! `curl --parallel --parallel-max 256` and by the seed's asyncio fetcher (`benches/seed_fetch.py`).
//! The table gives each one's rate and our ratio to it.
//!
//! (b) 1,000 hosts that answer after 200 ms, fetched at concurrency 1,000, and 10,000 such hosts at
//! concurrency 10,000: wall time and peak RSS of our binary (peak RSS through GNU time). The slow
//! hosts are distinct loopback addresses (127.0.0.1, 127.0.0.2 ... 127.0.39.250) on one port,
//! served by crates/stub's `Hosts` (`Behavior::Slow`: the 200 ms count from when the request has
//! been read) in this same bench program re-executed as a separate process (see [`serve`]), so
//! the server's work never counts in the measured process. When one process could not hold every
//! listener plus its connection under the open-file limit, the hosts are split across several
//! server processes.
//!
//! (c) TLS heads from nginx on loopback (its certificate made at run time by a test CA, rcgen):
//! 5,000 targets at concurrency 128, a new connection (and handshake) each, by our release
//! binary (verifying with `--cacert`, and with `-k`) and by
//! `curl --parallel --parallel-max 128 -k`; `--tls-targets N` changes the count.
//!
//! (d) Memory for a long list from stdin (`memory`, not run by default: about two minutes): peak
//! RSS (GNU time's `%M`) of our binary fetching 20,000 and then 2,000,000 targets (`--memory-targets
//! N`) piped into `-i -` at concurrency 256 from nginx on loopback, against the goal of at most 64
//! MiB and within a few MiB of the small run. The list is written into the pipe as it is read,
//! never held by the bench. With `--baseline`, the baseline runs the small list too.
//!
//! A peer that is not installed is skipped with a line that says what to `apt-get install`.
//!
//! `--baseline PATH` adds another fetch-headers binary (an older build, say) as a contender in
//! every round of every part, run right after ours: the "no loss" check of a change is then the
//! ratio of ours to it, under the same load, interleaved.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};

use std::time::{Duration, Instant};
use stub::{Behavior, Nginx, Site};

/// Our binary, built with the bench profile (release settings) by `cargo bench`.
const OURS: &str = env!("CARGO_BIN_EXE_fetch-headers");

/// Set in the environment of a re-executed copy of this program that serves slow hosts:
/// `FIRST,COUNT,DELAY_MS,PORT` (hosts number FIRST.. FIRST+COUNT-1, see [`host_address`]).
const SERVE_ENV: &str = "TULIP_FETCH_BENCH_SERVE";

/// `--baseline PATH`: another fetch-headers binary run after ours in every round.
static BASELINE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Ours over the baseline within each round: the median of the per-round ratios.
fn baseline_ratio(rates: &Rates, ours: &str, baseline: &str) -> Option<f64> {
    let (ours, base) = (rates.get(ours)?, rates.get(baseline)?);
    let ratios: Vec<f64> = ours
        .iter()
        .filter_map(|(round, o)| Some(o / base.get(round)?))
        .collect();
    (!ratios.is_empty()).then(|| median(&ratios))
}

fn main() {
    if let Ok(spec) = std::env::var(SERVE_ENV) {
        serve(&spec);
        return;
    }
    let mut parts = Vec::new();
    let mut runs = 3;
    let mut targets = 20_000;
    let mut tls_targets = 5_000;
    let mut memory_targets = 2_000_000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // `cargo bench` passes `--bench` to every harness = false bench.
            "--bench" => {}
            "--runs" => runs = number(args.next(), "--runs"),
            "--targets" => targets = number(args.next(), "--targets"),
            "--tls-targets" => tls_targets = number(args.next(), "--tls-targets"),
            "--memory-targets" => memory_targets = number(args.next(), "--memory-targets"),
            "--baseline" => match args.next() {
                Some(path) if Path::new(&path).is_file() => {
                    let _ = BASELINE.set(path.into());
                }
                _ => {
                    eprintln!("--baseline needs the path of a fetch-headers binary");
                    std::process::exit(2);
                }
            },
            "nginx" | "slow" | "tls" | "memory" => parts.push(arg),
            other => {
                eprintln!(
                    "usage: fetch [nginx] [slow] [tls] [memory] [--runs N] [--targets N] [--tls-targets N] [--memory-targets N] [--baseline PATH] (got {other:?})"
                );
                std::process::exit(2);
            }
        }
    }
    if parts.is_empty() {
        parts = vec!["nginx".into(), "slow".into(), "tls".into()];
    }
    let scratch = Scratch::new();
    // Other work on the machine moves every figure; say how busy it was.
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
        println!("load average {} on {cores} cores", load.join(" "));
    }
    if parts.iter().any(|p| p == "nginx") {
        nginx_part(&scratch, targets, runs);
    }
    if parts.iter().any(|p| p == "slow") {
        slow_part(&scratch, runs);
    }
    if parts.iter().any(|p| p == "tls") {
        tls_part(&scratch, tls_targets, runs);
    }
    if parts.iter().any(|p| p == "memory") {
        memory_part(&scratch, memory_targets);
    }
}

fn number(arg: Option<String>, name: &str) -> usize {
    match arg.as_deref().map(str::parse) {
        Some(Ok(n)) if n > 0 => n,
        _ => {
            eprintln!("{name} needs a positive number");
            std::process::exit(2);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// (a) nginx on loopback: ours vs wrk vs curl vs asyncio.

fn nginx_part(scratch: &Scratch, targets: usize, runs: usize) {
    println!("(a) nginx on loopback: {targets} heads at concurrency 256, a new connection each");
    let Some(server) = plain_nginx() else {
        return;
    };
    let port = server.port();
    let mut fresh = Fresh::new(scratch, "nginx", targets, move |a| {
        format!("127.0.0.{a}:{port}")
    });

    let wrk = find_tool("wrk", &[]);
    let curl = find_tool("curl", &[]);
    let python = find_tool("python3", &[]);
    let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/seed_fetch.py");
    let wrk_threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    // Contender -> round -> rate.
    let mut rates: Rates = BTreeMap::new();
    // Rounds alternate the contenders so that noise from the other helpers' builds spreads
    // over all of them rather than landing on one.
    for round in 1..=runs {
        print!("  round {round}/{runs}:");
        std::io::stdout().flush().ok();
        let (list, _) = fresh.next();
        let ours = timed(Command::new(OURS).args(["-c", "256", "-i"]).arg(&list));
        record(&mut rates, round, "fetch-headers", targets, ours);
        if let Some(base) = BASELINE.get() {
            let (list, _) = fresh.next();
            let run = timed(Command::new(base).args(["-c", "256", "-i"]).arg(&list));
            record(&mut rates, round, "baseline", targets, run);
        }
        if let Some(wrk) = &wrk {
            let address = fresh.next_address();
            let out = Command::new(wrk)
                .arg(format!("-t{wrk_threads}"))
                .args(["-c256", "-d2s", "-H", "Connection: close"])
                .arg(format!("http://{address}/"))
                .output();
            match out.map(|o| wrk_rate(&String::from_utf8_lossy(&o.stdout))) {
                Ok(Ok(rate)) => {
                    rates.entry("wrk").or_default().insert(round, rate);
                }
                Ok(Err(e)) => println!("  wrk: {e}"),
                Err(e) => println!("  wrk did not run: {e}"),
            }
        }
        if let Some(curl) = &curl {
            let (_, curl_config) = fresh.next();
            let run = timed(
                Command::new(curl)
                    .args(["-s", "--parallel", "--parallel-max", "256"])
                    .args(["-H", "Connection: close", "-K"])
                    .arg(&curl_config),
            );
            record(&mut rates, round, "curl --parallel", targets, run);
        }
        if let Some(python) = &python {
            let (list, _) = fresh.next();
            let run = timed(
                Command::new(python)
                    .arg(&seed)
                    .args(["-c", "256", "-i"])
                    .arg(&list),
            );
            record(&mut rates, round, "asyncio (seed)", targets, run);
        }
        println!(" done");
    }
    drop(server);

    let best = |name: &str| {
        let rates = rates.get(name)?.values();
        rates.cloned().reduce(f64::max)
    };
    let median_rate = |name: &str| {
        Some(median(
            &rates.get(name)?.values().cloned().collect::<Vec<_>>(),
        ))
    };
    // Ours over the peer within each round (the two ran back to back, under the same load).
    let round_ratio = |name: &str| {
        let (ours, peer) = (rates.get("fetch-headers")?, rates.get(name)?);
        let ratios: Vec<f64> = ours
            .iter()
            .filter_map(|(round, o)| Some(o / peer.get(round)?))
            .collect();
        (!ratios.is_empty()).then(|| median(&ratios))
    };
    println!(
        "  {:<16} {:>12} {:>12}   ours/peer: median of rounds, best/best   goal",
        "", "best", "median"
    );
    let ours = best("fetch-headers");
    for (name, goal) in [
        ("fetch-headers", None),
        ("wrk", Some(1.0)),
        ("curl --parallel", Some(1.7)),
        ("asyncio (seed)", Some(3.0)),
    ] {
        let (Some(b), Some(m)) = (best(name), median_rate(name)) else {
            let package = match name {
                "wrk" => "wrk",
                "curl --parallel" => "curl",
                "asyncio (seed)" => "python3",
                _ => "(build failed?)",
            };
            println!("  {name:<16} skipped: not installed (apt-get install {package})");
            continue;
        };
        let mut line = format!("  {name:<16} {b:>10.0}/s {m:>10.0}/s");
        if let (Some(goal), Some(ours), Some(ratio)) = (goal, ours, round_ratio(name)) {
            let verdict = if ratio >= goal { "met" } else { "MISSED" };
            let best_ratio = ours / b;
            write!(
                line,
                "   {ratio:>6.2}x, {best_ratio:>5.2}x                 >= {goal}x {verdict}"
            )
            .unwrap();
        }
        println!("{line}");
    }
    if let (Some(b), Some(m), Some(r)) = (
        best("baseline"),
        median_rate("baseline"),
        baseline_ratio(&rates, "fetch-headers", "baseline"),
    ) {
        println!(
            "  {:<16} {b:>10.0}/s {m:>10.0}/s   ours/baseline {r:.3}x",
            "baseline"
        );
    }
    println!(
        "  (wrk -t{wrk_threads} runs for 2 s per round; the others fetch the {targets} targets once)"
    );
}

// ---------------------------------------------------------------------------------------------
// (d) Memory: a long list from stdin.

fn memory_part(scratch: &Scratch, large: usize) {
    const SMALL: usize = 20_000;
    const GOAL_MIB: f64 = 64.0;
    println!("(d) peak RSS for targets piped into -i - at concurrency 256, nginx on loopback");
    let Some(time) = gnu_time() else {
        println!("  skipped: GNU time is not installed (apt-get install time)");
        return;
    };
    let Some(server) = plain_nginx() else {
        return;
    };
    let line = format!("127.0.0.1:{}\n", server.port());
    let mut contenders = vec![("fetch-headers", PathBuf::from(OURS), vec![SMALL, large])];
    if let Some(base) = BASELINE.get() {
        contenders.push(("baseline", base.clone(), vec![SMALL]));
    }
    let mut ours = BTreeMap::new();
    for (name, binary, counts) in contenders {
        for count in counts {
            let rss_file = scratch.path.join("memory-rss.txt");
            let start = Instant::now();
            let child = Command::new(&time)
                .args(["-f", "%M", "-o"])
                .arg(&rss_file)
                .arg(&binary)
                .args(["-c", "256", "-i", "-"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn();
            let mut child = match child {
                Ok(child) => child,
                Err(e) => {
                    println!("  {name}: did not run: {e}");
                    continue;
                }
            };
            let mut stdin = child.stdin.take().expect("piped stdin");
            let line = line.clone();
            // Written as fast as the binary reads, in 64 KiB pieces: the pipe is the buffer.
            let writer = std::thread::spawn(move || {
                let per_chunk = (64 * 1024 / line.len()).max(1);
                let chunk = line.repeat(per_chunk);
                let mut left = count;
                while left > 0 {
                    let n = left.min(per_chunk);
                    if stdin
                        .write_all(&chunk.as_bytes()[..n * line.len()])
                        .is_err()
                    {
                        return;
                    }
                    left -= n;
                }
            });
            let output = child.wait_with_output();
            let wall = start.elapsed();
            let _ = writer.join();
            let rss_kib: Option<f64> = std::fs::read_to_string(&rss_file)
                .ok()
                .and_then(|t| t.lines().last()?.trim().parse().ok());
            let summary = output
                .as_ref()
                .map(|o| {
                    let text = String::from_utf8_lossy(&o.stderr);
                    text.lines().last().unwrap_or_default().to_owned()
                })
                .unwrap_or_else(|e| e.to_string());
            let Some(kib) = rss_kib else {
                println!("  {name} {count}: no peak RSS measured ({summary})");
                continue;
            };
            let mib = kib / 1024.0;
            let rate = count as f64 / wall.as_secs_f64();
            println!(
                "  {name:<14} {count:>9} targets: peak RSS {mib:>6.1} MiB, {rate:>7.0}/s  ({summary})"
            );
            if name == "fetch-headers" {
                ours.insert(count, mib);
            }
        }
    }
    if let (Some(small), Some(big)) = (ours.get(&SMALL), ours.get(&large)) {
        let verdict = if *big <= GOAL_MIB { "met" } else { "MISSED" };
        println!(
            "  {large} targets: {big:.1} MiB (goal <= {GOAL_MIB} MiB: {verdict}), {:+.1} MiB over {SMALL}",
            big - small
        );
    }
}

/// GNU time (it must understand -f and -o), not a shell builtin or BSD time.
fn gnu_time() -> Option<PathBuf> {
    find_tool("time", &["/usr/bin/time"]).filter(|t| {
        Command::new(t)
            .args(["-f", "%M", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

// ---------------------------------------------------------------------------------------------
// (c) TLS: ours vs curl --parallel -k, against nginx serving TLS on loopback.

fn tls_part(scratch: &Scratch, targets: usize, runs: usize) {
    const CONCURRENCY: &str = "128";
    println!(
        "(c) nginx over TLS on loopback: {targets} heads at concurrency {CONCURRENCY}, a new connection and handshake each"
    );
    let Some(nginx) = Nginx::find() else {
        println!("  skipped: nginx is not installed (apt-get install nginx-light)");
        return;
    };
    let names: Vec<String> = (1..=ADDRESSES)
        .map(|a| format!("127.0.0.{a}"))
        .chain(["localhost".to_owned()])
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let made = stub::TestCa::new("tulip bench CA").and_then(|ca| Ok((ca.issue(&names)?, ca)));
    let (identity, ca) = match made {
        Ok(made) => made,
        Err(e) => {
            println!("  skipped: no certificate: {e}");
            return;
        }
    };
    let site = Site::tls(identity.cert_pem(), identity.key_pem());
    let server = match site.and_then(|site| bench_nginx(nginx, site)) {
        Ok(server) => server,
        Err(e) => {
            println!("  skipped: nginx did not start: {e}");
            return;
        }
    };
    let port = server.port();
    let cacert = scratch.path.join("tls-ca.pem");
    std::fs::write(&cacert, ca.pem()).unwrap();
    let mut fresh = Fresh::new(scratch, "tls", targets, move |a| {
        format!("https://127.0.0.{a}:{port}/")
    });
    let curl = find_tool("curl", &[]);

    let mut rates: Rates = BTreeMap::new();
    for round in 1..=runs {
        print!("  round {round}/{runs}:");
        std::io::stdout().flush().ok();
        let (list, _) = fresh.next();
        let verified = timed(
            Command::new(OURS)
                .args(["-c", CONCURRENCY, "--cacert"])
                .arg(&cacert)
                .arg("-i")
                .arg(&list),
        );
        record(&mut rates, round, "fetch-headers", targets, verified);
        let (list, _) = fresh.next();
        let insecure = timed(
            Command::new(OURS)
                .args(["-c", CONCURRENCY, "-k", "-i"])
                .arg(&list),
        );
        record(&mut rates, round, "fetch-headers -k", targets, insecure);
        if let Some(base) = BASELINE.get() {
            let (list, _) = fresh.next();
            let run = timed(
                Command::new(base)
                    .args(["-c", CONCURRENCY, "--cacert"])
                    .arg(&cacert)
                    .arg("-i")
                    .arg(&list),
            );
            record(&mut rates, round, "baseline", targets, run);
        }
        if let Some(curl) = &curl {
            let (_, curl_config) = fresh.next();
            let run = timed(
                Command::new(curl)
                    .args(["-s", "-k", "--parallel", "--parallel-max", CONCURRENCY])
                    .args(["-H", "Connection: close", "-K"])
                    .arg(&curl_config),
            );
            record(&mut rates, round, "curl --parallel -k", targets, run);
        }
        println!(" done");
    }
    drop(server);

    let ratios = |ours: &str| {
        let (ours, peer) = (rates.get(ours)?, rates.get("curl --parallel -k")?);
        let r: Vec<f64> = ours
            .iter()
            .filter_map(|(round, o)| Some(o / peer.get(round)?))
            .collect();
        (!r.is_empty()).then(|| median(&r))
    };
    println!(
        "  {:<20} {:>12} {:>12}   vs curl -k: median of rounds   goal",
        "", "best", "median"
    );
    for name in ["fetch-headers", "fetch-headers -k", "curl --parallel -k"] {
        let Some(round_rates) = rates.get(name) else {
            let why = if name.starts_with("curl") {
                "not installed (apt-get install curl)"
            } else {
                "failed"
            };
            println!("  {name:<20} skipped: {why}");
            continue;
        };
        let values: Vec<f64> = round_rates.values().cloned().collect();
        let best = values.iter().cloned().fold(0.0, f64::max);
        let mut line = format!("  {name:<20} {best:>10.0}/s {:>10.0}/s", median(&values));
        if let Some(ratio) = ratios(name).filter(|_| name.starts_with("fetch-headers")) {
            let verdict = if ratio >= 1.5 { "met" } else { "MISSED" };
            write!(
                line,
                "   {ratio:>6.2}x                        >= 1.5x {verdict}"
            )
            .unwrap();
        }
        println!("{line}");
    }
    if let Some(r) = baseline_ratio(&rates, "fetch-headers", "baseline") {
        let values: Vec<f64> = rates["baseline"].values().cloned().collect();
        let best = values.iter().cloned().fold(0.0, f64::max);
        println!(
            "  {:<20} {best:>10.0}/s {:>10.0}/s   ours/baseline (--cacert) {r:.3}x",
            "baseline",
            median(&values)
        );
    }
    println!("  (fetch-headers verifies the certificate with --cacert; -k and curl -k do not)");
}

/// Parses `Requests/sec:  20829.95` from wrk's report, refusing a run with socket errors other
/// than the reads that `Connection: close` makes wrk count.
fn wrk_rate(report: &str) -> Result<f64, String> {
    if let Some(line) = report.lines().find(|l| l.contains("Non-2xx")) {
        return Err(format!("bad responses: {}", line.trim()));
    }
    report
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("no rate in wrk's report: {report}"))
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

type Rates = BTreeMap<&'static str, BTreeMap<usize, f64>>;

fn record(rates: &mut Rates, round: usize, name: &'static str, n: usize, run: Run) {
    match run.status {
        // Ours (and the baseline) must have fetched every head: the summary says so.
        Ok(status)
            if status.success()
                && (!(name.starts_with("fetch-headers") || name == "baseline")
                    || run.all_ok(n)) =>
        {
            let rate = n as f64 / run.wall.as_secs_f64();
            rates.entry(name).or_default().insert(round, rate);
        }
        Ok(status) => println!("\n  {name} failed ({status}): {}", run.stderr_tail()),
        Err(e) => println!("\n  {name} did not run: {e}"),
    }
}

/// nginx serving the bench's page over plain http, or `None` after a line saying why the part
/// is skipped.
fn plain_nginx() -> Option<Nginx> {
    let Some(nginx) = Nginx::find() else {
        println!("  skipped: nginx is not installed (apt-get install nginx-light)");
        return None;
    };
    match Site::plain().and_then(|site| bench_nginx(nginx, site)) {
        Ok(server) => Some(server),
        Err(e) => {
            println!("  skipped: nginx did not start: {e}");
            None
        }
    }
}

/// The loopback addresses nginx listens on (127.0.0.1 ... 127.0.0.ADDRESSES), one per run of a
/// contender in turn: a client that closes first leaves its ports in TIME_WAIT for a minute, about
/// 28,000 per destination address, and a run must not start short of ports the run before it took.
const ADDRESSES: u8 = 64;

/// Target lists (and curl configurations) for each address in turn.
struct Fresh<F> {
    dir: PathBuf,
    tag: &'static str,
    targets: usize,
    target: F,
    next: u8,
}

impl<F: Fn(u8) -> String> Fresh<F> {
    fn new(scratch: &Scratch, tag: &'static str, targets: usize, target: F) -> Fresh<F> {
        Fresh {
            dir: scratch.path.clone(),
            tag,
            targets,
            target,
            next: 0,
        }
    }

    /// The next address's `host:port` (or URL), its lists not written.
    fn next_address(&mut self) -> String {
        self.next = self.next % ADDRESSES + 1;
        (self.target)(self.next)
    }

    /// A target list and a curl configuration for the next address.
    fn next(&mut self) -> (PathBuf, PathBuf) {
        let target = self.next_address();
        let url = if target.contains("://") {
            target.clone()
        } else {
            format!("http://{target}/")
        };
        let list = self
            .dir
            .join(format!("{}-targets-{}.txt", self.tag, self.next));
        let curl_config = self
            .dir
            .join(format!("{}-curl-{}.cfg", self.tag, self.next));
        let mut text = String::new();
        let mut curl = String::new();
        for _ in 0..self.targets {
            writeln!(text, "{target}").unwrap();
            writeln!(curl, "url = \"{url}\"\noutput = \"/dev/null\"").unwrap();
        }
        std::fs::write(&list, text).unwrap();
        std::fs::write(&curl_config, curl).unwrap();
        (list, curl_config)
    }
}

/// nginx serving `site` with the bench's small static page (crates/stub's launcher: its own
/// temporary directory, one worker, stopped when dropped).
fn bench_nginx(binary: PathBuf, site: Site) -> std::io::Result<Nginx> {
    Nginx::builder(binary)
        .page("<!doctype html><title>tulip</title><p>A small static page.</p>\n")
        .site(site.on_addresses(ADDRESSES))
        .start()
}

// ---------------------------------------------------------------------------------------------
// (b) Slow hosts: 1,000 at concurrency 1,000 and 10,000 at concurrency 10,000.

fn slow_part(scratch: &Scratch, runs: usize) {
    const DELAY_MS: u64 = 200;
    println!(
        "(b) hosts that answer after {DELAY_MS} ms, each its own loopback address (best of {runs})"
    );
    let time = find_tool("time", &["/usr/bin/time"]).filter(|t| {
        // GNU time, not a shell builtin or BSD time: it must understand -f and -o.
        Command::new(t)
            .args(["-f", "%M", "true"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if time.is_none() {
        println!("  peak RSS not measured: GNU time is not installed (apt-get install time)");
    }
    for (hosts, goal_secs, goal_rss_mib) in [(1_000, 0.30, None), (10_000, 0.8, Some(48.0))] {
        let servers = match SlowServers::start(hosts, DELAY_MS) {
            Ok(servers) => servers,
            Err(e) => {
                println!("  {hosts} hosts: skipped, the slow servers did not start: {e}");
                continue;
            }
        };
        let list = scratch.path.join(format!("slow-{hosts}.txt"));
        let text: String = servers.hosts.iter().map(|h| format!("{h}\n")).collect();
        std::fs::write(&list, text).unwrap();
        let mut walls = Vec::new();
        let mut base_walls = Vec::new();
        let mut rss = Vec::new();
        let mut base_rss = Vec::new();
        for _ in 0..runs {
            let rss_file = scratch.path.join("rss.txt");
            let mut command = match &time {
                Some(time) => {
                    let mut c = Command::new(time);
                    c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(OURS);
                    c
                }
                None => Command::new(OURS),
            };
            command.args(["-c", &hosts.to_string(), "-i"]).arg(&list);
            let run = timed(&mut command);
            match run.status {
                Ok(s) if s.success() && run.all_ok(hosts) => walls.push(run.wall.as_secs_f64()),
                Ok(s) => println!(
                    "  {hosts} hosts: fetch-headers failed ({s}): {}",
                    run.stderr_tail()
                ),
                Err(e) => println!("  {hosts} hosts: fetch-headers did not run: {e}"),
            }
            if time.is_some() {
                let kib = std::fs::read_to_string(&rss_file).unwrap_or_default();
                if let Ok(kib) = kib.trim().parse::<f64>() {
                    rss.push(kib / 1024.0);
                }
            }
            if let Some(base) = BASELINE.get() {
                // Under GNU time too, so that a change's memory is compared as its speed is.
                let mut command = match &time {
                    Some(time) => {
                        let mut c = Command::new(time);
                        c.args(["-f", "%M", "-o"]).arg(&rss_file).arg(base);
                        c
                    }
                    None => Command::new(base),
                };
                let run = timed(command.args(["-c", &hosts.to_string(), "-i"]).arg(&list));
                if run.status.as_ref().is_ok_and(|s| s.success()) && run.all_ok(hosts) {
                    base_walls.push(run.wall.as_secs_f64());
                    let kib = std::fs::read_to_string(&rss_file).unwrap_or_default();
                    if let Ok(kib) = kib.trim().parse::<f64>() {
                        base_rss.push(kib / 1024.0);
                    }
                }
            }
        }
        if walls.is_empty() {
            continue;
        }
        let best = walls.iter().cloned().fold(f64::INFINITY, f64::min);
        let verdict = if best <= goal_secs { "met" } else { "MISSED" };
        let mut line = format!(
            "  {hosts:>6} hosts, concurrency {hosts:>6}: best {best:.3} s, median {:.3} s (goal <= {goal_secs} s {verdict})",
            median(&walls)
        );
        if let Some(peak) = rss.iter().cloned().reduce(f64::max) {
            write!(line, ", peak RSS {peak:.1} MiB").unwrap();
            if let Some(goal) = goal_rss_mib {
                let verdict = if peak <= goal { "met" } else { "MISSED" };
                write!(line, " (goal <= {goal} MiB {verdict})").unwrap();
            }
        }
        println!("{line}");
        if !base_walls.is_empty() {
            let mut line = format!(
                "         baseline, same hosts: best {:.3} s, median {:.3} s",
                base_walls.iter().cloned().fold(f64::INFINITY, f64::min),
                median(&base_walls)
            );
            if let Some(peak) = base_rss.iter().cloned().reduce(f64::max) {
                write!(line, ", peak RSS {peak:.1} MiB").unwrap();
            }
            println!("{line}");
        }
        // The seed's fetcher on the same hosts, once, for scale (no goal).
        if let Some(python) = find_tool("python3", &[]) {
            let seed = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/seed_fetch.py");
            let c = hosts.to_string();
            let run = timed(
                Command::new(python)
                    .arg(seed)
                    .args(["-c", &c, "-i"])
                    .arg(&list),
            );
            if run.status.as_ref().is_ok_and(|s| s.success()) {
                println!(
                    "         asyncio (seed), same hosts: {:.3} s",
                    run.wall.as_secs_f64()
                );
            }
        }
    }
}

/// Processes (copies of this program) serving `count` slow hosts; killed when dropped.
struct SlowServers {
    children: Vec<Child>,
    /// `127.0.x.y:PORT`, one a host.
    hosts: Vec<String>,
}

impl SlowServers {
    fn start(count: usize, delay_ms: u64) -> Result<SlowServers, String> {
        // Each host costs its server a listener and, while it waits, a connection: split the
        // hosts so that no server process needs more descriptors than the hard limit allows.
        let limit = hard_fd_limit().unwrap_or(1024).saturating_sub(64).max(64);
        let per_process = (limit / 2).max(1);
        let processes = count.div_ceil(per_process);
        // A port free on 127.0.0.1 is almost surely free on the other loopback addresses; a
        // server that cannot bind one says so and the run is skipped.
        let port = stub::closed_port().map_err(|e| e.to_string())?;
        let mut servers = SlowServers {
            children: Vec::new(),
            hosts: Vec::new(),
        };
        let mut first = 0;
        for i in 0..processes {
            let share = count / processes + usize::from(i < count % processes);
            // The shell raises the soft limit to the hard one before running the server.
            let mut child = Command::new("sh")
                .args(["-c", "ulimit -n \"$(ulimit -Hn)\" 2>/dev/null; exec \"$0\""])
                .arg(std::env::current_exe().map_err(|e| e.to_string())?)
                .env(SERVE_ENV, format!("{first},{share},{delay_ms},{port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| e.to_string())?;
            first += share;
            let stdout = child.stdout.take().unwrap();
            servers.children.push(child);
            // The server prints its addresses one a line, then `ready`.
            for line in BufReader::new(stdout).lines() {
                let line = line.map_err(|e| e.to_string())?;
                if line == "ready" {
                    break;
                }
                servers.hosts.push(line);
            }
        }
        if servers.hosts.len() != count {
            return Err(format!("{} of {count} listeners", servers.hosts.len()));
        }
        Ok(servers)
    }
}

/// The address of slow host number `n`: 127.0.0.1 ... 127.0.0.250, 127.0.1.1 ... (all of
/// 127.0.0.0/8 is loopback on Linux; .0 and the top of each /24 are left out).
fn host_address(n: usize) -> std::net::Ipv4Addr {
    let (hi, lo) = (n / 250, n % 250 + 1);
    std::net::Ipv4Addr::new(127, (hi / 256) as u8, (hi % 256) as u8, lo as u8)
}

impl Drop for SlowServers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The slow-host server (run in its own process): `COUNT` listeners, one per loopback address,
/// each reading a request head, waiting `DELAY_MS`, answering a small 200 head and closing.
/// Prints the addresses, then `ready`; runs until killed.
fn serve(spec: &str) {
    let fields: Vec<u64> = spec
        .split(',')
        .map(|f| f.parse().expect("FIRST,COUNT,DELAY_MS,PORT"))
        .collect();
    let [first, count, delay, port] = fields[..] else {
        panic!("{SERVE_ENV} wants FIRST,COUNT,DELAY_MS,PORT, got {spec:?}");
    };
    let addrs = (first..first + count)
        .map(|n| std::net::SocketAddrV4::new(host_address(n as usize), port as u16));
    let hosts = match stub::Hosts::start(Behavior::Slow(Duration::from_millis(delay)), addrs) {
        Ok(hosts) => hosts,
        Err(e) => {
            // The parent counts the addresses printed and skips the run.
            eprintln!("slow server: {e}");
            println!("ready");
            return;
        }
    };
    let mut out = String::new();
    for addr in hosts.addrs() {
        writeln!(out, "{addr}").unwrap();
    }
    out.push_str("ready\n");
    let mut stdout = std::io::stdout();
    stdout.write_all(out.as_bytes()).unwrap();
    stdout.flush().unwrap();
    // Served until the parent kills this process.
    loop {
        std::thread::park();
    }
}

// ---------------------------------------------------------------------------------------------
// Shared helpers.

/// A scratch directory for configs and target lists, removed when dropped.
struct Scratch {
    path: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let path = std::env::temp_dir().join(format!("tulip-fetch-bench-{}", std::process::id()));
        std::fs::create_dir_all(&path).expect("create scratch directory");
        Scratch { path }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

struct Run {
    status: std::io::Result<ExitStatus>,
    wall: Duration,
    stderr: Vec<u8>,
}

impl Run {
    /// Whether fetch-headers' summary (its last stderr line) reports `n` heads, all ok.
    fn all_ok(&self, n: usize) -> bool {
        let text = String::from_utf8_lossy(&self.stderr);
        let summary = text.lines().last().unwrap_or_default();
        summary.starts_with(&format!("{n} targets: {n} ok in "))
    }

    fn stderr_tail(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(3)..].join(" | ")
    }
}

/// Runs a command with stdout discarded, timing it from spawn to exit.
fn timed(command: &mut Command) -> Run {
    let start = Instant::now();
    let output = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let wall = start.elapsed();
    match output {
        Ok(o) => Run {
            status: Ok(o.status),
            wall,
            stderr: o.stderr,
        },
        Err(e) => Run {
            status: Err(e),
            wall,
            stderr: Vec::new(),
        },
    }
}

fn find_tool(name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|p| p.is_file())
}

/// The hard limit on open files, from `/proc/self/limits` (std has no getrlimit).
fn hard_fd_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let hard = line.split_whitespace().nth(4)?;
    if hard == "unlimited" {
        Some(1 << 20)
    } else {
        hard.parse().ok()
    }
}
