//! fetch-headers with `https://` targets and `-L`: TLS stub servers whose certificates a test CA
//! makes at run time (rcgen; its PEM written to a temporary file for `--cacert`), each TLS
//! failure, `--insecure`, redirect chains (across servers, relative, http to https, a loop, past
//! `--max-redirects`), and nginx serving TLS on loopback with a certificate made here.

use std::path::PathBuf;

use stub::{AlertDescription, Behavior, Identity, Stub, TestCa};

use crate::fetch_headers::{JSON, start};
use crate::fixture::{TempDir, cmd};

/// A test CA, a certificate it issued for 127.0.0.1 and localhost, and the CA's PEM in a file.
struct Pki {
    ca: TestCa,
    identity: Identity,
    dir: TempDir,
}

impl Pki {
    fn new(name: &str) -> Pki {
        let ca = TestCa::new("tulip test CA").unwrap();
        let identity = ca.issue(&["127.0.0.1", "localhost"]).unwrap();
        let dir = TempDir::new(name);
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Pki { ca, identity, dir }
    }

    fn cacert(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    fn serve(&self, behavior: Behavior) -> Stub {
        Stub::start_tls(behavior, &self.identity).unwrap()
    }
}

/// `URL/NAME`: the name survives the port redaction and says which is which.
fn named(stub: &Stub, name: &str) -> String {
    format!("{}{name}", stub.url())
}

#[test]
fn https_with_cacert() {
    let pki = Pki::new("https");
    let ok = pki.serve(Behavior::Ok);
    let missing = pki.serve(Behavior::Status(404));
    snapshot!(
        "https_cacert",
        cmd("fetch-headers")
            .args(["--order", "input", "--cacert"])
            .arg(pki.cacert())
            .args([
                &named(&ok, "by-ip"),
                // By name: SNI, and the certificate checked against the name.
                &format!("https://localhost:{}/by-name", ok.port()),
                &named(&missing, "missing"),
            ])
    );
    snapshot!(
        "https_json",
        cmd("fetch-headers")
            .args(["--json", "--cacert"])
            .arg(pki.cacert())
            .arg(named(&ok, "json")),
        JSON
    );
}

/// One target per TLS failure kind, each with its `HOST error > MESSAGE` line and counted by
/// kind in the summary; the good one still comes through.
#[test]
fn each_tls_failure_kind() {
    let pki = Pki::new("tls-failures");
    let stranger = TestCa::new("a CA nobody trusts").unwrap();
    let unknown = Stub::start_tls(
        Behavior::Ok,
        &stranger.issue(&["127.0.0.1", "localhost"]).unwrap(),
    )
    .unwrap();
    let expired = Stub::start_tls(
        Behavior::Ok,
        &pki.ca.issue_expired(&["127.0.0.1", "localhost"]).unwrap(),
    )
    .unwrap();
    let other_name =
        Stub::start_tls(Behavior::Ok, &pki.ca.issue(&["other.example"]).unwrap()).unwrap();
    let plaintext = start(Behavior::Rejecting);
    let garbage = start(Behavior::SshBanner);
    let ok = pki.serve(Behavior::Ok);
    snapshot!(
        "tls_failures",
        cmd("fetch-headers")
            .args(["--order", "input", "--timeout", "20", "--cacert"])
            .arg(pki.cacert())
            .args([
                &named(&unknown, "unknown-issuer"),
                &named(&expired, "expired"),
                &named(&other_name, "name-mismatch"),
                &format!("https://localhost:{}/name-mismatch", other_name.port()),
                &format!("https://{}/plaintext", plaintext.target()),
                &format!("https://{}/garbage", garbage.target()),
                &named(&ok, "ok"),
            ])
    );
}

/// Failures after the handshake, while reading the head: a fatal alert and a record that does
/// not decrypt are TLS failures with their own kinds (not I/O errors); a server closing without
/// close_notify mid-head is a head cut short, as over plain HTTP.
#[test]
fn tls_failures_after_the_handshake() {
    let pki = Pki::new("tls-after-handshake");
    let alert = pki.serve(Behavior::TlsAlert(AlertDescription::InternalError));
    let bad_record = pki.serve(Behavior::BadRecord);
    let cut = pki.serve(Behavior::RawNoCloseNotify(
        b"HTTP/1.1 200 OK\r\nServer: tulip-stub\r\nContent-Ty".to_vec(),
    ));
    snapshot!(
        "tls_failures_after_handshake",
        cmd("fetch-headers")
            .args(["--order", "input", "--timeout", "20", "--cacert"])
            .arg(pki.cacert())
            .args([
                &named(&alert, "alert"),
                &named(&bad_record, "bad-record"),
                &named(&cut, "no-close-notify"),
            ])
    );
}

/// Without `--cacert` the test CA is unknown (Mozilla's roots); `-k` accepts it and says so.
#[test]
fn insecure_skips_verification_and_says_so() {
    let pki = Pki::new("insecure");
    let ok = pki.serve(Behavior::Ok);
    snapshot!(
        "https_mozilla_roots",
        cmd("fetch-headers").arg(named(&ok, "default-roots"))
    );
    snapshot!(
        "https_insecure",
        cmd("fetch-headers").args(["-k", &named(&ok, "insecure")])
    );
}

#[test]
fn bad_cacert_is_a_usage_error() {
    let dir = TempDir::new("bad-cacert");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello\n").unwrap();
    snapshot!(
        "cacert_not_pem",
        cmd("fetch-headers")
            .arg("--cacert")
            .arg(&not_pem)
            .arg("https://127.0.0.1/")
    );
    // Cut short: the missing END line is named in words.
    let truncated = dir.path().join("truncated.pem");
    std::fs::write(&truncated, "-----BEGIN CERTIFICATE-----\nMIIB\n").unwrap();
    snapshot!(
        "cacert_truncated",
        cmd("fetch-headers")
            .arg("--cacert")
            .arg(&truncated)
            .arg("https://127.0.0.1/")
    );
    snapshot!(
        "cacert_missing",
        cmd("fetch-headers")
            .arg("--cacert")
            .arg(dir.path().join("missing.pem"))
            .arg("https://127.0.0.1/")
    );
    snapshot!(
        "cacert_and_insecure",
        cmd("fetch-headers").args(["-k", "--cacert", "ca.pem", "https://127.0.0.1/"])
    );
    snapshot!(
        "max_redirects_without_location",
        cmd("fetch-headers").args(["--max-redirects", "3", "127.0.0.1"])
    );
}

/// A chain across three servers: relative locations (`next`, `/end`), 302, 303, 307 and 301,
/// and http to https at the last hop; each hop's head under its own URL.
#[test]
fn redirect_chain_across_servers() {
    let pki = Pki::new("chain");
    let end = pki.serve(Behavior::Ok);
    let middle = start(Behavior::Moved(307, named(&end, "end")));
    let first = start(Behavior::Route(vec![
        ("/start".into(), Behavior::Moved(302, "next".into())),
        ("/next".into(), Behavior::Moved(303, "/last?x=1".into())),
        (
            "/last?x=1".into(),
            Behavior::Redirect(named(&middle, "mid")),
        ),
    ]));
    snapshot!(
        "redirect_chain",
        cmd("fetch-headers")
            .args(["-L", "--cacert"])
            .arg(pki.cacert())
            .arg(named(&first, "start"))
    );
    snapshot!(
        "redirect_chain_json",
        cmd("fetch-headers")
            .args(["-L", "--json", "--cacert"])
            .arg(pki.cacert())
            .arg(named(&first, "start")),
        JSON
    );
    // Without -L the first head is the answer.
    snapshot!(
        "redirect_not_followed",
        cmd("fetch-headers").arg(named(&first, "start"))
    );
}

/// `/a` to `/b` and back: the loop is reported under the URL it came back to, after both heads.
#[test]
fn redirect_loop_and_too_many_redirects() {
    let looping = start(Behavior::Route(vec![
        ("/a".into(), Behavior::Redirect("/b".into())),
        ("/b".into(), Behavior::Moved(308, "/a".into())),
    ]));
    let stairs = start(Behavior::Route(
        (1..=5)
            .map(|i| (format!("/{i}"), Behavior::Redirect(format!("/{}", i + 1))))
            .collect(),
    ));
    let bad = start(Behavior::Redirect("ftp://127.0.0.1/file".into()));
    snapshot!(
        "redirect_loop",
        cmd("fetch-headers").args([
            "-L",
            "--order",
            "input",
            &named(&looping, "a"),
            &named(&stairs, "1"),
            &named(&bad, "bad"),
        ])
    );
    snapshot!(
        "redirect_max_exceeded",
        cmd("fetch-headers").args(["-L", "--max-redirects", "2", &named(&stairs, "1")])
    );
    // Within the cap, the end of the stairs is a 404 (no route for /6): a head, exit 0.
    let out = cmd("fetch-headers")
        .args(["-L", "--max-redirects", "5", &named(&stairs, "1")])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("/6 header > HTTP/1.1 404 Not Found"),
        "{text}"
    );
    assert_eq!(out.status.code(), Some(0));
}

