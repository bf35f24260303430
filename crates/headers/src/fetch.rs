//! Fetching one head: resolve (only for names), connect (and, for `https://`, shake hands over
//! TLS), send the request, read until the head is complete, all under one deadline, and turn
//! every failure into a typed [`FetchError`].

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use async_io::{Async, Timer};
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, future};
use futures_rustls::client::TlsStream;

use crate::fd;
use crate::head::{
    DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADERS, Head, HeadError, HeadParser, Limits, Parsed,
};
use crate::request::{Header, Method, Version, build_request};
use crate::target::{Scheme, Target};
use crate::tls::{TlsConfig, TlsError, TlsInfo};

/// How to fetch: the request to send and the limits to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `GET` (default) or `HEAD`.
    pub method: Method,
    /// `HTTP/1.0` (default) or `HTTP/1.1`.
    pub version: Version,
    /// Extra request headers, sent after `Host`.
    pub headers: Vec<Header>,
    /// The most time connecting may take (default 10 s); never more than what is left of
    /// [`Options::timeout`].
    pub connect_timeout: Duration,
    /// The deadline for the whole exchange: DNS, connect, write and read until the head is
    /// complete (default 10 s). A server dripping one byte a second cannot stretch it.
    pub timeout: Duration,
    /// Cap on the size of the head, interim heads included (default 64 KiB).
    pub max_head_size: usize,
    /// Cap on the number of headers in one head (default 100).
    pub max_headers: usize,
    /// How `https://` targets are verified (default: Mozilla's roots). Built once and shared.
    pub tls: TlsConfig,
    /// Follow redirects (301, 302, 303, 307, 308 with a `Location`), at most this many per
    /// target, in [`fetch_chain`](crate::fetch_chain) and [`fetch_many`](crate::fetch_many);
    /// `None` (the default) follows none. When following, [`Options::timeout`] is the deadline
    /// for the whole chain.
    pub max_redirects: Option<usize>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            method: Method::Get,
            version: Version::Http10,
            headers: Vec::new(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            max_head_size: DEFAULT_MAX_HEAD_SIZE,
            max_headers: DEFAULT_MAX_HEADERS,
            tls: TlsConfig::default(),
            max_redirects: None,
        }
    }
}

impl Options {
    /// The head limits of these options.
    pub fn limits(&self) -> Limits {
        Limits {
            max_head_size: self.max_head_size,
            max_headers: self.max_headers,
        }
    }
}

/// A fetched response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The final head: version, status, reason, headers, raw lines.
    pub head: Head,
    /// The 1xx heads received before it (`100 Continue` ...), in order.
    pub interim: Vec<Head>,
    /// The address the connection went to.
    pub peer: SocketAddr,
    /// For `https://` targets: the TLS version and ALPN protocol negotiated.
    pub tls: Option<TlsInfo>,
    /// From the start of the exchange until the head was complete.
    pub elapsed: Duration,
}

/// The phase of an exchange, to say where a timeout struck.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Resolving the host name.
    Dns = 0,
    /// Connecting.
    Connect = 1,
    /// Sending the request.
    Write = 2,
    /// Reading the head.
    Read = 3,
    /// The TLS handshake (`https://` targets).
    Tls = 4,
}

