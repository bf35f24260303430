//! Loopback HTTP servers with chosen behaviours, for the demo, the tests and the benchmarks of
//! tulip's head fetcher.
//!
//! [`Stub::start`] binds 127.0.0.1 on a free port and serves one [`Behavior`] until the `Stub`
//! is dropped. Each server runs on its own background thread with its own single-threaded
//! executor (so it works whatever executor the caller uses, or none); dropping the `Stub` stops
//! the accept loop, drops every connection task (closing their sockets) and joins the thread, so
//! nothing outlives it.
//!
//! Replies are byte-for-byte deterministic (no `Date` header, fixed bodies), because the CLI
//! snapshots what it prints. Every behaviour but [`Behavior::SshBanner`] first reads the
//! request head, like a real server (up to 1 MiB, more than a real server takes, so that a test
//! can send a huge head and see it arrive).
//!
//! ```
//! use std::io::{Read, Write};
//!
//! let server = tulip_stub::Stub::start(tulip_stub::Behavior::Redirect("/new".into())).unwrap();
//! let mut conn = std::net::TcpStream::connect(server.addr()).unwrap();
//! conn.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply).unwrap();
//! assert!(reply.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
//! assert!(reply.contains("\r\nLocation: /new\r\n"));
//! ```
//!
//! [`Stub::start_tls`] serves the same behaviours over TLS (rustls), with a certificate made at
//! run time by a [`TestCa`]; the CA's identities can be valid, expired, for another name, or
//! from a CA the client does not trust, to show each TLS failure. [`Behavior::Route`] answers
//! each path its own way, for redirect chains (relative locations, loops), and
//! [`Behavior::Delay`] answers any way late.
//!
//! To see what a client sent: [`Behavior::Echo`] answers with the request as headers, and a
//! stub started through [`Stub::builder`] with [`StubBuilder::record`] hands over every request it
//! read ([`Stub::requests`]).
//!
//! For interop with a real server, [`Nginx`] runs nginx on loopback ports from a configuration
//! of its own, and stops it when dropped.
//!
//! Not a real HTTP server: it answers every request (for a path) the same way, one request per
//! connection, and closes.
//!
//! [`DnsStub`] (module [`dns`]) is a loopback DNS server in the same spirit: each name gets a
//! chosen [`DnsBehavior`] (answers, late answers, none, NXDOMAIN, SERVFAIL, truncation, decoy
//! replies), and it counts the queries it receives.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod dns;
mod nginx;
mod tls;

// The README's example runs as a doctest too.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub use dns::{Decoy, DnsBehavior, DnsStub};
pub use nginx::{Nginx, NginxBuilder, Site};
pub use tls::{CertSpec, Identity, IntermediateCa, TestCa};

/// The TLS alerts [`Behavior::TlsAlert`] sends (rustls' type, re-exported so that tests need
/// no rustls of their own).
pub use rustls::AlertDescription;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use futures_rustls::TlsAcceptor;
use smol::LocalExecutor;

