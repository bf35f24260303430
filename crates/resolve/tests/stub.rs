//! The resolver against tulip-stub's DNS server: answers, errors, timeouts, truncation, decoys,
//! the cache, coalescing, cancellation and the in-flight bound, counted at the server.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_lite::future::{self, block_on};
use stub::dns::{DECOY_V4, Decoy, DnsBehavior, DnsStub, NEGATIVE_TTL};
use tulip_resolve::{Builder, Clock, DnsError, Family, Resolver};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn in_ms(n: u64) -> Instant {
    Instant::now() + ms(n)
}

const V4: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1);

fn stub(names: Vec<(&str, DnsBehavior)>) -> DnsStub {
    DnsStub::start(names).expect("dns stub starts")
}

/// A resolver that asks only `stub`, with short tries.
fn builder(stub: &DnsStub) -> Builder {
    Resolver::builder()
        .nameserver(stub.addr())
        .timeout(ms(150))
        .attempts(2)
}

/// A clock the test moves by hand.
#[derive(Debug)]
struct ManualClock(Mutex<Instant>);

impl ManualClock {
    fn new() -> Arc<ManualClock> {
        Arc::new(ManualClock(Mutex::new(Instant::now())))
    }
    fn advance(&self, by: Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }
}

#[test]
fn resolver_is_shareable() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<Resolver>();
    let stub = stub(vec![]);
    let resolver = builder(&stub).build().unwrap();
    fn send<F: Send>(_: &F) {}
    send(&resolver.lookup("a.test", in_ms(10)));
}

#[test]
fn answers_both_families_ipv6_first() {
    let stub = stub(vec![("dual.test", DnsBehavior::dual(V4, V6, 60))]);
    let resolver = builder(&stub).build().unwrap();
    let addrs = block_on(resolver.lookup("dual.test", in_ms(2000))).unwrap();
    assert_eq!(addrs.ipv4(), [V4]);
    assert_eq!(addrs.ipv6(), [V6]);
    assert_eq!(addrs.interleaved(), [IpAddr::V6(V6), IpAddr::V4(V4)]);
    assert_eq!(stub.queries_for("dual.test"), 2, "one A and one AAAA query");
    assert_eq!(resolver.stats().queries, 2);
}

#[test]
fn one_family_asks_only_its_type() {
    let stub = stub(vec![
        ("dual.test", DnsBehavior::dual(V4, V6, 60)),
        ("v6only.test", DnsBehavior::v6(V6, 60)),
        ("gone.test", DnsBehavior::NxDomain),
    ]);
    let v4 = builder(&stub).family(Family::V4).build().unwrap();
    assert_eq!(v4.family(), Family::V4);
    block_on(async {
        let addrs = v4.lookup("dual.test", in_ms(2000)).await.unwrap();
        assert_eq!((addrs.ipv4(), addrs.ipv6()), (&[V4][..], &[][..]));
        let err = v4.lookup("v6only.test", in_ms(2000)).await.unwrap_err();
        assert_eq!(err, DnsError::NoAddress);
        let err = v4.lookup("gone.test", in_ms(2000)).await.unwrap_err();
        assert_eq!(err, DnsError::NoSuchHost);
    });
    for name in ["dual.test", "v6only.test", "gone.test"] {
        assert_eq!(stub.queries_of(name, "A"), 1, "{name}");
        assert_eq!(stub.queries_of(name, "AAAA"), 0, "{name}");
    }
    assert_eq!(v4.stats().queries, 3);

    let v6 = builder(&stub).family(Family::V6).build().unwrap();
    block_on(async {
        let addrs = v6.lookup("dual.test", in_ms(2000)).await.unwrap();
        assert_eq!((addrs.ipv4(), addrs.ipv6()), (&[][..], &[V6][..]));
        let addrs = v6.lookup("v6only.test", in_ms(2000)).await.unwrap();
        assert_eq!(addrs.ipv6(), [V6]);
    });
    assert_eq!(stub.queries_of("dual.test", "AAAA"), 1);
    assert_eq!(
        stub.queries_of("dual.test", "A"),
        1,
        "only the IPv4 resolver's"
    );
    assert_eq!(v6.stats().queries, 2);
}

