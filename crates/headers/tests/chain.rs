//! Following redirects in the library: one deadline for the whole chain (the hops fetched before
//! it struck are kept), the cap, and `Many` following chains for many targets at once.

use std::time::{Duration, Instant};

use futures_lite::StreamExt;
use futures_lite::future::block_on;
use stub::{Behavior, Stub};
use tulip_headers::{FetchError, Many, Options, Phase, RedirectError, Target, fetch};

#[test]
fn one_deadline_covers_the_whole_chain_and_keeps_the_hops() {
    let silent = Stub::start(Behavior::Silent).unwrap();
    let second = Stub::start(Behavior::Redirect(silent.url())).unwrap();
    let first = Stub::start(Behavior::Moved(302, second.url())).unwrap();
    let target: Target = first.target().parse().unwrap();
    let options = Options {
        timeout: Duration::from_millis(800),
        max_redirects: Some(10),
        ..Options::default()
    };
    let started = Instant::now();
    let chain = block_on(fetch(&target, &options));
    assert_eq!(chain.result, Err(FetchError::Timeout(Phase::Read)));
    let statuses: Vec<u16> = chain
        .redirects
        .iter()
        .map(|h| h.response.head.status)
        .collect();
    assert_eq!(statuses, [302, 301]);
    assert_eq!(chain.redirects[1].target.url(), second.url());
    assert_eq!(chain.redirected_to.unwrap().url(), silent.url());
    // The deadline is the chain's, not one per hop (generous bound for a loaded machine).
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(chain.elapsed >= Duration::from_millis(800));
}

#[test]
fn the_cap_counts_redirects_followed() {
    let looping = Stub::start(Behavior::Route(
        (0..20)
            .map(|i| (format!("/{i}"), Behavior::Redirect(format!("/{}", i + 1))))
            .collect(),
    ))
    .unwrap();
    let target: Target = format!("{}0", looping.url()).parse().unwrap();
    for limit in [0, 1, 3] {
        let options = Options {
            max_redirects: Some(limit),
            ..Options::default()
        };
        let chain = block_on(fetch(&target, &options));
        assert_eq!(
            chain.result,
            Err(FetchError::Redirect(RedirectError::TooMany { limit }))
        );
        // The cap's worth of redirects followed, plus the one that went past it.
        assert_eq!(chain.redirects.len(), limit + 1);
        let next = chain.redirected_to.unwrap();
        assert_eq!(next.path(), format!("/{}", limit + 1));
    }
}

#[test]
fn fetch_many_follows_each_targets_chain() {
    let end = Stub::start(Behavior::Ok).unwrap();
    let moved = Stub::start(Behavior::Moved(308, end.url())).unwrap();
    let looping = Stub::start(Behavior::Redirect("/".into())).unwrap();
    let targets: Vec<Target> = [moved.target(), end.target(), looping.target()]
        .iter()
        .cycle()
        .take(30)
        .map(|t| t.parse().unwrap())
        .collect();
    let options = Options {
        max_redirects: Some(5),
        ..Options::default()
    };
    let mut results: Vec<_> = block_on(Many::new(&options).concurrency(8).fetch(targets).collect());
    results.sort_by_key(|f| f.index);
    assert_eq!(results.len(), 30);
    for fetched in results {
        match fetched.index % 3 {
            0 => {
                assert_eq!(fetched.redirects.len(), 1);
                assert_eq!(fetched.result.unwrap().head.status, 200);
                assert_eq!(fetched.redirected_to.unwrap().url(), end.url());
            }
            1 => {
                assert!(fetched.redirects.is_empty());
                assert!(fetched.redirected_to.is_none());
                assert_eq!(fetched.result.unwrap().head.status, 200);
            }
            _ => {
                assert_eq!(fetched.result.unwrap_err().kind(), "redirect-loop");
                assert_eq!(fetched.redirects.len(), 1);
            }
        }
    }
}

/// A stub that answers `/` with a 302 to `/next` (same origin) and `/next` with `200 OK`, and
/// keeps every request it read.
fn recording_server() -> Stub {
    let routes = vec![
        ("/".into(), Behavior::Moved(302, "/next".into())),
        ("/next".into(), Behavior::Ok),
    ];
    Stub::builder(Behavior::Route(routes))
        .record()
        .start()
        .unwrap()
}

/// The requests `server` read, as text.
fn requests_of(server: &Stub) -> Vec<String> {
    let requests = server.requests().into_iter();
    requests.map(|r| String::from_utf8(r).unwrap()).collect()
}

#[test]
fn credentials_go_only_to_the_input_targets_origin() {
    let headers = ["Authorization: Bearer secret", "Cookie: id=1", "X-Trace: 7"]
        .map(|h| tulip_headers::Header::parse(h).unwrap())
        .to_vec();
    let options = Options {
        headers,
        max_redirects: Some(5),
        ..Options::default()
    };

    // Same origin: every hop carries them.
    let server = recording_server();
    let target: Target = server.url().parse().unwrap();
    let chain = block_on(fetch(&target, &options));
    assert_eq!(chain.result.unwrap().head.status, 200);
    let requests = requests_of(&server);
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert!(
            request.contains("\r\nAuthorization: Bearer secret\r\n"),
            "{request}"
        );
        assert!(request.contains("\r\nCookie: id=1\r\n"), "{request}");
    }
    assert!(requests[1].starts_with("GET /next "));

    // Another origin (another port): the credentials stay behind, other headers go along.
    let server = recording_server();
    let moved = Stub::start(Behavior::Moved(307, server.url())).unwrap();
    let target: Target = moved.target().parse().unwrap();
    let chain = block_on(fetch(&target, &options));
    assert_eq!(chain.result.unwrap().head.status, 200);
    assert_eq!(chain.redirects.len(), 2);
    let requests = requests_of(&server);
    assert_eq!(requests.len(), 2);
    for request in requests {
        assert!(!request.contains("Authorization"), "{request}");
        assert!(!request.contains("Cookie"), "{request}");
        assert!(request.contains("\r\nX-Trace: 7\r\n"), "{request}");
    }
}

