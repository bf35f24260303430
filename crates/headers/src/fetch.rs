//! Fetching one head: resolve (only for names), connect (and, for `https://`, shake hands over
//! TLS), send the request, read until the head is complete, all under one deadline, and turn
//! every failure into a typed [`FetchError`]. Plain and TLS connections take the same path; only
//! the step that makes the connection differs. [`Progress`] notes where an exchange got and when
//! (the phase a timeout struck in, the [`Timings`], the certificate seen): it outlives the
//! exchange, so a failed one still tells.
//!
//! With [`Options::retries`], an exchange that failed before any byte of the head arrived
//! (refused, reset before a reply, a connect or DNS timeout) is tried again after an
//! exponential backoff with jitter, inside the same deadline (see [`Options::retries`]).

use std::future::Future;
#[cfg(feature = "tls")]
use std::io;
use std::io::{Read, Write};
use std::net::SocketAddr;
#[cfg(feature = "tls")]
use std::net::TcpStream;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

#[cfg(feature = "tls")]
use crate::rt::Async;
use crate::rt::Timer;
use futures_lite::{AsyncWriteExt, future};

use resolve::Resolver;

#[cfg(feature = "tls")]
use crate::cert::Certificate;
use crate::error::{DnsError, FetchError, Phase};
use crate::fd;
use crate::head::{DEFAULT_MAX_HEAD_SIZE, DEFAULT_MAX_HEADERS, Head, HeadParser, Limits, Parsed};
use crate::outcome::{Outcome, Timings};
use crate::request::{Header, Method, Version, build_request};
use crate::target::{Scheme, Target};
#[cfg(feature = "tls")]
use crate::tls::{self, TlsConfig, TlsError, TlsInfo};

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
    /// Resolves host names (default: the system's configuration, /etc/resolv.conf and
    /// /etc/hosts, one resolver shared by the process). Clones share the cache: give every
    /// fetch of a run the same one, or your own to choose servers or pin names.
    pub resolver: Resolver,
    /// How `https://` targets are verified (default: Mozilla's roots). Built once and shared.
    #[cfg(feature = "tls")]
    pub tls: TlsConfig,
    /// Fail an `https://` exchange whose certificate expires within this long (at most this far
    /// ahead of the end of the handshake) with [`TlsError::ExpiresSoon`]: for finding what needs
    /// renewing. `None` (the default) checks nothing beyond verification.
    #[cfg(feature = "tls")]
    pub expires_within: Option<Duration>,
    /// Follow redirects (301, 302, 303, 307, 308 with a `Location`), at most this many per
    /// target, wherever an [`Outcome`] is fetched ([`fetch`], [`Many`](crate::Many)); `None`
    /// (the default) follows none: a redirect is then the final head, as any other. `Some(0)`
    /// makes every redirect a [`RedirectError::TooMany`](crate::RedirectError::TooMany) (curl's
    /// `-L --max-redirs 0`). When following, [`Options::timeout`] is the deadline for the whole
    /// chain.
    #[cfg(feature = "redirects")]
    pub max_redirects: Option<usize>,
    /// How many times an exchange is tried again when it failed before any byte of the head
    /// arrived: the connection was refused, reset before a reply, or connecting or the DNS
    /// lookup timed out (default 0). Never after a TLS failure (the server's answer, which it
    /// would give again) nor a timeout while reading (the server got the request).
    ///
    /// Attempts and the waits between them all live within [`Options::timeout`]: the deadline
    /// is the target's, so a run's worst case stays one timeout per target whatever the
    /// retries, and a retry whose wait would end past the deadline is not made (the last
    /// failure is the outcome). Give a [`Options::connect_timeout`] below the timeout to leave
    /// room for retries after a connect timeout.
    pub retries: u32,
    /// The wait before the first retry, doubled for each next one (at most
    /// [`MAX_RETRY_BACKOFF`]) and drawn at random between half of that and all of it, so that
    /// the fetches a server refused together do not come back together (default 200 ms).
    pub retry_backoff: Duration,
}

/// The longest wait between two attempts of an exchange.
pub const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(10);

impl Default for Options {
    fn default() -> Self {
        Options {
            method: Method::Get,
            version: Version::Http10,
            headers: Vec::new(),
            resolver: system_resolver(),
            connect_timeout: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            max_head_size: DEFAULT_MAX_HEAD_SIZE,
            max_headers: DEFAULT_MAX_HEADERS,
            #[cfg(feature = "tls")]
            tls: TlsConfig::default(),
            #[cfg(feature = "tls")]
            expires_within: None,
            #[cfg(feature = "redirects")]
            max_redirects: None,
            retries: 0,
            retry_backoff: Duration::from_millis(200),
        }
    }
}

