//! `https://` targets against TLS stub servers whose certificates a test CA (rcgen) made: a
//! verified fetch, each TLS failure kind, `--insecure`, and the connect timeout covering the
//! handshake.

use std::time::Duration;

use futures_lite::future::block_on;
use stub::{AlertDescription, Behavior, Stub, TestCa};
use tulip_headers::{FetchError, Options, Phase, Target, TlsConfig, TlsError, fetch_head};

fn trusting(ca: &TestCa) -> Options {
    Options {
        tls: TlsConfig::from_pem(ca.pem().as_bytes()).unwrap(),
        timeout: Duration::from_secs(20),
        ..Options::default()
    }
}

fn fetch(stub: &Stub, options: &Options) -> Result<tulip_headers::Response, FetchError> {
    let target: Target = stub.target().parse().unwrap();
    block_on(fetch_head(&target, options))
}

#[test]
fn a_trusted_certificate_for_the_ip_gives_the_head_and_the_tls_details() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let id = ca.issue(&["127.0.0.1", "localhost"]).unwrap();
    let server = Stub::start_tls(Behavior::Ok, &id).unwrap();
    let response = fetch(&server, &trusting(&ca)).unwrap();
    assert_eq!(response.head.status, 200);
    assert_eq!(response.head.lines[0], "HTTP/1.1 200 OK");
    let tls = response.tls.unwrap();
    assert_eq!(tls.version, "TLSv1.3");
    assert_eq!(tls.alpn, Some("http/1.1"));

    // By name too: SNI and verification against the DNS name.
    let by_name: Target = format!("https://localhost:{}/x", server.port())
        .parse()
        .unwrap();
    let response = block_on(fetch_head(&by_name, &trusting(&ca))).unwrap();
    assert_eq!(response.head.status, 200);
}

#[test]
fn each_tls_failure_has_its_kind() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let other_ca = TestCa::new("nobody trusts me").unwrap();
    let options = trusting(&ca);

    let unknown = Stub::start_tls(Behavior::Ok, &other_ca.issue(&["127.0.0.1"]).unwrap()).unwrap();
    assert_eq!(
        fetch(&unknown, &options),
        Err(FetchError::Tls(TlsError::UnknownIssuer))
    );

    let expired = ca.issue_expired(&["127.0.0.1"]).unwrap();
    let expired = Stub::start_tls(Behavior::Ok, &expired).unwrap();
    assert_eq!(
        fetch(&expired, &options),
        Err(FetchError::Tls(TlsError::Expired))
    );

    let other_name = ca.issue(&["other.example"]).unwrap();
    let other_name = Stub::start_tls(Behavior::Ok, &other_name).unwrap();
    let err = fetch(&other_name, &options).unwrap_err();
    assert_eq!(
        err,
        FetchError::Tls(TlsError::NameMismatch {
            expected: "127.0.0.1".into()
        })
    );
    assert_eq!(err.kind(), "name-mismatch");
    assert_eq!(
        err.to_string(),
        "tls: certificate is not valid for 127.0.0.1"
    );

    // A trusted CA's own certificate as the server's (what `openssl req -x509` makes).
    let ca_as_leaf = Stub::start_tls(Behavior::Ok, &ca.as_identity()).unwrap();
    let err = fetch(&ca_as_leaf, &options).unwrap_err();
    assert_eq!(err.kind(), "bad-certificate");
    assert_eq!(
        err.to_string(),
        "tls: bad certificate: ca used as end entity"
    );

    // A plain HTTP server on the port: it answers the ClientHello with a 400.
    let plain = Stub::start(Behavior::Rejecting).unwrap();
    let target: Target = format!("https://{}", plain.target()).parse().unwrap();
    let err = block_on(fetch_head(&target, &options)).unwrap_err();
    assert_eq!(
        err,
        FetchError::Tls(TlsError::NotTls("HTTP/1.1 400 Bad Request".into()))
    );
    assert_eq!(err.kind(), "not-tls");

    // Bytes that are no protocol at all.
    let garbage = Stub::start(Behavior::SshBanner).unwrap();
    let target: Target = format!("https://{}", garbage.target()).parse().unwrap();
    let err = block_on(fetch_head(&target, &options)).unwrap_err();
    assert_eq!(err.kind(), "not-tls", "{err}");
}

#[test]
fn insecure_accepts_any_certificate() {
    let nobody = TestCa::new("nobody trusts me").unwrap();
    let id = nobody.issue(&["other.example"]).unwrap();
    let server = Stub::start_tls(Behavior::Status(404), &id).unwrap();
    let options = Options {
        tls: TlsConfig::insecure(),
        ..Options::default()
    };
    assert_eq!(fetch(&server, &options).unwrap().head.status, 404);
    // Mozilla's roots do not know the test CA.
    assert_eq!(
        fetch(&server, &Options::default()),
        Err(FetchError::Tls(TlsError::UnknownIssuer))
    );
}