#[test]
fn one_family_filters_literals_hosts_and_pins() {
    let stub = stub(vec![]);
    let hosts = temp_file("hosts-family", "10.9.8.7 both\n::1 both v6host\n");
    let v4 = builder(&stub)
        .family(Family::V4)
        .hosts_file(&hosts)
        .pin("pinned.test", 80, "::1".parse().unwrap())
        .pin("pinned.test", 80, "192.0.2.9".parse().unwrap())
        .pin("v6pin.test", 80, "::2".parse().unwrap())
        .build()
        .unwrap();
    block_on(async {
        let err = v4.lookup("[2001:db8::1]", in_ms(2000)).await.unwrap_err();
        assert_eq!(err, DnsError::NoAddress);
        let a = v4.lookup("192.0.2.1", in_ms(2000)).await.unwrap();
        assert_eq!(a.ipv4(), [Ipv4Addr::new(192, 0, 2, 1)]);
        let a = v4.lookup("both", in_ms(2000)).await.unwrap();
        assert_eq!(a.interleaved(), [IpAddr::V4(Ipv4Addr::new(10, 9, 8, 7))]);
        let err = v4.lookup("v6host", in_ms(2000)).await.unwrap_err();
        assert_eq!(err, DnsError::NoAddress);
        let a = v4.lookup_port("pinned.test", 80, in_ms(2000)).await;
        assert_eq!(
            a.unwrap().interleaved(),
            [IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9))]
        );
        let err = v4
            .lookup_port("v6pin.test", 80, in_ms(2000))
            .await
            .unwrap_err();
        assert_eq!(err, DnsError::NoAddress);
    });
    assert_eq!(stub.queries(), 0);

    let v6 = builder(&stub)
        .family(Family::V6)
        .hosts_file(&hosts)
        .build()
        .unwrap();
    block_on(async {
        let err = v6.lookup("192.0.2.1", in_ms(2000)).await.unwrap_err();
        assert_eq!(err, DnsError::NoAddress);
        let a = v6.lookup("both", in_ms(2000)).await.unwrap();
        assert_eq!(a.interleaved(), [IpAddr::V6(Ipv6Addr::LOCALHOST)]);
    });
    assert_eq!(stub.queries(), 0);
}

#[test]
fn ip_literals_and_hosts_need_no_query() {
    let stub = stub(vec![]);
    let hosts = temp_file(
        "hosts",
        "# comment\n10.9.8.7 MyHost.example alias\n::1 alias\nbogus line\n",
    );
    let resolver = builder(&stub).hosts_file(&hosts).build().unwrap();
    block_on(async {
        let a = resolver.lookup("192.0.2.1", in_ms(2000)).await.unwrap();
        assert_eq!(a.ipv4(), [Ipv4Addr::new(192, 0, 2, 1)]);
        let a = resolver.lookup("[2001:db8::1]", in_ms(2000)).await.unwrap();
        assert_eq!(a.ipv6(), ["2001:db8::1".parse::<Ipv6Addr>().unwrap()]);
        let a = resolver
            .lookup("myhost.EXAMPLE.", in_ms(2000))
            .await
            .unwrap();
        assert_eq!(a.ipv4(), [Ipv4Addr::new(10, 9, 8, 7)]);
        let a = resolver.lookup("alias", in_ms(2000)).await.unwrap();
        assert_eq!(
            a.interleaved(),
            [
                "::1".parse::<IpAddr>().unwrap(),
                "10.9.8.7".parse().unwrap()
            ]
        );
    });
    assert_eq!(stub.queries(), 0);
    assert_eq!(resolver.stats().queries, 0);
}