/// The system's resolver, made once per process. Without a readable /etc/resolv.conf, the
/// C library's fallback: a nameserver on 127.0.0.1.
fn system_resolver() -> Resolver {
    static SYSTEM: std::sync::OnceLock<Resolver> = std::sync::OnceLock::new();
    SYSTEM
        .get_or_init(|| {
            Resolver::system().unwrap_or_else(|_| {
                Resolver::builder()
                    .nameserver(SocketAddr::from(([127, 0, 0, 1], 53)))
                    .hosts_file_if_present(resolve::HOSTS)
                    .build()
                    .expect("a resolver with one nameserver")
            })
        })
        .clone()
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
    #[cfg(feature = "tls")]
    pub tls: Option<TlsInfo>,
    /// From the start of the exchange until the head was complete.
    pub elapsed: Duration,
}

/// Where an exchange has got: the phase it is in, read when its deadline strikes, when it
/// entered each phase, and the certificate its server showed. A phase is only ever one the
/// exchange entered: an IP literal starts at [`Phase::Connect`].
#[derive(Debug)]
pub(crate) struct Progress {
    phase: AtomicU8,
    /// A byte of the head has arrived: the server took the request, so no retry.
    replied: AtomicBool,
    origin: Instant,
    /// When the exchange first entered each phase (by `Phase as usize`), then when the reply's
    /// first byte came ([`FIRST_BYTE`]): nanoseconds after `origin`, plus one (0: not yet).
    marks: [AtomicU64; 6],
    #[cfg(feature = "tls")]
    cert: std::sync::Mutex<Option<Certificate>>,
}

/// The mark of the reply's first byte, after those of the phases.
const FIRST_BYTE: usize = 5;

impl Progress {
    pub(crate) fn new() -> Progress {
        Progress {
            phase: AtomicU8::new(Phase::Dns as u8),
            replied: AtomicBool::new(false),
            origin: Instant::now(),
            marks: Default::default(),
            #[cfg(feature = "tls")]
            cert: std::sync::Mutex::new(None),
        }
    }

    /// Back to the start, for the next hop of a chain or the next attempt: marks and
    /// certificate forgotten.
    pub(crate) fn restart(&self, target: &Target) {
        let first = if target.ip().is_some() {
            Phase::Connect
        } else {
            Phase::Dns
        };
        for mark in &self.marks {
            mark.store(0, Ordering::Relaxed);
        }
        #[cfg(feature = "tls")]
        self.set_cert(None);
        self.enter(first);
        self.replied.store(false, Ordering::Relaxed);
    }

    fn reply_arrived(&self) {
        self.replied.store(true, Ordering::Relaxed);
    }

    /// Whether `error`, which ended an attempt at this progress, is worth another attempt: it
    /// struck before any byte of the head arrived and outside TLS, and is a refusal, a reset
    /// or a DNS or connect timeout.
    fn retryable(&self, error: &FetchError) -> bool {
        if self.replied.load(Ordering::Relaxed) || self.phase() == Phase::Tls {
            return false;
        }
        matches!(
            error,
            FetchError::Refused
                | FetchError::Reset
                | FetchError::Timeout(Phase::Dns | Phase::Connect)
        )
    }

