//! One test per way a fetch can end, against crates/stub servers that misbehave on purpose, and
//! the lenient cases that must succeed. Timeouts are generous: no assertion depends on timing
//! except that a deadline, once passed, ends the fetch.

use std::time::Duration;

use stub::{Behavior, Stub};
use tulip_headers::{FetchError, HeadError, Options, Phase, Response, Target, Version, fetch_head};

fn fetch_with(target: &str, options: &Options) -> Result<Response, FetchError> {
    let target: Target = target.parse().unwrap();
    smol::block_on(fetch_head(&target, options))
}

fn fetch(behavior: Behavior) -> Result<Response, FetchError> {
    let server = Stub::start(behavior).unwrap();
    fetch_with(&server.target(), &Options::default())
}

/// The head lines of a stub's reply, as the fetcher should report them.
fn reply_lines(behavior: &Behavior) -> Vec<String> {
    let reply = behavior.reply().unwrap();
    let text = String::from_utf8_lossy(&reply);
    // The final head is the last one before the body.
    let heads: Vec<&str> = text.split("\r\n\r\n").collect();
    heads[heads.len() - 2]
        .split("\r\n")
        .map(str::to_owned)
        .collect()
}

#[test]
fn ok_returns_the_head_as_sent() {
    let r = fetch(Behavior::Ok).unwrap();
    assert_eq!((r.head.version, r.head.status), (Version::Http11, 200));
    assert_eq!(r.head.reason, "OK");
    assert_eq!(r.head.lines, reply_lines(&Behavior::Ok));
    assert_eq!(r.head.header("server"), Some("tulip-stub"));
    assert_eq!(r.peer.ip().to_string(), "127.0.0.1");
}

#[test]
fn redirect_error_and_slow_statuses() {
    let r = fetch(Behavior::Redirect("http://example.com/".into())).unwrap();
    assert_eq!(r.head.status, 301);
    assert_eq!(r.head.header("location"), Some("http://example.com/"));
    assert_eq!(
        fetch(Behavior::Status(404)).unwrap().head.reason,
        "Not Found"
    );
    assert_eq!(fetch(Behavior::Status(500)).unwrap().head.status, 500);
    let r = fetch(Behavior::Slow(Duration::from_millis(100))).unwrap();
    assert_eq!(r.head.status, 200);
    assert!(r.elapsed >= Duration::from_millis(100));
}

#[test]
fn head_and_http11_requests_work() {
    let server = Stub::start(Behavior::Ok).unwrap();
    let options = Options {
        method: tulip_headers::Method::Head,
        version: Version::Http11,
        headers: vec!["X-Test: 1".parse().unwrap()],
        ..Options::default()
    };
    let r = fetch_with(&format!("http://{}/some/path", server.target()), &options).unwrap();
    assert_eq!(r.head.status, 200);
}

#[test]
fn timeouts_too_large_for_the_clock_mean_no_deadline() {
    let server = Stub::start(Behavior::Ok).unwrap();
    let options = Options {
        timeout: Duration::MAX,
        connect_timeout: Duration::MAX,
        ..Options::default()
    };
    assert_eq!(
        fetch_with(&server.target(), &options).unwrap().head.status,
        200
    );
}

#[test]
fn refused() {
    let port = stub::closed_port().unwrap();
    let err = fetch_with(&format!("127.0.0.1:{port}"), &Options::default()).unwrap_err();
    assert_eq!(err, FetchError::Refused);
    assert_eq!(err.to_string(), "connection refused");
}

#[test]
fn reset() {
    let err = fetch(Behavior::Reset).unwrap_err();
    assert_eq!(err, FetchError::Reset);
    assert_eq!(err.kind(), "reset");
}

#[test]
fn timeout_in_connect() {
    let Ok(hole) = stub::Unaccepting::start() else {
        eprintln!("skipped: this kernel answers connections to a full accept queue");
        return;
    };
    let options = Options {
        connect_timeout: Duration::from_millis(300),
        ..Options::default()
    };
    let err = fetch_with(&hole.target(), &options).unwrap_err();
    assert_eq!(err, FetchError::Timeout(Phase::Connect));
    assert_eq!(err.to_string(), "timeout (connect)");
}

