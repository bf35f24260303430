//! A loopback DNS server whose answer is chosen per name, for the resolver's tests.
//!
//! [`DnsStub::start`] binds 127.0.0.1 on one free port for both UDP and TCP and answers each
//! queried name with its [`DnsBehavior`] (names it was not given get NXDOMAIN). It counts the
//! queries it receives, in total, over TCP and per name, so tests can see what reached the
//! server: a cache hit, a coalesced lookup or a retry cut short by a dropped future all show
//! there. Like [`crate::Stub`] it runs on its own thread and stops when dropped.
//!
//! Not a real DNS server: no zones, no recursion, no EDNS; one question per message.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use async_io::{Async, Timer};
use futures_lite::{AsyncReadExt, AsyncWriteExt, future};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, SOA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use smol::LocalExecutor;

/// The TTL and SOA minimum of the stub's negative answers (NXDOMAIN and NODATA), in seconds.
pub const NEGATIVE_TTL: u32 = 30;

/// The address a [`Decoy`] reply carries (documentation range), which a resolver that takes the
/// decoy would return.
pub const DECOY_V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 66);

/// How the stub answers queries for one name.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DnsBehavior {
    /// An A query gets the `v4` records, an AAAA query the `v6` ones, with this TTL (seconds);
    /// a type without records gets NODATA (no answer, an SOA in the authority section).
    Answer {
        /// The A records.
        v4: Vec<Ipv4Addr>,
        /// The AAAA records.
        v6: Vec<Ipv6Addr>,
        /// Their TTL in seconds.
        ttl: u32,
    },
    /// The inner behaviour, after this long.
    After(Duration, Box<DnsBehavior>),
    /// No reply at all (over TCP the connection is held open until the client closes it).
    Never,
    /// NXDOMAIN, with an SOA whose minimum is [`NEGATIVE_TTL`].
    NxDomain,
    /// SERVFAIL.
    ServFail,
    /// REFUSED.
    Refused,
    /// NOERROR with no records (NODATA), with an SOA whose minimum is [`NEGATIVE_TTL`].
    Empty,
    /// Over UDP a reply with the TC bit and no records; over TCP the inner behaviour.
    Truncated(Box<DnsBehavior>),
    /// First a reply that must be ignored (an A record for [`DECOY_V4`], sent as the [`Decoy`]
    /// says), then the inner behaviour.
    Decoy(Decoy, Box<DnsBehavior>),
}

impl DnsBehavior {
    /// One A record with this TTL.
    pub fn v4(addr: Ipv4Addr, ttl: u32) -> DnsBehavior {
        DnsBehavior::Answer {
            v4: vec![addr],
            v6: Vec::new(),
            ttl,
        }
    }

    /// One AAAA record with this TTL.
    pub fn v6(addr: Ipv6Addr, ttl: u32) -> DnsBehavior {
        DnsBehavior::Answer {
            v4: Vec::new(),
            v6: vec![addr],
            ttl,
        }
    }

    /// A and AAAA records with this TTL.
    pub fn dual(v4: Ipv4Addr, v6: Ipv6Addr, ttl: u32) -> DnsBehavior {
        DnsBehavior::Answer {
            v4: vec![v4],
            v6: vec![v6],
            ttl,
        }
    }
}

/// How a [`DnsBehavior::Decoy`] reply is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decoy {
    /// The query's ID plus one.
    WrongId,
    /// The right ID, but the question is for another name.
    WrongQuestion,
    /// The right reply in every field, sent from another port (UDP only; over TCP none is sent).
    WrongSource,
}

#[derive(Debug, Default)]
struct Counts {
    total: AtomicUsize,
    tcp: AtomicUsize,
    by_name: Mutex<HashMap<String, usize>>,
    /// By name and the type's mnemonic ("A", "AAAA", ...).
    by_type: Mutex<HashMap<(String, String), usize>>,
}