    /// Moves to `phase`; the first entry is the one timed (each address tried enters
    /// [`Phase::Connect`] again).
    pub(crate) fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Relaxed);
        self.mark(phase as usize);
    }

    /// The reply's first byte has arrived.
    fn first_byte(&self) {
        self.mark(FIRST_BYTE);
    }

    fn mark(&self, which: usize) {
        let mark = &self.marks[which];
        if mark.load(Ordering::Relaxed) == 0 {
            let nanos = self.origin.elapsed().as_nanos();
            mark.store(
                u64::try_from(nanos).unwrap_or(u64::MAX - 1) + 1,
                Ordering::Relaxed,
            );
        }
    }

    /// How long each phase the exchange got through took.
    pub(crate) fn timings(&self) -> Timings {
        let at = |which: usize| match self.marks[which].load(Ordering::Relaxed) {
            0 => None,
            n => Some(n - 1),
        };
        let span = |from: Option<u64>, to: Option<u64>| {
            Some(Duration::from_nanos(to?.saturating_sub(from?)))
        };
        let (dns, connect, tls, write, read) = (at(0), at(1), at(2), at(3), at(4));
        Timings {
            dns: span(dns, connect),
            // Connected: the first bytes left (the ClientHello, or the request on plain TCP).
            connect: span(connect, tls.or(write).or(read)),
            tls: span(tls, read),
            first_byte: span(read, at(FIRST_BYTE)),
        }
    }

    /// The certificate the server showed (`None`: none, or one x509-parser cannot read).
    #[cfg(feature = "tls")]
    pub(crate) fn set_cert(&self, cert: Option<Certificate>) {
        *self.cert.lock().unwrap_or_else(|e| e.into_inner()) = cert;
    }

    #[cfg(feature = "tls")]
    pub(crate) fn take_cert(&self) -> Option<Certificate> {
        self.cert.lock().unwrap_or_else(|e| e.into_inner()).take()
    }

    /// The days left on the certificate seen, if it expires within `within` from now.
    #[cfg(feature = "tls")]
    fn expiring(&self, within: Duration) -> Option<i64> {
        let cert = self.cert.lock().unwrap_or_else(|e| e.into_inner());
        let cert = cert.as_ref()?;
        let now = std::time::SystemTime::now();
        cert.expires_within(within, now).then_some(cert.days_left)
    }

    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Relaxed) {
            0 => Phase::Dns,
            1 => Phase::Connect,
            2 => Phase::Tls,
            3 => Phase::Write,
            _ => Phase::Read,
        }
    }
}

/// When an exchange (or a chain of them) must end. One type for both ways a deadline is kept:
/// a timer of its own, or a flag that whoever drives the fetch sets and then polls it (as
/// [`Many`](crate::Many)'s workers do, keeping all their deadlines with one timer).
#[derive(Debug)]
pub(crate) enum Deadline {
    Timer(Timer),
    Flag(Arc<AtomicBool>),
}

impl Deadline {
    /// A deadline with a timer of its own; `None` is no deadline at all.
    pub(crate) fn at(at: Option<Instant>) -> Deadline {
        Deadline::Timer(match at {
            Some(at) => Timer::at(at),
            None => Timer::never(),
        })
    }

    /// Runs `work` until it ends or the deadline passes, which is a timeout in the phase
    /// `progress` says the work had reached. (Not an `async fn`: that would keep `work` in its
    /// state twice, as the argument and inside the race.)
    pub(crate) fn bound<'a, T, F>(
        &'a mut self,
        progress: &'a Progress,
        work: F,
    ) -> impl Future<Output = Result<T, FetchError>> + 'a
    where
        F: Future<Output = Result<T, FetchError>> + 'a,
    {
        let passed = async move {
            Passed(self).await;
            Err(FetchError::Timeout(progress.phase()))
        };
        future::or(work, passed)
    }
}

/// Ready once the deadline has passed.
struct Passed<'a>(&'a mut Deadline);

impl Future for Passed<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match &mut *self.0 {
            Deadline::Timer(timer) => Pin::new(timer).poll(cx).map(|_| ()),
            // No waker to register: whoever sets the flag polls the fetch right after.
            Deadline::Flag(flag) if flag.load(Ordering::Acquire) => Poll::Ready(()),
            Deadline::Flag(_) => Poll::Pending,
        }
    }
}

/// The first read gets this much room; most heads fit (nginx sends about 250 bytes), and it is
/// doubled up to the head cap when not. Small, because 10,000 connections may be waiting.
const INITIAL_BUFFER: usize = 1024;

