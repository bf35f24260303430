//! fetch-headers resolving names through a DNS stub given with `--resolver`: answers, every DNS
//! failure's line, a name with an IPv6 address nobody listens on falling back to its IPv4 one,
//! names pinned with `--resolve` (no query sent), one query per name however many targets share
//! it, and the options' usage errors.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use stub::{Behavior, DnsBehavior, DnsStub, Stub};

use crate::fetch_headers::{JSON, start};
use crate::fixture::cmd;

/// The stub DNS server's and the HTTP stubs' ports, in `NAME.test:PORT`.
const NAMES: &[(&str, &str)] = &[(r"\.test:\d+", ".test:[PORT]")];

fn dns(names: Vec<(&str, DnsBehavior)>) -> DnsStub {
    DnsStub::start(names).expect("start the DNS stub")
}

#[test]
fn names_resolve_through_the_resolver_given_and_each_dns_failure_is_named() {
    let web = start(Behavior::Ok);
    let port = web.addr().port();
    let loopback = Ipv4Addr::LOCALHOST;
    let server = dns(vec![
        ("ok.test", DnsBehavior::v4(loopback, 60)),
        // ::1 first (IPv6 goes first), where nothing listens on this port: the fetch falls back.
        (
            "both.test",
            DnsBehavior::dual(loopback, Ipv6Addr::LOCALHOST, 60),
        ),
        ("missing.test", DnsBehavior::NxDomain),
        ("broken.test", DnsBehavior::ServFail),
        ("nothing.test", DnsBehavior::Empty),
        ("silent.test", DnsBehavior::Never),
    ]);
    let targets: Vec<String> = ["ok", "both", "missing", "broken", "nothing", "silent"]
        .iter()
        .map(|name| format!("http://{name}.test:{port}/"))
        .collect();
    snapshot!(
        "dns_answers_and_failures",
        cmd("fetch-headers")
            .arg("--resolver")
            .arg(server.addr().to_string())
            .args(["--order", "input", "--timeout", "1"])
            .args(&targets),
        NAMES
    );
    // Which address answered: the IPv4 one, after ::1 refused.
    let mut filters = NAMES.to_vec();
    filters.extend_from_slice(JSON);
    snapshot!(
        "dns_fallback_json",
        cmd("fetch-headers")
            .arg("--resolver")
            .arg(server.addr().to_string())
            .arg("--json")
            .arg(&targets[1]),
        &filters
    );
}

#[test]
fn pinned_names_send_no_query() {
    let web = start(Behavior::Ok);
    let port = web.addr().port();
    let server = dns(vec![]);
    let output = cmd("fetch-headers")
        .arg("--resolver")
        .arg(server.addr().to_string())
        .arg("--resolve")
        .arg(format!("pinned.test:{port}:127.0.0.1"))
        .arg(format!("http://pinned.test:{port}/"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{output:?}");
    assert!(stdout.contains("header > HTTP/1.1 200 OK"), "{stdout}");
    assert_eq!(server.queries(), 0);
    // The pin is for its port only: another port asks DNS (and this server knows no name).
    let output = cmd("fetch-headers")
        .arg("--resolver")
        .arg(server.addr().to_string())
        .arg("--resolve")
        .arg(format!("pinned.test:{}:127.0.0.1", port.wrapping_add(1)))
        .arg(format!("http://pinned.test:{port}/"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("dns: no such host"));
    assert!(server.queries() > 0);
}

#[test]
fn a_thousand_targets_on_one_name_resolve_it_once() {
    let web = Stub::start(Behavior::Ok).unwrap();
    let port = web.addr().port();
    let server = dns(vec![(
        "one.test",
        DnsBehavior::v4(Ipv4Addr::LOCALHOST, 300),
    )]);
    let targets: Vec<String> = (0..1000)
        .map(|i| format!("http://one.test:{port}/{i}"))
        .collect();
    let output = cmd("fetch-headers")
        .arg("--resolver")
        .arg(server.addr().to_string())
        .args(["-c", "100"])
        .args(&targets)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("1000 targets: 1000 ok"), "{stderr}");
    // One A and one AAAA query (the AAAA answered NODATA, cached too).
    assert_eq!(server.queries_for("one.test"), 2);
}

#[test]
fn a_dead_nameserver_costs_each_name_its_own_deadline_only() {
    // Nothing answers: the names time out in the dns phase, at their deadline, not later.
    let server = dns(vec![("dead.test", DnsBehavior::Never)]);
    let started = std::time::Instant::now();
    let output = cmd("fetch-headers")
        .arg("--resolver")
        .arg(server.addr().to_string())
        .args([
            "--timeout",
            "0.5",
            "http://dead.test/",
            "http://dead.test/x",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr.matches("error > timeout (dns)").count(),
        2,
        "{stderr}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn ipv4_and_ipv6_flags_ask_one_type_and_keep_to_their_family() {
    let web = start(Behavior::Ok);
    let port = web.addr().port();
    let server = dns(vec![
        (
            "both.test",
            DnsBehavior::dual(Ipv4Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 60),
        ),
        ("v6only.test", DnsBehavior::v6(Ipv6Addr::LOCALHOST, 60)),
    ]);
    let targets = [
        format!("http://both.test:{port}/"),
        format!("http://v6only.test:{port}/"),
        format!("http://[::1]:{port}/"),
    ];
    let mut filters = NAMES.to_vec();
    filters.push((r"\[::1\]:\d+", "[::1]:[PORT]"));
    // Only A queries; the IPv6 name and literal fail in the dns phase, nothing tries ::1.
    snapshot!(
        "ipv4_only",
        cmd("fetch-headers")
            .arg("--resolver")
            .arg(server.addr().to_string())
            .args(["-4", "--order", "input"])
            .args(&targets),
        &filters
    );
    for name in ["both.test", "v6only.test"] {
        assert_eq!(server.queries_of(name, "A"), 1, "{name}");
        assert_eq!(server.queries_of(name, "AAAA"), 0, "{name}");
    }
    // Only AAAA: both.test goes to ::1 alone, where nothing listens (the stub is on 127.0.0.1).
    let output = cmd("fetch-headers")
        .arg("--resolver")
        .arg(server.addr().to_string())
        .args(["--ipv6", "--json", &targets[0]])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    // Refused, so never tried on 127.0.0.1, where the stub would have answered.
    assert!(stdout.contains(r#""error":{"kind":"refused""#), "{stdout}");
    assert_eq!(server.queries_of("both.test", "AAAA"), 1);
    assert_eq!(server.queries_of("both.test", "A"), 1, "only the -4 run's");
    snapshot!(
        "ipv4_and_ipv6",
        cmd("fetch-headers").args(["-4", "-6", "127.0.0.1:1"])
    );
}

#[test]
fn bad_resolver_options_are_usage_errors() {
    snapshot!(
        "resolver_not_an_address",
        cmd("fetch-headers").args(["--resolver", "dns.example", "127.0.0.1:1"])
    );
    snapshot!(
        "resolve_bad_pin",
        cmd("fetch-headers").args(["--resolve", "host:80", "127.0.0.1:1"])
    );
}