/// What a stub server does with each connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Behavior {
    /// `200 OK` at once, with a few headers and a short body.
    Ok,
    /// `200 OK` after this long.
    Slow(Duration),
    /// This behaviour after this long (counted from the request read): a slow redirect, say.
    Delay(Duration, Box<Behavior>),
    /// `301 Moved Permanently` with this `Location`.
    Redirect(String),
    /// This redirect status (302, 303, 307, 308 ...) with this `Location`.
    Moved(u16, String),
    /// Each request path (exactly, query included) answered by its own behaviour; any other
    /// path gets `404 Not Found`.
    Route(Vec<(String, Behavior)>),
    /// Answers `400 Bad Request` to the first bytes it reads, whatever they are, as nginx
    /// answers bytes that are no HTTP request (a TLS handshake, say).
    Rejecting,
    /// This status (404, 500 ...) with its standard reason phrase.
    Status(u16),
    /// The `200 OK` head, one byte per interval (a slow-loris server).
    Drip(Duration),
    /// Part of a head, then the connection is closed.
    CloseMidHead,
    /// Part of a head (the bytes of [`Behavior::CloseMidHead`]), then the connection is reset
    /// (RST): a reset after the reply began.
    ResetMidHead,
    /// Reads the request and never answers; holds the connection until the client closes it or
    /// the stub is dropped.
    Silent,
    /// Reads the request, then resets the connection (RST).
    Reset,
    /// The first this many connections the server accepts are reset as [`Behavior::Reset`]
    /// does; later ones get `200 OK` as [`Behavior::Ok`] does. For retries.
    ResetFirst(usize),
    /// Sends an SSH banner as soon as it accepts, like sshd, then closes after the request.
    SshBanner,
    /// Bytes that are no protocol at all.
    Garbage,
    /// A head of at least this many bytes (one long header), for the head-size cap.
    HugeHead(usize),
    /// A head with this many headers, for the header-count cap.
    ManyHeaders(usize),
    /// A head that starts like HTTP but has a malformed status line.
    Invalid,
    /// A head with bare LF line ends.
    BareLf,
    /// A head with a folded (obs-fold) header.
    ObsFold,
    /// A status line without a reason phrase.
    NoReason,
    /// Header values and a reason with bytes outside ASCII.
    NonAscii,
    /// `100 Continue`, then the `200 OK` head.
    Continue,
    /// `100 Continue` heads, one per interval and never a final head, until the client hangs
    /// up or the stub is dropped (a flood of interim heads, dripped).
    ContinueDrip(Duration),
    /// `HTTP/1.0 200 OK` carrying the request it read: one `X-Got: LINE` header per request
    /// line, then the blank line and no body, so that a client sees exactly what it sent.
    Echo,
    /// These exact bytes, then close.
    Raw(Vec<u8>),
    /// These exact bytes, then the connection closes without TLS's close_notify (a careless
    /// server, or a cut connection); on a plain stub the same as [`Behavior::Raw`].
    RawNoCloseNotify(Vec<u8>),
    /// Reads the request, then sends this fatal TLS alert instead of a reply and closes, as a
    /// server failing after the handshake does (one that wanted a client certificate, say). On
    /// a TLS stub the alert is encrypted under the session's keys (TLS 1.3, which every client
    /// offering it gets), so the client reads a real alert. A plain stub sends the bare record
    /// in answer to the first bytes it reads, as a TLS server refusing a `ClientHello` does.
    /// Not for a [`Behavior::Route`]: the route is chosen after the request, inside TLS.
    TlsAlert(AlertDescription),
    /// Reads the request, then sends an application-data record that does not decrypt (32
    /// bytes of garbage) instead of a reply, and closes: on a TLS stub the client's record
    /// layer fails (bad record MAC) after the handshake. Not for a [`Behavior::Route`] either.
    BadRecord,
}

const BODY: &str = "<html><body>tulip stub</body></html>\n";

impl Behavior {
    /// The bytes this behaviour sends (for the ones that send a fixed reply), so tests can
    /// compare what a client received with what was sent.
    pub fn reply(&self) -> Option<Vec<u8>> {
        let ok = || response("200 OK", &[]);
        Some(match self {
            Behavior::Ok | Behavior::Slow(_) | Behavior::Drip(_) | Behavior::ResetFirst(_) => ok(),
            Behavior::Redirect(to) => response("301 Moved Permanently", &[("Location", to)]),
            Behavior::Moved(code, to) => {
                response(&format!("{code} {}", reason(*code)), &[("Location", to)])
            }
            Behavior::Rejecting => response("400 Bad Request", &[]),
            Behavior::Status(code) => response(&format!("{code} {}", reason(*code)), &[]),
            Behavior::CloseMidHead | Behavior::ResetMidHead => b"HTTP/1.1 200 OK\r\nServer: tulip-stub\r\nContent-Ty".to_vec(),
            Behavior::SshBanner => b"SSH-2.0-OpenSSH_9.6p1 Debian-4\r\n".to_vec(),
            Behavior::Garbage => b"\x00\x01\x02\xff\xfe garbage \x1b[2J\r\n\r\n".to_vec(),
            Behavior::HugeHead(size) => {
                let mut head = b"HTTP/1.1 200 OK\r\nServer: tulip-stub\r\nX-Huge: ".to_vec();
                head.resize(head.len() + size, b'a');
                head.extend_from_slice(b"\r\nContent-Length: 0\r\n\r\n");
                head
            }
            Behavior::ManyHeaders(n) => {
                let mut head = b"HTTP/1.1 200 OK\r\n".to_vec();
                for i in 0..*n {
                    head.extend_from_slice(format!("X-Header-{i}: {i}\r\n").as_bytes());
                }
                head.extend_from_slice(b"Content-Length: 0\r\n\r\n");
                head
            }
            Behavior::Invalid => b"HTTP/1.1 2x0 OK\r\nServer: tulip-stub\r\n\r\n".to_vec(),
            Behavior::BareLf => {
                b"HTTP/1.0 200 OK\nServer: tulip-stub\nContent-Length: 0\n\n".to_vec()
            }
            Behavior::ObsFold => b"HTTP/1.1 200 OK\r\nServer: tulip-stub\r\nX-Folded: first\r\n  second\r\n\tthird\r\nContent-Length: 0\r\n\r\n".to_vec(),
            Behavior::NoReason => b"HTTP/1.1 200\r\nServer: tulip-stub\r\nContent-Length: 0\r\n\r\n".to_vec(),
            Behavior::NonAscii => b"HTTP/1.1 200 Tr\xe8s bien\r\nServer: tulip-stub\r\nX-Name: caf\xc3\xa9 \xff\r\nContent-Length: 0\r\n\r\n".to_vec(),
            Behavior::Continue => {
                let mut reply = b"HTTP/1.1 100 Continue\r\n\r\n".to_vec();
                reply.extend(ok());
                reply
            }
            Behavior::Raw(bytes) | Behavior::RawNoCloseNotify(bytes) => bytes.clone(),
            Behavior::TlsAlert(alert) => vec![21, 3, 3, 0, 2, 2, u8::from(*alert)],
            Behavior::BadRecord => {
                let mut record = vec![23, 3, 3, 0, 32];
                record.extend((0..32u8).map(|i| i.wrapping_mul(37) ^ 0x5a));
                record
            }
            Behavior::Delay(_, then) => return then.reply(),
            Behavior::Silent
            | Behavior::Reset
            | Behavior::Route(_)
            | Behavior::ContinueDrip(_)
            | Behavior::Echo => return None,
        })
    }
}

