//! fetch-headers resolving names at scale, on loopback only: every name is answered by a DNS
//! server on 127.0.0.1 given with `--resolver`, every host is an HTTP stub on 127.0.0.1.
//!
//! ```sh
//! cargo bench --bench dns                   # all three parts, 3 rounds each
//! cargo bench --bench dns -- dead --runs 5  # only (a); also: distinct, shared
//! ```
//!
//! (a) dead: 10,000 targets, half of whose names the DNS server never answers, at `-c 1000
//! --timeout 3`: every answerable host must be fetched, and the run should take no longer than
//! the dead names' own deadlines require (5,000 x 3 s / 1,000 = 15 s).
//!
//! (b) distinct: 10,000 distinct answerable names at `-c 1000`, against the same fetches with
//! the host given as an IP (no DNS at all), in interleaved rounds: goal at most 1.3x the time.
//! Each round runs the names twice, asking A and AAAA (the default) and A only (`-4`).
//! The names are answered by dnsmasq (`apt-get install dnsmasq-base`) when it is installed, by
//! the crates/stub DNS server otherwise.
//!
//! (c) shared: 100,000 targets over 100 names: how many queries reach the server (goal: a few
//! hundred, i.e. each name resolved once, A and AAAA).
//!
//! The DNS stub and the HTTP stub run on threads of this program; the measured fetch-headers is
//! a separate process.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use stub::{Behavior, DnsBehavior, DnsStub, Stub};

/// Our binary, built with the bench profile (release settings) by `cargo bench`.
const OURS: &str = env!("CARGO_BIN_EXE_fetch-headers");