/// A `Location` with credentials is not followed, and the error (text and JSON) shows its
/// password as `***`; the redirect's head itself is shown as the server sent it.
#[test]
fn redirect_with_credentials_is_not_followed_nor_its_password_repeated() {
    let elsewhere = start(Behavior::Ok);
    let location = format!("http://user:s3cret@{}/", elsewhere.addr());
    let server = start(Behavior::Moved(302, location));
    snapshot!(
        "redirect_with_credentials",
        cmd("fetch-headers").args(["-L", &named(&server, "creds")])
    );
    let out = cmd("fetch-headers")
        .args(["-L", "--json", &named(&server, "creds")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["error"]["kind"], "bad-redirect", "{stdout}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("\"http://user:***@127.0.0.1:"),
        "{message}"
    );
    assert!(!message.contains("s3cret"), "{message}");
    assert_eq!(elsewhere.accepted(), 0, "followed");
}

/// The certificate nginx serves and the file that trusts it: `(cert PEM, key PEM, --cacert)`.
/// `.ci/run` makes a self-signed one with openssl, as a deployment would, and names its
/// directory in `TULIP_NGINX_TLS_DIR` (the certificate is its own trust anchor); elsewhere the
/// test CA issues one here.
fn nginx_certificate(pki: &Pki) -> (String, String, PathBuf) {
    match std::env::var_os("TULIP_NGINX_TLS_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let read = |name: &str| {
                std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| {
                    panic!("TULIP_NGINX_TLS_DIR has no {name} ({e}): .ci/run makes it")
                })
            };
            let (cert, key) = (read("cert.pem"), read("key.pem"));
            assert!(cert.contains("BEGIN CERTIFICATE") && key.contains("PRIVATE KEY"));
            (cert, key, dir.join("cert.pem"))
        }
        None => (
            pki.identity.cert_pem().to_owned(),
            pki.identity.key_pem().to_owned(),
            pki.cacert(),
        ),
    }
}

