//! What an outcome says of the server's certificate and of the time each phase took: the leaf's
//! facts for a good certificate (under an intermediate too), for refused ones (expired, another
//! name, an unknown issuer) and with `--insecure`; `expires_within` on both sides of the line;
//! and the timings of fetches that succeeded or stopped part way.

use std::time::{Duration, SystemTime};

use futures_lite::StreamExt;
use futures_lite::future::block_on;
use stub::{Behavior, CertSpec, Identity, Stub, TestCa};
use tulip_headers::{
    FetchError, Many, Options, Outcome, Phase, Target, TlsConfig, TlsError, fetch,
};

const DAY: Duration = Duration::from_secs(86_400);
const HOUR: Duration = Duration::from_secs(3_600);

fn trusting(ca: &TestCa) -> Options {
    Options {
        tls: TlsConfig::from_pem(ca.pem().as_bytes()).unwrap(),
        timeout: Duration::from_secs(20),
        ..Options::default()
    }
}

fn fetch_from(server: &Stub, options: &Options) -> Outcome {
    let target: Target = server.target().parse().unwrap();
    block_on(fetch(&target, options))
}

fn serve(identity: &Identity) -> Stub {
    Stub::start_tls(Behavior::Ok, identity).unwrap()
}

fn sha256(identity: &Identity) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, identity.leaf_der());
    digest.as_ref().try_into().unwrap()
}

#[test]
fn a_good_certificate_under_an_intermediate_shows_its_facts() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let intermediate = ca.intermediate("tulip intermediate CA").unwrap();
    let spec = CertSpec::new(&["127.0.0.1", "www.example.test"])
        .common_name("www.example.test")
        .organization("Example Org")
        .expires_in(30 * DAY + HOUR);
    let identity = intermediate.issue(&spec).unwrap();
    let server = serve(&identity);
    let outcome = fetch_from(&server, &trusting(&ca));
    assert_eq!(outcome.result.unwrap().head.status, 200);
    let cert = outcome.cert.expect("the certificate's facts");
    assert_eq!(cert.subject, "CN=www.example.test, O=Example Org");
    assert_eq!(cert.issuer, "CN=tulip intermediate CA");
    assert_eq!(cert.sans, ["127.0.0.1", "www.example.test"]);
    assert_eq!(cert.days_left, 30);
    assert_eq!(cert.chain_len, 2);
    assert_eq!(cert.sha256, sha256(&identity));
    assert_eq!(cert.sha256_hex().len(), 64);
    let left = cert.not_after.duration_since(SystemTime::now()).unwrap();
    assert!(left > 30 * DAY && left <= 30 * DAY + HOUR, "{left:?}");
    let valid = cert.not_after.duration_since(cert.not_before).unwrap();
    assert_eq!(valid, 31 * DAY + HOUR);
}

#[test]
fn refused_certificates_still_show_their_facts() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let options = trusting(&ca);

    let expired = ca
        .issue_spec(&CertSpec::new(&["127.0.0.1"]).expired_since(3 * DAY + HOUR))
        .unwrap();
    let outcome = fetch_from(&serve(&expired), &options);
    assert_eq!(outcome.result, Err(FetchError::Tls(TlsError::Expired)));
    let cert = outcome.cert.expect("an expired certificate's facts");
    // Expired 3 days and an hour ago: the fourth day after.
    assert_eq!(cert.days_left, -4);
    assert_eq!(cert.sha256, sha256(&expired));
    assert_eq!(cert.chain_len, 1);

    let elsewhere = ca.issue(&["other.example"]).unwrap();
    let outcome = fetch_from(&serve(&elsewhere), &options);
    assert_eq!(outcome.result.unwrap_err().kind(), "name-mismatch");
    let cert = outcome.cert.expect("a wrong name's facts");
    assert_eq!(cert.sans, ["other.example"]);
    assert_eq!(cert.subject, "CN=other.example");

    let stranger = TestCa::new("nobody trusts me").unwrap();
    let unknown = stranger.issue(&["127.0.0.1"]).unwrap();
    let outcome = fetch_from(&serve(&unknown), &options);
    assert_eq!(
        outcome.result,
        Err(FetchError::Tls(TlsError::UnknownIssuer))
    );
    assert_eq!(outcome.cert.unwrap().issuer, "CN=nobody trusts me");
}

#[test]
fn insecure_fetches_show_the_certificate_too() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let expired = ca.issue_expired(&["other.example"]).unwrap();
    let options = Options {
        tls: TlsConfig::insecure(),
        ..Options::default()
    };
    let outcome = fetch_from(&serve(&expired), &options);
    assert_eq!(outcome.result.unwrap().head.status, 200);
    let cert = outcome.cert.unwrap();
    let left = (cert.days_left, cert.time_left());
    assert_eq!(left, (-31, "expired 30 days ago".to_owned()));
    assert_eq!(cert.subject, "CN=other.example");
}

