//! Configuration: resolv.conf parsing, the files the builder reads, pins and error messages.

use std::net::SocketAddr;
use std::time::Duration;

use tulip_resolve::{ConfigError, Pin, ResolvConf, Resolver};

fn temp_file(stem: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("tulip-resolve-{}-{stem}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

fn server(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

#[test]
fn resolv_conf_servers_search_and_options() {
    let conf = ResolvConf::parse(
        "# generated\n\
         nameserver 192.0.2.1\n\
         nameserver 2001:db8::53 ; comment\n\
         nameserver fe80::1%eth0\n\
         nameserver 192.0.2.2\n\
         nameserver 192.0.2.3\n\
         domain ignored.example\n\
         search Corp.Example. lab.example\n\
         options edns0 ndots:3 timeout:2 attempts:4 rotate\n\
         sortlist 130.155.160.0/255.255.240.0\n",
    )
    .unwrap();
    assert_eq!(
        conf.nameservers,
        [
            server("192.0.2.1:53"),
            server("[2001:db8::53]:53"),
            server("192.0.2.2:53")
        ],
        "three at most, zoned link-local skipped"
    );
    assert_eq!(conf.search, ["corp.example", "lab.example"]);
    assert_eq!(conf.ndots, 3);
    assert_eq!(conf.timeout, Duration::from_secs(2));
    assert_eq!(conf.attempts, 4);
}

#[test]
fn resolv_conf_defaults_and_limits() {
    assert_eq!(ResolvConf::parse("").unwrap(), ResolvConf::default());
    let d = ResolvConf::default();
    assert_eq!(
        (d.ndots, d.timeout, d.attempts),
        (1, Duration::from_secs(5), 2)
    );
    let conf = ResolvConf::parse("options ndots:99 timeout:0 attempts:9\n").unwrap();
    assert_eq!(
        (conf.ndots, conf.timeout, conf.attempts),
        (15, Duration::from_secs(1), 5)
    );
    let conf = ResolvConf::parse("search a.example\ndomain b.example\n").unwrap();
    assert_eq!(
        conf.search,
        ["b.example"],
        "the last of search and domain wins"
    );
}

#[test]
fn resolv_conf_errors_name_the_line() {
    assert_eq!(
        ResolvConf::parse("\nnameserver dns.example\n").unwrap_err(),
        (2, "invalid nameserver \"dns.example\"".to_owned())
    );
    assert_eq!(
        ResolvConf::parse("options ndots:x\n").unwrap_err(),
        (1, "invalid option \"ndots:x\"".to_owned())
    );
    let path = temp_file("bad-resolv.conf", "nameserver\n");
    let err = Resolver::builder().resolv_conf(&path).build().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("{}:1: nameserver without an address", path.display())
    );
}

#[test]
fn chosen_servers_replace_the_files_and_keep_its_options() {
    let path = temp_file("resolv.conf", "nameserver 192.0.2.1\nsearch corp.example\n");
    let resolver = Resolver::builder()
        .resolv_conf(&path)
        .nameserver(server("127.0.0.1:5353"))
        .build()
        .unwrap();
    assert_eq!(resolver.nameservers(), [server("127.0.0.1:5353")]);

    let resolver = Resolver::builder().resolv_conf(&path).build().unwrap();
    assert_eq!(resolver.nameservers(), [server("192.0.2.1:53")]);

    // No server in the file: the C library's default, the local one.
    let empty = temp_file("empty-resolv.conf", "search corp.example\n");
    let resolver = Resolver::builder().resolv_conf(&empty).build().unwrap();
    assert_eq!(resolver.nameservers(), [server("127.0.0.1:53")]);
}

#[test]
fn without_servers_or_files_nothing_is_guessed() {
    let err = Resolver::builder().build().unwrap_err();
    assert!(matches!(err, ConfigError::NoNameservers));
    assert_eq!(err.to_string(), "no nameservers");
}

#[test]
fn missing_files_are_errors_with_their_cause() {
    let missing = std::env::temp_dir().join("tulip-resolve-no-such-file");
    let err = Resolver::builder()
        .nameserver(server("127.0.0.1:53"))
        .hosts_file(&missing)
        .build()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("cannot read {}", missing.display())
    );
    let source = std::error::Error::source(&err).unwrap();
    assert!(source.downcast_ref::<std::io::Error>().is_some());
    // Unless the hosts file is optional, as the system's is.
    Resolver::builder()
        .nameserver(server("127.0.0.1:53"))
        .hosts_file_if_present(&missing)
        .build()
        .unwrap();
}

#[test]
fn the_system_configuration_loads() {
    // Whatever this machine's files say, they parse (or are absent: then the local server).
    Resolver::system().unwrap();
}

#[test]
fn pins_in_curls_syntax() {
    let pin: Pin = "Example.COM:80:192.0.2.1".parse().unwrap();
    assert_eq!((pin.host.as_str(), pin.port), ("example.com", 80));
    let pin: Pin = "h:443:[2001:db8::1],192.0.2.1,::2".parse().unwrap();
    assert_eq!(pin.addrs.len(), 3);
    for (input, message) in [
        (
            "example.com",
            "invalid pin \"example.com\": expected HOST:PORT:ADDR[,ADDR...]",
        ),
        (
            "example.com:80",
            "invalid pin \"example.com:80\": expected HOST:PORT:ADDR[,ADDR...]",
        ),
        (":80:192.0.2.1", "invalid pin \":80:192.0.2.1\": empty host"),
        (
            "h:99999:192.0.2.1",
            "invalid pin \"h:99999:192.0.2.1\": invalid port",
        ),
        (
            "h:80:192.0.2.300",
            "invalid pin \"h:80:192.0.2.300\": invalid address",
        ),
        ("h:80:", "invalid pin \"h:80:\": invalid address"),
    ] {
        let err = input.parse::<Pin>().unwrap_err();
        assert_eq!(err.to_string(), message);
        assert_eq!(err.input(), input);
    }
}