#[test]
fn a_pin_answers_its_port_only() {
    let stub = stub(vec![("pinned.test", DnsBehavior::v4(V4, 60))]);
    let resolver = builder(&stub)
        .pin("pinned.test", 443, "192.0.2.9".parse().unwrap())
        .build()
        .unwrap();
    block_on(async {
        let a = resolver
            .lookup_port("Pinned.test", 443, in_ms(2000))
            .await
            .unwrap();
        assert_eq!(a.ipv4(), [Ipv4Addr::new(192, 0, 2, 9)]);
        assert_eq!(stub.queries(), 0);
        let a = resolver
            .lookup_port("pinned.test", 80, in_ms(2000))
            .await
            .unwrap();
        assert_eq!(a.ipv4(), [V4]);
    });
    assert_eq!(stub.queries(), 2);
}

#[test]
fn answers_are_cached_until_their_ttl_ends() {
    // Both families, so that no NODATA (cached for NEGATIVE_TTL) expires first.
    let stub = stub(vec![("ttl.test", DnsBehavior::dual(V4, V6, 60))]);
    let clock = ManualClock::new();
    let resolver = builder(&stub).clock(clock.clone()).build().unwrap();
    let lookup = || block_on(resolver.lookup("ttl.test", in_ms(2000))).unwrap();
    lookup();
    // Counted from here: a reply slower than a try's 150 ms (a busy machine) adds a query.
    let asked = stub.queries();
    clock.advance(Duration::from_secs(59));
    lookup();
    assert_eq!(
        stub.queries(),
        asked,
        "the second lookup is served from the cache"
    );
    assert_eq!(resolver.stats().cache_hits, 2);
    clock.advance(Duration::from_secs(2));
    lookup();
    assert!(
        stub.queries() >= asked + 2,
        "expired answers are asked again"
    );
}

#[test]
fn the_cache_keeps_at_most_its_size_and_gives_used_answers_a_second_chance() {
    let names = ["a.test", "b.test", "c.test", "d.test"];
    let stub = stub(
        names
            .iter()
            .map(|&n| (n, DnsBehavior::v4(V4, 300)))
            .collect(),
    );
    // One answer a name (A only), room for two.
    let resolver = builder(&stub)
        .family(Family::V4)
        .cache_size(2)
        .build()
        .unwrap();
    let lookup = |name| block_on(resolver.lookup(name, in_ms(2000))).unwrap();
    let asked = |name| stub.queries_of(name, "A");
    lookup("a.test");
    lookup("b.test");
    lookup("a.test");
    assert_eq!((asked("a.test"), asked("b.test")), (1, 1), "both kept");
    // c comes: b, not used since stored, goes; a, used, stays.
    lookup("c.test");
    assert_eq!(resolver.stats().cached, 2);
    lookup("a.test");
    assert_eq!(asked("a.test"), 1, "a was used: kept");
    lookup("b.test");
    assert_eq!(asked("b.test"), 2, "b was dropped: asked again");
    // A long run of new names keeps the cache at its size.
    for _ in 0..3 {
        for name in names {
            lookup(name);
        }
    }
    assert_eq!(resolver.stats().cached, 2);

    let none = builder(&stub)
        .family(Family::V4)
        .cache_size(0)
        .build()
        .unwrap();
    let before = asked("d.test");
    for _ in 0..3 {
        block_on(none.lookup("d.test", in_ms(2000))).unwrap();
    }
    assert_eq!(asked("d.test"), before + 3, "a size of 0 keeps no answer");
    assert_eq!(none.stats().cached, 0);
}

#[test]
fn nxdomain_is_cached_for_the_soa_minimum() {
    let stub = stub(vec![("gone.test", DnsBehavior::NxDomain)]);
    let clock = ManualClock::new();
    let resolver = builder(&stub).clock(clock.clone()).build().unwrap();
    let lookup = || block_on(resolver.lookup("gone.test", in_ms(2000))).unwrap_err();
    assert!(matches!(lookup(), DnsError::NoSuchHost));
    assert!(matches!(lookup(), DnsError::NoSuchHost));
    assert_eq!(stub.queries(), 2);
    clock.advance(Duration::from_secs(NEGATIVE_TTL.into()));
    assert!(matches!(lookup(), DnsError::NoSuchHost));
    assert_eq!(stub.queries(), 4);
}