/// The standard reason phrase of the statuses a stub may send.
fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        418 => "I'm a teapot",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// A deterministic response: status line, fixed headers, `extra`, the body.
fn response(status: &str, extra: &[(&str, &str)]) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 {status}\r\nServer: tulip-stub\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n",
        BODY.len()
    );
    for (name, value) in extra {
        r.push_str(&format!("{name}: {value}\r\n"));
    }
    r.push_str("Connection: close\r\n\r\n");
    r.push_str(BODY);
    r.into_bytes()
}

/// A running stub server; dropping it stops the server.
#[derive(Debug)]
pub struct Stub {
    addr: SocketAddr,
    tls: bool,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    requests: Option<Arc<Mutex<Vec<Vec<u8>>>>>,
    peak: Arc<AtomicUsize>,
    accept_times: Arc<Mutex<Vec<Instant>>>,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// A stub to start with more than a behaviour: TLS, a record of the requests. From
/// [`Stub::builder`]; [`StubBuilder::start`] starts it.
///
/// ```
/// use std::io::{Read, Write};
///
/// let server = tulip_stub::Stub::builder(tulip_stub::Behavior::Ok).record().start().unwrap();
/// let mut conn = std::net::TcpStream::connect(server.addr()).unwrap();
/// conn.write_all(b"GET /x HTTP/1.0\r\nX-Trace: 7\r\n\r\n").unwrap();
/// conn.read_to_end(&mut Vec::new()).unwrap();
/// assert_eq!(server.requests(), [b"GET /x HTTP/1.0\r\nX-Trace: 7\r\n\r\n".to_vec()]);
/// ```
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until started"]
pub struct StubBuilder {
    behavior: Behavior,
    identity: Option<Identity>,
    record: bool,
    addr: SocketAddrV4,
}

impl StubBuilder {
    /// Speak TLS first, presenting `identity` (see [`Stub::start_tls`]).
    pub fn tls(mut self, identity: &Identity) -> StubBuilder {
        self.identity = Some(identity.clone());
        self
    }

    /// Keep every request the server reads, for [`Stub::requests`]. Off by default: a stub
    /// serving a benchmark would grow without end.
    pub fn record(mut self) -> StubBuilder {
        self.record = true;
        self
    }

    /// Listen on `addr` (a loopback address, port 0 for a free one) instead of 127.0.0.1 and a
    /// free port: two stubs on one port of 127.0.0.1 and 127.0.0.2 serve a name with two
    /// addresses.
    pub fn bind(mut self, addr: SocketAddrV4) -> StubBuilder {
        self.addr = addr;
        self
    }