/// Fetches the response head of `target`: connects, sends [`build_request`]'s bytes, reads
/// until the head is complete (never the body) and returns it, or the reason it could not.
/// Redirects are not followed (see [`fetch`]).
///
/// Host names are resolved by the options' resolver; IP literals skip DNS entirely. When the
/// process is out of file descriptors, the connection waits for one to free rather than fail
/// (the wait counts against the deadline; [`Many`](crate::Many) keeps its concurrency under the
/// open-file limit, so there it is rare).
///
/// ```
/// use tulip_headers::{fetch_head, Options};
/// # futures_lite::future::block_on(async {
/// let server = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let target = format!("127.0.0.1:{}", server.local_addr().unwrap().port()).parse().unwrap();
/// std::thread::spawn(move || {
///     use std::io::{Read, Write};
///     let (mut conn, _) = server.accept().unwrap();
///     let _ = conn.read(&mut [0; 1024]);
///     conn.write_all(b"HTTP/1.1 200 OK\r\nServer: demo\r\n\r\n").unwrap();
/// });
/// let response = fetch_head(&target, &Options::default()).await.unwrap();
/// assert_eq!(response.head.status, 200);
/// assert_eq!(response.head.lines[0], "HTTP/1.1 200 OK");
///
/// let closed = "127.0.0.1:1".parse().unwrap();
/// let err = fetch_head(&closed, &Options::default()).await.unwrap_err();
/// assert_eq!((err.kind(), err.to_string().as_str()), ("refused", "connection refused"));
/// # });
/// ```
pub async fn fetch_head(target: &Target, options: &Options) -> Result<Response, FetchError> {
    let progress = Progress::new();
    progress.restart(target);
    let start = Instant::now();
    // A timeout too large to add to the clock is no deadline at all.
    let at = start.checked_add(options.timeout);
    let mut deadline = Deadline::at(at);
    let mut retried = 0;
    let exchange = exchange_retrying(target, options, &progress, start, at, &mut retried);
    deadline.bound(&progress, exchange).await
}

/// Fetches `target`'s head as [`fetch_head`] does and, with [`Options::max_redirects`] set,
/// follows its redirects, all within [`Options::timeout`]: the [`Outcome`] keeps every hop.
/// Its [`Outcome::index`] is 0.
pub async fn fetch(target: &Target, options: &Options) -> Outcome {
    let start = Instant::now();
    let mut deadline = Deadline::at(start.checked_add(options.timeout));
    fetch_outcome(0, target.clone(), options, start, &mut deadline).await
}

/// One target's [`Outcome`], its redirects followed if the options say so.
pub(crate) async fn fetch_outcome(
    index: usize,
    target: Target,
    options: &Options,
    start: Instant,
    deadline: &mut Deadline,
) -> Outcome {
    #[cfg(feature = "redirects")]
    if let Some(limit) = options.max_redirects {
        // Boxed: a chain holds an exchange of its own, which a plain fetch should not carry.
        return Box::pin(crate::chain::follow(
            index, target, options, limit, start, deadline,
        ))
        .await;
    }
    let progress = Progress::new();
    let at = start.checked_add(options.timeout);
    let mut retried = 0;
    let exchange = exchange_retrying(&target, options, &progress, start, at, &mut retried);
    let result = deadline.bound(&progress, exchange).await;
    Outcome {
        index,
        target,
        attempts: 1 + retried,
        #[cfg(feature = "redirects")]
        redirects: Vec::new(),
        #[cfg(feature = "redirects")]
        redirected_to: None,
        result,
        #[cfg(feature = "tls")]
        cert: progress.take_cert(),
        timings: progress.timings(),
        elapsed: start.elapsed(),
    }
}

/// [`exchange`], tried again after a backoff while it fails in a way
/// [`Options::retries`] allows and the wait would end before `deadline`; counts each retry
/// into `retried`. Restarts `progress` for each attempt.
pub(crate) async fn exchange_retrying(
    target: &Target,
    options: &Options,
    progress: &Progress,
    start: Instant,
    deadline: Option<Instant>,
    retried: &mut u32,
) -> Result<Response, FetchError> {
    let mut retry = 0;
    loop {
        progress.restart(target);
        let error = match exchange(target, options, progress, start, deadline).await {
            Ok(response) => return Ok(response),
            Err(e) => e,
        };
        if retry >= options.retries || !progress.retryable(&error) {
            return Err(error);
        }
        let wait = backoff(options.retry_backoff, retry);
        let until = Instant::now().checked_add(wait);
        // A wait that ends past the deadline buys nothing: the failure is the answer.
        if until.is_none_or(|u| deadline.is_some_and(|d| u >= d)) {
            return Err(error);
        }
        Timer::after(wait).await;
        retry += 1;
        *retried += 1;
    }
}

/// The wait before retry number `retry` (0 first): `base` doubled `retry` times, at most
/// [`MAX_RETRY_BACKOFF`], drawn between half of it and all of it ("equal jitter": never
/// near zero, never in step with the other fetches that failed together).
fn backoff(base: Duration, retry: u32) -> Duration {
    let full = base
        .checked_mul(1u32.checked_shl(retry).unwrap_or(u32::MAX))
        .map_or(MAX_RETRY_BACKOFF, |d| d.min(MAX_RETRY_BACKOFF));
    let half = full / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    half + Duration::from_nanos(fastrand::u64(0..=nanos))
}