impl Phase {
    /// `"dns"`, `"connect"`, `"tls"`, `"write"` or `"read"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Dns => "dns",
            Phase::Connect => "connect",
            Phase::Tls => "tls",
            Phase::Write => "write",
            Phase::Read => "read",
        }
    }

    pub(crate) fn from_u8(n: u8) -> Phase {
        match n {
            0 => Phase::Dns,
            1 => Phase::Connect,
            2 => Phase::Write,
            4 => Phase::Tls,
            _ => Phase::Read,
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why fetching one head failed. Messages are short and lowercase; [`FetchError::kind`] gives
/// a stable one-word name for counting and JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchError {
    /// The host name did not resolve (the resolver's message).
    Dns(String),
    /// The connection was refused: nothing listens on that port.
    Refused,
    /// The connection was reset (or the peer vanished while we wrote).
    Reset,
    /// The deadline (or the connect timeout) passed, in this phase.
    Timeout(Phase),
    /// The reply is not HTTP; holds the start of what came (escaped, at most 40 bytes).
    NotHttp(String),
    /// The connection ended before the head was complete, after this many bytes.
    Truncated {
        /// Bytes received before the end of stream.
        received: usize,
    },
    /// The head grew past the size cap.
    TooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The head has more headers than the cap.
    TooManyHeaders {
        /// The cap.
        limit: usize,
    },
    /// The head is HTTP but malformed (httparse's reason).
    InvalidHead(String),
    /// TLS failed (`https://` targets): the handshake, or the TLS layer while reading the head
    /// (an alert, a record that does not decrypt).
    Tls(TlsError),
    /// Following redirects came back to a URL already fetched in this chain.
    RedirectLoop {
        /// The URL the chain came back to.
        url: String,
    },
    /// The chain redirected more than [`Options::max_redirects`] times.
    TooManyRedirects {
        /// The cap.
        limit: usize,
    },
    /// A redirect's `Location` cannot be followed (unsupported scheme, bad host ...).
    BadRedirect(String),
    /// Any other I/O error (unreachable network ...), with its message.
    Io(String),
}

impl FetchError {
    /// A stable one-word name: `dns`, `refused`, `reset`, `timeout`, `not-http`, `truncated`,
    /// `too-large`, `too-many-headers`, `invalid`, `io`; for TLS failures the
    /// [`TlsError::kind`] (`unknown-issuer`, `expired`, `name-mismatch`, `bad-certificate`,
    /// `handshake`, `not-tls`, `tls-alert`, `tls-protocol`); for redirects `redirect-loop`,
    /// `too-many-redirects`, `bad-redirect`.
    pub fn kind(&self) -> &'static str {
        match self {
            FetchError::Dns(_) => "dns",
            FetchError::Refused => "refused",
            FetchError::Reset => "reset",
            FetchError::Timeout(_) => "timeout",
            FetchError::NotHttp(_) => "not-http",
            FetchError::Truncated { .. } => "truncated",
            FetchError::TooLarge { .. } => "too-large",
            FetchError::TooManyHeaders { .. } => "too-many-headers",
            FetchError::InvalidHead(_) => "invalid",
            FetchError::Tls(e) => e.kind(),
            FetchError::RedirectLoop { .. } => "redirect-loop",
            FetchError::TooManyRedirects { .. } => "too-many-redirects",
            FetchError::BadRedirect(_) => "bad-redirect",
            FetchError::Io(_) => "io",
        }
    }

    /// Classifies an I/O error from one phase.
    pub(crate) fn from_io(e: &io::Error, phase: Phase) -> FetchError {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => FetchError::Refused,
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => FetchError::Reset,
            io::ErrorKind::TimedOut => FetchError::Timeout(phase),
            _ => FetchError::Io(e.to_string().to_lowercase()),
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Dns(why) => write!(f, "dns lookup failed: {why}"),
            FetchError::Refused => f.write_str("connection refused"),
            FetchError::Reset => f.write_str("connection reset"),
            FetchError::Timeout(phase) => write!(f, "timeout ({phase})"),
            FetchError::NotHttp(start) => write!(f, "not http: \"{start}\""),
            FetchError::Truncated { received: 0 } => {
                f.write_str("connection closed before any reply")
            }
            FetchError::Truncated { received } => {
                write!(f, "head cut short by end of stream after {received} bytes")
            }
            FetchError::TooLarge { limit } => write!(f, "head larger than {limit} bytes"),
            FetchError::TooManyHeaders { limit } => write!(f, "more than {limit} headers"),
            FetchError::InvalidHead(why) => write!(f, "invalid head: {why}"),
            FetchError::Tls(e) => e.fmt(f),
            FetchError::RedirectLoop { url } => write!(f, "redirect loop: back to {url}"),
            FetchError::TooManyRedirects { limit } => write!(f, "more than {limit} redirects"),
            FetchError::BadRedirect(why) => write!(f, "cannot follow redirect {why}"),
            FetchError::Io(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for FetchError {}

/// The first read gets this much room; most heads fit (nginx sends about 250 bytes), and it is
/// doubled up to the head cap when not. Small, because 10,000 connections may be waiting.
const INITIAL_BUFFER: usize = 1024;

/// Fetches the response head of `target`: connects, sends [`build_request`]'s bytes, reads
/// until the head is complete (never the body) and returns it, or the reason it could not.
///
/// Host names are resolved on async-net's blocking pool; IP literals skip DNS entirely. When the
/// process is out of file descriptors, the connection waits for one to free rather than fail
/// (the wait counts against the deadline; [`fetch_many`](crate::fetch_many) keeps its
/// concurrency under the open-file limit, so there it is rare).
///
/// ```
/// use tulip_headers::{fetch_head, Options};
/// # futures_lite::future::block_on(async {
/// let server = stub::Stub::start(stub::Behavior::Ok).unwrap();
/// let target = server.target().parse().unwrap();
/// let response = fetch_head(&target, &Options::default()).await.unwrap();
/// assert_eq!(response.head.status, 200);
/// assert_eq!(response.head.lines[0], "HTTP/1.1 200 OK");
///
/// let closed = format!("127.0.0.1:{}", stub::closed_port().unwrap()).parse().unwrap();
/// let err = fetch_head(&closed, &Options::default()).await.unwrap_err();
/// assert_eq!((err.kind(), err.to_string().as_str()), ("refused", "connection refused"));
/// # });
/// ```
pub async fn fetch_head(target: &Target, options: &Options) -> Result<Response, FetchError> {
    // The phase is shared with the deadline timer, which reports where it struck.
    let phase = AtomicU8::new(Phase::Dns as u8);
    let start = Instant::now();
    // A timeout too large to add to the clock is no deadline at all.
    let deadline = start.checked_add(options.timeout);
    let exchange = exchange(target, options, &phase, start, deadline);
    let timer = async {
        match deadline {
            Some(deadline) => Timer::at(deadline).await,
            None => Timer::never().await,
        };
        Err(FetchError::Timeout(Phase::from_u8(
            phase.load(Ordering::Relaxed),
        )))
    };
    future::or(exchange, timer).await
}

/// The exchange without the deadline timer: whoever calls it enforces `deadline` (which here
/// only bounds the connect timeout), reading `phase` to say where it struck.
pub(crate) async fn exchange(
    target: &Target,
    options: &Options,
    phase: &AtomicU8,
    start: Instant,
    deadline: Option<Instant>,
) -> Result<Response, FetchError> {
    if target.scheme() == Scheme::Https {
        // Boxed: the TLS exchange's larger state stays out of every plain fetch's future.
        return Box::pin(exchange_tls(target, options, phase, start, deadline)).await;
    }
    let set = |p: Phase| phase.store(p as u8, Ordering::Relaxed);

    // Resolve, unless the host is an IP literal.
    let addrs: Vec<SocketAddr> = match target.ip() {
        Some(ip) => vec![SocketAddr::new(ip, target.port())],
        None => resolve(target).await?,
    };

    // Connect and send the request: each address in turn, keeping the last error. The first
    // write waits for the connection to complete (and fails if it does not), so connecting and
    // sending cost one trip through the reactor, or none when the connection is immediate.
    set(Phase::Connect);
    let request = build_request(target, options);
    // Only needs a timer of its own when tighter than the deadline.
    let connect_deadline = Instant::now()
        .checked_add(options.connect_timeout)
        .filter(|c| deadline.is_none_or(|d| *c < d));
    let mut last = FetchError::Dns("no addresses".to_owned());
    let mut conn = None;
    for addr in addrs {
        let attempt = async {
            let conn = fd::connect(addr)
                .await
                .map_err(|e| FetchError::from_io(&e, Phase::Connect))?;
            let n = conn
                .stream
                .write_with(|s| (&*s).write(&request))
                .await
                .map_err(|e| FetchError::from_io(&e, Phase::Connect))?;
            Ok((conn, n))
        };
        let result = match connect_deadline {
            Some(at) => {
                let timeout = async {
                    Timer::at(at).await;
                    Err(FetchError::Timeout(Phase::Connect))
                };
                future::or(attempt, timeout).await
            }
            None => attempt.await,
        };
        match result {
            Ok((stream, written)) => {
                conn = Some((stream, addr, written));
                break;
            }
            Err(e @ FetchError::Timeout(_)) => return Err(e),
            Err(e) => last = e,
        }
    }
    let Some((mut stream, peer, written)) = conn else {
        return Err(last);
    };

    // Send the rest of the request, if the first write took only part of it.
    set(Phase::Write);
    stream
        .stream
        .write_all(&request[written..])
        .await
        .map_err(|e| FetchError::from_io(&e, Phase::Write))?;
    drop(request);

    // Read until the head is complete.
    set(Phase::Read);
    let parsed = read_head(&mut stream.stream, options.limits()).await?;
    Ok(Response {
        head: parsed.head,
        interim: parsed.interim,
        peer,
        tls: None,
        elapsed: start.elapsed(),
    })
}

/// A connection a head is read from: plain TCP, or TLS over it. Each says what its end of
/// stream and its errors mean, so that one loop ([`read_head`]) reads both.
trait HeadSource {
    /// Waits until the reply starts arriving, so that a connection waiting on a slow server
    /// holds no buffer yet.
    async fn ready(&mut self) -> Result<(), FetchError>;

    /// Reads what has arrived into `buf`: 0 is the end of the stream.
    async fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError>;
}

impl HeadSource for Async<TcpStream> {
    async fn ready(&mut self) -> Result<(), FetchError> {
        self.readable()
            .await
            .map_err(|e| FetchError::from_io(&e, Phase::Read))
    }

    async fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        // `read_with` on the socket itself: one nonblocking read, no AsyncRead machinery.
        self.read_with(|s| (&*s).read(buf))
            .await
            .map_err(|e| FetchError::from_io(&e, Phase::Read))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> HeadSource for TlsStream<S> {
    async fn ready(&mut self) -> Result<(), FetchError> {
        // Readiness of the socket says nothing of whether a whole record has come: read.
        Ok(())
    }

    async fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        match self.read(buf).await {
            Ok(n) => Ok(n),
            // A server that closes without TLS's close_notify: the end of the stream, as in
            // plain HTTP (many do, having sent the whole reply).
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
            // An alert or a bad record after the handshake is TLS's failure, not the socket's.
            Err(e) => Err(crate::tls::classify_read(e)),
        }
    }
}

/// Reads from `source` until the head is complete, or the reason it cannot be.
async fn read_head(source: &mut impl HeadSource, limits: Limits) -> Result<Parsed, FetchError> {
    let mut parser = HeadParser::new(limits);
    // The buffer is only allocated once the reply starts arriving: ten thousand connections
    // waiting on slow servers then hold no buffers at all.
    source.ready().await?;
    let mut buf = vec![0u8; INITIAL_BUFFER.min(limits.max_head_size.max(1))];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            // Full, yet no head and under the cap (the parser said so): grow, up to the cap.
            let len = (buf.len() * 2).min(limits.max_head_size);
            buf.resize(len, 0);
        }
        let n = source.read_some(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(FetchError::Truncated { received: filled });
        }
        filled += n;
        match parser.parse(&buf[..filled]) {
            Ok(Some(parsed)) => return Ok(parsed),
            Ok(None) => {}
            Err(e) => return Err(head_error(e, &buf[..filled])),
        }
    }
}

/// The fetch error for a head the parser refused; `received` is what came so far.
fn head_error(e: HeadError, received: &[u8]) -> FetchError {
    match e {
        HeadError::NotHttp => {
            let first = &received[..received.len().min(40)];
            let line = first.split(|&b| b == b'\n').next().unwrap_or(first);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            FetchError::NotHttp(crate::escape_bytes(line))
        }
        HeadError::TooLarge { limit } => FetchError::TooLarge { limit },
        HeadError::TooManyHeaders { limit } => FetchError::TooManyHeaders { limit },
        HeadError::Invalid(why) => FetchError::InvalidHead(why),
    }
}

/// [`exchange`] for `https://` targets: the TLS handshake is part of connecting (the connect
/// timeout covers it), then the request and the head go through the TLS stream.
async fn exchange_tls(
    target: &Target,
    options: &Options,
    phase: &AtomicU8,
    start: Instant,
    deadline: Option<Instant>,
) -> Result<Response, FetchError> {
    let set = |p: Phase| phase.store(p as u8, Ordering::Relaxed);
    let addrs: Vec<SocketAddr> = match target.ip() {
        Some(ip) => vec![SocketAddr::new(ip, target.port())],
        None => resolve(target).await?,
    };

    // Connect and shake hands, each address in turn until one connects; a TLS failure is the
    // server's answer and ends the search (another address of the same host would say the same).
    set(Phase::Connect);
    let connect_deadline = Instant::now()
        .checked_add(options.connect_timeout)
        .filter(|c| deadline.is_none_or(|d| *c < d));
    let request = build_request(target, options);
    let mut last = FetchError::Dns("no addresses".to_owned());
    let mut conn = None;
    for addr in addrs {
        set(Phase::Connect);
        let attempt = async {
            let conn = fd::connect(addr)
                .await
                .map_err(|e| FetchError::from_io(&e, Phase::Connect))?;
            // The handshake's first write waits for the connection to complete.
            set(Phase::Tls);
            let fd::Conn { stream, freed } = conn;
            // The request goes out with the handshake's last flight.
            let tls = options.tls.handshake(target, stream, &request).await?;
            // The socket (inside the TLS stream) is dropped before `freed`: a tuple drops in order.
            Ok((tls, freed))
        };
        let result = match connect_deadline {
            Some(at) => {
                let timeout = async {
                    Timer::at(at).await;
                    Err(FetchError::Timeout(Phase::from_u8(
                        phase.load(Ordering::Relaxed),
                    )))
                };
                future::or(attempt, timeout).await
            }
            None => attempt.await,
        };
        match result {
            Ok(stream) => {
                conn = Some((stream, addr));
                break;
            }
            Err(e @ (FetchError::Timeout(_) | FetchError::Tls(_))) => return Err(e),
            Err(e) => last = e,
        }
    }
    let Some(((mut stream, _freed), peer)) = conn else {
        return Err(last);
    };
    let tls = TlsInfo::of(&stream);
    drop(request);

    set(Phase::Read);
    let parsed = read_head(&mut stream, options.limits()).await?;
    Ok(Response {
        head: parsed.head,
        interim: parsed.interim,
        peer,
        tls: Some(tls),
        elapsed: start.elapsed(),
    })
}

/// Resolves the target's host on async-net's blocking pool.
async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, FetchError> {
    match async_net::resolve((target.host(), target.port())).await {
        Ok(addrs) if addrs.is_empty() => Err(FetchError::Dns("no addresses".to_owned())),
        Ok(addrs) => Ok(addrs),
        Err(e) => Err(FetchError::Dns(dns_message(&e))),
    }
}

/// The resolver's message without the generic prefix std adds.
fn dns_message(e: &io::Error) -> String {
    let msg = e.to_string();
    let msg = msg
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&msg);
    msg.to_lowercase()
}