/// A running DNS stub; dropping it stops the server.
#[derive(Debug)]
pub struct DnsStub {
    addr: SocketAddr,
    counts: Arc<Counts>,
    stop: Option<smol::channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DnsStub {
    /// Starts a server on 127.0.0.1 (UDP and TCP, one free port) that answers each name (case
    /// and a final dot do not matter) with its behaviour, and any other name with NXDOMAIN.
    pub fn start<S: Into<String>>(
        names: impl IntoIterator<Item = (S, DnsBehavior)>,
    ) -> io::Result<DnsStub> {
        let table: HashMap<String, DnsBehavior> = names
            .into_iter()
            .map(|(name, behavior)| (normalize(&name.into()), behavior))
            .collect();
        let (udp, tcp) = bind_pair()?;
        let addr = udp.local_addr()?;
        let udp = Arc::new(Async::new(udp)?);
        let tcp = Async::new(tcp)?;
        let counts = Arc::new(Counts::default());
        let (stop, stopped) = smol::channel::bounded::<()>(1);
        let shared = (Arc::new(table), counts.clone());
        let thread = std::thread::Builder::new()
            .name(format!("dns-stub-{}", addr.port()))
            .spawn(move || {
                let ex = LocalExecutor::new();
                let serve = future::zip(
                    serve_udp(&ex, udp, shared.clone()),
                    serve_tcp(&ex, tcp, shared),
                );
                let stopped = async {
                    // The stop channel closes when the DnsStub is dropped.
                    let _ = stopped.recv().await;
                };
                async_io::block_on(ex.run(future::or(
                    async {
                        serve.await;
                    },
                    stopped,
                )));
            })?;
        Ok(DnsStub {
            addr,
            counts,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The server's address (127.0.0.1 and its port, the same for UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// How many queries the server received so far, over UDP and TCP.
    pub fn queries(&self) -> usize {
        self.counts.total.load(Ordering::SeqCst)
    }

    /// How many of them came over TCP.
    pub fn tcp_queries(&self) -> usize {
        self.counts.tcp.load(Ordering::SeqCst)
    }

    /// How many queries (of any type, over either transport) named `name`.
    pub fn queries_for(&self, name: &str) -> usize {
        let by_name = self
            .counts
            .by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        by_name.get(&normalize(name)).copied().unwrap_or(0)
    }

    /// How many queries of type `rtype` (its mnemonic: "A", "AAAA", ...) named `name`.
    pub fn queries_of(&self, name: &str, rtype: &str) -> usize {
        let by_type = self
            .counts
            .by_type
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let key = (normalize(name), rtype.to_ascii_uppercase());
        by_type.get(&key).copied().unwrap_or(0)
    }
}

impl Drop for DnsStub {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

type Shared = (Arc<HashMap<String, DnsBehavior>>, Arc<Counts>);

fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A UDP socket and a TCP listener on the same free port of 127.0.0.1.
fn bind_pair() -> io::Result<(UdpSocket, TcpListener)> {
    let mut last = None;
    // The port the UDP bind got may be taken for TCP by someone else: try a few.
    for _ in 0..16 {
        let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0))?;
        match TcpListener::bind(udp.local_addr()?) {
            Ok(tcp) => {
                // Room for a burst of thousands of queries (a benchmark's -c 1000 sends 2,000
                // at once): the kernel's default buffer drops some, and each drop costs the
                // client a retry.
                let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&udp, 8 << 20);
                return Ok((udp, tcp));
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::other("no free port")))
}

/// Counts a query and finds its name's behaviour; `None` for a message that is no query.
fn classify(shared: &Shared, query: &Message, tcp: bool) -> Option<DnsBehavior> {
    if query.metadata.message_type != MessageType::Query {
        return None;
    }
    let question = query.queries.first()?;
    let name = normalize(&question.name.to_ascii());
    let (table, counts) = shared;
    counts.total.fetch_add(1, Ordering::SeqCst);
    if tcp {
        counts.tcp.fetch_add(1, Ordering::SeqCst);
    }
    let mut by_name = counts.by_name.lock().unwrap_or_else(|e| e.into_inner());
    *by_name.entry(name.clone()).or_default() += 1;
    drop(by_name);
    let mut by_type = counts.by_type.lock().unwrap_or_else(|e| e.into_inner());
    *by_type
        .entry((name.clone(), question.query_type.to_string()))
        .or_default() += 1;
    drop(by_type);
    Some(table.get(&name).cloned().unwrap_or(DnsBehavior::NxDomain))
}

async fn serve_udp(ex: &LocalExecutor<'_>, socket: Arc<Async<UdpSocket>>, shared: Shared) {
    let mut buf = vec![0u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buf).await else {
            continue;
        };
        let Ok(query) = Message::from_vec(&buf[..len]) else {
            continue;
        };
        let Some(behavior) = classify(&shared, &query, false) else {
            continue;
        };
        let socket = socket.clone();
        // A task per query, so that a delayed answer does not hold up the others.
        ex.spawn(async move {
            let mut out = Out::Udp(&socket, peer);
            let _ = respond(&behavior, &query, &mut out).await;
        })
        .detach();
    }
}

async fn serve_tcp(ex: &LocalExecutor<'_>, listener: Async<TcpListener>, shared: Shared) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        ex.spawn(async move {
            // Queries one after another on the connection until the client closes it.
            loop {
                let mut len = [0u8; 2];
                if stream.read_exact(&mut len).await.is_err() {
                    return;
                }
                let mut buf = vec![0u8; u16::from_be_bytes(len) as usize];
                if stream.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let Ok(query) = Message::from_vec(&buf) else {
                    return;
                };
                let Some(behavior) = classify(&shared, &query, true) else {
                    return;
                };
                let mut out = Out::Tcp(&mut stream);
                if respond(&behavior, &query, &mut out).await.is_err() {
                    return;
                }
            }
        })
        .detach();
    }
}