/// The exchange without its deadline: whoever calls it bounds it (`deadline` here only bounds
/// the connect timeout), reading `progress` to say where a timeout struck.
pub(crate) async fn exchange(
    target: &Target,
    options: &Options,
    progress: &Progress,
    start: Instant,
    deadline: Option<Instant>,
) -> Result<Response, FetchError> {
    // Resolve, unless the host is an IP literal of a family the resolver allows (one it does
    // not goes to the resolver too, which fails it in the DNS phase, as curl -4/-6 do).
    let addrs: Vec<SocketAddr> = match target.ip() {
        Some(ip) if options.resolver.family().allows(ip) => {
            vec![SocketAddr::new(ip, target.port())]
        }
        _ => {
            progress.enter(Phase::Dns);
            // Boxed: a lookup's state is large, and an IP target should not carry it.
            Box::pin(resolve(target, options, deadline)).await?
        }
    };

    // Connect and send the request (with the handshake's last flight, over TLS). The connect
    // timeout only needs a timer of its own when tighter than the deadline.
    progress.enter(Phase::Connect);
    let request = build_request(target, options);
    let connect_deadline = Instant::now()
        .checked_add(options.connect_timeout)
        .filter(|c| deadline.is_none_or(|d| *c < d));
    let attempts = async {
        match addrs[..] {
            // One address (every IP target, most names): nothing to race, nothing to allocate.
            [addr] => connect(addr, target, options, &request, progress)
                .await
                .map(|conn| (conn, addr)),
            // Boxed, as only names with several addresses race.
            _ => Box::pin(happy_eyeballs(&addrs, target, options, &request, progress)).await,
        }
    };
    let (mut conn, peer) = match connect_deadline {
        Some(at) => Deadline::at(Some(at)).bound(progress, attempts).await?,
        None => attempts.await?,
    };

    // Send the rest of the request, if the first write took only part of it.
    if let Connection::Plain {
        conn: plain,
        written,
    } = &mut conn
        && *written < request.len()
    {
        progress.enter(Phase::Write);
        plain
            .stream
            .write_all(&request[*written..])
            .await
            .map_err(|e| FetchError::from_io(e, Phase::Write))?;
    }
    drop(request);
    progress.enter(Phase::Read);

    // A certificate that needs renewing fails the exchange before its reply is awaited.
    #[cfg(feature = "tls")]
    if let Some(within) = options.expires_within
        && let Some(days_left) = progress.expiring(within)
    {
        return Err(FetchError::Tls(TlsError::ExpiresSoon { days_left }));
    }

    // Read until the head is complete.
    let parsed = read_head(&mut conn, options.limits(), progress).await?;
    Ok(Response {
        head: parsed.head,
        interim: parsed.interim,
        peer,
        #[cfg(feature = "tls")]
        tls: match &conn {
            Connection::Tls { stream, .. } => Some(TlsInfo::of(stream)),
            Connection::Plain { .. } => None,
        },
        elapsed: start.elapsed(),
    })
}