    /// Binds (127.0.0.1 on a free port unless [`StubBuilder::bind`] said otherwise) and starts
    /// serving.
    pub fn start(self) -> io::Result<Stub> {
        let tls = match &self.identity {
            Some(identity) => Some(TlsAcceptor::from(identity.server_config()?)),
            None => None,
        };
        // The kernel caps the backlog at net.core.somaxconn.
        let listener = listen_on(self.addr, 65535)?;
        let addr = listener.local_addr()?;
        let listener = Async::new(listener)?;
        let requests = self.record.then(Arc::default);
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let server = Server {
            behavior: Arc::new(self.behavior),
            tls,
            accepted: Arc::default(),
            open: Arc::default(),
            requests: requests.clone(),
            peak: Arc::default(),
            accept_times: Arc::default(),
        };
        let (accepted, open) = (server.accepted.clone(), server.open.clone());
        let (peak, accept_times) = (server.peak.clone(), server.accept_times.clone());
        let is_tls = server.tls.is_some();
        let thread = std::thread::Builder::new()
            .name(format!("stub-{}", addr.port()))
            .spawn(move || {
                let ex = LocalExecutor::new();
                let serve = serve(&ex, listener, server);
                // The stop channel closes when the Stub is dropped; `recv` then returns.
                let stopped = async {
                    let _ = stopped.recv().await;
                };
                async_io::block_on(ex.run(future::or(serve, stopped)));
                // Dropping the executor drops every connection task, closing its socket.
            })?;
        Ok(Stub {
            addr,
            tls: is_tls,
            accepted,
            open,
            requests,
            peak,
            accept_times,
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Stub {
    /// Starts a server on 127.0.0.1 with a free port, serving `behavior`.
    pub fn start(behavior: Behavior) -> io::Result<Stub> {
        Stub::builder(behavior).start()
    }

    /// Starts a server like [`Stub::start`] that speaks TLS first, presenting `identity`.
    /// Its [`Stub::target`] and [`Stub::url`] are `https://` URLs. A client that rejects the
    /// certificate gets no reply (the handshake failed); one that accepts it gets `behavior`.
    pub fn start_tls(behavior: Behavior, identity: &Identity) -> io::Result<Stub> {
        Stub::builder(behavior).tls(identity).start()
    }

    /// A stub serving `behavior`, to configure further before [`StubBuilder::start`].
    pub fn builder(behavior: Behavior) -> StubBuilder {
        StubBuilder {
            behavior,
            identity: None,
            record: false,
            addr: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0),
        }
    }

    /// The server's address (127.0.0.1 and its port).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `127.0.0.1:PORT` (`https://127.0.0.1:PORT` for a TLS stub), ready to be a target.
    pub fn target(&self) -> String {
        if self.tls {
            format!("https://{}", self.addr)
        } else {
            self.addr.to_string()
        }
    }

    /// `http://127.0.0.1:PORT/` (`https://` for a TLS stub).
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }

    /// How many connections the server has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// How many connections are open on the server's side right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// The most connections that were open on the server's side at once.
    pub fn peak_open(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// When the server accepted each connection, in order (taken as its accept returned).
    pub fn accept_times(&self) -> Vec<Instant> {
        lock(&self.accept_times).clone()
    }

    /// The requests the server has read so far (each as read: the head, and whatever came in
    /// the same reads), in the order it read them; empty unless started with
    /// [`StubBuilder::record`]. A request is recorded before it is answered, so once a client has
    /// its reply, its request is here.
    pub fn requests(&self) -> Vec<Vec<u8>> {
        match &self.requests {
            Some(requests) => lock(requests).clone(),
            None => Vec::new(),
        }
    }
}

impl Drop for Stub {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Many hosts with one behaviour: a listener on each of many loopback addresses (127.0.0.1,
/// 127.0.0.2 ...), all served by one thread, for a benchmark of thousands of distinct hosts where
/// a thread per [`Stub`] would cost more than the fetching measured. Stops when dropped.
#[derive(Debug)]
pub struct Hosts {
    addrs: Vec<SocketAddr>,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Hosts {
    /// Binds every address (a port of 0 takes a free one for that address) and serves
    /// `behavior` on all of them; an address that cannot be bound is an error naming it.
    pub fn start(
        behavior: Behavior,
        addrs: impl IntoIterator<Item = SocketAddrV4>,
    ) -> io::Result<Hosts> {
        let mut listeners = Vec::new();
        for addr in addrs {
            let listener = listen_on(addr, 65535)
                .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
            listeners.push(listener);
        }
        let bound = listeners
            .iter()
            .map(|l| l.local_addr())
            .collect::<io::Result<Vec<_>>>()?;
        let listeners = listeners
            .into_iter()
            .map(Async::new)
            .collect::<io::Result<Vec<_>>>()?;
        let behavior = Arc::new(behavior);
        let (accepted, open, peak) = (Arc::default(), Arc::default(), Arc::default());
        let accept_times = Arc::default();
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name(format!("stub-hosts-{}", bound.len()))
            .spawn(move || {
                // Shared with the accept loops it runs; they are cancelled (dropping their
                // handles) before it goes.
                let ex = std::rc::Rc::new(LocalExecutor::new());
                let all = listeners.into_iter().map(|listener| {
                    let server = Server {
                        behavior: behavior.clone(),
                        tls: None,
                        accepted: Arc::clone(&accepted),
                        open: Arc::clone(&open),
                        requests: None,
                        peak: Arc::clone(&peak),
                        accept_times: Arc::clone(&accept_times),
                    };
                    let runs_on = ex.clone();
                    ex.spawn(async move { serve(&runs_on, listener, server).await })
                });
                let tasks: Vec<_> = all.collect();
                let stopped = async {
                    let _ = stopped.recv().await;
                };
                async_io::block_on(ex.run(stopped));
                // Cancelled on the executor, which drops each loop and its listener (and the
                // executor handle each holds).
                async_io::block_on(ex.run(async {
                    for task in tasks {
                        task.cancel().await;
                    }
                }));
            })?;
        Ok(Hosts {
            addrs: bound,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The addresses served, in the order given.
    pub fn addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A port on 127.0.0.1 where nothing listens (bound, then released), for "connection refused".
/// Another process could take it in between; tests on a quiet loopback can rely on it.
pub fn closed_port() -> io::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    Ok(listener.local_addr()?.port())
}

/// A listener that never accepts, its accept queue already full, so that a new connection to it
/// hangs unanswered: Linux drops SYNs to a full queue. For connect timeouts on loopback.
///
/// Filling the queue is checked, not assumed: [`Unaccepting::start`] fails if a connection still
/// completes after 64 fillers (a kernel with other rules).
#[derive(Debug)]
pub struct Unaccepting {
    addr: SocketAddr,
    _listener: TcpListener,
    _fillers: Vec<TcpStream>,
}

impl Unaccepting {
    /// Binds 127.0.0.1 on a free port with a backlog of 0 and fills the queue.
    pub fn start() -> io::Result<Unaccepting> {
        let listener = listen_with_backlog(0)?;
        let addr = listener.local_addr()?;
        let mut fillers = Vec::new();
        for _ in 0..64 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                Ok(conn) => fillers.push(conn),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                    return Ok(Unaccepting {
                        addr,
                        _listener: listener,
                        _fillers: fillers,
                    });
                }
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other("accept queue never filled up"))
    }

    /// The address where connections hang.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `127.0.0.1:PORT`, ready to be a target.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }
}

/// Binds 127.0.0.1:0 with a long accept backlog: ten thousand clients connecting at once must
/// not overflow it (a dropped SYN costs the client a one-second retransmit).
fn listen_with_backlog(backlog: i32) -> io::Result<TcpListener> {
    listen_on(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0), backlog)
}

fn listen_on(addr: SocketAddrV4, backlog: i32) -> io::Result<TcpListener> {
    #[cfg(unix)]
    {
        use rustix::net::{AddressFamily, SocketType, bind, listen, socket};
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
        bind(&fd, &SocketAddr::V4(addr))?;
        listen(&fd, backlog)?;
        Ok(TcpListener::from(fd))
    }
    #[cfg(not(unix))]
    {
        let _ = backlog;
        TcpListener::bind(addr)
    }
}

/// What one stub's accept loop and connection tasks share.
struct Server {
    behavior: Arc<Behavior>,
    tls: Option<TlsAcceptor>,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
    requests: Option<Arc<Mutex<Vec<Vec<u8>>>>>,
    peak: Arc<AtomicUsize>,
    accept_times: Arc<Mutex<Vec<Instant>>>,
}

/// A poisoned lock only means a test panicked while holding it; the requests are still good.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn serve(ex: &LocalExecutor<'_>, listener: Async<TcpListener>, server: Server) {
    let (reset, ok) = (Arc::new(Behavior::Reset), Arc::new(Behavior::Ok));
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                let now = Instant::now();
                // Open first: whoever sees the accept count sees the connection open.
                let open_now = server.open.fetch_add(1, Ordering::Relaxed) + 1;
                server.peak.fetch_max(open_now, Ordering::Relaxed);
                let nth = server.accepted.fetch_add(1, Ordering::Relaxed);
                lock(&server.accept_times).push(now);
                let guard = OpenGuard(server.open.clone());
                let behavior = match &*server.behavior {
                    Behavior::ResetFirst(n) if nth < *n => reset.clone(),
                    Behavior::ResetFirst(_) => ok.clone(),
                    _ => server.behavior.clone(),
                };
                let tls = server.tls.clone();
                let record = Record(server.requests.clone());
                ex.spawn(async move {
                    match tls {
                        None => handle(conn, &behavior, &record).await,
                        Some(tls) => {
                            // A client that refuses the certificate ends here.
                            if let Ok(conn) = tls.accept(conn).await {
                                match &*behavior {
                                    Behavior::TlsAlert(_) | Behavior::BadRecord => {
                                        fail_tls(conn, &behavior, &record).await
                                    }
                                    _ => handle(conn, &behavior, &record).await,
                                }
                            }
                        }
                    }
                    drop(guard);
                })
                .detach();
            }
            // Out of descriptors (the client in the same process holds them): wait, retry.
            Err(_) => {
                Timer::after(Duration::from_millis(5)).await;
            }
        }
    }
}

/// Where a connection keeps the requests it reads, if the stub records them.
struct Record(Option<Arc<Mutex<Vec<Vec<u8>>>>>);

impl Record {
    fn keep(&self, request: &[u8]) {
        if let Some(requests) = &self.0 {
            lock(requests).push(request.to_vec());
        }
    }
}

/// Counts a connection as open until dropped (also when its task is dropped unfinished).
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A connection a stub serves: plain TCP or TLS over it.
trait Socket: AsyncRead + AsyncWrite + Unpin {
    /// The TCP socket underneath.
    fn tcp(&self) -> &Async<TcpStream>;
    /// Whether the reply must end with TLS's close_notify.
    const TLS: bool;
}

impl Socket for Async<TcpStream> {
    fn tcp(&self) -> &Async<TcpStream> {
        self
    }
    const TLS: bool = false;
}

impl Socket for futures_rustls::server::TlsStream<Async<TcpStream>> {
    fn tcp(&self) -> &Async<TcpStream> {
        self.get_ref().0
    }
    const TLS: bool = true;
}

/// The most of a request head a stub reads: far past any real server's limit, so that a test
/// can send a huge head and see it arrive whole.
const MAX_REQUEST: usize = 1024 * 1024;

/// Reads the request head: until a blank line, end of stream, or [`MAX_REQUEST`] bytes; keeps
/// it in `record` and returns what it read.
async fn read_request(conn: &mut impl Socket, record: &Record) -> Vec<u8> {
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    while seen.len() < MAX_REQUEST {
        let from = seen.len().saturating_sub(3);
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        // Only the new bytes (and the three before them) can complete the blank line.
        let new = &seen[from..];
        if new.windows(4).any(|w| w == b"\r\n\r\n") || new.windows(2).any(|w| w == b"\n\n") {
            break;
        }
    }
    record.keep(&seen);
    seen
}

/// [`Behavior::Echo`]'s reply to `request`.
fn echo(request: &[u8]) -> Vec<u8> {
    let mut reply = String::from("HTTP/1.0 200 OK\r\n");
    for line in String::from_utf8_lossy(request).split("\r\n") {
        if !line.is_empty() {
            reply.push_str(&format!("X-Got: {line}\r\n"));
        }
    }
    reply.push_str("\r\n");
    reply.into_bytes()
}

/// The path of a request line (`GET /path HTTP/1.0`), empty if there is none.
fn request_path(request: &[u8]) -> &str {
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(line).unwrap_or_default();
    line.split(' ').nth(1).unwrap_or_default()
}

async fn handle<S: Socket>(mut conn: S, behavior: &Behavior, record: &Record) {
    if *behavior == Behavior::SshBanner {
        let banner = behavior.reply().unwrap_or_default();
        let _ = conn.write_all(&banner).await;
        read_request(&mut conn, record).await;
        return;
    }
    // A plain stub's alert answers the first bytes, as a TLS server refusing a ClientHello.
    if matches!(behavior, Behavior::Rejecting | Behavior::TlsAlert(_)) {
        let mut buf = [0u8; 4096];
        if let Ok(n) = conn.read(&mut buf).await {
            record.keep(&buf[..n]);
        }
        let _ = conn.write_all(&behavior.reply().unwrap_or_default()).await;
        return;
    }
    let request = read_request(&mut conn, record).await;
    let not_found = Behavior::Status(404);
    let mut behavior = behavior;
    loop {
        behavior = match behavior {
            Behavior::Route(routes) => {
                let path = request_path(&request);
                let route = routes.iter().find(|(p, _)| p == path);
                route.map_or(&not_found, |(_, b)| b)
            }
            Behavior::Delay(delay, then) => {
                Timer::after(*delay).await;
                then
            }
            _ => break,
        };
    }
    match behavior {
        Behavior::Slow(delay) => {
            Timer::after(*delay).await;
        }
        Behavior::Drip(interval) => {
            for byte in behavior.reply().unwrap_or_default() {
                if conn.write_all(&[byte]).await.is_err() {
                    return;
                }
                Timer::after(*interval).await;
            }
            return;
        }
        Behavior::ContinueDrip(interval) => {
            // Ends when a write fails: the client hung up.
            while conn
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_ok()
            {
                let _ = conn.flush().await;
                Timer::after(*interval).await;
            }
            return;
        }
        Behavior::Silent => {
            // Until the client hangs up (or the stub is dropped, which drops this task).
            let mut buf = [0u8; 256];
            while let Ok(1..) = conn.read(&mut buf).await {}
            return;
        }
        Behavior::ResetMidHead => {
            let _ = conn.write_all(&behavior.reply().unwrap_or_default()).await;
            let _ = conn.flush().await;
            // Time for the bytes to arrive before the RST, which would discard them.
            Timer::after(Duration::from_millis(50)).await;
            #[cfg(unix)]
            {
                let _ = rustix::net::sockopt::set_socket_linger(conn.tcp(), Some(Duration::ZERO));
            }
            return;
        }
        Behavior::Reset => {
            #[cfg(unix)]
            {
                // Linger 0: close sends RST instead of FIN.
                let _ = rustix::net::sockopt::set_socket_linger(conn.tcp(), Some(Duration::ZERO));
            }
            return;
        }
        _ => {}
    }
    let reply = match behavior {
        Behavior::Echo => echo(&request),
        _ => behavior.reply().unwrap_or_default(),
    };
    // The client hangs up once it has the head; errors writing the body are expected.
    let _ = conn.write_all(&reply).await;
    if let Behavior::RawNoCloseNotify(_) = behavior {
        // Out of rustls' buffer onto the socket, and no close_notify after it.
        let _ = conn.flush().await;
        return;
    }
    if S::TLS {
        // Flushes the reply and sends close_notify, as a well-behaved TLS server does.
        let _ = conn.close().await;
    }
    // Dropping the connection closes it: the client sees the end of the stream.
}

/// [`Behavior::TlsAlert`] and [`Behavior::BadRecord`] on a TLS stub: after the handshake and
/// the request, one record written straight to the socket, past rustls (which has no way to
/// send an arbitrary alert).
async fn fail_tls(
    mut conn: futures_rustls::server::TlsStream<Async<TcpStream>>,
    behavior: &Behavior,
    record: &Record,
) {
    read_request(&mut conn, record).await;
    // What rustls still holds (session tickets) goes out first: the alert's record number
    // counts those records.
    if conn.flush().await.is_err() {
        return;
    }
    let (mut tcp, session) = conn.into_inner();
    let record = match behavior {
        Behavior::TlsAlert(alert) => tls::encrypted_alert(session, *alert),
        _ => None,
    };
    let record = record.or_else(|| behavior.reply()).unwrap_or_default();
    let _ = tcp.write_all(&record).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn exchange(stub: &Stub) -> Vec<u8> {
        let mut conn = TcpStream::connect(stub.addr()).unwrap();
        conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let mut reply = Vec::new();
        let _ = conn.read_to_end(&mut reply);
        reply
    }

    #[test]
    fn replies_are_the_documented_bytes() {
        for behavior in [
            Behavior::Ok,
            Behavior::Status(404),
            Behavior::Redirect("/x".into()),
            Behavior::NonAscii,
            Behavior::Continue,
        ] {
            let stub = Stub::start(behavior.clone()).unwrap();
            assert_eq!(exchange(&stub), behavior.reply().unwrap(), "{behavior:?}");
            assert_eq!(stub.accepted(), 1);
        }
        let ok = String::from_utf8(Behavior::Ok.reply().unwrap()).unwrap();
        assert!(!ok.contains("Date:"), "replies must be deterministic");
    }

    #[test]
    fn hosts_serve_every_address_on_one_thread_and_stop_when_dropped() {
        let port = closed_port().unwrap();
        let addrs: Vec<SocketAddrV4> = (1..=3)
            .map(|n| SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, n), port))
            .collect();
        let hosts = Hosts::start(Behavior::Status(404), addrs.clone()).unwrap();
        assert_eq!(hosts.addrs().len(), 3);
        for addr in hosts.addrs() {
            let mut conn = TcpStream::connect(addr).unwrap();
            conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
            let mut reply = Vec::new();
            let _ = conn.read_to_end(&mut reply);
            assert_eq!(reply, Behavior::Status(404).reply().unwrap(), "{addr}");
        }
        drop(hosts);
        assert!(TcpStream::connect(addrs[1]).is_err(), "still listening");
    }

