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
//! let server = stub::Stub::start(stub::Behavior::Redirect("/new".into())).unwrap();
//! let mut conn = std::net::TcpStream::connect(server.addr()).unwrap();
//! conn.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
//! let mut reply = String::new();
//! conn.read_to_string(&mut reply).unwrap();
//! assert!(reply.starts_with("HTTP/1.1 301 Moved Permanently\r\n"));
//! assert!(reply.contains("\r\nLocation: /new\r\n"));
//! ```
//!
//! Not a real HTTP server: it answers every request the same way, one request per connection,
//! and closes.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
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
    /// This status (404, 500 ...) with its standard reason phrase.
    Status(u16),
    /// The `200 OK` head, one byte per interval (a slow-loris server).
    Drip(Duration),
    /// Part of a head, then the connection is closed.
    CloseMidHead,
    /// Reads the request and never answers (holds the connection until the stub is dropped).
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
            Behavior::Raw(bytes) => bytes.clone(),
            Behavior::Silent | Behavior::Reset => return None,
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
        304 => "Not Modified",
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
    accepted: Arc<AtomicUsize>,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Stub {
    /// Starts a server on 127.0.0.1 with a free port, serving `behavior`.
    pub fn start(behavior: Behavior) -> io::Result<Stub> {
        let listener = listen()?;
        let addr = listener.local_addr()?;
        let listener = Async::new(listener)?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let counter = accepted.clone();
        let thread = std::thread::Builder::new()
            .name(format!("stub-{}", addr.port()))
            .spawn(move || {
                let ex = LocalExecutor::new();
                let serve = serve(&ex, listener, Arc::new(behavior), counter);
                // The stop channel closes when the Stub is dropped; `recv` then returns.
                let stopped = async {
                    let _ = stopped.recv().await;
                };
                async_io::block_on(ex.run(future::or(serve, stopped)));
                // Dropping the executor drops every connection task, closing its socket.
            })?;
        Ok(Stub {
            addr,
            accepted,
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

    /// `127.0.0.1:PORT`, ready to be a target.
    pub fn target(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// How many connections the server has accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
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

/// Binds 127.0.0.1:0 with a long accept backlog: ten thousand clients connecting at once must
/// not overflow it (a dropped SYN costs the client a one-second retransmit).
fn listen() -> io::Result<TcpListener> {
    #[cfg(unix)]
    {
        use rustix::net::{AddressFamily, SocketType, bind, listen, socket};
        let fd = socket(AddressFamily::INET, SocketType::STREAM, None)?;
        bind(
            &fd,
            &SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0)),
        )?;
        // The kernel caps it at net.core.somaxconn.
        listen(&fd, 65535)?;
        Ok(TcpListener::from(fd))
    }
    #[cfg(not(unix))]
    {
        TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
    }
}

async fn serve(
    ex: &LocalExecutor<'_>,
    listener: Async<TcpListener>,
    behavior: Arc<Behavior>,
    accepted: Arc<AtomicUsize>,
) {
    loop {
        match listener.accept().await {
            Ok((conn, _)) => {
                accepted.fetch_add(1, Ordering::Relaxed);
                ex.spawn(handle(conn, behavior.clone())).detach();
            }
            // Out of descriptors (the client in the same process holds them): wait, retry.
            Err(_) => {
                Timer::after(Duration::from_millis(5)).await;
            }
        }
    }
}

/// Reads the request head: until a blank line, end of stream, or 16 KiB.
async fn read_request(conn: &mut Async<TcpStream>) {
    let mut buf = [0u8; 1024];
    let mut seen = Vec::new();
    while seen.len() < 16 * 1024 {
        match conn.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen.extend_from_slice(&buf[..n]),
        }
        if seen.windows(4).any(|w| w == b"\r\n\r\n") || seen.windows(2).any(|w| w == b"\n\n") {
            return;
        }
    }
}

async fn handle(mut conn: Async<TcpStream>, behavior: Arc<Behavior>) {
    if *behavior == Behavior::SshBanner {
        let banner = behavior.reply().unwrap_or_default();
        let _ = conn.write_all(&banner).await;
        read_request(&mut conn).await;
        return;
    }
    read_request(&mut conn).await;
    match &*behavior {
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
            // Held until the stub is dropped, which drops this task.
            future::pending::<()>().await;
        }
        Behavior::Reset => {
            #[cfg(unix)]
            {
                // Linger 0: close sends RST instead of FIN.
                let _ = rustix::net::sockopt::set_socket_linger(&conn, Some(Duration::ZERO));
            }
            return;
        }
        _ => {}
    }
    let reply = behavior.reply().unwrap_or_default();
    // The client hangs up once it has the head; errors writing the body are expected.
    let _ = conn.write_all(&reply).await;
    let _ = conn.get_ref().shutdown(std::net::Shutdown::Write);
}