#[test]
fn an_empty_answer_is_no_address_and_cached() {
    let stub = stub(vec![("empty.test", DnsBehavior::Empty)]);
    let resolver = builder(&stub).build().unwrap();
    for _ in 0..2 {
        let err = block_on(resolver.lookup("empty.test", in_ms(2000))).unwrap_err();
        assert!(matches!(err, DnsError::NoAddress), "{err:?}");
        assert_eq!(err.to_string(), "no address");
    }
    assert_eq!(stub.queries(), 2);
}

#[test]
fn one_family_is_enough() {
    // AAAA gets NODATA: the A record is the answer, and the NODATA is cached like the A.
    let stub = stub(vec![("v4only.test", DnsBehavior::v4(V4, 60))]);
    let resolver = builder(&stub).build().unwrap();
    for _ in 0..2 {
        let addrs = block_on(resolver.lookup("v4only.test", in_ms(2000))).unwrap();
        assert_eq!(addrs.interleaved(), [IpAddr::V4(V4)]);
    }
    assert_eq!(stub.queries(), 2);
}

#[test]
fn servfail_and_refused_are_server_failures_not_cached() {
    let stub = stub(vec![
        ("fail.test", DnsBehavior::ServFail),
        ("refused.test", DnsBehavior::Refused),
    ]);
    let resolver = builder(&stub).attempts(1).build().unwrap();
    for name in ["fail.test", "refused.test", "fail.test"] {
        let err = block_on(resolver.lookup(name, in_ms(2000))).unwrap_err();
        assert!(matches!(err, DnsError::ServerFailure), "{name}: {err:?}");
        assert_eq!(err.to_string(), "server failure");
    }
    assert_eq!(stub.queries_for("fail.test"), 4, "a failure is asked again");
}

#[test]
fn a_server_that_refused_is_not_asked_again() {
    let stub = stub(vec![("refused.test", DnsBehavior::Refused)]);
    let resolver = builder(&stub).attempts(3).build().unwrap();
    let err = block_on(resolver.lookup("refused.test", in_ms(2000))).unwrap_err();
    assert!(matches!(err, DnsError::ServerFailure), "{err:?}");
    assert_eq!(
        stub.queries(),
        2,
        "A and AAAA once each, not once an attempt"
    );
}

#[test]
fn unanswered_names_do_not_hold_the_window_shut() {
    let mut names = Vec::new();
    for i in 0..10 {
        names.push((format!("dead{i}.test"), DnsBehavior::Never));
        names.push((format!("live{i}.test"), DnsBehavior::v4(V4, 60)));
    }
    let stub = stub(names.iter().map(|(n, b)| (n.as_str(), b.clone())).collect());
    // Two lookups' queries at a time, and a deadline too short for all of them to get through
    // by the dead queries' linger alone: the live names' replies must pass the dead.
    let resolver = builder(&stub).timeout(ms(1000)).window(4).build().unwrap();
    let deadline = in_ms(300);
    let results = block_on(async {
        let tasks: Vec<_> = names
            .iter()
            .map(|(name, _)| {
                let (resolver, name) = (resolver.clone(), name.clone());
                smol::spawn(async move { (name.clone(), resolver.lookup(&name, deadline).await) })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await);
        }
        results
    });
    for (name, result) in results {
        if name.starts_with("live") {
            assert_eq!(result.unwrap().ipv4(), [V4], "{name}");
        } else {
            assert!(
                matches!(result, Err(DnsError::Timeout)),
                "{name}: {result:?}"
            );
        }
    }
}