/// How long an attempt to connect may go unanswered before the next address is tried
/// alongside it (RFC 8305's recommended Connection Attempt Delay).
const ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// One address's attempt: it borrows the fetch's data for `'a`, its connection the fetch's
/// progress for `'p`.
type Attempt<'a, 'p> =
    Pin<Box<dyn Future<Output = (SocketAddr, Result<Connection<'p>, FetchError>)> + Send + 'a>>;

/// Connects to the first of `addrs` that answers, as RFC 8305 does: the addresses in order (the
/// resolver alternates the families, IPv6 first), the next attempt started when the last has
/// neither connected nor failed within [`ATTEMPT_DELAY`], or at once when it fails; the first
/// to connect wins and the others are dropped, closing their sockets. A TLS failure is the
/// server's own answer, which another address of the same host would give too: it ends the race.
async fn happy_eyeballs<'a, 'p: 'a>(
    addrs: &[SocketAddr],
    target: &'a Target,
    options: &'a Options,
    request: &'a [u8],
    progress: &'p Progress,
) -> Result<(Connection<'p>, SocketAddr), FetchError> {
    let start = |addr: SocketAddr| -> Attempt<'a, 'p> {
        Box::pin(async move {
            (
                addr,
                connect(addr, target, options, request, progress).await,
            )
        })
    };
    let mut next = addrs.iter().copied();
    let mut racing: Vec<Attempt<'a, 'p>> = next.next().map(start).into_iter().collect();
    let mut stagger = Timer::after(ATTEMPT_DELAY);
    let mut last = FetchError::Dns(DnsError::NoAddress);
    future::poll_fn(|cx| {
        loop {
            let mut failed = false;
            let mut i = 0;
            while i < racing.len() {
                match racing[i].as_mut().poll(cx) {
                    Poll::Ready((addr, Ok(conn))) => return Poll::Ready(Ok((conn, addr))),
                    #[cfg(feature = "tls")]
                    Poll::Ready((_, Err(e @ FetchError::Tls(_)))) => return Poll::Ready(Err(e)),
                    Poll::Ready((_, Err(e))) => {
                        drop(racing.swap_remove(i));
                        last = e;
                        failed = true;
                    }
                    Poll::Pending => i += 1,
                }
            }
            let waited = Pin::new(&mut stagger).poll(cx).is_ready();
            if (failed || waited)
                && let Some(addr) = next.next()
            {
                racing.push(start(addr));
                stagger.set_after(ATTEMPT_DELAY);
                continue;
            }
            if racing.is_empty() {
                let e = std::mem::replace(&mut last, FetchError::Dns(DnsError::NoAddress));
                return Poll::Ready(Err(e));
            }
            return Poll::Pending;
        }
    })
    .await
}

/// A connection a head is read from.
enum Connection<'p> {
    /// Plain TCP, with how much of the request the first write took.
    Plain { conn: fd::Conn, written: usize },
    /// TLS over TCP, the request sent. Boxed: a TLS session's state stays out of every plain
    /// fetch. The socket (inside the stream) closes before `_freed` tells waiters.
    #[cfg(feature = "tls")]
    Tls {
        stream: Box<futures_rustls::client::TlsStream<tls::Recording<'p, Async<TcpStream>>>>,
        _freed: fd::Freed,
    },
    /// Without TLS, nothing borrows the exchange's progress: no such connection.
    #[cfg(not(feature = "tls"))]
    _None(std::convert::Infallible, std::marker::PhantomData<&'p ()>),
}

/// Connects to `addr` and sends `request`: with the first write on plain TCP (which waits for
/// the connection to complete, and fails if it does not, so connecting and sending cost one
/// trip through the reactor, or none when the connection is immediate), with the handshake's
/// last flight over TLS.
#[cfg_attr(not(feature = "tls"), allow(unused_variables))]
async fn connect<'p>(
    addr: SocketAddr,
    target: &Target,
    options: &Options,
    request: &[u8],
    progress: &'p Progress,
) -> Result<Connection<'p>, FetchError> {
    let conn = fd::connect(addr)
        .await
        .map_err(|e| FetchError::from_io(e, Phase::Connect))?;
    match target.scheme() {
        Scheme::Http => {
            let written = conn
                .stream
                .write_with(|s| (&*s).write(request))
                .await
                .map_err(|e| FetchError::from_io(e, Phase::Connect))?;
            Ok(Connection::Plain { conn, written })
        }
        #[cfg(feature = "tls")]
        Scheme::Https => {
            // The handshake's first write waits for the connection to complete, and then
            // enters Phase::Tls.
            let fd::Conn { stream, freed } = conn;
            // Boxed: the handshake's large state stays out of every plain fetch's future.
            let handshake = options.tls.handshake(target, stream, request, progress);
            let stream = Box::pin(handshake)
                .await
                .map_err(|f| tls_failure(f, Phase::Tls))?;
            Ok(Connection::Tls {
                stream: Box::new(stream),
                _freed: freed,
            })
        }
        // Such targets do not parse without the feature.
        #[cfg(not(feature = "tls"))]
        Scheme::Https => unreachable!("https target without the tls feature"),
    }
}

#[cfg(feature = "tls")]
fn tls_failure(failure: tls::Failure, phase: Phase) -> FetchError {
    match failure {
        tls::Failure::Tls(e) => FetchError::Tls(e),
        tls::Failure::Io(e) => FetchError::from_io(e, phase),
    }
}