    #[test]
    fn echo_answers_with_the_request_it_read() {
        let stub = Stub::start(Behavior::Echo).unwrap();
        let mut conn = TcpStream::connect(stub.addr()).unwrap();
        conn.write_all(b"HEAD /p?q=1 HTTP/1.1\r\nX-Trace:  7 \r\n\r\n")
            .unwrap();
        let mut reply = Vec::new();
        conn.read_to_end(&mut reply).unwrap();
        assert_eq!(
            reply,
            b"HTTP/1.0 200 OK\r\nX-Got: HEAD /p?q=1 HTTP/1.1\r\nX-Got: X-Trace:  7 \r\n\r\n"
        );
    }

    #[test]
    fn a_recording_stub_hands_over_each_request_before_its_reply() {
        let routes = vec![("/a".into(), Behavior::Ok), ("/b".into(), Behavior::Reset)];
        let stub = Stub::builder(Behavior::Route(routes))
            .record()
            .start()
            .unwrap();
        let sent = [
            &b"GET /a HTTP/1.0\r\n\r\n"[..],
            b"GET /b HTTP/1.0\r\nX: y\r\n\r\n",
        ];
        for (i, request) in sent.iter().enumerate() {
            let mut conn = TcpStream::connect(stub.addr()).unwrap();
            conn.write_all(request).unwrap();
            // The first reply byte (or the reset) comes after the request was kept.
            let _ = conn.read(&mut [0u8; 1]);
            assert_eq!(stub.requests().len(), i + 1);
        }
        assert_eq!(stub.requests(), sent.map(<[u8]>::to_vec));
        // Not recording: nothing kept.
        let plain = Stub::start(Behavior::Ok).unwrap();
        exchange(&plain);
        assert!(plain.requests().is_empty());
    }

