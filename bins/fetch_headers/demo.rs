//! `--demo`: a few loopback servers from crates/stub, one per behaviour worth seeing (fast, slow,
//! https, redirecting from http to https, missing page, failing server), so that a fresh machine
//! with no network shows what the tool does. They live as long as the [`Demo`] and stop when it
//! is dropped.
//!
//! The https server presents a certificate issued by a certificate authority made at demo start
//! (rcgen, through [`stub::TestCa`]); the run trusts that CA and only it ([`Demo::tls`]), so the
//! demo shows a verified TLS handshake without `-k`. `--cacert` cannot be combined with
//! `--demo` (the demo's targets are only ever served under the demo CA); `-k` still can, and
//! then verifies nothing, as everywhere.

use std::io;
use std::time::Duration;

use headers::{Target, TlsConfig};
use stub::{Behavior, Stub, TestCa};

/// How long the slow demo server waits before answering: long enough that the summary's total
/// time shows the others did not wait for it.
const SLOW: Duration = Duration::from_millis(300);

/// The running demo servers, each with the path its target is given (the stubs ignore paths;
/// they only make the output readable once the ports are redacted), and the trust that verifies
/// the https one.
#[derive(Debug)]
pub struct Demo {
    servers: Vec<(&'static str, Stub)>,
    tls: TlsConfig,
}

impl Demo {
    /// Makes the demo CA and a certificate for 127.0.0.1 from it, and starts the servers on
    /// free loopback ports.
    pub fn start() -> io::Result<Demo> {
        // A fresh key pair each run (ECDSA P-256: a millisecond or two); nothing touches disk.
        let ca = TestCa::new("tulip fetch-headers demo CA")?;
        let secure = Stub::start_tls(Behavior::Ok, &ca.issue(&["127.0.0.1", "localhost"])?)?;
        // Absolute, to another server and scheme: what most real hosts answer on port 80.
        let moved = Behavior::Redirect(format!("{}secure", secure.url()));
        let servers = vec![
            ("fast", Stub::start(Behavior::Ok)?),
            ("slow", Stub::start(Behavior::Slow(SLOW))?),
            ("secure", secure),
            ("moved", Stub::start(moved)?),
            ("missing", Stub::start(Behavior::Status(404))?),
            ("broken", Stub::start(Behavior::Status(500))?),
        ];
        let tls = TlsConfig::from_pem(ca.pem().as_bytes())
            .map_err(|e| io::Error::other(format!("the demo CA: {e}")))?;
        Ok(Demo { servers, tls })
    }

    /// One target per server, `http://127.0.0.1:PORT/NAME` (`https://` for the TLS one).
    pub fn targets(&self) -> Vec<Target> {
        self.servers
            .iter()
            .map(|(name, stub)| {
                // `url()` is `SCHEME://127.0.0.1:PORT/`.
                let url = format!("{}{name}", stub.url());
                Target::parse(&url).expect("a loopback URL is a valid target")
            })
            .collect()
    }

    /// Trusts the demo CA, and nothing else: the run's configuration for https targets unless
    /// `-k` asks for none.
    pub fn tls(&self) -> TlsConfig {
        self.tls.clone()
    }

    /// What the demo does, for stderr before it starts: `follow` (-L) and `insecure` (-k) say
    /// what the run shows, or what to try.
    pub fn describe(&self, follow: bool, insecure: bool) -> String {
        let names: Vec<&str> = self.servers.iter().map(|(name, _)| *name).collect();
        let trust = if insecure {
            "but -k verifies nothing"
        } else {
            "which this run trusts (no -k needed)"
        };
        let redirect = if follow {
            "-L follows it, printing each hop's head"
        } else {
            "add -L to follow it"
        };
        format!(
            "demo: {} loopback servers ({}), all fetched at once; the slow one answers after {} ms\n\
             demo: secure is https; its certificate is from a CA made just now, {trust}\n\
             demo: moved redirects http to https; {redirect}\n",
            names.len(),
            names.join(", "),
            SLOW.as_millis()
        )
    }
}
