//! An async DNS stub resolver on async-io, for tools that resolve many names at once.
//!
//! A [`Resolver`] turns a host name into its IPv4 and IPv6 addresses ([`Addrs`]) by asking
//! nameservers over UDP (TCP when a reply is truncated), inside the caller's own future. Queries
//! are written and replies read straight on the wire (only what a lookup needs of them; tests
//! check both against hickory-proto's encoder and parser, which also handles IDNA names):
//!
//! - a lookup ends with its caller: it spawns no task and no thread, so dropping its future
//!   frees its query IDs and stops its retries; each try is bounded by the server timeout and
//!   by the deadline the caller passes;
//! - at most [`Builder::max_in_flight`] queries are out at once, and at most
//!   [`Builder::window`] per server that it may not have read yet;
//! - the lookups on one thread share a UDP socket per server, told apart by random IDs (a fresh
//!   socket, and so a fresh random source port, every 1,024 queries); on a thread that runs
//!   fdwatch's `local::block_on` it is registered with that loop and read there;
//! - answers are cached as long as their TTLs allow, negative ones too (NXDOMAIN and NODATA,
//!   for the SOA's minimum), at most [`Builder::cache_size`] of them, and concurrent lookups
//!   of one name share one query;
//! - [`Builder::family`] asks A and AAAA (the default), or only one of them, as curl's `-4`
//!   and `-6` do;
//! - the hosts file, pinned names ([`Pin`], curl's `--resolve HOST:PORT:ADDR`) and IP literals
//!   are answered without DNS;
//! - [`Resolver::system`] reads nameservers, search domains and `options ndots/timeout/attempts`
//!   from /etc/resolv.conf; [`Resolver::builder`] with [`Builder::nameserver`] asks only the
//!   servers it is given, never the system's.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use tulip_resolve::Resolver;
//!
//! # futures_lite::future::block_on(async {
//! let resolver = Resolver::builder()
//!     .nameserver("127.0.0.1:53".parse().unwrap())
//!     .pin_str("example.test:443:[::1],127.0.0.1")
//!     .unwrap()
//!     .build()
//!     .unwrap();
//! let deadline = Instant::now() + Duration::from_secs(2);
//!
//! // A pinned name is answered for its port without any query.
//! let addrs = resolver.lookup_port("example.test", 443, deadline).await.unwrap();
//! assert_eq!(addrs.interleaved(), ["::1".parse::<std::net::IpAddr>().unwrap(), [127, 0, 0, 1].into()]);
//!
//! // So is an IP literal.
//! let addrs = resolver.lookup("192.0.2.7", deadline).await.unwrap();
//! assert_eq!(addrs.ipv4(), [std::net::Ipv4Addr::new(192, 0, 2, 7)]);
//! assert_eq!(resolver.stats().queries, 0);
//! # });
//! ```
//!
//! Not a full resolver: no DNSSEC, no EDNS (answers over 512 bytes come over TCP), no DNS over
//! TLS or HTTPS, no reverse lookups. Errors other than NXDOMAIN and NODATA end a search-list walk.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod addrs;
mod cache;
mod config;
mod error;
mod pipe;
mod qname;
mod reply;
mod rt;
mod socket;
mod wire;

pub use addrs::{Addrs, Family, interleave};
pub use config::{Pin, ResolvConf};
pub use error::{ConfigError, DnsError, PinError};

use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::rt::Timer;
use async_lock::Semaphore;
use futures_lite::FutureExt;
use hickory_proto::rr::RecordType;

use cache::Cache;
use config::normalize;
use pipe::Pipe;
use qname::QName;
use wire::{Answer, Timed};

/// The time the cache measures TTLs against; injectable so tests can move it.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The real monotonic clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Counters of what a resolver did, for tests and benchmarks.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Queries sent, over UDP and TCP (each retry counts).
    pub queries: u64,
    /// Of those, over TCP.
    pub tcp_queries: u64,
    /// Name and type lookups answered from the cache.
    pub cache_hits: u64,
    /// Name and type lookups answered by another lookup's query in flight.
    pub coalesced: u64,
    /// Entries the cache holds now (answers, and queries in flight): at most
    /// [`Builder::cache_size`] answers.
    pub cached: usize,
}

