//! Fetching many at once: every result carries its input index, one bad target does not touch
//! the others, and stopping starts nothing new.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_lite::StreamExt;
use stub::{Behavior, Stub};
use tulip_headers::{FetchError, Many, Options, Phase, Target};

#[test]
fn results_carry_their_index_and_failures_stay_with_their_target() {
    mixed_targets_on(1);
}

#[test]
fn results_carry_their_index_on_several_threads_too() {
    mixed_targets_on(3);
}

fn mixed_targets_on(threads: usize) {
    let ok = Stub::start(Behavior::Ok).unwrap();
    let missing = Stub::start(Behavior::Status(404)).unwrap();
    let silent = Stub::start(Behavior::Silent).unwrap();
    let ssh = Stub::start(Behavior::SshBanner).unwrap();
    let closed = format!("127.0.0.1:{}", stub::closed_port().unwrap());
    // What each kind of target must give: a status or an error kind.
    let kinds = [
        (ok.target(), "200"),
        (missing.target(), "404"),
        (silent.target(), "timeout"),
        (ssh.target(), "not-http"),
        (closed, "refused"),
    ];
    let mut inputs = Vec::new();
    for i in 0..200 {
        inputs.push(kinds[i * 7 % kinds.len()].clone());
    }
    let targets: Vec<Target> = inputs.iter().map(|(t, _)| t.parse().unwrap()).collect();
    let options = Options {
        timeout: Duration::from_secs(1),
        ..Options::default()
    };
    let stream = Many::new(&options)
        .concurrency(32)
        .threads(threads)
        .fetch(targets);
    assert_eq!(stream.threads(), threads);
    let results: Vec<(usize, String)> = smol::block_on(
        stream
            .map(|f| {
                let got = match f.result {
                    Ok(r) => r.head.status.to_string(),
                    Err(FetchError::Timeout(Phase::Read)) => "timeout".to_owned(),
                    Err(e) => e.kind().to_owned(),
                };
                (f.index, got)
            })
            .collect(),
    );
    assert_eq!(results.len(), inputs.len(), "one result per target");
    let results: BTreeMap<usize, String> = results.into_iter().collect();
    assert_eq!(results.len(), inputs.len(), "no index twice");
    for (i, (target, want)) in inputs.iter().enumerate() {
        assert_eq!(results[&i], *want, "target {i} ({target})");
    }
}

#[test]
fn stopping_starts_nothing_new() {
    let server = Stub::start(Behavior::Slow(Duration::from_millis(20))).unwrap();
    let targets: Vec<Target> = (0..50).map(|_| server.target().parse().unwrap()).collect();

    // Stopped before the start: nothing is fetched.
    let stream = Many::new(&Options::default())
        .concurrency(2)
        .fetch(targets.clone());
    stream.stop();
    let none: Vec<_> = smol::block_on(stream.collect::<Vec<_>>());
    assert!(none.is_empty());
    assert_eq!(server.accepted(), 0);

    // Stopped after the first result: the ones in flight finish, no more start.
    let mut stream = Many::new(&Options::default()).concurrency(2).fetch(targets);
    assert_eq!(stream.concurrency(), 2);
    let first = smol::block_on(stream.next()).unwrap();
    assert_eq!(first.result.unwrap().head.status, 200);
    stream.stop();
    let rest: Vec<_> = smol::block_on(stream.collect::<Vec<_>>());
    // At most: the other result of the batch the first came in, and the two fetches that
    // refilled the slots (started before the stop). Not the 49 left.
    assert!(rest.len() <= 3, "{} more after stop", rest.len());
    assert!(server.accepted() <= 4, "{} fetched", server.accepted());
    assert!(rest.iter().all(|f| f.result.is_ok()));
}

#[test]
fn dropping_the_stream_cancels_fetches_in_flight() {
    dropping_cancels_on(1);
}

#[test]
fn dropping_the_stream_cancels_the_helpers_fetches_too() {
    dropping_cancels_on(2);
}

