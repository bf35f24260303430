//! Names with several addresses: the addresses are tried as RFC 8305 says, the next one started
//! when the last has not answered within 250 ms, so one address that never answers costs a
//! quarter of a second, not the connect timeout; the one that answered is the `peer`.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use stub::{Behavior, Stub, Unaccepting};
use tulip_headers::{FetchError, Options, Resolver, Target, fetch_head};

#[test]
fn an_address_that_never_answers_does_not_hold_up_the_next() {
    // 127.0.0.1:P swallows connections; 127.0.0.2:P answers.
    let black_hole = Unaccepting::start().unwrap();
    let port = black_hole.addr().port();
    let Ok(server) = Stub::builder(Behavior::Ok)
        .bind(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), port))
        .start()
    else {
        // Another program holds that port on 127.0.0.2: nothing to learn here.
        eprintln!("skipped: port {port} is taken on 127.0.0.2");
        return;
    };
    let resolver = Resolver::builder()
        .nameserver("127.0.0.1:9".parse().unwrap())
        .pin("two.test", port, [127, 0, 0, 1].into())
        .pin("two.test", port, [127, 0, 0, 2].into())
        .build()
        .unwrap();
    let options = Options {
        resolver,
        connect_timeout: Duration::from_secs(5),
        ..Options::default()
    };
    let target: Target = format!("http://two.test:{port}/").parse().unwrap();
    let response = smol::block_on(fetch_head(&target, &options)).unwrap();
    assert_eq!(response.head.status, 200);
    assert_eq!(response.peer, server.addr());
    assert!(
        response.elapsed < Duration::from_secs(2),
        "{:?}",
        response.elapsed
    );
}

#[test]
fn every_address_failing_gives_the_last_failure() {
    let closed = stub::closed_port().unwrap();
    let resolver = Resolver::builder()
        .nameserver("127.0.0.1:9".parse().unwrap())
        .pin("none.test", closed, [127, 0, 0, 1].into())
        .pin("none.test", closed, [127, 0, 0, 3].into())
        .build()
        .unwrap();
    let options = Options {
        resolver,
        ..Options::default()
    };
    let target: Target = format!("http://none.test:{closed}/").parse().unwrap();
    let err = smol::block_on(fetch_head(&target, &options)).unwrap_err();
    assert_eq!(err, FetchError::Refused);
}