#[test]
fn silence_times_out_after_every_attempt() {
    let stub = stub(vec![("dead.test", DnsBehavior::Never)]);
    let resolver = builder(&stub).timeout(ms(50)).attempts(2).build().unwrap();
    let err = block_on(resolver.lookup("dead.test", in_ms(5000))).unwrap_err();
    assert!(matches!(err, DnsError::Timeout), "{err:?}");
    assert_eq!(err.to_string(), "timeout");
    assert_eq!(stub.queries(), 4, "two types, two attempts each");
}

#[test]
fn the_deadline_cuts_the_retries_short() {
    let stub = stub(vec![("dead.test", DnsBehavior::Never)]);
    let resolver = builder(&stub)
        .timeout(ms(1000))
        .attempts(3)
        .build()
        .unwrap();
    let err = block_on(resolver.lookup("dead.test", in_ms(150))).unwrap_err();
    assert!(matches!(err, DnsError::Timeout), "{err:?}");
    std::thread::sleep(ms(100));
    assert_eq!(stub.queries(), 2, "no retry after the deadline");
}

#[test]
fn a_late_answer_within_the_timeout_counts() {
    let slow = DnsBehavior::After(ms(60), Box::new(DnsBehavior::v4(V4, 60)));
    let stub = stub(vec![("slow.test", slow)]);
    let resolver = builder(&stub).timeout(ms(200)).attempts(1).build().unwrap();
    let addrs = block_on(resolver.lookup("slow.test", in_ms(2000))).unwrap();
    assert_eq!(addrs.ipv4(), [V4]);
}

#[test]
fn a_truncated_reply_is_asked_again_over_tcp() {
    let truncated = DnsBehavior::Truncated(Box::new(DnsBehavior::dual(V4, V6, 60)));
    let stub = stub(vec![("big.test", truncated)]);
    let resolver = builder(&stub).build().unwrap();
    let addrs = block_on(resolver.lookup("big.test", in_ms(2000))).unwrap();
    assert_eq!(addrs.ipv4(), [V4]);
    assert_eq!(addrs.ipv6(), [V6]);
    assert_eq!(stub.tcp_queries(), 2);
    assert_eq!(resolver.stats().tcp_queries, 2);
}

#[test]
fn decoy_replies_are_ignored() {
    let real = || Box::new(DnsBehavior::v4(V4, 60));
    let stub = stub(vec![
        ("id.test", DnsBehavior::Decoy(Decoy::WrongId, real())),
        (
            "question.test",
            DnsBehavior::Decoy(Decoy::WrongQuestion, real()),
        ),
        (
            "source.test",
            DnsBehavior::Decoy(Decoy::WrongSource, real()),
        ),
    ]);
    let resolver = builder(&stub).attempts(1).build().unwrap();
    for name in ["id.test", "question.test", "source.test"] {
        let addrs = block_on(resolver.lookup(name, in_ms(2000))).unwrap();
        assert_eq!(addrs.ipv4(), [V4], "{name} (decoy {DECOY_V4})");
    }
    assert_eq!(stub.queries(), 6, "the real reply came to the first query");
}

#[test]
fn concurrent_lookups_of_one_name_share_one_query() {
    let slow = DnsBehavior::After(ms(50), Box::new(DnsBehavior::v4(V4, 60)));
    let stub = stub(vec![("shared.test", slow)]);
    let resolver = builder(&stub).build().unwrap();
    let results = block_on(async {
        let lookups: Vec<_> = (0..10)
            .map(|_| {
                let resolver = resolver.clone();
                smol::spawn(async move { resolver.lookup("shared.test", in_ms(2000)).await })
            })
            .collect();
        let mut results = Vec::new();
        for lookup in lookups {
            results.push(lookup.await);
        }
        results
    });
    for result in results {
        assert_eq!(result.unwrap().ipv4(), [V4]);
    }
    assert_eq!(stub.queries(), 2);
    let stats = resolver.stats();
    assert_eq!(stats.coalesced + stats.cache_hits, 18, "{stats:?}");
}

