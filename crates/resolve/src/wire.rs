//! One question to the nameservers: the query message, UDP with a TCP retry when truncated, the
//! checks a reply must pass, and what its answer means.
//!
//! Everything here runs inside the caller's future (no task is spawned): dropping it closes the
//! sockets and stops the retries.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use async_io::Timer;
use async_net::{TcpStream, UdpSocket};
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, RecordType};

use crate::Inner;
use crate::error::DnsError;

/// What the servers said about one name and type; cached for `ttl` seconds when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The addresses (never empty).
    Addrs(Vec<IpAddr>),
    /// NOERROR without a record of the type (NODATA).
    NoData,
    /// NXDOMAIN.
    NxDomain,
}

/// An answer and how long it may be cached: the smallest TTL of the answer's records, or for a
/// negative answer the SOA's (RFC 2308: the smaller of its TTL and its minimum); `None` for a
/// negative answer without an SOA, which must not be cached.
pub(crate) type Timed = (Answer, Option<u32>);

/// Why one try at one server gave no answer.
enum TryError {
    ServerFailure,
    Timeout,
    Io(io::Error),
}

/// How long a UDP query waits for its reply before it is sent again (doubling each time, within
/// the try's timeout): a lost datagram is common under a burst, and the usual 5 s timeout per
/// try would make each loss cost 5 s.
const RETRANSMIT: Duration = Duration::from_millis(400);

/// Asks the servers, `attempts` rounds in order, each try bounded by the timeout and the
/// deadline, until one gives an answer.
pub(crate) async fn query(
    inner: &Inner,
    name: &Name,
    rtype: RecordType,
    deadline: Instant,
) -> Result<Timed, DnsError> {
    let (mut failed, mut io) = (false, None);
    for _ in 0..inner.attempts {
        for &server in &inner.servers {
            let now = Instant::now();
            if now >= deadline {
                return Err(DnsError::Timeout);
            }
            let try_deadline = deadline.min(now + inner.timeout);
            match ask(inner, server, name, rtype, try_deadline).await {
                Ok(answer) => return Ok(answer),
                Err(TryError::ServerFailure) => failed = true,
                Err(TryError::Io(e)) => io = Some(e),
                Err(TryError::Timeout) => {}
            }
        }
    }
    Err(if failed {
        DnsError::ServerFailure
    } else if let Some(e) = io {
        e.into()
    } else {
        DnsError::Timeout
    })
}

/// One try at one server: over UDP, and again over TCP if the reply was truncated.
async fn ask(
    inner: &Inner,
    server: SocketAddr,
    name: &Name,
    rtype: RecordType,
    deadline: Instant,
) -> Result<Timed, TryError> {
    let mut request = Message::new(fastrand::u16(..), MessageType::Query, OpCode::Query);
    request.metadata.recursion_desired = true;
    request.add_query(Query::query(name.clone(), rtype));
    let bytes = request
        .to_vec()
        .map_err(|e| TryError::Io(io::Error::other(e)))?;
    let id = request.metadata.id;

    let exchange = async {
        let reply = udp(inner, server, &bytes, id, name, rtype).await?;
        if !reply.metadata.truncation {
            return Ok(reply);
        }
        tcp(inner, server, &bytes, id, name, rtype).await
    };
    let timeout = async {
        Timer::at(deadline).await;
        Err(TryError::Timeout)
    };
    interpret(&exchange.or(timeout).await?, rtype)
}

async fn udp(
    inner: &Inner,
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, TryError> {
    // Port 0: the OS picks a fresh random source port for every query.
    let any: IpAddr = match server {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind((any, 0)).await.map_err(TryError::Io)?;
    // Connected, so the kernel drops datagrams from other addresses and reports an ICMP
    // "port unreachable" as an error at once; the source is checked below all the same.
    socket.connect(server).await.map_err(TryError::Io)?;
    let mut buf = vec![0u8; 4096];
    // Lost datagrams are resent on the same socket with the same ID, so that a loss costs a
    // fraction of a second rather than the whole try, and a late reply to an earlier copy
    // still counts.
    let mut wait = RETRANSMIT;
    loop {
        socket.send(bytes).await.map_err(TryError::Io)?;
        inner.stats.queries.fetch_add(1, Ordering::Relaxed);
        let reply = async {
            loop {
                let (len, from) = socket.recv_from(&mut buf).await.map_err(TryError::Io)?;
                if from != server {
                    continue;
                }
                if let Some(reply) = matching(&buf[..len], id, name, rtype) {
                    return Ok(Some(reply));
                }
            }
        };
        let resend = async {
            Timer::after(wait).await;
            Ok(None)
        };
        if let Some(reply) = reply.or(resend).await? {
            return Ok(reply);
        }
        wait = wait.saturating_mul(2);
    }
}

async fn tcp(
    inner: &Inner,
    server: SocketAddr,
    bytes: &[u8],
    id: u16,
    name: &Name,
    rtype: RecordType,
) -> Result<Message, TryError> {
    let mut stream = TcpStream::connect(server).await.map_err(TryError::Io)?;
    let mut framed = (bytes.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(bytes);
    stream.write_all(&framed).await.map_err(TryError::Io)?;
    inner.stats.queries.fetch_add(1, Ordering::Relaxed);
    inner.stats.tcp_queries.fetch_add(1, Ordering::Relaxed);
    loop {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(TryError::Io)?;
        let mut buf = vec![0u8; u16::from_be_bytes(len).into()];
        stream.read_exact(&mut buf).await.map_err(TryError::Io)?;
        if let Some(reply) = matching(&buf, id, name, rtype) {
            return Ok(reply);
        }
    }
}

/// The reply in `bytes` if it answers our query: a response with our ID and our question.
/// Anything else (garbage, another ID, another question) is ignored by the caller.
fn matching(bytes: &[u8], id: u16, name: &Name, rtype: RecordType) -> Option<Message> {
    let reply = Message::from_vec(bytes).ok()?;
    let meta = &reply.metadata;
    let question = match reply.queries.as_slice() {
        [q] => q,
        _ => return None,
    };
    let ours = meta.message_type == MessageType::Response
        && meta.id == id
        && question.name == *name
        && question.query_type == rtype
        && question.query_class == DNSClass::IN;
    ours.then_some(reply)
}

/// What a reply says about the question.
fn interpret(reply: &Message, rtype: RecordType) -> Result<Timed, TryError> {
    let negative_ttl = || {
        reply.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        })
    };
    match reply.metadata.response_code {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok((Answer::NxDomain, negative_ttl())),
        _ => return Err(TryError::ServerFailure),
    }
    let mut addrs = Vec::new();
    let mut ttl = u32::MAX;
    for record in &reply.answers {
        // The TTL of the whole chain counts: a CNAME that expires first ends the answer too.
        ttl = ttl.min(record.ttl);
        match (&record.data, rtype) {
            (RData::A(a), RecordType::A) => addrs.push(IpAddr::V4(a.0)),
            (RData::AAAA(a), RecordType::AAAA) => addrs.push(IpAddr::V6(a.0)),
            _ => {}
        }
    }
    if addrs.is_empty() {
        Ok((Answer::NoData, negative_ttl()))
    } else {
        Ok((Answer::Addrs(addrs), Some(ttl)))
    }
}