#[derive(Debug, Default)]
struct Counters {
    queries: AtomicU64,
    tcp_queries: AtomicU64,
    cache_hits: AtomicU64,
    coalesced: AtomicU64,
}

/// An async DNS resolver; cheap to clone (clones share the configuration, the cache and the
/// in-flight bound).
#[derive(Debug, Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    servers: Vec<SocketAddr>,
    search: Vec<String>,
    ndots: u8,
    timeout: Duration,
    attempts: u32,
    family: Family,
    hosts: HashMap<String, Vec<IpAddr>>,
    pins: HashMap<(String, u16), Vec<IpAddr>>,
    in_flight: Semaphore,
    /// One window per server, in the order of `servers`.
    pipes: Vec<Pipe>,
    /// The UDP sockets to each server, in the order of `servers`.
    cache: Cache,
    clock: Arc<dyn Clock>,
    stats: Counters,
}

/// The same resolver: clones of one another (they share the cache).
impl PartialEq for Resolver {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for Resolver {}

/// The system's resolver configuration file.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// The system's hosts file.
pub const HOSTS: &str = "/etc/hosts";
/// The default bound on queries in flight.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;
/// The default bound on answers cached (see [`Builder::cache_size`]): a name asked both A
/// and AAAA takes two; about 12 MB when full.
pub const DEFAULT_CACHE_SIZE: usize = 100_000;
/// The default window per server (see [`Builder::window`]): half of what a receive buffer of
/// Linux's default size holds of small datagrams.
pub const DEFAULT_WINDOW: usize = 128;

impl Resolver {
    /// The system's configuration: /etc/resolv.conf (servers, search list, options; 127.0.0.1
    /// when it names no server, as the C library does) and /etc/hosts (if there is one).
    pub fn system() -> Result<Resolver, ConfigError> {
        Resolver::builder()
            .resolv_conf(RESOLV_CONF)
            .hosts_file_if_present(HOSTS)
            .build()
    }

    /// A resolver configured piece by piece: nothing is read from the system unless asked.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// The nameservers this resolver asks, in order.
    pub fn nameservers(&self) -> &[SocketAddr] {
        &self.inner.servers
    }

    /// The address families it answers with.
    pub fn family(&self) -> Family {
        self.inner.family
    }

    /// What the resolver did so far.
    pub fn stats(&self) -> Stats {
        let c = &self.inner.stats;
        Stats {
            queries: c.queries.load(Ordering::Relaxed),
            tcp_queries: c.tcp_queries.load(Ordering::Relaxed),
            cache_hits: c.cache_hits.load(Ordering::Relaxed),
            coalesced: c.coalesced.load(Ordering::Relaxed),
            cached: self.inner.cache.len(),
        }
    }

    /// The addresses of `host` for a connection to `port`: a [`Pin`] for that name and port
    /// if there is one, else [`Resolver::lookup`].
    pub async fn lookup_port(
        &self,
        host: &str,
        port: u16,
        deadline: Instant,
    ) -> Result<Addrs, DnsError> {
        if !self.inner.pins.is_empty()
            && let Some(ips) = self.inner.pins.get(&(normalize(host), port))
        {
            return self.of_family(ips.iter().copied());
        }
        self.lookup(host, deadline).await
    }