#[test]
fn a_waiter_with_an_earlier_deadline_gives_up_before_the_leader() {
    let stub = stub(vec![("dead.test", DnsBehavior::Never)]);
    let resolver = builder(&stub).timeout(ms(800)).attempts(1).build().unwrap();
    let order = std::sync::atomic::AtomicUsize::new(0);
    let finish = |r: Result<tulip_resolve::Addrs, DnsError>| {
        (r, order.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
    };
    let ((leader, leader_done), (waiter, waiter_done)) = block_on(future::zip(
        async { finish(resolver.lookup("dead.test", in_ms(2000)).await) },
        async { finish(resolver.lookup("dead.test", in_ms(100)).await) },
    ));
    assert!(matches!(leader, Err(DnsError::Timeout)), "{leader:?}");
    assert!(matches!(waiter, Err(DnsError::Timeout)), "{waiter:?}");
    assert!(
        waiter_done < leader_done,
        "the waiter kept its own deadline"
    );
    // Each sent again once, 400 ms in, before the leader's 800 ms try ran out.
    assert_eq!(stub.queries(), 4, "one query per type, shared");
}

#[test]
fn a_waiter_takes_over_when_the_leader_is_dropped() {
    // Slow enough that the leader cannot finish before it is dropped, even on a busy machine.
    let slow = DnsBehavior::After(ms(300), Box::new(DnsBehavior::v4(V4, 60)));
    let stub = stub(vec![("handover.test", slow)]);
    let resolver = builder(&stub).timeout(ms(1000)).build().unwrap();
    let addrs = block_on(async {
        let leader = resolver.lookup("handover.test", in_ms(2000));
        let mut waiter = std::pin::pin!(resolver.lookup("handover.test", in_ms(2000)));
        // Both run for 20 ms (the leader asks, the waiter joins its query), then the leader
        // is dropped mid-query.
        let both = async { Some(future::zip(leader, waiter.as_mut()).await) };
        let cut = async {
            async_io::Timer::after(ms(20)).await;
            None
        };
        assert!(future::or(both, cut).await.is_none());
        assert_eq!(stub.queries(), 2, "the waiter joined the leader's queries");
        waiter.await
    });
    assert_eq!(addrs.unwrap().ipv4(), [V4]);
    assert_eq!(
        stub.queries(),
        4,
        "the leader's two queries, then the waiter's own"
    );
}

#[test]
fn dropping_a_lookup_stops_its_retries() {
    let stub = stub(vec![("dead.test", DnsBehavior::Never)]);
    let resolver = builder(&stub).timeout(ms(200)).attempts(5).build().unwrap();
    block_on(async {
        let lookup = resolver.lookup("dead.test", in_ms(5000));
        let cut = async {
            async_io::Timer::after(ms(30)).await;
            Err(DnsError::Timeout)
        };
        assert!(future::or(lookup, cut).await.is_err());
    });
    // Long enough for several retries, had anything gone on after the drop.
    std::thread::sleep(ms(700));
    assert_eq!(stub.queries(), 2, "only the first tries of A and AAAA");
}

#[test]
fn queries_in_flight_are_bounded() {
    let names: Vec<String> = (0..5).map(|i| format!("dead{i}.test")).collect();
    let stub = stub(
        names
            .iter()
            .map(|n| (n.as_str(), DnsBehavior::Never))
            .collect(),
    );
    let resolver = builder(&stub)
        .timeout(ms(1000))
        .attempts(1)
        .max_in_flight(2)
        .build()
        .unwrap();
    let deadline = in_ms(500);
    let results = block_on(async {
        let tasks: Vec<_> = names
            .iter()
            .map(|name| {
                let (resolver, name) = (resolver.clone(), name.clone());
                smol::spawn(async move { resolver.lookup(&name, deadline).await })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await);
        }
        results
    });
    for result in results {
        assert!(matches!(result, Err(DnsError::Timeout)), "{result:?}");
    }
    // Each of the two sent again once, 400 ms in, before the 500 ms deadline.
    assert_eq!(
        stub.queries(),
        4,
        "two permits, held until the shared deadline"
    );
}

#[test]
fn the_search_list_and_ndots_choose_the_names_asked() {
    let stub = stub(vec![
        ("www.corp.test", DnsBehavior::v4(V4, 60)),
        ("a.b", DnsBehavior::v4(V4, 60)),
        (
            "a.b.corp.test",
            DnsBehavior::v4(Ipv4Addr::new(10, 0, 0, 2), 60),
        ),
    ]);
    let search = builder(&stub).search(["other.test", "corp.test"]);
    let resolver = search.clone().ndots(1).build().unwrap();
    block_on(async {
        // No dot: the search list first (other.test gives NXDOMAIN), the bare name never needed.
        assert_eq!(
            resolver.lookup("www", in_ms(2000)).await.unwrap().ipv4(),
            [V4]
        );
        // One dot, ndots 1: as given first.
        assert_eq!(
            resolver.lookup("a.b", in_ms(2000)).await.unwrap().ipv4(),
            [V4]
        );
    });
    assert_eq!(stub.queries_for("www.other.test"), 2);
    assert_eq!(stub.queries_for("www"), 0);
    assert_eq!(stub.queries_for("a.b.corp.test"), 0);

    let resolver = search.ndots(2).build().unwrap();
    let addrs = block_on(resolver.lookup("a.b", in_ms(2000))).unwrap();
    assert_eq!(
        addrs.ipv4(),
        [Ipv4Addr::new(10, 0, 0, 2)],
        "ndots 2: search list first"
    );
    // A final dot: as given only.
    let err = block_on(resolver.lookup("www.", in_ms(2000))).unwrap_err();
    assert!(matches!(err, DnsError::NoSuchHost), "{err:?}");
    assert_eq!(stub.queries_for("www"), 2);
}

#[test]
fn a_closed_port_is_an_io_error_with_its_cause() {
    let port = stub::closed_port().unwrap();
    let resolver = Resolver::builder()
        .nameserver(([127, 0, 0, 1], port).into())
        .timeout(ms(200))
        .attempts(1)
        .build()
        .unwrap();
    let err = block_on(resolver.lookup("any.test", in_ms(2000))).unwrap_err();
    assert!(matches!(err, DnsError::Io(_)), "{err:?}");
    assert_eq!(err.to_string(), "i/o error");
    let source = std::error::Error::source(&err).expect("the socket error");
    let io = source.downcast_ref::<std::io::Error>().unwrap();
    assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn a_dropped_stub_stops_answering() {
    let server = stub(vec![("gone.test", DnsBehavior::v4(V4, 60))]);
    let addr = server.addr();
    drop(server);
    let resolver = Resolver::builder()
        .nameserver(addr)
        .timeout(ms(200))
        .attempts(1)
        .build()
        .unwrap();
    let err = block_on(resolver.lookup("gone.test", in_ms(2000))).unwrap_err();
    assert!(
        matches!(err, DnsError::Io(_)),
        "its port is closed: {err:?}"
    );
}

#[test]
fn bad_names_are_errors_without_a_query() {
    let stub = stub(vec![]);
    let resolver = builder(&stub).build().unwrap();
    let long = "a".repeat(64);
    for name in ["", ".", "a..b", long.as_str()] {
        let err = block_on(resolver.lookup(name, in_ms(2000))).unwrap_err();
        assert!(matches!(err, DnsError::InvalidName(_)), "{name:?}: {err:?}");
    }
    assert_eq!(stub.queries(), 0);
}

/// A file under the system's temporary directory, unique to this process and call.
fn temp_file(stem: &str, text: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path =
        std::env::temp_dir().join(format!("tulip-resolve-{}-{n}-{stem}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_lost_datagram_is_sent_again_within_the_try() {
    // A server that never answers: within one long try, each query goes out again at 400 ms
    // and 1,200 ms (the wait doubling), not only once per try.
    let stub = stub(vec![("slow.test", DnsBehavior::Never)]);
    let resolver = builder(&stub)
        .timeout(ms(1300))
        .attempts(1)
        .build()
        .unwrap();
    let result = block_on(resolver.lookup("slow.test", in_ms(1300)));
    assert!(matches!(result, Err(DnsError::Timeout)), "{result:?}");
    // Sent at 0, 400 and 1200 ms, for A and AAAA each.
    assert_eq!(stub.queries(), 6);
}

#[test]
fn a_lookups_a_and_aaaa_share_one_socket() {
    use hickory_proto::op::{Message, MessageType, ResponseCode};
    // A server of our own, to see the source port of each query.
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    server.set_read_timeout(Some(ms(2000))).unwrap();
    let addr = server.local_addr().unwrap();
    let seen = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 512];
        while seen.len() < 2 {
            let Ok((len, from)) = server.recv_from(&mut buf) else {
                break;
            };
            let mut reply = Message::from_vec(&buf[..len]).unwrap();
            seen.push((from, reply.queries[0].query_type));
            reply.metadata.message_type = MessageType::Response;
            reply.metadata.response_code = ResponseCode::NXDomain;
            server.send_to(&reply.to_vec().unwrap(), from).unwrap();
        }
        seen
    });
    let resolver = Resolver::builder()
        .nameserver(addr)
        .timeout(ms(1000))
        .attempts(1)
        .build()
        .unwrap();
    let err = block_on(resolver.lookup("gone.test", in_ms(2000))).unwrap_err();
    assert!(matches!(err, DnsError::NoSuchHost), "{err:?}");
    let seen = seen.join().unwrap();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].0, seen[1].0, "one source port: {seen:?}");
    assert_ne!(seen[0].1, seen[1].1, "A and AAAA: {seen:?}");
}

