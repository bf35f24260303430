//! Pacing a run: `Many::rate` spaces the starts evenly across all workers (no burst), and
//! `Many::per_host` caps the connections to one host and port while other hosts go ahead. The
//! servers record what they saw: when each connection was accepted, and the most open at once.

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use stub::{Behavior, Stub};
use tulip_headers::{Many, Options, Target};

fn targets(stub: &Stub, n: usize) -> Vec<Target> {
    (0..n).map(|_| stub.target().parse().unwrap()).collect()
}

/// 20 a second from four workers with room for all at once: the server sees the connections
/// come one by one, about 50 ms apart, never two together.
#[test]
fn rate_spaces_the_starts_evenly_across_workers() {
    let server = Stub::start(Behavior::Ok).unwrap();
    let n = 16;
    let interval = Duration::from_millis(50);
    let stream = Many::new(&Options::default())
        .concurrency(16)
        .threads(4)
        .rate(20.0)
        .fetch(targets(&server, n));
    let outcomes: Vec<_> = smol::block_on(stream.collect());
    assert_eq!(outcomes.len(), n);
    assert!(outcomes.iter().all(|o| o.result.is_ok()));

    let times = server.accept_times();
    assert_eq!(times.len(), n);
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Generous: a loaded machine delays a start (or the server's accept), which may bring the
    // next closer, but the schedule never lets two through together.
    let span = times[n - 1] - times[0];
    assert!(
        span >= interval * (n as u32 - 1) * 3 / 4,
        "{n} starts in {span:?}: gaps {gaps:?}"
    );
    // No burst: in any window of two intervals, at most four starts (two or three on
    // schedule, and room for a server that accepted two late).
    for (i, &t) in times.iter().enumerate() {
        let within = times[i..]
            .iter()
            .take_while(|&&u| u - t < interval * 2)
            .count();
        assert!(
            within <= 4,
            "{within} starts within {:?} of start {i}: gaps {gaps:?}",
            interval * 2
        );
    }
}

/// The schedule starts anew after an idle spell: no burst to catch up.
#[test]
fn rate_has_no_burst_after_an_idle_spell() {
    let slow = Stub::start(Behavior::Slow(Duration::from_millis(300))).unwrap();
    let ok = Stub::start(Behavior::Ok).unwrap();
    // One slot: the slow fetch holds it for 300 ms (six intervals) before the next may start.
    let mut list = vec![slow.target().parse::<Target>().unwrap()];
    list.extend(targets(&ok, 4));
    let stream = Many::new(&Options::default())
        .concurrency(1)
        .rate(20.0)
        .fetch(list);
    let outcomes: Vec<_> = smol::block_on(stream.collect());
    assert_eq!(outcomes.len(), 5);
    let times = ok.accept_times();
    let gaps: Vec<Duration> = times.windows(2).map(|w| w[1] - w[0]).collect();
    // Three intervals (150 ms) between the first and the last; a schedule that caught up on
    // the six it missed would start all four at once.
    let span = times[3] - times[0];
    assert!(
        span >= Duration::from_millis(100),
        "4 starts in {span:?} after the idle spell: gaps {gaps:?}"
    );
}

/// Two per host across three workers: each of two slow servers sees at most two connections
/// at once, and both are served at once (one host at its cap does not hold the other back).
#[test]
fn per_host_caps_each_host_and_port_across_workers() {
    let a = Stub::start(Behavior::Slow(Duration::from_millis(60))).unwrap();
    let b = Stub::start(Behavior::Slow(Duration::from_millis(60))).unwrap();
    // One host's targets in a row, then the other's: b's must not wait behind a's.
    let mut list = targets(&a, 12);
    list.extend(targets(&b, 12));
    let started = Instant::now();
    let stream = Many::new(&Options::default())
        .concurrency(16)
        .threads(3)
        .per_host(2)
        .fetch(list);
    let outcomes: Vec<_> = smol::block_on(stream.collect());
    let took = started.elapsed();
    assert_eq!(outcomes.len(), 24);
    assert!(outcomes.iter().all(|o| o.result.is_ok()), "{outcomes:?}");
    assert_eq!((a.accepted(), b.accepted()), (12, 12));
    assert_eq!(
        (a.peak_open(), b.peak_open()),
        (2, 2),
        "the most open at once"
    );
    // Both hosts ran side by side: b's first connection came before a's last.
    let (a_times, b_times) = (a.accept_times(), b.accept_times());
    assert!(b_times[0] < a_times[11], "b waited for a: {took:?}");
}

/// Without a cap the same run opens many connections at once: the test above can fail.
#[test]
fn without_per_host_one_host_gets_many_connections() {
    let a = Stub::start(Behavior::Slow(Duration::from_millis(60))).unwrap();
    let stream = Many::new(&Options::default())
        .concurrency(8)
        .threads(2)
        .fetch(targets(&a, 8));
    let outcomes: Vec<_> = smol::block_on(stream.collect());
    assert_eq!(outcomes.len(), 8);
    assert!(a.peak_open() > 2, "peak {}", a.peak_open());
}

/// Stopping a run drops the targets waiting for their host: they are never fetched, and the
/// stream still ends.
#[test]
fn stopping_drops_the_targets_waiting_for_their_host() {
    let a = Stub::start(Behavior::Slow(Duration::from_millis(100))).unwrap();
    let mut stream = Many::new(&Options::default())
        .concurrency(8)
        .threads(2)
        .per_host(1)
        .fetch(targets(&a, 8));
    let first = smol::block_on(stream.next()).unwrap();
    assert!(first.result.is_ok());
    stream.stop();
    let rest: Vec<_> = smol::block_on(stream.collect());
    // At most the one that took the freed room before the stop.
    assert!(rest.len() <= 1, "{} more after stop", rest.len());
    assert!(a.accepted() <= 2, "{} fetched", a.accepted());
}

/// Rate and per-host together, many hosts and workers: every target gets exactly one outcome.
#[test]
fn rate_and_per_host_together_lose_no_target() {
    let servers: Vec<Stub> = (0..5).map(|_| Stub::start(Behavior::Ok).unwrap()).collect();
    let list: Vec<Target> = (0..60)
        .map(|i| servers[i * 3 % 5].target().parse().unwrap())
        .collect();
    let stream = Many::new(&Options::default())
        .concurrency(6)
        .threads(3)
        .per_host(1)
        .rate(400.0)
        .fetch(list);
    let mut indices: Vec<usize> = smol::block_on(stream.map(|o| o.index).collect());
    indices.sort();
    assert_eq!(indices, (0..60).collect::<Vec<_>>());
    assert!(servers.iter().all(|s| s.peak_open() == 1));
}