#[test]
fn expires_within_fails_exactly_the_certificates_inside_the_line() {
    let ca = TestCa::new("tulip test CA").unwrap();
    // Ten days and an hour left.
    let soon = ca
        .issue_spec(&CertSpec::new(&["127.0.0.1"]).expires_in(10 * DAY + HOUR))
        .unwrap();
    let server = serve(&soon);
    let within = |days: u32| Options {
        expires_within: Some(days * DAY),
        ..trusting(&ca)
    };

    let outside = fetch_from(&server, &within(10));
    assert_eq!(outside.result.unwrap().head.status, 200);

    let inside = fetch_from(&server, &within(11));
    let err = inside.result.unwrap_err();
    assert_eq!(
        err,
        FetchError::Tls(TlsError::ExpiresSoon { days_left: 10 })
    );
    assert_eq!(err.kind(), "expires-soon");
    assert_eq!(err.to_string(), "certificate expires in 10 days");
    assert_eq!(inside.cert.unwrap().days_left, 10);
    // The handshake completed; no reply was waited for.
    assert!(inside.timings.tls.is_some());
    assert_eq!(inside.timings.first_byte, None);

    // Without verification, an expired certificate is inside any line.
    let expired = serve(&ca.issue_expired(&["127.0.0.1"]).unwrap());
    let options = Options {
        tls: TlsConfig::insecure(),
        ..within(0)
    };
    let err = fetch_from(&expired, &options).result.unwrap_err();
    assert_eq!(err.to_string(), "certificate expired 30 days ago");
}

#[test]
fn timings_cover_each_phase_reached() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let server = serve(&ca.issue(&["127.0.0.1", "localhost"]).unwrap());
    let outcome = fetch_from(&server, &trusting(&ca));
    assert!(outcome.result.is_ok());
    let t = outcome.timings;
    // An IP literal: no DNS.
    assert_eq!(t.dns, None);
    let phases = [t.connect, t.tls, t.first_byte].map(|p| p.expect("every phase completed"));
    assert!(phases.iter().sum::<Duration>() <= outcome.elapsed);

    // A name goes through the resolver (the hosts file knows localhost).
    let by_name: Target = format!("https://localhost:{}/", server.port())
        .parse()
        .unwrap();
    let outcome = block_on(fetch(&by_name, &trusting(&ca)));
    assert!(outcome.result.is_ok(), "{:?}", outcome.result);
    assert!(outcome.timings.dns.is_some());

    // Plain HTTP has no TLS phase.
    let plain = Stub::start(Behavior::Ok).unwrap();
    let outcome = fetch_from(&plain, &Options::default());
    assert!(outcome.result.is_ok());
    assert_eq!(outcome.timings.tls, None);
    assert!(outcome.timings.connect.is_some() && outcome.timings.first_byte.is_some());
    assert_eq!(outcome.cert, None);
}

#[test]
fn a_failed_fetch_has_the_timings_of_the_phases_it_completed() {
    // Accepts, never answers the ClientHello: connected, then stuck in the handshake.
    let silent = Stub::start(Behavior::Silent).unwrap();
    let target: Target = format!("https://{}", silent.target()).parse().unwrap();
    let options = Options {
        timeout: Duration::from_millis(300),
        tls: TlsConfig::insecure(),
        ..Options::default()
    };
    let outcome = block_on(fetch(&target, &options));
    assert_eq!(outcome.result, Err(FetchError::Timeout(Phase::Tls)));
    assert!(outcome.timings.connect.is_some());
    assert_eq!(
        (outcome.timings.tls, outcome.timings.first_byte),
        (None, None)
    );
    assert_eq!(outcome.cert, None);

    // Refused: not even connected.
    let outcome = block_on(fetch(&"https://127.0.0.1:1".parse().unwrap(), &options));
    assert_eq!(outcome.result.unwrap_err().kind(), "refused");
    assert_eq!(outcome.timings, Default::default());
}

/// Many connections to one server resume the first session, without a certificate on the wire:
/// each outcome still has the facts (rustls keeps the chain with the session).
#[test]
fn every_outcome_of_many_has_the_certificate() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let identity = ca.issue(&["127.0.0.1"]).unwrap();
    let server = serve(&identity);
    let options = trusting(&ca);
    let targets: Vec<Target> = (0..8).map(|_| server.target().parse().unwrap()).collect();
    let outcomes: Vec<Outcome> = block_on(
        Many::new(&options)
            .concurrency(2)
            .fetch(targets)
            .collect::<Vec<_>>(),
    );
    assert_eq!(outcomes.len(), 8);
    for outcome in outcomes {
        assert!(outcome.result.is_ok());
        assert_eq!(outcome.cert.unwrap().sha256, sha256(&identity));
    }
}