#[test]
fn lookups_sharing_a_socket_survive_the_reader_being_dropped() {
    let slow = |ms_| DnsBehavior::After(ms(ms_), Box::new(DnsBehavior::v4(V4, 60)));
    let names: Vec<String> = (0..6).map(|i| format!("slow{i}.test")).collect();
    let stub = stub(names.iter().map(|n| (n.as_str(), slow(100))).collect());
    let resolver = builder(&stub).timeout(ms(1000)).build().unwrap();
    let results = block_on(async {
        // The first lookup waits first, so it reads the socket for the others; it is dropped
        // before any reply comes.
        let first = resolver.lookup(&names[0], in_ms(2000));
        let cut = async {
            async_io::Timer::after(ms(30)).await;
            Err(DnsError::Timeout)
        };
        let rest: Vec<_> = names[1..]
            .iter()
            .map(|name| {
                let (resolver, name) = (resolver.clone(), name.clone());
                smol::spawn(async move { resolver.lookup(&name, in_ms(2000)).await })
            })
            .collect();
        assert!(future::or(first, cut).await.is_err());
        let mut results = Vec::new();
        for task in rest {
            results.push(task.await);
        }
        results
    });
    for result in results {
        assert_eq!(result.unwrap().ipv4(), [V4]);
    }
}

#[cfg(unix)]
#[test]
fn a_later_loop_on_the_same_thread_reads_a_socket_of_its_own() {
    // Answered after 50 ms, so that the reply is read on readiness: a socket registered with
    // the first loop, which has ended, would never be told, and its lookup would read the
    // reply only when its timer fires for the resend, at 400 ms.
    let late = || DnsBehavior::After(ms(50), Box::new(DnsBehavior::v4(V4, 60)));
    let stub = stub(vec![("one.test", late()), ("two.test", late())]);
    let resolver = builder(&stub)
        .timeout(ms(2000))
        .attempts(1)
        .build()
        .unwrap();
    for name in ["one.test", "two.test"] {
        let start = Instant::now();
        let addrs = fdwatch::local::block_on(resolver.lookup(name, in_ms(2000)));
        assert!(addrs.is_ok(), "{name}: {addrs:?}");
        let took = start.elapsed();
        assert!(took < ms(350), "{name} took {took:?}");
    }
}