impl Connection<'_> {
    /// Waits until the reply starts arriving, so that a connection waiting on a slow server
    /// holds no buffer yet.
    async fn ready(&mut self) -> Result<(), FetchError> {
        match self {
            Connection::Plain { conn, .. } => conn
                .stream
                .readable()
                .await
                .map_err(|e| FetchError::from_io(e, Phase::Read)),
            // Readiness of the socket says nothing of whether a whole record has come: read.
            #[cfg(feature = "tls")]
            Connection::Tls { .. } => Ok(()),
            #[cfg(not(feature = "tls"))]
            Connection::_None(never, _) => match *never {},
        }
    }

    /// Reads what has arrived into `buf`: 0 is the end of the stream.
    async fn read_some(&mut self, buf: &mut [u8]) -> Result<usize, FetchError> {
        match self {
            // `read_with` on the socket itself: one nonblocking read, no AsyncRead machinery.
            Connection::Plain { conn, .. } => conn
                .stream
                .read_with(|s| (&*s).read(buf))
                .await
                .map_err(|e| FetchError::from_io(e, Phase::Read)),
            #[cfg(feature = "tls")]
            Connection::Tls { stream, .. } => {
                match futures_lite::AsyncReadExt::read(&mut **stream, buf).await {
                    Ok(n) => Ok(n),
                    // A server that closes without TLS's close_notify: the end of the stream,
                    // as in plain HTTP (many do, having sent the whole reply).
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(0),
                    // An alert or a bad record is TLS's failure, not the socket's.
                    Err(e) => Err(tls_failure(tls::classify_read(e), Phase::Read)),
                }
            }
            #[cfg(not(feature = "tls"))]
            Connection::_None(never, _) => match *never {},
        }
    }
}

/// Reads from `conn` until the head is complete, or the reason it cannot be; tells `progress`
/// when the first byte comes.
async fn read_head(
    conn: &mut Connection<'_>,
    limits: Limits,
    progress: &Progress,
) -> Result<Parsed, FetchError> {
    let mut parser = HeadParser::new(limits);
    // The buffer is only allocated once the reply starts arriving: ten thousand connections
    // waiting on slow servers then hold no buffers at all.
    conn.ready().await?;
    let mut buf = vec![0u8; INITIAL_BUFFER.min(limits.max_head_size.max(1))];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            // Full, yet no head and under the cap (the parser said so): grow, up to the cap.
            let len = (buf.len() * 2).min(limits.max_head_size);
            buf.resize(len, 0);
        }
        let n = conn.read_some(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(FetchError::Truncated { received: filled });
        }
        progress.reply_arrived();
        if filled == 0 {
            progress.first_byte();
        }
        filled += n;
        if let Some(parsed) = parser.parse(&buf[..filled])? {
            return Ok(parsed);
        }
    }
}

/// The addresses of the target's host, from the options' resolver (a pinned name, the hosts
/// file, its cache or DNS), IPv6 and IPv4 alternating (RFC 8305), before `deadline`.
async fn resolve(
    target: &Target,
    options: &Options,
    deadline: Option<Instant>,
) -> Result<Vec<SocketAddr>, FetchError> {
    // No deadline at all: a day is as good as none for one lookup.
    let deadline = deadline.unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
    let addrs = options
        .resolver
        .lookup_port(target.host(), target.port(), deadline)
        .await?;
    if addrs.is_empty() {
        return Err(FetchError::Dns(DnsError::NoAddress));
    }
    Ok(addrs.with_port(target.port()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ten thousand slow hosts mean ten thousand of these futures alive at once: a plain fetch
    /// must not carry the state of a lookup, a redirect chain or a race of addresses, which only
    /// names, -L and names with several addresses need (each is boxed where it is used).
    #[test]
    fn a_plain_fetch_carries_no_lookup_chain_or_race_state() {
        let target: Target = "127.0.0.1:1".parse().unwrap();
        let options = Options::default();
        let start = Instant::now();
        let mut deadline = Deadline::at(None);
        let fetch = fetch_outcome(0, target.clone(), &options, start, &mut deadline);
        let lookup = resolve(&target, &options, None);
        // Smaller than the lookup alone: it cannot hold one.
        assert!(
            std::mem::size_of_val(&fetch) < std::mem::size_of_val(&lookup),
            "a fetch future of {} bytes (a lookup's is {})",
            std::mem::size_of_val(&fetch),
            std::mem::size_of_val(&lookup)
        );
        assert!(
            std::mem::size_of_val(&fetch) <= 1536,
            "{}",
            std::mem::size_of_val(&fetch)
        );
    }
}