#[test]
fn timeout_in_read_when_the_server_never_answers() {
    let server = Stub::start(Behavior::Silent).unwrap();
    let options = Options {
        timeout: Duration::from_millis(500),
        ..Options::default()
    };
    let err = fetch_with(&server.target(), &options).unwrap_err();
    assert_eq!(err, FetchError::Timeout(Phase::Read));
}

#[test]
fn a_dripping_server_cannot_stretch_the_deadline() {
    // The head is about 150 bytes at one per 100 ms: 15 s if each byte restarted a timer.
    let server = Stub::start(Behavior::Drip(Duration::from_millis(100))).unwrap();
    let options = Options {
        timeout: Duration::from_secs(1),
        ..Options::default()
    };
    let start = std::time::Instant::now();
    let err = fetch_with(&server.target(), &options).unwrap_err();
    assert_eq!(err, FetchError::Timeout(Phase::Read));
    // Generous: far below the 15 s a per-read timeout would allow.
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn not_http() {
    let err = fetch(Behavior::SshBanner).unwrap_err();
    assert_eq!(
        err,
        FetchError::Head(HeadError::NotHttp("SSH-2.0-OpenSSH_9.6p1 Debian-4".into()))
    );
    assert_eq!(
        err.to_string(),
        r#"not http: "SSH-2.0-OpenSSH_9.6p1 Debian-4""#
    );
    let err = fetch(Behavior::Garbage).unwrap_err();
    assert_eq!(err.kind(), "not-http");
    assert_eq!(
        err,
        FetchError::Head(HeadError::NotHttp(
            r"\x00\x01\x02\xff\xfe garbage \x1b[2J".into()
        ))
    );
}

#[test]
fn truncated() {
    let sent = Behavior::CloseMidHead.reply().unwrap().len();
    let err = fetch(Behavior::CloseMidHead).unwrap_err();
    assert_eq!(err, FetchError::Truncated { received: sent });
    assert_eq!(
        err.to_string(),
        format!("head cut short by end of stream after {sent} bytes")
    );
    let err = fetch(Behavior::Raw(Vec::new())).unwrap_err();
    assert_eq!(err, FetchError::Truncated { received: 0 });
    assert_eq!(err.to_string(), "connection closed before any reply");
}

#[test]
fn too_large() {
    let err = fetch(Behavior::HugeHead(100_000)).unwrap_err();
    assert_eq!(
        err,
        FetchError::Head(HeadError::TooLarge { limit: 64 * 1024 })
    );
    // A smaller cap applies too, and a head just under it is fine.
    let server = Stub::start(Behavior::HugeHead(1000)).unwrap();
    let small = |max_head_size| Options {
        max_head_size,
        ..Options::default()
    };
    assert_eq!(
        fetch_with(&server.target(), &small(512)).unwrap_err(),
        FetchError::Head(HeadError::TooLarge { limit: 512 })
    );
    assert!(fetch_with(&server.target(), &small(2048)).is_ok());
}

#[test]
fn too_many_headers() {
    let err = fetch(Behavior::ManyHeaders(150)).unwrap_err();
    assert_eq!(
        err,
        FetchError::Head(HeadError::TooManyHeaders { limit: 100 })
    );
    assert_eq!(err.to_string(), "more than 100 headers");
    // 99 plus Content-Length: exactly at the cap.
    let r = fetch(Behavior::ManyHeaders(99)).unwrap();
    assert_eq!(r.head.headers.len(), 100);
}

#[test]
fn invalid_head() {
    let err = fetch(Behavior::Invalid).unwrap_err();
    assert_eq!(
        err,
        FetchError::Head(HeadError::Invalid("invalid status".into()))
    );
    assert_eq!(err.to_string(), "invalid head: invalid status");
}

#[test]
fn dns_failure() {
    // A DNS server on loopback that knows no name: the system's may be anywhere.
    let dns = stub::DnsStub::start(Vec::<(&str, stub::DnsBehavior)>::new()).unwrap();
    let options = Options {
        resolver: tulip_headers::Resolver::builder()
            .nameserver(dns.addr())
            .build()
            .unwrap(),
        ..Options::default()
    };
    let err = fetch_with("nonexistent.test", &options).unwrap_err();
    assert_eq!(err.kind(), "dns", "{err}");
    assert_eq!(err.to_string(), "dns: no such host");
    assert!(dns.queries() > 0);
}

#[test]
fn names_resolve() {
    let server = Stub::start(Behavior::Ok).unwrap();
    let r = fetch_with(&format!("localhost:{}", server.port()), &Options::default());
    // localhost may resolve to ::1 first, where the stub does not listen: the next address wins.
    assert_eq!(r.unwrap().head.status, 200);
}

#[test]
fn lenient_heads_parse() {
    let r = fetch(Behavior::BareLf).unwrap();
    assert_eq!((r.head.version, r.head.status), (Version::Http10, 200));
    assert_eq!(
        r.head.lines,
        ["HTTP/1.0 200 OK", "Server: tulip-stub", "Content-Length: 0"]
    );

    let r = fetch(Behavior::ObsFold).unwrap();
    assert_eq!(r.head.header("x-folded"), Some("first second third"));
    assert_eq!(
        r.head.lines[2..5],
        ["X-Folded: first", "  second", r"\x09third"]
    );

    let r = fetch(Behavior::NoReason).unwrap();
    assert_eq!((r.head.status, r.head.reason.as_str()), (200, ""));

    let r = fetch(Behavior::NonAscii).unwrap();
    assert_eq!(r.head.reason, r"Tr\xe8s bien");
    assert_eq!(r.head.header("x-name"), Some(r"caf\xc3\xa9 \xff"));
    assert_eq!(r.head.lines[0], r"HTTP/1.1 200 Tr\xe8s bien");
}

#[test]
fn interim_heads_are_read_past_and_kept() {
    let r = fetch(Behavior::Continue).unwrap();
    assert_eq!(r.head.status, 200);
    assert_eq!(r.interim.len(), 1);
    assert_eq!(r.interim[0].lines, ["HTTP/1.1 100 Continue"]);
    assert_eq!(r.head.lines, reply_lines(&Behavior::Ok));
}

#[test]
fn a_flood_of_interim_heads_meets_the_size_cap_and_the_deadline() {
    // Sent at once: the cap counts the interim heads.
    let flood = b"HTTP/1.1 100 Continue\r\n\r\n".repeat(4000);
    let err = fetch(Behavior::Raw(flood)).unwrap_err();
    assert_eq!(
        err,
        FetchError::Head(HeadError::TooLarge { limit: 64 * 1024 })
    );

    // Dripped: the deadline strikes, in fetch_head and in Many alike.
    let options = Options {
        timeout: Duration::from_millis(500),
        ..Options::default()
    };
    let drip = Behavior::ContinueDrip(Duration::from_millis(20));
    let server = Stub::start(drip.clone()).unwrap();
    let err = fetch_with(&server.target(), &options).unwrap_err();
    assert_eq!(err, FetchError::Timeout(Phase::Read));

    let server = Stub::start(drip).unwrap();
    let targets = vec![server.target().parse::<Target>().unwrap()];
    let stream = tulip_headers::Many::new(&options)
        .concurrency(1)
        .fetch(targets);
    let results: Vec<_> = smol::block_on(futures_lite::StreamExt::collect(stream));
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].result, Err(FetchError::Timeout(Phase::Read)));
}

#[test]
fn a_head_of_exactly_the_cap_is_accepted_and_one_byte_more_is_not() {
    let head = |size: usize| {
        let start = b"HTTP/1.1 200 OK\r\nX-Fill: ";
        let fill = size - start.len() - 4;
        let mut b = [start.as_slice(), &vec![b'a'; fill], b"\r\n\r\n"].concat();
        b.extend_from_slice(b"body past the cap");
        b
    };
    // 3000: not a multiple of the read buffer's 1 KiB, so the last growth is clamped.
    let options = Options {
        max_head_size: 3000,
        ..Options::default()
    };
    let server = Stub::start(Behavior::Raw(head(3000))).unwrap();
    let r = fetch_with(&server.target(), &options).unwrap();
    assert_eq!(
        r.head.header("x-fill").map(str::len),
        Some(3000 - 17 - 8 - 4)
    );
    let server = Stub::start(Behavior::Raw(head(3001))).unwrap();
    let err = fetch_with(&server.target(), &options).unwrap_err();
    assert_eq!(err, FetchError::Head(HeadError::TooLarge { limit: 3000 }));
}