#[test]
fn a_loop_back_to_the_input_target_written_another_way_is_seen_at_once() {
    let looping = Stub::start(Behavior::Redirect("/".into())).unwrap();
    let options = Options {
        max_redirects: Some(10),
        ..Options::default()
    };
    // `/a/../` is `/` once resolved: the first redirect already comes back to it.
    for input in [
        format!("{}a/../", looping.url()),
        format!("HTTP://127.0.0.1:{}/./", looping.port()),
    ] {
        let target: Target = input.parse().unwrap();
        let chain = block_on(fetch(&target, &options));
        assert_eq!(
            chain.result,
            Err(FetchError::Redirect(RedirectError::Loop {
                url: looping.url()
            })),
            "{input}"
        );
        assert_eq!(chain.redirects.len(), 1, "{input}");
    }
}

#[test]
fn a_location_with_bytes_outside_printable_ascii_is_refused_not_mangled() {
    let options = Options {
        max_redirects: Some(10),
        ..Options::default()
    };
    for (location, shown) in [
        (&b"/caf\xc3\xa9"[..], r"/caf\xc3\xa9"),
        (b"/a\tb", r"/a\x09b"),
        (b"/a\\b", r"/a\b"),
    ] {
        let mut reply = b"HTTP/1.1 302 Found\r\nLocation: ".to_vec();
        reply.extend_from_slice(location);
        reply.extend_from_slice(b"\r\n\r\n");
        let server = Stub::start(Behavior::Raw(reply)).unwrap();
        let target: Target = server.target().parse().unwrap();
        let chain = block_on(fetch(&target, &options));
        let err = chain.result.unwrap_err();
        assert_eq!(err.kind(), "bad-redirect", "{shown}");
        assert!(err.to_string().contains(shown), "{err}");
        assert_eq!(chain.redirects.len(), 1);
        assert_eq!(chain.redirected_to.unwrap().url(), server.url());
    }
}

#[test]
fn hops_each_within_the_timeout_cannot_stretch_the_chain_past_it() {
    // Every request `/N` is answered after 400 ms with a redirect to `/N+1`, up to `/5` (200).
    let hop = Duration::from_millis(400);
    let mut routes: Vec<(String, Behavior)> = (0..5)
        .map(|n| {
            let next = Behavior::Moved(302, format!("/{}", n + 1));
            (format!("/{n}"), Behavior::Delay(hop, Box::new(next)))
        })
        .collect();
    routes.push(("/5".into(), Behavior::Slow(hop)));
    let server = Stub::start(Behavior::Route(routes)).unwrap();
    let url = format!("{}0", server.url());
    let target: Target = url.parse().unwrap();
    let options = Options {
        timeout: Duration::from_millis(1000),
        max_redirects: Some(10),
        ..Options::default()
    };
    let chain = block_on(fetch(&target, &options));
    // Five hops of 400 ms each: one deadline of 1 s for the chain strikes before the end (a
    // deadline per hop would let the chain reach its 200). A slower machine only strikes sooner.
    assert!(
        matches!(chain.result, Err(FetchError::Timeout(_))),
        "{:?}",
        chain.result
    );
    assert!(chain.redirects.len() < 5, "{}", chain.redirects.len());
    assert!(chain.elapsed >= Duration::from_millis(1000));
}

#[test]
fn a_location_with_credentials_is_not_followed_and_its_password_is_not_repeated() {
    let options = Options {
        max_redirects: Some(10),
        ..Options::default()
    };
    // Would answer, if the chain went there.
    let elsewhere = Stub::start(Behavior::Ok).unwrap();
    let host = elsewhere.addr();
    for (location, shown) in [
        (
            format!("http://user:s3cret@{host}/"),
            format!("http://user:***@{host}/"),
        ),
        (
            format!("//user:s3cret@{host}/x"),
            format!("//user:***@{host}/x"),
        ),
        // The url crate takes the last `@` of the authority as its end.
        (
            format!("https://user:s3c@ret@{host}/"),
            format!("https://user:***@{host}/"),
        ),
        // An `@` in the path is not the end of the user info.
        (
            format!("http://user:s3cret@{host}/~me@x"),
            format!("http://user:***@{host}/~me@x"),
        ),
        // A user name alone is no secret, and stays.
        (
            format!("http://user@{host}/"),
            format!("http://user@{host}/"),
        ),
    ] {
        let server = Stub::start(Behavior::Moved(302, location.clone())).unwrap();
        let target: Target = server.target().parse().unwrap();
        let chain = block_on(fetch(&target, &options));
        let err = chain.result.unwrap_err();
        assert_eq!(err.kind(), "bad-redirect", "{location}");
        let message = err.to_string();
        assert!(!message.contains("s3c"), "{message}");
        assert_eq!(
            message,
            format!(
                "cannot follow redirect to \"{shown}\": user info (user@host) is not supported"
            )
        );
        assert_eq!(chain.redirects.len(), 1);
        assert_eq!(chain.redirected_to.unwrap().url(), server.url());
    }
    // Never followed: no credentials (as Authorization or otherwise) went anywhere.
    assert_eq!(elsewhere.accepted(), 0);
}