/// Where a reply goes.
enum Out<'a> {
    Udp(&'a Async<UdpSocket>, SocketAddr),
    Tcp(&'a mut Async<std::net::TcpStream>),
}

impl Out<'_> {
    async fn send(&mut self, message: &Message) -> io::Result<()> {
        let bytes = message.to_vec().map_err(io::Error::other)?;
        match self {
            Out::Udp(socket, peer) => socket.send_to(&bytes, *peer).await.map(drop),
            Out::Tcp(stream) => {
                let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
                framed.extend_from_slice(&bytes);
                stream.write_all(&framed).await
            }
        }
    }
}

async fn respond(behavior: &DnsBehavior, query: &Message, out: &mut Out<'_>) -> io::Result<()> {
    let mut behavior = behavior;
    loop {
        match behavior {
            DnsBehavior::After(delay, inner) => {
                Timer::after(*delay).await;
                behavior = inner;
            }
            DnsBehavior::Never => {
                if let Out::Tcp(_) = out {
                    future::pending::<()>().await;
                }
                return Ok(());
            }
            DnsBehavior::Truncated(inner) => match out {
                Out::Udp(..) => {
                    let mut reply = base_reply(query, ResponseCode::NoError);
                    reply.metadata.truncation = true;
                    return out.send(&reply).await;
                }
                Out::Tcp(_) => behavior = inner,
            },
            DnsBehavior::Decoy(decoy, inner) => {
                send_decoy(*decoy, query, out).await?;
                behavior = inner;
            }
            terminal => return out.send(&final_reply(terminal, query)).await,
        }
    }
}

async fn send_decoy(decoy: Decoy, query: &Message, out: &mut Out<'_>) -> io::Result<()> {
    let mut reply = base_reply(query, ResponseCode::NoError);
    let name = query.queries[0].name.clone();
    reply.add_answer(Record::from_rdata(name, 60, RData::A(A(DECOY_V4))));
    match decoy {
        Decoy::WrongId => {
            reply.metadata.id = query.metadata.id.wrapping_add(1);
            out.send(&reply).await
        }
        Decoy::WrongQuestion => {
            let other = Name::from_ascii("decoy.invalid.").map_err(io::Error::other)?;
            let qtype = query.queries[0].query_type;
            reply.queries = vec![Query::query(other.clone(), qtype)];
            reply.answers = vec![Record::from_rdata(other, 60, RData::A(A(DECOY_V4)))];
            out.send(&reply).await
        }
        Decoy::WrongSource => match out {
            Out::Udp(_, peer) => {
                let other = Async::<UdpSocket>::bind((Ipv4Addr::LOCALHOST, 0))?;
                let bytes = reply.to_vec().map_err(io::Error::other)?;
                other.send_to(&bytes, *peer).await.map(drop)
            }
            Out::Tcp(_) => Ok(()),
        },
    }
}

/// A response to `query` with its ID, question and RD flag, and this code.
fn base_reply(query: &Message, code: ResponseCode) -> Message {
    let mut reply = Message::response(query.metadata.id, OpCode::Query);
    reply.metadata.recursion_desired = query.metadata.recursion_desired;
    reply.metadata.recursion_available = true;
    reply.metadata.response_code = code;
    reply.queries = query.queries.clone();
    reply
}

fn final_reply(behavior: &DnsBehavior, query: &Message) -> Message {
    let question = &query.queries[0];
    match behavior {
        DnsBehavior::Answer { v4, v6, ttl } => {
            let mut reply = base_reply(query, ResponseCode::NoError);
            reply.metadata.authoritative = true;
            let name = question.name.clone();
            let records: Vec<Record> = match question.query_type {
                RecordType::A => v4
                    .iter()
                    .map(|ip| Record::from_rdata(name.clone(), *ttl, RData::A(A(*ip))))
                    .collect(),
                RecordType::AAAA => v6
                    .iter()
                    .map(|ip| Record::from_rdata(name.clone(), *ttl, RData::AAAA(AAAA(*ip))))
                    .collect(),
                _ => Vec::new(),
            };
            if records.is_empty() {
                reply.add_authority(soa());
            }
            reply.add_answers(records);
            reply
        }
        DnsBehavior::NxDomain => {
            let mut reply = base_reply(query, ResponseCode::NXDomain);
            reply.add_authority(soa());
            reply
        }
        DnsBehavior::Empty => {
            let mut reply = base_reply(query, ResponseCode::NoError);
            reply.add_authority(soa());
            reply
        }
        DnsBehavior::Refused => base_reply(query, ResponseCode::Refused),
        _ => base_reply(query, ResponseCode::ServFail),
    }
}

/// The SOA of the stub's negative answers, its TTL and minimum both [`NEGATIVE_TTL`].
fn soa() -> Record {
    let name = |s: &str| Name::from_ascii(s).expect("a fixed valid name");
    let data = SOA::new(
        name("ns.stub."),
        name("hostmaster.stub."),
        1,
        3600,
        600,
        86400,
        NEGATIVE_TTL,
    );
    Record::from_rdata(Name::root(), NEGATIVE_TTL, RData::SOA(data))
}