fn dropping_cancels_on(threads: usize) {
    let silent = Stub::start(Behavior::Silent).unwrap();
    let targets: Vec<Target> = (0..4).map(|_| silent.target().parse().unwrap()).collect();
    let mut stream = Many::new(&Options::default())
        .concurrency(4)
        .threads(threads)
        .fetch(targets);
    assert_eq!(stream.threads(), threads);
    // The stream is lazy: one poll starts the four connections (none can finish).
    let first = smol::block_on(futures_lite::future::poll_once(stream.next()));
    assert!(first.is_none());
    // Let the connections open, then drop: the server sees them close.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while silent.accepted() < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(silent.accepted(), 4);
    assert_eq!(silent.open(), 4);
    drop(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while silent.open() > 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(silent.open(), 0, "the client side was closed");
}

#[test]
fn stopping_stops_the_helpers_too() {
    let server = Stub::start(Behavior::Slow(Duration::from_millis(20))).unwrap();
    let targets: Vec<Target> = (0..200).map(|_| server.target().parse().unwrap()).collect();
    let mut stream = Many::new(&Options::default())
        .concurrency(4)
        .threads(2)
        .fetch(targets);
    let first = smol::block_on(stream.next()).unwrap();
    assert!(first.result.is_ok());
    stream.stop();
    let rest: Vec<_> = smol::block_on(stream.collect::<Vec<_>>());
    // Whatever was in flight or handed over, a few; not the 199 left.
    assert!(rest.len() < 20, "{} more after stop", rest.len());
    assert!(rest.iter().all(|f| f.result.is_ok()));
}

#[test]
fn concurrency_is_lowered_to_the_number_of_targets() {
    let server = Stub::start(Behavior::Ok).unwrap();
    let targets: Vec<Target> = (0..3).map(|_| server.target().parse().unwrap()).collect();
    let stream = Many::new(&Options::default())
        .concurrency(1000)
        .fetch(targets);
    assert_eq!(stream.concurrency(), 3);
    let n = smol::block_on(stream.count());
    assert_eq!(n, 3);
}

#[test]
fn each_target_gets_exactly_one_result_even_past_the_deadlines() {
    one_result_each_on(1);
}

#[test]
fn each_target_gets_exactly_one_result_on_several_threads() {
    one_result_each_on(3);
}

fn one_result_each_on(threads: usize) {
    // The fast one finishes at once; the stream then runs on past its deadline while the
    // silent one times out. The finished fetch must not be reported again as a timeout.
    let ok = Stub::start(Behavior::Ok).unwrap();
    let silent = Stub::start(Behavior::Silent).unwrap();
    let drip = Stub::start(Behavior::Drip(Duration::from_millis(50))).unwrap();
    let targets: Vec<Target> = [ok.target(), silent.target(), drip.target()]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let options = Options {
        timeout: Duration::from_millis(400),
        ..Options::default()
    };
    let stream = Many::new(&options)
        .concurrency(3)
        .threads(threads)
        .fetch(targets);
    let mut results = smol::block_on(stream.collect::<Vec<_>>());
    results.sort_by_key(|f| f.index);
    let got: Vec<(usize, Result<u16, FetchError>)> = results
        .iter()
        .map(|f| (f.index, f.result.clone().map(|r| r.head.status)))
        .collect();
    assert_eq!(
        got,
        [
            (0, Ok(200)),
            (1, Err(FetchError::Timeout(Phase::Read))),
            (2, Err(FetchError::Timeout(Phase::Read))),
        ]
    );
    // A deadline never strikes early.
    assert!(results[1].elapsed >= Duration::from_millis(400));
    assert!(results[2].elapsed >= Duration::from_millis(400));
}

#[test]
fn a_slow_consumer_turns_no_fast_fetch_into_a_timeout_on_one_thread() {
    slow_consumer_on(1);
}

#[test]
fn a_slow_consumer_turns_no_fast_fetch_into_a_timeout_on_several_threads() {
    slow_consumer_on(2);
}

/// Servers answering within 30 ms, a deadline of 300 ms, and a consumer that spends 20 ms on
/// each outcome (2 s for all): the outcomes are the servers', not the consumer's.
fn slow_consumer_on(threads: usize) {
    let server = Stub::start(Behavior::Slow(Duration::from_millis(30))).unwrap();
    let targets: Vec<Target> = (0..100).map(|_| server.target().parse().unwrap()).collect();
    let options = Options {
        timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let mut stream = Many::new(&options)
        .concurrency(64)
        .threads(threads)
        .fetch(targets);
    let outcomes = smol::block_on(async {
        let mut outcomes = Vec::new();
        while let Some(outcome) = stream.next().await {
            async_io::Timer::after(Duration::from_millis(20)).await;
            outcomes.push(outcome);
        }
        outcomes
    });
    assert_eq!(outcomes.len(), 100);
    for outcome in &outcomes {
        assert!(
            outcome.result.is_ok(),
            "target {}: {:?} after {:?}",
            outcome.index,
            outcome.result,
            outcome.elapsed
        );
        // Its real time, not the time it waited to be read.
        assert!(outcome.elapsed < Duration::from_millis(300));
    }
}

#[test]
fn nothing_new_starts_while_outcomes_wait_unread() {
    let server = Stub::start(Behavior::Ok).unwrap();
    let targets: Vec<Target> = (0..1000)
        .map(|_| server.target().parse().unwrap())
        .collect();
    let mut stream = Many::new(&Options::default())
        .concurrency(8)
        .threads(2)
        .fetch(targets);
    let first = smol::block_on(stream.next()).unwrap();
    assert!(first.result.is_ok());
    // Unread for a while: the fetches in flight and the inbox's lookahead finish, no more.
    std::thread::sleep(Duration::from_millis(300));
    let started = server.accepted();
    assert!(
        started <= 8 * 3,
        "{started} fetches started while nothing was read"
    );
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(server.accepted(), started, "still starting fetches");
    let rest = smol::block_on(stream.count());
    assert_eq!(rest, 999);
}

#[test]
fn targets_may_come_from_an_async_stream() {
    let server = Stub::start(Behavior::Ok).unwrap();
    let target: Target = server.target().parse().unwrap();
    let (send, receive) = async_channel::bounded::<Target>(1);
    let producer = std::thread::spawn(move || {
        for _ in 0..20 {
            send.send_blocking(target.clone()).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    let outcomes: Vec<_> = smol::block_on(
        Many::new(&Options::default())
            .concurrency(4)
            .fetch_stream(receive)
            .collect(),
    );
    producer.join().unwrap();
    let mut indices: Vec<usize> = outcomes.iter().map(|o| o.index).collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..20).collect::<Vec<_>>());
    assert!(outcomes.iter().all(|o| o.result.is_ok()));
}

#[test]
fn an_outcome_is_handed_over_while_the_other_fetches_still_wait() {
    for threads in [1, 2] {
        let ok = Stub::start(Behavior::Ok).unwrap();
        let silent = Stub::start(Behavior::Silent).unwrap();
        let mut targets: Vec<Target> = (0..10).map(|_| silent.target().parse().unwrap()).collect();
        targets.insert(5, ok.target().parse().unwrap());
        let options = Options {
            timeout: Duration::from_secs(60),
            ..Options::default()
        };
        let mut stream = Many::new(&options)
            .concurrency(16)
            .threads(threads)
            .fetch(targets);
        // Outcomes go over in batches, but one with nothing else to come must not wait for
        // the batch to fill (or for the silent servers' minute).
        let first = smol::block_on(futures_lite::future::or(
            async { stream.next().await.map(|o| o.index) },
            async {
                async_io::Timer::after(Duration::from_secs(10)).await;
                None
            },
        ));
        assert_eq!(first, Some(5), "on {threads} threads");
        // Dropping the stream cancels the silent fetches.
    }
}
