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
//! request head (up to 16 KiB), like a real server.
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
//! each path its own way, for redirect chains (relative locations, loops).
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
mod tls;

pub use dns::{Decoy, DnsBehavior, DnsStub};

pub use tls::{CertSpec, Identity, IntermediateCa, TestCa};

/// The TLS alerts [`Behavior::TlsAlert`] sends (rustls' type, re-exported so that tests need
/// no rustls of their own).
pub use rustls::AlertDescription;

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

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
    /// Reads the request and never answers; holds the connection until the client closes it or
    /// the stub is dropped.
    Silent,
    /// Reads the request, then resets the connection (RST).
    Reset,
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
            Behavior::Ok | Behavior::Slow(_) | Behavior::Drip(_) => ok(),
            Behavior::Redirect(to) => response("301 Moved Permanently", &[("Location", to)]),
            Behavior::Moved(code, to) => {
                response(&format!("{code} {}", reason(*code)), &[("Location", to)])
            }
            Behavior::Rejecting => response("400 Bad Request", &[]),
            Behavior::Status(code) => response(&format!("{code} {}", reason(*code)), &[]),
            Behavior::CloseMidHead => b"HTTP/1.1 200 OK\r\nServer: tulip-stub\r\nContent-Ty".to_vec(),
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
            Behavior::Silent | Behavior::Reset | Behavior::Route(_) => return None,
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
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    /// Starts a server on 127.0.0.1 with a free port, serving `behavior`.
    pub fn start(behavior: Behavior) -> io::Result<Stub> {
        Stub::start_with(behavior, None)
    }

    /// Starts a server like [`Stub::start`] that speaks TLS first, presenting `identity`.
    /// Its [`Stub::target`] and [`Stub::url`] are `https://` URLs. A client that rejects the
    /// certificate gets no reply (the handshake failed); one that accepts it gets `behavior`.
    pub fn start_tls(behavior: Behavior, identity: &Identity) -> io::Result<Stub> {
        Stub::start_with(behavior, Some(TlsAcceptor::from(identity.server_config()?)))
    }

    fn start_with(behavior: Behavior, tls: Option<TlsAcceptor>) -> io::Result<Stub> {
        let listener = listen()?;
        let addr = listener.local_addr()?;
        let listener = Async::new(listener)?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let open = Arc::new(AtomicUsize::new(0));
        let counters = (accepted.clone(), open.clone());
        let is_tls = tls.is_some();
        let thread = std::thread::Builder::new()
            .name(format!("stub-{}", addr.port()))
            .spawn(move || {
                let ex = LocalExecutor::new();
                let serve = serve(&ex, listener, Arc::new(behavior), tls, counters);
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
            stop: Some(stop),
            thread: Some(thread),
        })
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
}

impl Drop for Stub {
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
fn listen() -> io::Result<TcpListener> {
    // The kernel caps it at net.core.somaxconn.
    listen_with_backlog(65535)
}

fn listen_with_backlog(backlog: i32) -> io::Result<TcpListener> {
    #[cfg(unix)]
    {
        use rustix::net::{AddressFamily, SocketType, bind, listen, socket};
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
        bind(
            &fd,
            &SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        )?;
        listen(&fd, backlog)?;
        Ok(TcpListener::from(fd))
    }
    #[cfg(not(unix))]
    {
        let _ = backlog;
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
    }
}

async fn serve(
    ex: &LocalExecutor<'_>,
    listener: Async<TcpListener>,
    behavior: Arc<Behavior>,
    tls: Option<TlsAcceptor>,
    (accepted, open): (Arc<AtomicUsize>, Arc<AtomicUsize>),
) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                // Open first: whoever sees the accept count sees the connection open.
                open.fetch_add(1, Ordering::Relaxed);
                accepted.fetch_add(1, Ordering::Relaxed);
                let guard = OpenGuard(open.clone());
                let behavior = behavior.clone();
                let tls = tls.clone();
                ex.spawn(async move {
                    match tls {
                        None => handle(conn, &behavior).await,
                        Some(tls) => {
                            // A client that refuses the certificate ends here.
                            if let Ok(conn) = tls.accept(conn).await {
                                match &*behavior {
                                    Behavior::TlsAlert(_) | Behavior::BadRecord => {
                                        fail_tls(conn, &behavior).await
                                    }
                                    _ => handle(conn, &behavior).await,
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

/// Reads the request head: until a blank line, end of stream, or 16 KiB; returns what it read.
async fn read_request(conn: &mut impl Socket) -> Vec<u8> {
    let mut buf = [0u8; 1024];
    let mut seen = Vec::new();
    while seen.len() < 16 * 1024 {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.windows(2).any(|w| w == b"\n\n") {
            break;
        }
    }
    seen
}

/// The path of a request line (`GET /path HTTP/1.0`), empty if there is none.
fn request_path(request: &[u8]) -> &str {
    let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = std::str::from_utf8(line).unwrap_or_default();
    line.split(' ').nth(1).unwrap_or_default()
}

async fn handle<S: Socket>(mut conn: S, behavior: &Behavior) {
    if *behavior == Behavior::SshBanner {
        let banner = behavior.reply().unwrap_or_default();
        let _ = conn.write_all(&banner).await;
        read_request(&mut conn).await;
        return;
    }
    // A plain stub's alert answers the first bytes, as a TLS server refusing a ClientHello.
    if matches!(behavior, Behavior::Rejecting | Behavior::TlsAlert(_)) {
        let mut buf = [0u8; 4096];
        let _ = conn.read(&mut buf).await;
        let _ = conn.write_all(&behavior.reply().unwrap_or_default()).await;
        return;
    }
    let request = read_request(&mut conn).await;
    let not_found = Behavior::Status(404);
    let behavior = match behavior {
        Behavior::Route(routes) => {
            let path = request_path(&request);
            let route = routes.iter().find(|(p, _)| p == path);
            route.map_or(&not_found, |(_, b)| b)
        }
        other => other,
    };
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
        Behavior::Silent => {
            // Until the client hangs up (or the stub is dropped, which drops this task).
            let mut buf = [0u8; 256];
            while let Ok(1..) = conn.read(&mut buf).await {}
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
    let reply = behavior.reply().unwrap_or_default();
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
) {
    read_request(&mut conn).await;
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
    fn dropping_the_stub_stops_it_and_closes_its_connections() {
        let stub = Stub::start(Behavior::Silent).unwrap();
        let addr = stub.addr();
        let mut held = TcpStream::connect(addr).unwrap();
        held.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        while stub.open() == 0 {
            std::thread::sleep(Duration::from_millis(5));
        }
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
