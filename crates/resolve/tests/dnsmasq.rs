//! Interop with a real DNS server: Debian's dnsmasq on a free loopback port, answering names
//! under `.test` itself, `.invalid` with NXDOMAIN and everything else with REFUSED (it has no
//! upstream). Skipped with a message when dnsmasq is missing; under `CI=true` that fails.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_lite::future::block_on;
use tulip_resolve::{DnsError, Resolver};

/// dnsmasq's path: `TULIP_DNSMASQ`, else the first found on PATH or in the sbin directories
/// (not on a user's PATH on Debian).
fn dnsmasq() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("TULIP_DNSMASQ") {
        return Some(path.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join("dnsmasq"))
        .find(|p| p.is_file())
}

/// Kills and reaps dnsmasq when the test ends, passing or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(binary: &Path) -> (Server, SocketAddr) {
    // A free port (UDP; dnsmasq's TCP listener takes the same number).
    let port = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|s| s.local_addr())
        .unwrap()
        .port();
    let child = Command::new(binary)
        .args([
            &format!("--port={port}"),
            "--listen-address=127.0.0.1",
            "--bind-interfaces",
            "--no-resolv",
            "--no-hosts",
            "--conf-file=/dev/null",
            "--pid-file",
            "--keep-in-foreground",
            "--local-ttl=60",
            "--address=/test/127.0.0.1",
            "--address=/dual.test/127.0.0.2",
            "--address=/dual.test/::2",
            "--address=/invalid/",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    (Server(child), SocketAddr::from((Ipv4Addr::LOCALHOST, port)))
}

#[test]
fn resolves_against_dnsmasq() {
    let Some(binary) = dnsmasq() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("dnsmasq is missing (apt-get install dnsmasq-base): CI must run this test");
        }
        eprintln!("skipped: dnsmasq not found (apt-get install dnsmasq-base)");
        return;
    };
    let (mut server, addr) = start(&binary);
    let resolver = Resolver::builder()
        .nameserver(addr)
        .timeout(Duration::from_millis(200))
        .attempts(2)
        .build()
        .unwrap();
    let deadline = || Instant::now() + Duration::from_secs(2);

    block_on(async {
        // Wait (bounded) until dnsmasq listens: before, the port refuses.
        let ready = Resolver::builder()
            .nameserver(addr)
            .timeout(Duration::from_millis(100))
            .attempts(1)
            .build()
            .unwrap();
        let mut up = false;
        for _ in 0..50 {
            if let Ok(Some(status)) = server.0.try_wait() {
                panic!("dnsmasq exited: {status}");
            }
            match ready.lookup("ready.test", deadline()).await {
                Ok(_) => {
                    up = true;
                    break;
                }
                Err(_) => async_io::Timer::after(Duration::from_millis(100)).await,
            };
        }
        assert!(up, "dnsmasq did not answer on {addr}");

        // A for .test; its AAAA is REFUSED (no upstream), which one family survives.
        let addrs = resolver
            .lookup("www.example.test", deadline())
            .await
            .unwrap();
        assert_eq!(addrs.ipv4(), [Ipv4Addr::LOCALHOST]);
        assert!(addrs.ipv6().is_empty());

        let addrs = resolver.lookup("host.dual.test", deadline()).await.unwrap();
        assert_eq!(addrs.ipv4(), [Ipv4Addr::new(127, 0, 0, 2)]);
        assert_eq!(addrs.ipv6(), ["::2".parse::<Ipv6Addr>().unwrap()]);
        let before = resolver.stats().queries;
        resolver.lookup("host.dual.test", deadline()).await.unwrap();
        assert_eq!(
            resolver.stats().queries,
            before,
            "both answers cached (local-ttl 60)"
        );

        let err = resolver
            .lookup("nothing.invalid", deadline())
            .await
            .unwrap_err();
        assert!(matches!(err, DnsError::NoSuchHost), "{err:?}");

        let err = resolver
            .lookup("example.com", deadline())
            .await
            .unwrap_err();
        assert!(matches!(err, DnsError::ServerFailure), "{err:?}");
    });
}