fn main() {
    let mut parts = Vec::new();
    let mut runs = 3;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bench" => {}
            "--runs" => {
                runs = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|&n| n > 0)
                    .unwrap_or_else(|| usage("--runs needs a whole number above 0"))
            }
            "dead" | "distinct" | "shared" => parts.push(arg),
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    if parts.is_empty() {
        parts = vec!["dead".into(), "distinct".into(), "shared".into()];
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        let load: Vec<&str> = load.split_whitespace().take(3).collect();
        println!("load average {}", load.join(" "));
    }
    let web = Stub::start(Behavior::Ok).expect("start the HTTP stub");
    let scratch = std::env::temp_dir().join(format!("tulip-dns-bench-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).unwrap();
    for part in &parts {
        match part.as_str() {
            "dead" => dead_names(&scratch, &web, runs),
            "distinct" => distinct_names(&scratch, runs),
            _ => shared_names(&scratch, &web),
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
}

fn usage(why: &str) -> ! {
    eprintln!("usage: dns [dead] [distinct] [shared] [--runs N] ({why})");
    std::process::exit(2);
}

/// One run of fetch-headers: wall time, its CPU time, the datagrams UDP sockets dropped on this
/// machine meanwhile (a DNS server's full receive buffer), exit status and its summary line.
struct Run {
    wall: Duration,
    cpu: Duration,
    drops: u64,
    ok: bool,
    summary: String,
}

/// User and system time of the children waited for so far (/proc/self/stat's cutime and
/// cstime), zero where there is no /proc.
fn children_cpu() -> Duration {
    stat_cpu("/proc/self/stat", [13, 14])
}

/// User and system time of process `pid` so far, zero where there is no /proc.
fn process_cpu(pid: u32) -> Duration {
    stat_cpu(&format!("/proc/{pid}/stat"), [11, 12])
}

/// The sum of two clock-tick fields of a /proc stat file (counted after the command name).
fn stat_cpu(path: &str, which: [usize; 2]) -> Duration {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return Duration::ZERO;
    };
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks: u64 = which
        .iter()
        .filter_map(|&i| fields.get(i)?.parse::<u64>().ok())
        .sum();
    // The kernel reports these in USER_HZ, 100 on every Linux port.
    Duration::from_millis(ticks * 10)
}

/// Datagrams dropped by full UDP receive buffers on this machine (`RcvbufErrors` in
/// /proc/net/snmp), zero where there is no /proc.
fn udp_drops() -> u64 {
    let snmp = std::fs::read_to_string("/proc/net/snmp").unwrap_or_default();
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp: "));
    let (Some(names), Some(values)) = (udp.next(), udp.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "RcvbufErrors")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

fn run(
    resolver: SocketAddr,
    concurrency: usize,
    timeout: &str,
    list: &Path,
    extra: &[&str],
) -> Run {
    let (cpu, drops) = (children_cpu(), udp_drops());
    let start = Instant::now();
    let out = Command::new(OURS)
        .arg("--resolver")
        .arg(resolver.to_string())
        .args(extra)
        .args(["-c", &concurrency.to_string(), "--timeout", timeout, "-i"])
        .arg(list)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .expect("run fetch-headers");
    let stderr = String::from_utf8_lossy(&out.stderr);
    Run {
        wall: start.elapsed(),
        cpu: children_cpu().saturating_sub(cpu),
        drops: udp_drops().saturating_sub(drops),
        ok: out.status.success(),
        summary: stderr
            .lines()
            .rev()
            .find(|l| l.contains(" targets: "))
            .unwrap_or("(no summary)")
            .to_owned(),
    }
}

fn write_list(path: &Path, lines: impl Iterator<Item = String>) {
    let mut text = String::new();
    for line in lines {
        let _ = writeln!(text, "{line}");
    }
    std::fs::write(path, text).unwrap();
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

// (a) Half the names never answered.
fn dead_names(scratch: &Path, web: &Stub, runs: usize) {
    println!(
        "(a) 10,000 targets, 5,000 names never answered, -c 1000 --timeout 3 (goal: 5,000 ok, about 15 s)"
    );
    let port = web.addr().port();
    let names = (0..5000).flat_map(|i| {
        [
            (
                format!("live{i}.test"),
                DnsBehavior::v4(Ipv4Addr::LOCALHOST, 300),
            ),
            (format!("dead{i}.test"), DnsBehavior::Never),
        ]
    });
    let dns = DnsStub::start(names).expect("start the DNS stub");
    let list = scratch.join("dead.txt");
    write_list(
        &list,
        (0..5000).flat_map(|i| {
            [
                format!("http://live{i}.test:{port}/"),
                format!("http://dead{i}.test:{port}/"),
            ]
        }),
    );
    let mut walls = Vec::new();
    for round in 1..=runs {
        let r = run(dns.addr(), 1000, "3", &list, &[]);
        println!(
            "  round {round}: {:.2} s, CPU {:.2} s, {} dropped  {}",
            r.wall.as_secs_f64(),
            r.cpu.as_secs_f64(),
            r.drops,
            r.summary
        );
        walls.push(r.wall.as_secs_f64());
    }
    println!(
        "  median {:.2} s (goal <= 15 s plus start-up)",
        median(&mut walls)
    );
}

/// A dnsmasq answering every name under .test with 127.0.0.1 (and NODATA for AAAA), with its
/// default receive buffer; killed when dropped.
struct Dnsmasq(Child, SocketAddr);

impl Dnsmasq {
    fn start(scratch: &Path) -> Option<Dnsmasq> {
        let bin = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())?;
        let port = {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").ok()?;
            s.local_addr().ok()?.port()
        };
        let child = Command::new(bin)
            .arg("--keep-in-foreground")
            .arg(format!("--port={port}"))
            .args([
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
            ])
            .args(["--no-hosts", "--conf-file=/dev/null", "--cache-size=0"])
            // --local: AAAA gets NODATA, as from a real server, not REFUSED for want of an
            // upstream to forward it to.
            .args([
                "--address=/test/127.0.0.1",
                "--local=/test/",
                "--local-ttl=300",
            ])
            .arg(format!(
                "--pid-file={}",
                scratch.join("dnsmasq.pid").display()
            ))
            .arg("--user=root")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        std::thread::sleep(Duration::from_millis(300));
        Some(Dnsmasq(child, SocketAddr::from(([127, 0, 0, 1], port))))
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// (b) Distinct names against the same hosts as IPs.
fn distinct_names(scratch: &Path, runs: usize) {
    const N: usize = 10_000;
    let dnsmasq = Dnsmasq::start(scratch);
    let stub;
    let (server, which, server_pid) = match &dnsmasq {
        Some(d) => (d.1, "dnsmasq", Some(d.0.id())),
        None => {
            let names = (0..N).map(|i| {
                (
                    format!("h{i}.test"),
                    DnsBehavior::v4(Ipv4Addr::LOCALHOST, 300),
                )
            });
            stub = DnsStub::start(names).expect("start the DNS stub");
            (stub.addr(), "the DNS stub (dnsmasq is not installed)", None)
        }
    };
    println!(
        "(b) {N} distinct names at -c 1000, answered by {which}, against the same hosts as IPs (goal <= 1.3x)"
    );
    let names = scratch.join("names.txt");
    let ips = scratch.join("ips.txt");
    let (mut ratios, mut ratios4) = (Vec::new(), Vec::new());
    let (mut by_name, mut by_name4, mut by_ip) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=runs {
        // Each run fetches from a web server on a port of its own: the connections of the
        // runs before it, in TIME_WAIT for a minute, then leave its source ports alone.
        let server_cpu = || server_pid.map_or(Duration::ZERO, process_cpu);
        // A fresh process each time: every name is resolved anew. Both families (the
        // default), then only A (-4).
        let by_names = |extra: &[&str]| {
            let web = Stub::start(Behavior::Ok).expect("start the HTTP stub");
            let port = web.addr().port();
            write_list(&names, (0..N).map(|i| format!("http://h{i}.test:{port}/")));
            let before = server_cpu();
            let run = run(server, 1000, "10", &names, extra);
            (run, server_cpu().saturating_sub(before))
        };
        let (n, served) = by_names(&[]);
        let (n4, served4) = by_names(&["-4"]);
        let web = Stub::start(Behavior::Ok).expect("start the HTTP stub");
        let port = web.addr().port();
        write_list(&ips, (0..N).map(|i| format!("http://127.0.0.1:{port}/{i}")));
        let i = run(server, 1000, "10", &ips, &[]);
        drop(web);
        let line = |r: &Run, served: Duration| {
            format!(
                "{:.3} s, CPU {:.2} s, server CPU {:.2} s, {} dropped ({})",
                r.wall.as_secs_f64(),
                r.cpu.as_secs_f64(),
                served.as_secs_f64(),
                r.drops,
                if r.ok { "all ok" } else { &r.summary },
            )
        };
        println!(
            "  round {round}: names {}; names -4 {}; IPs {:.3} s, CPU {:.2} s ({})",
            line(&n, served),
            line(&n4, served4),
            i.wall.as_secs_f64(),
            i.cpu.as_secs_f64(),
            if i.ok { "all ok" } else { &i.summary },
        );
        by_name.push(n.wall.as_secs_f64());
        by_name4.push(n4.wall.as_secs_f64());
        by_ip.push(i.wall.as_secs_f64());
        ratios.push(n.wall.as_secs_f64() / i.wall.as_secs_f64());
        ratios4.push(n4.wall.as_secs_f64() / i.wall.as_secs_f64());
    }
    println!(
        "  names median {:.3} s, names -4 median {:.3} s, IPs median {:.3} s; names/IPs {:.2}x, names -4/IPs {:.2}x (medians of rounds; goal <= 1.3x)",
        median(&mut by_name),
        median(&mut by_name4),
        median(&mut by_ip),
        median(&mut ratios),
        median(&mut ratios4)
    );
}

// (c) Many targets over few names.
fn shared_names(scratch: &Path, web: &Stub) {
    println!(
        "(c) 100,000 targets over 100 names at -c 256: queries reaching the server (goal: a few hundred)"
    );
    let port = web.addr().port();
    let names = (0..100).map(|i| {
        (
            format!("n{i}.test"),
            DnsBehavior::v4(Ipv4Addr::LOCALHOST, 300),
        )
    });
    let dns = DnsStub::start(names).expect("start the DNS stub");
    let list = scratch.join("shared.txt");
    write_list(
        &list,
        (0..100_000).map(|i| format!("http://n{}.test:{port}/{i}", i % 100)),
    );
    let r = run(dns.addr(), 256, "10", &list, &[]);
    println!(
        "  {:.2} s, {} queries reached the server; {}",
        r.wall.as_secs_f64(),
        dns.queries(),
        r.summary
    );
}
