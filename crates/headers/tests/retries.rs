//! Retries (`Options::retries`): only failures before any byte of the head arrived are tried
//! again (a refusal, a reset before a reply), every attempt counts in `Outcome::attempts`, and
//! attempts and backoff all fit in the target's deadline.

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use stub::{Behavior, Stub};
use tulip_headers::{FetchError, Many, Options, Phase, Target, fetch};

fn options(retries: u32) -> Options {
    Options {
        retries,
        retry_backoff: Duration::from_millis(20),
        timeout: Duration::from_secs(5),
        ..Options::default()
    }
}

fn target(stub: &Stub) -> Target {
    stub.target().parse().unwrap()
}

/// A server that resets the first two connections, then answers: three attempts succeed.
#[test]
fn a_server_that_resets_then_answers_is_fetched_on_a_retry() {
    let server = Stub::start(Behavior::ResetFirst(2)).unwrap();
    let outcome = smol::block_on(fetch(&target(&server), &options(3)));
    assert_eq!(outcome.result.unwrap().head.status, 200);
    assert_eq!(outcome.attempts, 3);
    assert_eq!(server.accepted(), 3);
}

/// Fewer retries than resets: the reset is the outcome, after every attempt allowed.
#[test]
fn retries_stop_at_the_count() {
    let server = Stub::start(Behavior::ResetFirst(5)).unwrap();
    let outcome = smol::block_on(fetch(&target(&server), &options(1)));
    assert_eq!(outcome.result.unwrap_err(), FetchError::Reset);
    assert_eq!(outcome.attempts, 2);
    assert_eq!(server.accepted(), 2);

    // The default: no retry.
    let server = Stub::start(Behavior::ResetFirst(1)).unwrap();
    let outcome = smol::block_on(fetch(&target(&server), &Options::default()));
    assert_eq!(outcome.result.unwrap_err(), FetchError::Reset);
    assert_eq!(outcome.attempts, 1);
}

/// A refused connection is retried too, with a growing wait between attempts.
#[test]
fn a_refused_connection_is_retried_with_backoff() {
    let closed: Target = format!("127.0.0.1:{}", stub::closed_port().unwrap())
        .parse()
        .unwrap();
    let started = Instant::now();
    let outcome = smol::block_on(fetch(&closed, &options(3)));
    assert_eq!(outcome.result.unwrap_err(), FetchError::Refused);
    assert_eq!(outcome.attempts, 4);
    // Waits of at least 10, 20 and 40 ms (half of 20, 40, 80 ms at the least).
    assert!(
        started.elapsed() >= Duration::from_millis(70),
        "{:?}",
        started.elapsed()
    );
}

/// Failures after the server took the request are no reason to try again: bytes of a head
/// that then stopped or were cut by a reset, a reply that is not HTTP, a timeout while reading.
#[test]
fn failures_after_a_reply_began_are_not_retried() {
    for (behavior, kind) in [
        (Behavior::CloseMidHead, "truncated"),
        (Behavior::ResetMidHead, "reset"),
        (Behavior::SshBanner, "not-http"),
        (Behavior::Silent, "timeout"),
    ] {
        let server = Stub::start(behavior.clone()).unwrap();
        let options = Options {
            timeout: Duration::from_millis(300),
            ..options(3)
        };
        let outcome = smol::block_on(fetch(&target(&server), &options));
        let error = outcome.result.unwrap_err();
        assert_eq!(error.kind(), kind, "{behavior:?}");
        assert_eq!(outcome.attempts, 1, "{behavior:?}");
        assert_eq!(server.accepted(), 1, "{behavior:?}");
    }
}

/// A TLS failure is the server's answer, which it would give again: not retried.
#[test]
fn tls_failures_are_not_retried() {
    let ca = stub::TestCa::new("retry test ca").unwrap();
    let server = Stub::start_tls(Behavior::Ok, &ca.issue(&["127.0.0.1"]).unwrap()).unwrap();
    // Mozilla's roots do not know the test CA.
    let outcome = smol::block_on(fetch(&target(&server), &options(3)));
    assert!(
        matches!(outcome.result, Err(FetchError::Tls(_))),
        "{:?}",
        outcome.result
    );
    assert_eq!(outcome.attempts, 1);
    assert_eq!(server.accepted(), 1);
}

/// Attempts and waits live within the target's deadline: a server that resets every
/// connection, with retries to spare, ends near the timeout with the reset (the last failure),
/// not a timeout; the wait that would pass the deadline is not begun.
#[test]
fn retries_end_within_the_deadline() {
    let server = Stub::start(Behavior::ResetFirst(usize::MAX)).unwrap();
    let options = Options {
        timeout: Duration::from_millis(400),
        retry_backoff: Duration::from_millis(40),
        ..options(1000)
    };
    let started = Instant::now();
    let outcome = smol::block_on(fetch(&target(&server), &options));
    let took = started.elapsed();
    assert_eq!(outcome.result.unwrap_err(), FetchError::Reset);
    assert!(
        outcome.attempts > 1 && outcome.attempts < 10,
        "{}",
        outcome.attempts
    );
    assert_eq!(server.accepted(), outcome.attempts as usize);
    assert!(took < Duration::from_millis(400), "{took:?}");
}

/// `Many` retries as `fetch` does, each outcome with its own count.
#[test]
fn many_counts_attempts_per_target() {
    let flaky = Stub::start(Behavior::ResetFirst(1)).unwrap();
    let ok = Stub::start(Behavior::Ok).unwrap();
    let stream = Many::new(&options(2))
        .concurrency(1)
        .fetch(vec![target(&flaky), target(&ok)]);
    let mut got: Vec<(usize, u32, bool)> = smol::block_on(
        stream
            .map(|o| (o.index, o.attempts, o.result.is_ok()))
            .collect(),
    );
    got.sort();
    assert_eq!(got, [(0, 2, true), (1, 1, true)]);
}

/// A connect timeout (tighter than the deadline) is retried; a read timeout is not, as the
/// test above shows.
#[test]
fn a_connect_timeout_is_retried() {
    let hanging = stub::Unaccepting::start().unwrap();
    let options = Options {
        connect_timeout: Duration::from_millis(100),
        timeout: Duration::from_secs(2),
        ..options(2)
    };
    let outcome = smol::block_on(fetch(&hanging.target().parse().unwrap(), &options));
    assert_eq!(
        outcome.result.unwrap_err(),
        FetchError::Timeout(Phase::Connect)
    );
    assert_eq!(outcome.attempts, 3);
}