    #[test]
    fn delay_answers_its_behaviour_late() {
        let stub = Stub::start(Behavior::Delay(
            Duration::from_millis(300),
            Box::new(Behavior::Status(404)),
        ))
        .unwrap();
        let start = std::time::Instant::now();
        assert_eq!(exchange(&stub), Behavior::Status(404).reply().unwrap());
        assert!(start.elapsed() >= Duration::from_millis(300));
    }

    #[test]
    fn continue_drip_sends_interim_heads_until_the_client_hangs_up() {
        let stub = Stub::start(Behavior::ContinueDrip(Duration::from_millis(10))).unwrap();
        let mut conn = TcpStream::connect(stub.addr()).unwrap();
        conn.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        let head = b"HTTP/1.1 100 Continue\r\n\r\n";
        let mut got = vec![0u8; head.len() * 5];
        conn.read_exact(&mut got).unwrap();
        assert_eq!(got, head.repeat(5));
        drop(conn);
        // Its task ends on the failed write: the connection closes on the server's side too.
        let start = std::time::Instant::now();
        while stub.open() > 0 {
            assert!(start.elapsed() < Duration::from_secs(10), "still open");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn dropping_the_stub_stops_it_and_closes_its_connections() {
        let stub = Stub::builder(Behavior::Silent).record().start().unwrap();
        let addr = stub.addr();
        let mut held = TcpStream::connect(addr).unwrap();
        held.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        // Until the request was read: closing a socket with unread bytes sends RST, not FIN.
        let start = std::time::Instant::now();
        while stub.requests().is_empty() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "request never read"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(stub.open(), 1);
        drop(stub); // Joins the server thread.
        // The held connection was closed by the server: end of stream, no reply.
        let mut rest = Vec::new();
        held.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        assert_eq!(held.read_to_end(&mut rest).unwrap(), 0);
        // And nothing listens any more.
        let err = TcpStream::connect(addr).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
    }
}