/// nginx serving TLS on loopback with a self-signed certificate from `.ci/run` (or one the
/// test CA issued here), plus a plain server that redirects to it. Skipped only where nginx is
/// missing and this is not CI.
#[test]
fn interop_with_nginx_over_tls() {
    let pki = Pki::new("nginx-tls");
    let (cert, key, cacert) = nginx_certificate(&pki);
    // A TLS port with a certificate for 127.0.0.1, and a plain port whose `/go` redirects to it.
    let Some(nginx) = crate::fixture::nginx() else {
        return;
    };
    let tls = stub::Site::tls(&cert, &key).unwrap();
    let tls_port = tls.port();
    let go = format!("location = /go {{ return 301 https://127.0.0.1:{tls_port}/; }}");
    let plain = stub::Site::plain().unwrap().with(&go);
    let plain_port = plain.port();
    let _nginx = nginx.site(tls).site(plain).start().expect("nginx starts");
    let https = format!("https://127.0.0.1:{}/", tls_port);

    let out = cmd("fetch-headers")
        .arg("--cacert")
        .arg(&cacert)
        .arg(&https)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(format!("{https} tls > TLSv1.3, alpn http/1.1").as_str())
    );
    // nginx's certificate, as OpenSSL sent it.
    let cert = lines.next().unwrap_or_default();
    assert!(
        cert.starts_with(&format!("{https} cert > subject=CN=127.0.0.1; issuer=CN=")),
        "{cert}"
    );
    assert!(cert.ends_with("; chain=1"), "{cert}");
    assert_eq!(
        lines.next(),
        Some(format!("{https} header > HTTP/1.1 200 OK").as_str())
    );
    assert!(text.contains("header > Server: nginx"), "{text}");

    // Mozilla's roots know neither the test CA nor .ci/run's self-signed certificate.
    let out = cmd("fetch-headers").arg(&https).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with(&format!(
            "{https} error > tls: certificate issued by an unknown ca"
        )),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(1));

    // nginx's plain port answers a ClientHello with a 400: not TLS.
    let out = cmd("fetch-headers")
        .arg(format!("https://127.0.0.1:{}/", plain_port))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("error > not tls: \"HTTP/1.1 400 Bad Request\""),
        "{stderr}"
    );

    // http to https through nginx's own redirect, in JSON.
    let out = cmd("fetch-headers")
        .args(["-L", "--json", "--cacert"])
        .arg(&cacert)
        .arg(format!("http://127.0.0.1:{}/go", plain_port))
        .output()
        .unwrap();
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value["redirects"][0]["status"], 301, "{value}");
    assert_eq!(value["url"], https.as_str());
    assert_eq!(value["status"], 200);
    assert_eq!(value["tls_version"], "TLSv1.3");
    assert_eq!(value["alpn"], "http/1.1");

    // Many at once, a new TLS connection each.
    let many: Vec<String> = (0..200).map(|_| https.clone()).collect();
    let run = cmd("fetch-headers")
        .args(["-c", "50", "--cacert"])
        .arg(&cacert)
        .args(&many)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(0), "{stderr}");
    assert!(stderr.starts_with("200 targets: 200 ok in "), "{stderr}");
}