    /// The IPv4 and IPv6 addresses of `host`, by the first of: an IP literal (`[v6]` too), the
    /// hosts file, the cache, DNS (A and AAAA asked together, through the search list). Only
    /// the addresses of the resolver's [`Family`]: a literal, hosts entry or pin with none of
    /// them is [`DnsError::NoAddress`].
    ///
    /// Gives up with [`DnsError::Timeout`] at `deadline`. Dropping the future stops the
    /// lookup: no query of it is sent afterwards.
    pub async fn lookup(&self, host: &str, deadline: Instant) -> Result<Addrs, DnsError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return self.of_family([ip]);
        }
        let key = normalize(host);
        if key.is_empty() || host.starts_with('.') {
            return Err(DnsError::InvalidName(host.to_owned()));
        }
        if let Some(ips) = self.inner.hosts.get(&key) {
            return self.of_family(ips.iter().copied());
        }
        let mut no_data = false;
        for name in self.candidates(host)? {
            match self.lookup_name(&name, deadline).await {
                Ok(addrs) => return Ok(addrs),
                Err(DnsError::NoSuchHost) => {}
                Err(DnsError::NoAddress) => no_data = true,
                Err(e) => return Err(e),
            }
        }
        Err(if no_data {
            DnsError::NoAddress
        } else {
            DnsError::NoSuchHost
        })
    }

    /// The names to ask for `host`, in order, as the C library's search does: as given first
    /// if it has at least `ndots` dots, then under each search domain; as given only if it
    /// ends with a dot.
    fn candidates(&self, host: &str) -> Result<Vec<QName>, DnsError> {
        let invalid = || DnsError::InvalidName(host.to_owned());
        let absolute = |s: &str| qname::parse(s).ok_or_else(invalid);
        if let Some(host) = host.strip_suffix('.') {
            return Ok(vec![absolute(host)?]);
        }
        let mut names = Vec::new();
        let dots = host.matches('.').count();
        if dots >= self.inner.ndots.into() {
            names.push(absolute(host)?);
        }
        for domain in &self.inner.search {
            names.push(absolute(&format!("{host}.{domain}"))?);
        }
        if dots < self.inner.ndots.into() {
            names.push(absolute(host)?);
        }
        Ok(names)
    }

    /// The addresses of the resolver's family among `ips`, or `NoAddress` if there is none.
    fn of_family(&self, ips: impl IntoIterator<Item = IpAddr>) -> Result<Addrs, DnsError> {
        let family = self.inner.family;
        let addrs = Addrs::from_ips(ips.into_iter().filter(|ip| family.allows(*ip)));
        if addrs.is_empty() {
            return Err(DnsError::NoAddress);
        }
        Ok(addrs)
    }

    /// The family's types (A, AAAA or both) for one fully qualified name.
    async fn lookup_name(&self, name: &QName, deadline: Instant) -> Result<Addrs, DnsError> {
        let inner = &*self.inner;
        let rtypes: &[RecordType] = match inner.family {
            Family::Any => &[RecordType::A, RecordType::AAAA],
            Family::V4 => &[RecordType::A],
            Family::V6 => &[RecordType::AAAA],
        };
        let answers = inner.cache.get(inner, name, rtypes, deadline).await;
        let found = answers.iter().flat_map(|answer| match answer {
            Ok(Answer::Addrs(found)) => &found[..],
            _ => &[],
        });
        // One family's addresses are an answer even if the other family's query failed.
        let addrs = Addrs::from_ips(found.copied());
        if !addrs.is_empty() {
            return Ok(addrs);
        }
        let mut no_such_host = false;
        for answer in answers {
            no_such_host |= matches!(answer?, Answer::NxDomain);
        }
        Err(if no_such_host {
            DnsError::NoSuchHost
        } else {
            DnsError::NoAddress
        })
    }
}