/// A server that accepts and never answers the ClientHello: the connect timeout strikes in
/// the TLS phase.
#[test]
fn the_connect_timeout_covers_the_handshake() {
    let silent = Stub::start(Behavior::Silent).unwrap();
    let target: Target = format!("https://{}", silent.target()).parse().unwrap();
    let options = Options {
        connect_timeout: Duration::from_millis(300),
        timeout: Duration::from_secs(30),
        tls: TlsConfig::insecure(),
        ..Options::default()
    };
    let err = block_on(fetch_head(&target, &options)).unwrap_err();
    assert_eq!(err, FetchError::Timeout(Phase::Tls));
    assert_eq!(err.to_string(), "timeout (tls)");
}

#[test]
fn a_request_larger_than_rustls_buffer_goes_out_whole() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let id = ca.issue(&["127.0.0.1"]).unwrap();
    // Answers only once it has read a whole head, and keeps it.
    let server = Stub::builder(Behavior::Ok)
        .tls(&id)
        .record()
        .start()
        .unwrap();
    let mut options = trusting(&ca);
    // Over rustls' default 64 KiB limit for data written before the handshake ends.
    let big = "x".repeat(100 * 1024);
    options
        .headers
        .push(tulip_headers::Header::new("X-Big", &big).unwrap());
    let target: Target = server.target().parse().unwrap();
    let sent = tulip_headers::build_request(&target, &options);
    let response = block_on(fetch_head(&target, &options)).unwrap();
    assert_eq!(response.head.status, 200);
    assert_eq!(server.requests(), [sent]);
}

#[test]
fn insecure_still_checks_that_the_server_holds_the_certificates_key() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let cert = ca.issue(&["127.0.0.1"]).unwrap();
    let impostor = cert.with_key_of(&ca.issue(&["127.0.0.1"]).unwrap());
    let server = Stub::start_tls(Behavior::Ok, &impostor).unwrap();
    let options = Options {
        tls: TlsConfig::insecure(),
        timeout: Duration::from_secs(20),
        ..Options::default()
    };
    let err = fetch(&server, &options).unwrap_err();
    assert_eq!(err.kind(), "bad-certificate", "{err}");
    assert_eq!(err.to_string(), "tls: bad certificate: bad signature");
}

#[test]
fn an_alert_after_the_handshake_is_a_tls_error_that_names_it() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let id = ca.issue(&["127.0.0.1"]).unwrap();
    for (alert, name) in [
        (AlertDescription::InternalError, "internal error"),
        (
            AlertDescription::CertificateRequired,
            "certificate required",
        ),
    ] {
        let server = Stub::start_tls(Behavior::TlsAlert(alert), &id).unwrap();
        let err = fetch(&server, &trusting(&ca)).unwrap_err();
        assert_eq!(err, FetchError::Tls(TlsError::Alert(name.to_owned())));
        assert_eq!(err.kind(), "tls-alert");
        assert_eq!(err.to_string(), format!("tls: peer sent alert: {name}"));
    }
}

#[test]
fn an_alert_during_the_handshake_is_a_handshake_failure_that_names_it() {
    // A plain stub answering the ClientHello with a bare fatal alert record.
    let server = Stub::start(Behavior::TlsAlert(AlertDescription::HandshakeFailure)).unwrap();
    let target: Target = format!("https://{}/", server.addr()).parse().unwrap();
    let err = block_on(fetch_head(&target, &Options::default())).unwrap_err();
    assert_eq!(err.kind(), "handshake", "{err}");
    assert_eq!(
        err.to_string(),
        "tls: handshake failed: peer sent alert: handshake failure"
    );
}

#[test]
fn a_record_that_does_not_decrypt_after_the_handshake_is_a_tls_error() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let id = ca.issue(&["127.0.0.1"]).unwrap();
    let server = Stub::start_tls(Behavior::BadRecord, &id).unwrap();
    let err = fetch(&server, &trusting(&ca)).unwrap_err();
    assert_eq!(err.kind(), "tls-protocol", "{err}");
    assert_eq!(
        err.to_string(),
        "tls: protocol error after the handshake: cannot decrypt peer's message"
    );
}

#[test]
fn a_tls_server_closing_without_close_notify_mid_head_is_a_truncated_head() {
    let ca = TestCa::new("tulip test CA").unwrap();
    let id = ca.issue(&["127.0.0.1"]).unwrap();
    let part = b"HTTP/1.1 200 OK\r\nServer: tulip-stub\r\nContent-Ty".to_vec();
    let len = part.len();
    // With and without close_notify: the same as plain HTTP's end of stream.
    for behavior in [
        Behavior::RawNoCloseNotify(part.clone()),
        Behavior::Raw(part),
    ] {
        let server = Stub::start_tls(behavior.clone(), &id).unwrap();
        let err = fetch(&server, &trusting(&ca)).unwrap_err();
        assert_eq!(err, FetchError::Truncated { received: len }, "{behavior:?}");
        assert_eq!(
            err.to_string(),
            format!("head cut short by end of stream after {len} bytes")
        );
    }
    // Nothing at all before the end.
    let server = Stub::start_tls(Behavior::RawNoCloseNotify(Vec::new()), &id).unwrap();
    let err = fetch(&server, &trusting(&ca)).unwrap_err();
    assert_eq!(err.to_string(), "connection closed before any reply");
}