// ---------------------------------------------------------------------------------------------
// Helpers.

/// `--json -L` stays one valid JSON object a line for every TLS and redirect failure kind, with
/// the URL each is about.
#[test]
fn json_is_valid_for_every_tls_and_redirect_failure_kind() {
    let pki = Pki::new("json-kinds");
    let stranger = TestCa::new("nobody trusts me").unwrap();
    let mut stubs = vec![
        Stub::start_tls(Behavior::Ok, &stranger.issue(&["127.0.0.1"]).unwrap()).unwrap(),
        Stub::start_tls(Behavior::Ok, &pki.ca.issue_expired(&["127.0.0.1"]).unwrap()).unwrap(),
        Stub::start_tls(Behavior::Ok, &pki.ca.issue(&["other.example"]).unwrap()).unwrap(),
        Stub::start_tls(Behavior::Ok, &pki.ca.as_identity()).unwrap(),
        start(Behavior::Redirect("/".into())),
        start(Behavior::Redirect("localhost:1".into())),
        start(Behavior::Raw(
            b"HTTP/1.1 302 Found\r\nLocation: /caf\xc3\xa9\r\n\r\n".to_vec(),
        )),
        pki.serve(Behavior::TlsAlert(AlertDescription::InternalError)),
        pki.serve(Behavior::BadRecord),
    ];
    let chain = start(Behavior::Route(
        (0..5)
            .map(|i| (format!("/{i}"), Behavior::Redirect(format!("/{}", i + 1))))
            .collect(),
    ));
    let mut targets: Vec<String> = stubs.iter().map(|s| s.url()).collect();
    targets.push(format!("{}0", chain.url()));
    // Not TLS: a plain HTTP server.
    stubs.push(start(Behavior::Rejecting));
    targets.push(format!("https://{}/", stubs[stubs.len() - 1].addr()));
    let out = cmd("fetch-headers")
        .args(["--json", "-L", "--max-redirects", "2", "--timeout", "20"])
        .arg("--cacert")
        .arg(pki.cacert())
        .args(&targets)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let mut kinds = Vec::new();
    for line in stdout.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["url"].is_string(), "{line}");
        assert!(v["redirects"].is_array(), "{line}");
        assert!(v["error"]["message"].is_string(), "{line}");
        kinds.push(v["error"]["kind"].as_str().unwrap().to_owned());
    }
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "bad-certificate",
            "bad-redirect",
            "bad-redirect",
            "expired",
            "name-mismatch",
            "not-tls",
            "redirect-loop",
            "tls-alert",
            "tls-protocol",
            "too-many-redirects",
            "unknown-issuer",
        ]
    );
}