/// Queries for the cache, one per type, each holding a permit of the in-flight bound while it
/// is out; the types that get permits together go out together.
async fn ask(
    inner: &Inner,
    name: &QName,
    rtypes: &[RecordType],
    deadline: Instant,
) -> Vec<Result<Timed, DnsError>> {
    let mut results = Vec::with_capacity(rtypes.len());
    while results.len() < rtypes.len() {
        // A permit to be had at once needs no timer for the deadline.
        let first = match inner.in_flight.try_acquire() {
            Some(permit) => permit,
            None => {
                let permit = async { Some(inner.in_flight.acquire().await) };
                let expired = async {
                    Timer::at(deadline).await;
                    None
                };
                let Some(permit) = permit.or(expired).await else {
                    break;
                };
                permit
            }
        };
        // A permit freed at the deadline by another lookup must not start a query past ours.
        if Instant::now() >= deadline {
            break;
        }
        // The other types ride along only on permits free now: waiting for a second permit
        // while holding one could leave lookups waiting on one another.
        let mut permits = vec![first];
        while permits.len() < rtypes.len() - results.len() {
            match inner.in_flight.try_acquire() {
                Some(permit) => permits.push(permit),
                None => break,
            }
        }
        let batch = &rtypes[results.len()..results.len() + permits.len()];
        results.extend(wire::query(inner, name, batch, deadline).await);
    }
    results.resize_with(rtypes.len(), || Err(DnsError::Timeout));
    results
}

/// Builds a [`Resolver`]; see [`Resolver::builder`].
#[derive(Debug, Clone)]
pub struct Builder {
    resolv_conf: Option<PathBuf>,
    hosts: Option<(PathBuf, bool)>,
    nameservers: Vec<SocketAddr>,
    search: Option<Vec<String>>,
    ndots: Option<u8>,
    timeout: Option<Duration>,
    attempts: Option<u32>,
    max_in_flight: usize,
    window: usize,
    family: Family,
    cache_size: usize,
    pins: Vec<Pin>,
    clock: Arc<dyn Clock>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            resolv_conf: None,
            hosts: None,
            nameservers: Vec::new(),
            search: None,
            ndots: None,
            timeout: None,
            attempts: None,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            window: DEFAULT_WINDOW,
            family: Family::Any,
            cache_size: DEFAULT_CACHE_SIZE,
            pins: Vec::new(),
            clock: Arc::new(SystemClock),
        }
    }
}

impl Builder {
    /// Reads servers, search list and options from this resolv.conf at [`Builder::build`].
    /// Settings given to the builder win over the file's; [`Builder::nameserver`] replaces
    /// the file's servers.
    pub fn resolv_conf(mut self, path: impl AsRef<Path>) -> Builder {
        self.resolv_conf = Some(path.as_ref().to_owned());
        self
    }

    /// Answers the names of this hosts file without DNS; [`Builder::build`] fails if it cannot
    /// be read.
    pub fn hosts_file(mut self, path: impl AsRef<Path>) -> Builder {
        self.hosts = Some((path.as_ref().to_owned(), true));
        self
    }

    /// Like [`Builder::hosts_file`], but a file that does not exist is an empty one.
    pub fn hosts_file_if_present(mut self, path: impl AsRef<Path>) -> Builder {
        self.hosts = Some((path.as_ref().to_owned(), false));
        self
    }

    /// Asks this server (in the order given); only the servers given are ever asked.
    pub fn nameserver(mut self, server: SocketAddr) -> Builder {
        self.nameservers.push(server);
        self
    }

    /// The search list for names with fewer than `ndots` dots.
    pub fn search<S: Into<String>>(mut self, domains: impl IntoIterator<Item = S>) -> Builder {
        let domains = domains.into_iter().map(|d| normalize(&d.into()));
        self.search = Some(domains.filter(|d| !d.is_empty()).collect());
        self
    }

    /// Names with at least this many dots are asked as given before the search list.
    pub fn ndots(mut self, ndots: u8) -> Builder {
        self.ndots = Some(ndots);
        self
    }

    /// How long to wait for one server's reply to one try.
    pub fn timeout(mut self, timeout: Duration) -> Builder {
        self.timeout = Some(timeout);
        self
    }

    /// How many rounds over the servers a query makes (at least 1).
    pub fn attempts(mut self, attempts: u32) -> Builder {
        self.attempts = Some(attempts.max(1));
        self
    }

    /// At most this many queries out at once, across all lookups (at least 1).
    pub fn max_in_flight(mut self, max: usize) -> Builder {
        self.max_in_flight = max.max(1);
        self
    }

    /// At most this many queries to one server that it may not have read yet (at least 1):
    /// those sent after the last one it answered, and less than 50 ms ago. Keeps a burst
    /// within the server's receive buffer, where every datagram dropped would cost its lookup
    /// a retransmission; a name that is never answered stops counting once a later query is
    /// answered, or 50 ms on, so it cannot hold the window shut.
    pub fn window(mut self, window: usize) -> Builder {
        self.window = window.max(1);
        self
    }

    /// Keeps at most this many answers (a name and type each; 0: none), dropping the oldest
    /// not used since it was last passed over when more come, so that a run over millions of
    /// names holds the memory of the last ones only. Queries in flight are not counted.
    pub fn cache_size(mut self, entries: usize) -> Builder {
        self.cache_size = entries;
        self
    }

    /// Answers with the addresses of this family only ([`Family::Any`] by default): under
    /// [`Family::V4`] a name is asked only A, under [`Family::V6`] only AAAA, half the queries.
    pub fn family(mut self, family: Family) -> Builder {
        self.family = family;
        self
    }

    /// Answers `host` with `addr` for connections to `port`, without DNS (see
    /// [`Resolver::lookup_port`]); pins for one name and port add up.
    pub fn pin(self, host: &str, port: u16, addr: IpAddr) -> Builder {
        self.pin_parsed(Pin {
            host: normalize(host),
            port,
            addrs: vec![addr],
        })
    }

    /// Pins a name given in curl's `--resolve` syntax, `HOST:PORT:ADDR[,ADDR...]`.
    pub fn pin_str(self, pin: &str) -> Result<Builder, PinError> {
        Ok(self.pin_parsed(pin.parse()?))
    }

    /// Adds a parsed [`Pin`].
    pub fn pin_parsed(mut self, pin: Pin) -> Builder {
        self.pins.push(pin);
        self
    }

    /// The clock TTLs are measured with (the system's by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Builder {
        self.clock = clock;
        self
    }

    /// The resolver; fails if a file cannot be read or parsed, or if no nameserver is known.
    pub fn build(self) -> Result<Resolver, ConfigError> {
        let mut conf = match &self.resolv_conf {
            Some(path) => {
                let text = read(path)?;
                let mut conf =
                    ResolvConf::parse(&text).map_err(|(line, reason)| ConfigError::Parse {
                        path: path.clone(),
                        line,
                        reason,
                    })?;
                if conf.nameservers.is_empty() {
                    conf.nameservers
                        .push(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), 53));
                }
                conf
            }
            None => ResolvConf::default(),
        };
        if !self.nameservers.is_empty() {
            conf.nameservers = self.nameservers;
        }
        if conf.nameservers.is_empty() {
            return Err(ConfigError::NoNameservers);
        }
        let hosts = match &self.hosts {
            Some((path, required)) => match std::fs::read_to_string(path) {
                Ok(text) => config::parse_hosts(&text),
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
                Err(source) => {
                    return Err(ConfigError::Read {
                        path: path.clone(),
                        source,
                    });
                }
            },
            None => HashMap::new(),
        };
        let mut pins: HashMap<(String, u16), Vec<IpAddr>> = HashMap::new();
        for pin in self.pins {
            pins.entry((pin.host, pin.port))
                .or_default()
                .extend(pin.addrs);
        }
        Ok(Resolver {
            inner: Arc::new(Inner {
                pipes: conf
                    .nameservers
                    .iter()
                    .map(|_| Pipe::new(self.window))
                    .collect(),
                servers: conf.nameservers,
                search: self.search.unwrap_or(conf.search),
                ndots: self.ndots.unwrap_or(conf.ndots),
                timeout: self.timeout.unwrap_or(conf.timeout),
                attempts: self.attempts.unwrap_or(conf.attempts),
                family: self.family,
                hosts,
                pins,
                in_flight: Semaphore::new(self.max_in_flight),
                cache: Cache::new(self.cache_size),
                clock: self.clock,
                stats: Counters::default(),
            }),
        })
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}
